"""Connecting ticket systems: ``manage.py integration_create`` for scripts, and the admin for
ops leads (integrations, deliveries and their replay, subscriptions, API tokens)."""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from api.models import ApiToken
from api.services import token_create
from boards.models import BoardMembership, WorkItem
from integrations.models import Delivery, Integration, OutboundDelivery, Subscription
from tests.integrations.conftest import SECRET, payload

pytestmark = pytest.mark.django_db
MAP = "To Do=Backlog,In Progress=Build,Done=Done"


def create(*args):
    out = io.StringIO()
    call_command("integration_create", *args, stdout=out)
    return out.getvalue()


def test_the_command_reads_the_secret_from_the_environment_and_prints_the_url(
    board, monkeypatch, settings
):
    settings.PUBLIC_URL = "https://flowboard.example.com"
    monkeypatch.setenv("FLOWBOARD_HOOK_SECRET", SECRET)
    out = create("--board", board.slug, "--kind", "jira", "--name", "Jira PAY", "--map", MAP)
    integration = Integration.objects.get()
    assert integration.secret == SECRET and integration.kind == "jira"
    assert integration.mapping == {"To Do": "Backlog", "In Progress": "Build", "Done": "Done"}
    url = f"https://flowboard.example.com/api/v1/hooks/jira/{integration.public_id}/"
    assert out.strip().endswith(url)
    assert "X-Hub-Signature" in out and SECRET not in out


@pytest.mark.parametrize(
    "args, secret, message",
    [
        (["--kind", "jira", "--name", "J"], "", "FLOWBOARD_HOOK_SECRET environment variable"),
        (["--kind", "jira", "--name", "J"], "short", "at least 16 characters"),
        (
            ["--kind", "jira", "--name", "J", "--map", "To Do=Nowhere"],
            SECRET,
            "'To Do' maps to 'Nowhere', which is not a column of",
        ),
        (
            ["--kind", "jira", "--name", "J", "--map", "To Do"],
            SECRET,
            "'To Do' is not STATUS=COLUMN",
        ),
    ],
)
def test_the_command_refuses_bad_configuration_in_words(board, monkeypatch, args, secret, message):
    monkeypatch.setenv("FLOWBOARD_HOOK_SECRET", secret)
    with pytest.raises(CommandError, match=message):
        create("--board", board.slug, *args)
    assert not Integration.objects.exists()


def test_the_command_refuses_an_unknown_board_and_a_duplicate_name(board, monkeypatch):
    monkeypatch.setenv("FLOWBOARD_HOOK_SECRET", SECRET)
    with pytest.raises(CommandError, match="No board 'nope'"):
        create("--board", "nope", "--kind", "github", "--name", "G")
    create("--board", board.slug, "--kind", "github", "--name", "G")
    with pytest.raises(CommandError, match="already has an integration named 'G'"):
        create("--board", board.slug, "--kind", "github", "--name", "G")


def test_a_script_made_integration_receives_deliveries(board, monkeypatch, deliver, in_process):
    monkeypatch.setenv("FLOWBOARD_HOOK_SECRET", SECRET)
    create("--board", board.slug, "--kind", "jira", "--name", "Jira", "--map", MAP)
    response = deliver(Integration.objects.get(), payload("jira/webhook-issue-created"))
    assert response.status_code == 202
    assert WorkItem.objects.filter(external_key="TES-41").exists()


@pytest.fixture
def ops(client, ops_lead):
    ops_lead.is_staff = ops_lead.is_superuser = True
    ops_lead.save()
    client.force_login(ops_lead)
    return client


def test_an_ops_lead_connects_jira_in_the_admin(ops, board):
    url = reverse("admin:integrations_integration_add")
    refused = ops.post(
        url,
        {
            "board": board.pk,
            "kind": "jira",
            "name": "Jira",
            "secret": SECRET,
            "mapping_text": "To Do=Somewhere",
            "active": "on",
        },
    )
    assert refused.status_code == 200
    assert "not a column of" in refused.content.decode()
    saved = ops.post(
        url,
        {
            "board": board.pk,
            "kind": "jira",
            "name": "Jira",
            "secret": SECRET,
            "mapping_text": "To Do=Backlog\nIn Progress=build",
            "active": "on",
        },
    )
    assert saved.status_code == 302
    integration = Integration.objects.get()
    assert integration.mapping == {"To Do": "Backlog", "In Progress": "Build"}
    page = ops.get(reverse("admin:integrations_integration_change", args=[integration.pk]))
    assert f"/api/v1/hooks/jira/{integration.public_id}/" in page.content.decode()
    assert SECRET not in page.content.decode()  # never shown again
    # Editing the mapping keeps the secret when the field is left empty.
    ops.post(
        reverse("admin:integrations_integration_change", args=[integration.pk]),
        {"name": "Jira", "secret": "", "mapping_text": "Done=Done", "active": "on"},
    )
    integration.refresh_from_db()
    assert integration.secret == SECRET and integration.mapping == {"Done": "Done"}


def test_failed_deliveries_are_listed_and_replayed_from_the_admin(
    ops, jira, deliver, django_capture_on_commit_callbacks
):
    deliver(jira, payload("jira/webhook-issue-created"))
    updated = payload("jira/webhook-issue-updated-started-working")
    updated["changelog"]["items"][0]["toString"] = "QA"
    updated["issue"]["fields"]["status"]["name"] = "QA"
    deliver(jira, updated, delivery_id="needs-qa")
    failed = Delivery.objects.get(delivery_id="needs-qa")
    assert failed.status == "failed"
    listing = ops.get(reverse("admin:integrations_delivery_changelist") + "?status__exact=failed")
    assert (
        "needs-qa" in listing.content.decode() and "maps to no column" in listing.content.decode()
    )
    assert ops.get(reverse("admin:integrations_integration_changelist")).status_code == 200
    jira.mapping["QA"] = "Review"
    jira.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = ops.post(
            reverse("admin:integrations_delivery_changelist"),
            {"action": "replay", "_selected_action": [failed.pk]},
        )
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.status == "processed"
    assert WorkItem.objects.get(external_key="TES-41").column.name == "Review"
    detail = ops.get(reverse("admin:integrations_delivery_change", args=[failed.pk]))
    assert detail.status_code == 200 and "needs-qa" in detail.content.decode()
    assert json.loads(failed.body)["issue"]["key"] == "TES-41"


def test_an_ops_lead_creates_a_token_sees_its_key_once_and_revokes_it(ops, board):
    response = ops.post(
        reverse("admin:api_apitoken_add"),
        {"board": board.pk, "name": "Jira sync", "role": "member"},
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    key = next(m for m in messages if "Copy it now" in m).split("The key of Jira sync: ")[1]
    key = key.split(".")[0]
    token = ApiToken.objects.get()
    assert token.key_prefix == key[:10] and key not in token.key_hash
    assert BoardMembership.objects.get(user=token.user).role == "member"
    from rest_framework.test import APIClient

    client = APIClient(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(f"/api/v1/boards/{board.slug}/items/").status_code == 200
    page = ops.get(reverse("admin:api_apitoken_change", args=[token.pk])).content.decode()
    assert key not in page
    ops.post(
        reverse("admin:api_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert client.get(f"/api/v1/boards/{board.slug}/items/").status_code == 401


@pytest.mark.parametrize(
    ("model", "action"),
    [
        ("api.apitoken", "revoke"),
        ("integrations.delivery", "replay"),
        ("integrations.outbounddelivery", "send_again"),
        ("readiness.acceptancecriterion", "retire"),
        ("metrics.boardmetrics", "recompute"),
    ],
)
def test_a_staff_user_who_may_only_view_gets_no_actions(client, board, model, action):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    app_label, name = model.split(".")
    viewer = UserFactory(username="vic-view", is_staff=True)
    viewer.user_permissions.add(
        Permission.objects.get(content_type__app_label=app_label, codename=f"view_{name}")
    )
    client.force_login(viewer)
    changelist = reverse(f"admin:{app_label}_{name}_changelist")
    page = client.get(changelist)
    assert page.status_code == 200
    assert f'value="{action}"' not in page.content.decode()
    if model == "api.apitoken":
        token, _ = token_create(board, name="Jira sync", role="member")
        client.post(changelist, {"action": action, "_selected_action": [token.pk]})
        token.refresh_from_db()
        assert token.revoked_at is None  # the action was not run


def test_an_ops_lead_subscribes_a_url_and_sees_attempts(ops, board):
    url = reverse("admin:integrations_subscription_add")
    refused = ops.post(
        url,
        {
            "board": board.pk,
            "url": "ftp://x.example.com",
            "secret": "s" * 20,
            "events": ["item.moved"],
            "active": "on",
        },
    )
    assert "is not an http(s) URL" in refused.content.decode() or "Enter a valid URL" in (
        refused.content.decode()
    )
    saved = ops.post(
        url,
        {
            "board": board.pk,
            "url": "https://hooks.example.com/fb",
            "secret": "s" * 20,
            "events": ["item.moved"],
            "active": "on",
        },
    )
    assert saved.status_code == 302
    subscription = Subscription.objects.get()
    assert subscription.events == ["item.moved"] and subscription.secret == "s" * 20
    assert ops.get(reverse("admin:integrations_outbounddelivery_changelist")).status_code == 200
    assert not OutboundDelivery.objects.exists()
