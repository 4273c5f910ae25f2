"""Admin for ops leads. Writes that carry rules (creating and moving items) go through
``boards.services``; the Transition log is read-only here."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect

from boards import services
from boards.models import Block, Board, BoardMembership, Column, Transition, WorkItem
from flowboard.admin import ReadOnlyAdmin
from flowboard.errors import FlowboardError
from metrics import services as metrics_services


class ColumnInline(admin.TabularInline):
    model = Column
    extra = 0
    fields = ("position", "name", "stage", "activity", "wip_limit", "wip_policy")
    ordering = ("position",)


class MembershipInline(admin.TabularInline):
    model = BoardMembership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Board)
class BoardAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "time_zone", "commitment_column", "delivery_column")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [ColumnInline, MembershipInline]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if change:
            metrics_services.board_setup_changed(form.instance)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in ("commitment_column", "delivery_column"):
            board_id = request.resolver_match.kwargs.get("object_id")
            kwargs["queryset"] = Column.objects.filter(board_id=board_id or 0)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class WorkItemForm(forms.ModelForm):
    move_to = forms.ModelChoiceField(
        queryset=Column.objects.none(),
        required=False,
        help_text="Moves go through the same checks as the board: WIP limits and gates.",
    )

    class Meta:
        model = WorkItem
        fields = (
            "board",
            "title",
            "description",
            "kind",
            "class_of_service",
            "due_date",
            "external_source",
            "external_key",
            "external_url",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["move_to"].queryset = self.instance.board.columns.all()
            self.fields["move_to"].initial = self.instance.column_id
            self.fields["board"].disabled = True


@admin.register(WorkItem)
class WorkItemAdmin(admin.ModelAdmin):
    form = WorkItemForm
    list_display = ("key", "title", "board", "kind", "column", "started_at", "delivered_at")
    list_filter = ("board", "kind", "class_of_service", "column__stage")
    list_select_related = ("board", "column")
    search_fields = ("key", "title", "external_key")
    readonly_fields = ("key", "column", "started_at", "delivered_at", "discarded_at", "version")

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return fields if obj is not None else [f for f in fields if f != "move_to"]

    def response_add(self, request, obj, post_url_continue=None):
        if obj.pk is None:  # the service refused it; its message is on the page
            return HttpResponseRedirect(request.path)
        return super().response_add(request, obj, post_url_continue)

    def log_addition(self, request, obj, message):
        if obj.pk is not None:
            return super().log_addition(request, obj, message)
        return None

    def save_model(self, request, obj, form, change):
        try:
            if not change:
                created = services.work_item_create(
                    obj.board,
                    title=obj.title,
                    description=obj.description,
                    kind=obj.kind,
                    class_of_service=obj.class_of_service,
                    due_date=obj.due_date,
                    external_source=obj.external_source,
                    external_key=obj.external_key,
                    external_url=obj.external_url,
                    actor=request.user,
                    source=Transition.Source.ADMIN,
                )
                obj.pk, obj.key = created.pk, created.key
                return
            obj.save(
                update_fields=[
                    "title",
                    "description",
                    "kind",
                    "class_of_service",
                    "due_date",
                    "external_source",
                    "external_key",
                    "external_url",
                    "updated_at",
                ]
            )
            target = form.cleaned_data.get("move_to")
            if target is not None and target.pk != obj.column_id:
                services.work_item_move(
                    obj, target, actor=request.user, source=Transition.Source.ADMIN
                )
        except FlowboardError as error:
            messages.error(request, error.message)


@admin.register(Transition)
class TransitionAdmin(ReadOnlyAdmin):
    """The event log: viewable, never editable."""

    list_display = ("item", "from_column", "to_column", "at", "actor", "source")
    list_filter = ("board", "source")
    list_select_related = ("item", "from_column", "to_column", "actor")
    search_fields = ("item__key",)
    date_hierarchy = "at"


@admin.register(Block)
class BlockAdmin(ReadOnlyAdmin):
    """Blocker history. Blocks start and end on the board and through the API (the services
    check them and queue the metrics); here they are read."""

    list_display = ("item", "reason", "started_at", "ended_at")
    list_filter = ("reason",)
    list_select_related = ("item",)
    search_fields = ("item__key", "note")
