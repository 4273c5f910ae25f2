"""Admin for ops leads: boards and their set-up, work items, and the history (read-only).

The admin is a surface like any other: ``save_model`` and ``save_related`` only call services
(``boards.setup`` for a board and its columns, ``boards.services`` for items). The forms check
what can be checked before saving, with the services' own rules, so a bad set-up is a form
error; what only the service can decide (a WIP limit, a gate, a stale version) rolls the save
back with the reason (``flowboard.admin.ServiceAdmin``).
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from boards import services, setup
from boards.models import Block, Board, BoardMembership, Column, Transition, WorkItem
from flowboard.admin import ReadOnlyAdmin, ServiceAdmin
from flowboard.errors import FlowboardError


class ColumnFormSet(BaseInlineFormSet):
    """The board's columns as one set-up: ordered by the positions given, checked whole
    (``setup.check_setup``) against the commitment and delivery named on the board's form."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        kept = [
            form
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE", False)
        ]
        positions = [form.cleaned_data["position"] for form in kept]
        repeated = sorted({p for p in positions if positions.count(p) > 1})
        if repeated:
            raise ValidationError(
                f"Two columns have the position {repeated[0]}: give each column its own."
            )
        for form in self.deleted_forms:
            if form.instance.pk:
                why = setup.column_in_use(form.instance)
                if why:
                    raise ValidationError(f"Cannot delete the column {why}")
        kept.sort(key=lambda form: form.cleaned_data["position"])
        self.specs = [
            setup.ColumnSpec(
                name=form.cleaned_data["name"],
                stage=form.cleaned_data["stage"],
                activity=form.cleaned_data["activity"],
                wip_limit=form.cleaned_data["wip_limit"],
                wip_policy=form.cleaned_data["wip_policy"],
                id=form.instance.pk,
            )
            for form in kept
        ]
        points = getattr(self.instance, "_points", None)
        if points is None:  # the board's own form had errors
            return
        try:
            setup.check_setup(self.specs, *points)
        except FlowboardError as error:
            raise ValidationError(error.message) from None


class ColumnForm(forms.ModelForm):
    def _get_validation_exclusions(self):
        # Names and positions are checked across the whole set-up by the formset: a swap of two
        # positions passes through a duplicate that the unique constraint would refuse here.
        return super()._get_validation_exclusions() | {"position", "name"}


class ColumnInline(admin.TabularInline):
    model = Column
    form = ColumnForm
    formset = ColumnFormSet
    extra = 0
    fields = ("position", "name", "stage", "activity", "wip_limit", "wip_policy")
    ordering = ("position",)


class MembershipInline(admin.TabularInline):
    model = BoardMembership
    extra = 0
    autocomplete_fields = ("user",)


class BoardForm(forms.ModelForm):
    commitment = forms.CharField(
        max_length=80,
        help_text="The name of the column where the cycle starts (one of the columns below).",
    )
    delivery = forms.CharField(
        max_length=80,
        help_text="The name of the column where the cycle ends; it and the columns after it "
        "count as delivered.",
    )

    class Meta:
        model = Board
        fields = ("name", "slug", "key_prefix", "time_zone")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        board = self.instance
        if board.commitment_column_id:
            self.fields["commitment"].initial = board.commitment_column.name
        if board.delivery_column_id:
            self.fields["delivery"].initial = board.delivery_column.name


@admin.register(Board)
class BoardAdmin(ServiceAdmin):
    """A board and its columns are saved together by ``boards.setup``, which checks the whole
    new set-up (a reorder can't put the commitment column after the delivery column) and queues
    the board's metrics for a recompute."""

    form = BoardForm
    list_display = ("name", "slug", "time_zone", "commitment_column", "delivery_column")
    list_select_related = ("commitment_column", "delivery_column")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [ColumnInline, MembershipInline]

    def save_form(self, request, form, change):
        board = super().save_form(request, form, change)
        # For the columns' formset, which checks the set-up against them.
        board._points = (form.cleaned_data["commitment"], form.cleaned_data["delivery"])
        return board

    def save_model(self, request, obj, form, change):
        """Nothing yet: the board is written with its columns, in ``save_related``."""

    def save_related(self, request, form, formsets, change):
        columns = next(f for f in formsets if f.model is Column)
        data = form.cleaned_data
        fields = {
            "name": data["name"],
            "slug": data["slug"],
            "key_prefix": data["key_prefix"],
            "time_zone": data["time_zone"],
        }
        commitment, delivery = data["commitment"], data["delivery"]
        if change:
            board = setup.board_update(
                form.instance,
                **fields,
                columns=columns.specs,
                commitment=commitment,
                delivery=delivery,
            )
        else:
            board = setup.board_create(
                **fields, columns=columns.specs, commitment=commitment, delivery=delivery
            )
            form.instance.pk = board.pk
            form.instance._state.adding = False
        # What the change message reads of a formset that saved its own rows.
        columns.new_objects, columns.changed_objects, columns.deleted_objects = [], [], []
        for formset in formsets:
            if formset.model is not Column:
                formset.instance = board
                formset.save()


class WorkItemForm(forms.ModelForm):
    move_to = forms.ModelChoiceField(
        queryset=Column.objects.none(),
        required=False,
        help_text="Moves go through the same checks as the board: WIP limits and gates.",
    )
    discard_with_reason = forms.CharField(
        max_length=300,
        required=False,
        label="Discard with reason",
        help_text="Fill in to close the item without delivering it (it is kept, not deleted).",
    )
    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

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
            self.fields["expected_version"].initial = self.instance.version


@admin.register(WorkItem)
class WorkItemAdmin(ServiceAdmin):
    """Items are created, edited, moved and discarded through ``boards.services``; an edit made
    on a page loaded before someone else's change is refused (the item's version)."""

    form = WorkItemForm
    list_display = ("key", "title", "board", "kind", "column", "started_at", "delivered_at")
    list_filter = ("board", "kind", "class_of_service", "column__stage")
    list_select_related = ("board", "column")
    search_fields = ("key", "title", "external_key")
    readonly_fields = ("key", "column", "started_at", "delivered_at", "discarded_at", "version")

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is None:
            return [f for f in fields if f not in ("move_to", "discard_with_reason")]
        return fields

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            created = services.work_item_create(
                data["board"],
                title=data["title"],
                description=data["description"],
                kind=data["kind"],
                class_of_service=data["class_of_service"],
                due_date=data["due_date"],
                external_source=data["external_source"],
                external_key=data["external_key"],
                external_url=data["external_url"],
                actor=request.user,
                source=Transition.Source.ADMIN,
            )
            obj.pk, obj.key, obj._state.adding = created.pk, created.key, False
            return
        item = WorkItem.objects.get(pk=obj.pk)
        services.work_item_update(
            item,
            actor=request.user,
            expected_version=data.get("expected_version"),
            **{name: data[name] for name in services.EDITABLE},
        )
        target = data.get("move_to")
        if target is not None and target.pk != item.column_id:
            services.work_item_move(
                item, target, actor=request.user, source=Transition.Source.ADMIN
            )
        if data.get("discard_with_reason"):
            services.work_item_discard(item, actor=request.user, reason=data["discard_with_reason"])


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
