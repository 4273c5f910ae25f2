"""Daily series of a board (docs/metrics.md "Counts"): the cumulative flow diagram, WIP, WIP per
column, arrivals, starts, throughput and discards, one value per calendar day of the board's zone.

Every item contributes through difference arrays: +1 on the day something begins, -1 on the day
it ends. Summing them gives the series; adding one item with ``sign=-1`` and again with ``+1``
gives the exact change one move makes, which is how a single move refreshes the snapshot without
recomputing the board.

- **CFD** of column C on day D: items whose entry date of C is <= end of D (final entry dates,
  so the bands never decrease).
- **WIP** on day D: started by the end of D, not delivered by then, not discarded by then.
- **WIP per column** on day D: items whose column at the end of D is C (raw log), discarded items
  excluded from their discard day.
- **Throughput** on day D: items whose delivered_at falls on D.
"""

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from metrics.calculators.items import DayIndex, ItemFlow, TimedMove
from metrics.calculators.types import BoardInfo


@dataclass
class Series:
    """Materialised series over ``days`` (index i is ``days.date(i)``)."""

    days: DayIndex
    cfd: dict[int, list[int]]
    column_wip: dict[int, list[int]]
    wip: list[int]
    arrivals: list[int]
    started: list[int]
    delivered: list[int]
    discarded: list[int]


class SeriesAccumulator:
    """Difference arrays for the daily series; ``add`` one item, ``build`` the series."""

    def __init__(self, board: BoardInfo, days: DayIndex) -> None:
        self.board, self.days = board, days
        size = days.days + 1  # one slot past the end absorbs ranges that run to the horizon
        self.size = size
        self.cfd = {c.id: [0] * size for c in board.columns}
        self.column_wip = {c.id: [0] * size for c in board.columns}
        self.wip = [0] * size
        self.arrivals = [0] * size
        self.started = [0] * size
        self.delivered = [0] * size
        self.discarded = [0] * size

    def add(self, flow: ItemFlow, moves: Sequence[TimedMove], sign: int = 1) -> None:
        """Add (``sign=1``) or remove (``sign=-1``) one item's contribution."""
        midnights = self.days.midnights

        def day(t: float) -> int:
            # The day holding t; instants before the first day count on it, and instants after
            # the last day land on the spare slot past the end.
            i = bisect_right(midnights, t) - 1
            return i if i > 0 else 0

        seen: dict[float, int] = {}
        for column_id, entered in flow.entries.items():
            if entered is not None:
                d = seen.get(entered)
                if d is None:
                    d = seen[entered] = day(entered)
                self.cfd[column_id][d] += sign
        self.arrivals[day(flow.created_at)] += sign
        end = self.size - 1
        if flow.started_at is not None:
            d = day(flow.started_at)
            self.started[d] += sign
            self.wip[d] += sign
        if flow.delivered_at is not None:
            d = day(flow.delivered_at)
            self.delivered[d] += sign
            if flow.started_at is not None:
                self.wip[d] -= sign
        if flow.discarded_at is not None:
            d = day(flow.discarded_at)
            self.discarded[d] += sign
            end = d
            if flow.started_at is not None:
                self.wip[d] -= sign
        # The column at the end of each day: the last move of each day holds until the next day
        # with a move (or the discard, or the horizon).
        days = [bisect_right(midnights, at) - 1 for _, at in moves]
        if days and days[0] < 0:  # moves before the first day count on it
            days = [d if d > 0 else 0 for d in days]
        column_wip = self.column_wip
        count = len(moves)
        for i in range(count):
            d = days[i]
            if d >= end:
                break
            if i + 1 < count:
                following = days[i + 1]
                if following == d:
                    continue  # not the last move of its day
                until = following if following < end else end
            else:
                until = end
            diffs = column_wip[moves[i][0]]
            diffs[d] += sign
            diffs[until] -= sign

    def build(self) -> Series:
        def running(diffs: list[int]) -> list[int]:
            total, out = 0, []
            for value in diffs[: self.days.days]:
                total += value
                out.append(total)
            return out

        n = self.days.days
        return Series(
            days=self.days,
            cfd={c: running(v) for c, v in self.cfd.items()},
            column_wip={c: running(v) for c, v in self.column_wip.items()},
            wip=running(self.wip),
            arrivals=self.arrivals[:n],
            started=self.started[:n],
            delivered=self.delivered[:n],
            discarded=self.discarded[:n],
        )

    def merge(self, other: "SeriesAccumulator") -> None:
        """Add another accumulator's contributions (same board and days) to this one."""
        for name in ("cfd", "column_wip"):
            mine, theirs = getattr(self, name), getattr(other, name)
            for column_id, diffs in theirs.items():
                target = mine[column_id]
                for i, value in enumerate(diffs):
                    target[i] += value
        for name in ("wip", "arrivals", "started", "delivered", "discarded"):
            target = getattr(self, name)
            for i, value in enumerate(getattr(other, name)):
                target[i] += value

    def changes(self) -> dict[str, list[tuple]]:
        """The non-zero differences, for applying a delta to stored series.

        Cumulative series (``cfd``, ``column_wip``, ``wip``) change every day from the given day
        on; daily counts change on that day only.
        """
        n = self.days.days
        out: dict[str, list[tuple]] = {}
        for name in ("cfd", "column_wip"):
            out[name] = [
                (column_id, d, v)
                for column_id, diffs in getattr(self, name).items()
                for d, v in enumerate(diffs[:n])
                if v
            ]
        for name in ("wip", "arrivals", "started", "delivered", "discarded"):
            out[name] = [(d, v) for d, v in enumerate(getattr(self, name)[:n]) if v]
        return out
