"""Two requests through the API at the same moment, on both databases: identical keyed moves
(one moves, the other waits for the item's lock, finds the first one's move and answers with its
receipt, byte for byte), and two upserts of the same new external key (one creates, the other
updates what it created)."""

import pytest
from django.db import connection

from api.models import MoveReceipt
from boards.models import Transition, WorkItem
from tests.api.conftest import item_url, token_client
from tests.boards.test_concurrency import assert_no_errors, run
from tests.factories import BoardFactory, WorkItemFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_two_identical_keyed_api_moves_in_flight_give_one_move_and_its_answer_twice(backend):
    if connection.vendor != backend:
        pytest.skip(f"runs on {backend}")
    board = BoardFactory()
    item = WorkItemFactory(board=board)
    clients = [token_client(board, name=f"sync {n}") for n in (1, 2)]

    def mover(client):
        return lambda: client.post(
            item_url(item, "move"), {"to_column": "Build"}, HTTP_IDEMPOTENCY_KEY="same-retry"
        )

    first, second = run(*(mover(client) for client in clients))

    assert_no_errors([first, second])
    # Different tokens are different actors, but the key is the board's: one move.
    assert first.status_code == second.status_code == 200, (first.content, second.content)
    assert first.content == second.content and first["ETag"] == second["ETag"]
    replayed = sorted(r.get("Idempotent-Replayed", "") for r in (first, second))
    assert replayed == ["", "true"]
    assert Transition.objects.filter(item=item, idempotency_key="same-retry").count() == 1
    assert MoveReceipt.objects.count() == 1


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_two_upserts_of_a_new_key_at_once_create_one_item_and_update_it(backend):
    if connection.vendor != backend:
        pytest.skip(f"runs on {backend}")
    board = BoardFactory()
    clients = [token_client(board, name=f"sync {n}") for n in (1, 2)]
    url = f"/api/v1/boards/{board.slug}/items/by-key/jira/PAY-99/"

    def upsert(client, title):
        return lambda: client.put(url, {"title": title, "status": "Build"}, format="json")

    results = run(upsert(clients[0], "From Jira"), upsert(clients[1], "From a script"))

    assert_no_errors(results)
    assert sorted(r.status_code for r in results) == [200, 201], [r.content for r in results]
    item = WorkItem.objects.get(board=board, external_key="PAY-99")
    assert item.column.name == "Build"
    updated = next(r for r in results if r.status_code == 200).json()
    assert item.title == updated["title"] and updated["id"] == item.pk
    assert Transition.objects.filter(item=item).count() == 2  # created, then moved once
