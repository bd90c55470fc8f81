"""Approval workflows over the Admin REST, WSO2's Admin v4 resources (mounted by
``tidegate/admin_urls.py``): ``GET /workflows?workflowType=``, ``GET /workflows/{ref}``,
``POST /workflows/update-workflow-status?workflowReferenceId=`` with ``{"status":
"APPROVED" | "REJECTED", "description": ...}``. Admins only."""

from __future__ import annotations

import uuid

from rest_framework import serializers
from rest_framework.response import Response

from devportal import selectors, services
from devportal.models import Workflow, WorkflowType
from portal.errors import NotFound, ValidationFailed
from portal.fields import StrictCharField
from portal.rest import ScopedAPIView, scopes
from portal.roles import IsAdmin

# workflowType as the query takes it (WSO2's AM_ names, or the bare ones its DTO shows).
_TYPES = {**{t.value: t.value for t in WorkflowType}, **{t.value[3:]: t.value for t in WorkflowType}}


def _time(value) -> str | None:
    return value.isoformat(timespec="milliseconds") if value else None


def workflow_dto(wf: Workflow) -> dict:
    """WSO2's WorkflowInfo, with who asked, who decided and the decision's comment."""
    return {
        "workflowType": wf.workflow_type[3:],  # WSO2's DTO: SUBSCRIPTION_CREATION, ...
        "workflowStatus": wf.status,
        "createdTime": _time(wf.created_time),
        "updatedTime": _time(wf.decided_time or wf.created_time),
        "referenceId": str(wf.reference_id),
        "properties": wf.properties,
        "description": wf.subject,
        "requestedBy": wf.requested_by.get_username() if wf.requested_by else None,
        "decidedBy": wf.decided_by.get_username() if wf.decided_by else None,
        "comment": wf.comment,
    }


def _workflow_or_404(reference_id) -> Workflow:
    wf = selectors.workflow_get(reference_id=reference_id)
    if wf is None:
        raise NotFound(f"Workflow {reference_id} not found")
    return wf


class WorkflowListApi(ScopedAPIView):
    """Requests waiting for an administrator (WSO2's pending workflows), newest first."""

    required_scopes = scopes("apim:admin")
    permission_classes = [IsAdmin]

    def get(self, request):
        given = request.query_params.get("workflowType")
        if given is not None and given not in _TYPES:
            raise ValidationFailed(
                f"workflowType must be one of {', '.join(t.value for t in WorkflowType)} (got {given!r})",
                details=[{"field": "workflowType", "message": "unknown workflow type"}],
            )
        items = [workflow_dto(w) for w in selectors.workflow_list(workflow_type=_TYPES.get(given), pending=True)]
        return Response({"count": len(items), "list": items})


class WorkflowDetailApi(ScopedAPIView):
    """One request, waiting or decided."""

    required_scopes = scopes("apim:admin")
    permission_classes = [IsAdmin]

    def get(self, request, reference_id):
        return Response(workflow_dto(_workflow_or_404(reference_id)))


class WorkflowUpdateStatusApi(ScopedAPIView):
    """The request after the decision. Deciding again as decided answers the same; the other
    decision on a decided request is 409."""

    required_scopes = scopes("apim:admin", POST="apim:admin")
    permission_classes = [IsAdmin]

    class InputSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=["APPROVED", "REJECTED"])
        description = StrictCharField(required=False, allow_blank=True, default="", max_length=1000)
        attributes = serializers.DictField(required=False)

    def post(self, request):
        reference = request.query_params.get("workflowReferenceId")
        if not reference:
            raise ValidationFailed(
                "workflowReferenceId is required",
                details=[{"field": "workflowReferenceId", "message": "required"}],
            )
        try:
            uuid.UUID(reference)
        except ValueError:
            raise ValidationFailed(
                f"workflowReferenceId must be a UUID (got {reference!r})",
                details=[{"field": "workflowReferenceId", "message": "not a UUID"}],
            ) from None
        wf = _workflow_or_404(reference)
        s = self.InputSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        wf = services.workflow_decide(
            workflow=wf, status=d["status"], comment=d["description"], acting_user=request.user
        )
        return Response(workflow_dto(wf))
