"""Reads from the database into the calculators' plain data.

The move and block readers return epoch seconds and stream in the order the calculators need.
They use one SQL statement each, written per engine, because at a million transitions building
model instances or even datetimes costs more than the calculation itself.
"""

import datetime as dt
from collections.abc import Iterator, Sequence

from django.db import connection

from boards.models import Board
from metrics.calculators.types import BoardInfo, ColumnInfo, Move

FETCH = 20_000


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


def _epoch(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM {column})::float8"
    return column  # SQLite stores UTC text; converted in Python by _to_epoch


def _to_epoch(value) -> float | None:
    if value is None or isinstance(value, float):
        return value
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC).timestamp()


def _stream(sql: str, params: Sequence) -> Iterator[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(FETCH):
            yield from rows


# A share of a board's items: (k, n) selects the items whose id is k modulo n.
Part = tuple[int, int]


def _in_items(item_ids: Sequence[int] | None, part: Part | None = None) -> tuple[str, list]:
    where, params = "", []
    if item_ids is not None:
        where, params = f" AND item_id IN ({', '.join(['%s'] * len(item_ids))})", list(item_ids)
    if part is not None:
        where += " AND item_id %% %s = %s"
        params += [part[1], part[0]]
    return where, params


def stream_moves(
    board_id: int, item_ids: Sequence[int] | None = None, part: Part | None = None
) -> Iterator[tuple[int, int, float, int]]:
    """(item id, to column id, epoch seconds, transition id), by item, time, then write order."""
    where, params = _in_items(item_ids, part)
    sql = (
        f"SELECT item_id, to_column_id, {_epoch('at')}, id FROM boards_transition "
        f"WHERE board_id = %s{where} ORDER BY item_id, at, id"
    )
    convert = connection.vendor != "postgresql"
    for item_id, column_id, at, transition_id in _stream(sql, [board_id, *params]):
        yield item_id, column_id, _to_epoch(at) if convert else at, transition_id


def blocks_by_item(
    board_id: int, item_ids: Sequence[int] | None = None, part: Part | None = None
) -> dict[int, list[tuple[float, float | None]]]:
    """Each item's blocks as (start, end or None), in epoch seconds."""
    where, params = _in_items(item_ids, part)
    where = where.replace("item_id", "b.item_id")
    sql = (
        f"SELECT b.item_id, {_epoch('b.started_at')}, {_epoch('b.ended_at')} "
        "FROM boards_block b JOIN boards_workitem w ON w.id = b.item_id "
        f"WHERE w.board_id = %s{where}"
    )
    result: dict[int, list[tuple[float, float | None]]] = {}
    for item_id, start, end in _stream(sql, [board_id, *params]):
        result.setdefault(item_id, []).append((_to_epoch(start), _to_epoch(end)))
    return result


def discarded_by_item(
    board_id: int, item_ids: Sequence[int] | None = None, part: Part | None = None
) -> dict[int, float]:
    """Discard times (epoch seconds) of the board's discarded items."""
    where, params = _in_items(item_ids, part)
    where = where.replace("item_id", "id")
    sql = (
        f"SELECT id, {_epoch('discarded_at')} FROM boards_workitem "
        f"WHERE board_id = %s AND discarded_at IS NOT NULL{where}"
    )
    return {item_id: _to_epoch(at) for item_id, at in _stream(sql, [board_id, *params])}


def moves_of_items(board_id: int, items) -> list[Move]:
    """Every move of the items whose ids ``items`` selects (a queryset of one column), as
    ``Move`` rows with UTC times, by item, time, then write order. One raw query: the summary
    reads the moves of every item in flow, a hundred thousand on a large board, and the ORM's
    per-value conversion costs more than the calculation."""
    sub_sql, sub_params = items.query.sql_with_params()
    postgres = connection.vendor == "postgresql"
    # SQLite: the naive UTC text as text (no declared type, so no converter), parsed in C.
    at = "at" if postgres else "CAST(at AS TEXT)"
    sql = (
        f"SELECT item_id, from_column_id, to_column_id, {at} FROM boards_transition "
        f"WHERE board_id = %s AND item_id IN ({sub_sql}) ORDER BY item_id, at, id"
    )
    if postgres:  # psycopg returns aware datetimes
        return [Move(*row) for row in _stream(sql, [board_id, *sub_params])]
    parse, utc = dt.datetime.fromisoformat, dt.UTC
    return [
        Move(item_id, from_id, to_id, parse(text).replace(tzinfo=utc))
        for item_id, from_id, to_id, text in _stream(sql, [board_id, *sub_params])
    ]
