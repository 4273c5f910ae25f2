"""Admin for readiness: criteria templates (through ``readiness.services``, validated), the
criteria of items (read, and retired with a reason, never deleted) and their history.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse

from boards.models import Column, WorkItem
from flowboard.admin import ActsOnChangePermission, ReadOnlyAdmin, ServiceAdmin
from flowboard.errors import FlowboardError
from readiness import services
from readiness.models import AcceptanceCriterion, CriterionChange, CriterionTemplate, GateRefusal


class CriterionTemplateForm(forms.ModelForm):
    applies_to_kinds = forms.MultipleChoiceField(
        choices=WorkItem.Kind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The kinds of work item that get this criterion; none ticked means every kind.",
    )

    class Meta:
        model = CriterionTemplate
        fields = (
            "board",
            "title",
            "description",
            "category",
            "track",
            "gate_column",
            "required",
            "applies_to_kinds",
            "active",
            "position",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        gate = self.fields["gate_column"]
        gate.queryset = Column.objects.select_related("board").order_by("board__name", "position")
        gate.label_from_instance = lambda column: f"{column.board.name}: {column.name}"
        if self.instance.pk:
            self.fields["board"].disabled = True
            gate.queryset = gate.queryset.filter(board=self.instance.board)

    def clean(self):
        data = super().clean()
        board = data.get("board") or (self.instance.board if self.instance.pk else None)
        if board is None or self.errors:
            return data
        fields = {k: v for k, v in data.items() if k not in ("board", "position")}
        try:
            data.update(services.template_fields(board, fields))
        except FlowboardError as error:
            field = error.detail.get("field")
            message = {field: error.message} if field in self.fields else error.message
            raise ValidationError(message) from None
        return data


@admin.register(CriterionTemplate)
class CriterionTemplateAdmin(ServiceAdmin):
    """Templates are what new items get; turn one off with Active (it stays, as do the
    criteria already copied from it)."""

    form = CriterionTemplateForm
    list_display = ("title", "board", "track", "category", "gate_column", "required", "active")
    list_filter = ("board", "track", "category", "required", "active")
    list_select_related = ("board", "gate_column")
    search_fields = ("title",)

    def save_model(self, request, obj, form, change):
        data = dict(form.cleaned_data)
        board = data.pop("board", None) or obj.board
        if change:
            services.template_update(CriterionTemplate.objects.get(pk=obj.pk), **data)
        else:
            created = services.template_create(board, **data)
            obj.pk, obj._state.adding = created.pk, False


class CriterionChangeInline(admin.TabularInline):
    model = CriterionChange
    extra = 0
    can_delete = False
    fields = ("from_status", "to_status", "at", "actor", "evidence_url", "reason")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class RetireForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Kept with each criterion's history, as the reason of its waiver.",
    )


@admin.register(AcceptanceCriterion)
class AcceptanceCriterionAdmin(ActsOnChangePermission, admin.ModelAdmin):
    """Criteria change status on the board and through the API; here they are inspected, and
    retired (waived with a reason) when no longer wanted. They are never deleted: their
    history, and the gate they guard, would go with them."""

    list_display = ("title", "item", "track", "status", "required", "resolved_at")
    list_filter = ("track", "status", "category", "required")
    list_select_related = ("item",)
    search_fields = ("title", "item__key")
    inlines = [CriterionChangeInline]
    actions = ["retire"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(
        description="Retire the selected criteria (waive them, with a reason)", permissions=["act"]
    )
    def retire(self, request, queryset):
        form = RetireForm(request.POST if "reason" in request.POST else None)
        if not form.is_valid():
            return TemplateResponse(
                request,
                "admin/readiness/retire_criteria.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Retire criteria",
                    "criteria": queryset.select_related("item"),
                    "form": form,
                    "opts": self.model._meta,
                    "action": "retire",
                    "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
                },
            )
        retired, refused = 0, []
        for criterion in queryset.select_related("item"):
            try:
                before = criterion.status
                services.criterion_retire(
                    criterion, actor=request.user, reason=form.cleaned_data["reason"]
                )
                retired += before == AcceptanceCriterion.Status.PENDING
            except FlowboardError as error:
                refused.append(f"{criterion.item.key} {criterion.title}: {error.message}")
        self.message_user(request, f"Retired {retired} criteria (met or waived ones are kept).")
        for message in refused:
            self.message_user(request, message, messages.WARNING)
        return None


@admin.register(GateRefusal)
class GateRefusalAdmin(ReadOnlyAdmin):
    list_display = ("item", "gate_column", "to_column", "at", "source")
    list_select_related = ("item", "gate_column", "to_column")
    search_fields = ("item__key",)
