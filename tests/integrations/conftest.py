"""Webhook deliveries as GitHub and Jira send them: the real payloads in tests/fixtures/, with
the headers and signatures the senders add."""

import json
import uuid
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from flowboard.celery import app
from integrations.models import Integration
from integrations.signatures import sign

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SECRET = "It's a Secret to Everybody"
MAPPING = {"To Do": "Backlog", "In Progress": "Build", "Done": "Done", "Reopened": "Ready"}


def payload(name: str) -> dict:
    """A fixture by its path under tests/fixtures/, e.g. ``jira/webhook-issue-created``."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
def in_process(settings):
    """Tasks run in-process (the embedded default), whatever the environment configures; the
    settle window is off unless a test sets it."""
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    settings.INTEGRATIONS_SETTLE_SECONDS = 0
    yield
    app.conf.task_always_eager = eager


@pytest.fixture
def jira(board, in_process):
    return Integration.objects.create(
        board=board, kind="jira", name="Jira TES", secret=SECRET, mapping=dict(MAPPING)
    )


@pytest.fixture
def github(board, in_process):
    return Integration.objects.create(
        board=board,
        kind="github",
        name="octo/Hello-World",
        secret=SECRET,
        mapping={"opened": "Backlog", "closed": "Done", "Todo": "Ready",
                 "In Progress": "Build"},
    )  # fmt: skip


def hook_url(integration) -> str:
    return f"/api/v1/hooks/{integration.kind}/{integration.public_id}/"


@pytest.fixture
def deliver(django_capture_on_commit_callbacks):
    """POST a delivery, signed unless told otherwise; what it enqueues on commit runs."""

    def send(integration, body, *, event=None, delivery_id=None, signature=None, client=None):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"content_type": "application/json"}
        if integration.kind == "github":
            headers["HTTP_X_GITHUB_EVENT"] = event or "issues"
            headers["HTTP_X_GITHUB_DELIVERY"] = delivery_id or str(uuid.uuid4())
            headers["HTTP_X_HUB_SIGNATURE_256"] = signature or sign(integration.secret, raw)
        else:
            headers["HTTP_X_ATLASSIAN_WEBHOOK_IDENTIFIER"] = delivery_id or str(uuid.uuid4())
            headers["HTTP_X_HUB_SIGNATURE"] = signature or sign(integration.secret, raw)
        if signature == "":
            headers.pop("HTTP_X_HUB_SIGNATURE_256", None)
            headers.pop("HTTP_X_HUB_SIGNATURE", None)
        with django_capture_on_commit_callbacks(execute=True):
            return (client or APIClient()).generic("POST", hook_url(integration), raw, **headers)

    return send
