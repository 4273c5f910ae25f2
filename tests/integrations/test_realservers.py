"""Webhooks under real concurrency and a real worker: ten parallel copies of one delivery give
one event (on PostgreSQL in CI's real-server pass); a Celery worker on Redis processes
deliveries, holds Jira changes for the settle window and sends outbound webhooks with retries."""

import copy
import datetime as dt
import json
import threading
import time
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from boards import services
from boards.models import Transition, WorkItem
from flowboard.errors import ConcurrentUpdate
from integrations import inbound, outbound
from integrations.models import Delivery, Integration, OutboundAttempt, OutboundDelivery
from integrations.signatures import sign
from tests.factories import BoardFactory, WorkItemFactory
from tests.integrations.conftest import MAPPING, SECRET, hook_url, payload
from tests.integrations.receiver import Receiver
from tests.integrations.test_jira import status_change

pytestmark = pytest.mark.django_db(transaction=True)


def post(integration, raw: bytes, delivery_id: str):
    response = Client().generic(
        "POST",
        hook_url(integration),
        raw,
        content_type="application/json",
        HTTP_X_ATLASSIAN_WEBHOOK_IDENTIFIER=delivery_id,
        HTTP_X_HUB_SIGNATURE=sign(SECRET, raw),
    )
    connection.close()
    return response


def test_ten_parallel_copies_of_a_delivery_give_one_event(in_process):
    board = BoardFactory()
    jira = Integration.objects.create(
        board=board, kind="jira", name="Jira", secret=SECRET, mapping=MAPPING
    )
    raw = json.dumps(payload("jira/webhook-issue-created")).encode()
    barrier = threading.Barrier(10)
    statuses: list[int] = []

    def send():
        barrier.wait()
        statuses.append(post(jira, raw, "the-same-id").status_code)

    threads = [threading.Thread(target=send) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [200] * 9 + [202], statuses
    assert Delivery.objects.count() == 1
    assert Delivery.objects.get().status == "processed"
    assert WorkItem.objects.filter(external_key="TES-41").count() == 1
    print(f"{connection.vendor}: 1 accepted, 9 acknowledged as duplicates")


def test_two_deliveries_creating_the_same_issue_at_once_give_one_item(in_process, monkeypatch):
    """Two workers process a "created" and an "updated" delivery of one new Jira issue at the
    same moment: one creates the item; the other's create fails on the external key, which
    the task retries (nothing failed, nothing lost), and the retry updates the item."""
    if connection.vendor != "postgresql":
        pytest.skip("two writers at once need PostgreSQL (SQLite serialises them)")
    board = BoardFactory()
    jira = Integration.objects.create(
        board=board, kind="jira", name="Jira", secret=SECRET, mapping=MAPPING
    )
    created = payload("jira/webhook-issue-created")
    updated = copy.deepcopy(created)
    updated["webhookEvent"] = "jira:issue_updated"
    updated["timestamp"] = created["timestamp"] + 1000
    updated["issue"]["fields"]["summary"] = "Renamed in Jira"
    updated["changelog"] = {"id": "1", "items": [{"field": "summary", "toString": "Renamed"}]}
    deliveries = [
        Delivery.objects.create(
            integration=jira,
            delivery_id=f"d-{n}",
            event=body["webhookEvent"],
            headers={},
            body=json.dumps(body),
        )  # fmt: skip
        for n, body in enumerate((created, updated))
    ]
    # Both workers look the issue up before either creates it: the race, every time.
    both_looked = threading.Barrier(2, timeout=30)
    find = inbound._find

    def find_then_wait(integration, key):
        found = find(integration, key)
        if found is None and threading.current_thread().name.startswith("delivery-"):
            both_looked.wait()
        return found

    monkeypatch.setattr(inbound, "_find", find_then_wait)
    outcomes: dict[int, object] = {}

    def process(delivery):
        try:
            outcomes[delivery.pk] = inbound.process(delivery.pk)
        except ConcurrentUpdate as error:  # what the task retries with backoff
            outcomes[delivery.pk] = error
        finally:
            connection.close()

    threads = [
        threading.Thread(target=process, args=(d,), name=f"delivery-{d.pk}") for d in deliveries
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    monkeypatch.undo()
    raced = [pk for pk, outcome in outcomes.items() if isinstance(outcome, ConcurrentUpdate)]
    assert len(raced) == 1, outcomes
    assert Delivery.objects.get(pk=raced[0]).status == "received"  # untouched, to retry
    assert inbound.process(raced[0]) == "processed"
    assert Delivery.objects.filter(status="processed").count() == 2
    item = WorkItem.objects.get(board=board, external_key="TES-41")
    assert item.title == "Renamed in Jira"


@pytest.mark.realservers
def test_a_worker_holds_out_of_order_jira_changes_and_applies_them_sorted(worker):
    board = BoardFactory()
    jira = Integration.objects.create(
        board=board, kind="jira", name="Jira", secret=SECRET, mapping=MAPPING
    )
    base = timezone.now().replace(microsecond=0) - dt.timedelta(hours=1)
    created = payload("jira/webhook-issue-created")
    created["timestamp"] = int(base.timestamp() * 1000)
    worker(INTEGRATIONS_SETTLE_SECONDS="3")
    assert post(jira, json.dumps(created).encode(), "c").status_code == 202
    times = [base + dt.timedelta(minutes=m) for m in (10, 20, 30)]
    changes = [
        status_change(None, "TES-41", "Done", times[2], 3, frm="Review"),
        status_change(None, "TES-41", "In Progress", times[0], 1),
        status_change(None, "TES-41", "Review", times[1], 2, frm="In Progress"),
    ]
    for number, body in enumerate(changes):
        assert post(jira, json.dumps(body).encode(), f"s{number}").status_code == 202
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if Delivery.objects.filter(status="processed").count() == 4:
            break
        time.sleep(0.25)
    item = WorkItem.objects.get(external_key="TES-41")
    moves = list(Transition.objects.filter(item=item).order_by("id"))
    assert [(m.to_column.name, m.at) for m in moves[1:]] == [
        ("Build", times[0]), ("Review", times[1]), ("Done", times[2])
    ]  # fmt: skip
    assert not Delivery.objects.exclude(status="processed").exists()


@pytest.mark.realservers
def test_a_worker_retries_an_outbound_delivery_with_backoff(worker):
    board = BoardFactory()
    item = WorkItemFactory(board=board)
    with Receiver(statuses=[500, 200]) as receiver:
        outbound.subscription_create(board, url=receiver.url, secret=SECRET * 2)
        worker(OUTBOUND_BACKOFF_SECONDS="1")
        services.work_item_move(item, board.columns.get(name="Ready"), actor=None, source="api")
        requests = receiver.wait_for(2, timeout=60)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        delivery = OutboundDelivery.objects.get()
        if delivery.status == "delivered":
            break
        time.sleep(0.1)
    assert delivery.status == "delivered" and delivery.attempts == 2
    first, second = OutboundAttempt.objects.order_by("number")
    assert (first.status_code, second.status_code) == (500, 200)
    assert (second.at - first.at).total_seconds() >= 0.5  # backoff: base 1 s, with jitter
    assert requests[0]["headers"]["X-Flowboard-Delivery"] == str(delivery.delivery_id)
    assert uuid.UUID(requests[1]["headers"]["X-Flowboard-Delivery"]) == delivery.delivery_id
