"""Processing stored deliveries (``integrations.hooks`` stored them): Jira and GitHub events
become creations, field updates, moves and discards through the services.

- **Jira**: ``jira:issue_created`` creates the item in its mapped status; ``jira:issue_updated``
  updates its title and kind and, when its changelog changes the status, moves it, dated by the
  event's ``timestamp``; ``jira:issue_deleted`` discards it.
- **GitHub**: ``issues`` (opened, edited, reopened, closed, labeled, unlabeled) creates or updates
  the item (by the issue's node id) and moves it on opened, reopened and closed per the mapping;
  ``projects_v2_item`` ``edited`` with a Status change moves it to the mapped ``to`` status;
  ``ping`` is answered and kept.

**Order.** Jira retries deliveries, may repeat them, and may send them late or out of order.
A status change is held for the settle window (``INTEGRATIONS_SETTLE_SECONDS``) and then the
item's held changes are applied sorted by (``timestamp``, ``changelog.id``). One still dated
before the item's last move is kept as "superseded": the log is never rewritten.

**Nothing is lost.** An unmapped status, an unknown event, a refusal (a WIP limit, a gate) or a
malformed body leaves the delivery "failed" or "ignored" with the reason; an ops lead fixes the
mapping (or meets the criteria) and replays it. Replaying is idempotent: each move carries the
delivery's idempotency key, and an item is found again by its external key.
"""

import datetime as dt
import json
import logging
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from boards import services
from boards.importing.jira import jira_kind
from boards.models import Transition, WorkItem
from flowboard.errors import ConcurrentUpdate, FlowboardError, InvalidInput
from flowboard.validation import printable
from integrations.mapping import resolve
from integrations.models import Delivery, Integration

log = logging.getLogger(__name__)
Status = Delivery.Status
WEBHOOK = Transition.Source.WEBHOOK
GITHUB_KINDS = {
    "bug": WorkItem.Kind.DEFECT,
    "defect": WorkItem.Kind.DEFECT,
    "incident": WorkItem.Kind.ESCALATION,
    "escalation": WorkItem.Kind.ESCALATION,
    "risk": WorkItem.Kind.RISK,
    "tech debt": WorkItem.Kind.DEBT,
    "debt": WorkItem.Kind.DEBT,
    "chore": WorkItem.Kind.DEBT,
}


class Outcome(Exception):
    """How processing ends when it is not a plain success."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def process(delivery_id: int) -> str:
    """Process one stored delivery; returns its new status. Safe to run again: a delivery that
    is not "received" or "failed" is left as it is, and the delivery's row lock keeps two
    workers from processing it at once. A database error is raised for the task to retry; any
    other error fails the delivery with its reason, to replay."""
    try:
        with transaction.atomic():
            delivery = (
                Delivery.objects.select_for_update(of=("self",))
                .select_related("integration__board")
                .get(pk=delivery_id)
            )
            if delivery.status not in (Status.RECEIVED, Status.FAILED):
                return delivery.status
            delivery.attempts += 1
            status, message = _handle(delivery)
            delivery.status = status
            delivery.error = "" if status in (Status.PROCESSED, Status.WAITING) else message
            delivery.processed_at = timezone.now()
            delivery.save(
                update_fields=[
                    "status", "error", "processed_at", "attempts", "external_key", "event_at",
                    "order",
                ]
            )  # fmt: skip
    except (DatabaseError, ConcurrentUpdate):
        raise
    except Exception as error:  # a defect: keep the delivery, say why, and let it be replayed
        log.exception("Processing delivery %s failed", delivery_id)
        give_up(delivery_id, error)
        return Status.FAILED
    if status == Status.WAITING:
        from integrations import tasks  # tasks import this module

        tasks.schedule_settle(delivery.integration_id, delivery.external_key)
    return status


def _handle(delivery: Delivery) -> tuple[str, str]:
    try:
        try:
            data = json.loads(delivery.body)
        except (ValueError, RecursionError):
            raise Outcome(Status.FAILED, "The body is not JSON.") from None
        if not isinstance(data, dict):
            raise Outcome(Status.FAILED, "The body is not a JSON object.")
        handle = JIRA if delivery.integration.kind == Integration.Kind.JIRA else GITHUB
        return handle(delivery, data)
    except Outcome as outcome:
        return outcome.status, outcome.message
    except ConcurrentUpdate:
        raise
    except FlowboardError as refusal:
        return Status.FAILED, f"Refused: {refusal.message}"
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        return Status.FAILED, f"Malformed payload ({type(error).__name__}: {error})"


def give_up(delivery_id: int, error: BaseException) -> None:
    """Leave the delivery "failed" with the error, after the task's last retry."""
    Delivery.objects.filter(pk=delivery_id).update(
        status=Status.FAILED,
        error=f"Could not be processed ({type(error).__name__}: {error})"[:5000],
        processed_at=timezone.now(),
    )


@transaction.atomic
def replay(delivery: Delivery) -> Delivery:
    """Process a failed, ignored or superseded delivery again (after the mapping was fixed, a
    gate's criteria met...). Idempotent: the item is found by its external key and a move
    carries the delivery's idempotency key."""
    locked = Delivery.objects.select_for_update().get(pk=delivery.pk)
    if locked.status not in (Status.FAILED, Status.IGNORED, Status.SUPERSEDED):
        raise InvalidInput(
            f"The delivery {locked.delivery_id} is {locked.get_status_display().lower()}; only "
            "failed, ignored or superseded deliveries are replayed."
        )
    Delivery.objects.filter(pk=locked.pk).update(status=Status.RECEIVED, error="")
    from integrations import tasks  # tasks import this module

    transaction.on_commit(lambda: tasks.process_delivery.delay(locked.pk), robust=True)
    locked.refresh_from_db()
    return locked


def _obj(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise Outcome(Status.FAILED, f"{what} is missing or not an object.")
    return value


def _column(integration: Integration, status_name: str):
    columns = list(integration.board.columns.order_by("position"))
    column = resolve(columns, integration.mapping, status_name)
    if column is None:
        names = ", ".join(c.name for c in columns)
        raise Outcome(
            Status.FAILED,
            f"The status {status_name!r} maps to no column (columns: {names}). Add it to the "
            f"mapping of {integration}, then replay this delivery.",
        )
    return column


def _find(integration: Integration, key: str) -> WorkItem | None:
    return WorkItem.objects.filter(
        board=integration.board, external_source=integration.kind, external_key=key
    ).first()


def _create(integration, external_key, *, key, title, kind, column, at, url="") -> WorkItem:
    """The item of an external issue, created where the other system has it (gates and WIP
    limits are not enforced: it exists there already, and refusing would lose it). It takes
    the issue's own key ("PROJ-12") when the board has no item of that key."""
    board = integration.board
    taken = len(key) > 40 or WorkItem.objects.filter(board=board, key=key).exists()
    try:
        return services.work_item_create(
            board,
            title=(title or key)[:300],
            actor=None,
            source=WEBHOOK,
            kind=kind,
            column=column,
            key=None if taken else key,
            external_source=integration.kind,
            external_key=external_key,
            external_url=url if len(url) <= 500 else "",
            created_at=min(at, timezone.now()),
            enforce=False,
        )
    except InvalidInput as error:
        # Refused for its external key, or for the issue's key that the first one took?
        if _find(integration, external_key) is None:
            raise
        # Another delivery of the same issue created it at the same moment (two workers): the
        # task retries this one, which then finds the item and updates it.
        raise ConcurrentUpdate(
            f"{integration.kind} item {external_key} was created by another delivery meanwhile."
        ) from error


def _update(item: WorkItem, **fields) -> None:
    changes = {k: v for k, v in fields.items() if v is not None and getattr(item, k) != v}
    if changes:
        services.work_item_update(item, actor=None, **changes)


def _move(delivery: Delivery, item: WorkItem, column, at: dt.datetime) -> tuple[str, str]:
    """The move a delivery reports, by the move service (gates and limits apply: a refusal
    fails the delivery, to replay once resolved); one dated before the item's last move is
    superseded."""
    item.refresh_from_db()
    if item.column_id == column.pk:
        return Status.PROCESSED, f"{item.key} was already in {column.name}."
    last = (
        Transition.objects.filter(item=item).order_by("-at", "-id").values_list("at", flat=True)
    ).first()
    if last is not None and at < last:
        raise Outcome(
            Status.SUPERSEDED,
            f"Dated {at.isoformat()}, before {item.key}'s last move at {last.isoformat()}: "
            "kept, and the history is not rewritten.",
        )
    services.work_item_move(
        item,
        column,
        actor=None,
        source=WEBHOOK,
        at=min(at, timezone.now()),
        idempotency_key=f"hook:{delivery.integration_id}:{delivery.delivery_id}"[:200],
    )
    return Status.PROCESSED, f"{item.key} moved to {column.name}."


# --- Jira --------------------------------------------------------------------------------------


def _jira_time(data: dict) -> dt.datetime:
    stamp = data.get("timestamp")
    if isinstance(stamp, int | float) and not isinstance(stamp, bool):
        try:
            return dt.datetime.fromtimestamp(stamp / 1000, dt.UTC)
        except (OverflowError, OSError, ValueError):
            pass
    raise Outcome(Status.FAILED, f"timestamp {stamp!r} is not epoch milliseconds.")


def _jira_item(delivery, issue: dict, at: dt.datetime, *, create: bool = True):
    integration = delivery.integration
    key = issue.get("key")
    if not isinstance(key, str) or not key.strip():
        raise Outcome(Status.FAILED, "issue.key is missing.")
    fields = _obj(issue.get("fields"), "issue.fields")
    title = printable(fields["summary"]) if isinstance(fields.get("summary"), str) else None
    issuetype = fields.get("issuetype") if isinstance(fields.get("issuetype"), dict) else {}
    kind = jira_kind(issuetype.get("name") if isinstance(issuetype.get("name"), str) else None)
    delivery.external_key, delivery.event_at = key, at  # kept: later ones compare with it
    item = _find(integration, key)
    if item is None and create:
        status = fields.get("status") if isinstance(fields.get("status"), dict) else {}
        name = status.get("name")
        if not isinstance(name, str):
            raise Outcome(Status.FAILED, f"{key} has no fields.status.name to create it in.")
        url = issue.get("self") if isinstance(issue.get("self"), str) else ""
        item = _create(
            integration, key, key=key, title=title, kind=kind, column=_column(integration, name),
            at=at, url=url,
        )  # fmt: skip
        return item, True
    if item is not None and not _later_event_applied(delivery, key, at):
        _update(item, title=title[:300] if title else None, kind=kind)
    return item, False


def _later_event_applied(delivery: Delivery, key: str, at: dt.datetime) -> bool:
    """Has a later event of this issue been processed (or held) already? Then its fields are
    newer than this one's, which must not overwrite them (a retried or late delivery)."""
    return (
        Delivery.objects.filter(
            integration_id=delivery.integration_id,
            external_key=key,
            status__in=(Status.PROCESSED, Status.WAITING),
            event_at__gt=at,
        )
        .exclude(pk=delivery.pk)
        .exists()
    )


def handle_jira(delivery: Delivery, data: dict) -> tuple[str, str]:
    event = data.get("webhookEvent")
    at = _jira_time(data)
    issue = _obj(data.get("issue"), "issue")
    if event == "jira:issue_created":
        item, created = _jira_item(delivery, issue, at)
        return Status.PROCESSED, f"{item.key} {'created' if created else 'already on the board'}."
    if event == "jira:issue_updated":
        item, _ = _jira_item(delivery, issue, at)
        changelog = data.get("changelog") if isinstance(data.get("changelog"), dict) else {}
        moves = [
            entry
            for entry in changelog.get("items") or []
            if isinstance(entry, dict) and str(entry.get("field", "")).lower() == "status"
        ]
        if not moves:
            return Status.PROCESSED, f"{item.key} updated."
        changelog_id = changelog.get("id")
        delivery.external_key = issue["key"]
        delivery.event_at = at
        delivery.order = int(changelog_id) if str(changelog_id).isdigit() else 0
        return Status.WAITING, ""
    if event == "jira:issue_deleted":
        item, _ = _jira_item(delivery, issue, at, create=False)
        if item is None:
            return Status.IGNORED, f"{issue.get('key')} is not on the board."
        if item.discarded_at is not None or item.delivered_at is not None:
            return Status.IGNORED, f"{item.key} is already closed on the board."
        services.work_item_discard(item, actor=None, reason="Deleted in Jira")
        return Status.PROCESSED, f"{item.key} discarded (deleted in Jira)."
    return Status.IGNORED, f"The event {event!r} is not used."


def settle(integration_id: int, external_key: str, now: dt.datetime | None = None) -> int:
    """Apply the held status changes of one item once the first of them has waited the settle
    window: all of them, sorted by (timestamp, changelog id), including those that arrived
    since (an earlier change that arrives late must go before the one it missed, not be
    superseded by it). Returns how many."""
    now = now or timezone.now()
    window = dt.timedelta(seconds=settings.INTEGRATIONS_SETTLE_SECONDS)
    applied = 0
    with transaction.atomic():
        integration = Integration.objects.select_for_update(no_key=True).get(pk=integration_id)
        held = list(
            Delivery.objects.select_for_update()
            .filter(integration=integration, external_key=external_key, status=Status.WAITING)
            .order_by("event_at", "order", "id")
        )
        if not any(delivery.received_at <= now - window for delivery in held):
            return 0
        for delivery in held:
            delivery.integration = integration
            status, message = _settle_one(delivery)
            delivery.status, delivery.error = status, "" if status == Status.PROCESSED else message
            delivery.processed_at = timezone.now()
            delivery.save(update_fields=["status", "error", "processed_at"])
            applied += 1
    return applied


def _settle_one(delivery: Delivery) -> tuple[str, str]:
    try:
        data = json.loads(delivery.body)
        changelog = data.get("changelog") or {}
        entry = [
            e for e in changelog.get("items") or [] if str(e.get("field", "")).lower() == "status"
        ][-1]
        item = _find(delivery.integration, delivery.external_key)
        if item is None:
            raise Outcome(Status.FAILED, f"{delivery.external_key} is not on the board.")
        column = _column(delivery.integration, str(entry.get("toString") or ""))
        return _move(delivery, item, column, delivery.event_at)
    except Outcome as outcome:
        return outcome.status, outcome.message
    except ConcurrentUpdate:
        raise
    except FlowboardError as refusal:
        return Status.FAILED, f"Refused: {refusal.message}"


# --- GitHub ------------------------------------------------------------------------------------


def _github_time(value: Any) -> dt.datetime:
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            if parsed.tzinfo is not None:
                return parsed
        except ValueError:
            pass
    return timezone.now()


def _github_kind(issue: dict) -> str:
    for label in issue.get("labels") or []:
        name = label.get("name", "") if isinstance(label, dict) else ""
        kind = GITHUB_KINDS.get(str(name).strip().lower())
        if kind:
            return kind
    return WorkItem.Kind.FEATURE


def handle_github(delivery: Delivery, data: dict) -> tuple[str, str]:
    event, action = delivery.event, data.get("action")
    if event == "ping":
        return Status.IGNORED, "ping: the webhook is connected."
    if event == "issues" and action in ISSUE_ACTIONS:
        return _github_issue(delivery, data, action)
    if event == "issues" and action == "deleted":
        issue = _obj(data.get("issue"), "issue")
        item = _find(delivery.integration, str(issue.get("node_id") or ""))
        if item is None:
            return Status.IGNORED, "The deleted issue is not on the board."
        if item.discarded_at is not None or item.delivered_at is not None:
            return Status.IGNORED, f"{item.key} is already closed on the board."
        services.work_item_discard(item, actor=None, reason="Deleted in GitHub")
        return Status.PROCESSED, f"{item.key} discarded (deleted in GitHub)."
    if event == "projects_v2_item" and action == "edited":
        return _github_project_status(delivery, data)
    return Status.IGNORED, f"The event {event!r} ({action or 'no action'}) is not used."


ISSUE_ACTIONS = ("opened", "edited", "reopened", "closed", "labeled", "unlabeled")


def _github_issue(delivery: Delivery, data: dict, action: str) -> tuple[str, str]:
    """Create the issue's item (by its node id) or update its title and kind; on opened,
    reopened and closed, move it to the mapped column ("reopened" falls back to "opened")."""
    integration = delivery.integration
    issue = _obj(data.get("issue"), "issue")
    node = issue.get("node_id")
    if not isinstance(node, str) or not node:
        raise Outcome(Status.FAILED, "issue.node_id is missing.")
    title = printable(issue["title"]) if isinstance(issue.get("title"), str) else None
    kind = _github_kind(issue)
    changed = _github_time(issue.get("updated_at") or issue.get("created_at"))
    delivery.external_key, delivery.event_at = node, changed  # later ones compare with it
    item = _find(integration, node)
    if item is None:
        columns = list(integration.board.columns.order_by("position"))
        column = resolve(columns, integration.mapping, "opened") or columns[0]
        number = issue.get("number")
        repository = data.get("repository") if isinstance(data.get("repository"), dict) else {}
        key = f"{repository.get('name') or 'issue'}#{number}" if number else node
        item = _create(
            integration, node, key=key, title=title, kind=kind, column=column,
            at=_github_time(issue.get("created_at")), url=str(issue.get("html_url") or ""),
        )  # fmt: skip
        if action not in ("reopened", "closed"):
            return Status.PROCESSED, f"{item.key} created in {column.name}."
    elif not _later_event_applied(delivery, node, changed):
        _update(item, title=title[:300] if title else None, kind=kind)
    if action not in ("opened", "reopened", "closed"):
        return Status.PROCESSED, f"{item.key} updated."
    columns = list(integration.board.columns.order_by("position"))
    names = ("reopened", "opened") if action == "reopened" else (action,)
    column = next((c for n in names if (c := resolve(columns, integration.mapping, n))), None)
    if column is None:
        column = _column(integration, action)  # the error that names the missing mapping
    stamp = {"opened": "created_at", "closed": "closed_at"}.get(action, "updated_at")
    return _move(delivery, item, column, _github_time(issue.get(stamp) or issue.get("updated_at")))


def _github_project_status(delivery: Delivery, data: dict) -> tuple[str, str]:
    """A project card's Status changed: move its issue's item to the mapped ``to`` status."""
    changes = data.get("changes") if isinstance(data.get("changes"), dict) else {}
    field = changes.get("field_value") if isinstance(changes.get("field_value"), dict) else {}
    if str(field.get("field_name", "")).lower() != "status":
        return Status.IGNORED, "A project field other than Status changed."
    to = field.get("to") if isinstance(field.get("to"), dict) else {}
    project_item = _obj(data.get("projects_v2_item"), "projects_v2_item")
    node = project_item.get("content_node_id")
    item = _find(delivery.integration, node) if isinstance(node, str) else None
    if item is None:
        raise Outcome(
            Status.FAILED,
            f"No item for the project card's content {node!r}: the issue's own events (opened, "
            "edited) create it. Replay this delivery once it exists.",
        )
    column = _column(delivery.integration, str(to.get("name") or ""))
    return _move(delivery, item, column, _github_time(project_item.get("updated_at")))


JIRA = handle_jira
GITHUB = handle_github
