"""The Publisher REST's subscription resources (``/api/am/publisher/v4/subscriptions``):
every application's subscriptions to the APIs, and blocking them. Subscriptions are the Dev
Portal's, so their views live here; tidegate/urls.py mounts them under the Publisher's prefix."""

from __future__ import annotations

from rest_framework.response import Response

from devportal import selectors
from devportal.services import subscription_block
from portal.errors import NotFound, ValidationFailed
from portal.rest import ScopedAPIView, scopes
from portal.roles import IsPublisher
from publisher.selectors import api_get_or_404


def _subscription_dto(sub) -> dict:
    return {
        "subscriptionId": str(sub.id),
        "applicationInfo": {
            "applicationId": str(sub.application_id),
            "name": sub.application.name,
            "subscriber": sub.application.owner.get_username(),
        },
        "apiId": str(sub.api_id),
        "throttlingPolicy": sub.throttling_policy,
        "subscriptionStatus": sub.status,
    }


def _subscription_or_404(subscription_id):
    sub = selectors.api_subscription_get(subscription_id=subscription_id)
    if sub is None:
        raise NotFound(f"Subscription {subscription_id} not found")
    return sub


class SubscriptionListApi(ScopedAPIView):
    required_scopes = scopes("apim:subscription_view")
    permission_classes = [IsPublisher]

    def get(self, request):
        api_id = request.query_params.get("apiId")
        subs = selectors.api_subscription_list(api=api_get_or_404(api_id) if api_id else None)
        items = [_subscription_dto(s) for s in subs]
        return Response({"count": len(items), "list": items})


class SubscriptionBlockApi(ScopedAPIView):
    required_scopes = scopes("apim:subscription_view", POST="apim:subscription_block")
    permission_classes = [IsPublisher]

    def post(self, request):
        sub = _subscription_or_404(request.query_params.get("subscriptionId"))
        state = request.query_params.get("blockState", "")
        if state not in ("BLOCKED", "PROD_ONLY_BLOCKED"):
            raise ValidationFailed("blockState must be BLOCKED or PROD_ONLY_BLOCKED")
        sub = subscription_block(subscription=sub, state=state, acting_user=request.user)
        return Response(_subscription_dto(sub))


class SubscriptionUnblockApi(ScopedAPIView):
    required_scopes = scopes("apim:subscription_view", POST="apim:subscription_block")
    permission_classes = [IsPublisher]

    def post(self, request):
        sub = _subscription_or_404(request.query_params.get("subscriptionId"))
        sub = subscription_block(subscription=sub, state="UNBLOCKED", acting_user=request.user)
        return Response(_subscription_dto(sub))
