"""Reads of the metric snapshots, for the metrics API and ``manage.py export_metrics``.

Everything here reads the snapshot tables (``ItemMetrics``, ``BoardMetrics``, ``BoardDay``,
``ColumnDay``); nothing recomputes a board. Each reader runs a fixed number of queries whatever
the number of items. Definitions are those of ``docs/metrics.md``: days are calendar days in the
board's zone, and elapsed days follow the +1 convention (started and finished on the same day:
1 day). Percentiles use ``metrics.calculators.stats`` (no interpolation).
"""

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from boards.models import Board, WorkItem
from flowboard.errors import InvalidInput
from metrics.calculators import distribution, forecast, stats
from metrics.calculators.types import BoardInfo
from metrics.models import BoardDay, BoardMetrics, ColumnDay, ItemMetrics
from metrics.summary import CYCLE_WINDOW_DAYS, compute_summary, jsonable, throughput_sample

SECONDS_PER_DAY = 86_400.0
NO_HISTORY = {"has_history": False, "detail": "This board has no history yet."}
FORECAST_MAX_DAYS = 3650  # the horizon of ``forecast.when_done``
# "How many by date D" draws (D - today) days per trial, 10,000 trials: two years is ~2 s.
FORECAST_DATE_MAX_DAYS = 730


# --- the board and its state -----------------------------------------------------------------


def entry_time(value: float) -> dt.datetime:
    """An entry date as ``ItemMetrics.entries`` stores it (epoch seconds), as a UTC datetime."""
    return dt.datetime.fromtimestamp(value, dt.UTC)


def readable_board(user, slug: str) -> Board | None:
    """The board ``slug`` if ``user`` may read its metrics (a member in any role, or a
    superuser), else None, so that a board the user can't see looks like no board at all.

    One query: the board, its ``BoardMetrics`` row and whether it has item snapshots
    (``has_snapshots``).
    """
    boards = Board.objects.select_related("metrics").annotate(
        has_snapshots=Exists(ItemMetrics.objects.filter(board=OuterRef("pk")))
    )
    if not user.is_superuser:
        boards = boards.filter(memberships__user=user)
    return boards.filter(slug=slug).first()


def board_state(board: Board) -> BoardMetrics | None:
    """The board's snapshot state, None before its first computation (no query when the board
    came from ``readable_board``)."""
    try:
        return board.metrics
    except BoardMetrics.DoesNotExist:
        return None


def has_history(board: Board) -> bool:
    """Whether the snapshots hold anything to report: a computed board with at least one item."""
    snapshots = getattr(board, "has_snapshots", None)
    if snapshots is None:
        snapshots = ItemMetrics.objects.filter(board=board).exists()
    return bool(snapshots) and board_state(board) is not None


def today(board: Board, now: dt.datetime | None = None) -> dt.date:
    return (now or timezone.now()).astimezone(board.tz).date()


def day_start(board: Board, day: dt.date) -> dt.datetime:
    """The instant ``day`` begins in the board's zone."""
    return dt.datetime.combine(day, dt.time(), board.tz)


def local(board: Board, at: dt.datetime | None) -> dt.datetime | None:
    return None if at is None else at.astimezone(board.tz)


def _percentiles(values: Iterable[float]) -> dict[str, Any] | None:
    values = list(values)
    return jsonable(stats.percentiles(values)) if values else None


# --- summary and readiness -------------------------------------------------------------------


def board_summary(board: Board, now: dt.datetime | None = None) -> dict[str, Any]:
    """The stored summary (``metrics.summary.refresh_summary``) with ``computed_at``.

    When the board has snapshots but no summary yet (or one stored before it had history), the
    summary is computed from the snapshots and returned, not stored: writes belong to the worker.
    Adds ``readiness.critical_track``.
    """
    if not has_history(board):
        return dict(NO_HISTORY)
    state = board_state(board)
    summary = state.summary
    if summary.get("has_history"):
        result = {**summary, "computed_at": state.summary_computed_at, "stored": True}
    else:
        now = now or timezone.now()
        result = {**compute_summary(board, now), "computed_at": now, "stored": False}
    if result.get("readiness") is not None:
        readiness = result["readiness"]
        result["readiness"] = {**readiness, "critical_track": critical_track(readiness)}
    return result


def critical_track(readiness: dict[str, Any]) -> dict[str, Any] | None:
    """The track that was most often the critical one (highest ``critical_share``; ties go to
    the track name first in alphabetical order), None when no delivered item had one."""
    tracks = [
        (name, figures)
        for name, figures in (readiness.get("tracks") or {}).items()
        if figures.get("critical")
    ]
    if not tracks:
        return None
    name, figures = min(tracks, key=lambda t: (-t[1]["critical_share"], t[0]))
    return {"track": name, **figures}


def readiness_report(board: Board, info: BoardInfo) -> dict[str, Any]:
    """The summary's readiness block (gates named) and blocker clusters."""
    summary = board_summary(board)
    if not summary.get("has_history"):
        return {**summary, "readiness": None, "blockers": None}
    names = {str(c.id): c.name for c in info.columns}
    readiness = dict(summary["readiness"])
    readiness["gates"] = {
        gate_id: {"column": names.get(gate_id), **figures}
        for gate_id, figures in readiness.get("gates", {}).items()
    }
    return {
        "has_history": True,
        "as_of": summary["as_of"],
        "computed_at": summary["computed_at"],
        "window_days": summary["window_days"],
        "readiness": readiness,
        "blockers": summary["blockers"],
    }


# --- cycle times -----------------------------------------------------------------------------


def delivered_items(
    board: Board,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    kind: str | None = None,
) -> QuerySet[ItemMetrics]:
    """Snapshots of the items delivered (delivered_at's local date) within [since, until], in
    delivery order; discarded and undelivered items are left out."""
    items = ItemMetrics.objects.filter(
        board=board, delivered_at__isnull=False, cycle_days__isnull=False
    )
    if since is not None:
        items = items.filter(delivered_at__gte=day_start(board, since))
    if until is not None:
        items = items.filter(delivered_at__lt=day_start(board, until + dt.timedelta(days=1)))
    if kind is not None:
        items = items.filter(item__kind=kind)
    return items.order_by("delivered_at", "item_id")


CYCLE_ROW_FIELDS = (
    "item__key",
    "item__title",
    "item__kind",
    "started_at",
    "delivered_at",
    "cycle_days",
    "cycle_seconds",
    "lead_days",
)


def cycle_time_rows(items: QuerySet[ItemMetrics]) -> QuerySet:
    """The rows of ``delivered_items`` as dicts (one query when evaluated)."""
    return items.values(*CYCLE_ROW_FIELDS)


def cycle_time_row(board: Board, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": row["item__key"],
        "title": row["item__title"],
        "kind": row["item__kind"],
        "started_at": local(board, row["started_at"]),
        "delivered_at": local(board, row["delivered_at"]),
        "cycle_days": row["cycle_days"],
        "cycle_seconds": row["cycle_seconds"],
        "lead_days": row["lead_days"],
    }


def cycle_time_percentiles(items: QuerySet[ItemMetrics]) -> dict[str, Any] | None:
    """p50/70/85/95 of the cycle days of ``items`` (one query), None when there are none."""
    return _percentiles(items.values_list("cycle_days", flat=True))


def recent_cycle_days(board: Board, now: dt.datetime) -> list[int]:
    """Cycle days of the items delivered in the last ``CYCLE_WINDOW_DAYS`` days, as in the
    summary's cycle time."""
    since = now - dt.timedelta(days=CYCLE_WINDOW_DAYS)
    return list(
        ItemMetrics.objects.filter(
            board=board, delivered_at__gte=since, cycle_days__isnull=False
        ).values_list("cycle_days", flat=True)
    )


# --- daily series ----------------------------------------------------------------------------


def series_range(
    board: Board, since: dt.date | None, until: dt.date | None
) -> tuple[dt.date, dt.date]:
    """The days asked for, within the days the series are filled for. ``until`` defaults to (and
    is capped at) the last filled day: later days are not known yet, not zero."""
    state = board_state(board)
    start = since or state.first_day
    end = min(until or state.last_day, state.last_day)
    return start, end


def cfd(board: Board, info: BoardInfo, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
    """Per day from ``start`` to ``end``: {day, columns: {column name: CFD count}}, columns in
    board order (``ColumnDay.cfd``). Days without rows (before the first move) are left out."""
    names = {c.id: c.name for c in info.columns}
    by_day: dict[dt.date, dict[int, int]] = {}
    for day, column_id, count in (
        ColumnDay.objects.filter(board=board, day__gte=start, day__lte=end)
        .order_by("day")
        .values_list("day", "column_id", "cfd")
    ):
        by_day.setdefault(day, {})[column_id] = count
    return [
        {"day": day, "columns": {names[c.id]: counts.get(c.id, 0) for c in info.columns}}
        for day, counts in by_day.items()
    ]


def throughput(
    board: Board, start: dt.date, end: dt.date, period: str = "day"
) -> list[dict[str, Any]]:
    """Deliveries per day (``BoardDay.delivered``), or per week starting Monday, from ``start``
    to ``end``. Zero days and weeks are kept; a week cut by the range counts its days inside."""
    if end < start:
        return []
    counts = dict(
        BoardDay.objects.filter(board=board, day__gte=start, day__lte=end).values_list(
            "day", "delivered"
        )
    )
    dates = [day for day, n in counts.items() for _ in range(n)]
    if period == "week":
        weeks = distribution.throughput_per_week(dates, start, end)
        return [{"week_start": monday, "count": n} for monday, n in weeks]
    return [
        {"day": day, "count": n} for day, n in distribution.throughput_per_day(dates, start, end)
    ]


# --- work in progress ------------------------------------------------------------------------


def aging(board: Board, info: BoardInfo, now: dt.datetime) -> dict[str, Any]:
    """The items in progress (started, not delivered, not discarded) with their age computed
    now: (today - local date started) + 1 days, oldest first; and the percentiles of the cycle
    time of the items delivered in the last 90 days, to colour the ages against."""
    names = {c.id: c.name for c in info.columns}
    positions = info.positions
    current = today(board, now)
    wip = (
        ItemMetrics.objects.filter(
            board=board,
            started_at__isnull=False,
            delivered_at__isnull=True,
            discarded_at__isnull=True,
        )
        .order_by("started_at", "item_id")
        .values_list("item__key", "item__title", "item__kind", "current_column_id", "started_at")
    )
    items = [
        {
            "key": key,
            "title": title,
            "kind": kind,
            "column": names.get(column_id),
            "column_position": positions.get(column_id),
            "started_at": local(board, started_at),
            "age_days": (current - started_at.astimezone(board.tz).date()).days + 1,
            "age_seconds": (now - started_at).total_seconds(),
        }
        for key, title, kind, column_id, started_at in wip
    ]
    cycle_days = recent_cycle_days(board, now)
    return {
        "as_of": now.astimezone(board.tz),
        "columns": [
            c.name
            for c in info.columns
            if info.commitment_position <= c.position < info.delivery_position
        ],
        "items": items,
        "cycle_time": {
            "window_days": CYCLE_WINDOW_DAYS,
            "items": len(cycle_days),
            "percentiles": _percentiles(cycle_days),
        },
    }


def time_in_column(
    board: Board,
    info: BoardInfo,
    since: dt.date | None,
    until: dt.date | None,
    now: dt.datetime,
) -> dict[str, Any]:
    """Per column in board order: median and p85 days of ``ItemMetrics.time_in_column`` of the
    items delivered from ``since`` to ``until`` that stayed in the column (every stay summed,
    from the raw log), and the column's WIP at the end of the latest filled day up to today.

    The window defaults to the ``CYCLE_WINDOW_DAYS`` days up to today. The delivery column and
    those after it have no figures: time spent there is after delivery, not flow time. (So the
    snapshot's closed stays are the whole story: a delivered item's open stay is after delivery.)
    """
    end = until or today(board, now)
    start = since or end - dt.timedelta(days=CYCLE_WINDOW_DAYS - 1)
    if start > end:
        raise InvalidInput(
            f"since: since ({start}) must be on or before until ({end}, today by default).",
            errors={"since": ["must be on or before until."]},
        )
    items = delivered_items(board, since=start, until=end)
    stays = list(items.values_list("time_in_column", flat=True))
    state = board_state(board)
    wip_day = min(today(board, now), state.last_day)
    wip = dict(ColumnDay.objects.filter(board=board, day=wip_day).values_list("column_id", "wip"))
    columns = []
    for c in info.columns:
        row: dict[str, Any] = {
            "column": c.name,
            "position": c.position,
            "stage": c.stage,
            "activity": c.activity,
            "wip": wip.get(c.id, 0),
            "wip_limit": c.wip_limit,
            "items": None,
            "median_days": None,
            "p85_days": None,
        }
        if c.position < info.delivery_position:
            days = sorted(
                seconds / SECONDS_PER_DAY
                for by_column in stays
                if (seconds := by_column.get(str(c.id), 0)) > 0
            )
            row["items"] = len(days)
            if days:
                row["median_days"] = stats.percentile(days, 50)
                row["p85_days"] = stats.percentile(days, 85)
        columns.append(row)
    return {
        "since": start,
        "until": end,
        "delivered": len(stays),
        "wip_day": wip_day,
        "columns": columns,
    }


# --- forecasts -------------------------------------------------------------------------------


def forecast_sample(board: Board, current: dt.date) -> dict[str, Any]:
    """The Monte Carlo sample: daily throughput of the complete days before ``current``."""
    days = settings.METRICS_FORECAST_SAMPLE_DAYS
    sample = throughput_sample(board, current, days)
    return {
        "daily": sample,
        "info": {
            "days": len(sample),
            "from": current - dt.timedelta(days=days),
            "to": current - dt.timedelta(days=1),
            "delivered": sum(sample),
            "days_with_deliveries": sum(1 for n in sample if n),
            "trials": forecast.DEFAULT_TRIALS,
            "seed": forecast.DEFAULT_SEED,
        },
    }


def forecast_how_many(board: Board, until: dt.date, now: dt.datetime) -> dict[str, Any]:
    """How many items will be delivered after today up to and including ``until``: "c%
    confidence: this many or more"."""
    current = today(board, now)
    sample = forecast_sample(board, current)
    days = (until - current).days
    key = f"flowboard:forecast:how_many:{board.pk}:{current}:{hash(tuple(sample['daily']))}:{days}"
    readings = cache.get(key)
    if readings is None:
        readings = forecast.how_many_by(sample["daily"], days)
        cache.set(key, readings, timeout=24 * 3600)
    return {
        "question": "how_many",
        "as_of": current,
        "date": until,
        "days": days,
        "readings": jsonable(readings),
        "sample": sample["info"],
    }


def forecast_when(board: Board, items: int, now: dt.datetime) -> dict[str, Any]:
    """By which date ``items`` more items will be delivered: "c% confidence: on or before".
    A reading beyond ``FORECAST_MAX_DAYS`` is None; with no delivery in the sample there are no
    readings and ``detail`` says why."""
    current = today(board, now)
    sample = forecast_sample(board, current)
    result: dict[str, Any] = {
        "question": "when",
        "as_of": current,
        "items": items,
        "sample": sample["info"],
    }
    # 10,000 trials for a large N take a second or more: the same question on the same sample
    # (it changes once a day) is answered from the cache.
    key = f"flowboard:forecast:when:{board.pk}:{current}:{hash(tuple(sample['daily']))}:{items}"
    try:
        readings = cache.get(key)
        if readings is None:
            readings = forecast.when_done(
                sample["daily"], items, current, max_days=FORECAST_MAX_DAYS
            )
            cache.set(key, readings, timeout=24 * 3600)
    except forecast.NoThroughput:
        days = sample["info"]["days"]
        result.update(readings=None, detail=f"No item was delivered in the last {days} days.")
        return result
    result["readings"] = jsonable(readings)
    return result


def items_by_key(board: Board, keys: Iterable[str]) -> dict[str, WorkItem]:
    """The board's items with those keys, each with its snapshot (``item.metrics``) loaded."""
    return {
        item.key: item
        for item in WorkItem.objects.filter(board=board, key__in=list(keys)).select_related(
            "metrics"
        )
    }


def remaining_time_history(
    board: Board, info: BoardInfo, since: dt.datetime
) -> tuple[dict[int, list[float]], int]:
    """For each column before delivery, the days from entering it to delivery of every item
    delivered since ``since`` (counted-path entry dates, ``ItemMetrics.entries``), and how many
    items that is."""
    before = [c.id for c in info.columns if c.position < info.delivery_position]
    history: dict[int, list[float]] = {column_id: [] for column_id in before}
    delivered = (
        ItemMetrics.objects.filter(board=board, delivered_at__gte=since)
        .order_by("item_id")
        .values_list("entries", "delivered_at")
    )
    count = 0
    for entries, delivered_at in delivered:
        count += 1
        for column_id in before:
            entered = entries.get(str(column_id))
            if entered is not None:
                elapsed = delivered_at - entry_time(entered)
                history[column_id].append(elapsed.total_seconds() / SECONDS_PER_DAY)
    return history, count


def forecast_items(
    board: Board, info: BoardInfo, items: dict[str, WorkItem], now: dt.datetime
) -> dict[str, Any]:
    """When will these items all be delivered, readiness stage included
    (``forecast.readiness_aware_when``).

    History: the items delivered in the sample window (``METRICS_FORECAST_SAMPLE_DAYS``). Each
    item in progress is (id, current column, days since its counted-path entry into it), as of
    its snapshot. An item created since the last refresh has no snapshot yet: it counts as just
    entered its column. Delivered and discarded items are listed apart and left out.
    """
    sample_days = settings.METRICS_FORECAST_SAMPLE_DAYS
    history, learnt = remaining_time_history(board, info, now - dt.timedelta(days=sample_days))
    keys = {item.pk: key for key, item in items.items()}
    delivered, discarded, in_progress = [], [], []
    for key, item in items.items():
        snapshot = getattr(item, "metrics", None)
        if snapshot is None:
            if item.discarded_at is not None:
                discarded.append(key)
            elif item.delivered_at is not None:
                delivered.append({"key": key, "delivered_at": local(board, item.delivered_at)})
            else:
                in_progress.append((item.pk, item.column_id, 0.0))
            continue
        if snapshot.discarded_at is not None:
            discarded.append(key)
        elif snapshot.delivered_at is not None:
            delivered.append({"key": key, "delivered_at": local(board, snapshot.delivered_at)})
        else:
            column_id = snapshot.current_column_id
            entered = snapshot.entries.get(str(column_id))
            age = 0.0
            if entered is not None:
                elapsed = now - entry_time(entered)
                age = max(0.0, elapsed.total_seconds() / SECONDS_PER_DAY)
            in_progress.append((item.pk, column_id, age))
    result: dict[str, Any] = {
        "question": "when_items",
        "as_of": today(board, now),
        "keys": list(items),
        "delivered": delivered,
        "discarded": discarded,
        "sample": {
            "window_days": sample_days,
            "delivered_items": learnt,
            "trials": forecast.DEFAULT_TRIALS,
            "seed": forecast.DEFAULT_SEED,
        },
    }
    try:
        answer = forecast.readiness_aware_when(history, in_progress, now, board.tz)
    except forecast.NoHistory:
        result.update(
            readings=None,
            per_item={},
            no_history=[keys[i] for i, _, _ in in_progress],
            beyond_history=[],
            detail=f"No item was delivered in the last {sample_days} days: nothing to learn from.",
        )
        return result
    result.update(
        readings=jsonable(answer["dates"]),
        per_item={keys[i]: jsonable(dates) for i, dates in answer["per_item"].items()},
        no_history=[keys[i] for i in answer["no_history"]],
        beyond_history=[keys[i] for i in answer["beyond_history"]],
    )
    return result


def current_wip(board: Board, current: dt.date) -> int:
    """Board WIP at the end of the latest filled day up to ``current``."""
    latest = (
        BoardDay.objects.filter(board=board, day__lte=current)
        .order_by("-day")
        .values_list("wip", flat=True)
        .first()
    )
    return latest or 0


# --- export ----------------------------------------------------------------------------------


def all_item_snapshots(board: Board) -> QuerySet[ItemMetrics]:
    """Every item's snapshot, in item creation order, with its key, title and kind."""
    return (
        ItemMetrics.objects.filter(board=board)
        .order_by("created_at", "item_id")
        .values(
            "item__key",
            "item__title",
            "item__kind",
            "entries",
            "cycle_days",
            "cycle_seconds",
            "lead_days",
            "blocked_seconds",
            "blocked_since",
        )
    )


def blocked_seconds(snapshot: dict[str, Any], now: dt.datetime) -> float:
    """Blocked time of an item as of ``now``: the closed blocks, plus an open one so far."""
    since = snapshot["blocked_since"]
    return snapshot["blocked_seconds"] + ((now - since).total_seconds() if since else 0.0)


def all_cycle_days(board: Board) -> list[int]:
    """Cycle days of every delivered item in the snapshots."""
    return list(delivered_items(board).values_list("cycle_days", flat=True))


def filled_days(board: Board) -> tuple[dt.date, dt.date]:
    state = board_state(board) or BoardMetrics.objects.get(board=board)
    return state.first_day, state.last_day
