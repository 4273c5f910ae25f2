"""Flow distribution, on-time rate and throughput series (docs/metrics.md, "Counts")."""

import datetime as dt
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metrics.calculators.distribution import (
    KINDS,
    flow_distribution,
    on_time_rate,
    throughput_per_day,
    throughput_per_week,
)

ZERO = dict.fromkeys(KINDS, 0)


@pytest.mark.parametrize(
    ("kinds", "counts"),
    [
        ([], {}),
        (["feature"], {"feature": 1}),
        # 4 items: feature 2/4 = 0.5, defect 1/4 = 0.25, escalation 1/4 = 0.25
        (
            ["feature", "defect", "feature", "escalation"],
            {"feature": 2, "defect": 1, "escalation": 1},
        ),
        # 5 items, one of each kind: 1/5 = 0.2 each
        (list(KINDS), dict.fromkeys(KINDS, 1)),
        # 8 items: debt 3/8 = 0.375, risk 5/8 = 0.625
        (["debt"] * 3 + ["risk"] * 5, {"debt": 3, "risk": 5}),
    ],
)
def test_flow_distribution(kinds, counts):
    result = flow_distribution(iter(kinds))
    expected_counts = {**ZERO, **counts}
    total = len(kinds)
    assert result["counts"] == expected_counts
    assert list(result["counts"]) == list(KINDS)
    assert list(result["shares"]) == list(KINDS)
    assert result["total"] == total
    for kind in KINDS:
        expected = expected_counts[kind] / total if total else 0.0
        assert result["shares"][kind] == pytest.approx(expected)


def test_flow_distribution_hand_worked_shares():
    shares = flow_distribution(["debt"] * 3 + ["risk"] * 5)["shares"]
    assert shares == {
        "feature": 0.0,
        "defect": 0.0,
        "risk": 0.625,
        "debt": 0.375,
        "escalation": 0.0,
    }


def test_flow_distribution_of_nothing_is_all_zero():
    assert flow_distribution([]) == {
        "shares": dict.fromkeys(KINDS, 0.0),
        "counts": ZERO,
        "total": 0,
    }


@pytest.mark.parametrize("kinds", [["feature", "bug"], ["Feature"], [""]])
def test_flow_distribution_rejects_unknown_kinds(kinds):
    with pytest.raises(ValueError, match="unknown item kinds"):
        flow_distribution(kinds)


@given(st.lists(st.sampled_from(KINDS), min_size=1, max_size=200))
def test_flow_distribution_shares_sum_to_one(kinds):
    result = flow_distribution(kinds)
    assert math.isclose(sum(result["shares"].values()), 1.0)
    assert sum(result["counts"].values()) == result["total"] == len(kinds)


D = dt.date(2025, 3, 10)


def days(n: int) -> dt.date:
    return D + dt.timedelta(days=n)


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([], {"delivered": 0, "with_due_date": 0, "on_time": 0, "late": 0, "rate": None}),
        # no due dates at all: no rate, not 0%
        (
            [(D, None), (days(1), None)],
            {"delivered": 2, "with_due_date": 0, "on_time": 0, "late": 0, "rate": None},
        ),
        # delivered on the due date is on time
        ([(D, D)], {"delivered": 1, "with_due_date": 1, "on_time": 1, "late": 0, "rate": 1.0}),
        # a day late is late
        (
            [(days(1), D)],
            {"delivered": 1, "with_due_date": 1, "on_time": 0, "late": 1, "rate": 0.0},
        ),
        # 4 delivered, 3 with a due date: early, on the day, late -> 2 / 3
        (
            [(D, days(2)), (days(3), days(3)), (days(5), days(4)), (days(9), None)],
            {"delivered": 4, "with_due_date": 3, "on_time": 2, "late": 1, "rate": 2 / 3},
        ),
    ],
)
def test_on_time_rate(pairs, expected):
    assert on_time_rate(iter(pairs)) == expected


def test_throughput_per_day_keeps_zero_days():
    delivered = [days(0), days(0), days(2), days(5), days(-1), days(4)]
    # 10 Mar: 2, 11 Mar: 0, 12 Mar: 1, 13 Mar: 0; 9 Mar and 14/15 Mar are out of range.
    assert throughput_per_day(delivered, days(0), days(3)) == [
        (days(0), 2),
        (days(1), 0),
        (days(2), 1),
        (days(3), 0),
    ]


def test_throughput_per_day_single_day_and_bad_range():
    assert throughput_per_day([], D, D) == [(D, 0)]
    with pytest.raises(ValueError):
        throughput_per_day([], days(1), D)


def test_throughput_per_week_starts_on_monday_and_keeps_zero_weeks():
    # Range Wed 1 Jan 2025 .. Sun 19 Jan 2025 touches the weeks of Mon 30 Dec, 6 Jan, 13 Jan.
    delivered = [
        dt.date(2024, 12, 31),  # Tue, before the range: ignored
        dt.date(2025, 1, 1),  # Wed -> week of 30 Dec
        dt.date(2025, 1, 5),  # Sun -> week of 30 Dec
        dt.date(2025, 1, 13),  # Mon -> week of 13 Jan
        dt.date(2025, 1, 19),  # Sun -> week of 13 Jan
        dt.date(2025, 1, 20),  # Mon, after the range: ignored
    ]
    assert throughput_per_week(delivered, dt.date(2025, 1, 1), dt.date(2025, 1, 19)) == [
        (dt.date(2024, 12, 30), 2),
        (dt.date(2025, 1, 6), 0),
        (dt.date(2025, 1, 13), 2),
    ]


def test_throughput_per_week_within_one_week_and_bad_range():
    assert throughput_per_week([dt.date(2025, 1, 8)], dt.date(2025, 1, 7), dt.date(2025, 1, 8)) == [
        (dt.date(2025, 1, 6), 1)
    ]
    with pytest.raises(ValueError):
        throughput_per_week([], dt.date(2025, 1, 8), dt.date(2025, 1, 7))


@given(
    st.lists(st.dates(dt.date(2024, 1, 1), dt.date(2024, 12, 31)), max_size=100),
    st.dates(dt.date(2024, 1, 1), dt.date(2024, 12, 31)),
    st.integers(min_value=0, max_value=120),
)
def test_daily_and_weekly_throughput_agree(delivered, start, length):
    end = start + dt.timedelta(days=length)
    daily = throughput_per_day(delivered, start, end)
    weekly = throughput_per_week(delivered, start, end)
    assert len(daily) == length + 1
    assert (
        sum(c for _, c in daily)
        == sum(c for _, c in weekly)
        == sum(start <= d <= end for d in delivered)
    )
    assert all(monday.weekday() == 0 for monday, _ in weekly)
    assert [b - a for (a, _), (b, _) in zip(weekly, weekly[1:], strict=False)] == [
        dt.timedelta(weeks=1)
    ] * (len(weekly) - 1)
