"""``manage.py import_history``: real Jira REST issues and CSV rows become the same Transition log
a live board writes, with entry dates per docs/metrics.md "Column entry dates"."""

import copy
import datetime as dt
import hashlib
import io
import json
import re
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from boards import importing
from boards.flow import counted_path, entry_times
from boards.importing import apply, records
from boards.importing.jira import jira_kind
from boards.models import Board, Column, Transition, WorkItem
from tests.factories import BoardFactory

JIRA_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "jira-rest"
JIRA_FILES = [JIRA_DIR / f"SP-{n}.json" for n in (1, 2, 5, 7, 8, 11)]
# The statuses these issues use (statuses.json), in the order of board_configuration.json.
JIRA_COLUMNS = "Backlog,Selected for Development,In Progress,Review,Done"
JIRA_BOARD = [
    "--board", "sp", "--columns", JIRA_COLUMNS,
    "--commitment", "Selected for Development", "--delivery", "Done",
]  # fmt: skip
CSV_BOARD = [
    "--board", "pay", "--columns", "Backlog,Committed,Build,Test,Done",
    "--commitment", "Committed", "--delivery", "Done",
]  # fmt: skip
B, SFD, IP, RV, D = "Backlog", "Selected for Development", "In Progress", "Review", "Done"


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def run(*args) -> str:
    out = io.StringIO()
    call_command("import_history", *map(str, args), stdout=out)
    return out.getvalue()


def entry_dates(item: WorkItem) -> dict[str, dt.datetime | None]:
    """Entry date of every column, from the item's Transition rows, by the counted-path rule."""
    columns = list(item.board.columns.order_by("position"))
    position = {c.pk: c.position for c in columns}
    moves = [(position[t.to_column_id], t.at) for t in item.transitions.order_by("at", "id")]
    entries = entry_times(counted_path(moves), [c.position for c in columns])
    return {c.name: entries[c.position] for c in columns}


def jira_json(name: str) -> dict:
    return json.loads((JIRA_DIR / name).read_text())


def test_fixtures_are_found():
    assert all(path.is_file() for path in JIRA_FILES), JIRA_DIR


# Worked by hand from the changelogs (sorted by created, then id; non-status items ignored).
# Times are UTC (+0000 in the files). Raw status changes:
# SP-1  created 2021-06-18T18:41:29.398 (first fromString: Backlog)
#       10035 2021-06-18T18:43:34.818 Backlog -> Selected for Development
#       10038 2021-06-18T18:44:21.050 Selected for Development -> In Progress
#       10076 2021-12-14T00:30:15.283 In Progress -> Review
# SP-2  created 2021-06-18T18:41:37.804; 10036 2021-06-18T18:43:38.192 Backlog -> SfD
# SP-5  created 2021-06-18T18:41:58.333
#       10040 2021-06-23T12:44:38.197 Backlog -> Selected for Development
#       10043 2021-08-29T18:04:49.188 Selected for Development -> In Progress
#       10066 2021-09-06T04:34:11.432 In Progress -> Review
#       10067 2021-09-06T04:34:14.358 Review -> Done (item 1; item 0 is the resolution)
#       10070 2021-10-11T12:48:42.419 Done -> Selected for Development  (reopen: erases In
#             Progress, Review and Done; Selected for Development keeps 2021-06-23)
#       10071 2021-10-11T12:49:04.096 Selected for Development -> In Progress
#       10072 2021-10-11T12:49:07.261 In Progress -> Done (skips Review, which inherits Done's
#             date); delivered_at is this last Done entry, not 2021-09-06.
# SP-7  created 2021-06-18T18:42:21.375; 10077 2021-12-14T00:30:27.952 Backlog -> SfD
# SP-8  created 2021-06-18T18:42:35.885; 10051 2021-08-29T18:06:23.463 Backlog -> SfD,
#       10073 2021-12-14T00:30:04.491 SfD -> In Progress
# SP-11 created 2021-06-18T18:43:02.284; 10080 2021-12-14T00:30:33.979 Backlog -> SfD
EXPECTED = {
    "SP-1": (RV, 4, {
        B: "2021-06-18T18:41:29.398", SFD: "2021-06-18T18:43:34.818",
        IP: "2021-06-18T18:44:21.050", RV: "2021-12-14T00:30:15.283", D: None,
    }),
    "SP-2": (SFD, 2, {
        B: "2021-06-18T18:41:37.804", SFD: "2021-06-18T18:43:38.192", IP: None, RV: None, D: None,
    }),
    "SP-5": (D, 8, {
        B: "2021-06-18T18:41:58.333", SFD: "2021-06-23T12:44:38.197",
        IP: "2021-10-11T12:49:04.096", RV: "2021-10-11T12:49:07.261",
        D: "2021-10-11T12:49:07.261",
    }),
    "SP-7": (SFD, 2, {
        B: "2021-06-18T18:42:21.375", SFD: "2021-12-14T00:30:27.952", IP: None, RV: None, D: None,
    }),
    "SP-8": (IP, 3, {
        B: "2021-06-18T18:42:35.885", SFD: "2021-08-29T18:06:23.463",
        IP: "2021-12-14T00:30:04.491", RV: None, D: None,
    }),
    "SP-11": (SFD, 2, {
        B: "2021-06-18T18:43:02.284", SFD: "2021-12-14T00:30:33.979", IP: None, RV: None, D: None,
    }),
}  # fmt: skip


@pytest.mark.django_db
def test_jira_import_gives_the_hand_worked_entry_dates():
    out = run("--format", "jira", *JIRA_BOARD, *JIRA_FILES)

    board = Board.objects.get(slug="sp")
    assert board.commitment_column.name == SFD and board.delivery_column.name == D
    stages = dict(board.columns.values_list("name", "stage"))
    assert stages == {
        B: Column.Stage.UPSTREAM,
        SFD: Column.Stage.DEVELOPMENT,
        IP: Column.Stage.DEVELOPMENT,
        RV: Column.Stage.DEVELOPMENT,
        D: Column.Stage.DONE,
    }
    assert "items created: 6" in out
    assert "transitions written: 15" in out  # 21 rows, 6 of them creations
    assert "skipped: 0" in out
    assert Transition.objects.filter(board=board, source=Transition.Source.IMPORT).count() == 21
    for key, (column, rows, expected) in EXPECTED.items():
        item = WorkItem.objects.get(board=board, key=key)
        expected = {name: utc(t) if t else None for name, t in expected.items()}
        assert entry_dates(item) == expected, key
        assert item.started_at == expected[SFD], key
        assert item.delivered_at == expected[D], key
        assert item.column.name == column, key
        assert item.transitions.count() == rows, key
        assert item.created_at == expected[B], key
        assert (item.external_source, item.external_key) == ("jira", key)
        assert item.external_url.startswith("https://improvingflow.atlassian.net/rest/api/2/")
        assert item.kind == WorkItem.Kind.FEATURE  # all Stories

    sp5 = WorkItem.objects.get(board=board, key="SP-5")
    assert sp5.title == "Purchase ticket with visa"
    # The raw log keeps both Done entries; the counted path keeps only the last.
    done_entries = sp5.transitions.filter(to_column__name=D).values_list("at", flat=True)
    assert list(done_entries) == [utc("2021-09-06T04:34:14.358"), utc("2021-10-11T12:49:07.261")]
    assert sp5.transitions.filter(idempotency_key="import:jira:SP-5:10072:1").exists()


@pytest.mark.django_db
def test_reimport_changes_nothing():
    run("--format", "jira", *JIRA_BOARD, *JIRA_FILES)
    before = (WorkItem.objects.count(), Transition.objects.count())
    snapshot = list(WorkItem.objects.values_list("key", "column", "started_at", "delivered_at"))

    out = run("--format", "jira", *JIRA_BOARD, *JIRA_FILES)

    assert (WorkItem.objects.count(), Transition.objects.count()) == before
    assert list(WorkItem.objects.values_list("key", "column", "started_at", "delivered_at")) == (
        snapshot
    )
    assert "Board sp exists; ignoring --columns, --commitment, --delivery" in out
    assert "items created: 0" in out
    assert "items already present: 6" in out
    assert "transitions written: 0" in out
    assert "unchanged (already imported): 15" in out
    assert "skipped: 0" in out


@pytest.mark.django_db
def test_unmapped_statuses_are_reported_with_their_key_and_skipped(tmp_path):
    # SP-99: SP-2 as if it had been created in a status the board does not know.
    triage = copy.deepcopy(jira_json("SP-2.json"))
    triage["key"] = "SP-99"
    triage["changelog"]["histories"][0]["items"][0]["fromString"] = "Triage"
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps([triage]))
    no_review = ["--columns", "Backlog,Selected for Development,In Progress,Done"]
    args = ["--board", "sp", *no_review, "--commitment", SFD, "--delivery", D]

    out = run("--format", "jira", *args, *JIRA_FILES, extra)

    assert "items created: 6" in out
    assert "skipped: 3" in out
    assert "unmapped status: 3" in out
    assert "SP-1 history 10076: 'Review' maps to no column; move skipped" in out
    assert "SP-5 history 10066: 'Review' maps to no column; move skipped" in out
    assert "SP-99: created in 'Triage', which maps to no column; item skipped" in out
    assert not WorkItem.objects.filter(key="SP-99").exists()
    sp1 = WorkItem.objects.get(key="SP-1")
    assert sp1.column.name == IP
    sp5 = WorkItem.objects.get(key="SP-5")
    assert sp5.delivered_at == utc("2021-10-11T12:49:07.261")
    assert sp5.started_at == utc("2021-06-23T12:44:38.197")


@pytest.mark.django_db
def test_map_renames_statuses_ignoring_case():
    # The board as board_configuration.json names its columns: "Ready" holds Selected for Dev.
    args = [
        "--board", "sp", "--columns", "backlog,Ready,IN PROGRESS,Review,Done",
        "--commitment", "ready", "--delivery", "done",
        "--map", "SELECTED FOR DEVELOPMENT=ready",
    ]  # fmt: skip

    out = run("--format", "jira", *args, *JIRA_FILES)

    assert "skipped: 0" in out
    sp5 = WorkItem.objects.get(key="SP-5")
    assert entry_dates(sp5)["Ready"] == utc("2021-06-23T12:44:38.197")
    assert sp5.started_at == utc("2021-06-23T12:44:38.197")
    assert sp5.board.commitment_column.name == "Ready"


@pytest.mark.django_db
def test_search_result_and_list_forms_parse(tmp_path):
    search = tmp_path / "search.json"
    search.write_text(json.dumps({"startAt": 0, "total": 2, "issues": [
        jira_json("SP-1.json"), jira_json("SP-2.json"),
    ]}))  # fmt: skip
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([jira_json("SP-5.json"), jira_json("SP-7.json")]))

    out = run("--format", "jira", *JIRA_BOARD, search, listed)

    assert "items created: 4" in out
    keys = set(WorkItem.objects.values_list("key", flat=True))
    assert keys == {"SP-1", "SP-2", "SP-5", "SP-7"}
    assert WorkItem.objects.get(key="SP-5").delivered_at == utc("2021-10-11T12:49:07.261")


@pytest.mark.django_db
def test_a_file_that_is_not_json_is_reported_and_the_rest_imported(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"key": "SP-3",\n  "fields": ')

    out = run("--format", "jira", *JIRA_BOARD, broken, JIRA_DIR / "SP-2.json")

    assert "unreadable file: 1" in out
    assert "broken.json line 2: invalid JSON" in out
    assert "items created: 1" in out


@pytest.mark.parametrize(
    ("issue_type", "kind"),
    [
        ("Bug", WorkItem.Kind.DEFECT),
        ("Story", WorkItem.Kind.FEATURE),
        ("Task", WorkItem.Kind.FEATURE),
        ("Epic", WorkItem.Kind.FEATURE),
        ("Feature", WorkItem.Kind.FEATURE),
        ("Sub-task", WorkItem.Kind.FEATURE),
        ("Technical Debt", WorkItem.Kind.DEBT),
        ("Incident", WorkItem.Kind.ESCALATION),
        ("Risk", WorkItem.Kind.RISK),
        (None, WorkItem.Kind.FEATURE),
    ],
)
def test_jira_issue_type_gives_the_kind(issue_type, kind):
    assert jira_kind(issue_type) == kind


def test_jira_issue_with_no_status_change_is_created_in_its_current_status():
    issue = jira_json("SP-11.json")
    issue["changelog"]["histories"] = []
    issue["fields"]["duedate"] = "2021-07-01"
    items, problems = importing.parse_jira(json.dumps(issue), tz=dt.UTC, name="x.json")
    assert problems == []
    assert items[0].status == "Selected for Development"
    assert items[0].moves == []
    assert items[0].due_date == dt.date(2021, 7, 1)


# CSV -------------------------------------------------------------------------------------------

CSV_HEADER = "key,title,kind,created_at,to_column,at"
GOOD = [
    "A-1,Refund flow,feature,2024-03-01T09:00:00+00:00,Backlog,2024-03-01T09:00:00+00:00",  # 2
    "A-1,,,,Committed,2024-03-02T09:00:00+00:00",  # 3
    "A-1,,,,Build,2024-03-04T09:00:00+00:00",  # 4
]
LAST = "A-1,,,,Done,2024-03-06T09:00:00+00:00"  # after the bad lines


def write_csv(tmp_path, lines) -> Path:
    path = tmp_path / "moves.csv"
    path.write_text("\n".join([CSV_HEADER, *lines]) + "\n")
    return path


# (bad lines inserted from line 5, [(reason, line)])
MALFORMED = [
    pytest.param(["A-1,,,,Test,2024-03-05 nine o'clock"], [("bad time", 5)], id="bad time"),
    pytest.param(["B-1,Spike it,spike,2024-03-01T09:00:00Z,Backlog,"], [("unknown kind", 5)],
                 id="unknown kind"),
    pytest.param(["C-1,Short row,feature,2024-03-01T09:00:00Z"], [("missing field", 5)],
                 id="missing column"),
    pytest.param(["D-1,,feature,2024-03-01T09:00:00Z,Backlog,"], [("missing field", 5)],
                 id="missing title"),
    pytest.param(["A-1,,,,Build"], [("missing field", 5)], id="move without a time"),
    pytest.param(["A-1,,,,Nowhere,2024-03-05T09:00:00Z"], [("unmapped status", 5)],
                 id="unmapped column"),
    pytest.param(["A-1,,,,Test,2024-03-03T09:00:00Z"],
                 [("move dated before the item's previous move", 5)], id="out-of-order move"),
    pytest.param(["E-1,Bad start,feature,2024-13-01T09:00:00Z,Backlog,",
                  "E-1,,,,Build,2024-03-02T09:00:00Z"],
                 [("bad time", 5), ("item's creation row was skipped", 6)],
                 id="later rows of an item whose creation failed"),
    # Rows that used to crash the command, and times outside 1970..2999.
    pytest.param(["F-1,Old,feature,0000-01-01T09:00:00Z,Backlog,"], [("bad time", 5)],
                 id="year 0"),
    pytest.param(["F-1,Old,feature,0001-01-01T00:00:00+05:00,Backlog,"], [("bad time", 5)],
                 id="year 1 creation, before year 1 in UTC"),
    pytest.param(["F-1,Old,feature,0001-01-01T00:00:00,Backlog,"], [("bad time", 5)],
                 id="year 1 creation without an offset"),
    pytest.param(["A-1,,,,Test,0001-01-01T00:00:00+05:00"], [("bad time", 5)], id="year 1 move"),
    pytest.param(["A-1,,,,Test,9999-12-31T23:59:59-05:00"], [("bad time", 5)],
                 id="year 9999 move, after year 9999 in UTC"),
    pytest.param(["A-1,,,,Test,1969-12-31T23:59:59Z"], [("bad time", 5)], id="before 1970"),
    pytest.param(["A-1,,,,Test,3000-01-01T00:00:00Z"], [("bad time", 5)], id="year 3000"),
    pytest.param(["G-1,Huge," + "x" * 140_000 + ",2024-03-01T09:00:00Z,Backlog,"],
                 [("malformed data", 5)], id="field over the csv size limit"),
    pytest.param(['G-1,"Huge ' + "x" * 140_000 + '",feature,2024-03-01T09:00:00Z,Backlog,'],
                 [("malformed data", 5)], id="quoted field over the csv size limit"),
    pytest.param(["A-1,,,,Te\x00st,2024-03-05T09:00:00Z"], [("malformed data", 5)],
                 id="NUL in a move"),
    pytest.param(["H-1,Nul\x00title,feature,2024-03-01T09:00:00Z,Backlog,",
                  "H-1,,,,Build,2024-03-02T09:00:00Z"],
                 [("malformed data", 5), ("item's creation row was skipped", 6)],
                 id="NUL in a creation row"),
    pytest.param(["I-1,Early,feature,2024-03-02T09:00:00Z,Backlog,2024-03-01T09:00:00Z"],
                 [("move dated before the item's previous move", 5)],
                 id="creation row with at before created_at"),
]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize(("bad", "expected"), MALFORMED)
def test_csv_malformed_rows_are_reported_by_line_and_good_rows_import(tmp_path, bad, expected):
    path = write_csv(tmp_path, [*GOOD, *bad, LAST])

    out = run("--format", "csv", *CSV_BOARD, path)

    assert f"skipped: {len(expected)}" in out
    for reason, line in expected:
        assert f"{reason}: 1" in out
        assert f"moves.csv line {line}: " in out
    item = WorkItem.objects.get(key="A-1")
    assert [t.to_column.name for t in item.transitions.all()] == [
        "Backlog",
        "Committed",
        "Build",
        "Done",
    ]
    assert item.started_at == utc("2024-03-02T09:00")
    assert item.delivered_at == utc("2024-03-06T09:00")
    assert WorkItem.objects.count() == 1


@pytest.mark.django_db
def test_csv_map_is_case_insensitive_and_reimport_is_unchanged(tmp_path):
    path = write_csv(
        tmp_path,
        [
            "P-7,Invoice export,Defect,2024-03-01T09:00:00Z,BACKLOG,",
            "P-7,,,,next,2024-03-02T09:00:00Z",
            "P-7,,,,build,2024-03-03T09:00:00Z",
            "P-7,,,,qa,2024-03-04T09:00:00Z",
            "P-7,,,,Qa,2024-03-04T10:00:00Z",  # a second status of the same column: no-op
            "P-7,,,,done,2024-03-05T09:00:00Z",
        ],
    )
    args = ["--format", "csv", *CSV_BOARD, "--map", "NEXT=committed, QA = Test", path]

    first = run(*args)
    second = run(*args)

    item = WorkItem.objects.get(key="P-7")
    assert item.kind == WorkItem.Kind.DEFECT
    assert (item.external_source, item.external_key) == ("csv", "P-7")
    assert [t.to_column.name for t in item.transitions.all()] == [
        "Backlog",
        "Committed",
        "Build",
        "Test",
        "Done",
    ]
    assert "transitions written: 4" in first and "no-op (already in the column): 1" in first
    assert "items already present: 1" in second and "transitions written: 0" in second
    assert "unchanged (already imported): 4" in second
    assert "skipped: 0" in first and "skipped: 0" in second
    assert Transition.objects.count() == 5


@pytest.mark.django_db
def test_csv_time_without_offset_is_in_the_board_zone(tmp_path):
    path = write_csv(
        tmp_path,
        [
            "Z-1,Winter,feature,2024-03-01T09:00,Backlog,2024-03-01T09:00",
            "Z-1,,,,Committed,2024-07-01T09:00",  # CEST, +02:00
            "Z-1,,,,Done,2024-07-02T09:00:00+00:00",  # an explicit offset wins
        ],
    )

    run("--format", "csv", *CSV_BOARD, "--timezone", "Europe/Paris", path)

    item = WorkItem.objects.get(key="Z-1")
    assert item.board.time_zone == "Europe/Paris"
    assert item.created_at == utc("2024-03-01T08:00")
    assert item.started_at == utc("2024-07-01T07:00")
    assert item.delivered_at == utc("2024-07-02T09:00")


@pytest.mark.django_db
def test_existing_board_is_used_and_progress_shows_on_a_terminal(tmp_path):
    BoardFactory(slug="team")  # the standard columns: Backlog, Ready, ... Done, Operating
    path = write_csv(
        tmp_path,
        ["T-1,Audit log,feature,2024-03-01T09:00Z,Backlog,", "T-1,,,,Ready,2024-03-02T09:00Z"],
    )

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    call_command("import_history", "--format", "csv", "--board", "team", str(path), stdout=out)

    assert re.search(r"Importing: 100%.*1/1 .*items/s", out.getvalue())
    assert "ignoring" not in out.getvalue()
    assert WorkItem.objects.get(key="T-1").started_at == utc("2024-03-02T09:00")


@pytest.mark.django_db
def test_plain_output_has_no_progress_bar(tmp_path):
    path = write_csv(tmp_path, GOOD)
    out = run("--format", "csv", *CSV_BOARD, path)
    assert "\r" not in out


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "jira", "--board", "sp", "nope.json"], "nope.json: no such file"),
        (["--format", "xml", "--board", "sp", "SP-1"], "invalid choice: 'xml'"),
        (["--format", "jira", "--board", "sp"], "required: FILE"),
        (["--format", "jira", "--board", "sp", "SP-1"], "There is no board 'sp'"),
        (["--format", "jira", "--board", "sp", "--columns", "A,B,C", "SP-1"], "needs --commitment"),
        (
            ["--format", "jira", "--board", "sp", "--columns", "A,B,C", "--commitment", "B",
             "--delivery", "Z", "SP-1"],
            "--delivery 'Z' is not one of the columns A, B, C",
        ),
        (
            ["--format", "jira", "--board", "sp", "--columns", "A,B,C", "--commitment", "C",
             "--delivery", "B", "SP-1"],
            "The delivery column (B) must come after the commitment column (C)",
        ),
        (
            ["--format", "jira", *JIRA_BOARD, "--timezone", "Mars/Olympus", "SP-1"],
            "--timezone 'Mars/Olympus' is not a known IANA time zone",
        ),
        (["--format", "jira", *JIRA_BOARD, "--map", "QA", "SP-1"], "--map: 'QA' is not STATUS="),
        (
            ["--format", "jira", *JIRA_BOARD, "--map", "QA=Test", "SP-1"],
            "--map: qa=Test: 'Test' is not a column",
        ),
    ],
)  # fmt: skip
def test_unusable_invocations_fail_with_a_precise_message(args, message):
    args = [str(JIRA_DIR / "SP-1.json") if a == "SP-1" else a for a in args]
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("import_history", *args, stdout=io.StringIO())
    assert not Board.objects.exists()


# Malformed Jira issues ---------------------------------------------------------------------------
# Each variant is SP-2 (one status change, 10036: Backlog -> Selected for Development) altered in
# one place. It is written to bad.json together with SP-7, after it in the same file, and
# imported with the other four fixtures: the bad issue or history is reported with its key or
# position and skipped, and everything else is imported.


def setting(*path_and_value):
    """A change to an issue: set the value at ``path`` (keys and list indexes)."""
    *path, value = path_and_value

    def change(issue):
        target = issue
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return change


def appending(value, *path):
    def change(issue):
        target = issue
        for step in path:
            target = target[step]
        target.append(value)

    return change


def replacing(value):
    return lambda issue: value


HISTORY = ("changelog", "histories", 0)
# The only status change of SP-2 was skipped: it is not created in its current status either.
NOT_CREATED = (
    "item's creation row was skipped",
    "SP-2: all its histories that could change its status (1) were skipped",
)
# (change to SP-2, [(reason, summary line "location: detail")], SP-2 still imported)
MALFORMED_JIRA = [
    pytest.param(appending("oops", "changelog", "histories"),
                 [("malformed data", "SP-2 history #2: the history is str 'oops'")], True,
                 id="history not an object"),
    pytest.param(setting(*HISTORY, "items", 5),
                 [("malformed data", "SP-2 history #1: items is int 5, not an array"),
                  NOT_CREATED], False, id="items not an array"),
    pytest.param(setting(*HISTORY, "items", 0, "oops"),
                 [("malformed data", "SP-2 history #1: items[0] is str 'oops', not an object"),
                  NOT_CREATED], False, id="item not an object"),
    pytest.param(setting(*HISTORY, "items", 0, "toString", 5),
                 [("malformed data", "SP-2 history #1: items[0].toString is int 5, not a string"),
                  NOT_CREATED], False, id="toString not a string"),
    pytest.param(setting(*HISTORY, "id", "\N{SUPERSCRIPT TWO}"),
                 [("malformed data",
                   "SP-2 history #1: the history id '\N{SUPERSCRIPT TWO}' is not a number"),
                  NOT_CREATED], False, id="history id a digit int() refuses"),
    pytest.param(appending({"id": "10036", "created": "2021-06-19T00:00:00.000+0000",
                            "items": [{"field": "status", "toString": "Done"}]},
                           "changelog", "histories"),
                 [("malformed data", "SP-2 history 10036: the history id is repeated")], True,
                 id="repeated history id"),
    pytest.param(setting(*HISTORY, "created", "0001-01-01T00:30:00.000+0100"),
                 [("bad time", "SP-2 history 10036: '0001-01-01T00:30:00.000+0100' is not an "
                   "ISO 8601 time from 1970 to 2999"), NOT_CREATED], False,
                 id="history in year 1, before year 1 in UTC"),
    pytest.param(setting(*HISTORY, "created", "0001-01-01T00:00:00.000+0000"),
                 [("bad time", "SP-2 history 10036: '0001-01-01T00:00:00.000+0000' is outside "
                   "1970..2999"), NOT_CREATED], False, id="history in year 1"),
    pytest.param(setting("fields", "created", "0001-01-01T00:30:00.000+0100"),
                 [("bad time", "SP-2: fields.created: '0001-01-01T00:30:00.000+0100' is not an "
                   "ISO 8601 time")], False, id="created in year 1"),
    pytest.param(setting("fields", "created", 5),
                 [("bad time", "SP-2: fields.created: 5 is not a time")], False,
                 id="created not a string"),
    pytest.param(setting("fields", "status", "Done"),
                 [("malformed data", "SP-2: fields.status is str 'Done', not an object")], False,
                 id="status a string"),
    pytest.param(setting("fields", "issuetype", "Story"),
                 [("malformed data", "SP-2: fields.issuetype is str 'Story', not an object")],
                 False, id="issuetype a string"),
    pytest.param(setting("fields", "issuetype", {"name": 7}),
                 [("malformed data", "SP-2: fields.issuetype.name is int 7, not a string")],
                 False, id="issuetype name not a string"),
    pytest.param(setting("fields", []), [("not a Jira issue", "SP-2: no 'fields' object")],
                 False, id="fields an array"),
    pytest.param(setting("key", 5),
                 [("missing field", "bad.json issue #1: no issue key (key is 5)")], False,
                 id="key a number"),
    pytest.param(setting("changelog", "x"),
                 [("malformed data", "SP-2: changelog is str 'x', not an object")], False,
                 id="changelog a string"),
    pytest.param(setting("changelog", "histories", {"0": {}}),
                 [("malformed data", "SP-2: changelog.histories is dict {'0': {}}, not an array")],
                 False, id="histories an object"),
    pytest.param(setting("fields", "summary", "Nul\x00title"),
                 [("malformed data", "SP-2: fields.summary contains a NUL character")], False,
                 id="NUL in the summary"),
    pytest.param(setting("key", "SP-\x002"),
                 [("malformed data", "bad.json issue #1: key contains a NUL character")], False,
                 id="NUL in the key"),
    pytest.param(setting("fields", "summary", "\ud800"),
                 [("malformed data",
                   "SP-2: fields.summary contains a NUL character or a lone surrogate")], False,
                 id="lone surrogate in the summary"),
    pytest.param(replacing(5), [("not a Jira issue", "bad.json issue #1: no 'fields' object")],
                 False, id="issue a number"),
]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize(("change", "expected", "imported"), MALFORMED_JIRA)
def test_jira_malformed_issues_are_reported_by_key_and_the_rest_imported(
    tmp_path, change, expected, imported
):
    issue = jira_json("SP-2.json")
    issue = change(issue) or issue
    bad = tmp_path / "bad.json"
    # ensure_ascii keeps a lone surrogate as its \ud800 escape, as Jira would send it.
    bad.write_text(json.dumps([issue, jira_json("SP-7.json")]))
    others = [JIRA_DIR / f"SP-{n}.json" for n in (1, 5, 8, 11)]

    out = run("--format", "jira", *JIRA_BOARD, bad, *others)

    assert f"skipped: {len(expected)}\n" in out
    for reason, line in expected:
        assert f"    {reason}: 1\n" in out
        assert f"      {line}" in out
    keys = set(WorkItem.objects.values_list("key", flat=True))
    assert keys == {"SP-1", "SP-5", "SP-7", "SP-8", "SP-11"} | ({"SP-2"} if imported else set())
    assert f"items created: {len(keys)}" in out
    for key in keys:
        column, rows, expected = EXPECTED[key]
        item = WorkItem.objects.get(key=key)
        assert item.transitions.count() == rows, key
        assert item.column.name == column, key
        assert item.started_at == utc(expected[SFD]), key


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("[" * 100_000, "deep.json: invalid JSON: maximum recursion depth exceeded"),
        ('{"key": ' + "1" * 5000 + "}", "deep.json: invalid JSON: Exceeds the limit"),
        ('"just a string"', "deep.json issue #1: no 'fields' object"),
    ],
    ids=["nesting too deep", "number too long", "not an object"],
)
def test_jira_unreadable_file_is_reported_and_the_other_files_imported(tmp_path, text, line):
    bad = tmp_path / "deep.json"
    bad.write_text(text)

    out = run("--format", "jira", *JIRA_BOARD, bad, *JIRA_FILES)

    assert f"      {line}" in out
    assert "skipped: 1\n" in out
    assert "items created: 6" in out


@pytest.mark.django_db
def test_csv_unreadable_header_is_reported_and_the_other_files_imported(tmp_path):
    bad = tmp_path / "huge.csv"
    bad.write_text("key," + "x" * 140_000 + "\n")
    good = write_csv(tmp_path, [*GOOD, LAST])

    out = run("--format", "csv", *CSV_BOARD, bad, good)

    assert "unreadable file: 1" in out
    assert "huge.csv line 1: unreadable CSV: field larger than field limit (131072)" in out
    assert "items created: 1" in out and "transitions written: 3" in out


@pytest.mark.django_db
def test_csv_oversized_field_is_reported_by_line_and_the_next_lines_read(tmp_path):
    path = write_csv(tmp_path, [*GOOD, "G-1,Huge," + "x" * 140_000 + ",2024-03-01,Backlog,", LAST])

    out = run("--format", "csv", *CSV_BOARD, path)

    assert "moves.csv line 5: unreadable CSV: field larger than field limit (131072)" in out
    assert WorkItem.objects.get(key="A-1").delivered_at == utc("2024-03-06T09:00")


# Idempotency keys and database errors ------------------------------------------------------------


def test_bounded_key_is_short_deterministic_and_distinct():
    short = "import:csv:A-1:2024-03-01T09:00:00+00:00:build"
    assert records.bounded_key(short) == short
    long_a, long_b = "import:csv:A-1:" + "a" * 300, "import:csv:A-1:" + "a" * 299 + "b"
    key_a = records.bounded_key(long_a)
    assert len(key_a) == 200 == records.IDEMPOTENCY_KEY_MAX
    assert key_a == records.bounded_key(long_a)
    assert key_a.startswith("import:csv:A-1:aaa")
    assert key_a.endswith(":" + hashlib.sha256(long_a.encode()).hexdigest())
    assert records.bounded_key(long_b) != key_a


@pytest.mark.django_db
def test_a_long_status_gives_a_bounded_idempotency_key_and_reimport_is_unchanged(tmp_path):
    status = "Waiting for the " + "very " * 60 + "long review"
    path = write_csv(tmp_path, [*GOOD, f"A-1,,,,{status},2024-03-05T09:00:00Z", LAST])
    args = ["--format", "csv", *CSV_BOARD, "--map", f"{status}=Test", path]

    first = run(*args)
    second = run(*args)

    assert "skipped: 0" in first and "transitions written: 4" in first
    assert "unchanged (already imported): 4" in second and "transitions written: 0" in second
    test = Transition.objects.get(to_column__name="Test")
    full = f"import:csv:A-1:3:2024-03-05T09:00:00+00:00:{status.lower()}"
    assert len(full) > 200
    assert test.idempotency_key == records.bounded_key(full)
    assert len(test.idempotency_key) == 200
    assert Transition.objects.count() == 5


@pytest.mark.django_db
def test_a_database_error_rolls_back_that_item_only_and_the_import_goes_on(monkeypatch):
    check_a_database_error_rolls_back_that_item_only(monkeypatch)


@pytest.mark.django_db(transaction=True)
def test_a_database_error_rolls_back_that_item_only_outside_a_transaction(monkeypatch):
    # As the command runs: autocommit, so each item is a transaction of its own, not a savepoint.
    check_a_database_error_rolls_back_that_item_only(monkeypatch)


def check_a_database_error_rolls_back_that_item_only(monkeypatch):
    real_write = apply._write

    def failing_write(board, plans, *args, **kwargs):
        real_write(board, plans, *args, **kwargs)  # written, then undone by the rollback
        if any(plan.history.key == "SP-5" for plan in plans):
            with connection.cursor() as cursor:
                cursor.execute("SELECT * FROM no_such_table")

    monkeypatch.setattr(apply, "_write", failing_write)

    out = run("--format", "jira", *JIRA_BOARD, *JIRA_FILES)

    assert "refused by the database (item rolled back): 1" in out
    assert re.search(r"      SP-5: (OperationalError|ProgrammingError): .*no_such_table", out)
    assert "items created: 5" in out
    assert "transitions written: 8" in out  # 15 less SP-5's 7 moves
    assert "skipped: 1\n" in out
    assert not WorkItem.objects.filter(key="SP-5").exists()
    assert Transition.objects.count() == 21 - 8
    for key in ("SP-1", "SP-2", "SP-7", "SP-8", "SP-11"):
        assert WorkItem.objects.get(key=key).transitions.count() == EXPECTED[key][1], key

    monkeypatch.setattr(apply, "_write", real_write)
    again = run("--format", "jira", *JIRA_BOARD, *JIRA_FILES)
    assert "items created: 1" in again and "skipped: 0" in again
    assert WorkItem.objects.get(key="SP-5").delivered_at == utc(EXPECTED["SP-5"][2][D])


# CSV: the first row's ``at`` ----------------------------------------------------------------------

ENTRY = [
    # (first row, the item's moves as (to column, at), started_at)
    pytest.param(
        "K-1,Refund,feature,2024-01-01T09:00,Committed,2024-01-10T09:00",
        [("Backlog", "2024-01-01T09:00"), ("Committed", "2024-01-10T09:00"),
         ("Done", "2024-01-15T09:00")],
        "2024-01-10T09:00", id="at later: created in the first column, then moved",
    ),
    pytest.param(
        "K-1,Refund,feature,2024-01-01T09:00,Committed,2024-01-01T09:00",
        [("Committed", "2024-01-01T09:00"), ("Done", "2024-01-15T09:00")],
        "2024-01-01T09:00", id="at equal: created in to_column",
    ),
    pytest.param(
        "K-1,Refund,feature,2024-01-01T09:00,Committed,",
        [("Committed", "2024-01-01T09:00"), ("Done", "2024-01-15T09:00")],
        "2024-01-01T09:00", id="at blank: created in to_column",
    ),
    pytest.param(
        "K-1,Refund,feature,2024-01-01T09:00,Backlog,2024-01-10T09:00",
        [("Backlog", "2024-01-01T09:00"), ("Done", "2024-01-15T09:00")],
        "2024-01-15T09:00", id="at later into the first column: a no-op",
    ),
]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize(("first", "moves", "started"), ENTRY)
def test_csv_first_row_at_dates_the_entry_into_its_column(tmp_path, first, moves, started):
    path = write_csv(tmp_path, [first, "K-1,,,,Done,2024-01-15T09:00"])

    out = run("--format", "csv", *CSV_BOARD, path)
    again = run("--format", "csv", *CSV_BOARD, path)

    item = WorkItem.objects.get(key="K-1")
    rows = list(item.transitions.order_by("at", "id"))
    assert [(t.to_column.name, t.at) for t in rows] == [(c, utc(at)) for c, at in moves]
    assert rows[0].from_column is None and rows[0].idempotency_key is None
    assert all(t.idempotency_key for t in rows[1:])
    assert item.created_at == utc("2024-01-01T09:00")
    assert item.started_at == (utc(started) if started else None)
    assert item.delivered_at == utc("2024-01-15T09:00")
    assert "skipped: 0" in out and f"transitions written: {len(moves) - 1}" in out
    assert f"unchanged (already imported): {len(moves) - 1}" in again
    assert Transition.objects.count() == len(moves)


@pytest.mark.django_db
def test_csv_later_first_row_at_gives_the_true_cycle_time(tmp_path):
    path = write_csv(
        tmp_path,
        [
            "A-1,title,feature,2024-01-01T09:00,Committed,2024-01-10T09:00",
            "A-1,,,,Done,2024-01-12T09:00",
        ],
    )

    run("--format", "csv", *CSV_BOARD, path)

    item = WorkItem.objects.get(key="A-1")
    assert item.started_at == utc("2024-01-10T09:00")
    assert item.delivered_at - item.started_at == dt.timedelta(days=2)
    entry = item.transitions.get(to_column__name="Committed")
    assert entry.from_column.name == "Backlog"
    assert entry.idempotency_key == "import:csv:A-1:0:2024-01-10T09:00:00+00:00:committed"
