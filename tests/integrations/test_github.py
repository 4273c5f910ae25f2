"""GitHub deliveries: issues create and update items and move them on open, reopen and close;
a project card's Status change moves its issue's item; unknown events are kept and ignored."""

import copy
import datetime as dt

import pytest

from boards.models import Transition, WorkItem
from integrations.models import Delivery
from tests.integrations.conftest import payload

pytestmark = pytest.mark.django_db
NODE = "MDU6SXNzdWU0NDQ1MDAwNDE="


def when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_opened_creates_the_item_with_its_label_kind(deliver, github, col):
    opened = payload("github/issues_opened")
    assert deliver(github, opened).status_code == 202
    item = WorkItem.objects.get(external_source="github", external_key=NODE)
    assert item.key == "Hello-World#1" and item.title == opened["issue"]["title"]
    assert item.kind == "defect"  # labelled bug
    assert item.column == col["Backlog"] and item.created_at == when("2019-05-15T15:20:18Z")
    assert item.external_url == opened["issue"]["html_url"]
    # The same issue opened again (a redelivery with a new id) is the same item.
    deliver(github, opened)
    assert WorkItem.objects.count() == 1


def test_edited_and_labeled_update_the_fields(deliver, github):
    deliver(github, payload("github/issues_opened"))
    edited = payload("github/issues_edited")
    edited["issue"]["title"] = "Spelling error in the README, really"
    deliver(github, edited)
    assert WorkItem.objects.get().title == "Spelling error in the README, really"
    labeled = payload("github/issues_labeled")
    labeled["issue"]["labels"] = [{"name": "tech debt"}]
    deliver(github, labeled)
    item = WorkItem.objects.get()  # each event carries the issue as it is now
    assert item.title == labeled["issue"]["title"] and item.kind == "debt"
    assert Transition.objects.filter(item=item).count() == 1


def test_a_late_delivery_does_not_overwrite_a_later_edit(deliver, github):
    deliver(github, payload("github/issues_opened"))
    first = payload("github/issues_edited")
    first["issue"]["title"], first["issue"]["updated_at"] = "First edit", "2030-01-01T10:00:00Z"
    second = copy.deepcopy(first)
    second["issue"]["title"], second["issue"]["updated_at"] = "Second edit", "2030-01-01T10:05:00Z"
    deliver(github, second)
    deliver(github, first)  # redelivered late (a retry): the issue as it was before
    assert WorkItem.objects.get().title == "Second edit"


def test_closed_and_reopened_move_per_the_mapping(deliver, github, col):
    deliver(github, payload("github/issues_opened"))
    closed = copy.deepcopy(payload("github/issues_reopened"))
    closed["action"] = "closed"
    closed["issue"]["state"] = "closed"
    deliver(github, closed)
    item = WorkItem.objects.get()
    assert item.column == col["Done"]
    assert Transition.objects.filter(item=item).latest("id").at == when("2021-07-05T18:07:10Z")
    reopened = payload("github/issues_reopened")
    deliver(github, reopened)  # "reopened" is unmapped: it falls back to "opened"
    item.refresh_from_db()
    assert item.column == col["Backlog"]
    move = Transition.objects.filter(item=item).latest("id")
    assert move.at == when(reopened["issue"]["updated_at"]) and move.source == "webhook"


def test_a_project_status_change_moves_the_issues_item(deliver, github, col):
    edited = payload("github/projects_v2_item_edited_status")
    node = edited["projects_v2_item"]["content_node_id"]
    opened = copy.deepcopy(payload("github/issues_opened"))
    opened["issue"]["node_id"] = node
    deliver(github, opened)
    assert deliver(github, edited, event="projects_v2_item").status_code == 202
    item = WorkItem.objects.get(external_key=node)
    assert item.column == col["Build"]  # Todo -> In Progress
    delivery = Delivery.objects.filter(event="projects_v2_item").get()
    assert delivery.status == "processed"


def test_a_project_card_without_an_item_fails_and_can_be_replayed(
    deliver, github, col, django_capture_on_commit_callbacks
):
    from integrations import inbound

    edited = payload("github/projects_v2_item_edited_status")
    deliver(github, edited, event="projects_v2_item", delivery_id="card")
    delivery = Delivery.objects.get(delivery_id="card")
    assert delivery.status == "failed" and "Replay this delivery once it exists" in delivery.error
    opened = copy.deepcopy(payload("github/issues_opened"))
    opened["issue"]["node_id"] = edited["projects_v2_item"]["content_node_id"]
    deliver(github, opened)
    with django_capture_on_commit_callbacks(execute=True):
        inbound.replay(delivery)
    delivery.refresh_from_db()
    assert delivery.status == "processed"


def test_other_events_and_fields_are_ignored_with_the_reason(deliver, github):
    deliver(github, payload("github/projects_v2_item_created"), event="projects_v2_item")
    other = copy.deepcopy(payload("github/projects_v2_item_edited_status"))
    other["changes"]["field_value"]["field_name"] = "Priority"
    deliver(github, other, event="projects_v2_item")
    deliver(github, {"zen": "push"}, event="push")
    reasons = sorted(Delivery.objects.values_list("status", "error"))
    assert reasons == [
        ("ignored", "A project field other than Status changed."),
        ("ignored", "The event 'projects_v2_item' (created) is not used."),
        ("ignored", "The event 'push' (no action) is not used."),
    ]


def test_deleted_discards_the_item(deliver, github):
    deliver(github, payload("github/issues_opened"))
    deliver(github, payload("github/issues_deleted"))
    item = WorkItem.objects.get()
    assert item.discarded_at is not None and item.discard_reason == "Deleted in GitHub"


def test_an_opened_issue_with_an_empty_body_and_no_number(deliver, github):
    body = payload("github/issues_opened.with-empty-body")
    body["issue"].pop("number")
    deliver(github, body)
    item = WorkItem.objects.get()
    assert item.external_key == NODE and item.title == body["issue"]["title"]
