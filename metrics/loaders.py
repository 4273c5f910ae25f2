"""Reads from the ORM into the calculators' plain data (``metrics.calculators.types``)."""

from collections import defaultdict
from collections.abc import Iterable

from boards.models import Block, Board, Transition
from metrics.calculators.types import BlockSpan, BoardInfo, ColumnInfo, Move


def board_info(board: Board) -> BoardInfo:
    columns = tuple(
        ColumnInfo(
            id=c.pk,
            name=c.name,
            position=c.position,
            stage=c.stage,
            activity=c.activity,
            wip_limit=c.wip_limit,
        )
        for c in board.columns.order_by("position")
    )
    return BoardInfo(
        columns=columns,
        commitment_id=board.commitment_column_id,
        delivery_id=board.delivery_column_id,
        tz=board.tz,
    )


def moves_by_item(item_ids: Iterable[int]) -> dict[int, list[Move]]:
    """Each item's Transition rows in time order, ties in write order."""
    result: dict[int, list[Move]] = defaultdict(list)
    rows = (
        Transition.objects.filter(item_id__in=list(item_ids))
        .order_by("item_id", "at", "id")
        .values_list("item_id", "from_column_id", "to_column_id", "at")
    )
    for item_id, from_id, to_id, at in rows:
        result[item_id].append(Move(item_id, from_id, to_id, at))
    return result


def blocks_by_item(item_ids: Iterable[int]) -> dict[int, list[BlockSpan]]:
    result: dict[int, list[BlockSpan]] = defaultdict(list)
    rows = (
        Block.objects.filter(item_id__in=list(item_ids))
        .order_by("item_id", "started_at")
        .values_list("item_id", "started_at", "ended_at", "reason", "criterion__track")
    )
    for item_id, start, end, reason, track in rows:
        result[item_id].append(BlockSpan(item_id, start, end, reason, track))
    return result
