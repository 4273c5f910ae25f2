"""Properties of the calculators on random histories (hypothesis)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.calculators.items import item_flow
from metrics.calculators.series import SeriesAccumulator
from tests.metrics.flowdata import board, day, days_for

INFO = board(
    ["Backlog", "Ready", "Build", "Review", "Done", "Live"],
    "Ready",
    "Done",
    activities={"Review": "waiting"},
)
IDS = [c.id for c in INFO.columns]
NOW = day(80)

# An item: its creation position, then (position, hours after the previous move) steps, and
# whether it is discarded some hours after its last move.
item_history = st.tuples(
    st.integers(0, 2),
    st.lists(st.tuples(st.integers(0, 5), st.floats(0.5, 200)), max_size=10),
    st.one_of(st.none(), st.floats(1, 300)),
    st.floats(0, 30),
)


def build(history):
    start, steps, discard_after, first_day = history
    at = day(1 + first_day)
    moves = [(IDS[start], at)]
    for position, hours in steps:
        at += hours * 3600
        if at >= NOW:
            break
        moves.append((IDS[position], at))
    discarded = None
    if discard_after is not None and moves[-1][1] + discard_after * 3600 < NOW:
        discarded = moves[-1][1] + discard_after * 3600
    return moves, discarded


@settings(max_examples=150, deadline=None)
@given(st.lists(item_history, min_size=1, max_size=25))
def test_cfd_bands_never_decrease_and_wip_is_started_less_delivered_less_discarded(histories):
    days = days_for(INFO, day(0), NOW)
    series = SeriesAccumulator(INFO, days)
    flows = []
    for n, history in enumerate(histories):
        moves, discarded = build(history)
        result = item_flow(INFO, days, n, moves, (), NOW, discarded)
        series.add(result, moves)
        flows.append(result)
    built = series.build()
    for values in built.cfd.values():
        assert all(a <= b for a, b in zip(values, values[1:], strict=False))
    # Bands are ordered: an entry date of a later column is never before an earlier one's.
    for earlier, later in zip(IDS, IDS[1:], strict=False):
        assert all(a >= b for a, b in zip(built.cfd[earlier], built.cfd[later], strict=True))
    started = delivered = discarded = 0
    for i in range(days.days):
        started += built.started[i]
        delivered += built.delivered[i]
        discarded += sum(
            1
            for f in flows
            if f.discarded_at is not None and f.started_at and days.index(f.discarded_at) == i
        )
        assert built.wip[i] == started - delivered - discarded
        assert built.wip[i] >= 0
    # Every item sits in exactly one column at the end of each day of its life.
    for i in range(days.days):
        end = days.end_of(i)
        alive = sum(
            1
            for f in flows
            if f.created_at < end and (f.discarded_at is None or days.index(f.discarded_at) > i)
        )
        assert sum(values[i] for values in built.column_wip.values()) == alive


@settings(max_examples=300, deadline=None)
@given(item_history)
def test_stays_clipped_to_the_lead_time_sum_to_it(history):
    moves, _ = build(history)
    result = item_flow(INFO, days_for(INFO, day(0), NOW), 1, moves, (), NOW)
    if result.delivered_at is None:
        return
    total = 0.0
    for i, (_, start) in enumerate(moves):
        end = moves[i + 1][1] if i + 1 < len(moves) else NOW
        lo, hi = max(start, result.created_at), min(end, result.delivered_at)
        total += max(0.0, hi - lo)
    assert abs(total - result.lead_seconds) < 1e-6
    if result.cycle_seconds:
        assert abs(result.active_seconds + result.waiting_seconds - result.cycle_seconds) < 1e-6


@settings(max_examples=200, deadline=None)
@given(item_history)
def test_entry_dates_rise_through_the_columns(history):
    moves, _ = build(history)
    result = item_flow(INFO, days_for(INFO, day(0), NOW), 1, moves, (), NOW)
    dates = [result.entries[i] for i in IDS]
    reached = [d for d in dates if d is not None]
    assert reached == sorted(reached)
    assert dates[: len(reached)] == reached  # no gaps: only the columns above the path are empty
