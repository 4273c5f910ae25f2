"""A seeded synthetic board at benchmark scale, written straight into the database.

    python bench/generate.py --items 100000 --slug bench-100k [--seed 42] [--days 365]

or, inside Django, ``bench.generate.generate_board(slug=..., items=...)``.

The board is made by ``boards.setup.board_create`` (the demo's nine columns); everything else
is written with bulk SQL, bypassing the services, so 100,000 items and about a million
transitions take seconds rather than hours: COPY on PostgreSQL, ``executemany`` on SQLite, all in
one transaction. An existing board with the same slug is deleted first. On PostgreSQL as a
superuser the foreign-key triggers are off while the rows are copied (``session_replication_role``,
for this transaction only) and the links are checked with a few queries afterwards; otherwise the
database checks every row at commit, which roughly doubles the time.

The history covers ``days`` days ending now. Items arrive uniformly over the period and flow
forward through the columns with exponential dwell times; review and testing send some back to
development, some columns are skipped, a few released items are reopened (Released -> Testing,
then forward again), some items are discarded from Backlog or Ready and some are never started;
the items that arrived recently are still in progress at the end. Blocks, readiness criteria
(met or waived before each delivery, pending otherwise) and gate refusals are generated to match.
The cached fields of each item (column, started_at, delivered_at) are computed from its moves with
``boards.flow`` exactly as ``boards.services`` does. No PendingRefresh rows are
written: the benchmark recomputes the metrics itself.

The same seed, item count, days and ``now`` give the same rows (``random.Random(seed)``).
"""

import argparse
import bisect
import datetime as dt
import json
import os
import random
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection, transaction

UTC = dt.UTC
DAY = 86_400
HOUR = 3_600
CHUNK = 5_000  # items simulated and written per round: memory stays flat at any scale
TRIGGER = "boards_transition_append_only"  # boards/migrations/0003 (PostgreSQL)
MIN_DWELL = 120  # seconds: moves of one item are strictly increasing in time

# Column positions on the generated board, and their names.
BACKLOG, READY, DEV, REVIEW, TEST, RFR, BR, RELEASED, OPERATING = range(9)
COLUMN_NAMES = (
    "Backlog",
    "Ready",
    "In development",
    "Code review",
    "Testing",
    "Ready for release",
    "Business readiness",
    "Released",
    "Operating",
)
COMMITMENT, DELIVERY = READY, RELEASED
# What generate_board counts, in the order the script prints it.
STATS = (
    "transitions",
    "blocks",
    "open_blocks",
    "criteria",
    "waived",
    "criterion_changes",
    "refusals",
    "delivered",
    "in_progress",
    "never_started",
    "discarded",
    "reopened",
    "backward_moves",
)

FEATURE, DEFECT, DEBT, RISK, ESCALATION = "feature", "defect", "debt", "risk", "escalation"
KINDS = [FEATURE, DEFECT, DEBT, RISK, ESCALATION]
KIND_WEIGHTS = [55, 20, 10, 5, 10]

# Mean dwell, in days, in each column before the next move.
DWELL_DAYS = {
    BACKLOG: 10.0,
    READY: 3.0,
    DEV: 3.5,
    REVIEW: 1.0,
    TEST: 2.0,
    RFR: 1.5,
    BR: 4.0,
    RELEASED: 8.0,
}
# (track, title, kinds it applies to: empty means every kind), all gating Released.
TEMPLATES = [
    ("support", "Support trained and runbook published", []),
    ("docs", "User documentation published", [FEATURE]),
    ("gtm", "Release notes and launch announcement approved", [FEATURE]),
    ("legal", "Legal and privacy review signed off", [FEATURE]),
]
# Titles use the demo board's vocabulary.
DISCARD_REASONS = [
    "No longer needed",
    "Duplicate of another item",
    "Superseded by a new approach",
    "Customer withdrew the request",
]
WAIVER_REASONS = [
    "Internal-only change: no customer communication needed",
    "Covered by the existing runbook",
    "Approved by the product lead for this release",
    "Deferred to the quarterly docs refresh",
]
BLOCK_REASONS = ["dependency", "environment", "decision", "external", "capacity", "other"]
BLOCK_WEIGHTS = [30, 15, 15, 15, 15, 10]

ITEM_COLUMNS = (
    "id",
    "board_id",
    "key",
    "title",
    "description",
    "kind",
    "class_of_service",
    "due_date",
    "column_id",
    "rank",
    "external_source",
    "external_key",
    "external_url",
    "created_at",
    "created_by_id",
    "started_at",
    "delivered_at",
    "discarded_at",
    "discard_reason",
    "updated_at",
    "version",
)
TRANSITION_COLUMNS = (
    "board_id",
    "item_id",
    "from_column_id",
    "to_column_id",
    "at",
    "recorded_at",
    "source",
    "idempotency_key",
    "actor_id",
    "request_fingerprint",
)
BLOCK_COLUMNS = (
    "item_id",
    "reason",
    "note",
    "criterion_id",
    "started_at",
    "started_by_id",
    "ended_at",
    "ended_by_id",
)
CRITERION_COLUMNS = (
    "id",
    "item_id",
    "template_id",
    "title",
    "description",
    "category",
    "track",
    "gate_column_id",
    "required",
    "status",
    "resolved_at",
    "resolved_by_id",
    "evidence_url",
    "waiver_reason",
    "added_at",
)
CHANGE_COLUMNS = (
    "criterion_id",
    "from_status",
    "to_status",
    "at",
    "actor_id",
    "evidence_url",
    "reason",
)
REFUSAL_COLUMNS = ("item_id", "gate_column_id", "to_column_id", "at", "actor_id", "source", "unmet")

# Checks of the links written while the FK triggers were off (each counts dangling rows).
CHECKS = [
    "SELECT COUNT(*) FROM boards_transition t LEFT JOIN boards_workitem i ON i.id = t.item_id"
    " AND i.board_id = t.board_id WHERE t.board_id = %s AND i.id IS NULL",
    "SELECT COUNT(*) FROM boards_workitem i LEFT JOIN boards_column c ON c.id = i.column_id"
    " AND c.board_id = i.board_id WHERE i.board_id = %s AND c.id IS NULL",
    "SELECT COUNT(*) FROM readiness_acceptancecriterion a JOIN boards_workitem i"
    " ON i.id = a.item_id LEFT JOIN readiness_criteriontemplate t ON t.id = a.template_id"
    " WHERE i.board_id = %s AND t.id IS NULL",
    "SELECT COUNT(*) FROM boards_block b JOIN boards_workitem i ON i.id = b.item_id"
    " LEFT JOIN readiness_acceptancecriterion a ON a.id = b.criterion_id"
    " WHERE i.board_id = %s AND b.criterion_id IS NOT NULL AND a.item_id IS DISTINCT FROM i.id",
]


# --- simulation --------------------------------------------------------------------------------


@dataclass
class Criterion:
    id: int
    template: int  # index in TEMPLATES
    resolved_at: int | None = None
    status: str = "pending"
    waiver_reason: str = ""


@dataclass
class Item:
    """One simulated item. Times are whole seconds since the epoch (UTC)."""

    id: int
    number: int
    kind: str
    moves: list[tuple[int, int]]  # (position, at), the first one is the creation
    discarded_at: int | None = None
    reopened: bool = False
    criteria: list[Criterion] = field(default_factory=list)
    blocks: list[tuple[str, int | None, int, int | None]] = field(default_factory=list)
    refusals: list[tuple[int, list[Criterion]]] = field(default_factory=list)

    @property
    def created(self) -> int:
        return self.moves[0][1]

    @property
    def position(self) -> int:
        return self.moves[-1][0]

    def first_at(self, test: Callable[[int], bool], before: int | None = None) -> int | None:
        for position, at in self.moves:
            if before is not None and at >= before:
                return None
            if test(position):
                return at
        return None

    def position_at(self, at: int) -> int:
        index = bisect.bisect_right([t for _, t in self.moves], at) - 1
        return self.moves[max(index, 0)][0]


def _dwell(rng: random.Random, position: int, kind: str, reworked: bool) -> int:
    days = DWELL_DAYS[position]
    if position == BACKLOG and kind == ESCALATION:
        days = 0.5
    elif (position == DEV and reworked) or (position == BR and kind != FEATURE):
        days = 1.5  # rework is quicker; readiness of non-features is light
    return max(MIN_DWELL, int(rng.expovariate(1.0 / (days * DAY))))


def _simulate_moves(
    rng: random.Random, kind: str, created: int, now: int
) -> tuple[list[tuple[int, int]], int | None, bool]:
    """The item's moves (position, at) up to ``now``, its discard time, and whether it reopened."""
    moves = [(BACKLOG, created)]
    fate = rng.random()
    if fate < 0.03:
        return moves, None, False  # parked in the backlog: never started
    discard_from = None
    if fate < 0.08:
        discard_from = BACKLOG if rng.random() < 0.6 else READY
    position, at = BACKLOG, created
    reworks, reopened, bounced = 0, False, False
    while position != OPERATING:
        at = at + _dwell(rng, position, kind, reworks > 0)
        if at >= now:
            break
        if position == discard_from:
            return moves, at, False
        r = rng.random()
        if position == BACKLOG:
            target = DEV if r < 0.03 else READY  # expedited straight into development
        elif position == READY:
            target = BACKLOG if (not bounced and r < 0.03) else DEV  # deprioritised
            bounced = bounced or target == BACKLOG
        elif position == DEV:
            target = TEST if r < 0.05 else REVIEW  # no review for trivial changes
        elif position == REVIEW:
            target = DEV if (reworks < 5 and r < 0.35) else TEST  # changes requested
        elif position == TEST:
            target = RFR if rng.random() < 0.9 else BR  # some go straight to readiness
            if reworks < 5 and r < 0.25:
                target = DEV  # failed testing
        elif position == RFR:
            target = RELEASED if (kind != FEATURE and r < 0.4) else BR
        elif position == BR:
            target = RELEASED
        else:  # RELEASED
            target = TEST if (not reopened and r < 0.035) else OPERATING
            reopened = reopened or target == TEST
        if target == DEV and position in (REVIEW, TEST):
            reworks += 1
        moves.append((target, at))
        position = target
    return moves, None, reopened


def simulate_paths(items: int, seed: int, days: int, now: dt.datetime):
    """The items' kinds and moves as ``generate_board`` simulates them, without a database:
    yields (number, kind, [(position, epoch seconds)]) in arrival order. The first move is the
    creation, in Backlog."""
    rng = random.Random(seed)
    end = int(now.timestamp())
    start = end - days * DAY
    arrivals = sorted(rng.randint(start, end - MIN_DWELL) for _ in range(items))
    for index, created in enumerate(arrivals):
        kind = rng.choices(KINDS, weights=KIND_WEIGHTS)[0]
        moves, _, _ = _simulate_moves(rng, kind, created, end)
        yield index + 1, kind, moves


def _simulate_criteria(
    rng: random.Random, item: Item, templates: Sequence[int], next_id: int, now: int
) -> int:
    """Fill the item's criteria and gate refusals; returns the next free criterion id."""
    if not templates:
        return next_id
    gate_at = item.first_at(lambda p: p >= RELEASED)
    readiness_at = item.first_at(lambda p: p == BR, before=gate_at)
    dev_at = item.first_at(lambda p: p >= DEV) or item.created
    in_readiness = item.position == BR and item.discarded_at is None
    for template in templates:
        criterion = Criterion(id=next_id, template=template)
        next_id += 1
        item.criteria.append(criterion)
        if gate_at is not None:
            low = readiness_at if (readiness_at and rng.random() < 0.85) else dev_at
            criterion.resolved_at = rng.randint(min(low + 1, gate_at - 1), gate_at - 1)
        elif in_readiness and rng.random() < 0.5:
            criterion.resolved_at = rng.randint(readiness_at + 1, now - 1)
        if criterion.resolved_at is not None:
            if rng.random() < 0.07:
                criterion.status = "waived"
                criterion.waiver_reason = rng.choice(WAIVER_REASONS)
            else:
                criterion.status = "met"
    # Gate refusals: the team tried to release while readiness work was still pending.
    if gate_at is not None and readiness_at is not None and gate_at - readiness_at > 2:
        if rng.random() < 0.12:
            refused = rng.randint(readiness_at + 1, gate_at - 2)
            unmet = [c for c in item.criteria if c.resolved_at > refused]
            if not unmet:  # the last criterion met is the one the refusal waited for
                last = max(item.criteria, key=lambda c: c.resolved_at)
                last.resolved_at = rng.randint(refused + 1, gate_at - 1)
                unmet = [last]
            item.refusals.append((refused, unmet))
    elif in_readiness and readiness_at is not None and now - readiness_at > 2:
        pending = [c for c in item.criteria if c.resolved_at is None]
        if pending and rng.random() < 0.25:
            refused = rng.randint(readiness_at + 1, now - 1)
            unmet = [c for c in item.criteria if c.resolved_at is None or c.resolved_at > refused]
            item.refusals.append((refused, unmet))
    return next_id


def _simulate_blocks(rng: random.Random, item: Item, now: int) -> None:
    """~15% of the started items get one or two blocks inside their life; a few stay open."""
    started = item.first_at(lambda p: p >= READY)
    if started is None or rng.random() >= 0.15:
        return
    finished = item.discarded_at or (item.moves[-1][1] if item.position == OPERATING else None)
    in_progress = finished is None and item.position < DELIVERY
    end = finished or now
    if end - started < HOUR:
        return
    starts = sorted(rng.randint(started, end - 1) for _ in range(1 if rng.random() < 0.7 else 2))
    for index, start in enumerate(starts):
        last = index == len(starts) - 1
        limit = end if last else starts[index + 1]
        ended: int | None = start + max(600, int(rng.expovariate(1.0 / (1.5 * DAY))))
        if last and in_progress and (ended >= end or rng.random() < 0.3):
            ended = None  # still blocked now
        else:
            ended = min(ended, limit)
        reason = rng.choices(BLOCK_REASONS, weights=BLOCK_WEIGHTS)[0]
        criterion = None
        if item.position_at(start) == BR and item.criteria:
            criterion = rng.choice(item.criteria).id
            reason = rng.choice(["external", "decision"])
        item.blocks.append((reason, criterion, start, ended))


# --- writing ------------------------------------------------------------------------------------


class _Sink:
    """Bulk inserts on the current Django connection: COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self) -> None:
        connection.ensure_connection()
        self.postgres = connection.vendor == "postgresql"
        if self.postgres:
            self.time = lambda ts: None if ts is None else dt.datetime.fromtimestamp(ts, UTC)
        else:
            # Django's SQLite format for aware datetimes: naive UTC text.
            self.time = lambda ts: (
                None
                if ts is None
                else dt.datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")
            )
        self.counts: dict[str, int] = {}
        self.skipping = False

    def write(self, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> None:
        count = 0
        if self.postgres:
            sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
            with connection.connection.cursor() as cursor, cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
        else:
            rows = list(rows)
            count = len(rows)
            marks = ", ".join(["%s"] * len(columns))
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
            with connection.cursor() as cursor:
                cursor.executemany(sql, rows)
        self.counts[table] = self.counts.get(table, 0) + count

    def skip_fk_checks(self) -> bool:
        """On PostgreSQL as a superuser, skip the foreign-key triggers while the rows are written
        (``session_replication_role = replica``): they are half the time of a million rows. The
        rows reference only ids made here, and ``restore_fk_checks`` verifies the main links."""
        if not self.postgres:
            return False
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('is_superuser') = 'on'")
            self.skipping = bool(cursor.fetchone()[0])
            if self.skipping:
                cursor.execute("SET LOCAL session_replication_role = replica")
        return self.skipping

    def analyze(self) -> None:
        if not self.postgres:
            return
        with connection.cursor() as cursor:
            for table in self.counts:
                cursor.execute(f"ANALYZE {table}")

    def restore_fk_checks(self, board_id: int) -> None:
        if not (self.postgres and self.skipping):
            return
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = origin")
            for sql in CHECKS:
                cursor.execute(sql, [board_id])
                orphans = cursor.fetchone()[0]
                if orphans:
                    raise RuntimeError(f"generated {orphans} dangling rows: {sql}")

    def next_id(self, table: str) -> int:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
            highest = cursor.fetchone()[0]
            if self.postgres:
                cursor.execute(
                    f"SELECT last_value FROM {self._sequence(cursor, table)}"
                )  # never hand out an id the sequence already gave
                highest = max(highest, cursor.fetchone()[0])
        return highest + 1

    def fix_sequence(self, table: str) -> None:
        if not self.postgres:
            return  # SQLite's AUTOINCREMENT follows explicit ids by itself
        with connection.cursor() as cursor:
            sequence = self._sequence(cursor, table)
            cursor.execute(
                f"SELECT setval('{sequence}', (SELECT MAX(id) FROM {table})) "
                f"WHERE EXISTS (SELECT 1 FROM {table})"
            )

    @staticmethod
    def _sequence(cursor, table: str) -> str:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        return cursor.fetchone()[0]


def _delete_board(slug: str) -> bool:
    """Delete the board with this slug and everything on it, with raw SQL for the big tables."""
    from django.apps import apps

    from boards import history
    from boards.models import Board

    board = Board.objects.filter(slug=slug).first()
    if board is None:
        return False
    items = "SELECT id FROM boards_workitem WHERE board_id = %s"
    statements = []
    for model in apps.get_app_config("metrics").get_models():
        columns = {f.column for f in model._meta.concrete_fields}
        table = model._meta.db_table
        if "board_id" in columns:
            statements.append(f"DELETE FROM {table} WHERE board_id = %s")
        elif "item_id" in columns:
            statements.append(f"DELETE FROM {table} WHERE item_id IN ({items})")
    statements += [
        f"DELETE FROM boards_block WHERE item_id IN ({items})",
        "DELETE FROM readiness_criterionchange WHERE criterion_id IN (SELECT id FROM "
        f"readiness_acceptancecriterion WHERE item_id IN ({items}))",
        f"DELETE FROM readiness_gaterefusal WHERE item_id IN ({items})",
        f"DELETE FROM readiness_acceptancecriterion WHERE item_id IN ({items})",
        "DELETE FROM readiness_criteriontemplate WHERE board_id = %s",
    ]
    # History refuses DELETE below the ORM too; this script removes a whole board.
    with connection.cursor() as cursor, history.maintenance():
        for sql in statements:
            cursor.execute(sql, [board.pk])
        cursor.execute("DELETE FROM boards_transition WHERE board_id = %s", [board.pk])
        cursor.execute("DELETE FROM boards_workitem WHERE board_id = %s", [board.pk])
    # What is left is small: the ORM removes it with every on_delete rule, including tables
    # added after this script was written.
    Board.objects.filter(pk=board.pk).update(commitment_column=None, delivery_column=None)
    Board.objects.filter(pk=board.pk).delete()
    return True


def _create_board(slug: str, items: int, days: int):
    from boards.models import Column
    from boards.setup import ColumnSpec, board_create
    from readiness.models import CriterionTemplate

    stage, activity = Column.Stage, Column.Activity
    soft = Column.WipPolicy.SOFT
    # A WIP limit the development column is sometimes over, at any scale.
    dev_limit = max(3, round(items / max(days, 1) * 3.5))
    names = COLUMN_NAMES
    columns = [
        ColumnSpec(names[BACKLOG], stage.UPSTREAM, activity.WAITING),
        ColumnSpec(names[READY], stage.DEVELOPMENT, activity.WAITING),
        ColumnSpec(names[DEV], stage.DEVELOPMENT, activity.ACTIVE, dev_limit, soft),
        ColumnSpec(names[REVIEW], stage.DEVELOPMENT, activity.WAITING),
        ColumnSpec(names[TEST], stage.DEVELOPMENT, activity.ACTIVE),
        ColumnSpec(names[RFR], stage.DEVELOPMENT, activity.WAITING),
        ColumnSpec(names[BR], stage.READINESS, activity.ACTIVE),
        ColumnSpec(names[RELEASED], stage.DONE, activity.ACTIVE),
        ColumnSpec(names[OPERATING], stage.DONE, activity.ACTIVE),
    ]
    prefix = "".join(ch for ch in slug.upper() if ch.isalnum())[:10] or "BENCH"
    board = board_create(
        name=f"Benchmark {slug}",
        slug=slug,
        key_prefix=prefix,
        columns=columns,
        commitment="Ready",
        delivery="Released",
    )
    column_ids = list(board.columns.order_by("position").values_list("id", flat=True))
    templates = CriterionTemplate.objects.bulk_create(
        CriterionTemplate(
            board=board,
            title=title,
            track=track,
            gate_column_id=column_ids[RELEASED],
            applies_to_kinds=kinds,
            position=position,
        )
        for position, (track, title, kinds) in enumerate(TEMPLATES)
    )
    template_ids = [t.pk for t in templates]
    if not all(template_ids):
        template_ids = list(
            CriterionTemplate.objects.filter(board=board)
            .order_by("position")
            .values_list("id", flat=True)
        )
    return board, column_ids, template_ids


# --- the generator ------------------------------------------------------------------------------


def generate_board(
    *, slug: str, items: int, seed: int = 42, days: int = 365, now: dt.datetime | None = None
) -> dict:
    """Create (or re-create) the board ``slug`` with ``items`` synthetic items over ``days`` days
    ending ``now`` (default: the start of the current minute). Returns counts and timings."""
    if items < 1 or days < 1:
        raise ValueError("items and days must be positive")
    began = time.perf_counter()
    if now is None:
        now = dt.datetime.now(UTC).replace(second=0, microsecond=0)
    end = int(now.timestamp())
    start = end - days * DAY
    # Imported here: run as a script, the project is on sys.path only once main() has set it.
    from boards import ranking

    rng = random.Random(seed)
    stats: dict = dict.fromkeys(STATS, 0)
    with transaction.atomic():
        replaced = _delete_board(slug)
        deleted = time.perf_counter()
        board, column_ids, template_ids = _create_board(slug, items, days)
        sink = _Sink()
        item_base = sink.next_id("boards_workitem")
        criterion_id = sink.next_id("readiness_acceptancecriterion")
        template_kinds = [kinds for _, _, kinds in TEMPLATES]
        ranks = ranking.sequence(items)
        arrivals = sorted(rng.randint(start, end - MIN_DWELL) for _ in range(items))
        simulated = 0.0
        stats["fk_checks_skipped"] = sink.skip_fk_checks()
        for chunk_start in range(0, items, CHUNK):
            tick = time.perf_counter()
            batch = []
            for index in range(chunk_start, min(chunk_start + CHUNK, items)):
                kind = rng.choices(KINDS, weights=KIND_WEIGHTS)[0]
                moves, discarded_at, reopened = _simulate_moves(rng, kind, arrivals[index], end)
                item = Item(item_base + index, index + 1, kind, moves, discarded_at, reopened)
                applicable = [n for n, k in enumerate(template_kinds) if not k or kind in k]
                criterion_id = _simulate_criteria(rng, item, applicable, criterion_id, end)
                _simulate_blocks(rng, item, end)
                batch.append(item)
            rows = _Rows(rng, board, column_ids, template_ids, ranks, sink.time, stats)
            rows.add(batch)
            simulated += time.perf_counter() - tick
            sink.write("boards_workitem", ITEM_COLUMNS, rows.items)
            sink.write("readiness_acceptancecriterion", CRITERION_COLUMNS, rows.criteria)
            sink.write("readiness_criterionchange", CHANGE_COLUMNS, rows.changes)
            sink.write("readiness_gaterefusal", REFUSAL_COLUMNS, rows.refusals)
            sink.write("boards_block", BLOCK_COLUMNS, rows.blocks)
            sink.write("boards_transition", TRANSITION_COLUMNS, rows.transitions)
        written = time.perf_counter()
        sink.analyze()  # fresh statistics for the checks below and for the benchmark's queries
        analyzed = time.perf_counter()
        sink.restore_fk_checks(board.pk)
        sink.fix_sequence("boards_workitem")
        sink.fix_sequence("readiness_acceptancecriterion")
        type(board).objects.filter(pk=board.pk).update(
            next_number=items + 1, created_at=_datetime(start - DAY)
        )
        checked = time.perf_counter()
    committed = time.perf_counter()
    stats["criterion_changes"] = sink.counts.get("readiness_criterionchange", 0)
    return {
        "slug": slug,
        "board_id": board.pk,
        "seed": seed,
        "days": days,
        "now": now.isoformat(),
        "database": connection.vendor,
        "replaced": replaced,
        "items": items,
        **stats,
        "seconds": {
            "delete": round(deleted - began, 2),
            "simulate": round(simulated, 2),
            "write": round(written - deleted - simulated, 2),
            "analyze": round(analyzed - written, 2),
            "check": round(checked - analyzed, 2),
            "commit": round(committed - checked, 2),
            "total": round(committed - began, 2),
        },
    }


def _datetime(ts: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, UTC)


class _Rows:
    """The database rows of a batch of simulated items, as tuples in the tables' column order."""

    def __init__(self, rng, board, column_ids, template_ids, ranks, to_time, stats) -> None:
        self.rng, self.board_id, self.columns = rng, board.pk, column_ids
        self._prefix = board.key_prefix
        self.template_ids, self.ranks, self.t, self.stats = template_ids, ranks, to_time, stats
        self.items: list[tuple] = []
        self.transitions: list[tuple] = []
        self.criteria: list[tuple] = []
        self.changes: list[tuple] = []
        self.refusals: list[tuple] = []
        self.blocks: list[tuple] = []

    def add(self, batch: Sequence[Item]) -> None:
        for item in batch:
            self._item(item)
            self._transitions(item)
            self._criteria(item)
            self._blocks(item)

    def _item(self, item: Item) -> None:
        from boards.flow import counted_path, entry_times
        from boards.management.commands.seed_demo import NOUNS, VERBS

        rng, t, stats = self.rng, self.t, self.stats
        entries = entry_times(counted_path(item.moves), (COMMITMENT, DELIVERY))
        started, delivered = entries[COMMITMENT], entries[DELIVERY]
        stats["delivered"] += delivered is not None
        stats["discarded"] += item.discarded_at is not None
        stats["reopened"] += item.reopened
        stats["never_started"] += started is None and item.discarded_at is None
        stats["in_progress"] += (
            started is not None and delivered is None and item.discarded_at is None
        )
        kind = item.kind
        service = "standard"
        if kind == ESCALATION and rng.random() < 0.5:
            service = "expedite"
        elif rng.random() < 0.05:
            service = "fixed_date"
        due = None
        if service == "fixed_date" or rng.random() < 0.15:
            due = (_datetime(item.created) + dt.timedelta(days=rng.randint(14, 60))).date()
        last = max(item.moves[-1][1], item.discarded_at or 0)
        self.items.append(
            (
                item.id,
                self.board_id,
                f"{self._prefix}-{item.number}",
                f"{rng.choice(VERBS[kind])} {rng.choice(NOUNS)}",
                "",
                kind,
                service,
                due,
                self.columns[item.position],
                self.ranks[item.number - 1],
                "",
                "",
                "",
                t(item.created),
                None,
                t(started),
                t(delivered),
                t(item.discarded_at),
                rng.choice(DISCARD_REASONS) if item.discarded_at else "",
                t(last),
                1,
            )
        )

    def _transitions(self, item: Item) -> None:
        rng, t, columns = self.rng, self.t, self.columns
        previous = None
        for position, at in item.moves:
            when = t(at)
            source = "api" if rng.random() < 0.15 else "web"
            self.transitions.append(
                (
                    self.board_id,
                    item.id,
                    None if previous is None else columns[previous],
                    columns[position],
                    when,
                    when,
                    source,
                    None,
                    None,
                    "",
                )
            )
            if previous is not None and position < previous:
                self.stats["backward_moves"] += 1
            previous = position
        self.stats["transitions"] += len(item.moves)

    def _criteria(self, item: Item) -> None:
        t, gate = self.t, self.columns[RELEASED]
        for criterion in item.criteria:
            track, title, _ = TEMPLATES[criterion.template]
            self.criteria.append(
                (
                    criterion.id,
                    item.id,
                    self.template_ids[criterion.template],
                    title,
                    "",
                    "readiness",
                    track,
                    gate,
                    True,
                    criterion.status,
                    t(criterion.resolved_at),
                    None,
                    "",
                    criterion.waiver_reason,
                    t(item.created),
                )
            )
            if criterion.resolved_at is not None:
                self.changes.append(
                    (
                        criterion.id,
                        "pending",
                        criterion.status,
                        t(criterion.resolved_at),
                        None,
                        "",
                        criterion.waiver_reason,
                    )
                )
            self.stats["waived"] += criterion.status == "waived"
        self.stats["criteria"] += len(item.criteria)
        for at, unmet in item.refusals:
            snapshot = [
                {
                    "id": c.id,
                    "title": TEMPLATES[c.template][1],
                    "track": TEMPLATES[c.template][0],
                    "gate_column_id": gate,
                }
                for c in unmet
            ]
            self.refusals.append((item.id, gate, gate, t(at), None, "web", json.dumps(snapshot)))
        self.stats["refusals"] += len(item.refusals)

    def _blocks(self, item: Item) -> None:
        t = self.t
        for reason, criterion, started, ended in item.blocks:
            self.blocks.append((item.id, reason, "", criterion, t(started), None, t(ended), None))
            self.stats["open_blocks"] += ended is None
        self.stats["blocks"] += len(item.blocks)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, required=True, help="number of work items")
    parser.add_argument("--slug", required=True, help="board slug (an existing board is replaced)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--days", type=int, default=365, help="length of the history, ending now")
    args = parser.parse_args(argv)
    result = generate_board(slug=args.slug, items=args.items, seed=args.seed, days=args.days)
    seconds = result.pop("seconds")
    print(f"Board {result['slug']} (id {result['board_id']}) on {result['database']}:")
    for name in ("items", *STATS):
        print(f"  {name:<18} {result[name]:>10,}")
    print(f"  {'per item':<18} {result['transitions'] / result['items']:>10.2f} transitions")
    print("Generation time: " + ", ".join(f"{k} {v:.2f}s" for k, v in seconds.items()))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowboard.settings")
    import django

    django.setup()
    main()
