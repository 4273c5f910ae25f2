"""Outbound webhooks to a real HTTP server on 127.0.0.1: signed JSON bodies with a delivery id
and an event type, retried with exponential backoff, given up after N tries, every attempt
logged."""

import datetime as dt
import json
import re
import socket

import pytest
from django.utils import timezone

from boards import services
from boards.models import Event
from flowboard.errors import InvalidInput
from integrations import outbound, tasks
from integrations.models import OutboundAttempt, OutboundDelivery, Subscription
from integrations.signatures import sign
from tests.factories import CriterionTemplateFactory, WorkItemFactory
from tests.integrations.receiver import Receiver

pytestmark = pytest.mark.django_db
SECRET = "outbound-secret-0123456789"


@pytest.fixture
def move(in_process, django_capture_on_commit_callbacks):
    """A move through the service, with what it enqueues on commit run (the dispatch)."""

    def run(item, column, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return services.work_item_move(item, column, actor=None, source="api", **kwargs)

    return run


def make_due():
    OutboundDelivery.objects.filter(status="pending").update(
        next_attempt_at=timezone.now() - dt.timedelta(seconds=1)
    )


def test_a_move_is_sent_signed_with_its_delivery_id_and_type(board, col, move):
    item = WorkItemFactory(board=board)
    services.work_item_move(item, col["Ready"], actor=None, source="api")  # before: not sent
    with Receiver() as receiver:
        subscription = outbound.subscription_create(board, url=receiver.url, secret=SECRET)
        assert subscription.last_event_id == Event.objects.latest("id").pk
        move(item, col["Build"])
        (request,) = receiver.wait_for(1)
    headers, body = request["headers"], request["body"]
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Flowboard-Event"] == "item.moved"
    assert headers["X-Flowboard-Signature"] == sign(SECRET, body)
    assert headers["X-Flowboard-Attempt"] == "1"
    delivery = OutboundDelivery.objects.get()
    assert headers["X-Flowboard-Delivery"] == str(delivery.delivery_id)
    data = json.loads(body)
    assert data["id"] == str(delivery.delivery_id) and data["type"] == "item.moved"
    assert data["board"] == {"slug": board.slug, "name": board.name}
    assert data["data"]["item"]["key"] == item.key
    assert (data["data"]["from_column"], data["data"]["to_column"]) == ("Ready", "Build")
    assert delivery.status == "delivered" and delivery.attempts == 1
    attempt = OutboundAttempt.objects.get()
    assert attempt.status_code == 200 and attempt.error == "" and attempt.number == 1


def test_failures_are_retried_with_exponential_backoff_then_delivered(board, col, move, settings):
    settings.OUTBOUND_BACKOFF_SECONDS = 30
    item = WorkItemFactory(board=board)
    with Receiver(statuses=[500, 503, 200]) as receiver:
        outbound.subscription_create(board, url=receiver.url, secret=SECRET)
        before = timezone.now()
        move(item, col["Ready"])
        delivery = OutboundDelivery.objects.get()
        assert delivery.status == "pending" and delivery.attempts == 1
        first_wait = (delivery.next_attempt_at - before).total_seconds()
        assert 30 <= first_wait < 35
        assert tasks.send_due() == 0  # not due yet
        make_due()
        assert tasks.send_due() == 1
        delivery.refresh_from_db()
        second_wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
        assert 55 < second_wait <= 60  # doubled
        make_due()
        tasks.send_due()
        requests = receiver.wait_for(3)
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 3
    assert [r["headers"]["X-Flowboard-Attempt"] for r in requests] == ["1", "2", "3"]
    assert {r["headers"]["X-Flowboard-Delivery"] for r in requests} == {str(delivery.delivery_id)}
    log = list(OutboundAttempt.objects.values_list("number", "status_code", "error"))
    assert log == [(1, 500, "HTTP 500 Internal Server Error"),
                   (2, 503, "HTTP 503 Service Unavailable"), (3, 200, "")]  # fmt: skip


def test_it_gives_up_after_the_last_attempt_and_can_be_sent_again(
    board, col, move, settings, django_capture_on_commit_callbacks
):
    settings.OUTBOUND_MAX_ATTEMPTS = 3
    item = WorkItemFactory(board=board)
    with Receiver(statuses=[502, 502, 502, 200]) as receiver:
        outbound.subscription_create(board, url=receiver.url, secret=SECRET)
        move(item, col["Ready"])
        for _ in range(2):
            make_due()
            tasks.send_due()
        delivery = OutboundDelivery.objects.get()
        assert delivery.status == "failed" and delivery.attempts == 3
        assert delivery.last_error == "Gave up after 3 attempts: HTTP 502 Bad Gateway"
        make_due()
        assert tasks.send_due() == 0  # given up: the sweep leaves it
        with django_capture_on_commit_callbacks(execute=True):
            outbound.resend(delivery)
        receiver.wait_for(4)
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and OutboundAttempt.objects.count() == 4


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_a_failed_attempt_and_not_followed(board, col, move, status):
    item = WorkItemFactory(board=board)
    with Receiver() as elsewhere, Receiver(statuses=[status], location=elsewhere.url) as first:
        outbound.subscription_create(board, url=first.url, secret=SECRET)
        move(item, col["Ready"])
        first.wait_for(1)
    assert elsewhere.requests == []  # neither re-posted nor turned into a GET
    delivery = OutboundDelivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 1
    attempt = OutboundAttempt.objects.get()
    assert attempt.status_code == status
    assert attempt.error.endswith("redirects are not followed; subscribe the final URL")


def test_refused_connections_and_timeouts_are_logged(board, col, move, settings):
    settings.OUTBOUND_TIMEOUT_SECONDS = 1
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    item = WorkItemFactory(board=board)
    subscription = outbound.subscription_create(
        board, url=f"http://127.0.0.1:{port}/nobody", secret=SECRET
    )
    move(item, col["Ready"])
    attempt = OutboundAttempt.objects.get()
    assert attempt.status_code is None and "Connection refused" in attempt.error
    Subscription.objects.filter(pk=subscription.pk).update(active=False)
    with Receiver(delay=3) as slow:
        outbound.subscription_create(board, url=slow.url, secret=SECRET)
        move(item, col["Build"])
        slow.wait_for(1)
    timed_out = OutboundAttempt.objects.latest("id")
    assert timed_out.status_code is None and "timed out" in timed_out.error
    assert 900 <= timed_out.duration_ms < 3000


def test_a_subscription_gets_only_its_event_types(board, col, move):
    CriterionTemplateFactory(board=board, title="FAQ", track="support", gate_column=col["Done"])
    item = WorkItemFactory(board=board)
    with Receiver() as receiver:
        outbound.subscription_create(
            board, url=receiver.url, secret=SECRET, events=["item.delivered", "gate.refused"]
        )
        move(item, col["Ready"])
        with pytest.raises(Exception, match="cannot enter Done"):
            move(item, col["Done"])
        from readiness.services import criterion_meet

        criterion_meet(item.criteria.get(), actor=None)
        move(item, col["Done"])
        requests = receiver.wait_for(2)
    assert [r["headers"]["X-Flowboard-Event"] for r in requests] == [
        "gate.refused", "item.delivered"
    ]  # fmt: skip


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"url": "ftp://example.com/x"}, "is not an http(s) URL"),
        ({"secret": "short"}, "at least 16 characters"),
        ({"events": ["item.exploded"]}, "Unknown event types ['item.exploded']"),
    ],
)
def test_subscriptions_are_checked(board, fields, message):
    kwargs = {"url": "https://hooks.example.com/flowboard", "secret": SECRET, **fields}
    with pytest.raises(InvalidInput, match=re.escape(message)):
        outbound.subscription_create(board, **kwargs)


def test_two_dispatches_never_make_the_same_delivery_twice(board, col, in_process):
    item = WorkItemFactory(board=board)
    subscription = outbound.subscription_create(board, url="http://127.0.0.1:9/none", secret=SECRET)
    services.work_item_move(item, col["Ready"], actor=None, source="api")
    first = outbound.dispatch(board.pk)
    second = outbound._dispatch_one(subscription.pk)
    assert len(first) == 1 and second == []
    assert OutboundDelivery.objects.count() == 1


def test_the_sweep_sends_what_another_process_did_not_know_to_dispatch(board, col, move):
    """A process that read "no subscribers" moments before a subscription was made elsewhere
    leaves its events in the outbox; the minute's sweep dispatches them."""
    item = WorkItemFactory(board=board)
    with Receiver() as receiver:
        outbound.subscription_create(board, url=receiver.url, secret=SECRET)
        outbound._subscribers[board.pk] = (float("inf"), False)  # this process's stale view
        move(item, col["Ready"])
        assert not OutboundDelivery.objects.exists()
        assert outbound.lagging_boards() == [board.pk]
        tasks.send_due()
        (request,) = receiver.wait_for(1)
    assert json.loads(request["body"])["data"]["to_column"] == "Ready"
    assert outbound.lagging_boards() == []
    outbound.forget_subscribers(board.pk)


def test_a_creation_into_delivery_or_over_a_soft_limit_gives_its_events(board, col):
    """A creation is no item.moved, but an item created straight into delivery (an issue done
    elsewhere) is delivered, and one created over a soft limit exceeds it."""
    col["Build"].wip_limit, col["Build"].wip_policy = 1, "soft"
    col["Build"].save()
    WorkItemFactory(board=board, column=col["Build"])
    services.work_item_create(board, title="Hot fix", actor=None, source="api", column=col["Build"])
    done = services.work_item_create(
        board, title="Done in Jira", actor=None, source="webhook", column=col["Done"],
        enforce=False,
    )  # fmt: skip
    kinds = list(Event.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == ["wip.exceeded", "item.delivered"]
    delivered = Event.objects.get(kind="item.delivered")
    assert delivered.data["item"]["key"] == done.key and delivered.data["from_column"] is None
    exceeded = Event.objects.get(kind="wip.exceeded")
    assert (exceeded.data["limit"], exceeded.data["count"]) == (1, 2)
