"""Applying parsed histories to a board: the bulk path for history that already happened.

Importing history is a service of its own, not the interactive move called 65,000 times. It
applies the rules of the move path to every move, in memory, and writes in batches:

- time order: a move dated before the item's previous move is skipped and reported, and so is a
  time in the future; a move into the column the item is in is a no-op;
- known columns: a status is resolved to a column through ``ColumnMap``; an unmapped one is
  reported and skipped;
- the counted path (``boards.flow``) gives ``started_at`` and ``delivered_at`` from the item's
  whole log, as ``work_item_move`` does;
- a stable idempotency key per move, decided by the parser from the file's content: a key already
  on the board is a move already imported ("unchanged"), so re-importing writes nothing;
- no WIP limit and no gate: the history already happened. The source is ``import``.

Each batch of items is one transaction holding the board, its columns and the batch's items
(``SELECT ... FOR NO KEY UPDATE``, the lock order of ``boards.services``), so a crash leaves
whole items or nothing, and running the import again finishes the job. Items, transitions,
criteria and the metrics queue are inserted with one statement per table and batch (COPY on
PostgreSQL for the transitions). A batch the database refuses is retried item by item, so one
bad item is rolled back alone and reported.

An item already on the board, from an earlier file or an earlier run, takes the later moves of
its key (multi-file imports). Metrics are held back until the end: each batch queues its items
for a refresh in the same transaction, and the import ends with one full recompute of the board
(and a run that finds the queue non-empty after a crash recomputes too).
"""

import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from django.db import DatabaseError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from boards import ranking
from boards.flow import started_delivered
from boards.importing.records import (
    BAD_TIME,
    DATABASE,
    MISSING_FIELD,
    NO_CREATION,
    OUT_OF_ORDER,
    REFUSED,
    UNMAPPED,
    ImportReport,
    ItemHistory,
    Move,
    Problem,
    clip,
)
from boards.models import Board, Column, Transition, WorkItem
from boards.timing import FUTURE_TOLERANCE
from flowboard.bulk import insert_rows, reserve_ids, time_writer

# The one call back into metrics, as in boards.services: history written, its snapshots are
# queued (in the same transaction) and recomputed.
from metrics.models import PendingRefresh
from metrics.services import recompute_now
from readiness.models import AcceptanceCriterion
from readiness.services import active_templates, criteria_from_templates

BATCH_ITEMS = 5000
TRANSITION_COLUMNS = (
    "board_id",
    "item_id",
    "from_column_id",
    "to_column_id",
    "at",
    "recorded_at",
    "actor_id",
    "source",
    "idempotency_key",
    "request_fingerprint",
)
TRANSITION_TYPES = ("int8", "int8", "int8", "int8", "timestamptz", "timestamptz", "int4", "text",
                    "text", "text")  # fmt: skip
# An imported move's key is derived from the content it names (file, position, time, status),
# so the key is its own fingerprint: request_fingerprint stays empty.
# Every column of boards_workitem, for rows written without the ORM (a test checks the list).
ITEM_COLUMNS = (
    "id", "board_id", "key", "title", "description", "kind", "class_of_service", "due_date",
    "column_id", "rank", "external_source", "external_key", "external_url", "created_at",
    "created_by_id", "started_at", "delivered_at", "discarded_at", "discard_reason",
    "updated_at", "version",
)  # fmt: skip
ITEM_TYPES = (
    "int8", "int8", "text", "text", "text", "text", "text", "date", "int8", "text", "text",
    "text", "text", "timestamptz", "int4", "timestamptz", "timestamptz", "timestamptz", "text",
    "timestamptz", "int4",
)  # fmt: skip


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
        self._cache: dict[str, Column | None] = {}

    def resolve(self, status: str) -> Column | None:
        try:
            return self._cache[status]
        except KeyError:
            column = self._cache[status] = self._by_status.get(status.strip().lower())
            return column


def import_histories(
    board: Board,
    histories: Iterable[ItemHistory],
    *,
    columns: ColumnMap,
    report: ImportReport | None = None,
    on_items: Callable[[int], None] | None = None,
    on_recompute: Callable[[int, int], None] | None = None,
    batch_size: int | None = None,
    now: dt.datetime | None = None,
) -> ImportReport:
    """Apply ``histories`` to ``board`` in batches of ``batch_size`` items, then recompute the
    board's metrics once if anything is queued for it. ``on_items(n)`` is called after each
    batch with its size; ``on_recompute(done, total)`` reports the recompute's progress."""
    report = report if report is not None else ImportReport()
    now = now or timezone.now()
    started = time.perf_counter()
    merged = merge(histories)
    batch_size = batch_size or BATCH_ITEMS
    for start in range(0, len(merged), batch_size):
        batch = merged[start : start + batch_size]
        report.add(_apply(board, batch, columns, now))
        if on_items is not None:
            on_items(len(batch))
    applied = time.perf_counter()
    report.seconds["apply"] = applied - started
    if recompute_if_queued(board, on_recompute):
        report.seconds["recompute"] = time.perf_counter() - applied
    return report


def merge(histories: Iterable[ItemHistory]) -> list[ItemHistory]:
    """One history per item (external source and key), in the order items first appear: the
    moves of a later file follow those of the first (see ``_continuation``)."""
    merged: dict[tuple[str, str], ItemHistory] = {}
    for history in histories:
        identity = (history.external_source, history.key)
        first = merged.get(identity)
        if first is None:
            merged[identity] = history
        else:
            first.moves.extend(_continuation(history, first.created_at))
    return list(merged.values())


def _continuation(history: ItemHistory, created_at: dt.datetime | None) -> list[Move]:
    """The moves ``history`` adds to an item created at ``created_at`` (by an earlier file or
    run). Its creation row, if it has one, says where the item was at that time: it is nothing
    new when it is the same creation, and a move otherwise."""
    moves = list(history.moves)
    if history.entry is not None:
        moves.insert(0, history.entry)
    elif history.creates and history.created_at != created_at:
        moves.insert(
            0, Move(history.status, history.created_at, history.location, history.creation_key)
        )
    return moves


def recompute_if_queued(board: Board, on_progress: Callable[[int, int], None] | None) -> bool:
    """One full recompute of ``board`` when the import (this run or one that crashed) queued
    items for a refresh; True if it ran."""
    if not PendingRefresh.objects.filter(board=board).exists():
        return False
    recompute_now(board, on_progress=on_progress)
    return True


def _apply(board: Board, batch: list[ItemHistory], columns: ColumnMap, now) -> ImportReport:
    """The batch in one transaction; if the database refuses it, each item in its own."""
    own = ImportReport()
    try:
        with transaction.atomic():
            _apply_batch(board, batch, columns, now, own)
        return own
    except DatabaseError as error:
        if len(batch) == 1:
            return _refused(batch[0], own, error)
    report = ImportReport()
    for history in batch:
        own = ImportReport()
        try:
            with transaction.atomic():
                _apply_batch(board, [history], columns, now, own)
        except DatabaseError as error:
            own = _refused(history, own, error)
        report.add(own)
    return report


def _refused(history: ItemHistory, own: ImportReport, error: DatabaseError) -> ImportReport:
    """What is left of an item's report once the database refused it: its problems, and one
    more saying it was rolled back."""
    message = " ".join(str(error).split())[:200] or type(error).__name__
    detail = f"{type(error).__name__}: {message}; item and its moves skipped"
    report = ImportReport(problems=list(own.problems))
    report.problems.append(_problem(DATABASE, history, history.location, detail))
    return report


@dataclass
class _OnBoard:
    """An item already on the board, as the batch finds it (under its row lock)."""

    item: WorkItem
    moves: list[tuple[int, dt.datetime]] = field(default_factory=list)  # (position, at)
    keys: set[str] = field(default_factory=set)


@dataclass
class _Plan:
    history: ItemHistory
    on_board: _OnBoard | None
    creation_column: Column | None = None
    # (from column, to column, at, idempotency key) to write, in order.
    transitions: list[tuple[Column, Column, dt.datetime, str]] = field(default_factory=list)
    column: Column | None = None
    started_at: dt.datetime | None = None
    delivered_at: dt.datetime | None = None
    item_id: int | None = None


def _apply_batch(board, batch, columns: ColumnMap, now, report: ImportReport) -> None:
    """Lock, read what the board holds of the batch's items, plan every item, and write."""
    # The lock order of boards.services: the board, its columns, then items by id.
    board = Board.objects.select_for_update(no_key=True).get(pk=board.pk)
    board_columns = list(
        Column.objects.select_for_update(no_key=True).filter(board=board).order_by("position")
    )
    positions = {c.pk: c.position for c in board_columns}
    commitment = positions[board.commitment_column_id]
    delivery = positions[board.delivery_column_id]
    on_board = _on_board(board, batch, positions)
    taken = _keys_taken(board, [h for h in batch if (h.external_source, h.key) not in on_board])

    plans = []
    for history in batch:
        found = on_board.get((history.external_source, history.key))
        plan = _plan(history, found, taken, columns, positions, now, report)
        if plan is None:
            continue
        path = [] if found is None else list(found.moves)
        if plan.creation_column is not None:
            path.append((plan.creation_column.position, history.created_at))
        path.extend((to.position, at) for _, to, at, _ in plan.transitions)
        plan.started_at, plan.delivered_at = started_delivered(path, commitment, delivery)
        plans.append(plan)
    _write(board, plans, report, now)


def _on_board(board, batch, positions) -> dict[tuple[str, str], _OnBoard]:
    """The batch's items already on the board, locked, with their moves and keys."""
    by_source: dict[str, list[str]] = {}
    for history in batch:
        by_source.setdefault(history.external_source, []).append(history.key)
    found: dict[tuple[str, str], _OnBoard] = {}
    for source, keys in by_source.items():
        items = (
            WorkItem.objects.select_for_update(no_key=True)
            .filter(board=board, external_source=source, external_key__in=keys)
            .order_by("pk")
        )
        for item in items:
            found[(source, item.external_key)] = _OnBoard(item)
    by_id = {state.item.pk: state for state in found.values()}
    if by_id:
        # Raw rows: a re-import reads every move of every item again, a million at scale.
        rows = Transition.objects.filter(item_id__in=list(by_id)).order_by("item_id", "at", "id")
        sql, params = rows.values_list(
            "item_id", "to_column_id", "at", "idempotency_key"
        ).query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            fetched = cursor.fetchall()
        if connection.vendor == "postgresql":
            converted = fetched
        else:  # SQLite returns text: convert it as the ORM would
            convert = connection.ops.convert_datetimefield_value
            converted = [(i, c, convert(at, None, connection), k) for i, c, at, k in fetched]
        for item_id, column_id, at, key in converted:
            state = by_id[item_id]
            state.moves.append((positions[column_id], at))
            if key is not None:
                state.keys.add(key)
    return found


def _keys_taken(board, new: list[ItemHistory]) -> set[str]:
    """Item keys of the board that the batch's new items would reuse (items made on the board,
    or imported from another source)."""
    keys = [h.key for h in new if h.creates]
    if not keys:
        return set()
    return set(WorkItem.objects.filter(board=board, key__in=keys).values_list("key", flat=True))


def _problem(reason: str, history: ItemHistory, location: str, detail: str) -> Problem:
    in_file = location.startswith(history.file)
    return Problem(reason, location, detail, "" if in_file else history.file)


def _plan(history, found, taken, columns: ColumnMap, positions, now, report) -> _Plan | None:
    """What to write for one item, by the rules of the move path; problems go to ``report``.

    Two clocks are kept. The file's own story (the column it says the item is in, and when it
    got there) decides whether a row is out of order or a no-op, so that importing a file again
    reads it as it read the first time. The board (the item's real column and its last move)
    decides what is written: a new move is never dated before the item's last move on the
    board, and it starts from the item's real column."""
    latest = now + FUTURE_TOLERANCE
    plan = _Plan(history, found)
    moves = history.moves
    if found is None:
        if not history.creates:
            detail = f"{history.key} is not on the board, and its first row here lacks title "
            report.problems.append(
                _problem(MISSING_FIELD, history, history.location, detail + "and created_at")
            )
            for move in moves[1:]:
                detail = f"{history.key} was not created ({history.location})"
                report.problems.append(_problem(NO_CREATION, history, move.location, detail))
            return None
        column = columns.resolve(history.status)
        if column is None:
            detail = f"created in {clip(history.status)}, which maps to no column; item skipped"
            report.problems.append(_problem(UNMAPPED, history, history.location, detail))
            return None
        if history.created_at > latest:
            detail = f"created at {history.created_at.isoformat()}, in the future; item skipped"
            report.problems.append(_problem(BAD_TIME, history, history.location, detail))
            return None
        if history.key in taken:
            detail = f"{history.key} is already an item of the board; item skipped"
            report.problems.append(_problem(REFUSED, history, history.location, detail))
            return None
        if history.entry is not None:
            moves = [history.entry, *moves]
            column = columns.columns[0]
        plan.creation_column = column
        told = board_column = column
        told_at = floor = history.created_at
        seen: set[str] = set()
        report.items_created += 1
    else:
        item = found.item
        board_column = next(c for c in columns.columns if c.id == item.column_id)
        floor = found.moves[-1][1] if found.moves else item.created_at
        told, told_at = board_column, floor
        if history.creates and history.created_at == item.created_at:
            # The file tells the item's story from its creation again.
            told = columns.columns[0] if history.entry else columns.resolve(history.status)
            told_at = history.created_at
        moves = _continuation(history, item.created_at) if history.creates else list(moves)
        seen = found.keys
        report.items_present += 1
        if item.discarded_at is not None:
            for move in moves:
                if move.idempotency_key in seen:
                    report.unchanged += 1
                    continue
                detail = f"{item.key} was discarded and cannot move"
                report.problems.append(_problem(REFUSED, history, move.location, detail))
            plan.column = board_column
            return plan
    for move in moves:
        target = columns.resolve(move.status)
        if move.idempotency_key in seen:
            report.unchanged += 1
            told, told_at = target or told, move.at
            continue
        if target is None:
            detail = f"{clip(move.status)} maps to no column; move skipped"
            report.problems.append(_problem(UNMAPPED, history, move.location, detail))
            continue
        if move.at > latest:
            detail = f"{move.at.isoformat()} is in the future; move skipped"
            report.problems.append(_problem(BAD_TIME, history, move.location, detail))
            continue
        if move.at < told_at:
            detail = f"{move.at.isoformat()} is before {told_at.isoformat()}"
            report.problems.append(_problem(OUT_OF_ORDER, history, move.location, detail))
            continue
        if told is not None and target.id == told.id:
            report.no_op += 1
            continue
        if move.at < floor:
            detail = (
                f"{move.at.isoformat()} is before the item's last move on the board, at "
                f"{floor.isoformat()}"
            )
            report.problems.append(_problem(OUT_OF_ORDER, history, move.location, detail))
            continue
        told, told_at = target, move.at
        if target.id == board_column.id:
            report.no_op += 1
            continue
        at = min(move.at, now)  # a clock a little ahead is taken as now, as in the move path
        plan.transitions.append((board_column, target, at, move.idempotency_key))
        seen.add(move.idempotency_key)
        board_column, floor = target, at
    report.transitions_written += len(plan.transitions)
    plan.column = board_column
    return plan


class _BottomRanks:
    """The next rank at the bottom of each column, read once per column and batch (under the
    columns' locks), then advanced in memory."""

    def __init__(self) -> None:
        self.last: dict[int, str | None] = {}

    def next(self, column: Column) -> str:
        if column.pk not in self.last:
            found = WorkItem.objects.filter(column=column).aggregate(last=Max("rank"))["last"]
            self.last[column.pk] = found
        rank = self.last[column.pk] = ranking.between(self.last[column.pk], None)
        return rank


def _write(board: Board, plans: list[_Plan], report: ImportReport, now: dt.datetime) -> None:
    """Insert the new items, every transition, the new items' criteria and the metrics queue;
    update the items already on the board that moved. One statement per table."""
    bottom = _BottomRanks()
    board_id = board.id
    t = time_writer()
    written_at = t(now)
    new = [plan for plan in plans if plan.on_board is None]
    ids = reserve_ids(WorkItem._meta.db_table, len(new))
    item_rows, transition_rows, touched, changed = [], [], [], []
    for plan, item_id in zip(new, ids, strict=True):
        history = plan.history
        item_rows.append(
            (item_id, board_id, history.key, history.title, "", history.kind,
             WorkItem.ClassOfService.STANDARD, t(history.due_date), plan.column.id,
             bottom.next(plan.column), history.external_source, history.key,
             history.external_url, t(history.created_at), None, t(plan.started_at),
             t(plan.delivered_at), None, "", written_at, 1)
        )  # fmt: skip
        transition_rows.append(
            (board_id, item_id, None, plan.creation_column.id, t(history.created_at),
             written_at, None, Transition.Source.IMPORT, None, "")
        )  # fmt: skip
        plan.item_id = item_id
    for plan in plans:
        if plan.on_board is not None:
            if not plan.transitions:
                continue
            item = plan.on_board.item
            if item.column_id != plan.column.id:
                item.column = plan.column
                item.rank = bottom.next(plan.column)
            item.started_at, item.delivered_at = plan.started_at, plan.delivered_at
            item.version += 1
            item.updated_at = now
            changed.append(item)
            plan.item_id = item.pk
        touched.append(plan.item_id)
        for from_column, to_column, at, key in plan.transitions:
            transition_rows.append(
                (board_id, plan.item_id, from_column.id, to_column.id, t(at), written_at, None,
                 Transition.Source.IMPORT, key, "")
            )  # fmt: skip
    insert_rows(
        WorkItem._meta.db_table, ITEM_COLUMNS, item_rows, ITEM_TYPES, binary=True, prepared=True
    )
    if changed:
        WorkItem.objects.bulk_update(
            changed, ["column", "rank", "started_at", "delivered_at", "version", "updated_at"]
        )
    insert_rows(
        Transition._meta.db_table,
        TRANSITION_COLUMNS,
        transition_rows,
        TRANSITION_TYPES,
        binary=True,
        prepared=True,
    )
    templates = active_templates(board.pk) if new else []
    if templates:
        AcceptanceCriterion.objects.bulk_create(
            criterion
            for plan in new
            for criterion in criteria_from_templates(
                templates, item_id=plan.item_id, kind=plan.history.kind, at=plan.history.created_at
            )
        )
    if touched:
        # The board is queued for its metrics, committed with the history the batch wrote: the
        # import ends with a full recompute of the board, so one row says it all (and a run
        # after a crash finds it, see recompute_if_queued).
        PendingRefresh.objects.create(board_id=board_id, item_id=touched[0])
