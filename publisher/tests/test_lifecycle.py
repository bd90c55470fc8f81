"""Every transition of WSO2's lifecycle table, and every refusal, through the service."""

import pytest

from portal.errors import Conflict
from publisher import lifecycle, services
from publisher.models import Api, LifecycleEvent
from tests import factories

pytestmark = pytest.mark.django_db

# A path of actions from CREATED to each state, to put an API there first.
REACH = {
    "CREATED": [],
    "PROTOTYPED": ["Deploy as a Prototype"],
    "PUBLISHED": ["Publish"],
    "BLOCKED": ["Publish", "Block"],
    "DEPRECATED": ["Publish", "Deprecate"],
    "RETIRED": ["Publish", "Deprecate", "Retire"],
}


def _api_in(state):
    user = factories.user("pub", roles=["publisher"])
    api = factories.api(user)
    for action in REACH[state]:
        services.api_change_lifecycle(api=api, action=action, user=user)
    api.refresh_from_db()
    assert api.lifecycle_status == state
    return api, user


@pytest.mark.parametrize(
    "state, action, target",
    [(s, a, t) for s, moves in lifecycle.TRANSITIONS.items() for a, t in moves.items()],
)
def test_each_allowed_transition_moves_and_is_recorded(state, action, target):
    api, user = _api_in(state)
    event = services.api_change_lifecycle(api=api, action=action, user=user)
    api.refresh_from_db()
    assert api.lifecycle_status == target
    assert (event.previous_state, event.post_state, event.action) == (state, target, action)


@pytest.mark.parametrize(
    "state, action",
    [(s, a) for s in lifecycle.TRANSITIONS for a in lifecycle.ACTIONS if a not in lifecycle.TRANSITIONS[s]],
)
def test_each_disallowed_action_is_409_listing_the_allowed_and_changes_nothing(state, action):
    api, user = _api_in(state)
    events = LifecycleEvent.objects.count()
    with pytest.raises(Conflict) as exc:
        services.api_change_lifecycle(api=api, action=action, user=user)
    allowed = lifecycle.allowed_actions(state)
    assert [d["message"] for d in exc.value.details] == allowed
    assert Api.objects.get(pk=api.pk).lifecycle_status == state
    assert LifecycleEvent.objects.count() == events


def test_retiring_undeploys_everywhere():
    api, user = _api_in("DEPRECATED")
    rev = services.api_revision_create(api=api, created_by=user)
    services.api_revision_deploy(api=api, revision=rev, environments=[{"name": "Default"}], deployed_by=user)
    services.api_change_lifecycle(api=api, action="Retire", user=user)
    assert not api.deployments.exists()
    with pytest.raises(Conflict):
        services.api_revision_deploy(api=api, revision=rev, environments=[{"name": "Default"}], deployed_by=user)
