"""The flow dashboard's charts: for each, its data over a date range, as the chart draws it and
as the CSV download gives it (the same ``columns`` and ``rows``), with a line on how to read it.

Everything is read from the metric snapshots (``metrics.selectors``) or, for the figures the
snapshots don't hold per day (bottleneck, blockers, readiness), computed by the same calculators
as the board summary over the range asked for (``metrics.summary.window_flow_between``).
Definitions: docs/metrics.md.
"""

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from boards.models import Block, Board, WorkItem
from metrics import loaders, selectors, summary
from metrics.calculators import stats
from metrics.models import ItemMetrics
from readiness.models import Track

PERCENTS = (50, 70, 85, 95)
DEFAULT_DAYS = 90
SECONDS_PER_DAY = 86_400.0


def default_range(board: Board, now: dt.datetime) -> tuple[dt.date, dt.date]:
    today = now.astimezone(board.tz).date()
    return today - dt.timedelta(days=DEFAULT_DAYS - 1), today


def _instant(board: Board, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), board.tz)


def _days(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / SECONDS_PER_DAY, 2)


def _readings(values: list[float]) -> dict[str, Any]:
    ordered = sorted(values)
    return {str(p): stats.percentile(ordered, p) for p in PERCENTS} if ordered else {}


def cfd(board, since, until, now) -> dict:
    info = loaders.board_info(board)
    names = [c.name for c in info.columns]
    days = selectors.cfd(board, info, since, until) if selectors.has_history(board) else []
    return {
        "title": "Cumulative flow",
        "how": "Each band is a column; its thickness is the work in it on that day. A band that "
        "widens is where work piles up; the top line is arrivals, the delivery band departures.",
        "columns": ["day", *names],
        "rows": [[d["day"].isoformat(), *(d["columns"][n] for n in names)] for d in days],
        "stages": [c.stage for c in info.columns],
    }


def cycle_scatter(board, since, until, now) -> dict:
    items = selectors.delivered_items(board, since=since, until=until)
    rows = [
        [r["item__key"], r["item__kind"], r["delivered_at"].astimezone(board.tz).date().isoformat(),
         r["cycle_days"]]
        for r in items.values("item__key", "item__kind", "delivered_at", "cycle_days")
    ]  # fmt: skip
    return {
        "title": "Cycle time scatterplot",
        "how": "Each dot is an item delivered on that day; the lines are the 50th, 70th, 85th "
        "and 95th percentiles: 85% of the items finished in the 85% line's days or less.",
        "columns": ["key", "kind", "delivered", "cycle_days"],
        "rows": rows,
        "percentiles": _readings([r[3] for r in rows]),
    }


def throughput(board, since, until, now) -> dict:
    period = "week" if (until - since).days > 120 else "day"
    series = (
        selectors.throughput(board, since, until, period) if selectors.has_history(board) else []
    )
    label = "week_start" if period == "week" else "day"
    rows = [[s[label].isoformat(), s["count"]] for s in series]
    counts = [r[1] for r in rows]
    return {
        "title": f"Throughput per {period}",
        "how": f"Items delivered each {period}; days with none are real data and are kept. The "
        "dashed line is the median: a run chart shows whether delivery is steady.",
        "columns": [label, "delivered"],
        "rows": rows,
        "median": stats.median(counts) if counts else None,
    }


def ageing(board, since, until, now) -> dict:
    if not selectors.has_history(board):
        return {"title": "Ageing work in progress", "how": "", "columns": [], "rows": []}
    info = loaders.board_info(board)
    report = selectors.aging(board, info, now)
    return {
        "title": "Ageing work in progress",
        "how": "Each dot is an item in progress, in its column, at its age in days. The bands are "
        "the cycle-time percentiles of recent deliveries: a dot above the 85% band is older than "
        "85% of finished items were, and needs attention.",
        "columns": ["key", "title", "column", "age_days"],
        "rows": [[i["key"], i["title"], i["column"], i["age_days"]] for i in report["items"]],
        "column_order": report["columns"],
        "percentiles": (report["cycle_time"] or {}).get("percentiles") or {},
    }


def time_in_column(board, since, until, now) -> dict:
    if not selectors.has_history(board):
        return {"title": "Time in column", "how": "", "columns": [], "rows": []}
    info = loaders.board_info(board)
    report = selectors.time_in_column(board, info, since, until, now)
    flow = summary.window_flow_between(
        board, _instant(board, since), _instant(board, until + dt.timedelta(days=1)), now
    )
    top = flow["bottleneck"]["top"]
    return {
        "title": "Time in column",
        "how": "Median and 85th percentile days that the items delivered in the range spent in "
        "each column. The bottleneck is the column that held the most work on average.",
        "columns": ["column", "items", "median_days", "p85_days", "wip_now"],
        "rows": [
            [c["column"], c["items"], c["median_days"], c["p85_days"], c["wip"]]
            for c in report["columns"]
            if c["items"] is not None
        ],
        "bottleneck": top["name"] if top else None,
        "evidence": top["evidence"] if top else "No item sat between commitment and delivery.",
    }


def flow_efficiency(board, since, until, now) -> dict:
    items = ItemMetrics.objects.filter(
        board=board,
        delivered_at__gte=_instant(board, since),
        delivered_at__lt=_instant(board, until + dt.timedelta(days=1)),
        cycle_seconds__gt=0,
    )
    weeks: dict[dt.date, list[float]] = {}
    for delivered, active, cycle in items.values_list(
        "delivered_at", "active_seconds", "cycle_seconds"
    ):
        day = delivered.astimezone(board.tz).date()
        monday = day - dt.timedelta(days=day.weekday())
        totals = weeks.setdefault(monday, [0, 0.0, 0.0])
        totals[0] += 1
        totals[1] += active or 0.0
        totals[2] += cycle
    rows = [
        [monday.isoformat(), n, _days(active), _days(cycle), round(active / cycle, 3)]
        for monday, (n, active, cycle) in sorted(weeks.items())
    ]
    total = items.aggregate(active=Sum("active_seconds"), cycle=Sum("cycle_seconds"))
    overall = total["active"] / total["cycle"] if total["cycle"] else None
    return {
        "title": "Flow efficiency",
        "how": "The share of the cycle time that items delivered each week spent being worked "
        "on (active columns, not blocked); the rest they waited in queues or were blocked.",
        "columns": ["week_start", "delivered", "active_days", "cycle_days", "efficiency"],
        "rows": rows,
        "overall": overall,
    }


def distribution(board, since, until, now) -> dict:
    kinds = dict(WorkItem.Kind.choices)
    delivered = selectors.delivered_items(board, since=since, until=until)
    counts: dict[str, int] = {}
    for kind in delivered.values_list("item__kind", flat=True):
        counts[kind] = counts.get(kind, 0) + 1
    total = sum(counts.values())
    rows = [
        [kinds[k], counts[k], round(counts[k] / total, 3)]
        for k in WorkItem.Kind.values
        if k in counts
    ]
    return {
        "title": "Flow distribution",
        "how": "What the delivered work was: features against defects, risks, debt and customer "
        "escalations. A rising share of defects and escalations is work that quality cost.",
        "columns": ["kind", "delivered", "share"],
        "rows": rows,
    }


def _window(board, since, until, now) -> dict:
    return summary.window_flow_between(
        board, _instant(board, since), _instant(board, until + dt.timedelta(days=1)), now
    )


def blockers(board, since, until, now) -> dict:
    reasons = dict(Block.Reason.choices)
    tracks = dict(Track.choices)
    clusters = _window(board, since, until, now)["blockers"]
    rows = [
        ["reason", reasons.get(name, name), round(g["days"], 2), g["blocks"], g["items"]]
        for name, g in clusters["by_reason"].items()
    ] + [
        ["track", tracks.get(name, name), round(g["days"], 2), g["blocks"], g["items"]]
        for name, g in clusters["by_track"].items()
    ]
    return {
        "title": "Blocker clusters",
        "how": "Blocked days in the range by reason, and by readiness track for blocks that held "
        "up a criterion: where removing one cause would free the most time.",
        "columns": ["group", "name", "blocked_days", "blocks", "items"],
        "rows": rows,
    }


def readiness_lead(board, since, until, now) -> dict:
    items = ItemMetrics.objects.filter(
        board=board,
        delivered_at__gte=_instant(board, since),
        delivered_at__lt=_instant(board, until + dt.timedelta(days=1)),
        readiness_lead_seconds__isnull=False,
    ).order_by("delivered_at")
    rows = [
        [key, delivered.astimezone(board.tz).date().isoformat(), _days(seconds)]
        for key, delivered, seconds in items.values_list(
            "item__key", "delivered_at", "readiness_lead_seconds"
        )
    ]
    return {
        "title": "Readiness lead time",
        "how": "For each delivered item, the days from entering business readiness to delivery: "
        "how long the business took to be ready once the build was done.",
        "columns": ["key", "delivered", "readiness_days"],
        "rows": rows,
        "percentiles": _readings([r[2] for r in rows]),
    }


def _tracks(board, since, until, now) -> list[list]:
    labels = dict(Track.choices)
    tracks = (_window(board, since, until, now)["readiness"] or {}).get("tracks", {})
    return [
        [labels.get(name, name), t["criteria"], t["median_wait_days"], t["critical"],
         t["critical_share"]]
        for name, t in tracks.items()
    ]  # fmt: skip


def criterion_wait(board, since, until, now) -> dict:
    return {
        "title": "Criterion wait per track",
        "how": "Median days a readiness criterion waited, from its item entering readiness (or "
        "its addition) to being met or waived, for the items delivered in the range.",
        "columns": ["track", "criteria", "median_wait_days", "critical", "critical_share"],
        "rows": _tracks(board, since, until, now),
    }


def critical_track(board, since, until, now) -> dict:
    return {
        "title": "How often each track was critical",
        "how": "Of the items delivered in the range, the share whose last readiness criterion to "
        "be met (what delivery waited for) belonged to each track.",
        "columns": ["track", "criteria", "median_wait_days", "critical", "critical_share"],
        "rows": _tracks(board, since, until, now),
    }


CHARTS: dict[str, Callable[..., dict]] = {
    "cfd": cfd,
    "cycle-scatter": cycle_scatter,
    "throughput": throughput,
    "ageing": ageing,
    "time-in-column": time_in_column,
    "flow-efficiency": flow_efficiency,
    "distribution": distribution,
    "blockers": blockers,
    "readiness-lead": readiness_lead,
    "criterion-wait": criterion_wait,
    "critical-track": critical_track,
}


def chart(name: str, board: Board, since: dt.date, until: dt.date, now=None) -> dict:
    now = now or timezone.now()
    data = CHARTS[name](board, since, until, now)
    return {"chart": name, "since": since.isoformat(), "until": until.isoformat(), **data}
