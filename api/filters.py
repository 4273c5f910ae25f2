"""Filters of the item and transition lists (django-filter); a bad value is a 400 naming it."""

import datetime as dt

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field

from boards.models import Block, Transition, WorkItem
from flowboard import validation
from flowboard.errors import MalformedInput

FLAG = [("true", "true"), ("false", "false")]
MAX_ID = validation.MAX_ID


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(django_filters.NumberFilter):
    """An id: a whole number from 1 (a 64-bit id at most)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=1, max_value=MAX_ID, **kwargs)


def flag(method: str, help_text: str) -> django_filters.ChoiceFilter:
    """A true/false filter that refuses anything else (django-filter's own ignores "maybe")."""
    return django_filters.ChoiceFilter(choices=FLAG, method=method, help_text=help_text)


class Moment(django_filters.IsoDateTimeFilter):
    """An ISO time, as UTC (PostgreSQL refuses offsets beyond 15:59 that Python accepts)."""

    def filter(self, qs, value):
        if value is not None:
            try:
                value = value.astimezone(dt.UTC)
            except (OverflowError, ValueError):
                raise MalformedInput(
                    f"{self.field_name}: a time from 1970 to 2999.",
                    errors={self.field_name: ["A time from 1970 to 2999."]},
                ) from None
        return super().filter(qs, value)


class ItemFilter(django_filters.FilterSet):
    column = django_filters.CharFilter(method="by_column", help_text="Column id or name.")
    kind = django_filters.ChoiceFilter(choices=WorkItem.Kind.choices)
    blocked = flag("by_blocked", "Items with an open block (true) or without (false).")
    overdue = flag("by_overdue", "Undelivered items past their due date (true), or not.")
    updated_since = Moment(field_name="updated_at", lookup_expr="gte")
    external_key = django_filters.CharFilter()
    external_source = django_filters.CharFilter()
    discarded = flag("by_discarded", "Discarded items (true) or the others (false).")

    class Meta:
        model = WorkItem
        fields = ["column", "kind", "blocked", "overdue", "updated_since", "external_key",
                  "external_source", "discarded"]  # fmt: skip

    def by_column(self, queryset, name, value):
        value = value.strip()
        if value.isascii() and value.isdigit():  # an id ("²" is a digit to Python, not one)
            if not validation.is_id(value):
                return queryset.none()  # no column has that id
            return queryset.filter(column_id=int(value))
        return queryset.filter(column__name__iexact=value)

    def by_blocked(self, queryset, name, value):
        open_block = Exists(Block.objects.filter(item=OuterRef("pk"), ended_at__isnull=True))
        return queryset.filter(open_block if value == "true" else ~open_block)

    def by_overdue(self, queryset, name, value):
        """Open items (neither delivered nor discarded) whose due date has passed on the
        board's own calendar."""
        view = (getattr(self.request, "parser_context", None) or {}).get("view")
        board = getattr(view, "board", None)
        today = timezone.localdate(timezone=board.tz) if board else timezone.localdate()
        late = Q(due_date__lt=today, delivered_at__isnull=True, discarded_at__isnull=True)
        return queryset.filter(late if value == "true" else ~late)

    def by_discarded(self, queryset, name, value):
        return queryset.filter(discarded_at__isnull=value != "true")


class TransitionFilter(django_filters.FilterSet):
    since = Moment(field_name="at", lookup_expr="gte")
    until = Moment(field_name="at", lookup_expr="lt")
    item = IdFilter(field_name="item_id")
    source = django_filters.ChoiceFilter(choices=Transition.Source.choices)

    class Meta:
        model = Transition
        fields = ["since", "until", "item", "source"]
