"""A board's set-up: the board, its columns in order, and its commitment and delivery points.

Every change goes through ``board_create`` or ``board_update`` (the admin included), which
check the whole new set-up at once (positions, names, the commitment column before the delivery
column) before anything is written, and queue the board's metrics for a recompute: snapshots
computed under the old set-up are stale. Columns are never deleted while anything refers to
them (items, history, criteria, gate refusals).
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import IntegrityError, transaction

from boards import locking
from boards.models import Board, Column, Transition, WorkItem, validate_time_zone
from flowboard import validation
from flowboard.errors import InvalidInput
from metrics.services import board_setup_changed

# Positions are rewritten in two steps, through this offset, so that swapping two columns never
# meets the unique (board, position) constraint halfway.
SHIFT = 10_000


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a set-up. ``id`` names an existing column when updating a board."""

    name: str
    stage: str = Column.Stage.DEVELOPMENT
    activity: str = Column.Activity.ACTIVE
    wip_limit: int | None = None
    wip_policy: str = Column.WipPolicy.SOFT
    id: int | None = None


def check_setup(columns: Sequence[ColumnSpec], commitment: str, delivery: str) -> None:
    """Refuse a set-up that cannot work: no columns, a bad or repeated name (in any case), a bad
    stage, activity or WIP limit, points that are not columns, or a delivery column that does
    not come after the commitment column. Pure: the admin runs it on its forms, the services
    on what they are about to write."""
    if len(columns) < 2:
        raise InvalidInput("A board needs at least two columns.", field="columns")
    names = []
    for spec in columns:
        name = validation.text(spec.name, Column, "name", "A column name", required=True)
        validation.choice(spec.stage, Column.Stage, "stage", "stage")
        validation.choice(spec.activity, Column.Activity, "activity", "activity")
        validation.choice(spec.wip_policy, Column.WipPolicy, "wip_policy", "WIP policy")
        if spec.wip_limit is not None and (
            not isinstance(spec.wip_limit, int) or isinstance(spec.wip_limit, bool)
            or spec.wip_limit < 1
        ):  # fmt: skip
            raise InvalidInput(
                f"The WIP limit of {name} must be a whole number of at least 1 (or none).",
                field="wip_limit",
            )
        names.append(name)
    lowered = [n.lower() for n in names]
    repeated = sorted({n for n in names if lowered.count(n.lower()) > 1})
    if repeated:
        raise InvalidInput(
            f"Column names must be unique on a board: {', '.join(repeated)} appears twice.",
            field="columns",
        )
    for label, point in (("commitment", commitment), ("delivery", delivery)):
        if (point or "").strip().lower() not in lowered:
            raise InvalidInput(
                f"The {label} column {point!r} is not one of the columns {', '.join(names)}.",
                field=label,
            )
    if lowered.index(commitment.strip().lower()) >= lowered.index(delivery.strip().lower()):
        raise InvalidInput(
            f"The delivery column ({delivery}) must come after the commitment column "
            f"({commitment}).",
            field="delivery",
        )


def _board_fields(name, slug, key_prefix, time_zone) -> dict:
    fields = {}
    if name is not None:
        fields["name"] = validation.text(name, Board, "name", "The board's name", required=True)
    if slug is not None:
        slug = validation.text(slug, Board, "slug", "The slug", required=True)
        try:
            validate_slug(slug)
        except ValidationError:
            raise InvalidInput(
                f"The slug {slug!r} may hold only letters, digits, hyphens and underscores.",
                field="slug",
            ) from None
        fields["slug"] = slug
    if key_prefix is not None:
        key_prefix = validation.text(
            key_prefix, Board, "key_prefix", "The key prefix", required=True
        )
        if not key_prefix.replace("_", "").isalnum():
            raise InvalidInput(
                f"The key prefix {key_prefix!r} may hold only letters and digits.",
                field="key_prefix",
            )
        fields["key_prefix"] = key_prefix
    if time_zone is not None:
        try:
            validate_time_zone(time_zone)
        except ValidationError:
            raise InvalidInput(
                f"{time_zone!r} is not a known IANA time zone.", field="time_zone"
            ) from None
        fields["time_zone"] = time_zone
    return fields


@locking.retrying
def board_create(
    *,
    name: str,
    slug: str,
    key_prefix: str,
    columns: Sequence[ColumnSpec],
    commitment: str,
    delivery: str,
    time_zone: str | None = None,
) -> Board:
    """Create a board with its columns, in order, and its commitment and delivery points (column
    names, in any case)."""
    fields = _board_fields(name, slug, key_prefix, time_zone)
    check_setup(columns, commitment, delivery)
    if Board.objects.filter(slug=fields["slug"]).exists():
        raise InvalidInput(f"There is already a board {fields['slug']!r}.", field="slug")
    with transaction.atomic():
        board = Board(**fields)
        try:
            with transaction.atomic():
                board.save()
        except IntegrityError:
            raise InvalidInput(f"There is already a board {fields['slug']!r}.") from None
        Column.objects.bulk_create(
            Column(
                board=board,
                name=spec.name.strip(),
                position=position,
                stage=spec.stage,
                activity=spec.activity,
                wip_limit=spec.wip_limit,
                wip_policy=spec.wip_policy,
            )
            for position, spec in enumerate(columns)
        )
        _set_points(board, commitment, delivery)
    return board


def _set_points(board: Board, commitment: str, delivery: str) -> None:
    by_name = {c.name.lower(): c for c in board.columns.all()}
    board.commitment_column = by_name[commitment.strip().lower()]
    board.delivery_column = by_name[delivery.strip().lower()]
    board.save(update_fields=["commitment_column", "delivery_column"])


def column_in_use(column: Column) -> str | None:
    """Why ``column`` cannot be deleted (it holds items, or history or criteria refer to it),
    or None when nothing refers to it."""
    if WorkItem.objects.filter(column=column).exists():
        return f"{column.name} holds work items; move them out first."
    if (
        Transition.objects.filter(to_column=column).exists()
        or Transition.objects.filter(from_column=column).exists()
    ):
        return f"{column.name} is in the history of moves, which is never rewritten."
    if column.guarding_templates.exists() or column.guarding_criteria.exists():
        return f"{column.name} is the gate of readiness criteria; change their gate first."
    return None


@locking.retrying
def board_update(
    board: Board,
    *,
    name: str | None = None,
    slug: str | None = None,
    key_prefix: str | None = None,
    time_zone: str | None = None,
    columns: Sequence[ColumnSpec] | None = None,
    commitment: str | None = None,
    delivery: str | None = None,
) -> Board:
    """Change a board's set-up, checked as a whole once every change is applied.

    ``columns``, when given, is the new list of columns in their new order: a spec with an
    ``id`` updates that column, one without adds a column, and a column left out is deleted
    (refused while anything refers to it, see ``column_in_use``). ``commitment`` and
    ``delivery`` are column names (the current points by default). The board's metrics are
    recomputed once the change commits. Locks the board, then its columns.
    """
    fields = _board_fields(name, slug, key_prefix, time_zone)
    with transaction.atomic():
        board = locking.board(board.pk)
        current = locking.columns(board.pk)
        by_id = {c.pk: c for c in current}
        specs = list(columns) if columns is not None else [_spec(c) for c in current]
        commitment = commitment or by_id[board.commitment_column_id].name
        delivery = delivery or by_id[board.delivery_column_id].name
        check_setup(specs, commitment, delivery)
        unknown = [s.id for s in specs if s.id is not None and s.id not in by_id]
        if unknown:
            raise InvalidInput(f"Columns {unknown} are not columns of {board.name}.")
        kept = {s.id for s in specs if s.id is not None}
        for column in current:
            if column.pk not in kept:
                why = column_in_use(column)
                if why:
                    raise InvalidInput(f"Cannot delete the column {why}", column=column.name)
        if (
            fields.get("slug")
            and Board.objects.filter(slug=fields["slug"]).exclude(pk=board.pk).exists()
        ):
            raise InvalidInput(f"There is already a board {fields['slug']!r}.", field="slug")
        for name_, value in fields.items():
            setattr(board, name_, value)
        if fields:
            board.save(update_fields=list(fields))
        # Points first detached, so that a column about to be deleted is not referenced.
        Board.objects.filter(pk=board.pk).update(commitment_column=None, delivery_column=None)
        Column.objects.filter(board=board).exclude(pk__in=kept).delete()
        for column in current:
            if column.pk in kept:
                Column.objects.filter(pk=column.pk).update(position=column.position + SHIFT)
        for position, spec in enumerate(specs):
            values = {
                "name": spec.name.strip(),
                "position": position,
                "stage": spec.stage,
                "activity": spec.activity,
                "wip_limit": spec.wip_limit,
                "wip_policy": spec.wip_policy,
            }
            if spec.id is not None:
                Column.objects.filter(pk=spec.id).update(**values)
            else:
                Column.objects.create(board=board, **values)
        _set_points(board, commitment, delivery)
        board_setup_changed(board)
    return board


def _spec(column: Column) -> ColumnSpec:
    return ColumnSpec(
        name=column.name,
        stage=column.stage,
        activity=column.activity,
        wip_limit=column.wip_limit,
        wip_policy=column.wip_policy,
        id=column.pk,
    )


def columns_of(board: Board) -> list[ColumnSpec]:
    """The board's columns as specs, in order: a starting point for ``board_update``."""
    return [_spec(c) for c in board.columns.order_by("position")]
