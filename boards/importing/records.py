"""What the parsers produce and the import reports: items as read from a file, their moves, and
the problems met on the way, plus the small checks shared by the parsers.

Parsing is pure: no database. Times are aware datetimes (a time without an offset is read in the
board's zone). A move's idempotency key is decided by its parser from the file's content, so that
importing the same content again finds the same keys.
"""

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from boards.models import Transition, WorkItem

TITLE_MAX = WorkItem._meta.get_field("title").max_length
KEY_MAX = WorkItem._meta.get_field("key").max_length
URL_MAX = WorkItem._meta.get_field("external_url").max_length
IDEMPOTENCY_KEY_MAX = Transition._meta.get_field("idempotency_key").max_length
# Times outside this range are taken for typos or placeholders (year 1, year 9999).
MIN_TIME = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MAX_TIME = dt.datetime(3000, 1, 1, tzinfo=dt.UTC)
SHOWN_VALUE = 60  # characters of a bad value quoted in a problem

# Reasons a row, move, issue or file is skipped; the summary groups problems by these.
BAD_FILE = "unreadable file"
NOT_AN_ISSUE = "not a Jira issue"
MISSING_FIELD = "missing field"
BAD_TIME = "bad time"
BAD_DATE = "bad due date (ignored)"
UNKNOWN_KIND = "unknown kind"
UNMAPPED = "unmapped status"
OUT_OF_ORDER = "move dated before the item's previous move"
NO_CREATION = "item's creation row was skipped"
REFUSED = "refused by the service"
MALFORMED = "malformed data"
DATABASE = "refused by the database (item rolled back)"


@dataclass(frozen=True)
class Problem:
    """Something that was skipped, where it was, and why. ``file`` names the file when the
    location does not (a Jira key and history id)."""

    reason: str
    location: str
    detail: str = ""
    file: str = ""

    def __str__(self) -> str:
        text = f"{self.location}: {self.detail}" if self.detail else self.location
        return f"{text} ({self.file})" if self.file else text


@dataclass(frozen=True, slots=True)
class Move:
    """A move into the external status (or column) ``status`` at ``at``."""

    status: str
    at: dt.datetime
    location: str
    idempotency_key: str


@dataclass(slots=True)
class ItemHistory:
    """One item as one file tells it.

    A file that creates the item gives ``created_at`` and ``status`` (where it was created), its
    title and kind. A later file may hold only moves of an item created earlier: then
    ``created_at`` is None and the item must already be on the board. ``entry`` is set when the
    item entered ``status`` after its creation: it is then created in the board's first column at
    ``created_at`` and moved into ``status`` by that move.
    """

    key: str
    location: str
    external_source: str
    file: str
    title: str = ""
    kind: str = WorkItem.Kind.FEATURE
    created_at: dt.datetime | None = None
    status: str = ""
    external_url: str = ""
    due_date: dt.date | None = None
    moves: list[Move] = field(default_factory=list)
    entry: Move | None = None
    # The key under which the creation row is applied as a move when the item is already on the
    # board with another creation time (a later file saying where it was then).
    creation_key: str = ""

    @property
    def creates(self) -> bool:
        return self.created_at is not None


@dataclass
class ImportReport:
    items_created: int = 0
    items_present: int = 0
    transitions_written: int = 0
    unchanged: int = 0
    no_op: int = 0
    problems: list[Problem] = field(default_factory=list)
    # Wall seconds of each phase (reading, applying, recomputing), for ``-v 2``.
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def wrote(self) -> bool:
        return bool(self.items_created or self.transitions_written)

    def add(self, other: "ImportReport") -> None:
        self.items_created += other.items_created
        self.items_present += other.items_present
        self.transitions_written += other.transitions_written
        self.unchanged += other.unchanged
        self.no_op += other.no_op
        self.problems.extend(other.problems)

    def by_reason(self) -> dict[str, list[Problem]]:
        grouped: dict[str, list[Problem]] = {}
        for problem in self.problems:
            grouped.setdefault(problem.reason, []).append(problem)
        return grouped


class Malformed(Exception):
    """A value of the wrong type or shape; ``location`` (if given) narrows where it is."""

    def __init__(self, detail: str, location: str | None = None) -> None:
        super().__init__(detail)
        self.detail, self.location = detail, location


def clip(value: Any, limit: int = SHOWN_VALUE) -> str:
    """``repr(value)`` cut to ``limit`` characters, to quote a bad value in a problem."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def parse_time(value: Any, tz: dt.tzinfo) -> dt.datetime:
    """An ISO 8601 time; one without an offset is read in ``tz`` (the board's zone). ValueError
    unless it is a time from 1970 to 2999 (UTC)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("no time given" if value in (None, "") else f"{clip(value)} is not a time")
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None:
            parsed = timezone.make_aware(parsed, tz)
        in_utc = parsed.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"{clip(value)} is not an ISO 8601 time from 1970 to 2999") from None
    if not MIN_TIME <= in_utc < MAX_TIME:
        raise ValueError(f"{clip(value)} is outside 1970..2999")
    return parsed


def bounded_key(key: str) -> str:
    """``key`` if it fits Transition.idempotency_key, else a prefix of it and the SHA-256 of all
    of it: the same key always gives the same result, so a re-import stays idempotent."""
    if len(key) <= IDEMPOTENCY_KEY_MAX:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{key[: IDEMPOTENCY_KEY_MAX - len(digest) - 1]}:{digest}"


def storable(text: str) -> bool:
    """Whether the database can store ``text``: PostgreSQL refuses NUL, and a lone surrogate
    (from a JSON escape) cannot be encoded."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def text_value(value: Any, what: str, location: str | None = None) -> str:
    """``value`` stripped if it is a storable string; Malformed otherwise. Blank is allowed."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Malformed(f"{what} is {type(value).__name__} {clip(value)}, not a string", location)
    if not storable(value):
        raise Malformed(f"{what} contains a NUL character or a lone surrogate", location)
    return value.strip()
