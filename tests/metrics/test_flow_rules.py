"""One test per rule of docs/metrics.md, each with the spec's own worked example if it has one."""

import datetime as dt

import pytest

from metrics.calculators.items import DayIndex, item_flow
from metrics.calculators.series import SeriesAccumulator
from metrics.calculators.stats import percentiles
from tests.metrics.flowdata import board, col, day, days_for

NAMES = ["New", "Active", "Waiting", "Resolved", "Closed"]
INFO = board(NAMES, "Active", "Resolved", activities={"Waiting": "waiting"})
NOW = day(60)


def flow(moves, *, info=INFO, blocks=(), now=NOW, discarded=None, days=None):
    timed = [(col(info, name), at) for name, at in moves]
    return item_flow(info, days or days_for(info), 1, timed, blocks, now, discarded)


def entry_days(result, info=INFO):
    """Entry dates as spec day numbers (None where there is none)."""
    out = {}
    for c in info.columns:
        at = result.entries[c.id]
        out[c.name] = None if at is None else round((at - day(1)) / 86400) + 1
    return out


def test_the_worked_example_of_column_entry_dates():
    """New 1, Active 4, Waiting 17 (skipped: inherits Resolved), Resolved 17, Closed 24."""
    result = flow(
        [
            ("New", day(1)),
            ("Waiting", day(1, 13)),  # skips Active
            ("Active", day(4)),  # erases the Waiting visit
            ("Waiting", day(8)),
            ("Resolved", day(14)),
            ("Active", day(17)),  # erases Waiting and Resolved; Active keeps day 4
            ("Resolved", day(17, 13)),
            ("Closed", day(24)),
        ]
    )
    assert entry_days(result) == {
        "New": 1,
        "Active": 4,
        "Waiting": 17,
        "Resolved": 17,
        "Closed": 24,
    }


def test_skipped_columns_inherit_the_date_of_the_next_stage_reached():
    result = flow([("New", day(1)), ("Resolved", day(3))])
    assert entry_days(result) == {
        "New": 1, "Active": 3, "Waiting": 3, "Resolved": 3, "Closed": None,
    }  # fmt: skip
    assert result.started_at == day(3) and result.delivered_at == day(3)


def test_a_backward_move_wipes_the_columns_moved_back_from():
    """An item moved back from C is considered never to have been in C (ActionableAgile)."""
    result = flow([("New", day(1)), ("Waiting", day(2)), ("Active", day(5))])
    assert entry_days(result) == {
        "New": 1, "Active": 5, "Waiting": None, "Resolved": None, "Closed": None,
    }  # fmt: skip


def test_a_reopen_after_delivery_wipes_delivered_at_until_delivered_again():
    delivered = [("New", day(1)), ("Active", day(2)), ("Resolved", day(10))]
    reopened = flow([*delivered, ("Active", day(12))])
    assert reopened.delivered_at is None
    assert reopened.age_days == 59  # WIP again: age from day 2 to now (day 60), + 1
    again = flow([*delivered, ("Active", day(12)), ("Resolved", day(15))])
    assert again.delivered_at == day(15)
    assert again.cycle_days == 14  # day 2 .. day 15, + 1


# (started, delivered, board zone, cycle days, exact seconds)
DAY_CASES = [
    pytest.param(day(3, 9), day(3, 17), "UTC", 1, 8 * 3600, id="same day is 1 day"),
    pytest.param(day(3, 23), day(4, 1), "UTC", 2, 2 * 3600, id="across midnight is 2 days"),
    pytest.param(day(3, 9), day(13, 9), "UTC", 11, 10 * 86400, id="ten days later is 11 days"),
    pytest.param(
        day(3, 3), day(3, 6), "America/New_York", 2, 3 * 3600, id="UTC same day, NY two days"
    ),
    pytest.param(
        day(3, 23), day(4, 1), "Asia/Tokyo", 1, 2 * 3600, id="UTC two days, Tokyo one day"
    ),
]


@pytest.mark.parametrize(("started", "delivered", "tz", "cycle_days", "seconds"), DAY_CASES)
def test_days_count_calendar_days_in_the_board_zone_plus_one(
    started, delivered, tz, cycle_days, seconds
):
    info = board(NAMES, "Active", "Resolved", tz=tz)
    result = flow([("New", day(1)), ("Active", started), ("Resolved", delivered)], info=info)
    assert result.cycle_days == cycle_days
    assert result.cycle_seconds == seconds
    assert result.lead_seconds == delivered - day(1)


def test_days_are_exact_across_a_daylight_saving_change():
    """London springs forward on 29 March 2026: that day has 23 hours."""
    info = board(NAMES, "Active", "Resolved", tz="Europe/London")
    days = DayIndex(info.tz, dt.date(2026, 3, 27), dt.date(2026, 4, 2))
    spring = days.index(day(29, 0) + 1)  # 00:00:01 UTC = 00:00:01 GMT on the 29th
    assert days.date(spring) == dt.date(2026, 3, 29)
    assert days.end_of(spring) - days.midnights[spring] == 23 * 3600
    # 23:30 UTC on the 29th is 00:30 BST on the 30th.
    assert days.date(days.index(day(29, 23.5))) == dt.date(2026, 3, 30)


def test_the_percentile_example_of_actionableagile():
    assert percentiles([3, 4, 4, 5, 5, 6, 6, 6, 7, 7]) == {50: 5, 70: 6, 85: 6, 95: 7}


def test_a_discarded_item_has_no_cycle_time_and_leaves_wip_on_its_discard_date():
    info = INFO
    days = days_for(info, day(1, 0), day(10))
    moves = [(col(info, "New"), day(1)), (col(info, "Active"), day(2))]
    result = item_flow(info, days, 1, moves, (), NOW, discarded_at=day(5))
    assert (result.delivered_at, result.cycle_seconds, result.age_seconds) == (None, None, None)
    assert result.time_in_column[col(info, "Active")] == day(5) - day(2)
    series = SeriesAccumulator(info, days)
    series.add(result, moves)
    built = series.build()
    assert built.wip[:6] == [0, 1, 1, 1, 0, 0]  # started day 2, discarded day 5
    assert built.discarded[4] == 1
    assert built.column_wip[col(info, "Active")][:6] == [0, 1, 1, 1, 0, 0]


def test_an_open_block_counts_until_now_and_takes_active_time_out_of_flow_efficiency():
    moves = [
        ("New", day(1)),
        ("Active", day(2, 0)),
        ("Waiting", day(6, 0)),
        ("Resolved", day(8, 0)),
    ]
    # Blocked in Active from day 3 to day 4 (1 day): active 3 days, waiting 2 + 1 days.
    closed = flow(moves, blocks=[(day(3, 0), day(4, 0))])
    assert closed.active_seconds == 3 * 86400
    assert closed.waiting_seconds == 3 * 86400
    assert closed.flow_efficiency == pytest.approx(0.5)
    still_open = flow(moves[:2], blocks=[(day(50, 0), None)])
    assert still_open.blocked_seconds == NOW - day(50, 0)


def test_time_in_column_sums_every_stay_from_the_raw_log():
    """Unlike entry dates, nothing is wiped: both stays in Active count."""
    result = flow([("New", day(1)), ("Active", day(2)), ("Waiting", day(4)), ("Active", day(5))])
    assert result.time_in_column[col(INFO, "Active")] == (day(4) - day(2)) + (NOW - day(5))
    assert result.time_in_column[col(INFO, "Waiting")] == day(5) - day(4)


def test_throughput_counts_items_by_delivery_day_and_keeps_zero_days():
    info = INFO
    days = days_for(info, day(1, 0), day(5))
    series = SeriesAccumulator(info, days)
    for n, delivered in enumerate([day(2), day(2, 15), day(4)]):
        moves = [(col(info, "New"), day(1)), (col(info, "Resolved"), delivered)]
        series.add(item_flow(info, days, n, moves, (), NOW), moves)
    assert series.build().delivered == [0, 2, 0, 1, 0]


def test_readiness_lead_time_runs_from_the_first_readiness_entry_to_delivery():
    info = board(
        NAMES, "Active", "Closed", stages={"Waiting": "readiness", "Resolved": "readiness"}
    )
    result = flow(
        [("New", day(1)), ("Waiting", day(3)), ("Active", day(4)), ("Resolved", day(6)),
         ("Closed", day(9))],
        info=info,
    )  # fmt: skip
    assert result.readiness_entered_at == day(3)
    assert result.readiness_lead_seconds == day(9) - day(3)
