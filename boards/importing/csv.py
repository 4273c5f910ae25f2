"""History from a CSV file: rows ``key,title,kind,created_at,to_column,at``, one per move, in time
order per key (rows of different keys may interleave).

The first row of a key in a file creates the item at ``created_at``, with its title and kind.
When its ``at`` is blank or equals ``created_at``, the item is created in ``to_column``; when
``at`` is later, it is created in the board's first column and moved into ``to_column`` at
``at`` (so its entry there, and its cycle time, are dated by ``at``); an ``at`` before
``created_at`` is malformed. Later rows of the key need only ``to_column`` and ``at``.

A file may also continue items created by an earlier file or an earlier run: a key whose first
row in the file has ``to_column`` and ``at`` but no title or ``created_at`` is read as moves of
an item that must already be on the board (``ItemHistory.created_at`` is None).

A move's idempotency key is ``import:csv:KEY:N:TIME:COLUMN``, where N is the row's position
among the key's rows in the file. The position keeps every row of a ping-pong within one minute
(Build, Review, Build) distinct; the time and column keep moves of different files apart.

Times without an offset are read in the board's zone. A key whose first row is malformed has its
later rows skipped too, so nothing is created in the wrong place. A row the csv module cannot
read (a field over its size limit) or with a NUL character is reported by line and skipped.
"""

import csv
import datetime as dt
import io

from boards.importing.records import (
    BAD_FILE,
    BAD_TIME,
    KEY_MAX,
    MALFORMED,
    MISSING_FIELD,
    NO_CREATION,
    OUT_OF_ORDER,
    TITLE_MAX,
    UNKNOWN_KIND,
    ItemHistory,
    Move,
    Problem,
    bounded_key,
    clip,
    parse_time,
    storable,
)
from boards.models import WorkItem

CSV_HEADER = ("key", "title", "kind", "created_at", "to_column", "at")


KINDS = {
    **{kind.label.lower(): kind.value for kind in WorkItem.Kind},
    **{kind.value: kind.value for kind in WorkItem.Kind},
    "": WorkItem.Kind.FEATURE,
}


def csv_kind(value: str) -> str | None:
    """A kind given by value or label, in any case; blank is a feature. None when unknown."""
    return KINDS.get(value.strip().lower())


def parse_csv(text: str, *, tz: dt.tzinfo, name: str) -> tuple[list[ItemHistory], list[Problem]]:
    """The items of one file, in the order their keys first appear, and the rows skipped."""
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
    columns = [(h, header.index(h)) for h in CSV_HEADER]
    width = max(i for _, i in columns) + 1

    items: dict[str, ItemHistory] = {}
    rows_seen: dict[str, int] = {}  # rows of each key so far, for the move keys
    failed: dict[str, str] = {}  # key -> location of its skipped first row
    statuses: dict[str, str] = {}  # one string per status name: a million moves share a few
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
        if len(values) < width:
            values = values + [""] * (width - len(values))
        if not any(v.strip() for v in values):
            continue
        row = {h: values[i].strip() for h, i in columns}
        key = row["key"]
        if not storable("".join(values)):
            if key and key not in items and key not in failed:
                failed[key] = where
            problems.append(Problem(MALFORMED, where, "the row contains a NUL character"))
            continue
        if not key:
            problems.append(Problem(MISSING_FIELD, where, "no key"))
            continue
        if key in failed:
            problems.append(Problem(NO_CREATION, where, f"{key} was not created ({failed[key]})"))
            continue
        ordinal = rows_seen.get(key, 0)
        rows_seen[key] = ordinal + 1
        status = statuses.setdefault(row["to_column"], row["to_column"])
        item = items.get(key)
        if item is None:
            item, problem = _first_row(row, status, ordinal, tz, where, name)
            if item is not None:
                items[key] = item
            else:
                failed[key] = where
        else:
            problem = _move_row(item, row, status, ordinal, tz, where)
        if problem is not None:
            problems.append(problem)
    return list(items.values()), problems


def _first_row(row, status, ordinal, tz, where, name) -> tuple[ItemHistory | None, Problem | None]:
    """The item a key's first row in the file starts: a creation, or the continuation of an
    item created earlier when the row is only a move."""
    key = row["key"]
    if len(key) > KEY_MAX:
        return None, Problem(MISSING_FIELD, where, f"the key is longer than {KEY_MAX} characters")
    if not row["title"] and not row["created_at"] and row["to_column"] and row["at"]:
        item = ItemHistory(key=key, location=where, external_source="csv", file=name)
        problem = _move_row(item, row, status, ordinal, tz, where)
        return (None, problem) if problem else (item, None)
    absent = [h for h in ("title", "created_at", "to_column") if not row[h]]
    if absent:
        detail = f"the first row of {key} lacks {', '.join(absent)}"
        return None, Problem(MISSING_FIELD, where, detail)
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
        key=key,
        location=where,
        external_source="csv",
        file=name,
        title=row["title"][:TITLE_MAX],
        kind=kind,
        created_at=created_at,
        status=status,
        creation_key=_move_key(key, ordinal, created_at, status),
    )
    if at > created_at:
        # Created upstream, entering to_column later: the entry is a move of its own.
        item.entry = Move(status, at, where, _move_key(key, ordinal, at, status))
    return item, None


def _move_row(item: ItemHistory, row, status, ordinal, tz, where) -> Problem | None:
    absent = [h for h in ("to_column", "at") if not row[h]]
    if absent:
        return Problem(MISSING_FIELD, where, f"a move of {item.key} lacks {', '.join(absent)}")
    try:
        at = parse_time(row["at"], tz)
    except ValueError as error:
        return Problem(BAD_TIME, where, str(error))
    item.moves.append(Move(status, at, where, _move_key(item.key, ordinal, at, status)))
    return None


def _move_key(key: str, ordinal: int, at: dt.datetime, status: str) -> str:
    # The status is resolved to a board column later; the key names what the row says.
    utc = at.astimezone(dt.UTC).isoformat()
    return bounded_key(f"import:csv:{key}:{ordinal}:{utc}:{status.lower()}")
