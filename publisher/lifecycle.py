"""WSO2's default API lifecycle: states, actions and the transition table."""

from publisher.models import LifecycleStatus as S

TRANSITIONS: dict[str, dict[str, str]] = {
    S.CREATED: {"Publish": S.PUBLISHED, "Deploy as a Prototype": S.PROTOTYPED},
    S.PROTOTYPED: {"Publish": S.PUBLISHED, "Demote to Created": S.CREATED, "Deploy as a Prototype": S.PROTOTYPED},
    S.PUBLISHED: {
        "Block": S.BLOCKED,
        "Deploy as a Prototype": S.PROTOTYPED,
        "Demote to Created": S.CREATED,
        "Deprecate": S.DEPRECATED,
        "Publish": S.PUBLISHED,
    },
    S.BLOCKED: {"Deprecate": S.DEPRECATED, "Re-Publish": S.PUBLISHED},
    S.DEPRECATED: {"Retire": S.RETIRED},
    S.RETIRED: {},
}

ACTIONS = ("Publish", "Deploy as a Prototype", "Demote to Created", "Block", "Deprecate", "Re-Publish", "Retire")

DEPRECATE_OLD_VERSIONS = "Deprecate old versions after publishing the API"
REQUIRES_RESUBSCRIPTION = "Requires re-subscription when publishing the API"
CHECKLIST = (DEPRECATE_OLD_VERSIONS, REQUIRES_RESUBSCRIPTION)

# States in which the Dev Portal lists an API and developers may subscribe.
DISCOVERABLE = (S.PUBLISHED, S.PROTOTYPED, S.DEPRECATED)
SUBSCRIBABLE = (S.PUBLISHED,)


def allowed_actions(state: str) -> list[str]:
    return list(TRANSITIONS.get(state, {}))


def next_state(state: str, action: str) -> str | None:
    return TRANSITIONS.get(state, {}).get(action)
