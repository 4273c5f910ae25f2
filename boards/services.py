"""Every write to a work item goes through these functions: the web board, the API, the admin,
webhooks and importers all call them, so each rule lives in one place. (A board's set-up, its
columns and points, is written by ``boards.setup``; criteria by ``readiness.services``; history
that already happened by ``boards.importing``.)

Refusals are typed errors from ``flowboard.errors``. Follow-up work (the metrics refresh, later
outbound webhooks) is enqueued with ``transaction.on_commit``, never inside the transaction.

The lock order
--------------
On PostgreSQL every service takes the row locks it needs in this order, and no service ever
asks for a lock earlier in the order than one it holds, so no two services can wait for each
other in a cycle:

1. the board (numbering a new item's key; an import; a change of the board's set-up);
2. columns, in position order (a WIP count, the ranks inside a column);
3. work items, in id order (the item's state: its column, version, discard; and the gate on
   its criteria: a criterion changes only under its item's lock);
4. the item's acceptance criteria;
5. the item's blocks.

Each lock is ``FOR NO KEY UPDATE`` (``boards.locking``): it guards a count or a state, so it
does not conflict with the ``FOR KEY SHARE`` lock an insert takes on the rows its foreign keys
point to. Should PostgreSQL still abort a transaction as a deadlock or a serialization failure,
the service runs it again (``locking.retrying``), a bounded number of times. On SQLite, write
transactions begin ``IMMEDIATE`` and so run one at a time.

Times follow the one rule of ``boards.timing``: a time given by the caller must be aware, not in
the future, and not before the item's last change of the same thing; with no time given, the
change is dated after the locks are held.
"""

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Case, Max, Value, When
from django.utils import timezone

from boards import events, locking, ranking
from boards.flow import started_delivered
from boards.models import Block, Board, Column, Event, Transition, WorkItem
from boards.timing import change_time, check_aware
from flowboard import validation
from flowboard.errors import (
    GateBlocked,
    IdempotencyConflict,
    InvalidInput,
    InvalidMove,
    InvalidTransition,
    ItemDiscarded,
    StaleVersion,
    WipLimitExceeded,
)
from metrics.services import mark_item_dirty  # the refresh queue, written with each change
from readiness import gates
from readiness.models import GateRefusal
from readiness.services import criteria_for_kind, criteria_instantiate

# The fields of an item that ``work_item_update`` changes; the column only moves.
EDITABLE = (
    "title",
    "description",
    "kind",
    "class_of_service",
    "due_date",
    "external_source",
    "external_key",
    "external_url",
)


@dataclass(frozen=True)
class MoveResult:
    item: WorkItem
    # None when the move was a no-op (same column) or a replay of an idempotency key.
    transition: Transition | None
    soft_limit_exceeded: bool = False
    replayed: bool = False


# --- shared checks ---------------------------------------------------------------------------


def _item_fields(fields: dict) -> dict:
    """The editable fields given, validated and normalised (lengths, choices, link)."""
    clean = {}
    for name, value in fields.items():
        if name == "title":
            value = validation.text(value, WorkItem, "title", "The title", required=True)
        elif name == "description":
            value = validation.text(value, WorkItem, "description", "The description")
        elif name == "kind":
            value = validation.choice(value, WorkItem.Kind, "kind", "kind")
        elif name == "class_of_service":
            value = validation.choice(
                value, WorkItem.ClassOfService, "class_of_service", "class of service"
            )
        elif name == "due_date":
            value = validation.date_in_range(value, "The due date", "due_date")
        elif name in ("external_source", "external_key"):
            label = "The external source" if name == "external_source" else "The external key"
            value = validation.text(value, WorkItem, name, label)
        elif name == "external_url":
            value = validation.url(value, WorkItem, "external_url", "The external link")
        else:
            raise InvalidInput(f"{name!r} is not a field that can be edited.", field=name)
        clean[name] = value
    return clean


def _last_move_at(item: WorkItem) -> dt.datetime | None:
    return (
        Transition.objects.filter(item=item)
        .order_by("-at", "-id")
        .values_list("at", flat=True)
        .first()
    )


def _check_wip(column: Column, exclude_item_id: int | None = None) -> bool:
    """Refuse a move over a hard WIP limit; return True when a soft limit is now exceeded.

    Call while holding the lock on ``column``: the count must not change under us.
    """
    if column.wip_limit is None:
        return False
    count = (
        WorkItem.objects.filter(column=column, discarded_at__isnull=True)
        .exclude(pk=exclude_item_id)
        .count()
    )
    if count < column.wip_limit:
        return False
    if column.wip_policy == Column.WipPolicy.HARD:
        raise WipLimitExceeded(
            f"{column.name} is at its WIP limit of {column.wip_limit} "
            f"({count} item{'s' if count != 1 else ''} in it).",
            column=column.name,
            column_id=column.pk,
            limit=column.wip_limit,
            count=count,
        )
    return True


def _flow_times(board: Board, columns: Sequence[Column], moves) -> tuple:
    """started_at and delivered_at from the item's moves (column id, time), per the spec."""
    positions = {c.pk: c.position for c in columns}
    return started_delivered(
        ((positions[column_id], at) for column_id, at in moves),
        positions[board.commitment_column_id],
        positions[board.delivery_column_id],
    )


def _copy_state(source: WorkItem, target: WorkItem) -> None:
    """Give the caller's instance the state the service just wrote."""
    if source is target:
        return
    for field in ("column_id", "rank", "started_at", "delivered_at", "discarded_at", "version",
                  "updated_at"):  # fmt: skip
        setattr(target, field, getattr(source, field))
    for field in EDITABLE:
        setattr(target, field, getattr(source, field))


def _check_version(locked: WorkItem, expected_version: int | None) -> None:
    if expected_version is not None and locked.version != expected_version:
        raise StaleVersion(
            f"{locked.key} was changed by someone else since you loaded it (version "
            f"{expected_version}, now {locked.version}). Reload it and try again.",
            expected_version=expected_version,
            current_version=locked.version,
        )


# --- ranks -----------------------------------------------------------------------------------


def _bottom_rank(column: Column) -> str:
    """A rank after every card of ``column``: always short (it increments the integer part)."""
    last = WorkItem.objects.filter(column=column).aggregate(last=Max("rank"))["last"]
    return ranking.between(last, None)


def _place(
    column: Column, before: WorkItem | None, after: WorkItem | None, moving_id: int | None
) -> str:
    """A rank placing an item in ``column`` after ``after`` and before ``before`` (either may
    be None; both None means the bottom). The neighbours' ranks are read afresh. When the gap
    between them is exhausted, a few neighbours are re-spread (``ranking.place``).

    Call holding the lock on ``column``: every write of a rank in it takes that lock, so the
    neighbours cannot move under us."""
    anchors = [n.pk for n in (before, after) if n is not None]
    if not anchors:
        return _bottom_rank(column)
    found = dict(WorkItem.objects.filter(pk__in=anchors, column=column).values_list("pk", "rank"))
    for neighbour in (before, after):
        if neighbour is not None and neighbour.pk not in found:
            raise InvalidMove(
                f"{neighbour.key} is not in {column.name}, so it cannot anchor the rank.",
                column=column.name,
            )
    low = found[after.pk] if after else None
    high = found[before.pk] if before else None
    if low is not None and high is not None and low >= high:
        raise InvalidMove("The item to place after must come before the item to place before.")
    placement = ranking.place(low, high, _column_window(column, low, high, moving_id))
    if placement.moved:
        WorkItem.objects.filter(pk__in=list(placement.moved), column=column).update(
            rank=Case(*(When(pk=pk, then=Value(rank)) for pk, rank in placement.moved.items())),
            updated_at=timezone.now(),  # the board's order changed: its version too
        )
    return placement.rank


def _column_window(column: Column, low: str | None, high: str | None, moving_id: int | None):
    """``ranking.place``'s view of ``column`` around the gap (low, high)."""
    cards = WorkItem.objects.filter(column=column).exclude(pk=moving_id)

    def window(size: int) -> ranking.Window:
        below = []
        if low is not None:
            below = list(
                cards.filter(rank__lte=low)
                .order_by("-rank", "-pk")
                .values_list("pk", "rank")[: size + 1]
            )
        above = []
        if high is not None:
            above = list(
                cards.filter(rank__gte=high)
                .order_by("rank", "pk")
                .values_list("pk", "rank")[: size + 1]
            )
        return ranking.Window(
            below=below[:size][::-1],
            above=above[:size],
            floor=below[size][1] if len(below) > size else None,
            ceiling=above[size][1] if len(above) > size else None,
        )

    return window


# --- creating and editing --------------------------------------------------------------------


@locking.retrying
def work_item_create(
    board: Board,
    *,
    title: str,
    actor: AbstractBaseUser | None,
    source: str,
    kind: str = WorkItem.Kind.FEATURE,
    column: Column | None = None,
    key: str | None = None,
    description: str = "",
    class_of_service: str = WorkItem.ClassOfService.STANDARD,
    due_date: dt.date | None = None,
    external_source: str = "",
    external_key: str = "",
    external_url: str = "",
    created_at: dt.datetime | None = None,
    enforce: bool = True,
) -> WorkItem:
    """Create a work item: its creation counts as a move into its first column.

    Writes the item, its creation ``Transition`` and its acceptance criteria (copied from the
    board's templates that apply to its kind) in one transaction. With ``enforce`` (everything but
    history that already happened), a hard WIP limit and the gates up to the column are checked.
    Locks (in the order of this module): the board, to number the key; then the column.
    """
    fields = _item_fields(
        {
            "title": title,
            "description": description,
            "kind": kind,
            "class_of_service": class_of_service,
            "due_date": due_date,
            "external_source": external_source,
            "external_key": external_key,
            "external_url": external_url,
        }
    )
    if key is not None:
        key = validation.text(key, WorkItem, "key", "The key", required=True)
    check_aware(created_at, "The creation")
    with transaction.atomic():
        board = locking.board(board.pk)
        columns = list(board.columns.order_by("position"))
        if not columns:
            raise InvalidInput(f"Board {board.slug} has no columns.")
        if column is None:
            column = columns[0]
        elif column.board_id != board.pk:
            raise InvalidMove(f"{column.name} is not a column of {board.name}.")
        column = locking.column(column.pk)
        at = change_time(created_at, now=timezone.now(), what="The creation", field="created_at")
        soft_exceeded = _check_wip(column) if enforce else False
        if key is None:
            key = _next_key(board)
        elif WorkItem.objects.filter(board=board, key=key).exists():
            raise InvalidInput(f"{key} already exists on {board.name}.", key=key)
        item = WorkItem(
            board=board,
            key=key,
            column=column,
            rank=_bottom_rank(column),
            created_at=at,
            created_by=actor,
            **fields,
        )
        item.started_at, item.delivered_at = _flow_times(board, columns, [(column.pk, at)])
        try:
            with transaction.atomic():
                item.save()
        except IntegrityError:
            raise InvalidInput(
                f"{external_source} item {external_key} is already on {board.name}.",
                external_key=external_key,
            ) from None
        Transition.objects.create(
            board=board,
            item=item,
            from_column=None,
            to_column=column,
            at=at,
            actor=actor,
            source=source,
        )
        criteria_instantiate(item, at=at)
        if enforce:
            unmet = gates.unmet_criteria(item, columns, -1, column.position)
            if unmet:
                raise GateBlocked(
                    f"{item.key} cannot be created in {column.name}: "
                    f"{len(unmet)} required criteria are pending.",
                    unmet=[gates.describe(c) for c in unmet],
                )
        mark_item_dirty(item)
        if item.delivered_at is not None or soft_exceeded:
            # Created straight into delivery (an issue already done elsewhere) or over a soft
            # limit: the same events a move there gives (a creation is no item.moved).
            _record_move(item, None, column, at, actor, source, False, soft_exceeded, moved=False)
    return item


def _next_key(board: Board) -> str:
    """The next free key on the board. Call while holding the board's row lock."""
    number = board.next_number
    while True:
        key = f"{board.key_prefix}-{number}"
        number += 1
        if not WorkItem.objects.filter(board=board, key=key).exists():
            break
    board.next_number = number
    board.save(update_fields=["next_number"])
    return key


@locking.retrying
def work_item_update(
    item: WorkItem,
    *,
    actor: AbstractBaseUser | None,
    expected_version: int | None = None,
    **changes,
) -> WorkItem:
    """Change an item's fields (``EDITABLE``; never its column, which only moves).

    Refuses a stale ``expected_version``. A new kind gets the board's criteria for that kind,
    and the pending criteria that came from templates of the old kind only are retired (waived,
    with the reason saying so): criteria are never deleted. Bumps the version. Locks the item,
    then its criteria.
    """
    changes = _item_fields(changes)
    with transaction.atomic():
        locked = locking.item(item.pk)
        _check_version(locked, expected_version)
        if locked.discarded_at is not None:
            raise ItemDiscarded(f"{locked.key} was discarded and cannot change.", key=locked.key)
        changed = [name for name, value in changes.items() if getattr(locked, name) != value]
        if not changed:
            _copy_state(locked, item)
            return item
        old_kind = locked.kind
        for name in changed:
            setattr(locked, name, changes[name])
        if "kind" in changed:
            criteria_for_kind(locked, old_kind, actor=actor, now=timezone.now())
        locked.version += 1
        try:
            with transaction.atomic():
                locked.save(update_fields=[*changed, "version", "updated_at"])
        except IntegrityError:
            raise InvalidInput(
                f"{locked.external_source} item {locked.external_key} is already on the board.",
                external_key=locked.external_key,
            ) from None
        mark_item_dirty(locked)
    _copy_state(locked, item)
    return item


# --- moving ----------------------------------------------------------------------------------


def move_fingerprint(
    to_column_id: int,
    at: dt.datetime | None,
    before_id: int | None = None,
    after_id: int | None = None,
) -> str:
    """What a move asked for, as stored with its idempotency key: the target column, the time
    given (None: "now"), and the neighbours for its rank."""
    request = [to_column_id, at.astimezone(dt.UTC).isoformat() if at else None, before_id, after_id]
    return hashlib.sha256(json.dumps(request).encode()).hexdigest()


@locking.retrying
def work_item_move(
    item: WorkItem,
    to_column: Column,
    *,
    actor: AbstractBaseUser | None,
    source: str,
    at: dt.datetime | None = None,
    idempotency_key: str | None = None,
    expected_version: int | None = None,
    before: WorkItem | None = None,
    after: WorkItem | None = None,
    enforce: bool = True,
    within: Callable[[MoveResult], None] | None = None,
) -> MoveResult:
    """Move ``item`` into ``to_column``, the one way an item changes column.

    Locks the target column, then the item, and with ``enforce`` refuses a move:
    - over a hard WIP limit (``WipLimitExceeded``, naming the column, its limit and its count);
    - forward into or past a gate column while a required criterion guarding it is pending
      (``GateBlocked``, listing the criteria and their tracks). The refusal itself is recorded as a
      ``GateRefusal`` and committed, for the gate-wait metric. The item's lock keeps its
      criteria still meanwhile: a criterion changes only under that lock.
    It then writes the ``Transition`` and updates the item's column, rank, version and its
    started/delivered times from the counted path (a backward move before delivery reopens it).

    A move into the item's own column is a no-op that writes nothing. An ``idempotency_key``
    is stored with a fingerprint of the request (``move_fingerprint``): the same key with the
    same request returns the first move (``replayed=True``) and writes nothing; with another
    request, or for another item, it is refused (``IdempotencyConflict``). ``enforce=False`` is
    for history that already happened. A caller that wraps this in its own transaction decides
    whether a recorded gate refusal survives the error. ``within`` is called with the result
    inside the move's transaction once the move is written (not for a no-op or a replay), so
    what it writes commits or rolls back with the move (the API's idempotency receipt).
    """
    if to_column.board_id != item.board_id:
        raise InvalidMove(f"{to_column.name} is a column of another board.", column_id=to_column.pk)
    if idempotency_key is not None:
        idempotency_key = validation.text(
            idempotency_key, Transition, "idempotency_key", "The idempotency key", required=True
        )
    check_aware(at, f"A move of {item.key}")
    fingerprint = move_fingerprint(
        to_column.pk, at, before.pk if before else None, after.pk if after else None
    )
    if idempotency_key is not None:
        replay = _replay(item, idempotency_key, fingerprint, to_column)
        if replay is not None:
            return replay
    try:
        result, refusal = _move_locked(
            item,
            to_column,
            actor,
            source,
            at,
            idempotency_key,
            fingerprint,
            expected_version,
            before,
            after,
            enforce,
            within,
        )
    except IntegrityError:
        # The same key was being used by another move at the same moment; it won.
        replay = _replay(item, idempotency_key, fingerprint, to_column) if idempotency_key else None
        if replay is None:
            raise
        return replay
    if refusal is not None:
        raise refusal
    return result


def _replay(
    item: WorkItem, idempotency_key: str, fingerprint: str, to_column: Column
) -> MoveResult | None:
    """The move already made under ``idempotency_key``, if the request is the same; None when
    the key is new; ``IdempotencyConflict`` when it served another request."""
    earlier = (
        Transition.objects.filter(board_id=item.board_id, idempotency_key=idempotency_key)
        .select_related("item", "to_column")
        .first()
    )
    if earlier is None:
        return None
    if earlier.item_id != item.pk:
        raise IdempotencyConflict(
            f"The idempotency key {idempotency_key!r} was already used to move "
            f"{earlier.item.key}; use a new key for a new move.",
            idempotency_key=idempotency_key,
        )
    if earlier.request_fingerprint and earlier.request_fingerprint != fingerprint:
        raise IdempotencyConflict(
            f"The idempotency key {idempotency_key!r} was already used to move {item.key} to "
            f"{earlier.to_column.name} at {earlier.at.isoformat()}; this request is different "
            f"(to {to_column.name}). Use a new key for a new move.",
            idempotency_key=idempotency_key,
        )
    item.refresh_from_db()
    return MoveResult(item=item, transition=earlier, replayed=True)


def _move_locked(
    item,
    to_column,
    actor,
    source,
    at,
    idempotency_key,
    fingerprint,
    expected_version,
    before,
    after,
    enforce,
    within,
):
    with transaction.atomic():
        column = locking.column(to_column.pk)
        locked = locking.item(item.pk)
        if idempotency_key is not None:
            # Under the item's lock: an identical request that was waiting for it finds the
            # first one's move here and replays it.
            replay = _replay(locked, idempotency_key, fingerprint, column)
            if replay is not None:
                _copy_state(locked, item)
                return MoveResult(item=item, transition=replay.transition, replayed=True), None
        _check_version(locked, expected_version)
        if locked.discarded_at is not None:
            raise ItemDiscarded(f"{locked.key} was discarded and cannot move.", key=locked.key)
        history = list(
            Transition.objects.filter(item=locked)
            .order_by("at", "id")
            .values_list("to_column_id", "at")
        )
        last = history[-1][1] if history else locked.created_at
        at = change_time(
            at,
            now=timezone.now(),
            what=f"A move of {locked.key}",
            after=[(last, "its last move")],
        )
        if locked.column_id == column.pk:
            _copy_state(locked, item)
            return MoveResult(item=item, transition=None), None
        board = column.board
        columns = list(board.columns.order_by("position"))
        from_column = next(c for c in columns if c.pk == locked.column_id)
        from_position = from_column.position

        soft_exceeded = False
        if enforce:
            soft_exceeded = _check_wip(column)
            if column.position > from_position:
                unmet = gates.unmet_criteria(locked, columns, from_position, column.position)
                if unmet:
                    return None, _refuse_at_gates(locked, column, unmet, columns, actor, source, at)

        rank = _place(column, before, after, locked.pk)
        transition = Transition.objects.create(
            board=board,
            item=locked,
            from_column=from_column,
            to_column=column,
            at=at,
            actor=actor,
            source=source,
            idempotency_key=idempotency_key,
            request_fingerprint=fingerprint if idempotency_key else "",
        )
        was_delivered = locked.delivered_at is not None
        locked.started_at, locked.delivered_at = _flow_times(
            board, columns, [*history, (column.pk, at)]
        )
        locked.column = column
        locked.rank = rank
        locked.version += 1
        locked.save(
            update_fields=["column", "rank", "started_at", "delivered_at", "version", "updated_at"]
        )
        mark_item_dirty(locked)
        _record_move(locked, from_column, column, at, actor, source, was_delivered, soft_exceeded)
        _copy_state(locked, item)
        result = MoveResult(item=item, transition=transition, soft_limit_exceeded=soft_exceeded)
        if within is not None:
            within(result)
    return result, None


def _record_move(
    item, from_column, column, at, actor, source, was_delivered, soft_exceeded, moved=True
):
    """The events of a move (or, with ``moved=False``, of a creation: ``from_column`` None),
    for outbound webhooks (``boards.events``)."""
    data = {
        **events.item_data(item),
        "from_column": from_column.name if from_column else None,
        "to_column": column.name,
        "at": at.isoformat(),
        "actor": actor.get_username() if actor else None,
        "source": source,
    }
    if moved:
        events.record(item.board_id, Event.Kind.ITEM_MOVED, at, data, item)
    if item.delivered_at is not None and not was_delivered:
        events.record(item.board_id, Event.Kind.ITEM_DELIVERED, at, data, item)
    if soft_exceeded:
        count = WorkItem.objects.filter(column=column, discarded_at__isnull=True).count()
        limit = {"column": column.name, "limit": column.wip_limit, "count": count}
        events.record(item.board_id, Event.Kind.WIP_EXCEEDED, at, {**data, **limit}, item)


def _refuse_at_gates(item, column, unmet, columns, actor, source, at) -> GateBlocked:
    """Record one GateRefusal per gate the move was stopped at, and build the error."""
    by_gate: dict[int, list] = {}
    for criterion in unmet:
        by_gate.setdefault(criterion.gate_column_id, []).append(gates.describe(criterion))
    GateRefusal.objects.bulk_create(
        GateRefusal(
            item=item,
            gate_column_id=gate_id,
            to_column=column,
            at=at,
            actor=actor,
            source=source,
            unmet=described,
        )
        for gate_id, described in by_gate.items()
    )
    mark_item_dirty(item)
    names = {c.pk: c.name for c in columns}
    tracks = sorted({c.get_track_display() for c in unmet})
    data = {
        **events.item_data(item),
        "to_column": column.name,
        "gates": [names[g] for g in by_gate],
        "unmet": [gates.describe(c) for c in unmet],
        "at": at.isoformat(),
        "actor": actor.get_username() if actor else None,
    }
    events.record(item.board_id, Event.Kind.GATE_REFUSED, at, data, item)
    return GateBlocked(
        f"{item.key} cannot enter {column.name}: {len(unmet)} required "
        f"criteri{'on is' if len(unmet) == 1 else 'a are'} pending at "
        f"{', '.join(names[g] for g in by_gate)} ({', '.join(tracks)}).",
        column=column.name,
        gates=[names[g] for g in by_gate],
        gate_ids=list(by_gate),
        unmet=[gates.describe(c) for c in unmet],
    )


@locking.retrying
def work_item_reorder(
    item: WorkItem,
    *,
    before: WorkItem | None = None,
    after: WorkItem | None = None,
    expected_version: int | None = None,
) -> WorkItem:
    """Change an item's place inside its column. Writes its rank (and, rarely, a few
    neighbours' ranks); no Transition (no move). Locks the item's column, then the item."""
    with transaction.atomic():
        current = WorkItem.objects.values_list("column_id", flat=True).get(pk=item.pk)
        column = locking.column(current)
        locked = locking.item(item.pk)
        if locked.column_id != column.pk:
            raise StaleVersion(
                f"{locked.key} was moved by someone else meanwhile. Reload and try again.",
                current_version=locked.version,
            )
        _check_version(locked, expected_version)
        locked.rank = _place(column, before, after, locked.pk)
        locked.version += 1
        locked.save(update_fields=["rank", "version", "updated_at"])
    _copy_state(locked, item)
    return item


# --- closing ---------------------------------------------------------------------------------


@locking.retrying
def work_item_discard(
    item: WorkItem,
    *,
    actor: AbstractBaseUser | None,
    reason: str,
    at: dt.datetime | None = None,
    expected_version: int | None = None,
) -> WorkItem:
    """Close an item without delivering it. It leaves WIP on that date and is excluded from cycle
    time, throughput and forecasts (docs/metrics.md "Discard"). An open block is ended. Locks
    the item, then its open block."""
    reason = validation.text(reason, WorkItem, "discard_reason", "The reason", required=True)
    check_aware(at, f"The discard of {item.key}")
    with transaction.atomic():
        locked = locking.item(item.pk)
        _check_version(locked, expected_version)
        if locked.discarded_at is not None:
            raise ItemDiscarded(f"{locked.key} is already discarded.", key=locked.key)
        if locked.delivered_at is not None:
            raise InvalidTransition(f"{locked.key} was delivered; it cannot be discarded.")
        at = change_time(
            at,
            now=timezone.now(),
            what=f"The discard of {locked.key}",
            after=[(_last_move_at(locked) or locked.created_at, "its last move")],
        )
        open_block = locked.blocks.select_for_update(no_key=True).filter(ended_at__isnull=True)
        open_block = open_block.first()
        if open_block is not None:
            _end_block(open_block, actor, max(at, open_block.started_at))
        locked.discarded_at = at
        locked.discard_reason = reason
        locked.version += 1
        locked.save(update_fields=["discarded_at", "discard_reason", "version", "updated_at"])
        mark_item_dirty(locked)
    _copy_state(locked, item)
    return item


# --- blocks ----------------------------------------------------------------------------------


@locking.retrying
def block_start(
    item: WorkItem,
    *,
    actor: AbstractBaseUser | None,
    reason: str,
    note: str = "",
    criterion=None,
    at: dt.datetime | None = None,
) -> Block:
    """Flag an item as blocked. An item has at most one open block; the reason is kept forever.
    ``criterion``: the readiness criterion the block holds up (gives it a track). Locks the
    item only: the criterion is read, and changes only under the item's lock."""
    validation.choice(reason, Block.Reason, "reason", "block reason")
    note = validation.text(note, Block, "note", "The note")
    check_aware(at, f"A block of {item.key}")
    with transaction.atomic():
        locked = locking.item(item.pk)
        if locked.discarded_at is not None:
            raise ItemDiscarded(f"{locked.key} was discarded.", key=locked.key)
        if criterion is not None and criterion.item_id != locked.pk:
            raise InvalidInput("The criterion belongs to another item.", field="criterion")
        current = locked.blocks.filter(ended_at__isnull=True).first()
        if current is not None:
            raise InvalidTransition(
                f"{locked.key} is already blocked since {current.started_at:%Y-%m-%d %H:%M} "
                f"({current.get_reason_display()}).",
                block_id=current.pk,
            )
        last_end = locked.blocks.aggregate(last=Max("ended_at"))["last"]
        at = change_time(
            at,
            now=timezone.now(),
            what=f"A block of {locked.key}",
            after=[(locked.created_at, "its creation"), (last_end, "the end of its last block")],
        )
        block = Block.objects.create(
            item=locked,
            reason=reason,
            note=note,
            criterion=criterion,
            started_at=at,
            started_by=actor,
        )
        locked.version += 1
        locked.save(update_fields=["version", "updated_at"])
        mark_item_dirty(locked)
    _copy_state(locked, item)
    return block


@locking.retrying
def block_end(
    item: WorkItem, *, actor: AbstractBaseUser | None, at: dt.datetime | None = None
) -> Block:
    """End the item's open block. The block keeps its reason, start and end. Locks the item,
    then the block."""
    check_aware(at, f"The end of a block of {item.key}")
    with transaction.atomic():
        locked = locking.item(item.pk)
        block = locked.blocks.select_for_update(no_key=True).filter(ended_at__isnull=True).first()
        if block is None:
            raise InvalidTransition(f"{locked.key} is not blocked.")
        at = change_time(
            at,
            now=timezone.now(),
            what=f"The end of the block of {locked.key}",
            after=[(block.started_at, "its start")],
        )
        _end_block(block, actor, at)
        locked.version += 1
        locked.save(update_fields=["version", "updated_at"])
        mark_item_dirty(locked)
    _copy_state(locked, item)
    return block


def _end_block(block: Block, actor, at: dt.datetime) -> None:
    block.ended_at = at
    block.ended_by = actor
    block.save(update_fields=["ended_at", "ended_by"])
