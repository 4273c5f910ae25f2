"""Monte Carlo forecasts (docs/metrics.md, "Forecasts (Monte Carlo)").

Expected values of random trials are worked out from the exact distribution and chosen so that
the 10,000-trial reading sits many standard deviations away from any other answer: they hold
for every seed, not only for the default one.
"""

import datetime as dt
import random
import time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.calculators.forecast import (
    NoHistory,
    NoThroughput,
    how_many_by,
    items_in_progress,
    readiness_aware_when,
    remaining_time_history,
    when_done,
)
from metrics.calculators.stats import percentile
from metrics.calculators.types import BoardInfo, ColumnInfo, Move

UTC = dt.UTC
START = dt.date(2025, 1, 1)


def day(n: int) -> dt.date:
    return START + dt.timedelta(days=n)


# --- How many by date D -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sample", "days", "expected"),
    [
        ([2], 10, {50: 20, 70: 20, 85: 20, 95: 20}),  # every trial: 10 x 2
        ([3, 3, 3], 7, {50: 21, 70: 21, 85: 21, 95: 21}),
        ([0, 0], 30, {50: 0, 70: 0, 85: 0, 95: 0}),  # zero days are data: nothing delivered
        ([1, 5], 0, {50: 0, 70: 0, 85: 0, 95: 0}),  # no days, no deliveries
        # One day drawn from [0, 1, 1, 1]: 0 in 25% of trials (about 2,500 +- 43 of 10,000).
        # Low-end reading, index floor(9999 * (100 - c) / 100):
        #   c=50 -> 4999, c=70 -> 2999: above the ~2,500 zeros -> 1
        #   c=85 -> 1499, c=95 -> 499: inside the zeros -> 0 (only 75% deliver one or more)
        ([0, 1, 1, 1], 1, {50: 1, 70: 1, 85: 0, 95: 0}),
        # Two days from [0, 1]: total 0 in 25%, 1 in 50%, 2 in 25%. At least 2 holds in only
        # 25% of trials, at least 1 in 75%, so: c=50 -> 1, c=70 -> 1, c=85 -> 0, c=95 -> 0.
        ([0, 1], 2, {50: 1, 70: 1, 85: 0, 95: 0}),
    ],
)
def test_how_many_by(sample, days, expected):
    assert how_many_by(sample, days) == expected


def test_how_many_by_reads_the_low_end_with_the_percentile_rule():
    """The count at confidence c is sorted_trials[floor((n - 1) * (100 - c) / 100)]."""
    sample, days, trials, seed = [0, 1, 2, 0, 3, 1, 0, 0, 2, 5], 14, 500, 7
    result = how_many_by(sample, days, trials=trials, seed=seed)
    rng = random.Random(seed)
    totals = sorted(sum(rng.choices(sample, k=days)) for _ in range(trials))
    assert result == {c: percentile(totals, 100 - c) for c in (50, 70, 85, 95)}
    for c, count in result.items():  # "c% confidence: count or more" really holds
        assert sum(t >= count for t in totals) >= trials * c / 100


def test_how_many_by_is_reproducible_and_seeded():
    sample = [0, 1, 2, 0, 3, 1, 0, 0, 2, 1] * 9
    assert how_many_by(sample, 30) == how_many_by(list(sample), 30)
    assert how_many_by(sample, 30, seed=1) == how_many_by(sample, 30, seed=1)


def test_how_many_by_custom_confidences():
    assert how_many_by([4], 2, confidences=(10, 99)) == {10: 8, 99: 8}


@pytest.mark.parametrize(
    ("sample", "days", "kwargs", "error"),
    [
        ([], 10, {}, NoThroughput),
        ([1, -1], 10, {}, ValueError),
        ([1, 0.5], 10, {}, ValueError),
        ([1, True], 10, {}, ValueError),
        ([1], -1, {}, ValueError),
        ([1], 5, {"trials": 0}, ValueError),
        ([1], 5, {"confidences": (50, 101)}, ValueError),
    ],
)
def test_how_many_by_rejects_bad_input(sample, days, kwargs, error):
    with pytest.raises(error):
        how_many_by(sample, days, **kwargs)


# --- When will N items be done ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sample", "items", "expected"),
    [
        ([1], 5, {c: day(5) for c in (50, 70, 85, 95)}),  # day 1 is Jan 2; 5 days -> Jan 6
        ([2], 5, {c: day(3) for c in (50, 70, 85, 95)}),  # 2, 4, 6 >= 5 after 3 days
        ([5, 5], 5, {c: day(1) for c in (50, 70, 85, 95)}),  # done on the first day
        ([0, 3], 0, dict.fromkeys((50, 70, 85, 95), START)),  # nothing to do: done already
        # One item, days from [0, 1, 1, 1]: P(done by day k) = 1 - 0.25^k
        #   = 0.75 (k=1), 0.9375 (k=2), 0.984 (k=3).
        # High-end reading, index floor(9999 * c / 100): 4999, 6999, 8499, 9499.
        #   c=50, 70: ~7,500 trials finish on day 1 -> day 1
        #   c=85: 7,500 < 8,499 < ~9,375 -> day 2
        #   c=95: ~9,375 (+- 24) < 9,499 < ~9,844 -> day 3
        ([0, 1, 1, 1], 1, {50: day(1), 70: day(1), 85: day(2), 95: day(3)}),
        # One item, days from [0] * 9 + [1]: P(done by day k) = 1 - 0.9^k; 0.4686 at k=6 and
        # 0.5217 at k=7, so the 50% reading (index 4999) is day 7.
        ([0] * 9 + [1], 1, {50: day(7)}),
    ],
)
def test_when_done(sample, items, expected):
    assert when_done(sample, items, START, confidences=tuple(expected)) == expected


def test_when_done_beyond_max_days_is_none():
    # P(done within 5 days) = 1 - 0.9^5 = 0.41 < 50%: no reading within the horizon.
    # P(done within 30 days) = 0.958: the 50% and 70% readings exist, the 95% one (index 9499
    # above ~9,576 finished trials) does too, but with a 20-day horizon (0.878) it does not.
    sample = [0] * 9 + [1]
    assert when_done(sample, 1, START, max_days=5) == {50: None, 70: None, 85: None, 95: None}
    horizon_20 = when_done(sample, 1, START, max_days=20)
    assert horizon_20[50] == day(7)
    assert horizon_20[85] is not None
    assert horizon_20[95] is None


def test_when_done_matches_a_day_by_day_simulation():
    """Skipping zero days with geometric gaps gives the same distribution as drawing every day."""
    sample = [0, 0, 0, 1, 2, 0, 3, 0, 1, 0]
    items, trials = 12, 10_000
    rng = random.Random(99)
    needed = []
    for _ in range(trials):
        total = days = 0
        while total < items:
            total += rng.choice(sample)
            days += 1
        needed.append(days)
    needed.sort()
    result = when_done(sample, items, START, trials=trials)
    for c in (50, 70, 85, 95):
        naive = START + dt.timedelta(days=percentile(needed, c))
        assert abs((result[c] - naive).days) <= 1, (c, result[c], naive)


@pytest.mark.parametrize("sample", [[], [0], [0] * 90])
def test_when_done_without_deliveries_cannot_forecast(sample):
    with pytest.raises(NoThroughput):
        when_done(sample, 3, START)


@pytest.mark.parametrize(
    ("items", "kwargs"),
    [(-1, {}), (3, {"max_days": 0}), (3, {"trials": 0}), (3, {"confidences": (-5,)})],
)
def test_when_done_rejects_bad_input(items, kwargs):
    with pytest.raises(ValueError):
        when_done([1, 2], items, START, **kwargs)


def test_forecasts_are_fast_enough():
    """10,000 trials over 60 days (or ~60 days of work) well under a second."""
    sample = [0, 1, 2, 0, 3, 1, 0, 0, 2, 1] * 9
    began = time.perf_counter()
    how_many_by(sample, 60)
    when_done(sample, 60, START)
    assert time.perf_counter() - began < 1.0


def test_sparse_samples_stay_fast():
    """One delivery in 90 days, 30 items: ~2,700 days per trial, still quick."""
    began = time.perf_counter()
    result = when_done([0] * 89 + [1], 30, START)
    assert time.perf_counter() - began < 1.0
    # 30 deliveries at 1/90 per day: mean 2,700 days; the median is close to it.
    assert 2_500 <= (result[50] - START).days <= 2_900


throughputs = st.lists(st.integers(min_value=0, max_value=6), min_size=1, max_size=40)


@settings(max_examples=40, deadline=None)
@given(throughputs, st.integers(min_value=0, max_value=40), st.integers(0, 2**32))
def test_more_confidence_never_promises_more_items(sample, days, seed):
    r = how_many_by(sample, days, trials=300, seed=seed)
    assert r[95] <= r[85] <= r[70] <= r[50]
    assert days * min(sample) <= r[95] and r[50] <= days * max(sample)


@settings(max_examples=40, deadline=None)
@given(throughputs, st.integers(min_value=0, max_value=30), st.integers(0, 2**32))
def test_more_confidence_never_promises_an_earlier_date(sample, items, seed):
    if items > 0 and not any(sample):
        with pytest.raises(NoThroughput):
            when_done(sample, items, START, trials=300, seed=seed)
        return
    r = when_done(sample, items, START, trials=300, seed=seed)
    dates = [r[c] for c in (50, 70, 85, 95)]
    finite = [d for d in dates if d is not None]
    assert finite == sorted(finite)
    assert dates[: len(finite)] == finite  # None (beyond the horizon) only at the high end
    if finite and items > 0:
        # No trial can beat items / max daily throughput days.
        assert (finite[0] - START).days >= -(-items // max(sample))


# --- Readiness-aware ----------------------------------------------------------------------------

NOW = dt.datetime(2025, 3, 10, 9, 0, tzinfo=UTC)


def on(days: int) -> dt.date:
    return (NOW + dt.timedelta(days=days)).date()


def test_readiness_aware_single_item_uses_its_conditional_history():
    # Column 7's history [2, 3, 4, 5, 6, 1]; the item is 2 days in: histories >= 2 minus 2
    # -> remaining [0, 1, 2, 3, 4], each drawn with probability 0.2.
    # Trials (high-end reading at 4999/6999/8499/9499 of 10,000):
    #   P(<= 1) = 0.4, P(<= 2) = 0.6, P(<= 3) = 0.8, P(<= 4) = 1
    #   c=50 -> 2, c=70 -> 3, c=85 -> 4, c=95 -> 4.
    # Per item, straight off the 5 remaining values, index floor(4 * c / 100):
    #   c=50 -> 2 -> 2, c=70 -> 2 -> 2, c=85 -> 3 -> 3, c=95 -> 3 -> 3.
    result = readiness_aware_when({7: [2, 3, 4, 5, 6, 1]}, [(41, 7, 2.0)], NOW, ZoneInfo("UTC"))
    assert result["dates"] == {50: on(2), 70: on(3), 85: on(4), 95: on(4)}
    assert result["per_item"] == {41: {50: on(2), 70: on(2), 85: on(3), 95: on(3)}}
    assert result["no_history"] == [] and result["beyond_history"] == []


def test_readiness_aware_set_is_done_when_its_slowest_item_is():
    # Item A: column 10 history [3, 3, 3, 7], age 2 -> remaining [1, 1, 1, 5].
    # Item B: column 20 history [2, 2, 2, 6], age 0 -> remaining [2, 2, 2, 6].
    # max(A, B): 2 when both are short (0.75 * 0.75 = 0.5625); 5 when A is long and B short
    # (0.25 * 0.75 = 0.1875, cumulative 0.75); 6 when B is long (0.25, cumulative 1).
    #   c=50 (4999 < ~5,625) -> 2; c=70 (6999 < ~7,500) -> 5; c=85, 95 -> 6.
    history = {10: [3, 3, 3, 7], 20: [2, 2, 2, 6]}
    result = readiness_aware_when(history, [(1, 10, 2.0), (2, 20, 0.0)], NOW, ZoneInfo("UTC"))
    assert result["dates"] == {50: on(2), 70: on(5), 85: on(6), 95: on(6)}


def test_readiness_aware_dates_are_local_dates():
    # 23:00 UTC on 10 March is midnight on 11 March in Paris (UTC+1); +1 day -> 12 March.
    late = dt.datetime(2025, 3, 10, 23, 0, tzinfo=UTC)
    result = readiness_aware_when({5: [1.0]}, [(1, 5, 0.0)], late, ZoneInfo("Europe/Paris"))
    assert result["dates"] == {c: dt.date(2025, 3, 12) for c in (50, 70, 85, 95)}


def test_readiness_aware_items_without_usable_history():
    history = {5: [2.0, 3.0], 6: []}
    items = [(1, 5, 1.0), (2, 5, 9.0), (3, 6, 0.0), (4, 99, 0.0)]
    result = readiness_aware_when(history, items, NOW, ZoneInfo("UTC"))
    # Item 2 is 9 days in, longer than any history of column 5; columns 6 and 99 have none.
    assert result["beyond_history"] == [2]
    assert result["no_history"] == [3, 4]
    assert result["dates"] == {50: None, 70: None, 85: None, 95: None}
    # Item 1: remaining [1, 2]; index floor(1 * c / 100) = 0 below 100 -> 1 day.
    assert result["per_item"] == {1: {c: on(1) for c in (50, 70, 85, 95)}}


def test_readiness_aware_with_no_items_is_done_today():
    result = readiness_aware_when({5: [1.0]}, [], NOW, ZoneInfo("UTC"))
    assert result["dates"] == {c: NOW.date() for c in (50, 70, 85, 95)}


@pytest.mark.parametrize("history", [{}, {5: []}])
def test_readiness_aware_without_history_cannot_forecast(history):
    with pytest.raises(NoHistory):
        readiness_aware_when(history, [(1, 5, 0.0)], NOW, ZoneInfo("UTC"))


def test_readiness_aware_is_seeded():
    history = {1: [0.5, 1.5, 2.0, 4.0, 9.0], 2: [1.0, 3.0, 3.5, 8.0]}
    items = [(1, 1, 0.2), (2, 2, 1.0), (3, 1, 1.0)]
    tz = ZoneInfo("UTC")
    first = readiness_aware_when(history, items, NOW, tz, seed=5)
    assert first == readiness_aware_when(history, items, NOW, tz, seed=5)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(min_value=0, max_value=60), min_size=1, max_size=20),
    st.lists(st.floats(min_value=0, max_value=60), min_size=1, max_size=20),
    st.integers(0, 2**32),
)
def test_readiness_aware_dates_never_go_backwards(first, second, seed):
    history = {1: first, 2: second}
    result = readiness_aware_when(
        history, [(1, 1, 0.0), (2, 2, 0.0)], NOW, ZoneInfo("UTC"), trials=300, seed=seed
    )
    dates = [result["dates"][c] for c in (50, 70, 85, 95)]
    assert dates == sorted(dates)
    assert dates[0] >= NOW.date()


# Board for the history builders: Backlog(0), Dev(1), Legal(2, readiness), Done(3, delivery).
BOARD = BoardInfo(
    columns=(
        ColumnInfo(1, "Backlog", 0, "upstream", "waiting"),
        ColumnInfo(2, "Dev", 1, "development", "active"),
        ColumnInfo(3, "Legal", 2, "readiness", "waiting"),
        ColumnInfo(4, "Done", 3, "done", "active"),
    ),
    commitment_id=2,
    delivery_id=4,
)
T0 = dt.datetime(2025, 1, 1, tzinfo=UTC)


def at(days: float) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


HISTORY_MOVES = [
    # Item 1 goes through every column: Backlog d0, Dev d1, Legal d3, Done d7.
    Move(1, None, 1, at(0)),
    Move(1, 1, 2, at(1)),
    Move(1, 2, 3, at(3)),
    Move(1, 3, 4, at(7)),
    # Item 2 skips Legal: Backlog d0, Dev d2, Done d5 -> Legal inherits d5.
    Move(2, None, 1, at(0)),
    Move(2, 1, 2, at(2)),
    Move(2, 2, 4, at(5)),
    # Item 3 is in Legal since d8.
    Move(3, None, 1, at(6)),
    Move(3, 1, 3, at(8)),
    # Item 4 was delivered d4 and reopened to Dev d6: Dev keeps its first date, d1.
    Move(4, None, 1, at(0)),
    Move(4, 1, 2, at(1)),
    Move(4, 2, 4, at(4)),
    Move(4, 4, 2, at(6)),
    # Item 5 is discarded (excluded by the caller).
    Move(5, None, 2, at(0)),
    Move(5, 2, 4, at(1)),
]


def test_remaining_time_history_from_counted_paths():
    history = remaining_time_history(reversed(HISTORY_MOVES), BOARD, exclude={5})
    # Item 1: Backlog 7-0, Dev 7-1, Legal 7-3. Item 2: Backlog 5-0, Dev 5-2, Legal 5-5.
    # Items 3 and 4 are not delivered; item 5 is excluded.
    assert history == {1: [7.0, 5.0], 2: [6.0, 3.0], 3: [4.0, 0.0]}


def test_remaining_time_history_window():
    history = remaining_time_history(HISTORY_MOVES, BOARD, exclude={5}, delivered_since=at(6))
    assert history == {1: [7.0], 2: [6.0], 3: [4.0]}  # item 2 (delivered d5) is too old


def test_items_in_progress_ages_from_counted_entry():
    # now = d10: item 3 entered Legal d8 -> 2 days; item 4's Dev entry stays d1 -> 9 days.
    assert items_in_progress(HISTORY_MOVES, BOARD, at(10), exclude={5}) == [
        (3, 3, 2.0),
        (4, 2, 9.0),
    ]
