"""The board summary: the headline figures, computed from the snapshot tables and stored in
``BoardMetrics.summary`` for the API, the dashboard and the admin.

Windowed sums and cycle-time lists are read from ``BoardDay`` and ``ItemMetrics`` by the
database. The bottleneck, blocker and readiness figures need the moves, blocks and criteria of
the items that were in flow during the window only, not the whole history.
"""

import datetime as dt
from typing import Any

from django.conf import settings
from django.db.models import Q, Sum
from django.utils import timezone

from boards.models import Block, Board, Column, Transition, WorkItem
from metrics import loaders
from metrics.calculators import bottlenecks, distribution, forecast, readiness, stats
from metrics.calculators.types import BlockSpan, CriterionInfo, RefusalInfo
from metrics.models import BoardDay, BoardMetrics, ItemMetrics
from readiness.models import AcceptanceCriterion, CriterionChange, GateRefusal

WINDOW_DAYS = 30
CYCLE_WINDOW_DAYS = 90
SLE_PERCENT = 85


def jsonable(value: Any) -> Any:
    """Dates and times as ISO strings, recursively; dict keys as strings."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def throughput_sample(board: Board, today: dt.date, days: int | None = None) -> list[int]:
    """Daily throughput of the ``days`` complete days before ``today``, zero days included
    (docs/metrics.md "Forecasts": the sample)."""
    days = days or settings.METRICS_FORECAST_SAMPLE_DAYS
    start = today - dt.timedelta(days=days)
    counts = dict(
        BoardDay.objects.filter(board=board, day__gte=start, day__lt=today).values_list(
            "day", "delivered"
        )
    )
    return [counts.get(start + dt.timedelta(days=i), 0) for i in range(days)]


def compute_summary(
    board: Board, now: dt.datetime | None = None, flow: dict | None = None
) -> dict[str, Any]:
    """The summary as of ``now``. ``flow`` is ``window_flow(board.pk, now)`` when the caller
    already has it (computed alongside a recompute, see ``refresh_summary``)."""
    now = now or timezone.now()
    info = loaders.board_info(board)
    today = now.astimezone(info.tz).date()
    snapshots = ItemMetrics.objects.filter(board=board)
    if not snapshots.exists():
        return {"has_history": False, "detail": "This board has no history yet."}

    window_start = now - dt.timedelta(days=WINDOW_DAYS)
    days = BoardDay.objects.filter(board=board)
    current = days.filter(day__lte=today).order_by("-day").first()

    def delivered_since(n: int) -> int:
        since = today - dt.timedelta(days=n - 1)
        return days.filter(day__gte=since, day__lte=today).aggregate(n=Sum("delivered"))["n"] or 0

    delivered_recent = snapshots.filter(
        delivered_at__gte=now - dt.timedelta(days=CYCLE_WINDOW_DAYS), cycle_days__isnull=False
    )
    cycle_days = sorted(delivered_recent.values_list("cycle_days", flat=True))
    in_window = snapshots.filter(delivered_at__gte=window_start, delivered_at__lte=now)
    efficiency = in_window.filter(cycle_seconds__gt=0).aggregate(
        active=Sum("active_seconds"), cycle=Sum("cycle_seconds")
    )
    delivered_items = WorkItem.objects.filter(pk__in=in_window.values("item_id"))
    kinds = list(delivered_items.values_list("kind", flat=True))
    due = [
        (timezone.localtime(delivered, info.tz).date(), due_date)
        for delivered, due_date in delivered_items.values_list("delivered_at", "due_date")
    ]

    if flow is None:
        flow = _window_flow(board, info, window_start, now)
    sample = throughput_sample(board, today)
    summary: dict[str, Any] = {
        "has_history": True,
        "as_of": now,
        "window_days": WINDOW_DAYS,
        "wip": current.wip if current else 0,
        "throughput": {"last_7_days": delivered_since(7), "last_30_days": delivered_since(30)},
        "cycle_time": {
            "window_days": CYCLE_WINDOW_DAYS,
            "items": len(cycle_days),
            "percentiles": stats.percentiles(cycle_days) if cycle_days else None,
        },
        "sle": stats.service_level_expectation(cycle_days, SLE_PERCENT),
        "flow_efficiency": (
            efficiency["active"] / efficiency["cycle"] if efficiency["cycle"] else None
        ),
        "bottleneck": flow["bottleneck"],
        "blockers": flow["blockers"],
        "readiness": flow["readiness"],
        "flow_distribution": distribution.flow_distribution(kinds),
        "on_time": distribution.on_time_rate(due),
        "forecast_sample": {"days": len(sample), "delivered": sum(sample)},
    }
    if sum(sample):
        summary["forecast_next_14_days"] = forecast.how_many_by(sample, 14)
    return jsonable(summary)


def _window_flow(
    board: Board,
    info,
    window_start: dt.datetime,
    now: dt.datetime,
    window_end: dt.datetime | None = None,
) -> dict:
    """Bottleneck, blocker clusters and readiness over the window [start, end or now), from
    the items in flow."""
    window_end = min(window_end or now, now)
    in_flow = ItemMetrics.objects.filter(board=board).filter(
        Q(delivered_at__isnull=True) | Q(delivered_at__gte=window_start),
        Q(discarded_at__isnull=True) | Q(discarded_at__gte=window_start),
    )
    # A subquery, not a list of ids: a board with 100,000 open items would send 100,000 params.
    ids = in_flow.values("item_id")
    # The moves matter only of items that reached the commitment column or a gate: a stay
    # before both counts in no bottleneck column and passes no gate. On most boards that
    # leaves out the backlog, often most of the items.
    gates = Column.objects.filter(board=board, guarding_criteria__isnull=False)
    first = min([info.commitment_position, *gates.values_list("position", flat=True).distinct()])
    reached = Transition.objects.filter(
        board=board, to_column__in=Column.objects.filter(board=board, position__gte=first)
    ).values("item_id")
    moves = loaders.moves_of_items(board.pk, in_flow.filter(item_id__in=reached).values("item_id"))
    discarded = dict(
        WorkItem.objects.filter(pk__in=ids, discarded_at__isnull=False).values_list(
            "id", "discarded_at"
        )
    )
    blocks = [
        BlockSpan(*row)
        for row in Block.objects.filter(item_id__in=ids)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=window_start))
        .values_list("item_id", "started_at", "ended_at", "reason", "criterion__track")
    ]
    criteria = [
        CriterionInfo(*row)
        for row in AcceptanceCriterion.objects.filter(item_id__in=ids).values_list(
            "id",
            "item_id",
            "title",
            "track",
            "category",
            "required",
            "gate_column_id",
            "status",
            "added_at",
            "resolved_at",
        )
    ]
    changes: dict[int, list[tuple[dt.datetime, str]]] = {}
    for criterion_id, at, to_status in (
        CriterionChange.objects.filter(criterion__item_id__in=ids)
        .order_by("criterion_id", "at", "id")
        .values_list("criterion_id", "at", "to_status")
    ):
        changes.setdefault(criterion_id, []).append((at, to_status))
    refusals = [
        RefusalInfo(*row)
        for row in GateRefusal.objects.filter(item_id__in=ids).values_list(
            "item_id", "gate_column_id", "at"
        )
    ]
    report = bottlenecks.bottleneck_report(info, moves, window_start, window_end, now, discarded)
    return {
        "bottleneck": {"top": report["bottleneck"], "columns": report["columns"]},
        "blockers": bottlenecks.blocker_clusters(blocks, now, window_start, window_end),
        "readiness": readiness.readiness_summary(
            info,
            moves,
            criteria,
            refusals,
            now,
            window_start=window_start,
            window_end=window_end,
            discarded=list(discarded),
            changes=changes,
        ),
    }


def window_flow_between(
    board: Board, start: dt.datetime, end: dt.datetime, now: dt.datetime | None = None
) -> dict:
    """Bottleneck, blocker clusters and readiness over any window [start, end) (the dashboard's
    date ranges)."""
    now = now or timezone.now()
    return jsonable(_window_flow(board, loaders.board_info(board), start, now, end))


def window_flow(board_id: int, now: dt.datetime) -> dict:
    """The part of the summary read from the log alone (bottleneck, blockers, readiness over the
    window ending ``now``): it needs no snapshot, so it can be computed while they are."""
    board = Board.objects.get(pk=board_id)
    info = loaders.board_info(board)
    return _window_flow(board, info, now - dt.timedelta(days=WINDOW_DAYS), now)


def refresh_summary(
    board: Board, now: dt.datetime | None = None, flow: dict | None = None
) -> dict[str, Any]:
    """Recompute and store the summary of ``board`` (``flow``: see ``compute_summary``)."""
    now = now or timezone.now()
    summary = compute_summary(board, now, flow)
    BoardMetrics.objects.filter(board=board).update(summary=summary, summary_computed_at=now)
    return summary
