"""Work items through the API: create, read, update with ETag/If-Match, discard, filters, and
cursor pagination."""

import datetime as dt

import pytest
from django.utils import timezone

from boards import services
from boards.models import Block, Transition, WorkItem
from tests.api.conftest import item_url, items_url, session_client, token_client
from tests.factories import WorkItemFactory

pytestmark = pytest.mark.django_db


def test_create_read_update_and_discard(api, board, col):
    created = api.post(
        items_url(board),
        {
            "title": "Checkout v2",
            "kind": "feature",
            "class_of_service": "fixed_date",
            "due_date": "2027-01-31",
            "external_source": "jira",
            "external_key": "PAY-12",
            "external_url": "https://jira.example.com/browse/PAY-12",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["column"] == {"id": col["Backlog"].pk, "name": "Backlog"}
    assert body["key"].startswith("FB-") and body["version"] == 1 and body["blocked"] is False
    assert created["ETag"] == '"1"'
    item = WorkItem.objects.get(pk=body["id"])
    assert Transition.objects.get(item=item).source == Transition.Source.API

    read = api.get(item_url(item))
    assert read.status_code == 200 and read["ETag"] == '"1"'
    assert read.json()["external_key"] == "PAY-12"

    changed = api.patch(item_url(item), {"title": "Checkout v3", "kind": "defect"}, format="json")
    assert changed.status_code == 200
    assert changed.json()["title"] == "Checkout v3" and changed.json()["kind"] == "defect"
    assert changed["ETag"] == '"2"'

    discarded = api.post(item_url(item, "discard"), {"reason": "Merged into PAY-9"})
    assert discarded.status_code == 200
    assert discarded.json()["discard_reason"] == "Merged into PAY-9"
    assert discarded.json()["discarded_at"] is not None
    again = api.post(item_url(item, "discard"), {"reason": "again"})
    assert again.status_code == 409 and again.json()["code"] == "item_discarded"


def test_create_in_a_named_column_checks_limits(api, board, col):
    col["Build"].wip_limit, col["Build"].wip_policy = 1, "hard"
    col["Build"].save()
    first = api.post(items_url(board), {"title": "One", "column": "build"}, format="json")
    assert first.status_code == 201 and first.json()["column"]["name"] == "Build"
    second = api.post(items_url(board), {"title": "Two", "column": col["Build"].pk})
    assert second.status_code == 409
    assert second.json()["code"] == "wip_limit"


def test_if_match_protects_against_lost_updates(board):
    item = WorkItemFactory(board=board)
    jira, github = token_client(board, name="jira"), token_client(board, name="github")
    tag = jira.get(item_url(item))["ETag"]
    assert github.get(item_url(item))["ETag"] == tag
    first = jira.patch(item_url(item), {"title": "Jira's"}, format="json", HTTP_IF_MATCH=tag)
    assert first.status_code == 200
    stale = github.patch(item_url(item), {"title": "GitHub's"}, format="json", HTTP_IF_MATCH=tag)
    assert stale.status_code == 412
    assert stale.json()["code"] == "precondition_failed"
    assert "changed since you read it" in stale.json()["detail"]
    item.refresh_from_db()
    assert item.title == "Jira's"
    # Weak tags, lists and * are understood; a malformed one is a 400.
    fresh = first["ETag"]
    assert (
        github.patch(item_url(item), {"title": "ok"}, HTTP_IF_MATCH=f"W/{fresh}").status_code == 200
    )
    assert github.patch(item_url(item), {"title": "any"}, HTTP_IF_MATCH="*").status_code == 200
    bad = github.patch(item_url(item), {"title": "x"}, HTTP_IF_MATCH="yesterday")
    assert bad.status_code == 400 and "If-Match" in bad.json()["errors"]
    # A move with a stale tag is refused the same way, and writes nothing.
    moved = github.post(item_url(item, "move"), {"to_column": "Ready"}, HTTP_IF_MATCH=tag)
    assert moved.status_code == 412
    assert Transition.objects.filter(item=item).count() == 1


def test_filters(api, board, col):
    today = timezone.now().date()
    late = WorkItemFactory(board=board, kind="defect", due_date=today - dt.timedelta(days=2))
    blocked = WorkItemFactory(board=board, external_source="jira", external_key="PAY-7")
    services.block_start(blocked, actor=None, reason=Block.Reason.DEPENDENCY)
    moved = WorkItemFactory(board=board)
    services.work_item_move(moved, col["Build"], actor=None, source="api")

    def keys(query):
        response = api.get(items_url(board, query))
        assert response.status_code == 200, response.json()
        return {row["key"] for row in response.json()["results"]}

    assert keys("?kind=defect") == {late.key}
    assert keys("?overdue=true") == {late.key}
    assert keys("?blocked=true") == {blocked.key}
    assert late.key in keys("?blocked=false") and blocked.key not in keys("?blocked=false")
    assert keys("?column=Build") == {moved.key} == keys(f"?column={col['Build'].pk}")
    assert keys("?external_key=PAY-7") == {blocked.key}
    since = (timezone.now() + dt.timedelta(seconds=1)).isoformat()
    assert keys(f"?updated_since={since.replace('+', '%2B')}") == set()
    assert len(keys("?updated_since=2000-01-01T00:00:00Z")) == 3
    for bad in ("?kind=epic", "?overdue=maybe", "?updated_since=yesterday"):
        response = api.get(items_url(board, bad))
        assert response.status_code == 400, bad
        assert response.json()["code"] == "invalid_input"


def test_overdue_is_open_work_past_its_date_on_the_boards_calendar(api, board):
    board.time_zone = "Pacific/Kiritimati"  # UTC+14: its "today" is usually UTC's tomorrow
    board.save()
    local_today = timezone.localdate(timezone=board.tz)
    yesterday = WorkItemFactory(board=board, due_date=local_today - dt.timedelta(days=1))
    WorkItemFactory(board=board, due_date=local_today)  # due today: not yet late
    discarded = WorkItemFactory(board=board, due_date=local_today - dt.timedelta(days=3))
    services.work_item_discard(discarded, actor=None, reason="Dropped")
    late = api.get(items_url(board, "?overdue=true")).json()["results"]
    assert [row["key"] for row in late] == [yesterday.key]


@pytest.mark.parametrize(
    "query",
    ["?column=%C2%B2", "?column=99999999999999999999999", "?column=0"],  # "²"
)
def test_a_column_that_cannot_be_an_id_matches_nothing(api, board, query):
    WorkItemFactory(board=board)
    response = api.get(items_url(board, query))
    assert response.status_code == 200 and response.json()["results"] == []


@pytest.mark.parametrize("query", ["?page_size=%C2%B2", "?page_size=99999999999999999999999"])
def test_a_page_size_that_is_no_number_is_400(api, board, query):
    body = api.get(items_url(board, query)).json()
    assert body["code"] == "invalid_input" and "page_size" in body["errors"]


@pytest.mark.parametrize("position", ["p=abc", "p=%C2%B2", "p=0", "p=99999999999999999999"])
def test_a_forged_cursor_is_refused_by_rule(api, board, position):
    import base64

    forged = base64.urlsafe_b64encode(position.encode()).decode()
    response = api.get(items_url(board, f"?cursor={forged}"))
    assert response.status_code == 422, response.content
    assert response.json()["errors"] == {
        "cursor": ["Not a cursor of this list: follow the next and previous links."]
    }


def test_cursor_pagination_is_stable_while_items_are_created(api, board):
    for _ in range(5):
        WorkItemFactory(board=board)
    first = api.get(items_url(board, "?page_size=2")).json()
    assert len(first["results"]) == 2 and first["next"] and first["previous"] is None
    WorkItemFactory(board=board)  # created while the client pages: it comes last, once
    seen = [row["id"] for row in first["results"]]
    page = first
    while page["next"]:
        page = api.get(page["next"]).json()
        seen += [row["id"] for row in page["results"]]
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 6
    for bad in ("?page_size=0", "?page_size=501", "?page_size=x", "?colum=Build"):
        response = api.get(items_url(board, bad))
        assert response.status_code == 400, bad
    typo = api.get(items_url(board, "?colum=Build")).json()
    assert typo["errors"] == {"colum": ["Unknown parameter."]}
    assert "this endpoint takes: blocked, column, cursor" in typo["detail"]
    forged = api.get(items_url(board, "?cursor=bm9wZQ"))
    assert forged.status_code == 422 and forged.json()["errors"]["cursor"]


def test_the_list_runs_a_fixed_number_of_queries(
    api, board, django_assert_num_queries, django_assert_max_num_queries
):
    for _ in range(3):
        WorkItemFactory(board=board)
    api.get(items_url(board))  # warm: the token's last_used_at is written at most once a minute
    with django_assert_max_num_queries(6) as small:
        assert api.get(items_url(board)).status_code == 200
    for _ in range(40):
        WorkItemFactory(board=board)
    with django_assert_num_queries(len(small.captured_queries)):
        assert len(api.get(items_url(board)).json()["results"]) == 43


def test_a_member_session_creates_with_now_only(board, member):
    client = session_client(member)
    response = client.post(
        items_url(board), {"title": "Back-dated", "created_at": "2024-01-01T00:00:00Z"}
    )
    assert response.status_code == 422
    assert "Only integration tokens" in response.json()["errors"]["created_at"][0]


def test_an_empty_if_match_is_400(api, board):
    item = WorkItemFactory(board=board)
    response = api.patch(item_url(item), {"title": "x"}, HTTP_IF_MATCH="")
    assert response.status_code == 400 and "If-Match" in response.json()["errors"]


def test_the_fast_item_representation_is_drfs_own(api, board, col):
    """ItemSerializer writes its fields out by hand (speed); they must stay DRF's."""
    from rest_framework import serializers

    from api.serializers import ItemSerializer
    from api.views.items import with_blocked

    plain = WorkItemFactory(board=board)
    full = WorkItemFactory(
        board=board,
        due_date=dt.date(2027, 3, 1),
        external_key="PAY-1",
        external_source="jira",
        external_url="https://jira.example.com/PAY-1",
    )
    services.work_item_move(full, col["Done"], actor=None, source="api")
    services.block_start(full, actor=None, reason=Block.Reason.DEPENDENCY)
    gone = WorkItemFactory(board=board)
    services.work_item_discard(gone, actor=None, reason="dup")
    for item in with_blocked(WorkItem.objects.filter(board=board)):
        serializer = ItemSerializer(item)
        expected = serializers.ModelSerializer.to_representation(serializer, item)
        assert serializer.data == expected
    assert ItemSerializer(plain).data["blocked"] is False
