"""Clients of the API: by token (an integration) or by session (the browser)."""

import pytest
from rest_framework.test import APIClient

from api.services import token_create
from boards.models import BoardMembership
from tests.factories import MembershipFactory, UserFactory

Role = BoardMembership.Role


def token_client(board, role=Role.MEMBER, name="Jira sync"):
    token, key = token_create(board, name=name, role=role)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    client.token, client.key = token, key
    return client


def session_client(user, csrf=False):
    client = APIClient(enforce_csrf_checks=csrf)
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def api(board):
    """A member token on the standard board."""
    return token_client(board)


@pytest.fixture
def viewer(board):
    user = UserFactory(username="vera-viewer")
    MembershipFactory(board=board, user=user, role=Role.VIEWER)
    return user


def items_url(board, query=""):
    return f"/api/v1/boards/{board.slug}/items/{query}"


def item_url(item, action=""):
    pk = item if isinstance(item, int) else item.pk
    return f"/api/v1/items/{pk}/{action + '/' if action else ''}"
