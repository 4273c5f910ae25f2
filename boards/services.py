"""Every write to a board goes through these functions: the web board, the API, the admin,
webhooks and importers all call them, so each rule lives in one place.

Refusals are typed errors from ``flowboard.errors``. Follow-up work (metrics refresh, later
outbound webhooks) is enqueued with ``transaction.on_commit``, never inside the transaction.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Case, Max, Value, When
from django.utils import timezone

from boards import ranking
from boards.flow import counted_path, entry_times
from boards.models import Block, Board, Column, Transition, WorkItem
from boards.timing import FUTURE_TOLERANCE
from flowboard.errors import (
    GateBlocked,
    InvalidInput,
    InvalidMove,
    InvalidTransition,
    ItemDiscarded,
    StaleVersion,
    WipLimitExceeded,
)
from metrics.services import mark_item_dirty
from readiness import gates
from readiness.services import criteria_instantiate

Source = Transition.Source


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    stage: str = Column.Stage.DEVELOPMENT
    activity: str = Column.Activity.ACTIVE
    wip_limit: int | None = None
    wip_policy: str = Column.WipPolicy.SOFT


@dataclass(frozen=True)
class MoveResult:
    item: WorkItem
    # None when the move was a no-op (same column) or a replay of an idempotency key.
    transition: Transition | None
    soft_limit_exceeded: bool = False
    replayed: bool = False


def board_create(
    *,
    name: str,
    slug: str,
    key_prefix: str,
    columns: Sequence[ColumnSpec],
    commitment: str,
    delivery: str,
    time_zone: str | None = None,
) -> Board:
    """Create a board with its columns, in order, and its commitment and delivery points."""
    names = [spec.name for spec in columns]
    if len({n.lower() for n in names}) != len(names):
        raise InvalidInput("Column names must be unique on a board.", columns=names)
    for label, point in (("commitment", commitment), ("delivery", delivery)):
        if point not in names:
            raise InvalidInput(f"The {label} column {point!r} is not one of the columns {names}.")
    if names.index(commitment) >= names.index(delivery):
        raise InvalidInput("The delivery column must come after the commitment column.")
    with transaction.atomic():
        board = Board(name=name, slug=slug, key_prefix=key_prefix)
        if time_zone:
            board.time_zone = time_zone
        board.full_clean(exclude=["commitment_column", "delivery_column"])
        board.save()
        created = Column.objects.bulk_create(
            Column(
                board=board,
                name=spec.name,
                position=position,
                stage=spec.stage,
                activity=spec.activity,
                wip_limit=spec.wip_limit,
                wip_policy=spec.wip_policy,
            )
            for position, spec in enumerate(columns)
        )
        by_name = {column.name: column for column in created}
        if not all(column.pk for column in created):  # backends without RETURNING
            by_name = {c.name: c for c in board.columns.all()}
        board.commitment_column = by_name[commitment]
        board.delivery_column = by_name[delivery]
        board.save(update_fields=["commitment_column", "delivery_column"])
    return board


def _check_time(at: dt.datetime | None) -> dt.datetime:
    """The time of a change: now by default. A client clock a little ahead is taken as now (a
    change is never dated in the future, where the daily series don't reach yet)."""
    now = timezone.now()
    if at is None:
        return now
    if timezone.is_naive(at):
        raise InvalidInput("Times must carry a time zone.", at=at.isoformat())
    if at > now + FUTURE_TOLERANCE:
        raise InvalidInput("A change cannot be dated in the future.", at=at.isoformat())
    return min(at, now)


def _check_after_history(item: WorkItem, at: dt.datetime, what: str) -> None:
    """Refuse a change dated before the item's last move: history is appended, not rewritten."""
    last = Transition.objects.filter(item=item).order_by("-at", "-id").values_list("at", flat=True)
    last = last.first()
    if last is not None and at < last:
        raise InvalidInput(
            f"{what} of {item.key} at {at.isoformat()} would come before its last move "
            f"at {last.isoformat()}.",
        )


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
            rank=Case(*(When(pk=pk, then=Value(rank)) for pk, rank in placement.moved.items()))
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


def _flow_times(
    board: Board, positions: dict[int, int], moves: Sequence[tuple[int, dt.datetime]]
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """started_at and delivered_at from the item's moves (column id, time), per the spec."""
    path = counted_path((positions[column_id], at) for column_id, at in moves)
    commitment = positions[board.commitment_column_id]
    delivery = positions[board.delivery_column_id]
    entries = entry_times(path, (commitment, delivery))
    return entries[commitment], entries[delivery]


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
    imports of past history), a hard WIP limit and the gates up to the column are checked.
    Locks the board row (to number the key) and the column.
    """
    if not title or not title.strip():
        raise InvalidInput("A work item needs a title.")
    if kind not in WorkItem.Kind.values:
        raise InvalidInput(f"Unknown kind {kind!r}.", allowed=WorkItem.Kind.values)
    if class_of_service not in WorkItem.ClassOfService.values:
        raise InvalidInput(
            f"Unknown class of service {class_of_service!r}.",
            allowed=WorkItem.ClassOfService.values,
        )
    at = _check_time(created_at)
    with transaction.atomic():
        board = Board.objects.select_for_update().get(pk=board.pk)
        columns = list(board.columns.order_by("position"))
        if not columns:
            raise InvalidInput(f"Board {board.slug} has no columns.")
        if column is None:
            column = columns[0]
        elif column.board_id != board.pk:
            raise InvalidMove(f"{column.name} is not a column of {board.name}.")
        column = Column.objects.select_for_update().get(pk=column.pk)
        if enforce:
            _check_wip(column)
        if key is None:
            key = _next_key(board)
        elif WorkItem.objects.filter(board=board, key=key).exists():
            raise InvalidInput(f"{key} already exists on {board.name}.", key=key)
        item = WorkItem(
            board=board,
            key=key,
            title=title.strip(),
            description=description,
            kind=kind,
            class_of_service=class_of_service,
            due_date=due_date,
            column=column,
            rank=_bottom_rank(column),
            external_source=external_source,
            external_key=external_key,
            external_url=external_url,
            created_at=at,
            created_by=actor,
        )
        positions = {c.pk: c.position for c in columns}
        item.started_at, item.delivered_at = _flow_times(board, positions, [(column.pk, at)])
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
) -> MoveResult:
    """Move ``item`` into ``to_column``, the one way an item changes column.

    In one transaction it locks the target column, then the item (``SELECT ... FOR UPDATE``), and
    with ``enforce`` refuses a move:
    - over a hard WIP limit (``WipLimitExceeded``, naming the column, its limit and its count);
    - forward into or past a gate column while a required criterion guarding it is pending
      (``GateBlocked``, listing the criteria and their tracks). The refusal itself is recorded as a
      ``GateRefusal`` and committed, for the gate-wait metric.
    It then writes the ``Transition`` and updates the item's column, rank, version and its
    started/delivered times from the counted path (a backward move before delivery reopens it).

    A move into the item's own column is a no-op that writes nothing. A repeated
    ``idempotency_key`` returns the original move (``replayed=True``). ``enforce=False`` is for
    importing history that already happened. A caller that wraps this in its own transaction
    decides whether a recorded gate refusal survives the error.
    """
    if to_column.board_id != item.board_id:
        raise InvalidMove(f"{to_column.name} is a column of another board.", column_id=to_column.pk)
    if idempotency_key is not None:
        replay = _replay(item, idempotency_key)
        if replay is not None:
            return replay
    at = _check_time(at)
    try:
        result, refusal = _move_locked(
            item,
            to_column,
            actor,
            source,
            at,
            idempotency_key,
            expected_version,
            before,
            after,
            enforce,
        )
    except IntegrityError:
        # Two requests with the same idempotency key raced; the other one won.
        replay = _replay(item, idempotency_key) if idempotency_key else None
        if replay is None:
            raise
        return replay
    if refusal is not None:
        raise refusal
    return result


def _replay(item: WorkItem, idempotency_key: str) -> MoveResult | None:
    if not idempotency_key.strip():
        raise InvalidInput("An idempotency key cannot be blank.")
    earlier = Transition.objects.filter(
        board_id=item.board_id, idempotency_key=idempotency_key
    ).first()
    if earlier is None:
        return None
    if earlier.item_id != item.pk:
        raise InvalidInput(
            f"Idempotency key {idempotency_key!r} was already used for another item.",
            idempotency_key=idempotency_key,
        )
    item.refresh_from_db()
    return MoveResult(item=item, transition=earlier, replayed=True)


def _move_locked(
    item, to_column, actor, source, at, idempotency_key, expected_version, before, after, enforce
):
    with transaction.atomic():
        column = Column.objects.select_for_update().get(pk=to_column.pk)
        locked = (
            WorkItem.objects.select_for_update(of=("self",))
            .select_related("board", "column")
            .get(pk=item.pk)
        )
        if expected_version is not None and locked.version != expected_version:
            raise StaleVersion(
                f"{locked.key} changed since you loaded it (version {expected_version}, "
                f"now {locked.version}). Reload and try again.",
                expected_version=expected_version,
                current_version=locked.version,
            )
        if locked.discarded_at is not None:
            raise ItemDiscarded(f"{locked.key} was discarded and cannot move.", key=locked.key)
        if locked.column_id == column.pk:
            _copy_state(locked, item)
            return MoveResult(item=item, transition=None), None

        history = list(
            Transition.objects.filter(item=locked)
            .order_by("at", "id")
            .values_list("to_column_id", "at")
        )
        if history and at < history[-1][1]:
            raise InvalidMove(
                f"A move of {locked.key} at {at.isoformat()} would come before its last move "
                f"at {history[-1][1].isoformat()}.",
            )
        board = locked.board
        columns = list(board.columns.order_by("position"))
        positions = {c.pk: c.position for c in columns}
        from_position = locked.column.position

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
            from_column=locked.column,
            to_column=column,
            at=at,
            actor=actor,
            source=source,
            idempotency_key=idempotency_key,
        )
        locked.started_at, locked.delivered_at = _flow_times(
            board, positions, [*history, (column.pk, at)]
        )
        locked.column = column
        locked.rank = rank
        locked.version += 1
        locked.save(
            update_fields=["column", "rank", "started_at", "delivered_at", "version", "updated_at"]
        )
        mark_item_dirty(locked)
    _copy_state(locked, item)
    return MoveResult(item=item, transition=transition, soft_limit_exceeded=soft_exceeded), None


def _refuse_at_gates(item, column, unmet, columns, actor, source, at) -> GateBlocked:
    """Record one GateRefusal per gate the move was stopped at, and build the error."""
    from readiness.models import GateRefusal

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
    return GateBlocked(
        f"{item.key} cannot enter {column.name}: {len(unmet)} required "
        f"criteri{'on is' if len(unmet) == 1 else 'a are'} pending at "
        f"{', '.join(names[g] for g in by_gate)} ({', '.join(tracks)}).",
        column=column.name,
        gates=[names[g] for g in by_gate],
        unmet=[gates.describe(c) for c in unmet],
    )


def _copy_state(source: WorkItem, target: WorkItem) -> None:
    """Give the caller's instance the state the service just wrote."""
    if source is target:
        return
    for field in ("column", "rank", "started_at", "delivered_at", "discarded_at", "version"):
        setattr(target, field, getattr(source, field))


def work_item_reorder(
    item: WorkItem, *, before: WorkItem | None = None, after: WorkItem | None = None
) -> WorkItem:
    """Change an item's place inside its column. Writes one row; no Transition (no move)."""
    with transaction.atomic():
        current = WorkItem.objects.values_list("column_id", flat=True).get(pk=item.pk)
        column = Column.objects.select_for_update().get(pk=current)
        locked = WorkItem.objects.select_for_update().get(pk=item.pk)
        if locked.column_id != column.pk:
            raise StaleVersion(f"{locked.key} moved meanwhile. Reload and try again.")
        locked.rank = _place(column, before, after, locked.pk)
        locked.version += 1
        locked.save(update_fields=["rank", "version", "updated_at"])
    _copy_state(locked, item)
    return item


def work_item_discard(
    item: WorkItem, *, actor: AbstractBaseUser | None, reason: str, at: dt.datetime | None = None
) -> WorkItem:
    """Close an item without delivering it. It leaves WIP on that date and is excluded from cycle
    time, throughput and forecasts (docs/metrics.md "Discarded"). An open block is ended."""
    if not reason or not reason.strip():
        raise InvalidInput("Discarding an item needs a reason.")
    at = _check_time(at)
    with transaction.atomic():
        locked = WorkItem.objects.select_for_update().get(pk=item.pk)
        if locked.discarded_at is not None:
            raise ItemDiscarded(f"{locked.key} is already discarded.", key=locked.key)
        if locked.delivered_at is not None:
            raise InvalidTransition(f"{locked.key} was delivered; it cannot be discarded.")
        _check_after_history(locked, at, "A discard")
        open_block = locked.blocks.filter(ended_at__isnull=True).first()
        if open_block is not None:
            _end_block(open_block, actor, max(at, open_block.started_at))
        locked.discarded_at = at
        locked.discard_reason = reason.strip()
        locked.version += 1
        locked.save(update_fields=["discarded_at", "discard_reason", "version", "updated_at"])
        mark_item_dirty(locked)
    _copy_state(locked, item)
    return item


def block_start(
    item: WorkItem,
    *,
    actor: AbstractBaseUser | None,
    reason: str,
    note: str = "",
    criterion=None,
    at: dt.datetime | None = None,
) -> Block:
    """Flag an item as blocked. An item has at most one open block; the reason is kept forever."""
    if reason not in Block.Reason.values:
        raise InvalidInput(f"Unknown block reason {reason!r}.", allowed=Block.Reason.values)
    at = _check_time(at)
    with transaction.atomic():
        locked = WorkItem.objects.select_for_update().get(pk=item.pk)
        if locked.discarded_at is not None:
            raise ItemDiscarded(f"{locked.key} was discarded.", key=locked.key)
        if criterion is not None and criterion.item_id != locked.pk:
            raise InvalidInput("The criterion belongs to another item.")
        if at < locked.created_at:
            raise InvalidInput(f"A block of {locked.key} cannot start before it was created.")
        current = locked.blocks.filter(ended_at__isnull=True).first()
        if current is not None:
            raise InvalidTransition(
                f"{locked.key} is already blocked since {current.started_at:%Y-%m-%d %H:%M} "
                f"({current.get_reason_display()}).",
                block_id=current.pk,
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


def block_end(
    item: WorkItem, *, actor: AbstractBaseUser | None, at: dt.datetime | None = None
) -> Block:
    """End the item's open block. The block keeps its reason, start and end."""
    at = _check_time(at)
    with transaction.atomic():
        locked = WorkItem.objects.select_for_update().get(pk=item.pk)
        block = locked.blocks.select_for_update().filter(ended_at__isnull=True).first()
        if block is None:
            raise InvalidTransition(f"{locked.key} is not blocked.")
        if at < block.started_at:
            raise InvalidInput("A block cannot end before it started.")
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
