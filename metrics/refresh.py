"""Refreshing snapshots: the queue of changed items, and the per-item snapshot rows."""

import datetime as dt
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from boards.models import Board, WorkItem
from metrics import loaders
from metrics.calculators.items import ItemFlow, item_flow
from metrics.models import ItemMetrics, PendingRefresh

BATCH = 2000
ITEM_FIELDS = [
    "board",
    "current_column",
    "created_at",
    "started_at",
    "delivered_at",
    "discarded_at",
    "entries",
    "cycle_seconds",
    "cycle_days",
    "lead_seconds",
    "lead_days",
    "age_seconds",
    "age_days",
    "time_in_column",
    "active_seconds",
    "waiting_seconds",
    "flow_efficiency",
    "blocked_seconds",
    "readiness_entered_at",
    "readiness_lead_seconds",
    "computed_at",
]


def process_pending(board_id: int, now: dt.datetime | None = None) -> int:
    """Refresh every item queued for ``board_id``; return how many items were refreshed.

    Only the queue rows that were read are deleted, so a change committed meanwhile stays queued.
    Safe to run twice or concurrently: each refresh recomputes from the log and upserts.
    """
    board = Board.objects.filter(pk=board_id).first()
    if board is None:  # deleted since the refresh was queued
        return 0
    refreshed = 0
    while True:
        rows = list(
            PendingRefresh.objects.filter(board_id=board_id)
            .order_by("id")
            .values_list("id", "item_id")[:BATCH]
        )
        if not rows:
            return refreshed
        item_ids = sorted({item_id for _, item_id in rows})
        with transaction.atomic():
            refresh_items(board, item_ids, now=now)
            PendingRefresh.objects.filter(id__in=[row_id for row_id, _ in rows]).delete()
        refreshed += len(item_ids)


def compute_items(board: Board, item_ids: Sequence[int], now: dt.datetime) -> list[ItemFlow]:
    info = loaders.board_info(board)
    moves = loaders.moves_by_item(item_ids)
    blocks = loaders.blocks_by_item(item_ids)
    discarded = dict(WorkItem.objects.filter(pk__in=item_ids).values_list("id", "discarded_at"))
    return [
        item_flow(info, item_id, moves[item_id], blocks.get(item_id, ()), now, discarded[item_id])
        for item_id in item_ids
        if item_id in discarded and moves.get(item_id)
    ]


def refresh_items(board: Board, item_ids: Sequence[int], now: dt.datetime | None = None) -> None:
    """Recompute and upsert the ItemMetrics rows of ``item_ids``."""
    now = now or timezone.now()
    flows = compute_items(board, item_ids, now)
    ItemMetrics.objects.bulk_create(
        [item_metrics_row(board.pk, flow, now) for flow in flows],
        update_conflicts=True,
        unique_fields=["item"],
        update_fields=ITEM_FIELDS,
    )


def item_metrics_row(board_id: int, flow: ItemFlow, now: dt.datetime) -> ItemMetrics:
    return ItemMetrics(
        item_id=flow.item_id,
        board_id=board_id,
        current_column_id=flow.current_column_id,
        created_at=flow.created_at,
        started_at=flow.started_at,
        delivered_at=flow.delivered_at,
        discarded_at=flow.discarded_at,
        entries={str(k): v.isoformat() if v else None for k, v in flow.entries.items()},
        cycle_seconds=flow.cycle_seconds,
        cycle_days=flow.cycle_days,
        lead_seconds=flow.lead_seconds,
        lead_days=flow.lead_days,
        age_seconds=flow.age_seconds,
        age_days=flow.age_days,
        time_in_column={str(k): v for k, v in flow.time_in_column.items()},
        active_seconds=flow.active_seconds,
        waiting_seconds=flow.waiting_seconds,
        flow_efficiency=flow.flow_efficiency,
        blocked_seconds=flow.blocked_seconds,
        readiness_entered_at=flow.readiness_entered_at,
        readiness_lead_seconds=flow.readiness_lead_seconds,
        computed_at=now,
    )


def recompute_items(board: Board, now: dt.datetime | None = None) -> int:
    """Recompute every item's snapshot of the board from the log; return the item count."""
    now = now or timezone.now()
    item_ids = list(
        WorkItem.objects.filter(board=board).order_by("id").values_list("id", flat=True)
    )
    for start in range(0, len(item_ids), BATCH):
        with transaction.atomic():
            refresh_items(board, item_ids[start : start + BATCH], now=now)
    return len(item_ids)
