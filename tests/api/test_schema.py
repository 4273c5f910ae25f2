"""Contract tests: schemathesis generates requests (valid and invalid) for every operation of
the OpenAPI schema and runs its default checks on each answer: no 5xx, status codes, content
types, headers and bodies as documented, invalid input rejected, valid input accepted.

Half the generated ids and slugs are swapped for real ones (a board the token may write, its
item, criterion and column), so the operations are exercised beyond their 404s. CI runs 40
derandomized examples per operation; ``FLOWBOARD_FUZZ_EXAMPLES=500 FLOWBOARD_FUZZ_RANDOM=1``
searches further.
"""

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from flowboard.wsgi import application
from readiness.services import criterion_add
from tests.api.conftest import token_client
from tests.factories import WorkItemFactory

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
REAL: dict = {}


@schema.hook
def map_path_parameters(context, path_parameters):
    """Even ids and even-length slugs point at the real objects of the test's board; values of
    the wrong type (a fuzzer's null for an id) are left alone, to be refused."""
    if not path_parameters:
        return path_parameters
    mapped = dict(path_parameters)
    for name, value in path_parameters.items():
        real = REAL.get(name)
        if real is None or not isinstance(value, type(real)) or isinstance(value, bool):
            continue
        size = value if isinstance(value, int) else len(value)
        if size % 2 == 0:
            mapped[name] = real
    return mapped


@pytest.fixture
def in_test_transaction():
    """Calls go straight to the WSGI application: keep Django from closing the test's database
    connection at the end of each request (its test client does the same)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(board, col, in_test_transaction):
    """An ops lead's token on the board, and an item with a criterion to aim at."""
    client = token_client(board, role="ops_lead", name="schemathesis")
    item = WorkItemFactory(board=board)
    criterion = criterion_add(
        item, title="Release notes", track="docs", gate_column=col["Done"], actor=None
    )
    REAL.clear()
    REAL.update(slug=board.slug, item_id=item.pk, criterion_id=criterion.pk, source="jira")
    yield {"Authorization": f"Token {client.key}"}
    REAL.clear()


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("FLOWBOARD_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=os.environ.get("FLOWBOARD_FUZZ_RANDOM") != "1",
)
def test_the_api_honours_its_schema(case, world):
    case.call_and_validate(headers=world)


def test_the_schema_and_the_docs_are_served(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    document = response.json()
    paths = document["paths"]
    assert "/api/v1/items/{item_id}/move/" in paths
    assert "/api/v1/boards/{slug}/items/by-key/{source}/{key}/" in paths
    assert document["components"]["securitySchemes"]["tokenAuth"]["name"] == "Authorization"
    move = paths["/api/v1/items/{item_id}/move/"]["post"]
    assert {"409", "412", "422"} <= set(move["responses"])
    assert document["components"]["schemas"]["MoveInputRequest"]["additionalProperties"] is False
    docs = client.get("/api/docs/").content.decode()
    assert "swagger-ui-bundle.js" in docs and "<style" not in docs
    assert "<script>" not in docs  # the initialiser is a file: no inline script
