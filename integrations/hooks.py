"""The inbound webhook endpoints: ``POST /api/v1/hooks/github/<id>/`` and ``.../jira/<id>/``.

Each request is checked, then stored raw before anything else, then acknowledged: processing
happens in a Celery task (``integrations.tasks.process_delivery``), so the sender gets its 2xx in
milliseconds and a failure can be seen and replayed by an ops lead.

1. The integration: unknown or inactive is a 404.
2. The signature: GitHub's ``X-Hub-Signature-256``, Jira's ``X-Hub-Signature`` (``sha256=`` and
   the HMAC of the raw body with the integration's secret), compared in constant time; missing or
   wrong is a 401, and nothing is stored (anyone can send requests).
3. Stored: the headers, the body and the delivery id (``X-GitHub-Delivery``, or
   ``X-Atlassian-Webhook-Identifier``, or the SHA-256 of the body). A delivery id seen before
   is acknowledged and not processed again; a unique constraint decides it, so ten parallel
   copies give one delivery.
"""

import hashlib
import json

from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from flowboard.api import problem
from integrations import tasks
from integrations.models import Delivery, Integration
from integrations.signatures import verify

SIGNATURE = {
    Integration.Kind.GITHUB: "X-Hub-Signature-256",
    Integration.Kind.JIRA: "X-Hub-Signature",
}
DELIVERY_ID = {
    Integration.Kind.GITHUB: "X-GitHub-Delivery",
    Integration.Kind.JIRA: "X-Atlassian-Webhook-Identifier",
}
KEPT_HEADERS = {
    "content-type", "user-agent", "x-github-event", "x-github-delivery", "x-github-hook-id",
    "x-hub-signature", "x-hub-signature-256", "x-atlassian-webhook-identifier",
    "x-atlassian-webhook-retry", "x-atlassian-webhook-flow",
}  # fmt: skip


@csrf_exempt
def receive(request, kind: str, public_id):
    if request.method != "POST":
        response = problem("method_not_allowed", "Webhooks are delivered by POST.", 405)
        response["Allow"] = "POST"
        return response
    integration = Integration.objects.filter(public_id=public_id, kind=kind, active=True).first()
    if integration is None:
        return problem("not_found", "No active integration at this address.", 404)
    body = request.body
    header = SIGNATURE[kind]
    if not request.headers.get(header):
        return problem(
            "signature_missing",
            f"The request has no {header} header: sign it with the secret.",
            401,
        )
    if not verify(integration.secret, body, request.headers.get(header)):
        return problem(
            "signature_invalid", f"The {header} signature does not match the body and secret.", 401
        )
    delivery_id = request.headers.get(DELIVERY_ID[kind], "").strip()[:200]
    if not delivery_id:
        delivery_id = "sha256:" + hashlib.sha256(body).hexdigest()
    event = _event(kind, request, body)
    headers = {k: v for k, v in request.headers.items() if k.lower() in KEPT_HEADERS}
    try:
        with transaction.atomic():
            delivery = Delivery.objects.create(
                integration=integration,
                delivery_id=delivery_id,
                event=event,
                headers=headers,
                body=body.decode("utf-8", "replace"),
            )
    except IntegrityError:
        return JsonResponse({"status": "duplicate", "delivery": delivery_id}, status=200)
    transaction.on_commit(lambda: tasks.process_delivery.delay(delivery.pk), robust=True)
    if event == "ping":
        return JsonResponse({"status": "pong", "delivery": delivery_id}, status=200)
    return JsonResponse({"status": "accepted", "delivery": delivery_id}, status=202)


def _event(kind: str, request, body: bytes) -> str:
    """The event's name: GitHub's header, or Jira's ``webhookEvent`` (best effort: a body that
    is not JSON is stored all the same, and its processing says why it failed)."""
    if kind == Integration.Kind.GITHUB:
        name = request.headers.get("X-GitHub-Event", "")
    else:
        try:
            data = json.loads(body)
            name = data.get("webhookEvent", "") if isinstance(data, dict) else ""
        except (ValueError, RecursionError):
            name = ""
    return (str(name) or "unknown")[:80]
