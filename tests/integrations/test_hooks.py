"""The webhook endpoints: signature, storage before processing, duplicates, acknowledgement."""

import hashlib
import json

import pytest

from integrations.models import Delivery
from integrations.signatures import sign, verify
from tests.integrations.conftest import SECRET, hook_url, payload

pytestmark = pytest.mark.django_db


def test_githubs_published_test_vector():
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert sign(SECRET, b"Hello, World!") == expected
    assert verify(SECRET, b"Hello, World!", expected)
    assert not verify(SECRET, b"Hello, World!", expected[:-1] + "f")
    assert not verify(SECRET, b"Hello, World?", expected)
    assert not verify(SECRET, b"Hello, World!", None)
    assert not verify("", b"Hello, World!", sign("", b"Hello, World!"))


@pytest.mark.parametrize("kind", ["github", "jira"])
def test_a_missing_or_bad_signature_is_401_and_nothing_is_stored(request, deliver, kind):
    integration = request.getfixturevalue(kind)
    body = payload("github/ping_payload" if kind == "github" else "jira/webhook-issue-created")
    missing = deliver(integration, body, signature="", event="ping")
    assert missing.status_code == 401
    assert missing.json()["code"] == "signature_missing"
    wrong = deliver(integration, body, signature=sign("another secret", b"{}"), event="ping")
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "signature_invalid"
    # Signed over other bytes (a re-serialised body) does not verify either.
    other = sign(SECRET, json.dumps(body, indent=2).encode())
    assert deliver(integration, body, signature=other, event="ping").status_code == 401
    assert not Delivery.objects.exists()


def test_an_unknown_or_inactive_integration_is_404(client, jira):
    missing = client.post(hook_url(jira).replace(str(jira.public_id)[:8], "00000000"), {})
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    wrong_kind = client.post(hook_url(jira).replace("/jira/", "/github/"), {})
    assert wrong_kind.status_code == 404
    jira.active = False
    jira.save()
    assert client.post(hook_url(jira), {}).status_code == 404
    assert client.get(hook_url(jira)).status_code == 405


def test_a_delivery_is_stored_raw_with_its_headers_then_processed(deliver, jira):
    body = payload("jira/webhook-issue-created")
    raw = json.dumps(body).encode()
    response = deliver(jira, raw, delivery_id="d-1")
    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "delivery": "d-1"}
    delivery = Delivery.objects.get()
    assert delivery.body == raw.decode() and delivery.event == "jira:issue_created"
    assert delivery.headers["X-Atlassian-Webhook-Identifier"] == "d-1"
    assert delivery.headers["X-Hub-Signature"] == sign(SECRET, raw)
    assert delivery.status == "processed" and delivery.attempts == 1


def test_without_an_identifier_the_body_hash_is_the_delivery_id(deliver, jira, client):
    raw = json.dumps(payload("jira/webhook-issue-created")).encode()
    response = client.generic(
        "POST", hook_url(jira), raw, content_type="application/json",
        HTTP_X_HUB_SIGNATURE=sign(SECRET, raw),
    )  # fmt: skip
    assert response.status_code == 202
    assert Delivery.objects.get().delivery_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    again = client.generic(
        "POST", hook_url(jira), raw, content_type="application/json",
        HTTP_X_HUB_SIGNATURE=sign(SECRET, raw),
    )  # fmt: skip
    assert again.status_code == 200 and again.json()["status"] == "duplicate"


def test_a_duplicate_is_acknowledged_and_not_processed_again(deliver, jira):
    body = payload("jira/webhook-issue-created")
    assert deliver(jira, body, delivery_id="same").status_code == 202
    again = deliver(jira, body, delivery_id="same")
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate", "delivery": "same"}
    assert Delivery.objects.count() == 1
    assert Delivery.objects.get().attempts == 1


def test_ping_answers_200_and_is_kept(deliver, github):
    response = deliver(github, payload("github/ping_payload"), event="ping")
    assert response.status_code == 200 and response.json()["status"] == "pong"
    delivery = Delivery.objects.get()
    assert delivery.event == "ping" and delivery.status == "ignored"
    assert "connected" in delivery.error


def test_a_body_that_is_not_json_is_kept_and_failed(deliver, jira):
    response = deliver(jira, b"<xml>not json</xml>")
    assert response.status_code == 202
    delivery = Delivery.objects.get()
    assert delivery.status == "failed" and delivery.error == "The body is not JSON."
    assert delivery.body == "<xml>not json</xml>"


def test_a_huge_delivery_is_413(deliver, jira, settings):
    settings.HOOK_MAX_BODY_BYTES = 1000
    response = deliver(jira, {"junk": "x" * 2000})
    assert response.status_code == 413
    assert not Delivery.objects.exists()
