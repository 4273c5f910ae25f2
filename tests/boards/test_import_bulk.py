"""The bulk history import at size, across files, after a crash, and for exports shaped slightly
differently from Jira's REST API."""

import copy
import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from boards import importing, ranking
from boards.importing import apply
from boards.models import Board, Column, Transition, WorkItem
from boards.services import work_item_move
from metrics.models import ItemMetrics, PendingRefresh
from readiness.models import AcceptanceCriterion
from tests.factories import CriterionTemplateFactory

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "jira-rest"
HEADER = "key,title,kind,created_at,to_column,at"
BOARD = [
    "--board", "ops", "--columns", "New,Active,Review,Resolved,Closed",
    "--commitment", "Active", "--delivery", "Resolved",
]  # fmt: skip


def run(*args) -> str:
    out = io.StringIO()
    call_command("import_history", *map(str, args), stdout=out)
    return out.getvalue()


def write(path: Path, rows) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def log(board: Board) -> list[tuple]:
    """Everything an import decides about a board, independent of ids and write order."""
    items = sorted(
        WorkItem.objects.filter(board=board).values_list(
            "key", "column__name", "created_at", "started_at", "delivered_at", "kind", "title"
        )
    )
    moves = sorted(
        Transition.objects.filter(board=board).values_list(
            "item__key", "at", "from_column__name", "to_column__name", "idempotency_key", "source"
        ),
        key=lambda row: (row[0], row[1], row[4] or ""),
    )
    order = [
        list(WorkItem.objects.filter(column=column).order_by("rank").values_list("key", flat=True))
        for column in board.columns.order_by("position")
    ]
    return [items, moves, order]


@pytest.mark.django_db
def test_5000_items_into_one_column_keep_short_ranks_and_the_column_takes_moves(tmp_path):
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    rows = []
    for n in range(5000):
        created = start + dt.timedelta(minutes=n)
        rows.append(f"INC-{n},Incident {n},defect,{created.isoformat()},New,")
        rows.append(f"INC-{n},,,,Closed,{(created + dt.timedelta(hours=2)).isoformat()}")
    path = write(tmp_path / "incidents.csv", rows)

    out = run("--format", "csv", *BOARD, path)

    assert "items created: 5000" in out and "transitions written: 5000" in out
    board = Board.objects.get(slug="ops")
    closed = board.columns.get(name="Closed")
    ranks = list(WorkItem.objects.filter(column=closed).values_list("rank", flat=True))
    assert len(ranks) == 5000 and len(set(ranks)) == 5000
    assert max(map(len, ranks)) <= 4
    keys = list(WorkItem.objects.filter(column=closed).order_by("rank").values_list("key"))
    assert [k for (k,) in keys[:3]] == ["INC-0", "INC-1", "INC-2"]  # in import order
    assert ItemMetrics.objects.filter(board=board).count() == 5000  # one recompute at the end
    assert not PendingRefresh.objects.filter(board=board).exists()

    # The column still takes moves: at the bottom, and between two of its cards.
    new = WorkItem.objects.create(
        board=board, key="X-1", title="x", column=board.columns.get(name="New"), rank="a0"
    )
    work_item_move(new, closed, actor=None, source="api")
    new.refresh_from_db()
    assert new.rank > max(ranks) and len(new.rank) <= ranking.MAX_LENGTH
    first, second = WorkItem.objects.filter(column=closed).order_by("rank")[:2]
    other = WorkItem.objects.create(
        board=board, key="X-2", title="y", column=board.columns.get(name="New"), rank="a1"
    )
    work_item_move(other, closed, actor=None, source="api", after=first, before=second)
    other.refresh_from_db()
    assert first.rank < other.rank < second.rank


@pytest.mark.django_db
def test_the_import_writes_in_batches_with_a_constant_number_of_queries(tmp_path):
    """Queries grow with the number of batches, not of items or moves."""

    def rows(count: int):
        for n in range(count):
            yield f"Q-{n},Item {n},feature,2024-01-01T09:00:00+00:00,New,"
            yield f"Q-{n},,,,Active,2024-01-02T09:00:00+00:00"
            yield f"Q-{n},,,,Resolved,2024-01-03T09:00:00+00:00"

    def queries(count: int, slug: str) -> int:
        path = write(tmp_path / f"{slug}.csv", rows(count))
        board_args = ["--board", slug, *BOARD[2:]]
        histories, _ = importing.parse_csv(path.read_text(), tz=dt.UTC, name="x.csv")
        run("--format", "csv", *board_args, write(tmp_path / "empty.csv", []))
        board = Board.objects.get(slug=slug)
        columns = importing.ColumnMap(board.columns.order_by("position"))
        with CaptureQueriesContext(connection) as captured:
            apply.import_histories(board, histories, columns=columns, batch_size=1000)
        return len(captured)

    assert queries(50, "small") == queries(900, "large")


@pytest.mark.django_db
def test_a_ping_pong_within_one_minute_keeps_every_move(tmp_path):
    path = write(
        tmp_path / "pingpong.csv",
        [
            "P-1,Flaky fix,defect,2024-05-01T09:00:00+00:00,New,",
            "P-1,,,,Active,2024-05-01T10:00:00+00:00",
            "P-1,,,,Review,2024-05-01T10:00:00+00:00",
            "P-1,,,,Active,2024-05-01T10:00:00+00:00",
        ],
    )

    first = run("--format", "csv", *BOARD, path)
    again = run("--format", "csv", *BOARD, path)

    item = WorkItem.objects.get(key="P-1")
    assert item.column.name == "Active"  # where the file ends
    assert [t.to_column.name for t in item.transitions.order_by("at", "id")] == [
        "New",
        "Active",
        "Review",
        "Active",
    ]
    assert "transitions written: 3" in first
    assert "transitions written: 0" in again and "unchanged (already imported): 3" in again


@pytest.mark.django_db
def test_two_csv_files_in_two_runs_add_up_and_problems_name_their_file(tmp_path):
    jan = write(
        tmp_path / "jan.csv",
        [
            "M-1,Login audit,feature,2024-01-05T09:00:00+00:00,New,",
            "M-1,,,,Active,2024-01-10T09:00:00+00:00",
        ],
    )
    feb = write(
        tmp_path / "feb.csv",
        [
            "M-1,,,,Review,2024-02-01T09:00:00+00:00",
            "M-1,,,,Resolved,2024-02-03T09:00:00+00:00",
            "M-1,,,,Nowhere,2024-02-04T09:00:00+00:00",
            "M-2,,,,Active,2024-02-04T09:00:00+00:00",
        ],
    )

    run("--format", "csv", *BOARD, jan)
    out = run("--format", "csv", *BOARD, feb)

    item = WorkItem.objects.get(key="M-1")
    assert item.column.name == "Resolved"
    assert item.started_at == utc("2024-01-10T09:00")
    assert item.delivered_at == utc("2024-02-03T09:00")
    assert item.transitions.count() == 4
    assert "items already present: 1" in out and "transitions written: 2" in out
    assert "feb.csv line 4: 'Nowhere' maps to no column; move skipped" in out
    assert "feb.csv line 5: M-2 is not on the board" in out
    assert ItemMetrics.objects.get(item=item).delivered_at == utc("2024-02-03T09:00")

    # Both files again, in one run: nothing new.
    again = run("--format", "csv", *BOARD, jan, feb)
    assert "transitions written: 0" in again and "items created: 0" in again


@pytest.mark.django_db
def test_two_csv_files_in_one_run_equal_one_file(tmp_path):
    rows = [
        "M-1,Login audit,feature,2024-01-05T09:00:00+00:00,New,",
        "M-1,,,,Active,2024-01-10T09:00:00+00:00",
        "M-1,,,,Review,2024-02-01T09:00:00+00:00",
        "M-1,,,,Resolved,2024-02-03T09:00:00+00:00",
    ]
    run("--format", "csv", "--board", "one", *BOARD[2:], write(tmp_path / "all.csv", rows))
    jan, feb = write(tmp_path / "jan.csv", rows[:2]), write(tmp_path / "feb.csv", rows[2:])

    out = run("--format", "csv", "--board", "two", *BOARD[2:], jan, feb)

    assert "skipped: 0" in out
    one, two = (WorkItem.objects.get(board__slug=slug, key="M-1") for slug in ("one", "two"))
    assert (one.started_at, one.delivered_at) == (two.started_at, two.delivered_at)
    assert [t.at for t in one.transitions.all()] == [t.at for t in two.transitions.all()]


@pytest.mark.django_db
def test_a_later_file_with_full_rows_continues_the_item(tmp_path):
    """Exports that repeat title and created_at on every row: the first row of an item in a
    later file is its entry into that column, not a new creation."""
    jan = write(tmp_path / "jan.csv", ["M-1,Audit,feature,2024-01-05T09:00:00+00:00,New,"])
    feb = write(
        tmp_path / "feb.csv",
        ["M-1,Audit,feature,2024-01-05T09:00:00+00:00,Active,2024-02-01T09:00:00+00:00"],
    )
    run("--format", "csv", *BOARD, jan)

    out = run("--format", "csv", *BOARD, feb)

    item = WorkItem.objects.get(key="M-1")
    assert "skipped: 0" in out and "transitions written: 1" in out
    assert item.column.name == "Active" and item.started_at == utc("2024-02-01T09:00")


@pytest.mark.django_db
def test_a_reimport_writes_nothing_and_does_not_recompute(tmp_path):
    path = write(
        tmp_path / "a.csv",
        [
            "R-1,Export,feature,2024-01-05T09:00:00+00:00,New,",
            "R-1,,,,Active,2024-01-10T09:00:00+00:00",
        ],
    )
    run("--format", "csv", *BOARD, path)
    item = WorkItem.objects.get(key="R-1")
    computed = ItemMetrics.objects.get(item=item).computed_at

    with CaptureQueriesContext(connection) as captured:
        out = run("--format", "csv", *BOARD, path)

    writes = [q["sql"] for q in captured if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE")]
    assert writes == []
    assert "unchanged (already imported): 1" in out
    item.refresh_from_db()
    assert item.version == 1
    assert ItemMetrics.objects.get(item=item).computed_at == computed


@pytest.mark.django_db(transaction=True)
def test_an_import_killed_halfway_and_run_again_ends_as_a_clean_import(tmp_path, monkeypatch):
    rows = []
    for n in range(120):
        created = dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=n)
        rows.append(f"K-{n},Item {n},feature,{created.isoformat()},New,")
        for step, column in enumerate(("Active", "Review", "Active", "Resolved"), start=1):
            rows.append(f"K-{n},,,,{column},{(created + dt.timedelta(days=step)).isoformat()}")
    path = write(tmp_path / "history.csv", rows)
    monkeypatch.setattr(apply, "BATCH_ITEMS", 25)
    real_write, calls = apply._write, []

    def crash_after_two_batches(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the machine went away")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(apply, "_write", crash_after_two_batches)
    with pytest.raises(RuntimeError):
        run("--format", "csv", *BOARD, path)
    assert WorkItem.objects.count() == 50  # two whole batches, nothing of the third
    assert not ItemMetrics.objects.exists()  # metrics wait for the end

    monkeypatch.setattr(apply, "_write", real_write)
    run("--format", "csv", *BOARD, path)
    resumed = log(Board.objects.get(slug="ops"))
    assert ItemMetrics.objects.count() == 120 and not PendingRefresh.objects.exists()

    clean_args = ["--board", "clean", *BOARD[2:]]
    run("--format", "csv", *clean_args, path)
    assert resumed == log(Board.objects.get(slug="clean"))


@pytest.mark.django_db(transaction=True)
def test_a_run_after_a_crash_in_the_recompute_finishes_the_metrics(tmp_path, monkeypatch):
    path = write(tmp_path / "a.csv", ["C-1,Item,feature,2024-01-05T09:00:00+00:00,New,"])
    real = apply.recompute_if_queued
    monkeypatch.setattr(apply, "recompute_if_queued", lambda *a: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        run("--format", "csv", *BOARD, path)
    assert PendingRefresh.objects.exists() and not ItemMetrics.objects.exists()

    monkeypatch.setattr(apply, "recompute_if_queued", real)
    out = run("--format", "csv", *BOARD, path)

    assert "transitions written: 0" in out
    assert ItemMetrics.objects.count() == 1 and not PendingRefresh.objects.exists()


# Jira exports shaped slightly differently --------------------------------------------------------


def without_ids(issue: dict) -> dict:
    issue = copy.deepcopy(issue)
    issue.pop("id", None)
    for history in issue["changelog"]["histories"]:
        history.pop("id", None)
    return issue


@pytest.mark.django_db
def test_jira_histories_and_issues_without_ids_import_with_the_same_dates(tmp_path):
    names = ["SP-1", "SP-5", "SP-8"]
    with_ids = [json.loads((FIXTURES / f"{n}.json").read_text()) for n in names]
    path = tmp_path / "plugin-export.json"
    path.write_text(json.dumps([without_ids(issue) for issue in with_ids]))
    board = ["--columns", "Backlog,Selected for Development,In Progress,Review,Done",
             "--commitment", "Selected for Development", "--delivery", "Done"]  # fmt: skip

    out = run("--format", "jira", "--board", "plugin", *board, path)
    again = run("--format", "jira", "--board", "plugin", *board, path)
    run("--format", "jira", "--board", "rest", *board, *(FIXTURES / f"{n}.json" for n in names))

    assert "skipped: 0" in out and "items created: 3" in out
    assert "transitions written: 0" in again and "skipped: 0" in again
    for name in names:
        plugin = WorkItem.objects.get(board__slug="plugin", key=name)
        rest = WorkItem.objects.get(board__slug="rest", key=name)
        assert (plugin.started_at, plugin.delivered_at, plugin.column.name) == (
            rest.started_at,
            rest.delivered_at,
            rest.column.name,
        )
        moves = list(plugin.transitions.values_list("at", "to_column__name"))
        assert moves == list(rest.transitions.values_list("at", "to_column__name"))
        keys = [k for k in plugin.transitions.values_list("idempotency_key", flat=True) if k]
        assert all(re.fullmatch(rf"import:jira:{name}:n\d+:[0-9a-f]{{16}}", k) for k in keys)


def test_jira_histories_without_ids_are_ordered_by_time_then_position_in_the_file():
    issue = {
        "key": "X-1",
        "fields": {"summary": "t", "created": "2024-01-01T09:00:00.000+0000", "status": {}},
        "changelog": {
            "histories": [
                {"created": "2024-01-02T09:00:00.000+0000",
                 "items": [{"field": "status", "fromString": "A", "toString": "B"}]},
                {"created": "2024-01-02T09:00:00.000+0000",
                 "items": [{"field": "Status", "fromString": "B", "toString": "C"}]},
                {"created": "2024-01-01T12:00:00.000+0000",
                 "items": [{"field": "status", "fromString": "Open", "toString": "A"}]},
            ]
        },
    }  # fmt: skip

    items, problems = importing.parse_jira(json.dumps(issue), tz=dt.UTC, name="x.json")

    assert problems == []
    assert items[0].status == "Open"
    assert [m.status for m in items[0].moves] == ["A", "B", "C"]


@pytest.mark.django_db
def test_imported_items_get_their_readiness_criteria(tmp_path):
    run("--format", "csv", *BOARD, write(tmp_path / "empty.csv", []))
    board = Board.objects.get(slug="ops")
    CriterionTemplateFactory(board=board, gate_column=board.columns.get(name="Resolved"))
    CriterionTemplateFactory(
        board=board, gate_column=board.columns.get(name="Resolved"), applies_to_kinds=["defect"]
    )
    path = write(tmp_path / "a.csv", ["F-1,Feature,feature,2024-01-05T09:00:00+00:00,New,"])

    run("--format", "csv", *BOARD, path)

    criteria = AcceptanceCriterion.objects.filter(item__key="F-1")
    assert criteria.count() == 1
    assert criteria.get().added_at == utc("2024-01-05T09:00")


@pytest.mark.django_db
def test_a_move_in_the_future_is_refused_like_a_live_move(tmp_path):
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).isoformat()
    path = write(
        tmp_path / "a.csv",
        ["F-1,Item,feature,2024-01-05T09:00:00+00:00,New,", f"F-1,,,,Active,{future}"],
    )

    out = run("--format", "csv", *BOARD, path)

    assert "bad time: 1" in out and "is in the future; move skipped" in out
    assert WorkItem.objects.get(key="F-1").column.name == "New"


@pytest.mark.django_db
def test_an_item_key_already_used_on_the_board_is_refused(tmp_path):
    run("--format", "csv", *BOARD, write(tmp_path / "empty.csv", []))
    board = Board.objects.get(slug="ops")
    WorkItem.objects.create(
        board=board, key="OPS-1", title="made here", column=board.columns.first(), rank="a0"
    )
    out = run(
        "--format", "csv", *BOARD,
        write(tmp_path / "a.csv", ["OPS-1,Imported,feature,2024-01-05T09:00:00+00:00,New,"]),
    )  # fmt: skip
    assert "OPS-1 is already an item of the board; item skipped" in out
    assert WorkItem.objects.get(key="OPS-1").title == "made here"
    assert Column.objects.filter(board=board).count() == 5


@pytest.mark.parametrize(
    ("model", "columns"),
    [(WorkItem, apply.ITEM_COLUMNS), (Transition, apply.TRANSITION_COLUMNS)],
    ids=["items", "transitions"],
)
def test_rows_written_without_the_orm_name_every_column(model, columns):
    """A field added to the model must be added to the bulk rows (or left out on purpose)."""
    expected = {f.column for f in model._meta.concrete_fields}
    if model is Transition:
        expected.discard("id")
    assert set(columns) == expected
