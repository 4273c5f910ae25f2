"""Writes to acceptance criteria and their templates: copying templates, adding, meeting,
waiving, reopening and retiring criteria; creating and changing templates.

Every status change writes a ``CriterionChange`` row in the same transaction, so who met a
criterion, when and with what evidence is never lost when it is later reopened. Criteria are
never deleted: one no longer wanted is retired (waived, with the reason).

Locks follow the order of ``boards.services``: a criterion changes only while its item's row is
locked (the item first, then the criterion), so a move that checks the item's gates under the
item's lock never sees a criterion change halfway.
"""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from boards import events, locking
from boards.models import Column, Event, WorkItem
from boards.timing import change_time, check_aware
from flowboard import validation
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


# --- templates -------------------------------------------------------------------------------


def active_templates(board_id: int) -> list[CriterionTemplate]:
    return list(CriterionTemplate.objects.filter(board_id=board_id, active=True))


def clean_kinds(value) -> list[str]:
    """``applies_to_kinds`` as stored: a list of known kinds, lower case, each once, in the
    order of ``WorkItem.Kind``. Accepts kinds in any case, by value or label. Empty means every
    kind. ``InvalidInput`` for anything else (a number, an unknown kind)."""
    if value in (None, ""):
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(k, str) for k in value):
        raise InvalidInput(
            f"The kinds must be a list of kinds ({', '.join(WorkItem.Kind.values)}), "
            f"not {value!r}.",
            field="applies_to_kinds",
        )
    known = {label.lower(): kind for kind, label in WorkItem.Kind.choices}
    known.update({kind: kind for kind in WorkItem.Kind.values})
    unknown = [k for k in value if k.strip().lower() not in known]
    if unknown:
        raise InvalidInput(
            f"Unknown kind{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"the kinds are {', '.join(WorkItem.Kind.values)}.",
            field="applies_to_kinds",
        )
    wanted = {known[k.strip().lower()] for k in value}
    return [kind for kind in WorkItem.Kind.values if kind in wanted]


def template_fields(board, fields: dict) -> dict:
    """The fields of a criterion template, validated: lengths, choices, a gate column of the
    same board, and kinds (``clean_kinds``)."""
    clean = dict(fields)
    if "title" in clean:
        clean["title"] = validation.text(
            clean["title"], CriterionTemplate, "title", "The title", required=True
        )
    if "description" in clean:
        clean["description"] = validation.text(
            clean["description"], CriterionTemplate, "description", "The description"
        )
    if "track" in clean:
        validation.choice(clean["track"], Track, "track", "track")
    if "category" in clean:
        validation.choice(clean["category"], Category, "category", "category")
    if "gate_column" in clean:
        gate = clean["gate_column"]
        if not isinstance(gate, Column) or gate.board_id != board.pk:
            raise InvalidInput(
                f"The gate column must be a column of {board.name}.", field="gate_column"
            )
    if "applies_to_kinds" in clean:
        clean["applies_to_kinds"] = clean_kinds(clean["applies_to_kinds"])
    return clean


@transaction.atomic
def template_create(board, **fields) -> CriterionTemplate:
    """A new criterion template of ``board``. Items created from now on get its criterion."""
    template = CriterionTemplate(board=board, **template_fields(board, fields))
    template.save()
    return template


@transaction.atomic
def template_update(template: CriterionTemplate, **fields) -> CriterionTemplate:
    """Change a template. Criteria already copied to items keep their own title and gate: a
    template is what new items get."""
    fields.pop("board", None)
    for name, value in template_fields(template.board, fields).items():
        setattr(template, name, value)
    template.save()
    return template


# --- criteria of items -----------------------------------------------------------------------


def criteria_instantiate(item, *, at: dt.datetime) -> list[AcceptanceCriterion]:
    """Copy the board's active templates that apply to the item's kind. Called on creation."""
    templates = active_templates(item.board_id)
    return AcceptanceCriterion.objects.bulk_create(
        criteria_from_templates(templates, item_id=item.pk, kind=item.kind, at=at)
    )


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


def criteria_for_kind(item, old_kind: str, *, actor, now: dt.datetime) -> None:
    """After the item's kind changed from ``old_kind``: add the criteria its new kind gets from
    the board's templates, and retire the pending ones whose template applies to the old kind
    only. Call holding the item's lock (``work_item_update``)."""
    templates = active_templates(item.board_id)
    have = set(item.criteria.exclude(template=None).values_list("template_id", flat=True))
    AcceptanceCriterion.objects.bulk_create(
        criterion
        for criterion in criteria_from_templates(templates, item_id=item.pk, kind=item.kind, at=now)
        if criterion.template_id not in have
    )
    stale = (
        item.criteria.select_for_update(no_key=True)
        .filter(status=Status.PENDING, template__isnull=False)
        .select_related("template")
    )
    reason = (
        f"No longer applies: the item became a {item.get_kind_display().lower()} "
        f"(was a {WorkItem.Kind(old_kind).label.lower()})."
    )
    for criterion in stale:
        if not criterion.template.applies_to(item.kind):
            _record(criterion, Status.WAIVED, actor, now, item=item, reason=reason)
            mark_item_dirty(item)


@locking.retrying
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
    """Add a criterion of the item's own, beyond its board's templates. Locks the item."""
    title = validation.text(title, AcceptanceCriterion, "title", "The title", required=True)
    description = validation.text(
        description, AcceptanceCriterion, "description", "The description"
    )
    validation.choice(track, Track, "track", "track")
    validation.choice(category, Category, "category", "category")
    if gate_column.board_id != item.board_id:
        raise InvalidInput("The gate column belongs to another board.", field="gate_column")
    check_aware(at, "A new criterion")
    with transaction.atomic():
        locked = locking.item(item.pk)
        if locked.discarded_at is not None:
            raise ItemDiscarded(f"{locked.key} was discarded.", key=locked.key)
        at = change_time(
            at, now=timezone.now(), what="A new criterion", after=[(locked.created_at, "the item")]
        )
        criterion = AcceptanceCriterion.objects.create(
            item=locked,
            title=title,
            description=description,
            category=category,
            track=track,
            gate_column=gate_column,
            required=required,
            added_at=at,
        )
        locked.save(update_fields=["updated_at"])  # the card shows its readiness
        mark_item_dirty(locked)
    return criterion


def criterion_meet(
    criterion: AcceptanceCriterion,
    *,
    actor,
    evidence_url: str = "",
    at: dt.datetime | None = None,
) -> AcceptanceCriterion:
    """Mark a pending criterion met, recording who, when, and (optional) a link to the
    evidence."""
    evidence_url = validation.url(
        evidence_url, AcceptanceCriterion, "evidence_url", "The evidence link"
    )
    return _change(criterion, Status.MET, actor, at, evidence_url=evidence_url)


def criterion_waive(
    criterion: AcceptanceCriterion, *, actor, reason: str, at: dt.datetime | None = None
) -> AcceptanceCriterion:
    """Waive a pending criterion. A waiver always has a reason."""
    reason = validation.text(
        reason, AcceptanceCriterion, "waiver_reason", "The reason for a waiver", required=True
    )
    return _change(criterion, Status.WAIVED, actor, at, reason=reason)


def criterion_reopen(
    criterion: AcceptanceCriterion, *, actor, reason: str = "", at: dt.datetime | None = None
) -> AcceptanceCriterion:
    """Set a met or waived criterion back to pending; its earlier resolution stays in history."""
    reason = validation.text(reason, CriterionChange, "reason", "The reason")
    return _change(criterion, Status.PENDING, actor, at, reason=reason)


def criterion_retire(
    criterion: AcceptanceCriterion, *, actor, reason: str, at: dt.datetime | None = None
) -> AcceptanceCriterion:
    """A criterion no longer wanted: waived with the reason (criteria are never deleted, so
    their history stays). A met or waived one is left as it is."""
    if criterion.status != Status.PENDING:
        return criterion
    return criterion_waive(criterion, actor=actor, reason=reason, at=at)


@locking.retrying
def _change(criterion, to_status, actor, at, *, evidence_url: str = "", reason: str = ""):
    """One status change: locks the item, then the criterion; dated by the time rule (not
    before the item, the criterion's addition or its last change)."""
    check_aware(at, f"A change of {criterion.title!r}")
    with transaction.atomic():
        item = locking.item(criterion.item_id)
        locked = AcceptanceCriterion.objects.select_for_update(no_key=True).get(pk=criterion.pk)
        if item.discarded_at is not None:
            raise ItemDiscarded(f"{item.key} was discarded.", key=item.key)
        if to_status == Status.PENDING and locked.status == Status.PENDING:
            raise InvalidTransition(f"{locked.title!r} is already pending.")
        if to_status != Status.PENDING and locked.status != Status.PENDING:
            status = locked.get_status_display().lower()
            raise InvalidTransition(f"{locked.title!r} is already {status}; reopen it first.")
        last = locked.changes.order_by("-at", "-id").values_list("at", flat=True).first()
        at = change_time(
            at,
            now=timezone.now(),
            what=f"A change of {locked.title!r}",
            after=[
                (item.created_at, "the item's creation"),
                (locked.added_at, "the criterion's addition"),
                (last, "its last change"),
            ],
        )
        _record(locked, to_status, actor, at, item=item, evidence_url=evidence_url, reason=reason)
        item.save(update_fields=["updated_at"])  # the card shows its readiness
        mark_item_dirty(item)
    for field in ("status", "resolved_at", "resolved_by", "evidence_url", "waiver_reason"):
        setattr(criterion, field, getattr(locked, field))
    return criterion


def _record(
    locked, to_status, actor, at, *, item, evidence_url: str = "", reason: str = ""
) -> None:
    """Write the change, the criterion's new status, and its event. Call holding both locks."""
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
    kind = {Status.MET: Event.Kind.CRITERION_MET, Status.WAIVED: Event.Kind.CRITERION_WAIVED}
    if to_status in kind:
        data = {
            **events.item_data(item),
            "criterion": {"id": locked.pk, "title": locked.title, "track": locked.track},
            "evidence_url": evidence_url,
            "reason": reason,
            "at": at.isoformat(),
            "actor": actor.get_username() if actor else None,
        }
        events.record(item.board_id, kind[to_status], at, data, item)
