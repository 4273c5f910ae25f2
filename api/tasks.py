"""Celery tasks of the API: pruning the idempotency receipts of moves (``MoveReceipt``)."""

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from api.models import MoveReceipt


@shared_task(acks_late=True)
def prune_move_receipts() -> int:
    """Delete the receipts older than ``API_IDEMPOTENCY_DAYS``; the number deleted."""
    cutoff = timezone.now() - dt.timedelta(days=settings.API_IDEMPOTENCY_DAYS)
    deleted, _ = MoveReceipt.objects.filter(created_at__lt=cutoff).delete()
    return deleted
