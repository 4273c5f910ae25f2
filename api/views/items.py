"""Work items: list (filtered), create, read, update fields (If-Match), discard, move, and upsert
by external key. Every change goes through ``boards.services``; a refusal is its 4xx in the one
error shape (``flowboard.api``)."""

import re

from django.db import transaction
from django.db.models import Exists, OuterRef
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response

from api.auth import board_access, is_token, require, role_of
from api.filters import ItemFilter
from api.models import MoveReceipt
from api.serializers import (
    MAX_ID,
    DiscardInput,
    ItemCreate,
    ItemSerializer,
    ItemUpdate,
    ItemUpsert,
    MoveInput,
    MoveOutput,
)
from api.views.common import ApiView, etag, expected_version, if_match_version, valid
from boards import services
from boards.models import Block, Transition, WorkItem
from boards.permissions import Role
from flowboard import validation
from flowboard.api import Problem
from flowboard.errors import InvalidInput, MalformedInput
from integrations.mapping import column_for_status

IDEMPOTENCY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Makes a retry safe: the same key with the same body returns the first answer "
    "again (marked Idempotent-Replayed: true) and writes nothing; "
    "with another body, 422. Up to 200 visible ASCII characters.",
    pattern=r"^[!-~]{1,200}$",
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='The item\'s ETag ("3", W/"3", a list, or *): a stale one is a 412.',
    pattern=r'^(\*|(W/)?"[0-9]{1,9}"(\s*,\s*(W/)?"[0-9]{1,9}")*)$',
)
REPLAYED = OpenApiParameter(
    "Idempotent-Replayed",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200],
    enum=["true"],
    description="Present on the answer to a retry with the same Idempotency-Key and body: the "
    "first answer again (body and ETag), and nothing was written.",
)
REFUSALS = {
    409: OpenApiResponse(Problem, description="Refused by the board's state: a WIP limit "
                         "(wip_limit), a gate (gate_blocked, with unmet), a discarded item"),
    412: OpenApiResponse(Problem, description="If-Match no longer matches the item's version"),
    422: OpenApiResponse(Problem, description="Well-formed, but refused by a rule: a column not "
                         "on the board, a time out of order, an idempotency key reused"),
}  # fmt: skip


def with_blocked(queryset):
    return queryset.select_related("column").annotate(
        is_blocked=Exists(Block.objects.filter(item=OuterRef("pk"), ended_at__isnull=True))
    )


def item_access(request, item_id, needed: str = Role.VIEWER) -> WorkItem:
    """The item, if its board is one of the caller's (404 otherwise), with the role needed."""
    item = None
    if item_id <= MAX_ID:
        blocked = Exists(Block.objects.filter(item=OuterRef("pk"), ended_at__isnull=True))
        item = WorkItem.objects.annotate(is_blocked=blocked).filter(pk=item_id).first()
    token = request.auth if is_token(request) else None
    if item is not None and token is not None and token.board_id == item.board_id:
        item.board = token.board  # read with the token: no query
    role = role_of(request, item.board) if item is not None else None
    if role is None:  # no such item, or on a board the caller is not a member of: the same 404
        raise exceptions.NotFound("No item with this id on your boards.")
    require(role, needed)
    return item


def item_response(item: WorkItem, code=status.HTTP_200_OK) -> Response:
    fresh = with_blocked(WorkItem.objects.filter(pk=item.pk)).get()
    response = Response(ItemSerializer(fresh).data, status=code)
    response["ETag"] = etag(fresh)
    return response


def idempotency_key(request) -> str | None:
    """The ``Idempotency-Key`` header: 1 to 200 visible ASCII characters (400 otherwise)."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not re.fullmatch(r"[!-~]{1,200}", key):
        raise MalformedInput(
            "The Idempotency-Key must be 1 to 200 visible ASCII characters (no spaces), such "
            "as a UUID.",
            field="Idempotency-Key",
        )
    return key


def history_time(request, data: dict, field: str):
    """A time of history (``at``, ``created_at``): integration tokens only."""
    if field in data and not is_token(request):
        raise InvalidInput(
            "Only integration tokens may date a change; leave it out to use now.", field=field
        )
    return data.get(field)


class ItemList(ApiView):
    listing = True
    serializer_class = ItemSerializer
    filterset_class = ItemFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator
            return WorkItem.objects.none()
        board, _ = board_access(self.request, self.kwargs["slug"])
        self.board = board  # the filters' calendar (overdue is by the board's time zone)
        return with_blocked(WorkItem.objects.filter(board=board))

    @extend_schema(
        summary="The board's work items (filter by column, kind, blocked...)",
        responses=ItemSerializer(many=True),
    )
    def get(self, request, slug):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(ItemSerializer(page, many=True).data)

    @extend_schema(
        summary="Create a work item",
        request=ItemCreate,
        responses={201: ItemSerializer, **REFUSALS},
    )
    def post(self, request, slug):
        board, _ = board_access(request, slug, Role.MEMBER)
        data = valid(ItemCreate, request.data, board=board)
        created_at = history_time(request, data, "created_at")
        item = services.work_item_create(
            board,
            actor=request.user,
            source=Transition.Source.API,
            title=data["title"],
            description=data.get("description", ""),
            kind=data.get("kind", WorkItem.Kind.FEATURE),
            class_of_service=data.get("class_of_service", WorkItem.ClassOfService.STANDARD),
            due_date=data.get("due_date"),
            column=data.get("column"),
            external_source=data.get("external_source", ""),
            external_key=data.get("external_key", ""),
            external_url=data.get("external_url", ""),
            created_at=created_at,
        )
        return item_response(item, status.HTTP_201_CREATED)


class ItemDetail(ApiView):
    serializer_class = ItemSerializer

    @extend_schema(summary="A work item (its ETag carries its version)")
    def get(self, request, item_id):
        return item_response(item_access(request, item_id))

    @extend_schema(
        summary="Change a work item's fields",
        description="Title, description, kind (a new kind gets its readiness criteria), class of "
        "service, due date and external link. The column changes only by a move. With "
        "If-Match, a stale version is a 412.",
        parameters=[IF_MATCH],
        request=ItemUpdate,
        responses={200: ItemSerializer, **REFUSALS},
    )
    def patch(self, request, item_id):
        item = item_access(request, item_id, Role.MEMBER)
        data = valid(ItemUpdate, request.data, board=item.board)
        version = expected_version(request, item)
        services.work_item_update(item, actor=request.user, expected_version=version, **data)
        return item_response(item)


class ItemMove(ApiView):
    serializer_class = MoveOutput

    @extend_schema(
        summary="Move a work item to a column: the only way its column changes",
        description="Refused with 409 over a hard WIP limit (code wip_limit) or at a gate with "
        "pending required criteria (code gate_blocked, with the unmet criteria). An "
        "Idempotency-Key makes retries safe.",
        parameters=[IDEMPOTENCY, IF_MATCH, REPLAYED],
        request=MoveInput,
        responses={200: MoveOutput, **REFUSALS},
    )
    def post(self, request, item_id):
        item = item_access(request, item_id, Role.MEMBER)
        key = idempotency_key(request)
        data = valid(MoveInput, request.data, board=item.board)
        # With a key, a retry must find its first answer even though that move changed the
        # version: the service looks for the replay first, then compares If-Match under the lock.
        version = if_match_version(request) if key else expected_version(request, item)
        at = history_time(request, data, "at")
        neighbours = {}
        for side in ("before", "after"):
            if side in data:
                neighbour = WorkItem.objects.filter(board=item.board, pk=data[side]).first()
                if neighbour is None:
                    raise InvalidInput(f"No item {data[side]} on this board.", field=side)
                neighbours[side] = neighbour
        to_column = data["to_column"]

        def answer(result) -> dict:
            # The service leaves the item as it now is (column, rank, version, times); a move
            # does not change whether it is blocked, read with it by item_access.
            moved = result.item
            moved.column = to_column if moved.column_id == to_column.pk else moved.column
            return {
                "moved": result.transition is not None,
                "transition": result.transition.pk if result.transition else None,
                "soft_limit_exceeded": result.soft_limit_exceeded,
                "item": ItemSerializer(moved).data,
            }

        def keep_receipt(result) -> None:
            body = answer(result)
            MoveReceipt.keep(result.transition, body, etag(result.item))
            receipt.update(body=body)

        receipt = {}
        result = services.work_item_move(
            item,
            to_column,
            actor=request.user,
            source=Transition.Source.API,
            at=at,
            idempotency_key=key,
            expected_version=version,
            within=keep_receipt if key else None,
            **neighbours,
        )
        if result.replayed:
            return replayed_move(result, answer)
        response = Response(receipt.get("body") or answer(result))
        response["ETag"] = etag(result.item)
        return response


def replayed_move(result, answer) -> Response:
    """A retry of a move made with the same Idempotency-Key and body: the first answer again,
    from its receipt, marked ``Idempotent-Replayed: true``. A receipt already pruned is
    answered from the log (the same transition) and the item as it is now."""
    kept = MoveReceipt.objects.filter(transition_id=result.transition.pk).first()
    if kept is not None:
        response = Response(kept.answer())
        response["ETag"] = kept.etag
    else:
        response = Response(answer(result))
        response["ETag"] = etag(result.item)
    response["Idempotent-Replayed"] = "true"
    return response


class ItemDiscard(ApiView):
    serializer_class = ItemSerializer

    @extend_schema(
        summary="Discard a work item (closed without delivery, with a reason)",
        parameters=[IF_MATCH],
        request=DiscardInput,
        responses={200: ItemSerializer, **REFUSALS},
    )
    def post(self, request, item_id):
        item = item_access(request, item_id, Role.MEMBER)
        data = valid(DiscardInput, request.data)
        version = expected_version(request, item)
        services.work_item_discard(
            item, actor=request.user, reason=data["reason"], expected_version=version
        )
        return item_response(item)


def path_text(value: str, name: str, field: str) -> str:
    """A source or key from the path, exactly as it is stored (the item is found by it again):
    no surrounding space (the services would strip it), and the services' own text rule; a 400
    otherwise."""
    try:
        if value != value.strip():
            raise InvalidInput(f"The {name} {value!r} has spaces around it.")
        return validation.text(value, WorkItem, field, f"The {name}", strip=False)
    except InvalidInput as error:
        raise MalformedInput(error.message, field=name) from None


# Text exactly as it is stored: no control character, and no space at either end.
PATH_TEXT = r"^[^\s\x00-\x1f\x7f]([^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*[^\s\x00-\x1f\x7f])?$"


def path_parameter(name: str, field: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        {"type": "string", "minLength": 1, "maxLength": WorkItem._meta.get_field(field).max_length,
         "pattern": PATH_TEXT},
        OpenApiParameter.PATH,
        description=description,
    )  # fmt: skip


class ItemUpsertByKey(ApiView):
    serializer_class = ItemSerializer

    @extend_schema(
        summary="Create or update the item of an external system by its key",
        description="Creates the item (201) or updates its fields (200). A status is mapped to "
        "a column (the board's integration of that source, else a column of the same name) "
        "and the item is moved there through the move service.",
        request=ItemUpsert,
        parameters=[
            path_parameter("source", "external_source", "The system: jira, github, zendesk..."),
            path_parameter("key", "external_key", "Its key there (a / is part of it)."),
        ],
        responses={200: ItemSerializer, 201: ItemSerializer, **REFUSALS},
    )
    def put(self, request, slug, source, key):
        board, _ = board_access(request, slug, Role.MEMBER)
        source = path_text(source, "source", "external_source")
        key = path_text(key, "key", "external_key")
        data = dict(valid(ItemUpsert, request.data, board=board))
        status_name = data.pop("status", None)
        column = None
        if status_name is not None:
            column = column_for_status(board, source, status_name)
            if column is None:
                raise InvalidInput(
                    f"{status_name!r} maps to no column of {board.name}: add it to the "
                    f"mapping of its {source} integration, or name a column.",
                    field="status",
                )
        data.pop("external_source", None)
        data.pop("external_key", None)
        existing = WorkItem.objects.filter(board=board, external_source=source, external_key=key)
        item = existing.first()
        if item is None:
            created = self.create(request, board, source, key, data, column)
            if created is not None:
                return item_response(created, status.HTTP_201_CREATED)
            item = existing.get()  # another request created it meanwhile: this one updates it
        self.update(request, item, data, column)
        return item_response(item)

    @staticmethod
    def create(request, board, source, key, data, column) -> WorkItem | None:
        """The new item, moved to its status's column in the same transaction: a refused move
        creates nothing. None when a request for the same key created it first."""
        if "title" not in data:
            raise InvalidInput("A new item needs a title.", field="title")
        try:
            with transaction.atomic():
                item = services.work_item_create(
                    board,
                    actor=request.user,
                    source=Transition.Source.API,
                    external_source=source,
                    external_key=key,
                    **data,
                )
                if column is not None and column.pk != item.column_id:
                    services.work_item_move(
                        item, column, actor=request.user, source=Transition.Source.API
                    )
        except InvalidInput as error:
            if error.detail.get("external_key") != key:
                raise
            return None
        return item

    @staticmethod
    def update(request, item, data, column) -> None:
        """The move first, so that a refused one (409) leaves the fields as they were; then the
        fields. ``If-Match`` is checked by the first write and carried to the second."""
        version = expected_version(request, item)
        if column is not None and column.pk != item.column_id:
            services.work_item_move(
                item,
                column,
                actor=request.user,
                source=Transition.Source.API,
                expected_version=version,
            )
            version = item.version if version is not None else None
        if data:
            services.work_item_update(item, actor=request.user, expected_version=version, **data)
