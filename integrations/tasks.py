"""Celery tasks of the integrations: processing inbound deliveries, applying held Jira status
changes once their settle window has passed, and sending outbound webhooks.

Every task is idempotent and ``acks_late``: a worker killed halfway leaves the message to be
delivered again, and the second run finds the work done (a delivery's status, an outbound
delivery's status, a move's idempotency key). Two sweeps on the beat schedule pick up what a
lost message would otherwise leave behind: deliveries received but never processed, held
changes whose settle task was lost, and outbound deliveries due for another attempt.
"""

import datetime as dt
import logging
import random

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from flowboard.errors import ConcurrentUpdate
from integrations import inbound, outbound
from integrations.models import Delivery, OutboundDelivery

log = logging.getLogger(__name__)
TRANSIENT = (DatabaseError, ConcurrentUpdate)
PROCESS_RETRIES = 8


def backoff(retries: int, base: float = 2.0, cap: float = 600.0) -> float:
    """Exponential, with jitter so a burst of failures does not come back in step."""
    return min(cap, base * 2**retries) * (0.5 + random.random() / 2)


@shared_task(bind=True, acks_late=True, max_retries=PROCESS_RETRIES)
def process_delivery(self, delivery_id: int) -> str:
    """Process one stored delivery. A transient database error (a deadlock, a lost
    connection) is retried with exponential backoff; after the last retry the delivery is left
    "failed" with the error, for an ops lead to replay."""
    try:
        return inbound.process(delivery_id)
    except TRANSIENT as error:
        if self.request.retries >= self.max_retries:
            inbound.give_up(delivery_id, error)
            return Delivery.Status.FAILED
        raise self.retry(exc=error, countdown=backoff(self.request.retries)) from error


def schedule_settle(integration_id: int, external_key: str) -> None:
    """Apply the item's held changes once the settle window has passed (at once in-process)."""
    countdown = settings.INTEGRATIONS_SETTLE_SECONDS
    settle_item.apply_async(
        (integration_id, external_key), countdown=countdown + 1 if countdown else 0
    )


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, retry_backoff_max=300,
             max_retries=PROCESS_RETRIES)  # fmt: skip
def settle_item(integration_id: int, external_key: str) -> int:
    return inbound.settle(integration_id, external_key)


@shared_task(acks_late=True)
def sweep_deliveries() -> dict:
    """Beat, every minute: settle held changes whose window has passed, and process
    deliveries left "received" for more than five minutes (their message was lost)."""
    now = timezone.now()
    window = dt.timedelta(seconds=settings.INTEGRATIONS_SETTLE_SECONDS)
    held = (
        Delivery.objects.filter(status=Delivery.Status.WAITING, received_at__lte=now - window)
        .values_list("integration_id", "external_key")
        .distinct()
    )
    settled = 0
    for integration_id, external_key in held:
        settle_item.delay(integration_id, external_key)
        settled += 1
    stale = Delivery.objects.filter(
        status=Delivery.Status.RECEIVED, received_at__lte=now - dt.timedelta(minutes=5)
    ).values_list("pk", flat=True)[:1000]
    requeued = 0
    for delivery_id in stale:
        process_delivery.delay(delivery_id)
        requeued += 1
    return {"settled": settled, "requeued": requeued}


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, retry_backoff_max=60,
             max_retries=5)  # fmt: skip
def dispatch_board(board_id: int) -> int:
    """Turn the board's new events into outbound deliveries, then send them."""
    created = outbound.dispatch(board_id)
    for delivery_id in created:
        send_delivery.delay(delivery_id)
    return len(created)


@shared_task(bind=True, acks_late=True, max_retries=None)
def send_delivery(self, delivery_id: int) -> str:
    """One attempt at an outbound delivery. A failure is retried with exponential backoff
    (``OUTBOUND_BACKOFF_SECONDS`` doubling) until ``OUTBOUND_MAX_ATTEMPTS``, then given up;
    every attempt is logged. In-process (no broker) the next attempt is left to the sweep."""
    status, retry_in = outbound.attempt(delivery_id)
    if retry_in is not None and not self.request.is_eager:
        raise self.retry(countdown=retry_in)
    return status


@shared_task(acks_late=True)
def send_due() -> int:
    """Beat, every minute: dispatch the events of subscriptions that are behind (a dispatch
    message lost, or a subscription this process did not know of yet), and send the outbound
    deliveries whose next attempt is due (a retry whose message was lost, or every retry when
    tasks run in-process). Returns how many deliveries it sent."""
    for board_id in outbound.lagging_boards():  # events no dispatch has turned into deliveries
        dispatch_board.delay(board_id)
    due = OutboundDelivery.objects.filter(
        status=OutboundDelivery.Status.PENDING, next_attempt_at__lte=timezone.now()
    ).values_list("pk", flat=True)[:1000]
    count = 0
    for delivery_id in due:
        send_delivery.delay(delivery_id)
        count += 1
    return count
