"""Domain errors raised by services, and the HTTP status each maps to.

Services raise these; the API's exception handler (``flowboard.api``), the board views and the
admin turn them into a precise 4xx answer. Each carries a machine-readable ``code`` and ``detail``.

The statuses follow one rule across the API:
- **400**: the request is not of the documented shape (malformed JSON, a wrong type or format,
  an unknown field): ``MalformedInput``, and DRF's own validation errors;
- **422**: well-formed, but a rule refuses its content: a column that is not on the board, a
  time before the item's last move or in the future, a missing reason (``InvalidInput``,
  ``InvalidMove``, ``IdempotencyConflict``);
- **409**: the state of the board refuses it now: a WIP limit, a gate, a discarded item, a
  stale version (``WipLimitExceeded``, ``GateBlocked``, ...).
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
    http_status = 422


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
    """A value a rule refuses: a missing reason, a malformed link, a duplicate key, a time out
    of order (HTTP 422: the request was understood)."""

    code = "invalid_input"
    http_status = 422


class MalformedInput(InvalidInput):
    """A value that is not of the expected shape, such as a query parameter that is not a date
    (HTTP 400)."""

    http_status = 400


class IdempotencyConflict(FlowboardError):
    """An idempotency key reused for a different request: retrying means sending the same
    request again, so a different one under the same key is a client bug (HTTP 422)."""

    code = "idempotency_conflict"
    http_status = 422


class ConcurrentUpdate(FlowboardError):
    """The database kept aborting the change because of concurrent ones (after retries)."""

    code = "concurrent_update"
    http_status = 409
