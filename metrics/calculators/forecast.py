"""Monte Carlo forecasts (docs/metrics.md, "Forecasts (Monte Carlo)").

"Sample: the daily throughput of the last 90 days (a setting), zero days included. Each trial
draws days with replacement. Run 10,000 trials with a fixed seed, so the same data gives the same
answer."

Readings, all with the percentile rule of ``stats`` (sorted[floor((n - 1) * p / 100)], no
interpolation) over the trial results sorted ascending:

- "How many by date D" reads the LOW end: the count for confidence c is the (100 - c)-th
  percentile. At least c% of the trials reached that count or more (n - k trials sit at or above
  index k = floor((n - 1)(100 - c)/100), and n - k >= n * c / 100), so "c%: X or more" holds.
- "When will N items be done" and the readiness-aware forecast read the HIGH end: the date for
  confidence c is the c-th percentile of the trial dates, the "on or before" reading. With 10,000
  trials exactly c% of the trials (or more, with ties) finish on or before it.

Day numbering: the simulated days are the days AFTER ``start`` (day 1 is ``start + 1``), because
``start`` is normally today, whose throughput is not complete yet and is not part of the sample.
A trial that needs k days therefore finishes on ``start + k``.
"""

import bisect
import datetime as dt
import itertools
import math
import random
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from boards.flow import counted_path, entry_times
from metrics.calculators.stats import DEFAULT_PERCENTILES, percentile, percentile_index
from metrics.calculators.types import BoardInfo, Move

DEFAULT_TRIALS = 10_000
DEFAULT_SEED = 20_201  # any fixed value; it only has to be the same on every run
SECONDS_PER_DAY = 86_400.0


class NoThroughput(ValueError):
    """The sample holds no delivery at all, so no number of days will ever finish an item."""


class NoHistory(ValueError):
    """The board has no delivered item to learn a remaining-time distribution from."""


def how_many_by(
    daily_throughput: Sequence[int],
    days: int,
    *,
    trials: int = DEFAULT_TRIALS,
    seed: int = DEFAULT_SEED,
    confidences: Iterable[int] = DEFAULT_PERCENTILES,
) -> dict[int, int]:
    """How many items will be delivered in the next ``days`` days, per confidence level.

    Each trial sums ``days`` daily counts drawn with replacement from ``daily_throughput``. The
    answer for confidence c is "c% confidence: this many items or more" (low-end reading, see the
    module docstring). ``days == 0`` gives 0 at every confidence. A sample of only zero days
    gives 0 everywhere; an empty sample raises ``NoThroughput``.
    """
    sample = _checked_sample(daily_throughput)
    if days < 0:
        raise ValueError(f"days must be >= 0, not {days}")
    _check_trials(trials)
    wanted = _checked_confidences(confidences)
    if days == 0:
        return dict.fromkeys(wanted, 0)
    choices = random.Random(seed).choices
    totals = sorted(sum(choices(sample, k=days)) for _ in range(trials))
    return {c: percentile(totals, 100 - c) for c in wanted}


def when_done(
    daily_throughput: Sequence[int],
    items: int,
    start: dt.date,
    *,
    trials: int = DEFAULT_TRIALS,
    seed: int = DEFAULT_SEED,
    max_days: int = 3650,
    confidences: Iterable[int] = DEFAULT_PERCENTILES,
) -> dict[int, dt.date | None]:
    """The date by which ``items`` items will be delivered, per confidence ("on or before").

    Each trial draws days (``start + 1`` is the first) until the cumulative count reaches
    ``items``. A trial still short after ``max_days`` days counts as never finishing, and a
    confidence whose reading falls on such trials is None ("not within ``max_days`` days").
    ``items == 0`` is done already: every confidence gives ``start``.

    Raises ``NoThroughput`` when the sample is empty or has no delivery at all (every trial would
    run forever): there is nothing to forecast from, and saying so beats returning None everywhere.
    """
    sample = _checked_sample(daily_throughput)
    if items < 0:
        raise ValueError(f"items must be >= 0, not {items}")
    if max_days < 1:
        raise ValueError(f"max_days must be >= 1, not {max_days}")
    _check_trials(trials)
    wanted = _checked_confidences(confidences)
    if items == 0:
        return dict.fromkeys(wanted, start)
    if not any(sample):
        raise NoThroughput("no deliveries in the throughput sample")

    never = max_days + 1
    needed = _days_to_finish(sample, items, trials, random.Random(seed), max_days)
    needed.sort()
    result: dict[int, dt.date | None] = {}
    for c in wanted:
        k = percentile(needed, c)
        result[c] = None if k == never else start + dt.timedelta(days=k)
    return result


def remaining_time_history(
    moves: Iterable[Move],
    board: BoardInfo,
    *,
    exclude: Collection[int] = (),
    delivered_since: dt.datetime | None = None,
) -> dict[int, list[float]]:
    """For each column before delivery: days from entering it to delivery, per delivered item.

    Entry and delivery times are the counted-path entry dates (docs/metrics.md, "Column entry
    dates"), so a skipped column inherits the next stage's date and a reopened item is not
    delivered. ``exclude`` holds item ids to leave out (the discarded items). With
    ``delivered_since``, only items delivered at or after it are learnt from (the sample window).
    Each list is in item id order.
    """
    positions = board.positions
    column_at = {c.position: c.id for c in board.columns}
    delivery = board.delivery_position
    before = [c.position for c in board.columns if c.position < delivery]
    history: dict[int, list[float]] = {column_at[p]: [] for p in before}
    for item_id, item_moves in sorted(_moves_by_item(moves).items()):
        if item_id in exclude:
            continue
        path = counted_path((positions[m.to_column_id], _utc(m.at)) for m in item_moves)
        entries = entry_times(path, [*before, delivery])
        delivered_at = entries[delivery]
        if delivered_at is None:
            continue
        if delivered_since is not None and delivered_at < _utc(delivered_since):
            continue
        for position in before:
            entered = entries[position]
            if entered is not None:
                days = (delivered_at - entered).total_seconds() / SECONDS_PER_DAY
                history[column_at[position]].append(days)
    return history


def items_in_progress(
    moves: Iterable[Move],
    board: BoardInfo,
    now: dt.datetime,
    *,
    exclude: Collection[int] = (),
) -> list[tuple[int, int, float]]:
    """(item id, current column id, days since its counted-path entry into that column) for each
    item that is not delivered, in item id order. The age is measured like the history of
    ``remaining_time_history`` so the two can be matched. ``exclude`` drops discarded items."""
    now = _utc(now)
    positions = board.positions
    column_at = {c.position: c.id for c in board.columns}
    delivery = board.delivery_position
    result: list[tuple[int, int, float]] = []
    for item_id, item_moves in sorted(_moves_by_item(moves).items()):
        if item_id in exclude:
            continue
        path = counted_path((positions[m.to_column_id], _utc(m.at)) for m in item_moves)
        position, entered = path[-1]
        if position >= delivery:
            continue
        age = max(0.0, (now - entered).total_seconds() / SECONDS_PER_DAY)
        result.append((item_id, column_at[position], age))
    return result


def readiness_aware_when(
    history: Mapping[int, Sequence[float]],
    items: Sequence[tuple[int, int, float]],
    now: dt.datetime,
    tz: ZoneInfo,
    *,
    trials: int = DEFAULT_TRIALS,
    seed: int = DEFAULT_SEED,
    confidences: Iterable[int] = DEFAULT_PERCENTILES,
) -> dict[str, Any]:
    """When will this set of in-progress items all be delivered, readiness stage included.

    Spec: "forecast when a set of items will be delivered, including the readiness stage, from the
    same board's history". ``history[column_id]`` lists the days from entering that column to
    delivery of the board's delivered items (``remaining_time_history``); the readiness columns
    are in it like any other, so the readiness time is part of every draw. ``items`` lists
    (item id, column id, days already spent in the column) (``items_in_progress``).

    Each item's remaining time is drawn from the history of its column, conditioned on its age:
    only histories at least as long as the age are kept and the age is taken off (an item 10
    days into Legal review is compared with items that took 10 days or more from Legal review to
    delivery). A trial finishes when its slowest item finishes; the set's date for confidence c is
    the local date (in ``tz``) of ``now`` plus the c-th percentile of the trial times.

    An item whose column has no history, or that is older than every history of its column,
    cannot be forecast: it is listed in ``no_history`` or ``beyond_history`` and the set's dates
    are all None, because the set cannot be done before that item is. The other items still get
    their own ``per_item`` dates. Raises ``NoHistory`` when the history is empty altogether.

    Returns ``{"dates": {c: date | None}, "per_item": {item_id: {c: date}}, "no_history": [...],
    "beyond_history": [...], "trials": n}``; with no items every date is today.
    """
    _check_trials(trials)
    wanted = _checked_confidences(confidences)
    if not any(history.values()):
        raise NoHistory("no delivered item in the history")
    now = _utc(now)  # so that adding days adds elapsed time, DST or not
    today = now.astimezone(tz).date()
    rng = random.Random(seed)

    def date_after(days: float) -> dt.date:
        return (now + dt.timedelta(days=days)).astimezone(tz).date()

    no_history: list[int] = []
    beyond_history: list[int] = []
    per_item: dict[int, dict[int, dt.date]] = {}
    remaining: list[list[float]] = []
    for item_id, column_id, age in items:
        past = history.get(column_id, ())
        if not past:
            no_history.append(item_id)
            continue
        left = sorted(v - age for v in past if v >= age)
        if not left:
            beyond_history.append(item_id)
            continue
        remaining.append(left)
        per_item[item_id] = {c: date_after(percentile(left, c)) for c in wanted}

    dates: dict[int, dt.date | None]
    if no_history or beyond_history:
        dates = dict.fromkeys(wanted)
    elif not remaining:
        dates = dict.fromkeys(wanted, today)
    else:
        finish = [0.0] * trials
        for left in remaining:
            draws = rng.choices(left, k=trials)
            finish = [a if a >= b else b for a, b in zip(finish, draws, strict=True)]
        finish.sort()
        dates = {c: date_after(percentile(finish, c)) for c in wanted}
    return {
        "dates": dates,
        "per_item": per_item,
        "no_history": no_history,
        "beyond_history": beyond_history,
        "trials": trials,
    }


def _moves_by_item(moves: Iterable[Move]) -> dict[int, list[Move]]:
    """Each item's moves in time order, ties kept in input (write) order (sort is stable)."""
    by_item: dict[int, list[Move]] = {}
    for move in sorted(moves, key=lambda m: _utc(m.at)):
        by_item.setdefault(move.item_id, []).append(move)
    return by_item


def _days_to_finish(
    sample: Sequence[int], items: int, trials: int, rng: random.Random, max_days: int
) -> list[int]:
    """Days each trial needs to deliver ``items`` (``max_days + 1``: did not finish in time).

    Equivalent to drawing whole days until the running total reaches ``items``, but its cost
    follows the deliveries, not the days, which matters on sparse samples (one delivery in 90
    days, forecast for 30 items: 2,700 days per trial). A drawn day is zero with probability
    q = zero days / all days, and otherwise one of the non-zero days, uniformly. So a trial draws
    its non-zero days until their running total reaches ``items`` (K of them, K <= ``items``),
    then adds the zero days falling before the K-th: K independent geometric gaps with
    P(gap >= g) = q ** g, each drawn as floor(log(1 - U) / log q).
    """
    nonzero = [x for x in sample if x]
    q = (len(sample) - len(nonzero)) / len(sample)
    inv_log_q = 1.0 / math.log(q) if q > 0 else 0.0
    mean_nonzero = sum(nonzero) / len(nonzero)
    # One draw covers most trials; the rare short ones draw another block.
    block = min(items, math.ceil(1.25 * items / mean_nonzero) + 4)
    choices, uniform, log = rng.choices, rng.random, math.log
    never = max_days + 1
    needed: list[int] = []
    for _ in range(trials):
        cumulative = list(itertools.accumulate(choices(nonzero, k=block)))
        while cumulative[-1] < items:
            base = cumulative[-1]
            cumulative.extend(base + x for x in itertools.accumulate(choices(nonzero, k=block)))
        delivering_days = bisect.bisect_left(cumulative, items) + 1
        days = delivering_days
        if q > 0 and days <= max_days:
            # log(1 - U) <= 0 and 1 / log q < 0, so int() is floor() here.
            days += sum(int(log(1.0 - uniform()) * inv_log_q) for _ in range(delivering_days))
        needed.append(days if days <= max_days else never)
    return needed


def _utc(at: dt.datetime) -> dt.datetime:
    """``at`` in UTC. Aware datetimes sharing one zone subtract and compare by wall clock in
    Python (a DST night would be 24 h); in UTC the arithmetic is elapsed time."""
    return at.astimezone(dt.UTC)


def _checked_sample(daily_throughput: Sequence[int]) -> list[int]:
    sample = list(daily_throughput)
    if not sample:
        raise NoThroughput("the throughput sample is empty")
    for count in sample:
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"daily throughput must be whole counts >= 0, not {count!r}")
    return sample


def _check_trials(trials: int) -> None:
    if trials < 1:
        raise ValueError(f"trials must be >= 1, not {trials}")


def _checked_confidences(confidences: Iterable[int]) -> tuple[int, ...]:
    wanted = tuple(confidences)
    for c in wanted:
        percentile_index(1, c)  # validates 0..100
    return wanted
