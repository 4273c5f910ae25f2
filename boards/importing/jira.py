"""Jira issues with their changelog, as the REST API returns them (``expand=changelog``), and as
other tools and Jira Server plugins export them (often without ids on histories or issues).

The item is created at ``fields.created`` in the status it started in: the ``fromString`` of its
first status change, or its current status if it never changed. Each changelog item whose
``field`` is ``status`` (in any case) is a move to ``toString`` at its history's ``created``.

Histories are applied in time order. Jira sends them newest first; ties on ``created`` are
broken by the numeric history ``id`` when there is one, else by the history's position in the
file. The idempotency key of a move is ``import:jira:KEY:HISTORY-ID:INDEX`` (its history's id and
its index among the history's items) when the history has an id; without one, it is derived from
the content: the move's position among the item's status changes, its time, and its from and to
statuses, so importing the same export again finds the same keys.
"""

import datetime as dt
import hashlib
import json
from typing import Any

from boards.importing.records import (
    BAD_DATE,
    BAD_FILE,
    BAD_TIME,
    KEY_MAX,
    MALFORMED,
    MISSING_FIELD,
    NO_CREATION,
    NOT_AN_ISSUE,
    TITLE_MAX,
    URL_MAX,
    ItemHistory,
    Malformed,
    Move,
    Problem,
    bounded_key,
    clip,
    parse_time,
    storable,
    text_value,
)
from boards.models import WorkItem

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


def jira_kind(issue_type: str | None) -> str:
    """The work item kind of a Jira issue type: Bug is a defect, most others are features."""
    name = (issue_type or "").strip().lower()
    return JIRA_KINDS.get(name, WorkItem.Kind.FEATURE)


def parse_jira(text: str, *, tz: dt.tzinfo, name: str) -> tuple[list[ItemHistory], list[Problem]]:
    """Issues from one file: one issue, a list of issues, or a search result ``{"issues":
    [...]}``. ``name`` (the file's) is given to every problem.

    An issue of the wrong shape (a wrong JSON type where an object, array or string belongs) is
    reported by its key (or its position in the file) and skipped; a history of the wrong shape or
    with a bad time is reported by key and history and skipped, and the rest of the issue is read.
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
            item = _issue(issue, tz, where, name, found)
        except Malformed as error:
            item, found = None, [*found, Problem(MALFORMED, error.location or where, error.detail)]
        except (TypeError, AttributeError, ValueError, OverflowError, KeyError) as error:
            # A shape the checks above did not foresee: skip the issue rather than stop.
            detail = f"{type(error).__name__}: {error}"[:200]
            item, found = None, [*found, Problem(MALFORMED, where, detail)]
        problems.extend(_in_file(problem, name) for problem in found)
        if item is not None:
            items.append(item)
    return items, problems


def _in_file(problem: Problem, name: str) -> Problem:
    if problem.location.startswith(name) or problem.file:
        return problem
    return Problem(problem.reason, problem.location, problem.detail, name)


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


def _issue(issue: Any, tz, where: str, name: str, problems: list[Problem]) -> ItemHistory | None:
    if not isinstance(issue, dict) or not isinstance(issue.get("fields"), dict):
        problems.append(Problem(NOT_AN_ISSUE, where, "no 'fields' object"))
        return None
    key, fields = issue.get("key"), issue["fields"]
    if not isinstance(key, str) or not key.strip():
        problems.append(Problem(MISSING_FIELD, where, f"no issue key (key is {clip(key)})"))
        return None
    key = text_value(key, "key")
    if len(key) > KEY_MAX:
        problems.append(Problem(MISSING_FIELD, key, f"the key is longer than {KEY_MAX} characters"))
        return None
    title = fields.get("summary")
    if not isinstance(title, str) or not title.strip():
        problems.append(Problem(MISSING_FIELD, key, "no fields.summary"))
        return None
    title = text_value(title, "fields.summary")
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
            parsed = _history(history, number, key, tz)
        except Malformed as error:
            problems.append(Problem(MALFORMED, error.location, error.detail))
            skipped += 1
            continue
        except ValueError as error:  # a bad time
            problems.append(Problem(BAD_TIME, _history_location(history, number, key), str(error)))
            skipped += 1
            continue
        if parsed is None:
            continue
        history_id = parsed[2]
        if history_id is not None and history_id in seen:
            location = f"{key} history {history_id}"
            problems.append(Problem(MALFORMED, location, "the history id is repeated"))
            skipped += 1
            continue
        seen.add(history_id)
        histories.append(parsed)
    histories.sort(key=lambda h: (h[0], h[1]))

    moves = []
    first_status = None
    for at, _, history_id, location, status_items in histories:
        for index, entry in status_items:
            from_status, to_status = entry.get("fromString"), entry.get("toString")
            if first_status is None:
                first_status = from_status
            if not isinstance(to_status, str) or not to_status.strip():
                problems.append(Problem(MISSING_FIELD, location, "no toString on a status change"))
                continue
            if history_id is not None:
                idempotency_key = f"import:jira:{key}:{history_id}:{index}"
            else:
                idempotency_key = _content_key(key, len(moves), at, from_status, to_status)
            moves.append(Move(to_status.strip(), at, location, bounded_key(idempotency_key)))
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
        location=key,
        external_source="jira",
        file=name,
        title=title[:TITLE_MAX],
        kind=jira_kind(text_value(issue_type.get("name"), "fields.issuetype.name")),
        created_at=created_at,
        status=first_status.strip(),
        moves=moves,
        creation_key=bounded_key(f"import:jira:{key}:created"),
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


def _content_key(key: str, ordinal: int, at: dt.datetime, from_status, to_status) -> str:
    """The idempotency key of a status change whose history has no id: its position among the
    item's status changes and a digest of its time and statuses."""
    content = f"{at.astimezone(dt.UTC).isoformat()}|{from_status}|{to_status}"
    digest = hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"import:jira:{key}:n{ordinal}:{digest}"


def _history_location(history: Any, number: int, key: str) -> str:
    history_id = history.get("id") if isinstance(history, dict) else None
    if history_id is not None and str(history_id).strip():
        return f"{key} history {history_id}"
    return f"{key} history #{number + 1}"


def _history(history: Any, number: int, key: str, tz) -> tuple | None:
    """``(at, order, id or None, location, [(index, status item)])`` of one changelog history,
    or None when it changes no status. ``order`` breaks ties on ``at``: the numeric id, else the
    position in the file. Malformed (located by key and history) if it has the wrong shape;
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
            text_value(entry.get(side), f"items[{index}].{side}", location)
        status_items.append((index, entry))
    if not status_items:
        return None
    raw_id = history.get("id")
    if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
        history_id, order = None, (1, number)
    elif isinstance(raw_id, int) and not isinstance(raw_id, bool) and 0 <= raw_id < 10**18:
        history_id, order = str(raw_id), (0, raw_id)
    elif isinstance(raw_id, str) and raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 18:
        history_id, order = raw_id, (0, int(raw_id))
    else:
        raise Malformed(f"the history id {clip(raw_id)} is not a number", location)
    at = parse_time(history.get("created"), tz)
    if history_id is not None:
        location = f"{key} history {history_id}"
    return at, order, history_id, location, status_items
