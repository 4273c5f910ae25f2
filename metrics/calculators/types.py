"""Plain data that the calculators take. Built from the ORM by ``metrics.loaders``; built by hand
in tests. Times are timezone-aware datetimes; days are dates in the board's zone."""

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    id: int
    name: str
    position: int
    stage: str  # upstream | development | readiness | done
    activity: str  # active | waiting
    wip_limit: int | None = None


@dataclass(frozen=True)
class BoardInfo:
    columns: tuple[ColumnInfo, ...]  # sorted by position
    commitment_id: int
    delivery_id: int
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))

    # Derived lookups, computed once per board (calculators call them per item).
    @cached_property
    def by_id(self) -> dict[int, ColumnInfo]:
        return {c.id: c for c in self.columns}

    @cached_property
    def positions(self) -> dict[int, int]:
        return {c.id: c.position for c in self.columns}

    @cached_property
    def position_set(self) -> frozenset[int]:
        return frozenset(c.position for c in self.columns)

    @cached_property
    def commitment_position(self) -> int:
        return self.by_id[self.commitment_id].position

    @cached_property
    def delivery_position(self) -> int:
        return self.by_id[self.delivery_id].position

    def local_date(self, at: dt.datetime) -> dt.date:
        return at.astimezone(self.tz).date()


@dataclass(frozen=True, slots=True)
class Move:
    """One Transition row. ``from_column_id`` is None for the creation."""

    item_id: int
    from_column_id: int | None
    to_column_id: int
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class BlockSpan:
    """A block [start, end); an open block (end None) ends "now"."""

    item_id: int
    start: dt.datetime
    end: dt.datetime | None
    reason: str  # dependency | environment | decision | external | capacity | other
    track: str | None = None  # the readiness track, when the block holds up a criterion


@dataclass(frozen=True, slots=True)
class CriterionInfo:
    id: int
    item_id: int
    title: str
    track: str
    category: str  # functional | readiness
    required: bool
    gate_column_id: int
    status: str  # pending | met | waived
    added_at: dt.datetime
    resolved_at: dt.datetime | None  # when it was last met or waived; None while pending


@dataclass(frozen=True, slots=True)
class RefusalInfo:
    """A move refused at a gate column."""

    item_id: int
    gate_column_id: int
    at: dt.datetime
