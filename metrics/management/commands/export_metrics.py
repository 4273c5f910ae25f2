"""``manage.py export_metrics --board SLUG --out DIR``: the board's metric snapshots as files in
the shape jira-agile-metrics users know.

- ``cycletime.csv``: one row per item: ``key,title,kind``, then one column per board column in
  board order, headed by its name, holding its entry date (YYYY-MM-DD, board zone, counted-path
  entry dates; empty when none), then ``cycle_time_days,cycle_time_seconds,lead_time_days,
  blocked_days``. Days follow the +1 convention (docs/metrics.md "Times"), unlike
  jira-agile-metrics' plain difference.
- ``cfd.csv``: ``day`` then one column per board column: the CFD count (``ColumnDay.cfd``).
- ``throughput.csv``: ``day,count``, zero days included.
- ``percentiles.csv``: ``quantile,cycle_time_days`` at 0.5, 0.7, 0.85 and 0.95 over every
  delivered item in the snapshots.
- ``forecast.json``: Monte Carlo over the last ``METRICS_FORECAST_SAMPLE_DAYS`` days of
  throughput: how many items in the next 14 and 30 days, and when N items will be done, N being
  the current WIP (the time to finish what is in progress at the recent pace) or 10 when
  nothing is in progress. With the sample info (days, deliveries, trials, seed).

Everything is read from the snapshots; nothing is recomputed.
"""

import csv
import datetime as dt
import json
import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from boards.models import Board
from metrics import loaders, selectors
from metrics.calculators import forecast, stats
from metrics.summary import jsonable

QUANTILES = {"0.5": 50, "0.7": 70, "0.85": 85, "0.95": 95}  # as written, and as a percent
HORIZONS = (14, 30)
DEFAULT_WHEN_ITEMS = 10


def number(value: float | None) -> str:
    """Whole numbers without a decimal point; others to 3 decimals; None as an empty cell."""
    if value is None:
        return ""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".")


class Command(BaseCommand):
    # A data command, timed against other tools: the system checks run in CI, on deploy and
    # with every migrate, not again on every import.
    requires_system_checks = []
    help = "Export a board's flow metrics (cycle times, CFD, throughput, percentiles, forecast)."

    def add_arguments(self, parser):
        parser.add_argument("--board", required=True, help="The board's slug.")
        parser.add_argument("--out", required=True, help="Directory to write into (created).")

    def handle(self, *args, board: str, out: str, **options):
        found = Board.objects.filter(slug=board).first()
        if found is None:
            known = ", ".join(Board.objects.order_by("slug").values_list("slug", flat=True))
            raise CommandError(f"No board with slug {board!r}. Known boards: {known or 'none'}.")
        if not selectors.has_history(found):
            raise CommandError(
                f"Board {board!r} has no metric snapshots yet: nothing to export. They are "
                "filled by the metrics worker after the first move."
            )
        directory = self.prepare(Path(out))
        now = timezone.now()
        info = loaders.board_info(found)
        files = [
            ("cycletime.csv", self.cycletime(found, info, now)),
            ("cfd.csv", self.cfd(found, info)),
            ("throughput.csv", self.throughput(found)),
            ("percentiles.csv", self.percentiles(found)),
        ]
        for name, rows in files:
            count = self.write_csv(directory / name, rows)
            self.stdout.write(f"Wrote {directory / name} ({count} rows)")
        path = directory / "forecast.json"
        self.write(path, json.dumps(jsonable(self.forecast(found, now)), indent=2) + "\n")
        self.stdout.write(f"Wrote {path}")

    def prepare(self, directory: Path) -> Path:
        if directory.exists() and not directory.is_dir():
            raise CommandError(f"Output path {directory} exists and is not a directory.")
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"Cannot create output directory {directory}: {exc}") from exc
        if not os.access(directory, os.W_OK | os.X_OK):
            raise CommandError(f"Output directory {directory} is not writable.")
        return directory

    def write_csv(self, path: Path, rows: list[list[str]]) -> int:
        """Write a header and rows; return the number of data rows."""
        try:
            with path.open("w", newline="", encoding="utf-8") as handle:
                csv.writer(handle).writerows(rows)
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc}") from exc
        return len(rows) - 1

    def write(self, path: Path, text: str) -> None:
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc}") from exc

    def cycletime(self, board: Board, info, now: dt.datetime) -> list[list[str]]:
        rows = [
            [
                "key",
                "title",
                "kind",
                *(c.name for c in info.columns),
                "cycle_time_days",
                "cycle_time_seconds",
                "lead_time_days",
                "blocked_days",
            ]
        ]
        keys = [str(column.id) for column in info.columns]
        days: dict[float, str] = {}  # skipped columns share their entry time with the next one
        for item in selectors.all_item_snapshots(board):
            entries = item["entries"]
            dates = []
            for key in keys:
                entered = entries.get(key)
                if entered is None:
                    dates.append("")
                    continue
                day = days.get(entered)
                if day is None:
                    local = selectors.entry_time(entered).astimezone(board.tz)
                    day = days[entered] = local.date().isoformat()
                dates.append(day)
            rows.append(
                [
                    item["item__key"],
                    item["item__title"],
                    item["item__kind"],
                    *dates,
                    number(item["cycle_days"]),
                    number(item["cycle_seconds"]),
                    number(item["lead_days"]),
                    number(selectors.blocked_seconds(item, now) / selectors.SECONDS_PER_DAY),
                ]
            )
        return rows

    def cfd(self, board: Board, info) -> list[list[str]]:
        first, last = selectors.filled_days(board)
        rows = [["day", *(c.name for c in info.columns)]]
        for day in selectors.cfd(board, info, first, last):
            rows.append([day["day"].isoformat(), *(str(n) for n in day["columns"].values())])
        return rows

    def throughput(self, board: Board) -> list[list[str]]:
        first, last = selectors.filled_days(board)
        rows = [["day", "count"]]
        for day in selectors.throughput(board, first, last):
            rows.append([day["day"].isoformat(), str(day["count"])])
        return rows

    def percentiles(self, board: Board) -> list[list[str]]:
        values = sorted(selectors.all_cycle_days(board))
        rows = [["quantile", "cycle_time_days"]]
        for quantile, percent in QUANTILES.items():
            value = stats.percentile(values, percent) if values else None
            rows.append([quantile, number(value)])
        return rows

    def forecast(self, board: Board, now: dt.datetime) -> dict:
        today = selectors.today(board, now)
        sample = selectors.forecast_sample(board, today)
        wip = selectors.current_wip(board, today)
        items = wip or DEFAULT_WHEN_ITEMS
        result: dict = {
            "board": board.slug,
            "as_of": today,
            "generated_at": now,
            "sample": sample["info"],
            "how_many": {
                f"next_{days}_days": {
                    "until": today + dt.timedelta(days=days),
                    "reading": "c% confidence: this many items or more",
                    "readings": forecast.how_many_by(sample["daily"], days),
                }
                for days in HORIZONS
            },
            "when": {
                "items": items,
                "items_basis": "current WIP" if wip else "default: the board has no WIP",
                "reading": "c% confidence: all done on or before this date",
            },
        }
        try:
            result["when"]["readings"] = forecast.when_done(
                sample["daily"], items, today, max_days=selectors.FORECAST_MAX_DAYS
            )
        except forecast.NoThroughput:
            result["when"]["readings"] = None
            result["when"]["detail"] = "No item was delivered in the sample: nothing to forecast."
        return result
