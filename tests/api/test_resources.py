"""Boards and columns, upsert by external key, criteria, blocks and the transition log."""

import datetime as dt

import pytest
from django.utils import timezone

from boards import services
from boards.models import Transition, WorkItem
from integrations.models import Integration
from readiness.models import AcceptanceCriterion
from tests.api.conftest import Role, item_url, token_client
from tests.factories import CriterionTemplateFactory, WorkItemFactory

pytestmark = pytest.mark.django_db


def by_key(board, source, key):
    return f"/api/v1/boards/{board.slug}/items/by-key/{source}/{key}/"


def test_board_detail_lists_columns_in_order(api, board):
    body = api.get(f"/api/v1/boards/{board.slug}/").json()
    assert [c["name"] for c in body["columns"]] == [
        "Backlog", "Ready", "Build", "Review", "Readiness", "Done", "Operating"
    ]  # fmt: skip
    assert body["commitment_column"] == "Ready" and body["delivery_column"] == "Done"
    assert body["role"] == "member"


def test_an_ops_lead_reconfigures_columns_through_the_setup_service(board, col):
    lead = token_client(board, Role.OPS_LEAD)
    columns = [
        {"id": c.pk, "name": c.name, "stage": c.stage, "activity": c.activity,
         "wip_limit": c.wip_limit, "wip_policy": c.wip_policy}
        for c in board.columns.order_by("position")
    ]  # fmt: skip
    columns[2]["wip_limit"], columns[2]["wip_policy"] = 3, "hard"
    columns.insert(3, {"name": "Test", "stage": "development", "activity": "active"})
    response = lead.patch(f"/api/v1/boards/{board.slug}/", {"columns": columns}, format="json")
    assert response.status_code == 200, response.json()
    names = [c["name"] for c in response.json()["columns"]]
    assert names[:5] == ["Backlog", "Ready", "Build", "Test", "Review"]
    col["Build"].refresh_from_db()
    assert (col["Build"].wip_limit, col["Build"].wip_policy) == (3, "hard")
    # A delivery column before the commitment column is refused as a whole.
    bad = lead.patch(f"/api/v1/boards/{board.slug}/", {"delivery": "Backlog"}, format="json")
    assert bad.status_code == 422
    assert bad.json()["errors"] == {
        "delivery": ["The delivery column (Backlog) must come after the commitment column (Ready)."]
    }


def test_upsert_creates_then_updates_and_maps_status_through_the_move_service(api, board, col):
    Integration.objects.create(
        board=board, kind="jira", name="Jira", secret="x" * 20,
        mapping={"In Progress": "Build", "Selected for Development": "Ready"},
    )  # fmt: skip
    created = api.put(
        by_key(board, "jira", "PAY-42"), {"title": "Refunds", "status": "To Do"}, format="json"
    )
    assert created.status_code == 422  # "To Do" is neither mapped nor a column name
    assert "maps to no column" in created.json()["errors"]["status"][0]
    created = api.put(by_key(board, "jira", "PAY-42"), {"title": "Refunds"}, format="json")
    assert created.status_code == 201
    item = WorkItem.objects.get(external_source="jira", external_key="PAY-42")
    assert item.column == col["Backlog"]
    updated = api.put(
        by_key(board, "jira", "PAY-42"), {"title": "Refunds v2", "status": "in progress"}
    )
    assert updated.status_code == 200, updated.content
    item.refresh_from_db()
    assert item.title == "Refunds v2" and item.column == col["Build"]
    assert Transition.objects.filter(item=item).latest("id").source == "api"
    # Unchanged: nothing written. A status with the column's own name needs no mapping.
    again = api.put(by_key(board, "jira", "PAY-42"), {"status": "In Progress"})
    assert again.status_code == 200 and Transition.objects.filter(item=item).count() == 2
    assert api.put(by_key(board, "jira", "PAY-42"), {"status": "Review"}).status_code == 200
    assert api.put(by_key(board, "jira", "PAY-43"), {"status": "Review"}).status_code == 422
    # A key with a slash (GitHub's owner/repo#12) is one key.
    slash = api.put(by_key(board, "github", "acme/pay%2312"), {"title": "From GitHub"})
    assert slash.status_code == 201 and slash.json()["external_key"] == "acme/pay#12"


def test_an_upsert_whose_move_is_refused_changes_nothing(api, board, col):
    col["Build"].wip_limit, col["Build"].wip_policy = 1, "hard"
    col["Build"].save()
    WorkItemFactory(board=board, column=col["Build"])
    refused = api.put(by_key(board, "jira", "PAY-7"), {"title": "New", "status": "Build"})
    assert refused.status_code == 409 and refused.json()["code"] == "wip_limit"
    assert not WorkItem.objects.filter(external_key="PAY-7").exists()  # not half-created
    api.put(by_key(board, "jira", "PAY-7"), {"title": "New"})
    refused = api.put(by_key(board, "jira", "PAY-7"), {"title": "Renamed", "status": "Build"})
    assert refused.status_code == 409
    item = WorkItem.objects.get(external_key="PAY-7")
    assert item.title == "New" and item.column == col["Backlog"] and item.version == 1


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("jira/NEW-1%20", "The key 'NEW-1 ' has spaces around it."),
        ("%20jira/NEW-1", "The source ' jira' has spaces around it."),
        ("jira/NEW%07-1", "The key contains a control character (U+0007) at position 3."),
        ("jira/" + "K" * 121, "The key is 121 characters long; the limit is 120."),
    ],
)
def test_an_upsert_key_is_taken_exactly_as_stored_or_refused(api, board, path, message):
    response = api.put(f"/api/v1/boards/{board.slug}/items/by-key/{path}/", {"title": "t"})
    assert response.status_code == 400, response.content
    assert message in response.json()["detail"]
    assert not WorkItem.objects.exists()


def test_an_upsert_refused_by_a_field_moves_nothing(api, board, col):
    api.put(by_key(board, "zendesk", "Z-1"), {"title": "Escalation"})
    body = {"status": "Build", "external_url": "ftp://files.example.com/a"}
    refused = api.put(by_key(board, "zendesk", "Z-1"), body, format="json")
    assert refused.status_code == 400 and "external_url" in refused.json()["errors"]
    assert WorkItem.objects.get().column == col["Backlog"]


def test_upsert_honours_if_match(api, board):
    api.put(by_key(board, "zendesk", "Z-1"), {"title": "Escalation"})
    stale = api.put(by_key(board, "zendesk", "Z-1"), {"title": "New"}, HTTP_IF_MATCH='"7"')
    assert stale.status_code == 412


def test_criteria_list_add_meet_waive_reopen(api, board, col):
    CriterionTemplateFactory(board=board, title="Docs published", track="docs")
    item = WorkItemFactory(board=board)
    listed = api.get(item_url(item, "criteria")).json()["results"]
    assert [c["title"] for c in listed] == ["Docs published"]
    added = api.post(
        item_url(item, "criteria"),
        {"title": "Legal sign-off", "track": "legal", "gate_column": "Done"},
        format="json",
    )
    assert added.status_code == 201, added.json()
    legal = added.json()["id"]
    met = api.post(
        f"/api/v1/criteria/{legal}/meet/", {"evidence_url": "https://legal.example.com/ok"}
    )
    assert met.status_code == 200 and met.json()["status"] == "met"
    bad_link = api.post(f"/api/v1/criteria/{listed[0]['id']}/meet/", {"evidence_url": "nope"})
    assert bad_link.status_code == 400 and "evidence_url" in bad_link.json()["errors"]
    other_column = api.post(
        item_url(item, "criteria"), {"title": "X", "track": "legal", "gate_column": "Nowhere"}
    )
    assert other_column.status_code == 422
    no_reason = api.post(f"/api/v1/criteria/{listed[0]['id']}/waive/", {})
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["errors"]
    waived = api.post(f"/api/v1/criteria/{listed[0]['id']}/waive/", {"reason": "Internal only"})
    assert waived.status_code == 200 and waived.json()["waiver_reason"] == "Internal only"
    reopened = api.post(f"/api/v1/criteria/{legal}/reopen/", {"reason": "Law changed"})
    assert reopened.json()["status"] == "pending"
    twice = api.post(f"/api/v1/criteria/{legal}/reopen/", {})
    assert twice.status_code == 409
    viewer = token_client(board, Role.VIEWER, name="viewer")
    assert viewer.post(f"/api/v1/criteria/{legal}/meet/", {}).status_code == 403
    assert AcceptanceCriterion.objects.get(pk=legal).changes.count() >= 2


def test_blocks_open_and_close(api, board):
    item = WorkItemFactory(board=board)
    opened = api.post(
        item_url(item, "blocks"), {"reason": "dependency", "note": "Waiting for the bank"}
    )
    assert opened.status_code == 201, opened.json()
    assert api.get(item_url(item)).json()["blocked"] is True
    twice = api.post(item_url(item, "blocks"), {"reason": "dependency"})
    assert twice.status_code == 409
    closed = api.post(item_url(item, "blocks/close"))
    assert closed.status_code == 200 and closed.json()["ended_at"] is not None
    assert api.post(item_url(item, "blocks/close")).status_code == 409
    assert len(api.get(item_url(item, "blocks")).json()["results"]) == 1
    assert api.post(item_url(item, "blocks"), {"reason": "coffee"}).status_code == 400


def test_transitions_are_read_only_and_filter_by_time(api, board, col):
    item = WorkItemFactory(board=board, created_at=timezone.now() - dt.timedelta(days=9))
    at = timezone.now() - dt.timedelta(days=4)
    services.work_item_move(item, col["Build"], actor=None, source="import", at=at)
    url = f"/api/v1/boards/{board.slug}/transitions/"
    everything = api.get(url).json()["results"]
    assert [(t["from_column"], t["to_column"]) for t in everything] == [
        (None, "Backlog"), ("Backlog", "Build")
    ]  # fmt: skip
    since = (at - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = api.get(url, {"since": since}).json()["results"]
    assert [t["to_column"] for t in recent] == ["Build"]
    assert api.get(url, {"until": since}).json()["results"][0]["to_column"] == "Backlog"
    assert api.get(url, {"source": "import"}).json()["results"][0]["to_column"] == "Build"
    assert api.get(url, {"since": "last week"}).status_code == 400
    assert api.post(url, {}).status_code == 405
    assert api.post(url, {}).json()["code"] == "method_not_allowed"
