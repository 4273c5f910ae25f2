"""Bottlenecks and blocker clusters (docs/metrics.md, "Bottlenecks")."""

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metrics.calculators.bottlenecks import (
    blocked_seconds_within,
    blocker_clusters,
    bottleneck_evidence,
    bottleneck_report,
    stays_from_moves,
)
from metrics.calculators.types import BlockSpan, BoardInfo, ColumnInfo, Move

UTC = dt.UTC
T0 = dt.datetime(2025, 3, 1, tzinfo=UTC)
BACKLOG, ANALYSIS, LEGAL, DONE = 1, 2, 3, 4

BOARD = BoardInfo(
    columns=(
        ColumnInfo(BACKLOG, "Backlog", 0, "upstream", "waiting"),
        ColumnInfo(ANALYSIS, "Analysis", 1, "development", "active", wip_limit=1),
        ColumnInfo(LEGAL, "Legal review", 2, "readiness", "waiting", wip_limit=1),
        ColumnInfo(DONE, "Done", 3, "done", "active"),
    ),
    commitment_id=ANALYSIS,
    delivery_id=DONE,
)


def d(days: float) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


def mv(item: int, column: int, days: float) -> Move:
    return Move(item, None, column, d(days))


# Window [d0, d10) = 1 Mar .. 10 Mar, now = d10. Times in days after 1 Mar 00:00 UTC.
SCENARIO = [
    # Item 1: Analysis -2.5 .. 2.5, Legal 2.5 .. 6.5, Done 6.5
    mv(1, BACKLOG, -4.5),
    mv(1, ANALYSIS, -2.5),
    mv(1, LEGAL, 2.5),
    mv(1, DONE, 6.5),
    # Item 2: Analysis 1.5 .. 4.5, Legal from 4.5 (still there)
    mv(2, BACKLOG, -1.5),
    mv(2, ANALYSIS, 1.5),
    mv(2, LEGAL, 4.5),
    # Item 3: Analysis 5.5 .. 7.5, Legal 7.5 .. 8.5, back to Analysis 8.5 .. 9.25, Legal from 9.25
    mv(3, BACKLOG, 3.5),
    mv(3, ANALYSIS, 5.5),
    mv(3, LEGAL, 7.5),
    mv(3, ANALYSIS, 8.5),
    mv(3, LEGAL, 9.25),
]

# Legal review:
#   item-days in window: item 1 (6.5 - 2.5) 4 + item 2 (10 - 4.5) 5.5 + item 3 1 + 0.75 = 11.25
#   avg WIP 11.25 / 10 = 1.125; arrivals 2.5, 4.5, 7.5, 9.25 = 4; departures 6.5, 8.5 = 2; net +2
#   stays that ended in the window: 4.0 (item 1), 1.0 (item 3) -> sorted [1, 4], median index
#   floor(1 * 0.5) = 0 -> 1.0
#   end-of-day counts (limit 1), day k ending at d(k): d1 0, d2 0, d3 1, d4 1, d5 2, d6 2,
#   d7 1 (item 1 left at 6.5), d8 2, d9 1 (item 3 left at 8.5), d10 2 -> 4 days over
# Analysis:
#   item-days: item 1 clipped to [0, 2.5) 2.5 + item 2 3 + item 3 2 + 0.75 = 8.25 -> avg 0.825
#   arrivals 1.5, 5.5, 8.5 = 3 (item 1 arrived before the window); departures 2.5, 4.5, 7.5,
#   9.25 = 4; net -1
#   ended stays: 5.0, 3.0, 2.0, 0.75 -> sorted [0.75, 2, 3, 5], index floor(3 * 0.5) = 1 -> 2.0
#   end-of-day counts (limit 1): d1 1 (item 2 arrives at 1.5), d2 2, d3 1, d4 1, d5 0, d6 1,
#   d7 1, d8 0, d9 1, d10 0 -> 1 day over
LEGAL_ROW = {
    "column_id": LEGAL,
    "name": "Legal review",
    "position": 2,
    "is_waiting": True,
    "wip_limit": 1,
    "item_days": 11.25,
    "avg_wip": 1.125,
    "arrivals": 4,
    "departures": 2,
    "net_flow": 2,
    "median_days": 1.0,
    "over_limit_days": 4,
    "evidence": "Legal review: avg WIP 1.1, +2 net in 10 d, median 1 d",
}
ANALYSIS_ROW = {
    "column_id": ANALYSIS,
    "name": "Analysis",
    "position": 1,
    "is_waiting": False,
    "wip_limit": 1,
    "item_days": 8.25,
    "avg_wip": 0.825,
    "arrivals": 3,
    "departures": 4,
    "net_flow": -1,
    "median_days": 2.0,
    "over_limit_days": 1,
    "evidence": "Analysis: avg WIP 0.8, -1 net in 10 d, median 2 d",
}


def test_bottleneck_report_hand_worked():
    report = bottleneck_report(BOARD, SCENARIO, d(0), d(10), now=d(10))
    assert report["window_days"] == 10.0
    # Only the columns from commitment (Analysis) up to delivery (Done, excluded), ranked.
    assert report["columns"] == [LEGAL_ROW, ANALYSIS_ROW]
    assert report["bottleneck"] == LEGAL_ROW


def test_bottleneck_report_does_not_depend_on_input_order():
    shuffled = SCENARIO[:]
    random.Random(3).shuffle(shuffled)
    assert bottleneck_report(BOARD, shuffled, d(0), d(10), now=d(10))["columns"] == [
        LEGAL_ROW,
        ANALYSIS_ROW,
    ]


def test_window_is_cut_at_now():
    # Window [d0, d20) asked for at now = d10: the same 10 days, the future holds nothing.
    report = bottleneck_report(BOARD, SCENARIO, d(0), d(20), now=d(10))
    assert report["window_end"] == d(10)
    assert report["window_days"] == 10.0
    assert report["columns"] == [LEGAL_ROW, ANALYSIS_ROW]


def test_shorter_window_clips_stays():
    # Window [d4, d8): Legal has item 1 (4..6.5) 2.5 + item 2 (4.5..8) 3.5 + item 3 (7.5..8) 0.5
    # = 6.5 item-days -> avg 1.625; arrivals 4.5, 7.5 = 2; departures 6.5 = 1 (item 1, a 4-day
    # stay); end-of-day counts d5 2, d6 2, d7 1, d8 2 -> 3 days over the limit of 1.
    report = bottleneck_report(BOARD, SCENARIO, d(4), d(8), now=d(10))
    legal = next(r for r in report["columns"] if r["column_id"] == LEGAL)
    assert legal["item_days"] == 6.5
    assert legal["avg_wip"] == 1.625
    assert (legal["arrivals"], legal["departures"], legal["net_flow"]) == (2, 1, 1)
    assert legal["median_days"] == 4.0
    assert legal["over_limit_days"] == 3
    assert legal["evidence"] == "Legal review: avg WIP 1.6, +1 net in 4 d, median 4 d"


def test_discarded_item_leaves_its_column_when_discarded():
    # Item 2 is discarded at d6 while in Legal: its stay is 4.5 .. 6, a departure in the window.
    # Legal item-days 4 + 1.5 + 1 + 0.75 = 7.25; departures 6, 6.5, 8.5 = 3; net 4 - 3 = +1;
    # ended stays [1.5, 4, 1] -> sorted [1, 1.5, 4], index floor(2 * 0.5) = 1 -> 1.5 -> "2 d"
    # (half up).
    report = bottleneck_report(BOARD, SCENARIO, d(0), d(10), now=d(10), discarded={2: d(6)})
    legal = next(r for r in report["columns"] if r["column_id"] == LEGAL)
    assert legal["item_days"] == 7.25
    assert legal["net_flow"] == 1
    assert legal["median_days"] == 1.5
    assert legal["evidence"] == "Legal review: avg WIP 0.7, +1 net in 10 d, median 2 d"


def test_no_activity_means_no_bottleneck():
    report = bottleneck_report(BOARD, [mv(1, BACKLOG, 1)], d(0), d(10), now=d(10))
    assert report["bottleneck"] is None
    assert [r["avg_wip"] for r in report["columns"]] == [0.0, 0.0]
    assert [r["evidence"] for r in report["columns"]] == [
        "Analysis: avg WIP 0.0, 0 net in 10 d, median n/a",  # ties keep board order
        "Legal review: avg WIP 0.0, 0 net in 10 d, median n/a",
    ]


def test_bad_window_is_rejected():
    with pytest.raises(ValueError):
        bottleneck_report(BOARD, SCENARIO, d(5), d(5), now=d(10))
    with pytest.raises(ValueError):
        bottleneck_report(BOARD, SCENARIO, d(11), d(20), now=d(10))


def test_day_ends_follow_the_board_zone_across_dst():
    # Paris moves to summer time on 30 March 2025: the window 29 Mar .. 1 Apr local is 71 hours.
    paris = ZoneInfo("Europe/Paris")
    board = BoardInfo(BOARD.columns, ANALYSIS, DONE, tz=paris)
    start = dt.datetime(2025, 3, 29, tzinfo=paris)
    end = dt.datetime(2025, 4, 1, tzinfo=paris)
    moves = [
        Move(1, None, LEGAL, dt.datetime(2025, 3, 29, 10, tzinfo=paris)),
        Move(2, None, LEGAL, dt.datetime(2025, 3, 30, 23, 30, tzinfo=paris)),  # 21:30 UTC
        Move(2, LEGAL, DONE, dt.datetime(2025, 3, 31, 1, tzinfo=paris)),
    ]
    report = bottleneck_report(board, moves, start, end, now=end)
    legal = next(r for r in report["columns"] if r["column_id"] == LEGAL)
    assert report["window_days"] == 71 / 24
    # Local midnights 30, 31 Mar and 1 Apr: counts 1, 2 (item 2 entered 23:30 local), 1.
    assert legal["over_limit_days"] == 1
    assert legal["evidence"].endswith("in 3 d, median 0 d")  # item 2 stayed 1.5 h


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # The spec's own example.
        (
            ("Legal review", 7.2, 5, 30, 6.0),
            "Legal review: avg WIP 7.2, +5 net in 30 d, median 6 d",
        ),
        (("QA", 7.25, -3, 30, 2.5), "QA: avg WIP 7.2, -3 net in 30 d, median 3 d"),  # 2.5 half up
        (("QA", 0.96, 0, 29.96, 2.49), "QA: avg WIP 1.0, 0 net in 30 d, median 2 d"),
        (("QA", 3.0, 12, 7, None), "QA: avg WIP 3.0, +12 net in 7 d, median n/a"),
    ],
)
def test_bottleneck_evidence(args, expected):
    assert bottleneck_evidence(*args) == expected


def test_stays_follow_write_order_for_equal_times():
    # Two moves at the same instant: the one written last decides where the item is.
    t = d(1)
    moves = [mv(1, BACKLOG, 0), Move(1, BACKLOG, LEGAL, t), Move(1, LEGAL, DONE, t)]
    stays = stays_from_moves(moves, now=d(2))
    assert [(s.column_id, s.start, s.end, s.open) for s in stays] == [
        (BACKLOG, d(0), t, False),
        (LEGAL, t, t, False),
        (DONE, t, d(2), True),
    ]


def test_stays_ignore_same_column_moves_and_the_future():
    moves = [mv(1, LEGAL, 0), mv(1, LEGAL, 1), mv(1, DONE, 3), mv(1, BACKLOG, 9)]
    stays = stays_from_moves(moves, now=d(5))
    assert [(s.column_id, s.start, s.end) for s in stays] == [
        (LEGAL, d(0), d(3)),
        (DONE, d(3), d(5)),
    ]


# --- Blocker clusters ---------------------------------------------------------------------------

BLOCKS = [
    BlockSpan(1, d(0), d(2), "dependency"),  # 2 days
    BlockSpan(1, d(1), d(4), "decision", track="legal"),  # 3 days, overlaps the first by 1
    BlockSpan(2, d(3), None, "dependency", track="legal"),  # open: 3 .. now (10) = 7 days
    BlockSpan(3, d(-5), d(-1), "external"),  # 4 days, before d0
]


def test_blocker_clusters_without_window():
    result = blocker_clusters(BLOCKS, now=d(10))
    # dependency 2 + 7 = 9 (2 blocks, items 1 and 2); external 4; decision 3.
    assert result["by_reason"] == {
        "dependency": {"days": 9.0, "blocks": 2, "items": 2},
        "external": {"days": 4.0, "blocks": 1, "items": 1},
        "decision": {"days": 3.0, "blocks": 1, "items": 1},
    }
    assert list(result["by_reason"]) == ["dependency", "external", "decision"]
    # legal track: 3 + 7 = 10; untracked blocks are left out.
    assert result["by_track"] == {"legal": {"days": 10.0, "blocks": 2, "items": 2}}
    # per block 2 + 3 + 7 + 4 = 16; union per item: item 1 [0, 4) 4 + item 2 7 + item 3 4 = 15
    assert result["total"] == {"days": 16.0, "union_days": 15.0, "blocks": 4, "items": 3}


def test_blocker_clusters_clipped_to_window():
    # Window [d2, d6): the first block ends at d2 (nothing inside); decision [2, 4) 2;
    # dependency (open) [3, 6) 3; external is before the window.
    result = blocker_clusters(BLOCKS, now=d(10), window_start=d(2), window_end=d(6))
    assert result["by_reason"] == {
        "dependency": {"days": 3.0, "blocks": 1, "items": 1},
        "decision": {"days": 2.0, "blocks": 1, "items": 1},
    }
    assert result["by_track"] == {"legal": {"days": 5.0, "blocks": 2, "items": 2}}
    assert result["total"] == {"days": 5.0, "union_days": 5.0, "blocks": 2, "items": 2}


def test_blocker_clusters_open_block_ends_now_and_ties_sort_by_name():
    blocks = [BlockSpan(1, d(0), None, "other"), BlockSpan(2, d(1), d(2), "capacity")]
    result = blocker_clusters(blocks, now=d(1), window_end=d(30))
    # The open block counts up to now (1 day), not to the window's end; the capacity block
    # starts at now and has no blocked time yet.
    assert result["by_reason"] == {"other": {"days": 1.0, "blocks": 1, "items": 1}}
    ties = blocker_clusters(
        [BlockSpan(1, d(0), d(1), "other"), BlockSpan(2, d(0), d(1), "capacity")], now=d(5)
    )
    assert list(ties["by_reason"]) == ["capacity", "other"]


HOUR = 3600.0


@pytest.mark.parametrize(
    ("spans", "start", "end", "expected"),
    [
        ([], 0, 24, 0.0),
        ([(2, 5)], 0, 24, 3 * HOUR),
        ([(2, 5), (4, 8)], 0, 24, 6 * HOUR),  # overlap merged: [2, 8)
        ([(2, 10), (3, 4)], 0, 24, 8 * HOUR),  # nested
        ([(2, 5), (5, 7)], 0, 24, 5 * HOUR),  # touching: [2, 7)
        ([(2, 3), (5, 7)], 0, 24, 3 * HOUR),  # disjoint: 1 + 2
        ([(2, 10)], 4, 6, 2 * HOUR),  # clipped to the range
        ([(2, None)], 0, 24, 10 * HOUR),  # open block ends at now (hour 12)
        ([(2, None)], 0, 6, 4 * HOUR),
        ([(20, 22)], 0, 6, 0.0),
    ],
)
def test_blocked_seconds_within(spans, start, end, expected):
    def h(hours: float) -> dt.datetime:
        return T0 + dt.timedelta(hours=hours)

    blocks = [BlockSpan(7, h(s), None if e is None else h(e), "other") for s, e in spans]
    assert blocked_seconds_within(blocks, h(start), h(end), now=h(12)) == expected


def test_blocked_seconds_within_wants_one_item():
    blocks = [BlockSpan(1, d(0), d(1), "other"), BlockSpan(2, d(0), d(1), "other")]
    with pytest.raises(ValueError):
        blocked_seconds_within(blocks, d(0), d(2), now=d(2))


spans = st.lists(
    st.tuples(st.integers(0, 100), st.one_of(st.none(), st.integers(0, 100))), max_size=12
)


@given(spans, st.integers(0, 100), st.integers(0, 100))
def test_union_of_blocks_is_at_most_their_sum(raw, a, b):
    now = d(80)
    blocks = [BlockSpan(1, d(s), None if e is None else d(e), "other") for s, e in raw]
    lo, hi = d(min(a, b)), d(max(a, b))
    union = blocked_seconds_within(blocks, lo, hi, now)
    each = [blocked_seconds_within([blk], lo, hi, now) for blk in blocks]
    assert max(each, default=0.0) <= union <= sum(each)
    assert union <= (hi - lo).total_seconds()
    clusters = blocker_clusters(blocks, now, lo, hi)
    assert clusters["total"]["union_days"] * 86_400 == pytest.approx(union)
    assert clusters["total"]["days"] * 86_400 == pytest.approx(sum(each))
