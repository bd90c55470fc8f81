"""Gateway environments over REST: Admin v4 ``/environments``. Each gateway serves the
environments it is labelled with (TIDEGATE_GATEWAY_ENVIRONMENTS); a deployment reaches only
the gateways of its environment."""

from django.db import transaction
from rest_framework import serializers
from rest_framework.response import Response

from portal.audit import audit_record
from portal.csp import is_host_name
from portal.errors import Conflict, NotFound, create_or_conflict
from portal.fields import StrictCharField, StrictRegexField
from portal.rest import ScopedAPIView, scopes
from portal.roles import IsAdmin
from publisher.models import Environment


def environment_dto(env: Environment) -> dict:
    return {
        "id": str(env.id),
        "name": env.name,
        "displayName": env.display_name,
        "type": "hybrid",
        "vhosts": [{"host": env.vhost, "wsPort": env.ws_port, "wssPort": env.wss_port}],
    }


class _VhostInput(serializers.Serializer):
    host = StrictRegexField(r"^[A-Za-z0-9.\-]{1,255}$", error_messages={"invalid": "not a host name"})
    wsPort = serializers.IntegerField(min_value=1, max_value=65535, required=False, default=9090)
    wssPort = serializers.IntegerField(min_value=1, max_value=65535, required=False, default=9095)


class EnvironmentInput(serializers.Serializer):
    name = StrictRegexField(r"^[A-Za-z0-9_\-]{1,60}$")
    displayName = StrictCharField(max_length=100, required=False)
    vhosts = _VhostInput(many=True, required=False)

    def validate_vhosts(self, value):
        for vhost in value:
            if not is_host_name(vhost["host"]):
                raise serializers.ValidationError(f"not a host name: {vhost['host']!r}")
        return value


@transaction.atomic
def environment_create(*, data: dict, user) -> Environment:
    vhost = (data.get("vhosts") or [{"host": "localhost", "wsPort": 9090, "wssPort": 9095}])[0]
    env = create_or_conflict(
        Environment,
        conflict=f"An environment named {data['name']!r} already exists",
        name=data["name"],
        display_name=data.get("displayName") or data["name"],
        vhost=vhost["host"],
        ws_port=vhost["wsPort"],
        wss_port=vhost["wssPort"],
    )
    audit_record(actor=user, action="environment.create", target=env, detail={"name": env.name})
    return env


def environment_deployments(*, environment: Environment) -> list[str]:
    """What is deployed on ``environment``, in words ("Chat 1.0.0 (REVISION 2)"), by API."""
    rows = environment.deployments.select_related("api", "revision").order_by("api__name", "api__version")
    return [f"{d.api} ({d.revision.display_name})" for d in rows]


@transaction.atomic
def environment_delete(*, environment: Environment, user) -> None:
    """Delete an environment no revision is deployed on; otherwise Conflict naming the APIs
    (undeploying them stops their traffic at that environment's gateways, a decision for
    their publishers, not a side effect of this)."""
    environment = Environment.objects.select_for_update().get(pk=environment.pk)
    deployed = environment_deployments(environment=environment)
    if deployed:
        raise Conflict(
            f"APIs are deployed on {environment.name}, so it cannot be deleted: {', '.join(deployed)}. "
            "Undeploy every revision from this environment first."
        )
    audit_record(actor=user, action="environment.delete", target=environment, detail={"name": environment.name})
    environment.delete()


class EnvironmentListCreateApi(ScopedAPIView):
    required_scopes = scopes("apim:admin", POST="apim:admin")
    permission_classes = [IsAdmin]
    InputSerializer = EnvironmentInput  # the request body, for the OpenAPI document

    def get(self, request):
        items = [environment_dto(e) for e in Environment.objects.order_by("id")]
        return Response({"count": len(items), "list": items})

    def post(self, request):
        s = EnvironmentInput(data=request.data)
        s.is_valid(raise_exception=True)
        return Response(environment_dto(environment_create(data=s.validated_data, user=request.user)), status=201)


class EnvironmentDetailApi(ScopedAPIView):
    required_scopes = scopes("apim:admin", DELETE="apim:admin")
    permission_classes = [IsAdmin]

    def delete(self, request, environment_id):
        env = Environment.objects.filter(pk=environment_id).first()
        if env is None:
            raise NotFound(f"Environment {environment_id} not found")
        environment_delete(environment=env, user=request.user)
        return Response(status=200)
