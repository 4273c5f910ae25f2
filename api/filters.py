"""Filters of the item and transition lists (django-filter); a bad value is a 400 naming it."""

import django_filters
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from boards.models import Block, Transition, WorkItem

FLAG = [("true", "true"), ("false", "false")]


def flag(method: str, help_text: str) -> django_filters.ChoiceFilter:
    """A true/false filter that refuses anything else (django-filter's own ignores "maybe")."""
    return django_filters.ChoiceFilter(choices=FLAG, method=method, help_text=help_text)


class ItemFilter(django_filters.FilterSet):
    column = django_filters.CharFilter(method="by_column", help_text="Column id or name.")
    kind = django_filters.ChoiceFilter(choices=WorkItem.Kind.choices)
    blocked = flag("by_blocked", "Items with an open block (true) or without (false).")
    overdue = flag("by_overdue", "Undelivered items past their due date (true), or not.")
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    external_key = django_filters.CharFilter()
    external_source = django_filters.CharFilter()
    discarded = flag("by_discarded", "Discarded items (true) or the others (false).")

    class Meta:
        model = WorkItem
        fields = ["column", "kind", "blocked", "overdue", "updated_since", "external_key",
                  "external_source", "discarded"]  # fmt: skip

    def by_column(self, queryset, name, value):
        value = value.strip()
        if value.isdigit():
            return queryset.filter(column_id=int(value))
        return queryset.filter(column__name__iexact=value)

    def by_blocked(self, queryset, name, value):
        open_block = Exists(Block.objects.filter(item=OuterRef("pk"), ended_at__isnull=True))
        return queryset.filter(open_block if value == "true" else ~open_block)

    def by_overdue(self, queryset, name, value):
        late = Q(due_date__lt=timezone.now().date(), delivered_at__isnull=True)
        return queryset.filter(late if value == "true" else ~late)

    def by_discarded(self, queryset, name, value):
        return queryset.filter(discarded_at__isnull=value != "true")


class TransitionFilter(django_filters.FilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")
    item = django_filters.NumberFilter(field_name="item_id", min_value=1, max_value=2**63 - 1)
    source = django_filters.ChoiceFilter(choices=Transition.Source.choices)

    class Meta:
        model = Transition
        fields = ["since", "until", "item", "source"]
