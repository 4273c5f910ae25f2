"""Admin views of the metrics snapshots for ops leads: read-only (they are derived from the
log), with an action to recompute a board now."""

from django.contrib import admin, messages

from flowboard.admin import ReadOnlyAdmin
from metrics.models import BoardDay, BoardMetrics, ItemMetrics, PendingRefresh
from metrics.tasks import recompute_board as recompute_board_task


@admin.register(BoardMetrics)
class BoardMetricsAdmin(ReadOnlyAdmin):
    list_display = (
        "board",
        "computed_at",
        "full_computed_at",
        "summary_computed_at",
        "refreshes",
        "first_day",
        "last_day",
    )
    list_select_related = ("board",)
    actions = ["recompute"]

    @admin.action(
        description="Recompute the selected boards' metrics from their history", permissions=["act"]
    )
    def recompute(self, request, queryset):
        for state in queryset:
            recompute_board_task.delay(state.board_id)
        messages.success(request, f"Recompute queued for {queryset.count()} board(s).")


@admin.register(ItemMetrics)
class ItemMetricsAdmin(ReadOnlyAdmin):
    list_display = (
        "item",
        "current_column",
        "started_at",
        "delivered_at",
        "cycle_days",
        "lead_days",
        "flow_efficiency",
    )
    list_filter = ("board",)
    list_select_related = ("item", "current_column")
    search_fields = ("item__key", "item__title")
    date_hierarchy = "delivered_at"


@admin.register(BoardDay)
class BoardDayAdmin(ReadOnlyAdmin):
    list_display = ("board", "day", "wip", "arrivals", "started", "delivered", "discarded")
    list_filter = ("board",)
    date_hierarchy = "day"


@admin.register(PendingRefresh)
class PendingRefreshAdmin(ReadOnlyAdmin):
    """The refresh queue: rows that stay here mean the worker isn't keeping up (or is down)."""

    list_display = ("item", "board", "queued_at")
    list_filter = ("board",)
    list_select_related = ("item", "board")
