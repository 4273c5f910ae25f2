"""The metrics read API: served from the snapshots, readable by the board's members only, precise
about bad input, and a bounded number of queries whatever the size of the board."""

import base64
import datetime as dt
import zoneinfo
from collections import Counter
from dataclasses import dataclass

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from boards.models import Board, BoardMembership, WorkItem
from boards.services import block_end, block_start, work_item_move
from metrics.calculators import forecast
from metrics.models import BoardMetrics, ItemMetrics
from metrics.refresh import recompute_board
from metrics.summary import refresh_summary, throughput_sample
from tests.factories import BoardFactory, MembershipFactory, UserFactory, WorkItemFactory

pytestmark = pytest.mark.django_db
API = "/api/v1/boards/{slug}/metrics/{sub}"
SUBS = ["cycle-times/", "cfd/", "throughput/", "aging/", "time-in-column/", "readiness/"]
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
UTC = dt.UTC


def url(board, sub=""):
    return API.format(slug=board.slug, sub=sub)


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


# --- a small board with known dates ----------------------------------------------------------


@dataclass
class Small:
    """Four items on a New York board, days counted back from today (``d(20)`` is today):

    - A (feature): Backlog d0, Ready d1, Build d2 (blocked d2 12:00 to d3 12:00), Review d4,
      Done d5 15:00: cycle 5 days, lead 6 days, Readiness skipped (inherits d5);
    - B (defect): Backlog d2, Ready d3 09:00, Build d3, Done d3 22:00 local (d4 in UTC): cycle
      1 day, lead 2 days;
    - C (feature): Backlog d4, Ready d6 10:00, Build d7: in progress, 15 days old today;
    - E (escalation): Backlog d6, Ready d6, Build d8, Readiness d10 (Review skipped), Done d12,
      Operating d13: cycle 7 days, lead 7 days.
    """

    board: Board
    items: dict[str, WorkItem]
    today: dt.date

    def d(self, k: int) -> dt.date:
        return self.today - dt.timedelta(days=20 - k)

    def at(self, k: int, hour: int) -> dt.datetime:
        """Local ``hour`` o'clock on day k, in UTC (so that subtraction is elapsed time)."""
        return dt.datetime.combine(self.d(k), dt.time(hour), NEW_YORK).astimezone(UTC)

    def key(self, name: str) -> str:
        return self.items[name].key


def build_small_board(slug: str = "small") -> Small:
    board = BoardFactory(slug=slug, name="Small", key_prefix="SM", time_zone="America/New_York")
    col = {c.name: c for c in board.columns.all()}
    small = Small(board, {}, timezone.now().astimezone(NEW_YORK).date())
    at = small.at

    def item(name, kind, created, moves):
        made = WorkItemFactory(board=board, title=f"Item {name}", kind=kind, created_at=created)
        for column, when in moves:
            work_item_move(made, col[column], actor=None, source="api", at=when, enforce=False)
        small.items[name] = made
        return made

    a = item("A", "feature", at(0, 10), [("Ready", at(1, 9)), ("Build", at(2, 9))])
    block_start(a, actor=None, reason="dependency", at=at(2, 12))
    block_end(a, actor=None, at=at(3, 12))
    item("B", "defect", at(2, 10), [("Ready", at(3, 9)), ("Build", at(3, 10)), ("Done", at(3, 22))])
    work_item_move(a, col["Review"], actor=None, source="api", at=at(4, 9), enforce=False)
    item("C", "feature", at(4, 10), [("Ready", at(6, 10)), ("Build", at(7, 10))])
    work_item_move(a, col["Done"], actor=None, source="api", at=at(5, 15), enforce=False)
    item(
        "E",
        "escalation",
        at(6, 8),
        [
            ("Ready", at(6, 9)),
            ("Build", at(8, 9)),
            ("Readiness", at(10, 9)),
            ("Done", at(12, 9)),
            ("Operating", at(13, 9)),
        ],
    )
    recompute_board(board)
    refresh_summary(board)
    return small


@pytest.fixture
def small(db):
    return build_small_board()


@pytest.fixture
def reader(small):
    user = UserFactory(username="max-member")
    MembershipFactory(board=small.board, user=user, role=BoardMembership.Role.MEMBER)
    return client_for(user)


# --- the demo board, seeded once for the module ----------------------------------------------


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The seeded demo board, inside a transaction rolled back after the module's tests (each
    test's own transaction nests in it as a savepoint), so no other test sees it."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", verbosity=0)
        yield Board.objects.get(slug="demo")
        transaction.set_rollback(True)


@pytest.fixture
def demo_reader(demo, db):
    user = UserFactory(username="vera-viewer")
    MembershipFactory(board=demo, user=user, role=BoardMembership.Role.VIEWER)
    return client_for(user)


# --- permissions -----------------------------------------------------------------------------


@pytest.mark.parametrize("sub", ["", *SUBS, "forecast/?items=5"])
def test_members_read_and_outsiders_are_told_nothing(board, member, ops_lead, outsider, sub):
    viewer = UserFactory(username="vera-viewer")
    MembershipFactory(board=board, user=viewer, role=BoardMembership.Role.VIEWER)
    superuser = UserFactory(username="sam-superuser", is_superuser=True)
    for user in (member, ops_lead, viewer, superuser):
        assert client_for(user).get(url(board, sub)).status_code == 200, user.username
    # An authenticated non-member gets the same 404 as for a board that does not exist.
    response = client_for(outsider).get(url(board, sub))
    assert response.status_code == 404
    assert response.json() == client_for(outsider).get(url(Board(slug="nope"), sub)).json()
    # Anonymous: 401 with the token challenge (the token scheme comes first).
    anonymous = client_for(None).get(url(board, sub))
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"].startswith("Token")


def test_a_member_of_another_board_gets_404(board, small, member):
    assert client_for(member).get(url(small.board)).status_code == 404


def test_bad_input_on_a_board_the_user_cannot_read_is_still_404(board, outsider):
    assert client_for(outsider).get(url(board, "cycle-times/?since=junk")).status_code == 404


# --- no history ------------------------------------------------------------------------------

NO_HISTORY = {"has_history": False, "detail": "This board has no history yet."}


@pytest.mark.parametrize(
    "sub, empty",
    [
        ("", {}),
        ("cycle-times/", {"count": 0, "results": [], "percentiles": None}),
        ("cfd/", {"days": []}),
        ("throughput/?period=week", {"period": "week", "total": 0, "series": []}),
        ("aging/", {"items": [], "cycle_time": None}),
        ("time-in-column/", {"columns": []}),
        ("readiness/", {"readiness": None, "blockers": None}),
        ("forecast/?items=3", {"readings": None}),
    ],
)
def test_a_fresh_board_says_it_has_no_history(board, member, sub, empty):
    response = client_for(member).get(url(board, sub))
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in NO_HISTORY} == NO_HISTORY
    assert {k: body[k] for k in empty} == empty


def test_items_without_snapshots_yet_are_no_history(board, member):
    WorkItemFactory(board=board)  # the worker has not refreshed the board yet
    assert client_for(member).get(url(board)).json() == NO_HISTORY


# --- summary ---------------------------------------------------------------------------------


def test_the_summary_is_the_stored_one(small, reader):
    body = reader.get(url(small.board)).json()
    stored = BoardMetrics.objects.get(board=small.board)
    assert body["stored"] is True
    assert body["as_of"] == stored.summary["as_of"]
    assert body["wip"] == 1
    assert body["throughput"] == {"last_7_days": 0, "last_30_days": 3}
    assert body["cycle_time"]["percentiles"] == {"50": 5, "70": 5, "85": 5, "95": 5}
    assert body["sle"]["text"] == "85% of items finish in 5 days or less"
    assert body["readiness"]["critical_track"] is None  # no readiness criteria on this board


def test_a_board_without_a_stored_summary_gets_one_computed_not_stored(board, member):
    item = WorkItemFactory(board=board, created_at=timezone.now() - dt.timedelta(days=3))
    ready = board.columns.get(name="Ready")
    work_item_move(item, ready, actor=None, source="api", at=timezone.now() - dt.timedelta(days=2))
    recompute_board(board)  # snapshots, but no summary yet
    body = client_for(member).get(url(board)).json()
    assert body["has_history"] is True and body["stored"] is False
    assert body["wip"] == 1
    assert BoardMetrics.objects.get(board=board).summary == {}


def test_the_demo_summary_names_the_bottleneck_and_the_critical_track(demo, demo_reader):
    body = demo_reader.get(url(demo)).json()
    stored = BoardMetrics.objects.get(board=demo)
    assert body["computed_at"] is not None and body["as_of"] == stored.summary["as_of"]
    assert body["bottleneck"]["top"]["evidence"].startswith(body["bottleneck"]["top"]["name"])
    tracks = body["readiness"]["tracks"]
    critical = body["readiness"]["critical_track"]
    assert critical["critical_share"] == max(t["critical_share"] for t in tracks.values())
    assert critical == {"track": critical["track"], **tracks[critical["track"]]}
    assert body["readiness"]["lead_time"]["count"] > 0
    assert set(body["throughput"]) == {"last_7_days", "last_30_days"}


# --- cycle times -----------------------------------------------------------------------------


def test_cycle_times_list_delivered_items_with_the_plus_one_convention(small, reader):
    body = reader.get(url(small.board, "cycle-times/")).json()
    rows = {row["key"]: row for row in body["results"]}
    assert [row["key"] for row in body["results"]] == [small.key(n) for n in ("B", "A", "E")]
    a, b = rows[small.key("A")], rows[small.key("B")]
    assert (a["cycle_days"], a["lead_days"], a["kind"]) == (5, 6, "feature")
    assert a["cycle_seconds"] == (small.at(5, 15) - small.at(1, 9)).total_seconds()
    assert dt.datetime.fromisoformat(a["started_at"]) == small.at(1, 9)
    # Done at 22:00 New York time is the next day in UTC; days are counted in the board's zone.
    assert (b["cycle_days"], b["lead_days"]) == (1, 2)
    assert rows[small.key("E")]["cycle_days"] == 7
    assert body["count"] == 3 and body["percentiles"] == {"50": 5, "70": 5, "85": 5, "95": 5}


@pytest.mark.parametrize(
    "params, keys, percentile_50",
    [
        ("kind=defect", ["B"], 1),
        ("kind=risk", [], None),
        ("since={d4}", ["A", "E"], 5),
        ("until={d4}", ["B"], 1),  # B was delivered on d3 in New York (d4 in UTC)
        ("since={d3}&until={d5}", ["B", "A"], 1),
        ("since={d13}", [], None),
    ],
)
def test_cycle_times_filter_by_local_delivery_date_and_kind(
    small, reader, params, keys, percentile_50
):
    days = {f"d{k}": small.d(k).isoformat() for k in range(21)}
    body = reader.get(url(small.board, f"cycle-times/?{params.format(**days)}")).json()
    assert [row["key"] for row in body["results"]] == [small.key(n) for n in keys]
    assert body["count"] == len(keys)
    assert (body["percentiles"] or {}).get("50") == percentile_50


def test_cycle_times_are_paginated_with_the_percentiles_of_the_whole_filtered_set(small, reader):
    first = reader.get(url(small.board, "cycle-times/?page_size=1")).json()
    assert first["count"] == 3 and first["next"] and not first["previous"]
    body = reader.get(first["next"]).json()
    assert [row["key"] for row in body["results"]] == [small.key("A")]
    assert body["count"] == 3 and body["next"] and body["previous"]
    assert body["percentiles"]["50"] == 5
    last = reader.get(body["next"]).json()
    keys = [row["key"] for page in (first, body, last) for row in page["results"]]
    assert len(set(keys)) == 3 and not last["next"]


@pytest.mark.parametrize("position", ["p=abc", "p=2026-13-45T00:00:00Z"])
def test_a_forged_cycle_time_cursor_is_refused_by_rule(small, reader, position):
    forged = base64.urlsafe_b64encode(position.encode()).decode()
    response = reader.get(url(small.board, f"cycle-times/?cursor={forged}"))
    assert response.status_code == 422, response.content
    assert "cursor" in response.json()["errors"]


# --- daily series ----------------------------------------------------------------------------


def test_cfd_counts_entries_per_day_in_board_order(small, reader):
    body = reader.get(url(small.board, "cfd/")).json()
    names = ["Backlog", "Ready", "Build", "Review", "Readiness", "Done", "Operating"]
    assert body["columns"] == names
    days = {row["day"]: row["columns"] for row in body["days"]}
    assert list(days) == [small.d(k).isoformat() for k in range(21)]
    assert list(days[small.d(5).isoformat()].items()) == list(
        zip(names, [3, 2, 2, 2, 2, 2, 0], strict=True)
    )
    assert list(days[small.d(20).isoformat()].values()) == [4, 4, 4, 3, 3, 3, 1]
    window = reader.get(url(small.board, f"cfd/?since={small.d(5)}&until={small.d(6)}")).json()
    assert [row["day"] for row in window["days"]] == [
        small.d(5).isoformat(),
        small.d(6).isoformat(),
    ]


def test_throughput_per_day_keeps_zero_days(small, reader):
    body = reader.get(url(small.board, "throughput/")).json()
    assert body["period"] == "day" and body["total"] == 3
    counts = {row["day"]: row["count"] for row in body["series"]}
    assert len(counts) == 21
    assert {d for d, n in counts.items() if n} == {small.d(k).isoformat() for k in (3, 5, 12)}


def test_throughput_per_week_starts_on_monday(small, reader):
    body = reader.get(url(small.board, "throughput/?period=week")).json()
    mondays = [dt.date.fromisoformat(row["week_start"]) for row in body["series"]]
    assert all(m.weekday() == 0 for m in mondays)
    assert mondays == sorted(mondays) and mondays[0] <= small.d(0) < mondays[0] + dt.timedelta(7)
    expected = Counter(small.d(k) - dt.timedelta(days=small.d(k).weekday()) for k in (3, 5, 12))
    assert {m: row["count"] for m, row in zip(mondays, body["series"], strict=True)} == {
        m: expected.get(m, 0) for m in mondays
    }


# --- work in progress ------------------------------------------------------------------------


def test_aging_lists_wip_with_its_age_today(small, reader):
    body = reader.get(url(small.board, "aging/")).json()
    assert body["items"] == [
        {
            "key": small.key("C"),
            "title": "Item C",
            "kind": "feature",
            "column": "Build",
            "column_position": 2,
            "started_at": body["items"][0]["started_at"],
            "age_days": 15,  # started on d6, today is d20: 14 days later, + 1
            "age_seconds": pytest.approx(
                (timezone.now() - small.at(6, 10)).total_seconds(), abs=60
            ),
        }
    ]
    assert dt.datetime.fromisoformat(body["items"][0]["started_at"]) == small.at(6, 10)
    assert body["columns"] == ["Ready", "Build", "Review", "Readiness"]
    assert body["cycle_time"] == {
        "window_days": 90,
        "items": 3,
        "percentiles": {"50": 5, "70": 5, "85": 5, "95": 5},
    }


def test_time_in_column_of_delivered_items_and_current_wip(small, reader):
    body = reader.get(url(small.board, "time-in-column/")).json()
    columns = {row["column"]: row for row in body["columns"]}
    assert body["delivered"] == 3 and body["until"] == small.today.isoformat()

    def days(start, end):
        return (end - start).total_seconds() / 86_400

    build = sorted(
        [
            days(small.at(2, 9), small.at(4, 9)),  # A
            days(small.at(3, 10), small.at(3, 22)),  # B: half a day
            days(small.at(8, 9), small.at(10, 9)),  # E
        ]
    )
    assert (columns["Build"]["items"], columns["Build"]["median_days"]) == (3, build[1])
    assert columns["Build"]["p85_days"] == build[1]  # floor(2 * 0.85) = 1
    assert columns["Review"]["items"] == 1  # only A stayed there; E skipped it
    assert columns["Done"]["median_days"] is None  # after delivery: not flow time
    assert {name: row["wip"] for name, row in columns.items() if row["wip"]} == {
        "Build": 1,
        "Done": 2,
        "Operating": 1,
    }


def test_time_in_column_window(small, reader):
    body = reader.get(url(small.board, f"time-in-column/?until={small.d(4)}")).json()
    assert body["delivered"] == 1  # B only
    assert body["since"] == (small.d(4) - dt.timedelta(days=89)).isoformat()


# --- readiness -------------------------------------------------------------------------------


def test_readiness_has_the_summary_block_and_blocker_clusters(demo, demo_reader):
    body = demo_reader.get(url(demo, "readiness/")).json()
    summary = BoardMetrics.objects.get(board=demo).summary
    assert body["blockers"] == summary["blockers"]
    assert body["readiness"]["tracks"] == summary["readiness"]["tracks"]
    assert body["readiness"]["critical_track"]["track"] in summary["readiness"]["tracks"]
    gate = next(iter(body["readiness"]["gates"].values()))
    assert gate["column"] == "Released"


# --- forecast --------------------------------------------------------------------------------


def test_forecast_how_many_by_a_date_is_reproducible(small, reader):
    until = small.today + dt.timedelta(days=30)
    first = reader.get(url(small.board, f"forecast/?date={until}")).json()
    second = reader.get(url(small.board, f"forecast/?date={until}")).json()
    assert first == second
    sample = throughput_sample(small.board, small.today)
    assert first["readings"] == {str(c): n for c, n in forecast.how_many_by(sample, 30).items()}
    assert first["sample"]["days"] == 90 and first["sample"]["delivered"] == 3
    assert (first["question"], first["days"]) == ("how_many", 30)


def test_forecast_when_n_items_is_reproducible_on_the_demo(demo, demo_reader):
    first = demo_reader.get(url(demo, "forecast/?items=10")).json()
    assert first == demo_reader.get(url(demo, "forecast/?items=10")).json()
    dates = [dt.date.fromisoformat(first["readings"][c]) for c in ("50", "70", "85", "95")]
    assert dates == sorted(dates) and dates[0] > dt.date.fromisoformat(first["as_of"])
    assert first["sample"]["trials"] == 10_000 and first["sample"]["delivered"] > 0


def test_forecast_when_with_no_recent_delivery_says_why(board, member):
    item = WorkItemFactory(board=board, created_at=timezone.now() - dt.timedelta(days=2))
    recompute_board(board)
    del item
    body = client_for(member).get(url(board, "forecast/?items=3")).json()
    assert body["readings"] is None
    assert body["detail"] == "No item was delivered in the last 90 days."


def test_forecast_for_items_lists_delivered_ones_apart_and_is_reproducible(demo, demo_reader):
    snapshots = ItemMetrics.objects.filter(board=demo).select_related("item")
    wip = snapshots.filter(started_at__isnull=False, delivered_at__isnull=True).first()
    done = snapshots.filter(delivered_at__isnull=False).first()
    query = f"forecast/?keys={wip.item.key},{done.item.key}"
    body = demo_reader.get(url(demo, query)).json()
    assert body == demo_reader.get(url(demo, query)).json()
    assert body["question"] == "when_items"
    assert [d["key"] for d in body["delivered"]] == [done.item.key]
    assert body["sample"]["delivered_items"] > 0
    if body["readings"]["50"] is not None:
        assert set(body["per_item"]) == {wip.item.key}
    else:
        assert body["beyond_history"] + body["no_history"] == [wip.item.key]


def test_forecast_for_an_item_older_than_every_history_has_no_date(small, reader):
    # C has been in Build for 13 days; delivered items took at most 4 days from Build to Done.
    body = reader.get(url(small.board, f"forecast/?keys={small.key('C')}")).json()
    assert body["readings"] == {"50": None, "70": None, "85": None, "95": None}
    assert body["beyond_history"] == [small.key("C")]
    assert body["sample"]["delivered_items"] == 3


# --- bad input -------------------------------------------------------------------------------

BAD_INPUT = [
    ("cycle-times/?since=2024-02-30", "since: expected a date as YYYY-MM-DD."),
    ("cycle-times/?until=yesterday", "until: expected a date as YYYY-MM-DD."),
    ("cycle-times/?since=", "since: is empty"),
    ("cycle-times/?since=2024-03-02&until=2024-03-01", "since: since (2024-03-02) must be on"),
    ("cycle-times/?kind=bug", "kind: unknown kind bug; expected one of feature, defect"),
    ("cycle-times/?page_size=many", "page_size: A valid integer is required."),
    ("cycle-times/?page_size=5000", "page_size: Ensure this value is less than or equal to 1000."),
    ("cycle-times/?page_size=0", "page_size: Ensure this value is greater than or equal to 1."),
    ("cfd/?until=2024-1-1x", "until: expected a date as YYYY-MM-DD."),
    ("cfd/?since=2024-03-02&until=2024-03-01", "since: since (2024-03-02) must be on"),
    ("throughput/?period=month", "period: unknown period month; expected day or week."),
    ("throughput/?since=20240101", "since: expected a date as YYYY-MM-DD."),
    ("time-in-column/?since=2999-01-01", "since: since (2999-01-01) must be on or before"),
    ("time-in-column/?until=31/12/2024", "until: expected a date as YYYY-MM-DD."),
    ("forecast/", "give exactly one of the parameters items, date or keys (got none of them)"),
    ("forecast/?items=3&date={tomorrow}", "exactly one of the parameters items, date or keys (got"),
    ("forecast/?keys=SM-1&items=3", "(got items and keys)"),
    ("forecast/?items=ten", "items: A valid integer is required."),
    ("forecast/?items=2.5", "items: A valid integer is required."),
    ("forecast/?items=0", "items: Ensure this value is greater than or equal to 1."),
    ("forecast/?items=1001", "items: Ensure this value is less than or equal to 1000."),
    ("forecast/?items=", "items: is empty"),
    ("forecast/?date=2024-13-01", "date: expected a date as YYYY-MM-DD."),
    ("forecast/?date=2020-01-01", "date: must be in the future"),
    ("forecast/?date={today}", "date: must be in the future"),
    ("forecast/?date=2999-01-01", "date: must be within 730 days of today."),
    ("cycle-times/?until=9999-12-31", "until: expected a date between 1970-01-01 and 2999-12-31."),
    (
        "time-in-column/?until=0001-01-01",
        "until: expected a date between 1970-01-01 and 2999-12-31.",
    ),
    ("cycle-times/?since=0001-01-01", "since: expected a date between 1970-01-01 and 2999-12-31."),
    ("forecast/?keys=,,", "keys: expected item keys separated by commas."),
    (
        "forecast/?keys=SM-1,NOPE-7,SM-99",
        "keys: no item with the keys NOPE-7, SM-99 on this board.",
    ),
]


# Well-formed parameters that a rule refuses answer 422; the malformed ones 400.
RULES = ("since (", "exactly one of", "(got items and keys)", "must be in the future",
         "must be within", "no item with the keys")  # fmt: skip


@pytest.mark.parametrize("sub, message", BAD_INPUT)
def test_bad_query_parameters_answer_400_or_422_naming_the_parameter(small, reader, sub, message):
    tomorrow = small.today + dt.timedelta(days=1)
    response = reader.get(url(small.board, sub.format(today=small.today, tomorrow=tomorrow)))
    expected = 422 if any(rule in message for rule in RULES) else 400
    assert response.status_code == expected, response.content
    body = response.json()
    assert body["code"] == "invalid_input"
    assert message in body["detail"]


def test_bad_input_is_refused_on_a_board_without_history_too(board, member):
    response = client_for(member).get(url(board, "cycle-times/?kind=bug"))
    assert response.status_code == 400
    response = client_for(member).get(url(board, "forecast/?items=3&date=2020-01-01"))
    assert response.status_code == 422


def test_unknown_keys_are_listed(small, reader):
    body = reader.get(url(small.board, "forecast/?keys=SM-1,NOPE-7")).json()
    assert body["unknown_keys"] == ["NOPE-7"]


# --- query counts ----------------------------------------------------------------------------

# (endpoint, queries): the board with its state (1), then per endpoint a fixed number of
# reads, whatever the number of items. The demo board has 160 items, the small one 4.
QUERIES = [
    ("", 1),  # the stored summary comes with the board
    ("cycle-times/?page_size=20", 4),  # + count, page, percentiles
    ("cfd/", 3),  # + columns, ColumnDay
    ("throughput/?period=week", 2),  # + BoardDay
    ("aging/", 4),  # + columns, WIP items, recent cycle times
    ("time-in-column/", 4),  # + columns, delivered stays, today's ColumnDay
    ("readiness/", 2),  # + columns
    ("forecast/?items=10", 2),  # + the throughput sample
    ("forecast/?date={future}", 2),
    ("forecast/?keys={keys}", 4),  # + items, columns, the delivered history
]


@pytest.mark.parametrize("sub, queries", QUERIES)
def test_each_endpoint_runs_a_bounded_number_of_queries(
    demo, demo_reader, small, reader, django_assert_max_num_queries, sub, queries
):
    future = small.today + dt.timedelta(days=14)
    demo_keys = ",".join(
        ItemMetrics.objects.filter(board=demo, delivered_at__isnull=True)
        .order_by("item_id")
        .values_list("item__key", flat=True)[:5]
    )
    with django_assert_max_num_queries(queries):
        response = demo_reader.get(url(demo, sub.format(future=future, keys=demo_keys)))
    assert response.status_code == 200
    small_keys = f"{small.key('C')}"
    with CaptureQueriesContext(connection) as small_queries:
        response = reader.get(url(small.board, sub.format(future=future, keys=small_keys)))
    assert response.status_code == 200
    assert len(small_queries) == queries  # the same count on a board 40 times smaller
