"""Outbound webhooks: the board's events (``boards.models.Event``) sent to subscribed URLs.

1. **Dispatch.** After a change commits, ``boards.events`` tells ``schedule_dispatch`` which
   board has new events; a task reads each active subscription's events past its watermark
   (``Subscription.last_event_id``, under the subscription's row lock, so two dispatches never
   make the same delivery twice; a unique constraint backs it) and makes one
   ``OutboundDelivery`` per event it wants.
2. **Send.** One attempt is one POST of the JSON body, signed with the subscription's secret:
   ``X-Flowboard-Signature: sha256=<hex HMAC of the body>``, with ``X-Flowboard-Event``,
   ``X-Flowboard-Delivery`` (the same on every attempt: receivers deduplicate on it) and
   ``X-Flowboard-Attempt``. A 2xx is delivered. Anything else (another status, a timeout, a
   refused connection) is logged as an ``OutboundAttempt`` and tried again after an
   exponential backoff, until ``OUTBOUND_MAX_ATTEMPTS``; then it is given up ("failed"), to
   send again from the admin.
3. **Claims.** An attempt claims its delivery under a row lock (pending, due) and pushes its
   next attempt time past the request's timeout, so a retry message and the sweep that covers
   lost messages never send the same attempt twice. The HTTP request is made outside any
   database transaction.
"""

import datetime as dt
import json
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Max, OuterRef, Subquery
from django.utils import timezone

from boards.models import Board, Event
from flowboard.errors import InvalidInput
from integrations.models import OutboundAttempt, OutboundDelivery, Subscription
from integrations.signatures import sign

BATCH = 500
USER_AGENT = "Flowboard-Webhooks/1"
Pending = OutboundDelivery.Status.PENDING


# Whether a board has active subscriptions, as this process last read it: a move asks after
# every commit, and the answer rarely changes. A subscription made elsewhere is seen within
# SUBSCRIBERS_TTL; the events meanwhile wait in the outbox, and the minute's sweep
# (``tasks.send_due``) dispatches every subscription that is behind.
SUBSCRIBERS_TTL = 10.0
_subscribers: dict[int, tuple[float, bool]] = {}


def has_subscribers(board_id: int) -> bool:
    now = time.monotonic()
    known = _subscribers.get(board_id)
    if known is None or known[0] < now:
        found = Subscription.objects.filter(board_id=board_id, active=True).exists()
        _subscribers[board_id] = known = (now + SUBSCRIBERS_TTL, found)
    return known[1]


def forget_subscribers(board_id: int) -> None:
    _subscribers.pop(board_id, None)


def schedule_dispatch(board_id: int) -> None:
    """``boards.events`` listener, after the commit: dispatch if anyone is subscribed."""
    if has_subscribers(board_id):
        from integrations.tasks import dispatch_board  # tasks import this module

        dispatch_board.delay(board_id)


def lagging_boards() -> list[int]:
    """Boards with an active subscription that has not seen the board's latest event."""
    latest = Event.objects.filter(board_id=OuterRef("board_id")).order_by("-id").values("id")[:1]
    return list(
        Subscription.objects.filter(active=True)
        .annotate(latest=Subquery(latest))
        .filter(latest__gt=F("last_event_id"))
        .values_list("board_id", flat=True)
        .distinct()
    )


@transaction.atomic
def subscription_create(board: Board, *, url: str, secret: str, events=()) -> Subscription:
    """A subscription that receives the events from now on (not the board's whole past)."""
    subscription = Subscription(board=board, url=url, secret=secret, events=list(events))
    subscription_check(subscription)
    subscription.last_event_id = (
        Event.objects.filter(board=board).aggregate(last=Max("id"))["last"] or 0
    )
    subscription.save()
    forget_subscribers(board.pk)
    return subscription


def subscription_check(subscription: Subscription) -> None:
    """A URL with a scheme and host, a secret, and known event types."""
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator

    try:
        URLValidator(schemes=["http", "https"])(subscription.url)
    except ValidationError:
        raise InvalidInput(f"{subscription.url!r} is not an http(s) URL.") from None
    if len(subscription.secret or "") < 16:
        raise InvalidInput("The secret must be at least 16 characters: receivers check it.")
    if not isinstance(subscription.events, list):
        raise InvalidInput("Events must be a list of event types; empty means all.")
    known = set(Event.Kind.values)
    unknown = [kind for kind in subscription.events if kind not in known]
    if unknown:
        raise InvalidInput(
            f"Unknown event types {unknown}; choose from {', '.join(sorted(known))}."
        )


def dispatch(board_id: int) -> list[int]:
    """Make the deliveries of the board's new events; returns the ids to send now (new ones,
    and earlier ones of the board whose next attempt is due)."""
    created: list[int] = []
    subscriptions = Subscription.objects.filter(board_id=board_id, active=True)
    for subscription_id in subscriptions.values_list("pk", flat=True):
        created += _dispatch_one(subscription_id)
    due = OutboundDelivery.objects.filter(
        subscription__board_id=board_id, status=Pending, next_attempt_at__lte=timezone.now()
    ).exclude(pk__in=created)
    return created + list(due.values_list("pk", flat=True)[:BATCH])


def _dispatch_one(subscription_id: int) -> list[int]:
    created: list[int] = []
    while True:
        with transaction.atomic():
            subscription = Subscription.objects.select_for_update(no_key=True).get(
                pk=subscription_id
            )
            events = list(
                Event.objects.filter(
                    board_id=subscription.board_id, id__gt=subscription.last_event_id
                )
                .order_by("id")
                .values_list("id", "kind")[:BATCH]
            )
            if not events:
                return created
            rows = [
                OutboundDelivery(
                    subscription=subscription,
                    event_id=event_id,
                    kind=kind,
                    next_attempt_at=timezone.now(),
                )  # fmt: skip
                for event_id, kind in events
                if subscription.wants(kind)
            ]
            OutboundDelivery.objects.bulk_create(rows, ignore_conflicts=True)
            subscription.last_event_id = events[-1][0]
            subscription.save(update_fields=["last_event_id"])
            created += OutboundDelivery.objects.filter(
                subscription=subscription, event_id__in=[e for e, _ in events]
            ).values_list("pk", flat=True)
        if len(events) < BATCH:
            return created


def body_of(delivery: OutboundDelivery) -> bytes:
    event = delivery.event
    board = delivery.subscription.board
    payload = {
        "id": str(delivery.delivery_id),
        "type": event.kind,
        "event_id": event.pk,
        "occurred_at": event.at,
        "board": {"slug": board.slug, "name": board.name},
        "data": event.data,
    }
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def backoff(attempts: int) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: doubling, capped."""
    base = settings.OUTBOUND_BACKOFF_SECONDS
    return min(base * 2 ** (attempts - 1), settings.OUTBOUND_BACKOFF_MAX_SECONDS)


def attempt(delivery_id: int) -> tuple[str, float | None]:
    """One attempt at a delivery: (its status after it, seconds until the next attempt or
    None). A delivery that is not pending, or whose attempt is not due (another worker holds
    it), is left alone."""
    now = timezone.now()
    lease = dt.timedelta(seconds=settings.OUTBOUND_TIMEOUT_SECONDS + 30)
    with transaction.atomic():
        delivery = (
            OutboundDelivery.objects.select_for_update(of=("self",))
            .select_related("subscription__board", "event")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status != Pending:
            return (delivery.status if delivery else "missing"), None
        if delivery.next_attempt_at and delivery.next_attempt_at > now + dt.timedelta(seconds=1):
            return "not_due", None
        if not delivery.subscription.active:
            delivery.status = OutboundDelivery.Status.FAILED
            delivery.last_error = "The subscription was deactivated."
            delivery.save(update_fields=["status", "last_error"])
            return delivery.status, None
        delivery.attempts += 1
        delivery.next_attempt_at = now + lease
        delivery.save(update_fields=["attempts", "next_attempt_at"])

    status_code, error, duration = post(delivery)
    ok = status_code is not None and 200 <= status_code < 300
    finished = timezone.now()
    OutboundAttempt.objects.create(
        delivery=delivery,
        at=now,
        number=delivery.attempts,
        status_code=status_code,
        error=error,
        duration_ms=duration,
    )
    retry_in = None
    if ok:
        delivery.status, delivery.delivered_at, delivery.last_error = (
            OutboundDelivery.Status.DELIVERED, finished, "",
        )  # fmt: skip
        delivery.next_attempt_at = None
    elif delivery.attempts >= settings.OUTBOUND_MAX_ATTEMPTS:
        delivery.status, delivery.next_attempt_at = OutboundDelivery.Status.FAILED, None
        delivery.last_error = f"Gave up after {delivery.attempts} attempts: {error}"
    else:
        retry_in = backoff(delivery.attempts)
        delivery.next_attempt_at = finished + dt.timedelta(seconds=retry_in)
        delivery.last_error = error
    OutboundDelivery.objects.filter(pk=delivery.pk).update(
        status=delivery.status,
        delivered_at=delivery.delivered_at,
        next_attempt_at=delivery.next_attempt_at,
        last_error=delivery.last_error[:2000],
    )
    return delivery.status, retry_in


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is a failed attempt, not followed: urllib would turn the POST into a GET
    (so a 200 from the new address would count as delivered with no payload sent), and it
    could lead the request to an address nobody subscribed."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


OPENER = urllib.request.build_opener(_NoRedirects)


def post(delivery: OutboundDelivery) -> tuple[int | None, str, int]:
    """POST the delivery's body: (HTTP status or None, error text, duration in ms)."""
    body = body_of(delivery)
    subscription = delivery.subscription
    request = urllib.request.Request(
        subscription.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Flowboard-Event": delivery.kind,
            "X-Flowboard-Delivery": str(delivery.delivery_id),
            "X-Flowboard-Attempt": str(delivery.attempts),
            "X-Flowboard-Signature": sign(subscription.secret, body),
        },
    )
    started = time.monotonic()
    try:
        with OPENER.open(request, timeout=settings.OUTBOUND_TIMEOUT_SECONDS) as answer:
            answer.read(65536)
            code, error = answer.status, ""
    except urllib.error.HTTPError as answer:
        code, error = answer.code, f"HTTP {answer.code} {answer.reason}"
        if 300 <= answer.code < 400:
            location = (answer.headers.get("Location") or "")[:500]
            error += f" to {location}: redirects are not followed; subscribe the final URL"
    except (urllib.error.URLError, OSError, ValueError) as failure:
        reason = getattr(failure, "reason", failure)
        code, error = None, f"{type(failure).__name__}: {reason}"
    duration = int((time.monotonic() - started) * 1000)
    if code is not None and not 200 <= code < 300 and not error:
        error = f"HTTP {code}"
    return code, error[:2000], duration


@transaction.atomic
def resend(delivery: OutboundDelivery) -> OutboundDelivery:
    """Send a given-up (or pending) delivery again from the admin: a fresh round of attempts,
    with the same delivery id."""
    locked = OutboundDelivery.objects.select_for_update().get(pk=delivery.pk)
    if locked.status == OutboundDelivery.Status.DELIVERED:
        raise InvalidInput("This delivery was delivered; nothing to send again.")
    OutboundDelivery.objects.filter(pk=locked.pk).update(
        status=Pending, attempts=0, next_attempt_at=timezone.now(), last_error=""
    )
    from integrations.tasks import send_delivery  # tasks import this module

    transaction.on_commit(lambda: send_delivery.delay(locked.pk), robust=True)
    locked.refresh_from_db()
    return locked
