"""A card: its detail (the drawer), and every change made from the board, each through its one
service: create, move (drag and drop, or "Move to..."), edit, discard, block and unblock, and
the readiness checklist (add, meet, waive, reopen a criterion)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from boards import services
from boards.models import Block, Transition, WorkItem
from boards.permissions import Role
from flowboard.errors import FlowboardError, GateBlocked, InvalidInput, StaleVersion
from readiness import services as readiness
from readiness.models import AcceptanceCriterion, Track
from web import selectors
from web.forms import (
    BlockForm,
    CardEditForm,
    CardForm,
    CriterionForm,
    DiscardForm,
    MeetForm,
    ReopenForm,
    WaiveForm,
    errors_text,
)
from web.views.common import answers_refusals, board_access, card_of, column_of, wants_json

WEB = Transition.Source.WEB
CHANGED = "board-changed"  # the event the board's script refreshes the columns on


def _drawer(request, access, item, *, notice="", error="", status=200, forms=None):
    """The card's detail: the drawer (for htmx) or a page of its own."""
    item.refresh_from_db()
    criteria = list(
        AcceptanceCriterion.objects.filter(item=item)
        .select_related("gate_column", "resolved_by")
        .order_by("track", "gate_column__position", "id")
    )
    tracks = dict(Track.choices)
    groups: dict[str, list[AcceptanceCriterion]] = {}
    for criterion in criteria:
        groups.setdefault(criterion.track, []).append(criterion)
    open_block = Block.objects.filter(item=item, ended_at__isnull=True).first()
    columns = list(access.board.columns.order_by("position"))
    forms = forms or {}
    context = {
        "access": access,
        "item": item,
        "column": next(c for c in columns if c.pk == item.column_id),
        "columns": columns,
        "groups": [(track, tracks.get(track, track), group) for track, group in groups.items()],
        "met": sum(1 for c in criteria if c.required and c.status != "pending"),
        "required": sum(1 for c in criteria if c.required),
        "open_block": open_block,
        "history": selectors.card_history(item),
        "edit_form": forms.get("edit") or CardEditForm.for_item(item),
        "block_form": forms.get("block")
        or BlockForm(criteria=[c for c in criteria if c.status == "pending"]),
        "discard_form": forms.get("discard") or DiscardForm(),
        "criterion_form": forms.get("criterion") or CriterionForm(columns=columns),
        "meet_form": MeetForm(),
        "waive_form": WaiveForm(),
        "reopen_form": ReopenForm(),
        "notice": notice,
        "error": error,
    }
    htmx = request.headers.get("HX-Request")
    template = "web/_card.html" if htmx else "web/card.html"
    response = render(request, template, context, status=status)
    if notice:
        response["HX-Trigger"] = CHANGED
    return response


@login_required
@require_GET
@answers_refusals
def card_detail(request, slug, key):
    access = board_access(request, slug)
    return _drawer(request, access, card_of(access, key))


def _done(request, access, item, notice):
    """After a change from the drawer: the drawer again with a notice (the board refreshes), or,
    without scripts, back to the board."""
    if request.headers.get("HX-Request"):
        return _drawer(request, access, item, notice=notice)
    messages.success(request, notice)
    return redirect("web:card", slug=access.board.slug, key=item.key)


def _failed(request, access, item, error: FlowboardError | str, forms=None, status=None):
    message = error.message if isinstance(error, FlowboardError) else error
    status = status or (error.http_status if isinstance(error, FlowboardError) else 422)
    if request.headers.get("HX-Request"):
        return _drawer(request, access, item, error=message, status=status, forms=forms)
    messages.error(request, message)
    return redirect("web:card", slug=access.board.slug, key=item.key)


@login_required
@require_POST
@answers_refusals
def card_create(request, slug):
    """A new card at the top of a column (the first, or an upstream one): WIP limits and gates
    apply; it gets its readiness criteria from the board's templates."""
    access = board_access(request, slug, Role.MEMBER)
    form = CardForm(request.POST)
    if not form.is_valid():
        raise InvalidInput(errors_text(form))
    data = form.cleaned_data
    column = column_of(access, data["column"])
    first = access.board.columns.order_by("position").first()
    if column.pk != first.pk and column.stage != column.Stage.UPSTREAM:
        raise InvalidInput(
            f"Cards are added to {first.name} or an upstream column, not to {column.name}: "
            "add it there and move it."
        )
    item = services.work_item_create(
        access.board,
        title=data["title"],
        kind=data["kind"],
        class_of_service=data["class_of_service"],
        due_date=data["due_date"],
        column=column,
        actor=request.user,
        source=WEB,
    )
    top = access.board.items.filter(column=column).exclude(pk=item.pk).order_by("rank").first()
    if top is not None:
        services.work_item_reorder(item, before=top)
    if wants_json(request):
        return JsonResponse({"created": item.key, "column": column.name}, status=201)
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Trigger"] = CHANGED
        return response
    messages.success(request, f"{item.key} added to {column.name}.")
    return redirect("web:board", slug=slug)


def gate_sentence(error: GateBlocked) -> str:
    """The refusal in words, per gate: "Legal review: 2 criteria pending: Privacy notice
    updated (Legal), Support macro ready (Support)"."""
    tracks = dict(Track.choices)
    by_gate: dict[int, list[dict]] = {}
    for criterion in error.detail.get("unmet", []):
        by_gate.setdefault(criterion["gate_column_id"], []).append(criterion)
    names = dict(zip(error.detail.get("gate_ids", []), error.detail.get("gates", []), strict=False))
    parts = []
    for gate_id, unmet in by_gate.items():
        listed = ", ".join(f"{c['title']} ({tracks.get(c['track'], c['track'])})" for c in unmet)
        count = f"{len(unmet)} criteri{'on' if len(unmet) == 1 else 'a'} pending"
        parts.append(f"{names.get(gate_id, error.detail.get('column', ''))}: {count}: {listed}")
    return "; ".join(parts) or error.message


@login_required
@require_POST
@answers_refusals
def card_move(request, slug, key):
    """Drag and drop, and "Move to...": the move service, with the card's version (a move based
    on a stale view is refused) and its new neighbours for the rank. Answers JSON for the
    board's script; a refusal is its code and the reason in words."""
    access = board_access(request, slug, Role.MEMBER)
    item = card_of(access, key)
    column = column_of(access, request.POST.get("to_column"))
    neighbours = {}
    for side in ("before", "after"):
        other_key = request.POST.get(side, "")
        if other_key:
            neighbours[side] = get_object_or_404(WorkItem, board=access.board, key=other_key)
    version = request.POST.get("version", "")
    try:
        result = services.work_item_move(
            item,
            column,
            actor=request.user,
            source=WEB,
            expected_version=int(version) if version.isdigit() else None,
            **neighbours,
        )
        if result.transition is None and not result.replayed and neighbours:
            services.work_item_reorder(item, **neighbours)  # a move inside its own column
    except FlowboardError as error:
        body = error.as_dict()
        if isinstance(error, GateBlocked):
            body["detail"] = gate_sentence(error)
            body["checklist_url"] = reverse("web:card", args=[slug, key])
        elif isinstance(error, StaleVersion):
            body["detail"] = (
                f"{key} was moved or changed by someone else since your board was loaded: "
                "the board is refreshed; try again if you still want to move it."
            )
        if wants_json(request):
            return JsonResponse(body, status=error.http_status)
        messages.error(request, body["detail"])
        return redirect("web:board", slug=slug)
    item.refresh_from_db()
    body = {
        "moved": result.transition is not None,
        "key": key,
        "column": column.name,
        "version": item.version,
        "board_version": selectors.board_version(access.board),
        "soft_limit_exceeded": result.soft_limit_exceeded,
    }
    if result.soft_limit_exceeded:
        body["detail"] = f"{column.name} is now over its WIP limit of {column.wip_limit}."
    if wants_json(request):
        return JsonResponse(body)
    messages.success(request, f"{key} moved to {column.name}.")
    return redirect("web:board", slug=slug)


@login_required
@require_POST
@answers_refusals
def card_edit(request, slug, key):
    access = board_access(request, slug, Role.MEMBER)
    item = card_of(access, key)
    form = CardEditForm.for_item(item, request.POST)
    if not form.is_valid():
        return _failed(request, access, item, errors_text(form), forms={"edit": form})
    data = form.cleaned_data
    version = data.pop("version")
    try:
        services.work_item_update(item, actor=request.user, expected_version=version, **data)
    except FlowboardError as error:
        return _failed(request, access, item, error)
    return _done(request, access, item, f"{item.key} saved.")


@login_required
@require_POST
@answers_refusals
def card_discard(request, slug, key):
    access = board_access(request, slug, Role.MEMBER)
    item = card_of(access, key)
    form = DiscardForm(request.POST)
    if not form.is_valid():
        return _failed(request, access, item, "Discarding a card needs a reason.")
    try:
        services.work_item_discard(item, actor=request.user, reason=form.cleaned_data["reason"])
    except FlowboardError as error:
        return _failed(request, access, item, error)
    return _done(request, access, item, f"{item.key} discarded: it leaves the board.")


@login_required
@require_POST
@answers_refusals
def card_block(request, slug, key):
    access = board_access(request, slug, Role.MEMBER)
    item = card_of(access, key)
    criteria = list(item.criteria.filter(status="pending"))
    form = BlockForm(request.POST, criteria=criteria)
    if not form.is_valid():
        return _failed(request, access, item, errors_text(form), forms={"block": form})
    data = form.cleaned_data
    criterion = next((c for c in criteria if c.pk == data["criterion"]), None)
    try:
        services.block_start(
            item,
            actor=request.user,
            reason=data["reason"],
            note=data["note"],
            criterion=criterion,
        )
    except FlowboardError as error:
        return _failed(request, access, item, error)
    return _done(request, access, item, f"{item.key} is blocked.")


@login_required
@require_POST
@answers_refusals
def card_unblock(request, slug, key):
    access = board_access(request, slug, Role.MEMBER)
    item = card_of(access, key)
    try:
        services.block_end(item, actor=request.user)
    except FlowboardError as error:
        return _failed(request, access, item, error)
    return _done(request, access, item, f"{item.key} is no longer blocked.")


@login_required
@require_POST
@answers_refusals
def criterion_add(request, slug, key):
    access = board_access(request, slug, Role.MEMBER)
    item = card_of(access, key)
    columns = list(access.board.columns.order_by("position"))
    form = CriterionForm(request.POST, columns=columns)
    if not form.is_valid():
        return _failed(request, access, item, errors_text(form), forms={"criterion": form})
    data = form.cleaned_data
    try:
        readiness.criterion_add(
            item,
            title=data["title"],
            track=data["track"],
            gate_column=next(c for c in columns if c.pk == data["gate_column"]),
            required=data["required"],
            actor=request.user,
        )
    except FlowboardError as error:
        return _failed(request, access, item, error)
    return _done(request, access, item, f"Criterion {data['title']!r} added.")


@login_required
@require_POST
@answers_refusals
def criterion_change(request, slug, key, criterion_id, action):
    """Meet (optional evidence link), waive (a reason) or reopen a criterion of the card."""
    access = board_access(request, slug, Role.MEMBER)
    item = card_of(access, key)
    criterion = get_object_or_404(AcceptanceCriterion, item=item, pk=criterion_id)
    form_class = {"meet": MeetForm, "waive": WaiveForm, "reopen": ReopenForm}.get(action)
    if form_class is None:
        raise Http404(f"A criterion can be met, waived or reopened, not {action!r}.")
    form = form_class(request.POST)
    if not form.is_valid():
        return _failed(request, access, item, errors_text(form))
    data = form.cleaned_data
    try:
        if action == "meet":
            readiness.criterion_meet(
                criterion, actor=request.user, evidence_url=data["evidence_url"]
            )
            notice = f"{criterion.title} met."
        elif action == "waive":
            readiness.criterion_waive(criterion, actor=request.user, reason=data["reason"])
            notice = f"{criterion.title} waived."
        else:
            readiness.criterion_reopen(criterion, actor=request.user, reason=data["reason"])
            notice = f"{criterion.title} reopened."
    except FlowboardError as error:
        return _failed(request, access, item, error)
    return _done(request, access, item, notice)
