"""Who may call the API: tokens (hashed, revocable), sessions with CSRF, board membership, and
a per-token rate."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from api.models import ApiToken, hash_key
from api.services import token_revoke
from boards.models import Board
from tests.api.conftest import Role, item_url, items_url, session_client, token_client
from tests.factories import BoardFactory, WorkItemFactory

pytestmark = pytest.mark.django_db


def test_anonymous_gets_401_with_a_token_challenge(board):
    response = APIClient().get(items_url(board))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Token realm="api"'
    assert response.json()["code"] == "not_authenticated"


def test_a_token_is_stored_hashed_and_shown_once(board):
    client = token_client(board)
    token = ApiToken.objects.get()
    assert client.key.startswith("fb_") and len(client.key) > 40
    assert token.key_hash == hash_key(client.key) and client.key not in token.key_hash
    assert token.key_prefix == client.key[:10]
    response = client.get(items_url(board))
    assert response.status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.parametrize(
    "header, detail",
    [
        ("Token fb_wrong", "unknown or was revoked"),
        ("Token", "Give the token as"),
        ("Token a b", "Give the token as"),
        ("Token fb_é", "characters no key has"),
    ],
)
def test_bad_tokens_are_401(board, header, detail):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(items_url(board))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")
    assert detail in response.json()["detail"]


def test_a_revoked_token_stops_working_at_once(board):
    client = token_client(board)
    assert client.get(items_url(board)).status_code == 200
    token_revoke(client.token)
    response = client.get(items_url(board))
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_a_session_works_and_writes_need_csrf(board, member):
    client = session_client(member, csrf=True)
    assert client.get(items_url(board)).status_code == 200
    refused = client.post(items_url(board), {"title": "No token"}, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    client.get(f"/boards/{board.slug}/")  # the board page sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    created = client.post(
        items_url(board), {"title": "With token"}, format="json", HTTP_X_CSRFTOKEN=token
    )
    assert created.status_code == 201


def test_roles_viewer_reads_member_writes_ops_lead_configures(board, col):
    item = WorkItemFactory(board=board)
    viewer, member, lead = (token_client(board, role, name=role) for role in Role.values)
    assert viewer.get(item_url(item)).status_code == 200
    refused = viewer.patch(item_url(item), {"title": "x"}, format="json")
    assert refused.status_code == 403
    assert refused.json() == {
        "code": "permission_denied",
        "detail": "Your role (viewer) may not change work on this board; ask an ops lead.",
    }
    assert viewer.post(item_url(item, "move"), {"to_column": "Build"}).status_code == 403
    assert member.patch(item_url(item), {"title": "x"}, format="json").status_code == 200
    assert member.post(item_url(item, "move"), {"to_column": "Ready"}).status_code == 200
    board_url = f"/api/v1/boards/{board.slug}/"
    assert member.patch(board_url, {"name": "Renamed"}).status_code == 403
    assert lead.patch(board_url, {"name": "Renamed"}).status_code == 200
    assert Board.objects.get(pk=board.pk).name == "Renamed"


def test_another_boards_data_is_invisible(board):
    other = BoardFactory()
    theirs = WorkItemFactory(board=other)
    mine = WorkItemFactory(board=board)
    client = token_client(board)
    listed = client.get("/api/v1/boards/").json()["results"]
    assert [b["slug"] for b in listed] == [board.slug]
    assert client.get(items_url(other)).status_code == 404
    for url in (
        item_url(theirs),
        item_url(theirs, "criteria"),
        item_url(theirs, "blocks"),
        f"/api/v1/boards/{other.slug}/",
        f"/api/v1/boards/{other.slug}/transitions/",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json()["code"] == "not_found"
    moved = client.post(item_url(theirs, "move"), {"to_column": "Build"})
    assert moved.status_code == 404
    # The same answer as for an id that does not exist: nothing is told.
    assert client.get(item_url(theirs)).json() == client.get(item_url(10**9)).json()
    assert client.get(item_url(mine)).status_code == 200


def test_requests_are_throttled_per_token(board, settings):
    settings.API_RATE = "3/min"
    cache.clear()
    first, second = token_client(board, name="one"), token_client(board, name="two")
    for _ in range(3):
        assert first.get(items_url(board)).status_code == 200
    throttled = first.get(items_url(board))
    assert throttled.status_code == 429
    body = throttled.json()
    assert body["code"] == "throttled" and body["retry_after"] >= 1
    assert int(throttled["Retry-After"]) >= 1
    assert second.get(items_url(board)).status_code == 200  # its own budget
    cache.clear()


@pytest.mark.realservers
def test_with_redis_a_token_is_cached_and_forgotten_when_it_changes(board, settings):
    if not settings.REDIS_URL:
        pytest.skip("needs Redis: set REDIS_URL")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from boards.models import BoardMembership

    cache.clear()
    client = token_client(board, role=Role.VIEWER)
    client.get(items_url(board))  # read once, cached
    with CaptureQueriesContext(connection) as cached:
        assert client.get(items_url(board)).status_code == 200
    assert not any("api_apitoken" in q["sql"] for q in cached.captured_queries)
    item = WorkItemFactory(board=board)  # creating an item touches the board: still cached
    assert client.patch(item_url(item), {"title": "x"}).status_code == 403
    membership = BoardMembership.objects.get(user=client.token.user)
    membership.role = Role.MEMBER
    membership.save()  # the role changed: forgotten at once
    assert client.patch(item_url(item), {"title": "x"}).status_code == 200
    token_revoke(client.token)
    assert client.get(items_url(board)).status_code == 401
