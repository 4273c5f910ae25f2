"""``manage.py export_metrics``: the snapshots as jira-agile-metrics style files, checked cell by
cell on a small board with known dates (``tests.metrics.test_api.build_small_board``)."""

import csv
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from metrics.calculators import forecast
from metrics.summary import throughput_sample
from tests.factories import WorkItemFactory
from tests.metrics.test_api import build_small_board

pytestmark = pytest.mark.django_db
COLUMNS = ["Backlog", "Ready", "Build", "Review", "Readiness", "Done", "Operating"]


@pytest.fixture
def small(db):
    return build_small_board()


def export(board, out) -> str:
    stdout = StringIO()
    call_command("export_metrics", "--board", board.slug, "--out", str(out), stdout=stdout)
    return stdout.getvalue()


def read_csv(path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def seconds(start, end) -> str:
    value = (end - start).total_seconds()
    return str(int(value)) if value.is_integer() else f"{value:.3f}".rstrip("0").rstrip(".")


def test_it_creates_the_directory_and_says_what_it_wrote(small, tmp_path):
    out = tmp_path / "exports" / "small"
    printed = export(small.board, out)
    names = ["cycletime.csv", "cfd.csv", "throughput.csv", "percentiles.csv", "forecast.json"]
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    assert printed.splitlines() == [
        f"Wrote {out / 'cycletime.csv'} (4 rows)",
        f"Wrote {out / 'cfd.csv'} (21 rows)",
        f"Wrote {out / 'throughput.csv'} (21 rows)",
        f"Wrote {out / 'percentiles.csv'} (4 rows)",
        f"Wrote {out / 'forecast.json'}",
    ]


def test_cycletime_csv_has_entry_dates_per_column_and_plus_one_days(small, tmp_path):
    export(small.board, tmp_path)
    rows = read_csv(tmp_path / "cycletime.csv")
    d = lambda k: small.d(k).isoformat()  # noqa: E731
    assert rows[0] == [
        "key", "title", "kind", *COLUMNS,
        "cycle_time_days", "cycle_time_seconds", "lead_time_days", "blocked_days",
    ]  # fmt: skip
    at = small.at
    assert rows[1:] == [
        # A: Readiness skipped, so it inherits Done's date; blocked one day in Build.
        ["SM-1", "Item A", "feature", d(0), d(1), d(2), d(4), d(5), d(5), "",
         "5", seconds(at(1, 9), at(5, 15)), "6", "1"],
        # B: Done at 22:00 in New York, already the next day in UTC: the board's zone counts.
        ["SM-2", "Item B", "defect", d(2), d(3), d(3), d(3), d(3), d(3), "",
         "1", seconds(at(3, 9), at(3, 22)), "2", "0"],
        # C: in progress: no dates past Build, no cycle time.
        ["SM-3", "Item C", "feature", d(4), d(6), d(7), "", "", "", "", "", "", "", "0"],
        # E: Review skipped (inherits Readiness), then Done and Operating.
        ["SM-4", "Item E", "escalation", d(6), d(6), d(8), d(10), d(10), d(12), d(13),
         "7", seconds(at(6, 9), at(12, 9)), "7", "0"],
    ]  # fmt: skip


def test_cfd_csv_counts_entries_per_day(small, tmp_path):
    export(small.board, tmp_path)
    rows = read_csv(tmp_path / "cfd.csv")
    assert rows[0] == ["day", *COLUMNS]
    by_day = {row[0]: row[1:] for row in rows[1:]}
    assert list(by_day) == [small.d(k).isoformat() for k in range(21)]
    assert by_day[small.d(0).isoformat()] == ["1", "0", "0", "0", "0", "0", "0"]
    assert by_day[small.d(3).isoformat()] == ["2", "2", "2", "1", "1", "1", "0"]
    assert by_day[small.d(5).isoformat()] == ["3", "2", "2", "2", "2", "2", "0"]
    assert by_day[small.d(20).isoformat()] == ["4", "4", "4", "3", "3", "3", "1"]


def test_throughput_csv_has_every_day(small, tmp_path):
    export(small.board, tmp_path)
    rows = read_csv(tmp_path / "throughput.csv")
    assert rows[0] == ["day", "count"]
    delivered = {small.d(k).isoformat() for k in (3, 5, 12)}
    assert rows[1:] == [
        [small.d(k).isoformat(), "1" if small.d(k).isoformat() in delivered else "0"]
        for k in range(21)
    ]


def test_percentiles_csv_reads_off_the_sorted_cycle_times(small, tmp_path):
    export(small.board, tmp_path)
    # Cycle times 1, 5, 7: index floor(2 * p) is 1 for every quantile below 1.
    assert read_csv(tmp_path / "percentiles.csv") == [
        ["quantile", "cycle_time_days"],
        ["0.5", "5"],
        ["0.7", "5"],
        ["0.85", "5"],
        ["0.95", "5"],
    ]


def test_forecast_json_is_reproducible_and_documents_its_sample(small, tmp_path):
    export(small.board, tmp_path / "one")
    export(small.board, tmp_path / "two")
    first = json.loads((tmp_path / "one" / "forecast.json").read_text())
    second = json.loads((tmp_path / "two" / "forecast.json").read_text())
    first.pop("generated_at"), second.pop("generated_at")
    assert first == second
    sample = throughput_sample(small.board, small.today)
    assert first["sample"]["days"] == 90 and first["sample"]["delivered"] == 3
    assert first["sample"]["seed"] == forecast.DEFAULT_SEED
    assert first["how_many"]["next_14_days"]["readings"] == {
        str(c): n for c, n in forecast.how_many_by(sample, 14).items()
    }
    assert set(first["how_many"]) == {"next_14_days", "next_30_days"}
    # N is the current WIP: C alone.
    assert (first["when"]["items"], first["when"]["items_basis"]) == (1, "current WIP")
    assert first["when"]["readings"] == {
        str(c): d.isoformat() for c, d in forecast.when_done(sample, 1, small.today).items()
    }


def test_unknown_board_is_a_precise_error(small, tmp_path):
    with pytest.raises(CommandError, match=r"No board with slug 'nope'\. Known boards: small\."):
        export(type(small.board)(slug="nope"), tmp_path)


def test_a_board_without_snapshots_is_refused(board, tmp_path):
    WorkItemFactory(board=board)
    with pytest.raises(CommandError, match="has no metric snapshots yet"):
        export(board, tmp_path)


def test_an_out_path_that_is_a_file_is_refused(small, tmp_path):
    target = tmp_path / "taken"
    target.write_text("")
    with pytest.raises(CommandError, match="exists and is not a directory"):
        export(small.board, target)
    with pytest.raises(CommandError, match="Cannot create output directory"):
        export(small.board, target / "below")
