"""The one time rule for every dated change: moves, blocks, criteria, discards and imports.

A change is dated by its caller (history from another tool, a client that queued it) or, when
no time is given, by the service after it holds its locks (so a change that waited for another
one is never dated before it). A given time must:

- carry a time zone (an aware datetime);
- not lie before 1970 (``EARLIEST``), nor in the future beyond ``FUTURE_TOLERANCE`` (a client
  clock a little ahead is taken as now: a change is never dated in the future, where the daily
  series don't reach yet);
- not come before the item existed, nor before the last change of the same thing (the item's
  last move, the criterion's last change, the block's start): history is appended, never
  rewritten.
"""

import datetime as dt
from collections.abc import Iterable

from flowboard.errors import InvalidInput

FUTURE_TOLERANCE = dt.timedelta(minutes=5)
# Nothing in a board's history happened before this (a year-1 time is a bug in the caller).
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# (earliest allowed time or None, what it is: "its last move at ...")
Bound = tuple[dt.datetime | None, str]


def check_aware(at: dt.datetime | None, what: str) -> None:
    """Refuse a naive time before any lock is taken (the cheap half of the rule)."""
    if at is not None and (at.tzinfo is None or at.utcoffset() is None):
        raise InvalidInput(
            f"{what}: the time {at.isoformat()} has no time zone; give an offset (e.g. "
            "2025-03-01T09:00:00+00:00).",
            field="at",
        )


def change_time(
    at: dt.datetime | None,
    *,
    now: dt.datetime,
    what: str,
    after: Iterable[Bound] = (),
    field: str = "at",
) -> dt.datetime:
    """The time of a change: ``at`` checked by the rule, or ``now`` when none is given.

    ``now`` must be read after the service's locks. ``after`` lists the times the change may
    not precede, each with a description for the error ("its last move")."""
    if at is None:
        return now
    check_aware(at, what)
    at = at.astimezone(dt.UTC)  # an offset such as +22:09 is valid in Python, not in PostgreSQL
    if at > now + FUTURE_TOLERANCE:
        raise InvalidInput(
            f"{what} cannot be dated in the future ({at.isoformat()}; it is now "
            f"{now.isoformat()}).",
            field=field,
        )
    if at < EARLIEST:
        raise InvalidInput(
            f"{what} at {at.isoformat()} is dated before {EARLIEST.date().isoformat()}, "
            "earlier than any history Flowboard keeps.",
            field=field,
        )
    at = min(at, now)
    for bound, label in after:
        if bound is not None and at < bound:
            raise InvalidInput(
                f"{what} at {at.isoformat()} would come before {label} at {bound.isoformat()}.",
                field=field,
            )
    return at
