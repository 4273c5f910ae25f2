"""Boards, their columns, the work items on them, and the append-only history of every move.

Writes go through ``boards.services``; nothing here enforces a business rule in ``save()``.
The one exception is ``Transition``, whose rows can be inserted and never changed: that is a
property of the data, not a rule of the process.
"""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not a known IANA time zone.") from None


def default_time_zone() -> str:
    return settings.TIME_ZONE


class Board(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    key_prefix = models.CharField(
        max_length=10, help_text="Prefix of item keys made on this board, e.g. PAY for PAY-42."
    )
    next_number = models.PositiveIntegerField(default=1, editable=False)
    time_zone = models.CharField(
        max_length=64, default=default_time_zone, validators=[validate_time_zone]
    )
    commitment_column = models.ForeignKey(
        "Column",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Where the cycle starts: entering it commits the team to the item.",
    )
    delivery_column = models.ForeignKey(
        "Column",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Where the cycle ends. Columns at or after it count as delivered.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def clean(self) -> None:
        errors = {}
        for field in ("commitment_column", "delivery_column"):
            column = getattr(self, field)
            if column is not None and self.pk and column.board_id != self.pk:
                errors[field] = "The column must belong to this board."
        commitment, delivery = self.commitment_column, self.delivery_column
        if commitment and delivery and commitment.position >= delivery.position:
            errors["delivery_column"] = "The delivery column must come after the commitment column."
        if errors:
            raise ValidationError(errors)


class Column(models.Model):
    class Stage(models.TextChoices):
        UPSTREAM = "upstream", "Upstream"
        DEVELOPMENT = "development", "Development"
        READINESS = "readiness", "Business readiness"
        DONE = "done", "Done"

    class Activity(models.TextChoices):
        ACTIVE = "active", "Active (work happens here)"
        WAITING = "waiting", "Waiting (a queue)"

    class WipPolicy(models.TextChoices):
        HARD = "hard", "Hard: refuse a move over the limit"
        SOFT = "soft", "Soft: allow it, flag the column"

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="columns")
    name = models.CharField(max_length=80)
    position = models.PositiveSmallIntegerField()
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.DEVELOPMENT)
    activity = models.CharField(max_length=8, choices=Activity.choices, default=Activity.ACTIVE)
    wip_limit = models.PositiveIntegerField(null=True, blank=True)
    wip_policy = models.CharField(max_length=4, choices=WipPolicy.choices, default=WipPolicy.SOFT)

    class Meta:
        ordering = ["board", "position"]
        constraints = [
            models.UniqueConstraint(fields=["board", "position"], name="column_unique_position"),
            models.UniqueConstraint(fields=["board", "name"], name="column_unique_name"),
            models.CheckConstraint(
                condition=Q(wip_limit__isnull=True) | Q(wip_limit__gt=0),
                name="column_wip_limit_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class WorkItem(models.Model):
    class Kind(models.TextChoices):
        FEATURE = "feature", "Feature"
        DEFECT = "defect", "Defect"
        RISK = "risk", "Risk"
        DEBT = "debt", "Debt"
        ESCALATION = "escalation", "Escalation"

    class ClassOfService(models.TextChoices):
        STANDARD = "standard", "Standard"
        EXPEDITE = "expedite", "Expedite"
        FIXED_DATE = "fixed_date", "Fixed date"
        INTANGIBLE = "intangible", "Intangible"

    # Indexed by the unique (board, key) constraint.
    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="items", db_index=False)
    key = models.CharField(max_length=40)
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.FEATURE)
    class_of_service = models.CharField(
        max_length=12, choices=ClassOfService.choices, default=ClassOfService.STANDARD
    )
    due_date = models.DateField(null=True, blank=True)
    # Indexed by (column, rank).
    column = models.ForeignKey(
        Column, on_delete=models.PROTECT, related_name="items", db_index=False
    )
    # Fractional rank inside the column (boards.ranking): a move writes one row, never renumbers.
    rank = models.CharField(max_length=64)

    external_source = models.CharField(max_length=20, blank=True)
    external_key = models.CharField(max_length=120, blank=True)
    external_url = models.URLField(max_length=500, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    # Caches of what the Transition log says (docs/metrics.md "Column entry dates").
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    delivered_at = models.DateTimeField(null=True, blank=True, editable=False)
    discarded_at = models.DateTimeField(null=True, blank=True, editable=False)
    discard_reason = models.CharField(max_length=300, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    # Bumped by every service that changes the item; clients send it back to detect stale writes.
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        ordering = ["board", "column__position", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["board", "key"], name="workitem_unique_key"),
            models.UniqueConstraint(
                fields=["board", "external_source", "external_key"],
                condition=~Q(external_key=""),
                name="workitem_unique_external_key",
            ),
        ]
        indexes = [
            models.Index(fields=["column", "rank"], name="workitem_column_rank"),
            models.Index(fields=["board", "delivered_at"], name="workitem_board_delivered"),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.title}"


class AppendOnlyQuerySet(models.QuerySet):
    """History is append-only: bulk updates and deletes are refused."""

    def update(self, **kwargs):
        raise TypeError(f"{self.model.__name__} rows are append-only; they cannot be updated.")

    def delete(self):
        raise TypeError(f"{self.model.__name__} rows are append-only; they cannot be deleted.")

    _raw_delete = delete


class AppendOnly(models.Model):
    """A history row: inserted once, never changed or deleted, through any manager (the base
    manager too). The database refuses it below the ORM as well (``boards.history``)."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True
        base_manager_name = "objects"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError(f"{type(self).__name__} rows are append-only; they cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__} rows are append-only; they cannot be deleted.")


class Transition(AppendOnly):
    """One move of one item: the only source of truth for flow metrics.

    ``from_column`` is empty for the creation of an item, which counts as a move into its first
    column. Ties in ``at`` are ordered by ``id``, the order the rows were written.
    """

    class Source(models.TextChoices):
        WEB = "web", "Web board"
        API = "api", "REST API"
        ADMIN = "admin", "Admin"
        WEBHOOK = "webhook", "Webhook"
        IMPORT = "import", "Import"

    # The log takes a million rows on a large board, and each index costs every insert: board
    # and item are indexed by (board, at) and (item, at); from_column and actor are looked up
    # only when a column or a user is deleted, which is rare and may scan.
    board = models.ForeignKey(Board, on_delete=models.PROTECT, related_name="+", db_index=False)
    item = models.ForeignKey(
        WorkItem, on_delete=models.PROTECT, related_name="transitions", db_index=False
    )
    from_column = models.ForeignKey(
        Column, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    to_column = models.ForeignKey(Column, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    source = models.CharField(max_length=8, choices=Source.choices)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    # What the keyed request asked for (``boards.services.move_fingerprint``): the same key
    # with another request is refused instead of replayed.
    request_fingerprint = models.CharField(max_length=64, blank=True, default="")

    class Meta(AppendOnly.Meta):
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["board", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="transition_unique_idempotency_key",
            ),
        ]
        indexes = [
            models.Index(fields=["board", "at"], name="transition_board_at"),
            models.Index(fields=["item", "at"], name="transition_item_at"),
        ]

    def __str__(self) -> str:
        origin = self.from_column_id or "created"
        return f"{self.item_id}: {origin} -> {self.to_column_id} at {self.at:%Y-%m-%d %H:%M}"


class Block(models.Model):
    """A period during which an item could not progress. Unblocking sets ``ended_at``; the reason
    stays, so blocker history can be clustered later."""

    class Reason(models.TextChoices):
        DEPENDENCY = "dependency", "Dependency"
        ENVIRONMENT = "environment", "Environment"
        DECISION = "decision", "Waiting for a decision"
        EXTERNAL = "external", "External party"
        CAPACITY = "capacity", "Capacity"
        OTHER = "other", "Other"

    item = models.ForeignKey(WorkItem, on_delete=models.CASCADE, related_name="blocks")
    reason = models.CharField(max_length=12, choices=Reason.choices)
    note = models.TextField(blank=True)
    # The readiness criterion this block holds up, when it belongs to a readiness track.
    criterion = models.ForeignKey(
        "readiness.AcceptanceCriterion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="blocks",
    )
    started_at = models.DateTimeField()
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["item", "started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["item"], condition=Q(ended_at__isnull=True), name="block_one_open_per_item"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="block_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} blocked ({self.get_reason_display()})"


class BoardMembership(models.Model):
    class Role(models.TextChoices):
        VIEWER = "viewer", "Viewer"
        MEMBER = "member", "Member"
        OPS_LEAD = "ops_lead", "Ops lead"

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="board_memberships"
    )
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["board", "user"], name="membership_unique_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.get_role_display()} on {self.board}"


class Event(AppendOnly):
    """Something that happened on a board that the outside world may subscribe to (outbound
    webhooks): written by the services in the same transaction as the change, so an event is
    never lost nor sent for a change that rolled back (a transactional outbox). The history
    itself stays in the Transition log, criterion changes and gate refusals."""

    class Kind(models.TextChoices):
        ITEM_MOVED = "item.moved", "Item moved"
        ITEM_DELIVERED = "item.delivered", "Item delivered"
        GATE_REFUSED = "gate.refused", "Gate refused a move"
        WIP_EXCEEDED = "wip.exceeded", "WIP limit exceeded"
        CRITERION_MET = "criterion.met", "Criterion met"
        CRITERION_WAIVED = "criterion.waived", "Criterion waived"

    board = models.ForeignKey(Board, on_delete=models.PROTECT, related_name="+", db_index=False)
    item = models.ForeignKey(
        WorkItem, null=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    data = models.JSONField()
    at = models.DateTimeField()

    class Meta(AppendOnly.Meta):
        ordering = ["id"]
        indexes = [models.Index(fields=["board", "id"], name="event_board_id")]

    def __str__(self) -> str:
        return f"{self.kind} on board {self.board_id}"
