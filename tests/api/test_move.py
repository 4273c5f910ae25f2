"""POST /api/v1/items/{id}/move/: the only way an item's column changes through the API."""

import datetime as dt

import pytest
from django.utils import timezone

from api.models import MoveReceipt
from api.tasks import prune_move_receipts
from boards.models import Event, Transition
from readiness.models import GateRefusal
from tests.api.conftest import item_url, session_client, token_client
from tests.factories import BoardFactory, CriterionTemplateFactory, WorkItemFactory

pytestmark = pytest.mark.django_db


def test_a_move_by_name_or_id(api, board, col):
    item = WorkItemFactory(board=board)
    by_name = api.post(item_url(item, "move"), {"to_column": "ready"}, format="json")
    assert by_name.status_code == 200, by_name.json()
    body = by_name.json()
    assert body["moved"] is True and "Idempotent-Replayed" not in by_name
    assert body["item"]["column"]["name"] == "Ready" and by_name["ETag"] == '"2"'
    by_id = api.post(item_url(item, "move"), {"to_column": col["Build"].pk}, format="json")
    assert by_id.json()["item"]["column"]["name"] == "Build"
    transition = Transition.objects.get(pk=by_id.json()["transition"])
    assert transition.source == "api" and transition.actor == api.token.user
    same = api.post(item_url(item, "move"), {"to_column": "Build"}, format="json")
    assert same.json()["moved"] is False and same.json()["transition"] is None


def test_the_same_idempotency_key_replays_and_a_different_body_is_422(api, board, col):
    item = WorkItemFactory(board=board)
    headers = {"HTTP_IDEMPOTENCY_KEY": "jira-PAY-1-10227"}
    first = api.post(item_url(item, "move"), {"to_column": "Build"}, format="json", **headers)
    # The item changes meanwhile: the retry still gets the first answer, byte for byte.
    api.patch(item_url(item), {"title": "Renamed since"}, format="json")
    again = api.post(item_url(item, "move"), {"to_column": "Build"}, format="json", **headers)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content and again["ETag"] == first["ETag"] == '"2"'
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert again.json()["moved"] is True and again.json()["item"]["title"] != "Renamed since"
    assert Transition.objects.filter(item=item).count() == 2
    assert Event.objects.filter(kind="item.moved").count() == 1
    assert MoveReceipt.objects.count() == 1
    other = api.post(item_url(item, "move"), {"to_column": "Review"}, format="json", **headers)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_conflict"
    assert "already used to move" in other.json()["detail"]
    item.refresh_from_db()
    assert item.column == col["Build"]


def test_a_keyed_retry_with_its_if_match_gets_the_first_answer(api, board):
    item = WorkItemFactory(board=board)
    headers = {"HTTP_IDEMPOTENCY_KEY": "with-if-match", "HTTP_IF_MATCH": '"1"'}
    first = api.post(item_url(item, "move"), {"to_column": "Build"}, **headers)
    again = api.post(item_url(item, "move"), {"to_column": "Build"}, **headers)
    assert first.status_code == again.status_code == 200, again.content
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"
    # A new key with the stale version: compared under the item's lock, the same 412.
    stale = {"HTTP_IDEMPOTENCY_KEY": "another", "HTTP_IF_MATCH": '"1"'}
    refused = api.post(item_url(item, "move"), {"to_column": "Review"}, **stale)
    assert refused.status_code == 412 and refused.json()["code"] == "precondition_failed"
    assert "was changed by someone else" in refused.json()["detail"]


def test_only_a_keyed_move_keeps_a_receipt_and_a_refused_one_keeps_none(api, board, col):
    item = WorkItemFactory(board=board)
    assert api.post(item_url(item, "move"), {"to_column": "Ready"}).status_code == 200
    assert not MoveReceipt.objects.exists()
    col["Build"].wip_limit, col["Build"].wip_policy = 1, "hard"
    col["Build"].save()
    WorkItemFactory(board=board, column=col["Build"])
    headers = {"HTTP_IDEMPOTENCY_KEY": "retry-me"}
    refused = api.post(item_url(item, "move"), {"to_column": "Build"}, **headers)
    assert refused.status_code == 409 and not MoveReceipt.objects.exists()
    # A refusal wrote nothing under the key: once there is room, the same retry moves.
    col["Build"].wip_limit = 2
    col["Build"].save()
    moved = api.post(item_url(item, "move"), {"to_column": "Build"}, **headers)
    assert moved.status_code == 200 and moved.json()["moved"] is True
    assert MoveReceipt.objects.get().transition_id == moved.json()["transition"]


def test_receipts_are_pruned_and_a_late_retry_still_writes_nothing(api, board, col, settings):
    item = WorkItemFactory(board=board)
    headers = {"HTTP_IDEMPOTENCY_KEY": "old-key"}
    first = api.post(item_url(item, "move"), {"to_column": "Build"}, **headers)
    settings.API_IDEMPOTENCY_DAYS = 7
    MoveReceipt.objects.update(created_at=timezone.now() - dt.timedelta(days=8))
    recent = WorkItemFactory(board=board)
    api.post(item_url(recent, "move"), {"to_column": "Build"}, HTTP_IDEMPOTENCY_KEY="new-key")
    assert prune_move_receipts() == 1
    assert [kept.answer()["item"]["id"] for kept in MoveReceipt.objects.all()] == [recent.pk]
    late = api.post(item_url(item, "move"), {"to_column": "Build"}, **headers)
    assert late.status_code == 200 and late["Idempotent-Replayed"] == "true"
    assert late.json()["transition"] == first.json()["transition"] and late.json()["moved"]
    assert Transition.objects.filter(item=item).count() == 2


def test_a_wip_refusal_is_409_with_its_code(api, board, col):
    col["Build"].wip_limit, col["Build"].wip_policy = 1, "hard"
    col["Build"].save()
    first, second = WorkItemFactory(board=board), WorkItemFactory(board=board)
    assert api.post(item_url(first, "move"), {"to_column": "Build"}).status_code == 200
    refused = api.post(item_url(second, "move"), {"to_column": "Build"})
    assert refused.status_code == 409
    body = refused.json()
    assert body["code"] == "wip_limit"
    assert "Build" in body["detail"] and "1" in body["detail"]


def test_a_gate_refusal_lists_the_unmet_criteria(api, board, col):
    CriterionTemplateFactory(
        board=board, title="Support macro ready", track="support", gate_column=col["Done"]
    )
    item = WorkItemFactory(board=board)
    refused = api.post(item_url(item, "move"), {"to_column": "Done"}, format="json")
    assert refused.status_code == 409
    body = refused.json()
    assert body["code"] == "gate_blocked"
    assert "1 required criterion is pending at Done" in body["detail"]
    assert body["unmet"] == [
        {
            "id": item.criteria.get().pk,
            "title": "Support macro ready",
            "track": "support",
            "gate_column_id": col["Done"].pk,
        }
    ]
    assert GateRefusal.objects.filter(item=item).count() == 1
    assert Event.objects.filter(kind="gate.refused").count() == 1


def test_at_is_for_integration_tokens_and_never_in_the_future(api, board, member):
    item = WorkItemFactory(board=board, created_at=timezone.now() - dt.timedelta(days=10))
    past = (timezone.now() - dt.timedelta(days=3)).isoformat()
    session = session_client(member)
    refused = session.post(item_url(item, "move"), {"to_column": "Ready", "at": past})
    assert refused.status_code == 422
    assert "Only integration tokens" in refused.json()["errors"]["at"][0]
    dated = api.post(item_url(item, "move"), {"to_column": "Ready", "at": past}, format="json")
    assert dated.status_code == 200
    assert Transition.objects.get(pk=dated.json()["transition"]).at.isoformat() == past
    future = (timezone.now() + dt.timedelta(hours=2)).isoformat()
    ahead = api.post(item_url(item, "move"), {"to_column": "Build", "at": future}, format="json")
    assert ahead.status_code == 422
    assert "future" in ahead.json()["detail"]
    before = (timezone.now() - dt.timedelta(days=5)).isoformat()
    older = api.post(item_url(item, "move"), {"to_column": "Build", "at": before}, format="json")
    assert older.status_code == 422
    assert "last move" in older.json()["detail"]
    naive = api.post(item_url(item, "move"), {"to_column": "Build", "at": "2026-01-01T10:00"})
    assert naive.status_code == 400


def test_a_column_of_another_board_is_refused(api, board):
    other = BoardFactory()
    item = WorkItemFactory(board=board)
    theirs = other.columns.get(name="Build")
    response = api.post(item_url(item, "move"), {"to_column": theirs.pk}, format="json")
    assert response.status_code == 422
    assert response.json()["errors"]["to_column"][0].startswith(
        f"{theirs.pk} is not a column of {board.name} (columns: Backlog, Ready, Build"
    )
    wrong_type = api.post(item_url(item, "move"), {"to_column": ["Build"]}, format="json")
    assert wrong_type.status_code == 400


def test_placing_between_neighbours(api, board, col):
    a, b, c = (WorkItemFactory(board=board) for _ in range(3))
    for item in (a, b):
        api.post(item_url(item, "move"), {"to_column": "Ready"})
    placed = api.post(item_url(c, "move"), {"to_column": "Ready", "before": b.pk, "after": a.pk})
    assert placed.status_code == 200, placed.json()
    a.refresh_from_db(), b.refresh_from_db()
    assert a.rank < placed.json()["item"]["rank"] < b.rank
    foreign = WorkItemFactory(board=BoardFactory())
    bad = api.post(item_url(c, "move"), {"to_column": "Build", "before": foreign.pk})
    assert bad.status_code == 422 and "before" in bad.json()["errors"]


def test_move_of_a_discarded_item_is_409(api, board):
    item = WorkItemFactory(board=board)
    api.post(item_url(item, "discard"), {"reason": "dup"})
    response = token_client(board, name="other").post(
        item_url(item, "move"), {"to_column": "Build"}
    )
    assert response.status_code == 409 and response.json()["code"] == "item_discarded"


@pytest.mark.parametrize("key", ["has space", "x" * 201, "naïve", ""])
def test_a_malformed_idempotency_key_is_400(api, board, key):
    item = WorkItemFactory(board=board)
    response = api.post(
        item_url(item, "move"), {"to_column": "Build"}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    assert response.status_code == 400
    assert response.json()["errors"]["Idempotency-Key"]


def test_a_malformed_body_is_400_before_a_stale_if_match_is_412(api, board):
    item = WorkItemFactory(board=board)
    response = api.generic(
        "PATCH", item_url(item), b"\x00", content_type="application/json", HTTP_IF_MATCH='"9"'
    )
    assert response.status_code == 400
