"""Small builders for calculator tests: boards and times in plain data."""

import datetime as dt
from zoneinfo import ZoneInfo

from metrics.calculators.items import DayIndex
from metrics.calculators.types import BoardInfo, ColumnInfo

BASE = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def board(names, commitment, delivery, *, tz="UTC", stages=None, activities=None) -> BoardInfo:
    """Columns with ids 10, 11, ... at positions 0, 1, ...; commitment/delivery by name."""
    columns = tuple(
        ColumnInfo(
            id=10 + i,
            name=name,
            position=i,
            stage=(stages or {}).get(name, "development"),
            activity=(activities or {}).get(name, "active"),
        )
        for i, name in enumerate(names)
    )
    ids = {c.name: c.id for c in columns}
    return BoardInfo(columns, ids[commitment], ids[delivery], ZoneInfo(tz))


def day(n: float, hour: float = 12) -> float:
    """Epoch seconds of day ``n`` (day 1 is BASE) at ``hour`` UTC."""
    return (BASE + dt.timedelta(days=n - 1, hours=hour)).timestamp()


def days_for(info: BoardInfo, first: float = day(-5), last: float = day(400)) -> DayIndex:
    return DayIndex.covering(info.tz, first, last)


def col(info: BoardInfo, name: str) -> int:
    return next(c.id for c in info.columns if c.name == name)
