"""Three edge cases where the stored figures disagreed with an independent implementation of the
definitions (docs/metrics.md), each with a worked case."""

import datetime as dt
import logging

import pytest
from django.utils import timezone

from boards.services import work_item_discard, work_item_move
from metrics import refresh, summary
from metrics.calculators import bottlenecks, readiness
from metrics.calculators.types import BoardInfo, ColumnInfo, CriterionInfo, Move
from metrics.models import BoardMetrics
from readiness.services import criterion_meet, criterion_reopen
from tests.factories import CriterionTemplateFactory, WorkItemFactory
from tests.metrics.test_refresh import dump

UTC = dt.UTC
DAY0 = dt.datetime(2026, 3, 2, tzinfo=UTC)


def day(n: float) -> dt.datetime:
    return DAY0 + dt.timedelta(days=n)


BOARD = BoardInfo(
    columns=(
        ColumnInfo(1, "Backlog", 0, "upstream", "waiting"),
        ColumnInfo(2, "Ready", 1, "development", "waiting"),
        ColumnInfo(3, "Build", 2, "development", "active"),
        ColumnInfo(4, "Readiness", 3, "readiness", "active"),
        ColumnInfo(5, "Done", 4, "done", "active"),
    ),
    commitment_id=2,
    delivery_id=5,
)


def criterion(id_, track, status, resolved):
    return CriterionInfo(id_, 1, f"c{id_}", track, "readiness", True, 5, status, day(0), resolved)


def test_the_critical_criterion_is_the_one_met_last_before_delivery_even_if_reopened_since():
    """Item 1 enters Readiness on day 3. Support is met on day 4, Legal on day 6, the item is
    delivered on day 7. On day 9 Legal is reopened (the privacy notice changed again).

    As of the delivery, Legal was met last: it was the critical criterion, and its wait was 3
    days (day 3 to 6). Today's status (Legal pending) must not change that fact."""
    moves = [Move(1, None, 1, day(0)), Move(1, 1, 2, day(1)), Move(1, 2, 4, day(3)),
             Move(1, 4, 5, day(7))]  # fmt: skip
    today = [criterion(10, "support", "met", day(4)), criterion(11, "legal", "pending", None)]
    changes = {10: [(day(4), "met")], 11: [(day(6), "met"), (day(9), "pending")]}

    figures = readiness.readiness_summary(
        BOARD, moves, today, [], day(10), window_start=day(0), window_end=day(10), changes=changes
    )

    tracks = figures["tracks"]
    assert tracks["legal"]["critical"] == 1 and tracks["support"]["critical"] == 0
    assert tracks["legal"]["median_wait_days"] == 3.0
    assert tracks["support"]["median_wait_days"] == 1.0
    # Read from today's status instead, the legal track lost its critical delivery.
    naive = readiness.readiness_summary(
        BOARD, moves, today, [], day(10), window_start=day(0), window_end=day(10)
    )
    assert naive["tracks"]["support"]["critical"] == 1


def test_a_criterion_added_after_the_delivery_is_no_part_of_it():
    late = CriterionInfo(12, 1, "late", "gtm", "readiness", True, 5, "met", day(8), day(9))
    assert readiness.as_of(late, [(day(9), "met")], day(7)) is None
    assert readiness.as_of(late, [(day(9), "met")], day(9)).status == "met"


def test_the_summary_reads_criteria_as_they_stood_at_delivery(board, col):
    """The same case through the services and the stored summary."""
    now = timezone.now()
    CriterionTemplateFactory(board=board, title="Support macro", track="support")
    CriterionTemplateFactory(board=board, title="Privacy notice", track="legal")
    item = WorkItemFactory(board=board, created_at=now - dt.timedelta(days=10))
    work_item_move(item, col["Ready"], actor=None, source="api", at=now - dt.timedelta(days=9))
    work_item_move(item, col["Readiness"], actor=None, source="api", at=now - dt.timedelta(days=7))
    support, legal = item.criteria.order_by("track")  # legal, support
    legal, support = (legal, support) if legal.track == "legal" else (support, legal)
    criterion_meet(support, actor=None, at=now - dt.timedelta(days=6))
    criterion_meet(legal, actor=None, at=now - dt.timedelta(days=4))
    work_item_move(item, col["Done"], actor=None, source="api", at=now - dt.timedelta(days=3))
    criterion_reopen(legal, actor=None, reason="notice changed", at=now - dt.timedelta(days=1))
    refresh.recompute_board(board)

    stored = summary.refresh_summary(board)

    assert stored["readiness"]["tracks"]["legal"]["critical"] == 1
    assert stored["readiness"]["tracks"]["support"]["critical"] == 0


def test_a_move_at_the_same_instant_as_the_discard_counts_in_the_bottleneck_figures():
    """Item 1 is committed on day 1 and moved into Build on day 4 at 09:00, and discarded at
    that very instant. Its Build stay (zero long) is an arrival and a departure of Build, and
    its Ready stay ends on day 4: three days in Ready, not until the discard was dated."""
    moves = [Move(1, None, 1, day(0)), Move(1, 1, 2, day(1)), Move(1, 2, 3, day(4))]
    discarded = {1: day(4)}

    stays = bottlenecks.stays_from_moves(moves, day(10), discarded)

    assert [(s.column_id, s.start, s.end) for s in stays] == [
        (1, day(0), day(1)),
        (2, day(1), day(4)),
        (3, day(4), day(4)),
    ]
    report = bottlenecks.bottleneck_report(BOARD, moves, day(0), day(10), day(10), discarded)
    build = next(c for c in report["columns"] if c["name"] == "Build")
    assert (build["arrivals"], build["departures"], build["median_days"]) == (1, 1, 0.0)


def test_reopening_a_delivered_item_before_its_start_refreshes_without_a_full_recompute(
    board, col, caplog
):
    """The item was in WIP on days 1-2 and delivered on day 3; nothing else is in progress, so
    WIP is 0 from day 3 on. Moved back to Backlog it never started: the delta is -1 from day 1
    and +1 from day 3. Applied in that order, days 3 on would pass through -1, which the counts'
    check refuses, and the refresh fell back to a full recompute with an ERROR logged."""
    now = timezone.now()
    item = WorkItemFactory(board=board, created_at=now - dt.timedelta(days=6))
    work_item_move(item, col["Ready"], actor=None, source="api", at=now - dt.timedelta(days=5))
    work_item_move(item, col["Done"], actor=None, source="api", at=now - dt.timedelta(days=3))
    refresh.recompute_board(board)
    full_before = BoardMetrics.objects.get(board=board).full_computed_at

    work_item_move(item, col["Backlog"], actor=None, source="api")
    with caplog.at_level(logging.ERROR, logger="metrics.refresh"):
        assert refresh.process_pending(board.pk) == 1

    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert BoardMetrics.objects.get(board=board).full_computed_at == full_before
    incremental = dump(board)
    refresh.recompute_board(board)
    assert dump(board) == incremental


def test_the_stored_bottleneck_keeps_a_move_at_the_discard_instant(board, col):
    now = timezone.now().replace(microsecond=0)
    item = WorkItemFactory(board=board, created_at=now - dt.timedelta(days=5))
    work_item_move(item, col["Ready"], actor=None, source="api", at=now - dt.timedelta(days=4))
    when = now - dt.timedelta(days=2)
    work_item_move(item, col["Build"], actor=None, source="api", at=when)
    work_item_discard(item, actor=None, reason="Duplicate", at=when)
    refresh.recompute_board(board)

    stored = summary.refresh_summary(board)

    build = next(c for c in stored["bottleneck"]["columns"] if c["name"] == "Build")
    assert build["arrivals"] == 1
    ready = next(c for c in stored["bottleneck"]["columns"] if c["name"] == "Ready")
    assert ready["item_days"] == pytest.approx(2.0)
