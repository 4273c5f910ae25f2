"""Admin for readiness criteria templates, and read-only views of the criteria history."""

from django.contrib import admin

from flowboard.admin import ReadOnlyAdmin
from readiness.models import AcceptanceCriterion, CriterionChange, CriterionTemplate, GateRefusal


@admin.register(CriterionTemplate)
class CriterionTemplateAdmin(admin.ModelAdmin):
    list_display = ("title", "board", "track", "category", "gate_column", "required", "active")
    list_filter = ("board", "track", "category", "required", "active")
    list_select_related = ("board", "gate_column")
    search_fields = ("title",)


class CriterionChangeInline(admin.TabularInline):
    model = CriterionChange
    extra = 0
    can_delete = False
    fields = ("from_status", "to_status", "at", "actor", "evidence_url", "reason")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(AcceptanceCriterion)
class AcceptanceCriterionAdmin(admin.ModelAdmin):
    """Criteria change status through the board and API services; here they are inspected."""

    list_display = ("title", "item", "track", "status", "required", "resolved_at")
    list_filter = ("track", "status", "category", "required")
    list_select_related = ("item",)
    search_fields = ("title", "item__key")
    inlines = [CriterionChangeInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(GateRefusal)
class GateRefusalAdmin(ReadOnlyAdmin):
    list_display = ("item", "gate_column", "to_column", "at", "source")
    list_select_related = ("item", "gate_column", "to_column")
    search_fields = ("item__key",)
