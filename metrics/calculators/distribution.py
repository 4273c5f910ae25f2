"""Flow distribution, on-time delivery and throughput series (docs/metrics.md, "Counts").

- "Flow distribution: the share of items delivered in a window by kind (feature, defect, risk,
  debt, escalation), as in the Flow Framework."
- "On-time delivery rate: of the items delivered in a window that have a due date, the share
  delivered on or before their due date."
- "Throughput on day D: items whose delivered_at falls on D. Weekly throughput starts on Monday.
  Days with zero deliveries are real data and are kept."

Dates here are already local dates in the board's zone (``BoardInfo.local_date``).
"""

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from typing import Any

KINDS: tuple[str, ...] = ("feature", "defect", "risk", "debt", "escalation")


def flow_distribution(kinds: Iterable[str]) -> dict[str, Any]:
    """The share of delivered items by kind, over the five Flow Framework kinds.

    Returns ``{"shares": {kind: float}, "counts": {kind: int}, "total": int}``. All five kinds are
    always present, in ``KINDS`` order, zero when absent; with no items every share is 0.0 and
    ``total`` is 0. Any other kind raises ValueError rather than being silently dropped, which
    would inflate the other shares.
    """
    counts = Counter(kinds)
    unknown = sorted(set(counts) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown item kinds {unknown}; expected one of {KINDS}")
    total = sum(counts.values())
    return {
        "shares": {k: counts[k] / total if total else 0.0 for k in KINDS},
        "counts": {k: counts[k] for k in KINDS},
        "total": total,
    }


def on_time_rate(pairs: Iterable[tuple[dt.date, dt.date | None]]) -> dict[str, Any]:
    """The share of delivered items with a due date that were delivered on or before it.

    ``pairs`` holds (delivered date, due date or None) for the items delivered in the window.
    Returns ``{"delivered", "with_due_date", "on_time", "late", "rate"}``; ``rate`` is None when
    no item has a due date (there is no rate to report, and 0% would be a false alarm).
    """
    delivered = with_due = on_time = 0
    for delivered_on, due in pairs:
        delivered += 1
        if due is None:
            continue
        with_due += 1
        if delivered_on <= due:
            on_time += 1
    return {
        "delivered": delivered,
        "with_due_date": with_due,
        "on_time": on_time,
        "late": with_due - on_time,
        "rate": on_time / with_due if with_due else None,
    }


def throughput_per_day(
    delivered_dates: Iterable[dt.date], start: dt.date, end: dt.date
) -> list[tuple[dt.date, int]]:
    """(day, deliveries) for every day from ``start`` to ``end`` inclusive, zero days kept.

    Deliveries outside the range are ignored. Raises ValueError when ``end`` is before ``start``.
    """
    _check_range(start, end)
    counts = Counter(d for d in delivered_dates if start <= d <= end)
    days = (end - start).days + 1
    return [(day, counts[day]) for day in (start + dt.timedelta(days=i) for i in range(days))]


def throughput_per_week(
    delivered_dates: Iterable[dt.date], start: dt.date, end: dt.date
) -> list[tuple[dt.date, int]]:
    """(Monday, deliveries) for every week touching ``start``..``end`` inclusive, zero weeks kept.

    Weeks start on Monday and are labelled by it. Only deliveries within ``start``..``end`` are
    counted, so the first and last weeks hold only their days inside the range.
    """
    _check_range(start, end)
    first_monday = start - dt.timedelta(days=start.weekday())
    last_monday = end - dt.timedelta(days=end.weekday())
    counts = Counter(
        d - dt.timedelta(days=d.weekday()) for d in delivered_dates if start <= d <= end
    )
    weeks = (last_monday - first_monday).days // 7 + 1
    mondays = (first_monday + dt.timedelta(weeks=i) for i in range(weeks))
    return [(monday, counts[monday]) for monday in mondays]


def _check_range(start: dt.date, end: dt.date) -> None:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
