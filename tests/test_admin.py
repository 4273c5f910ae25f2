"""Admin pages for ops leads: every list and form renders, and refusals are not logged as
successes."""

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from boards.models import Column, WorkItem
from metrics.refresh import recompute_board
from tests.factories import UserFactory, WorkItemFactory


@pytest.fixture
def admin_client(client, board):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    item = WorkItemFactory(board=board)
    recompute_board(board)
    client.item = item
    return client


PAGES = [
    "admin:boards_board_changelist",
    "admin:boards_workitem_changelist",
    "admin:boards_workitem_add",
    "admin:boards_transition_changelist",
    "admin:boards_block_changelist",
    "admin:readiness_criteriontemplate_changelist",
    "admin:readiness_criteriontemplate_add",
    "admin:readiness_acceptancecriterion_changelist",
    "admin:readiness_gaterefusal_changelist",
    "admin:metrics_boardmetrics_changelist",
    "admin:metrics_itemmetrics_changelist",
    "admin:metrics_boardday_changelist",
    "admin:metrics_pendingrefresh_changelist",
]


@pytest.mark.parametrize("name", PAGES)
def test_every_admin_page_renders(admin_client, name):
    assert admin_client.get(reverse(name)).status_code == 200


def test_the_item_change_page_renders(admin_client):
    url = reverse("admin:boards_workitem_change", args=[admin_client.item.pk])
    assert admin_client.get(url).status_code == 200


def test_blocks_are_not_added_around_the_service(admin_client):
    assert admin_client.get(reverse("admin:boards_block_add")).status_code == 403


def test_a_refused_create_shows_the_refusal_and_logs_nothing(admin_client, board, col):
    Column.objects.filter(pk=col["Backlog"].pk).update(wip_limit=1, wip_policy="hard")
    response = admin_client.post(
        reverse("admin:boards_workitem_add"),
        {"board": board.pk, "title": "Over the limit", "kind": "feature",
         "class_of_service": "standard"},
        follow=True,
    )  # fmt: skip
    assert "Backlog is at its WIP limit of 1" in response.content.decode()
    assert not WorkItem.objects.filter(title="Over the limit").exists()
    assert not LogEntry.objects.filter(object_repr__contains="Over the limit").exists()


def test_a_create_through_the_admin_uses_the_service(admin_client, board):
    admin_client.post(
        reverse("admin:boards_workitem_add"),
        {"board": board.pk, "title": "From the admin", "kind": "defect",
         "class_of_service": "standard"},
    )  # fmt: skip
    item = WorkItem.objects.get(title="From the admin")
    assert item.key.startswith("FB-") and item.transitions.get().source == "admin"
