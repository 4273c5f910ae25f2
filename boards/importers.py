"""Import the history of work items from other tools (``manage.py import_history``).

Parsing is pure: ``parse_jira`` and ``parse_csv`` turn a file's content into ``ItemHistory``
records plus the ``Problem`` rows they could not read, each with its location (a CSV line, a
Jira key and history id). ``import_histories`` then applies them to a board through the same
services as every other move (``work_item_create`` and ``work_item_move`` with ``enforce=False``
and source ``import``), so the Transition log and the started/delivered caches follow the usual
rules (FLOW-METRICS.md "Column entry dates").

A CSV item whose first row has an ``at`` later than its ``created_at`` is created at
``created_at`` in the board's first column and then moved into ``to_column`` at ``at``, so its
entry into ``to_column`` (and its cycle time) is dated by ``at``, not by its creation.

Re-importing the same file changes nothing: an item is found again by its external key, and each
move carries an idempotency key derived from its source (Jira history id, CSV time and column);
a key longer than the column allows is shortened to a prefix and the SHA-256 of the whole key.

Bad data never stops an import: a malformed issue, history, row or file (a wrong JSON type, a NUL
character, a time outside 1970..2999, an oversized CSV field) is reported with its location and
skipped, and so is an item whose writes the database refuses (that item alone is rolled back).
"""

import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, transaction
from django.utils import timezone

from boards import services
from boards.models import Board, Column, Transition, WorkItem
from flowboard.errors import FlowboardError

CSV_HEADER = ("key", "title", "kind", "created_at", "to_column", "at")
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

# Jira issue types that are not features. Anything unknown is a feature.
JIRA_KINDS = {
    "bug": WorkItem.Kind.DEFECT,
    "defect": WorkItem.Kind.DEFECT,
    "incident": WorkItem.Kind.ESCALATION,
    "escalation": WorkItem.Kind.ESCALATION,
    "support": WorkItem.Kind.ESCALATION,
    "support request": WorkItem.Kind.ESCALATION,
    "problem": WorkItem.Kind.ESCALATION,
    "risk": WorkItem.Kind.RISK,
    "spike": WorkItem.Kind.RISK,
    "debt": WorkItem.Kind.DEBT,
    "tech debt": WorkItem.Kind.DEBT,
    "technical debt": WorkItem.Kind.DEBT,
    "chore": WorkItem.Kind.DEBT,
}


@dataclass(frozen=True)
class Problem:
    """Something that was skipped, where it was, and why."""

    reason: str
    location: str
    detail: str = ""


@dataclass(frozen=True)
class Move:
    """A move into the external status (or column) ``status`` at ``at``."""

    status: str
    at: dt.datetime
    location: str
    idempotency_key: str


@dataclass
class ItemHistory:
    """One item as read from a file: where and when it was created, then its moves in order."""

    key: str
    title: str
    kind: str
    created_at: dt.datetime
    status: str
    location: str
    external_source: str
    external_url: str = ""
    due_date: dt.date | None = None
    moves: list[Move] = field(default_factory=list)
    # Set when the item entered ``status`` after its creation: it is then created in the board's
    # first column at ``created_at`` and moved into ``status`` by this move.
    entry: Move | None = None


@dataclass
class ImportReport:
    items_created: int = 0
    items_present: int = 0
    transitions_written: int = 0
    unchanged: int = 0
    no_op: int = 0
    problems: list[Problem] = field(default_factory=list)

    def by_reason(self) -> dict[str, list[Problem]]:
        grouped: dict[str, list[Problem]] = {}
        for problem in self.problems:
            grouped.setdefault(problem.reason, []).append(problem)
        return grouped


# Parsing ---------------------------------------------------------------------------------------


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
        if timezone.is_naive(parsed):
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
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text(value: Any, what: str, location: str | None = None) -> str:
    """``value`` stripped if it is a storable string; Malformed otherwise. Blank is allowed."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Malformed(f"{what} is {type(value).__name__} {clip(value)}, not a string", location)
    if not storable(value):
        raise Malformed(f"{what} contains a NUL character or a lone surrogate", location)
    return value.strip()


def _object(value: Any, what: str, location: str | None = None) -> dict:
    """``value`` if it is a JSON object, {} if null or absent; Malformed otherwise."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Malformed(f"{what} is {type(value).__name__} {clip(value)}, not an object", location)
    return value


def _array(value: Any, what: str, location: str | None = None) -> list:
    """``value`` if it is a JSON array, [] if null or absent; Malformed otherwise."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Malformed(f"{what} is {type(value).__name__} {clip(value)}, not an array", location)
    return value


def jira_kind(issue_type: str | None) -> str:
    """The work item kind of a Jira issue type: Bug is a defect, most others are features."""
    name = (issue_type or "").strip().lower()
    return JIRA_KINDS.get(name, WorkItem.Kind.FEATURE)


def parse_jira(text: str, *, tz: dt.tzinfo, name: str) -> tuple[list[ItemHistory], list[Problem]]:
    """Issues from Jira's REST API (``expand=changelog``): one issue, a list of issues, or a
    search result ``{"issues": [...]}``. ``name`` (the file's) locates the file's own problems.

    The item is created at ``fields.created`` in the status it started in: the ``fromString`` of
    its first status change, or its current status if it never changed. Each changelog item whose
    ``field`` is ``status`` (any case) is a move to ``toString``. Jira sends histories newest
    first; they are sorted by ``created``, then numeric ``id``.

    An issue of the wrong shape (a wrong JSON type where an object, array or string belongs) is
    reported by its key (or its position in the file) and skipped; a history of the wrong shape,
    with a bad time, or with an id that is not a number is reported by key and history and
    skipped, and the rest of the issue is read.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        return [], [Problem(BAD_FILE, f"{name} line {error.lineno}", f"invalid JSON: {error.msg}")]
    except (ValueError, RecursionError) as error:  # an oversized number, nesting too deep
        return [], [Problem(BAD_FILE, name, f"invalid JSON: {error}"[:200])]
    if isinstance(data, dict) and isinstance(data.get("issues"), list):
        issues = data["issues"]
    elif isinstance(data, list):
        issues = data
    else:
        issues = [data]
    items, problems = [], []
    for index, issue in enumerate(issues):
        where = f"{name} issue #{index + 1}"
        if isinstance(issue, dict) and isinstance(issue.get("key"), str):
            key = issue["key"].strip()
            if key and len(key) <= KEY_MAX and storable(key):
                where = key
        found: list[Problem] = []
        try:
            item = _jira_issue(issue, tz, where, found)
        except Malformed as error:
            item, found = None, [*found, Problem(MALFORMED, error.location or where, error.detail)]
        except (TypeError, AttributeError, ValueError, OverflowError, KeyError) as error:
            # A shape the checks above did not foresee: skip the issue rather than stop.
            detail = f"{type(error).__name__}: {error}"[:200]
            item, found = None, [*found, Problem(MALFORMED, where, detail)]
        problems.extend(found)
        if item is not None:
            items.append(item)
    return items, problems


def _jira_issue(issue: Any, tz, where: str, problems: list[Problem]) -> ItemHistory | None:
    if not isinstance(issue, dict) or not isinstance(issue.get("fields"), dict):
        problems.append(Problem(NOT_AN_ISSUE, where, "no 'fields' object"))
        return None
    key, fields = issue.get("key"), issue["fields"]
    if not isinstance(key, str) or not key.strip():
        problems.append(Problem(MISSING_FIELD, where, f"no issue key (key is {clip(key)})"))
        return None
    key = _text(key, "key")
    if len(key) > KEY_MAX:
        problems.append(Problem(MISSING_FIELD, key, f"the key is longer than {KEY_MAX} characters"))
        return None
    title = fields.get("summary")
    if not isinstance(title, str) or not title.strip():
        problems.append(Problem(MISSING_FIELD, key, "no fields.summary"))
        return None
    title = _text(title, "fields.summary")
    try:
        created_at = parse_time(fields.get("created"), tz)
    except ValueError as error:
        problems.append(Problem(BAD_TIME, key, f"fields.created: {error}"))
        return None
    status = _object(fields.get("status"), "fields.status")
    issue_type = _object(fields.get("issuetype"), "fields.issuetype")
    changelog = _object(issue.get("changelog"), "changelog")

    histories, seen, skipped = [], set(), 0
    for number, history in enumerate(_array(changelog.get("histories"), "changelog.histories")):
        try:
            parsed = _jira_history(history, number, key, tz)
        except Malformed as error:
            problems.append(Problem(MALFORMED, error.location, error.detail))
            skipped += 1
            continue
        except ValueError as error:  # a bad time
            problems.append(Problem(BAD_TIME, f"{key} history {history['id']}", str(error)))
            skipped += 1
            continue
        if parsed is None:
            continue
        if parsed[2] in seen:
            location = f"{key} history {parsed[2]}"
            problems.append(Problem(MALFORMED, location, "the history id is repeated"))
            skipped += 1
            continue
        seen.add(parsed[2])
        histories.append(parsed)
    histories.sort(key=lambda h: (h[0], h[1]))

    moves = []
    first_status = None
    for at, _, history_id, status_items in histories:
        for index, entry in status_items:
            location = f"{key} history {history_id}"
            if first_status is None:
                first_status = entry.get("fromString")
            to_status = entry.get("toString")
            if not isinstance(to_status, str) or not to_status.strip():
                problems.append(Problem(MISSING_FIELD, location, "no toString on a status change"))
                continue
            idempotency_key = bounded_key(f"import:jira:{key}:{history_id}:{index}")
            moves.append(Move(to_status.strip(), at, location, idempotency_key))
    if not histories and skipped:
        # Its current status is not where it started: don't create it in the wrong place.
        detail = f"all its histories that could change its status ({skipped}) were skipped"
        problems.append(Problem(NO_CREATION, key, detail))
        return None
    if not histories:
        first_status = status.get("name")
    if not isinstance(first_status, str) or not first_status.strip():
        problems.append(Problem(MISSING_FIELD, key, "no status to create the item in"))
        return None

    item = ItemHistory(
        key=key,
        title=title[:TITLE_MAX],
        kind=jira_kind(_text(issue_type.get("name"), "fields.issuetype.name")),
        created_at=created_at,
        status=first_status.strip(),
        location=key,
        external_source="jira",
        moves=moves,
    )
    url = issue.get("self")
    web = isinstance(url, str) and url.startswith(("http://", "https://"))
    if web and len(url) <= URL_MAX and storable(url):
        item.external_url = url
    if fields.get("duedate"):
        try:
            item.due_date = dt.date.fromisoformat(str(fields["duedate"])[:10])
        except ValueError:
            problems.append(Problem(BAD_DATE, key, f"fields.duedate {clip(fields['duedate'])}"))
    return item


def _jira_history(history: Any, number: int, key: str, tz) -> tuple | None:
    """``(at, numeric id, id, [(index, status item)])`` of one changelog history, or None when
    it changes no status. Malformed (located by key and history) if it has the wrong shape;
    ValueError if its time is bad."""
    location = f"{key} history #{number + 1}"
    if not isinstance(history, dict):
        raise Malformed(f"the history is {type(history).__name__} {clip(history)}", location)
    entries = _array(history.get("items"), "items", location)
    status_items = []
    for index, entry in enumerate(entries):
        entry = _object(entry, f"items[{index}]", location)
        if str(entry.get("field", "")).lower() != "status":
            continue
        for side in ("fromString", "toString"):
            _text(entry.get(side), f"items[{index}].{side}", location)
        status_items.append((index, entry))
    if not status_items:
        return None
    raw_id = history.get("id")
    if isinstance(raw_id, int) and not isinstance(raw_id, bool) and 0 <= raw_id < 10**18:
        history_id = str(raw_id)
    elif isinstance(raw_id, str) and raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 18:
        history_id = raw_id
    else:
        raise Malformed(f"the history id {clip(raw_id)} is not a number", location)
    at = parse_time(history.get("created"), tz)
    return at, int(history_id), history_id, status_items


def csv_kind(value: str) -> str | None:
    """A kind given by value or label, in any case; blank is a feature. None when unknown."""
    name = value.strip().lower()
    if not name:
        return WorkItem.Kind.FEATURE
    for kind in WorkItem.Kind:
        if name in (kind.value, kind.label.lower()):
            return kind.value
    return None


def parse_csv(text: str, *, tz: dt.tzinfo, name: str) -> tuple[list[ItemHistory], list[Problem]]:
    """Rows ``key,title,kind,created_at,to_column,at``, one per move, in time order per key.

    The first row of a key creates the item at ``created_at``, with its title and kind. When its
    ``at`` is blank or equals ``created_at``, the item is created in ``to_column``; when ``at`` is
    later, it is created in the board's first column and moved into ``to_column`` at ``at`` (so
    its entry there, and its cycle time, are dated by ``at``); an ``at`` before ``created_at`` is
    malformed. Later rows of the key need only ``to_column`` and ``at``. Times without an offset
    are read in ``tz``. A key whose first row is malformed has its later rows skipped too, so
    nothing is created in the wrong place. A row the csv module cannot read (a field over its size
    limit) or with a NUL character is reported by line and skipped.
    """
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, None)
    except csv.Error as error:
        return [], [Problem(BAD_FILE, f"{name} line {reader.line_num}", f"unreadable CSV: {error}")]
    if header is None:
        return [], [Problem(BAD_FILE, f"{name} line 1", "the file is empty")]
    header = [h.strip().lower() for h in header]
    missing = [h for h in CSV_HEADER if h not in header]
    if missing:
        detail = f"the header lacks {', '.join(missing)}; expected {','.join(CSV_HEADER)}"
        return [], [Problem(BAD_FILE, f"{name} line 1", detail)]
    columns = {h: header.index(h) for h in CSV_HEADER}

    items: dict[str, ItemHistory] = {}
    failed: dict[str, str] = {}  # key -> location of its skipped creation row
    problems = []
    while True:
        line = reader.line_num
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            problems.append(
                Problem(MALFORMED, f"{name} line {reader.line_num}", f"unreadable CSV: {error}")
            )
            if reader.line_num == line:  # nothing consumed: stop rather than loop
                break
            continue
        where = f"{name} line {reader.line_num}"
        if not any(v.strip() for v in values):
            continue
        row = {h: values[i].strip() if i < len(values) else "" for h, i in columns.items()}
        key = row["key"]
        if not all(storable(value) for value in values):
            problem = Problem(MALFORMED, where, "the row contains a NUL character")
            if key and key not in items and key not in failed:
                failed[key] = where
            problems.append(problem)
            continue
        if not key:
            problems.append(Problem(MISSING_FIELD, where, "no key"))
            continue
        if key in failed:
            problems.append(Problem(NO_CREATION, where, f"{key} was not created ({failed[key]})"))
            continue
        item = items.get(key)
        problem = None
        if item is None:
            item, problem = _csv_creation(row, tz, where)
            if item is not None:
                items[key] = item
            else:
                failed[key] = where
        else:
            problem = _csv_move(item, row, tz, where)
        if problem is not None:
            problems.append(problem)
    return list(items.values()), problems


def _csv_creation(row, tz, where) -> tuple[ItemHistory | None, Problem | None]:
    absent = [h for h in ("title", "created_at", "to_column") if not row[h]]
    if absent:
        detail = f"the first row of {row['key']} lacks {', '.join(absent)}"
        return None, Problem(MISSING_FIELD, where, detail)
    if len(row["key"]) > KEY_MAX:
        return None, Problem(MISSING_FIELD, where, f"the key is longer than {KEY_MAX} characters")
    kind = csv_kind(row["kind"])
    if kind is None:
        allowed = ", ".join(WorkItem.Kind.values)
        return None, Problem(UNKNOWN_KIND, where, f"{clip(row['kind'])} (allowed: {allowed})")
    try:
        created_at = parse_time(row["created_at"], tz)
        at = parse_time(row["at"], tz) if row["at"] else created_at
    except ValueError as error:
        return None, Problem(BAD_TIME, where, str(error))
    if at < created_at:
        return None, Problem(OUT_OF_ORDER, where, "at is before created_at on the creation row")
    item = ItemHistory(
        key=row["key"],
        title=row["title"][:TITLE_MAX],
        kind=kind,
        created_at=created_at,
        status=row["to_column"],
        location=where,
        external_source="csv",
    )
    if at > created_at:
        # Created upstream, entering to_column later: the entry is a move of its own.
        item.entry = Move(row["to_column"], at, where, _csv_move_key(item.key, at, row))
    return item, None


def _csv_move(item: ItemHistory, row, tz, where) -> Problem | None:
    absent = [h for h in ("to_column", "at") if not row[h]]
    if absent:
        return Problem(MISSING_FIELD, where, f"a move of {item.key} lacks {', '.join(absent)}")
    try:
        at = parse_time(row["at"], tz)
    except ValueError as error:
        return Problem(BAD_TIME, where, str(error))
    item.moves.append(Move(row["to_column"], at, where, _csv_move_key(item.key, at, row)))
    return None


def _csv_move_key(key: str, at: dt.datetime, row) -> str:
    # The status is resolved to a board column later; the key names what the row says.
    utc = at.astimezone(dt.UTC).isoformat()
    return bounded_key(f"import:csv:{key}:{utc}:{row['to_column'].lower()}")


# Mapping and applying --------------------------------------------------------------------------


def parse_mapping(text: str | None) -> dict[str, str]:
    """``"Next=Committed,QA=Test"`` as {"next": "Committed", "qa": "Test"}. ValueError if bad."""
    mapping: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        status, sep, column = part.partition("=")
        if not sep or not status.strip() or not column.strip():
            raise ValueError(f"{part.strip()!r} is not STATUS=COLUMN")
        mapping[status.strip().lower()] = column.strip()
    return mapping


class ColumnMap:
    """Resolves an external status name to a board column, ignoring case: an explicit mapping
    first, then a column of the same name."""

    def __init__(self, columns: Sequence[Column], mapping: Mapping[str, str] | None = None):
        self.columns = list(columns)
        by_name = {c.name.lower(): c for c in self.columns}
        self._by_status = dict(by_name)
        for status, column_name in (mapping or {}).items():
            column = by_name.get(column_name.lower())
            if column is None:
                names = ", ".join(c.name for c in self.columns)
                raise ValueError(
                    f"{status}={column_name}: {column_name!r} is not a column (columns: {names})"
                )
            self._by_status[status.lower()] = column

    def resolve(self, status: str) -> Column | None:
        return self._by_status.get(status.strip().lower())


def import_histories(
    board: Board,
    histories: Iterable[ItemHistory],
    *,
    columns: ColumnMap,
    report: ImportReport | None = None,
    on_item: Callable[[ItemHistory], None] | None = None,
) -> ImportReport:
    """Apply parsed histories to ``board`` through the services, one transaction per item.

    An item already on the board with the same external source and key is not created again;
    each move is written with its idempotency key, so a replayed move counts as unchanged. A
    move into the column the item is in writes nothing (a no-op). Moves are applied in the given
    order and one dated before the item's previous move is skipped. A creation status that maps
    to no column skips the item; a move to one skips the move. Service refusals are reported and
    skipped. A database error (a value the database refuses) rolls back the item being imported
    (a savepoint when called inside a transaction), is reported, and the import goes on; any
    other error rolls back that item and propagates.
    """
    report = report if report is not None else ImportReport()
    for history in histories:
        # Counted apart, so that an item rolled back leaves no trace in the totals.
        own = ImportReport()
        try:
            with transaction.atomic():
                _import_one(board, history, columns, own)
        except DatabaseError as error:
            message = " ".join(str(error).split())[:200] or type(error).__name__
            detail = f"{type(error).__name__}: {message}; item and its moves skipped"
            report.problems.extend(own.problems)
            report.problems.append(Problem(DATABASE, history.location, detail))
        else:
            report.items_created += own.items_created
            report.items_present += own.items_present
            report.transitions_written += own.transitions_written
            report.unchanged += own.unchanged
            report.no_op += own.no_op
            report.problems.extend(own.problems)
        if on_item is not None:
            on_item(history)
    return report


def _import_one(board: Board, history: ItemHistory, columns: ColumnMap, report: ImportReport):
    column = columns.resolve(history.status)
    if column is None:
        report.problems.append(
            Problem(
                UNMAPPED,
                history.location,
                f"created in {clip(history.status)}, which maps to no column; item skipped",
            )
        )
        return
    # An item that entered its column after its creation starts in the board's first column.
    moves = list(history.moves)
    if history.entry is not None:
        moves.insert(0, history.entry)
        column = columns.columns[0]
    item = WorkItem.objects.filter(
        board=board, external_source=history.external_source, external_key=history.key
    ).first()
    if item is not None:
        report.items_present += 1
    else:
        try:
            item = services.work_item_create(
                board,
                title=history.title,
                actor=None,
                source=Transition.Source.IMPORT,
                kind=history.kind,
                column=column,
                key=history.key,
                due_date=history.due_date,
                external_source=history.external_source,
                external_key=history.key,
                external_url=history.external_url,
                created_at=history.created_at,
                enforce=False,
            )
        except FlowboardError as error:
            report.problems.append(Problem(REFUSED, history.location, error.message))
            return
        report.items_created += 1

    # Walk the history as it happened: the column the item was in and the time of its last move.
    current, last_at = column, history.created_at
    for move in moves:
        target = columns.resolve(move.status)
        if target is None:
            detail = f"{clip(move.status)} maps to no column; move skipped"
            report.problems.append(Problem(UNMAPPED, move.location, detail))
            continue
        if move.at < last_at:
            detail = f"{move.at.isoformat()} is before {last_at.isoformat()}"
            report.problems.append(Problem(OUT_OF_ORDER, move.location, detail))
            continue
        if target.pk == current.pk:
            report.no_op += 1
            continue
        try:
            result = services.work_item_move(
                item,
                target,
                actor=None,
                source=Transition.Source.IMPORT,
                at=move.at,
                idempotency_key=move.idempotency_key,
                enforce=False,
            )
        except FlowboardError as error:
            report.problems.append(Problem(REFUSED, move.location, error.message))
            continue
        if result.replayed:
            report.unchanged += 1
        elif result.transition is None:
            report.no_op += 1
        else:
            report.transitions_written += 1
        current, last_at = target, move.at
