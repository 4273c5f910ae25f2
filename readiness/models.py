"""Acceptance criteria, functional and business-readiness, and the gates they guard.

A criterion template belongs to a board and guards a gate column; each new work item of a kind
it applies to gets its own copy (``AcceptanceCriterion``). A gate opens when every required
criterion in front of it is met or waived. Every change of a criterion's status is kept in
``CriterionChange``, and every move refused by a gate in ``GateRefusal``.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from boards.models import AppendOnly


class Track(models.TextChoices):
    """The team that owns a criterion. Readiness tracks run in parallel."""

    DEVELOPMENT = "development", "Development"
    SUPPORT = "support", "Support"
    DOCS = "docs", "Documentation"
    GTM = "gtm", "Go-to-market"
    LEGAL = "legal", "Legal & compliance"
    OPERATIONS = "operations", "Operations"
    SECURITY = "security", "Security"
    SALES = "sales", "Sales enablement"


class Category(models.TextChoices):
    FUNCTIONAL = "functional", "Functional"
    READINESS = "readiness", "Business readiness"


def all_kinds() -> list[str]:
    return []


class CriterionTemplate(models.Model):
    board = models.ForeignKey(
        "boards.Board", on_delete=models.CASCADE, related_name="criterion_templates"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=10, choices=Category.choices, default=Category.READINESS)
    track = models.CharField(max_length=12, choices=Track.choices)
    gate_column = models.ForeignKey(
        "boards.Column",
        on_delete=models.PROTECT,
        related_name="guarding_templates",
        help_text="An item cannot enter or pass this column while the criterion is pending.",
    )
    required = models.BooleanField(default=True)
    applies_to_kinds = models.JSONField(
        default=all_kinds,
        blank=True,
        help_text="Work item kinds that get this criterion; empty means every kind.",
    )
    active = models.BooleanField(default=True, help_text="Inactive templates are not copied.")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["board", "gate_column__position", "position", "id"]

    def __str__(self) -> str:
        return f"{self.get_track_display()}: {self.title}"

    def applies_to(self, kind: str) -> bool:
        return not self.applies_to_kinds or kind in self.applies_to_kinds


class AcceptanceCriterion(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        MET = "met", "Met"
        WAIVED = "waived", "Waived"

    item = models.ForeignKey("boards.WorkItem", on_delete=models.CASCADE, related_name="criteria")
    template = models.ForeignKey(
        CriterionTemplate,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="criteria",
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=10, choices=Category.choices, default=Category.READINESS)
    track = models.CharField(max_length=12, choices=Track.choices)
    gate_column = models.ForeignKey(
        "boards.Column", on_delete=models.PROTECT, related_name="guarding_criteria"
    )
    required = models.BooleanField(default=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    # The latest resolution; the full history is in CriterionChange.
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    evidence_url = models.URLField(max_length=500, blank=True)
    waiver_reason = models.TextField(blank=True)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["item", "gate_column__position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["item", "template"],
                condition=Q(template__isnull=False),
                name="criterion_one_per_template",
            ),
            models.CheckConstraint(
                condition=~Q(status="waived") | ~Q(waiver_reason=""),
                name="criterion_waiver_has_reason",
            ),
        ]
        indexes = [models.Index(fields=["item", "status"], name="criterion_item_status")]

    def __str__(self) -> str:
        return f"{self.title} ({self.get_status_display()})"


class CriterionChange(AppendOnly):
    """One change of a criterion's status: who, when, with what evidence or reason. History:
    never changed or deleted, and it keeps its criterion from being deleted."""

    criterion = models.ForeignKey(
        AcceptanceCriterion, on_delete=models.PROTECT, related_name="changes"
    )
    from_status = models.CharField(max_length=8, choices=AcceptanceCriterion.Status.choices)
    to_status = models.CharField(max_length=8, choices=AcceptanceCriterion.Status.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    evidence_url = models.URLField(max_length=500, blank=True)
    reason = models.TextField(blank=True)

    class Meta(AppendOnly.Meta):
        ordering = ["criterion", "at", "id"]

    def __str__(self) -> str:
        return f"{self.criterion_id}: {self.from_status} -> {self.to_status}"


class GateRefusal(AppendOnly):
    """A move refused by a gate, with the criteria that were unmet: the input of gate wait.
    History: never changed or deleted."""

    item = models.ForeignKey(
        "boards.WorkItem", on_delete=models.PROTECT, related_name="gate_refusals"
    )
    gate_column = models.ForeignKey("boards.Column", on_delete=models.PROTECT, related_name="+")
    to_column = models.ForeignKey("boards.Column", on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=8)
    # [{"id", "title", "track", "gate_column_id"}] as they were at the refusal.
    unmet = models.JSONField()

    class Meta(AppendOnly.Meta):
        ordering = ["item", "at", "id"]
        indexes = [models.Index(fields=["item", "gate_column"], name="refusal_item_gate")]

    def __str__(self) -> str:
        return f"{self.item_id} refused at {self.gate_column_id} ({len(self.unmet)} unmet)"
