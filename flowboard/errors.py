"""Domain errors raised by services, and the HTTP status each maps to.

Services raise these; the API's exception handler (``flowboard.api``), the board views and the
admin turn them into a precise 4xx answer. Each carries a machine-readable ``code`` and ``detail``.
"""

from typing import Any


class FlowboardError(Exception):
    """Base of every refusal a service can report to a user."""

    code = "invalid"
    http_status = 400

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "detail": self.message, **self.detail}


class InvalidMove(FlowboardError):
    """The move makes no sense: a column of another board, a time out of order."""

    code = "invalid_move"


class WipLimitExceeded(FlowboardError):
    code = "wip_limit"
    http_status = 409


class GateBlocked(FlowboardError):
    code = "gate_blocked"
    http_status = 409


class StaleVersion(FlowboardError):
    code = "stale_version"
    http_status = 409


class ItemDiscarded(FlowboardError):
    code = "item_discarded"
    http_status = 409


class InvalidTransition(FlowboardError):
    """A state change that isn't allowed from the current state (e.g. ending an ended block)."""

    code = "invalid_state"
    http_status = 409


class InvalidInput(FlowboardError):
    """A value that fails validation: a missing reason, a malformed link, a duplicate key."""

    code = "invalid_input"


class IdempotencyConflict(FlowboardError):
    """An idempotency key reused for a different request: retrying means sending the same
    request again, so a different one under the same key is a client bug (HTTP 422)."""

    code = "idempotency_conflict"
    http_status = 422


class ConcurrentUpdate(FlowboardError):
    """The database kept aborting the change because of concurrent ones (after retries)."""

    code = "concurrent_update"
    http_status = 409
