"""Why the gateway refuses a handshake or closes an open connection, in one table.

A ``Refusal`` names its ``Reason``; the reason alone gives the HTTP status the handshake is
refused with, the WSO2 error code and message of the JSON body, and the close code an open
connection gets when its re-judgement (``decisions.rejudge``) comes to the same refusal
(brief section 4, live enforcement).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from gateway.routing import Match


class Reason(enum.Enum):
    BAD_PATH = "bad-path"
    NOT_FOUND = "not-found"  # no API, version or topic matches
    API_UNDEPLOYED = "api-undeployed"  # NOT_FOUND for an open connection whose API is gone
    MISSING_CREDENTIALS = "missing-credentials"
    INVALID_CREDENTIALS = "invalid-credentials"
    APPLICATION_DELETED = "application-deleted"  # INVALID_CREDENTIALS once the application is gone
    TOKEN_EXPIRED = "token-expired"
    API_BLOCKED = "api-blocked"
    FORBIDDEN = "forbidden"  # not subscribed, subscription blocked, no endpoint for the key type
    SCOPE_MISSING = "scope-missing"
    ORIGIN_REFUSED = "origin-refused"  # Origin not on the API's allow-list, or none when it needs one
    DENIED = "denied"  # a deny policy matches the client's address, the API, the user or the application
    CONNECTION_LIMIT = "connection-limit"
    UNAVAILABLE = "unavailable"  # starting or draining
    BACKEND_DOWN = "backend-down"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one reason means on the wire."""

    status: int  # HTTP status of a refused handshake
    code: str  # WSO2 error code in the JSON body
    message: str  # its error_message
    close_code: int  # the close code when an open connection is judged to this reason
    close_reason: str = ""  # the close frame's reason; empty: the refusal's description


_SCOPE_MESSAGE = "The access token does not allow you to access the requested resource"
OUTCOMES: dict[Reason, Outcome] = {
    Reason.BAD_PATH: Outcome(400, "400", "Bad Request", 1008),
    Reason.NOT_FOUND: Outcome(404, "404", "Not Found", 1008, "Topic no longer available"),
    Reason.API_UNDEPLOYED: Outcome(404, "404", "Not Found", 1001, "API undeployed"),
    Reason.MISSING_CREDENTIALS: Outcome(401, "900902", "Missing Credentials", 1008),
    Reason.INVALID_CREDENTIALS: Outcome(401, "900901", "Invalid Credentials", 4001),
    Reason.APPLICATION_DELETED: Outcome(401, "900901", "Invalid Credentials", 4002, "Application deleted"),
    Reason.TOKEN_EXPIRED: Outcome(401, "900903", "Invalid Credentials", 4001, "Access token expired"),
    Reason.API_BLOCKED: Outcome(503, "700700", "API blocked", 1001, "API blocked"),
    Reason.FORBIDDEN: Outcome(403, "900908", "Resource forbidden", 4002),
    Reason.SCOPE_MISSING: Outcome(
        403, "900910", _SCOPE_MESSAGE, 1008, "Scope validation failed: the token lacks a scope the topic now needs"
    ),
    # WSO2 has no code for it: one of the 9009xx authorisation family that WSO2 leaves unused.
    # Judged at the handshake only (an open connection is not judged again on its Origin).
    Reason.ORIGIN_REFUSED: Outcome(403, "900930", "Origin not allowed", 1008),
    # WSO2's blocking conditions: 900805, "Message blocked", with 403 (Choreo Connect's
    # ThrottleConstants.BLOCKED_ERROR_CODE). An open connection closes with 4004, next to the
    # brief's 4001-4003 of live enforcement.
    Reason.DENIED: Outcome(403, "900805", "Message blocked", 4004, "Blocked by a deny policy"),
    Reason.CONNECTION_LIMIT: Outcome(429, "900803", "Message throttled out", 1008),
    Reason.UNAVAILABLE: Outcome(503, "101503", "Service unavailable", 1001),
    Reason.BACKEND_DOWN: Outcome(502, "101503", "Error connecting to the back end", 1011),
}
assert set(OUTCOMES) == set(Reason), "every reason has its row"

_CHALLENGE = (
    (
        "www-authenticate",
        'Bearer realm="tidegate", error="invalid_token", error_description="The provided token is invalid"',
    ),
)
MAX_CLOSE_REASON = 123  # bytes of UTF-8 a close frame's reason may hold (RFC 6455 5.5)


def close_reason(text: str) -> str:
    """``text`` cut to what a close frame can carry, on a character boundary: a longer
    reason makes the server drop the connection without any close frame."""
    return text.encode()[:MAX_CLOSE_REASON].decode(errors="ignore")


class Close(NamedTuple):
    """How the gateway closes an open connection: a close code and a reason that fits."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: Reason
    description: str
    # Fetching this issuer's keys again may change the answer.
    refresh_issuer: str = ""
    # Refused only for what this gateway may not have seen yet (an API context, application
    # keys or a subscription the portal just created): pulling the snapshot may change the answer.
    sync_miss: bool = False
    # The route the handshake matched, when it got that far (analytics and the access log).
    match: Match | None = None

    @property
    def outcome(self) -> Outcome:
        return OUTCOMES[self.reason]

    @property
    def status(self) -> int:
        return OUTCOMES[self.reason].status

    @property
    def code(self) -> str:
        return OUTCOMES[self.reason].code

    @property
    def message(self) -> str:
        return OUTCOMES[self.reason].message

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """A 401 carries the Bearer challenge."""
        return _CHALLENGE if self.status == 401 else ()

    def body(self) -> dict[str, str]:
        return {"code": self.code, "error_message": self.message, "error_description": self.description}

    def close(self) -> Close:
        """The close an open connection gets for this refusal."""
        outcome = OUTCOMES[self.reason]
        return Close(outcome.close_code, close_reason(outcome.close_reason or self.description))
