"""Writes to acceptance criteria: copying templates, adding, meeting, waiving and reopening.

Every status change writes a ``CriterionChange`` row in the same transaction, so who met a
criterion, when and with what evidence is never lost when it is later reopened.
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from flowboard.errors import InvalidInput, InvalidTransition, ItemDiscarded
from metrics.services import mark_item_dirty
from readiness.models import (
    AcceptanceCriterion,
    Category,
    CriterionChange,
    CriterionTemplate,
    Track,
)

Status = AcceptanceCriterion.Status


def criteria_instantiate(item, *, at: dt.datetime) -> list[AcceptanceCriterion]:
    """Copy the board's active templates that apply to the item's kind. Called on creation."""
    templates = active_templates(item.board_id)
    return AcceptanceCriterion.objects.bulk_create(
        criteria_from_templates(templates, item_id=item.pk, kind=item.kind, at=at)
    )


def active_templates(board_id: int) -> list[CriterionTemplate]:
    return list(CriterionTemplate.objects.filter(board_id=board_id, active=True))


def criteria_from_templates(
    templates: list[CriterionTemplate], *, item_id: int, kind: str, at: dt.datetime
) -> list[AcceptanceCriterion]:
    """The unsaved criteria an item of ``kind`` gets from ``templates`` (those applying to its
    kind), added at ``at``: for callers that create many items and save their criteria in one
    statement."""
    return [
        AcceptanceCriterion(
            item_id=item_id,
            template=t,
            title=t.title,
            description=t.description,
            category=t.category,
            track=t.track,
            gate_column_id=t.gate_column_id,
            required=t.required,
            added_at=at,
        )
        for t in templates
        if t.applies_to(kind)
    ]


def criterion_add(
    item,
    *,
    title: str,
    track: str,
    gate_column,
    actor,
    category: str = Category.READINESS,
    required: bool = True,
    description: str = "",
    at: dt.datetime | None = None,
) -> AcceptanceCriterion:
    """Add a criterion of the item's own, beyond its board's templates."""
    if not title or not title.strip():
        raise InvalidInput("A criterion needs a title.")
    if track not in Track.values:
        raise InvalidInput(f"Unknown track {track!r}.", allowed=Track.values)
    if category not in Category.values:
        raise InvalidInput(f"Unknown category {category!r}.", allowed=Category.values)
    if gate_column.board_id != item.board_id:
        raise InvalidInput("The gate column belongs to another board.")
    if item.discarded_at is not None:
        raise ItemDiscarded(f"{item.key} was discarded.", key=item.key)
    with transaction.atomic():
        criterion = AcceptanceCriterion.objects.create(
            item=item,
            title=title.strip(),
            description=description,
            category=category,
            track=track,
            gate_column=gate_column,
            required=required,
            added_at=at or timezone.now(),
        )
        mark_item_dirty(item)
    return criterion


def criterion_meet(
    criterion: AcceptanceCriterion, *, actor, evidence_url: str, at: dt.datetime | None = None
) -> AcceptanceCriterion:
    """Mark a pending criterion met, recording who, when, and a link to the evidence."""
    evidence_url = (evidence_url or "").strip()
    if not evidence_url:
        raise InvalidInput("Meeting a criterion needs an evidence link.")
    try:
        URLValidator(schemes=["http", "https"])(evidence_url)
    except ValidationError:
        raise InvalidInput(f"{evidence_url!r} is not an http(s) link.") from None
    return _change(criterion, Status.MET, actor, at, evidence_url=evidence_url)


def criterion_waive(
    criterion: AcceptanceCriterion, *, actor, reason: str, at: dt.datetime | None = None
) -> AcceptanceCriterion:
    """Waive a pending criterion. A waiver always has a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Waiving a criterion needs a reason.")
    return _change(criterion, Status.WAIVED, actor, at, reason=reason)


def criterion_reopen(
    criterion: AcceptanceCriterion, *, actor, reason: str = "", at: dt.datetime | None = None
) -> AcceptanceCriterion:
    """Set a met or waived criterion back to pending; its earlier resolution stays in history."""
    return _change(criterion, Status.PENDING, actor, at, reason=(reason or "").strip())


def _change(criterion, to_status, actor, at, *, evidence_url: str = "", reason: str = ""):
    at = at or timezone.now()
    if timezone.is_naive(at):
        raise InvalidInput("Times must carry a time zone.")
    with transaction.atomic():
        locked = (
            AcceptanceCriterion.objects.select_for_update(of=("self",))
            .select_related("item")
            .get(pk=criterion.pk)
        )
        if locked.item.discarded_at is not None:
            raise ItemDiscarded(f"{locked.item.key} was discarded.", key=locked.item.key)
        if to_status == Status.PENDING and locked.status == Status.PENDING:
            raise InvalidTransition(f"{locked.title!r} is already pending.")
        if to_status != Status.PENDING and locked.status != Status.PENDING:
            status = locked.get_status_display().lower()
            raise InvalidTransition(f"{locked.title!r} is already {status}; reopen it first.")
        CriterionChange.objects.create(
            criterion=locked,
            from_status=locked.status,
            to_status=to_status,
            at=at,
            actor=actor,
            evidence_url=evidence_url,
            reason=reason,
        )
        locked.status = to_status
        resolved = to_status != Status.PENDING
        locked.resolved_at = at if resolved else None
        locked.resolved_by = actor if resolved else None
        locked.evidence_url = evidence_url
        locked.waiver_reason = reason if to_status == Status.WAIVED else ""
        locked.save(
            update_fields=["status", "resolved_at", "resolved_by", "evidence_url", "waiver_reason"]
        )
        mark_item_dirty(locked.item)
    for field in ("status", "resolved_at", "resolved_by", "evidence_url", "waiver_reason"):
        setattr(criterion, field, getattr(locked, field))
    return criterion
