"""What the API reads and writes. Input serializers check shapes and refuse fields they don't
know or that can't be written (the services check every rule); output serializers shape data.
"""

import datetime as dt

from django.core.validators import URLValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from boards.models import Block, Board, Column, Transition, WorkItem
from flowboard import validation
from flowboard.errors import InvalidInput
from readiness.models import AcceptanceCriterion, Category, Track


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know (a typo would otherwise be silently ignored), and names
    the read-only ones: ``column`` changes only by a move, ``board`` and ``created_at`` never."""

    read_only_reasons = {
        "column": "the column changes only through POST /api/v1/items/{id}/move/",
        "board": "an item never changes board",
        "created_at": "the creation time is history and never changes",
        "key": "the key is given by the board",
        "id": "ids are given by Flowboard",
        "version": "the version is sent in the If-Match header",
    }

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": ["The body must be a JSON object."]}
            )
        errors = {}
        for name, value in data.items():
            field = self.fields.get(name)
            if field is None:
                reason = self.read_only_reasons.get(name)
                errors[name] = [
                    f"{name} cannot be written: {reason}." if reason else "Unknown field."
                ]
            elif isinstance(field, serializers.CharField | serializers.ChoiceField):
                problem = _text_problem(value)
                if problem:
                    errors[name] = [problem]
        if errors:
            raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


def _text_problem(value) -> str | None:
    """Strings are strings: 12 is not a title. And readable: no control characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        return f"Must be a string, not {type(value).__name__ if value is not None else 'null'}."
    try:
        validation.characters(value, "The text", "")
    except InvalidInput as error:
        return error.message
    return None


MAX_ID = validation.MAX_ID


def Id(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "minimum": 1, "maximum": MAX_ID},
            {"type": "string", "minLength": 1, "maxLength": 80},
        ]
    }
)
class ColumnRef(serializers.Field):
    """A column of the board in context, given by id (a number) or by name (any case)."""

    default_error_messages = {"type": "A column id (a number) or name (text)."}

    def to_internal_value(self, value):
        """A value of the wrong type is malformed (400); a well-formed reference to a column the
        board does not have is refused by rule (422, ``InvalidInput``)."""
        if isinstance(value, bool) or not isinstance(value, int | str):
            self.fail("type")
        board: Board = self.context["board"]
        columns = self.context.setdefault("columns", list(board.columns.order_by("position")))
        for column in columns:
            if (isinstance(value, int) and column.pk == value) or (
                isinstance(value, str) and value.strip().lower() == column.name.lower()
            ):
                return column
        names = ", ".join(c.name for c in columns)
        raise InvalidInput(
            f"{value!r} is not a column of {board.name} (columns: {names}).",
            field=self.field_name,
        )

    def to_representation(self, value):
        return value.name


class Moment(serializers.DateTimeField):
    """A time of history: with its offset (a naive time is ambiguous), from 1970 to 2999."""

    default_error_messages = {
        "naive": "Give the time with its offset, e.g. 2026-03-01T09:00:00Z.",
        "range": "A time from 1970 to 2999.",
    }

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
            if parsed is not None and not 1970 <= parsed.year <= 2999:
                self.fail("range")
        try:
            return super().to_internal_value(value).astimezone(dt.UTC)
        except (OverflowError, ValueError):
            self.fail("range")


def in_date_range(value: dt.date) -> None:
    if not validation.EARLIEST_DATE <= value <= validation.LATEST_DATE:
        raise serializers.ValidationError("A date from 1970-01-01 to 2999-12-31.")


class ColumnSerializer(serializers.ModelSerializer):
    class Meta:
        model = Column
        fields = ["id", "name", "position", "stage", "activity", "wip_limit", "wip_policy"]


class BoardSerializer(serializers.ModelSerializer):
    columns = serializers.SerializerMethodField()
    commitment_column = serializers.CharField(source="commitment_column.name", read_only=True)
    delivery_column = serializers.CharField(source="delivery_column.name", read_only=True)
    role = serializers.SerializerMethodField()

    class Meta:
        model = Board
        fields = [
            "slug",
            "name",
            "key_prefix",
            "time_zone",
            "commitment_column",
            "delivery_column",
            "columns",
            "role",
        ]

    def get_columns(self, board) -> list[dict]:
        columns = sorted(board.columns.all(), key=lambda c: c.position)
        return ColumnSerializer(columns, many=True).data

    def get_role(self, board) -> str | None:
        return self.context.get("roles", {}).get(board.pk)


class ColumnInput(StrictSerializer):
    id = Id(required=False, help_text="An existing column; omit to add one.")
    name = serializers.CharField(max_length=80)
    stage = serializers.ChoiceField(choices=Column.Stage.choices, default=Column.Stage.DEVELOPMENT)
    activity = serializers.ChoiceField(
        choices=Column.Activity.choices, default=Column.Activity.ACTIVE
    )
    wip_limit = serializers.IntegerField(
        min_value=1, max_value=10_000, required=False, allow_null=True
    )
    wip_policy = serializers.ChoiceField(
        choices=Column.WipPolicy.choices, default=Column.WipPolicy.SOFT
    )
    read_only_reasons = {
        **StrictSerializer.read_only_reasons,
        "position": "positions follow the list's order",
    }
    read_only_reasons.pop("id")


class BoardUpdate(StrictSerializer):
    name = serializers.CharField(max_length=120, required=False)
    time_zone = serializers.CharField(max_length=64, required=False)
    columns = ColumnInput(many=True, required=False, help_text="The whole new set-up, in order.")
    commitment = serializers.CharField(max_length=80, required=False)
    delivery = serializers.CharField(max_length=80, required=False)


class ItemSerializer(serializers.ModelSerializer):
    column = serializers.SerializerMethodField()
    blocked = serializers.SerializerMethodField()

    class Meta:
        model = WorkItem
        fields = [
            "id",
            "key",
            "title",
            "description",
            "kind",
            "class_of_service",
            "due_date",
            "column",
            "rank",
            "external_source",
            "external_key",
            "external_url",
            "created_at",
            "started_at",
            "delivered_at",
            "discarded_at",
            "discard_reason",
            "blocked",
            "version",
            "updated_at",
        ]

    def get_column(self, item) -> dict:
        return {"id": item.column_id, "name": item.column.name}

    def get_blocked(self, item) -> bool:
        flag = getattr(item, "is_blocked", None)
        if flag is None:
            flag = item.blocks.filter(ended_at__isnull=True).exists()
        return bool(flag)

    def to_representation(self, item) -> dict:
        """The fields above, written out: an item is the API's most frequent answer, and
        ModelSerializer builds its fields anew for every one. ``tests/api/test_items.py``
        checks that this equals DRF's own representation."""
        moment, day = _MOMENT.to_representation, _DAY.to_representation
        return {
            "id": item.pk,
            "key": item.key,
            "title": item.title,
            "description": item.description,
            "kind": item.kind,
            "class_of_service": item.class_of_service,
            "due_date": day(item.due_date) if item.due_date else None,
            "column": self.get_column(item),
            "rank": item.rank,
            "external_source": item.external_source,
            "external_key": item.external_key,
            "external_url": item.external_url,
            "created_at": moment(item.created_at),
            "started_at": moment(item.started_at) if item.started_at else None,
            "delivered_at": moment(item.delivered_at) if item.delivered_at else None,
            "discarded_at": moment(item.discarded_at) if item.discarded_at else None,
            "discard_reason": item.discard_reason,
            "blocked": self.get_blocked(item),
            "version": item.version,
            "updated_at": moment(item.updated_at),
        }


_MOMENT, _DAY = serializers.DateTimeField(), serializers.DateField()


class Link(serializers.URLField):
    """An http(s) link: the services' own rule (``validation.link``), so a request the
    serializer passes is never refused halfway by a service (DRF also allows ftp)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators = [v for v in self.validators if not isinstance(v, URLValidator)]
        self.validators.append(URLValidator(schemes=["http", "https"], message=LINK_MESSAGE))


LINK_MESSAGE = "Enter an http(s) link."


class ItemFields(StrictSerializer):
    title = serializers.CharField(max_length=300)
    description = serializers.CharField(required=False, allow_blank=True, max_length=100_000)
    kind = serializers.ChoiceField(choices=WorkItem.Kind.choices, required=False)
    class_of_service = serializers.ChoiceField(
        choices=WorkItem.ClassOfService.choices, required=False
    )
    due_date = serializers.DateField(
        required=False,
        allow_null=True,
        validators=[in_date_range],
        help_text="From 1970-01-01 to 2999-12-31.",
    )
    external_source = serializers.CharField(max_length=20, required=False, allow_blank=True)
    external_key = serializers.CharField(max_length=120, required=False, allow_blank=True)
    external_url = Link(max_length=500, required=False, allow_blank=True)


class ItemCreate(ItemFields):
    column = ColumnRef(required=False, help_text="Column id or name; the first column by default.")
    created_at = Moment(
        required=False, help_text="History from another tool: integration tokens only."
    )
    read_only_reasons = {
        k: v for k, v in StrictSerializer.read_only_reasons.items() if k not in ("column",)
    }


class ItemUpdate(ItemFields):
    title = serializers.CharField(max_length=300, required=False)


class ItemUpsert(ItemFields):
    title = serializers.CharField(max_length=300, required=False, help_text="Needed to create.")
    status = serializers.CharField(
        max_length=200, required=False, help_text="An external status, mapped to a column."
    )


class MoveInput(StrictSerializer):
    to_column = ColumnRef(help_text="Column id or name.")
    at = Moment(
        required=False, help_text="When it moved (history): integration tokens only, not future."
    )
    before = Id(required=False, help_text="Place it before this item id.")
    after = Id(required=False, help_text="Place it after this item id.")


class MoveOutput(serializers.Serializer):
    moved = serializers.BooleanField(
        help_text="True when this move (or the first request with its Idempotency-Key) wrote a "
        "transition; false when the item was already in the column."
    )
    transition = serializers.IntegerField(allow_null=True)
    soft_limit_exceeded = serializers.BooleanField()
    item = ItemSerializer()


class DiscardInput(StrictSerializer):
    reason = serializers.CharField(max_length=300)


class CriterionSerializer(serializers.ModelSerializer):
    gate_column = serializers.CharField(source="gate_column.name")

    class Meta:
        model = AcceptanceCriterion
        fields = [
            "id",
            "title",
            "description",
            "category",
            "track",
            "gate_column",
            "required",
            "status",
            "resolved_at",
            "evidence_url",
            "waiver_reason",
            "added_at",
        ]


class CriterionCreate(StrictSerializer):
    title = serializers.CharField(max_length=200)
    track = serializers.ChoiceField(choices=Track.choices)
    gate_column = ColumnRef()
    category = serializers.ChoiceField(choices=Category.choices, default=Category.READINESS)
    required = serializers.BooleanField(default=True)
    description = serializers.CharField(required=False, allow_blank=True, max_length=100_000)


class MeetInput(StrictSerializer):
    evidence_url = Link(max_length=500, required=False, allow_blank=True)


class WaiveInput(StrictSerializer):
    reason = serializers.CharField(max_length=10_000)


class ReopenInput(StrictSerializer):
    reason = serializers.CharField(max_length=10_000, required=False, allow_blank=True)


class BlockSerializer(serializers.ModelSerializer):
    criterion = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = Block
        fields = ["id", "reason", "note", "criterion", "started_at", "ended_at"]


class BlockCreate(StrictSerializer):
    reason = serializers.ChoiceField(choices=Block.Reason.choices)
    note = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    criterion = Id(required=False, help_text="The criterion it holds up.")


class TransitionSerializer(serializers.ModelSerializer):
    item = serializers.SerializerMethodField()
    from_column = serializers.CharField(source="from_column.name", allow_null=True, default=None)
    to_column = serializers.CharField(source="to_column.name")
    actor = serializers.SerializerMethodField()

    class Meta:
        model = Transition
        fields = ["id", "item", "from_column", "to_column", "at", "recorded_at", "actor", "source"]

    def get_item(self, transition) -> dict:
        return {"id": transition.item_id, "key": transition.item.key}

    def get_actor(self, transition) -> str | None:
        return transition.actor.get_username() if transition.actor_id else None
