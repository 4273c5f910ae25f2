"""Ticket systems connected to a board: inbound webhooks (GitHub, Jira) stored before they are
processed, and outbound webhooks to subscribed URLs, with every attempt kept."""

import uuid

from django.db import models
from django.utils import timezone


class Integration(models.Model):
    """A GitHub repository or Jira project sending its events to one board.

    ``mapping`` maps the system's statuses (in any case) to the board's column names: Jira
    statuses ("In Progress"), GitHub issue states and project Status options ("opened",
    "closed", "In review"). A status it does not map is kept on its delivery as an error, to fix
    and replay.
    """

    class Kind(models.TextChoices):
        GITHUB = "github", "GitHub"
        JIRA = "jira", "Jira"

    board = models.ForeignKey("boards.Board", on_delete=models.CASCADE, related_name="integrations")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    name = models.CharField(max_length=80)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    secret = models.CharField(
        max_length=200, help_text="The webhook secret, as configured in GitHub or Jira."
    )
    mapping = models.JSONField(default=dict, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["board", "name"]
        constraints = [
            models.UniqueConstraint(fields=["board", "name"], name="integration_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"


class Delivery(models.Model):
    """One inbound webhook delivery, stored raw before anything else is done with it."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received, not processed yet"
        WAITING = "waiting", "Waiting for the settle window"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored (nothing to do)"
        SUPERSEDED = "superseded", "Superseded (older than the item's last move)"
        FAILED = "failed", "Failed (see the error; fix and replay)"

    integration = models.ForeignKey(
        Integration, on_delete=models.PROTECT, related_name="deliveries"
    )
    delivery_id = models.CharField(max_length=200)
    event = models.CharField(max_length=80)
    headers = models.JSONField()
    body = models.TextField()
    received_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)
    # For events that move an item: whose (external key), when, and their order at that time.
    external_key = models.CharField(max_length=200, blank=True)
    event_at = models.DateTimeField(null=True, blank=True)
    order = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "delivery_id"], name="delivery_unique_per_integration"
            )
        ]
        indexes = [
            models.Index(
                fields=["integration", "external_key", "status"], name="delivery_item_status"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.delivery_id}"


class Subscription(models.Model):
    """A URL that receives the board's events, signed with its secret."""

    board = models.ForeignKey(
        "boards.Board", on_delete=models.CASCADE, related_name="subscriptions"
    )
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=200, help_text="Signs each body: X-Flowboard-Signature.")
    # Kinds of boards.models.Event; empty means every kind.
    events = models.JSONField(default=list, blank=True, help_text="Event types; empty: all.")
    active = models.BooleanField(default=True)
    # The last board event this subscription has turned into deliveries.
    last_event_id = models.BigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["board", "url"]

    def __str__(self) -> str:
        return self.url

    def wants(self, kind: str) -> bool:
        return not self.events or kind in self.events


class OutboundDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Gave up"

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey("boards.Event", on_delete=models.PROTECT, related_name="+")
    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=24)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "outbound deliveries"
        constraints = [
            models.UniqueConstraint(fields=["subscription", "event"], name="outbound_one_per_event")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbound_due")]

    def __str__(self) -> str:
        return f"{self.kind} to {self.subscription_id} ({self.status})"


class OutboundAttempt(models.Model):
    delivery = models.ForeignKey(
        OutboundDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    at = models.DateTimeField(default=timezone.now)
    number = models.PositiveIntegerField(default=1)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["delivery", "at", "id"]

    def __str__(self) -> str:
        return f"attempt on {self.delivery_id}: {self.status_code or self.error[:40]}"
