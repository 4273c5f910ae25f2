"""Acceptance criteria of an item (list, add, meet, waive, reopen) and its blocks (list, open,
close), through ``readiness.services`` and ``boards.services``."""

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response

from api.serializers import (
    MAX_ID,
    BlockCreate,
    BlockSerializer,
    CriterionCreate,
    CriterionSerializer,
    MeetInput,
    ReopenInput,
    WaiveInput,
)
from api.views.common import ApiView, valid
from api.views.items import REFUSALS, item_access
from boards import services
from boards.models import Block
from boards.permissions import Role
from flowboard.errors import InvalidInput
from readiness import services as readiness
from readiness.models import AcceptanceCriterion


class CriterionList(ApiView):
    listing = True
    serializer_class = CriterionSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator
            return AcceptanceCriterion.objects.none()
        item = item_access(self.request, self.kwargs["item_id"])
        return AcceptanceCriterion.objects.filter(item=item).select_related("gate_column")

    @extend_schema(
        summary="An item's acceptance criteria", responses=CriterionSerializer(many=True)
    )
    def get(self, request, item_id):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(CriterionSerializer(page, many=True).data)

    @extend_schema(
        summary="Add a criterion of the item's own",
        request=CriterionCreate,
        responses={201: CriterionSerializer, **REFUSALS},
    )
    def post(self, request, item_id):
        item = item_access(request, item_id, Role.MEMBER)
        data = valid(CriterionCreate, request.data, board=item.board)
        criterion = readiness.criterion_add(item, actor=request.user, **data)
        return Response(CriterionSerializer(criterion).data, status=status.HTTP_201_CREATED)


def criterion_access(request, criterion_id) -> AcceptanceCriterion:
    if criterion_id > MAX_ID:
        raise exceptions.NotFound("No criterion with this id on your boards.")
    criterion = AcceptanceCriterion.objects.select_related("gate_column").filter(pk=criterion_id)
    criterion = criterion.first()
    if criterion is None:
        raise exceptions.NotFound("No criterion with this id on your boards.")
    item_access(request, criterion.item_id, Role.MEMBER)
    return criterion


class CriterionChange(ApiView):
    """Meet, waive or reopen."""

    serializer_class = CriterionSerializer
    action = ""
    input_class = MeetInput

    def post(self, request, criterion_id):
        criterion = criterion_access(request, criterion_id)
        data = valid(self.input_class, request.data)
        if self.action == "meet":
            readiness.criterion_meet(
                criterion, actor=request.user, evidence_url=data.get("evidence_url", "")
            )
        elif self.action == "waive":
            readiness.criterion_waive(criterion, actor=request.user, reason=data["reason"])
        else:
            readiness.criterion_reopen(criterion, actor=request.user, reason=data.get("reason", ""))
        criterion.refresh_from_db()
        return Response(CriterionSerializer(criterion).data)


class CriterionMeet(CriterionChange):
    action, input_class = "meet", MeetInput

    @extend_schema(
        summary="Mark a criterion met (an optional evidence link)",
        request=MeetInput,
        responses={200: CriterionSerializer, **REFUSALS},
    )
    def post(self, request, criterion_id):
        return super().post(request, criterion_id)


class CriterionWaive(CriterionChange):
    action, input_class = "waive", WaiveInput

    @extend_schema(
        summary="Waive a criterion (a reason)",
        request=WaiveInput,
        responses={200: CriterionSerializer, **REFUSALS},
    )
    def post(self, request, criterion_id):
        return super().post(request, criterion_id)


class CriterionReopen(CriterionChange):
    action, input_class = "reopen", ReopenInput

    @extend_schema(
        summary="Reopen a met or waived criterion",
        request=ReopenInput,
        responses={200: CriterionSerializer, **REFUSALS},
    )
    def post(self, request, criterion_id):
        return super().post(request, criterion_id)


class BlockList(ApiView):
    listing = True
    serializer_class = BlockSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator
            return Block.objects.none()
        item = item_access(self.request, self.kwargs["item_id"])
        return Block.objects.filter(item=item)

    @extend_schema(
        summary="An item's blocks, open and closed", responses=BlockSerializer(many=True)
    )
    def get(self, request, item_id):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(BlockSerializer(page, many=True).data)

    @extend_schema(
        summary="Block an item (a reason category and a note)",
        request=BlockCreate,
        responses={201: BlockSerializer, **REFUSALS},
    )
    def post(self, request, item_id):
        item = item_access(request, item_id, Role.MEMBER)
        data = valid(BlockCreate, request.data)
        criterion = None
        if "criterion" in data:
            criterion = AcceptanceCriterion.objects.filter(item=item, pk=data["criterion"]).first()
            if criterion is None:
                raise InvalidInput(
                    f"No criterion {data['criterion']} on {item.key}.", field="criterion"
                )
        block = services.block_start(
            item,
            actor=request.user,
            reason=data["reason"],
            note=data.get("note", ""),
            criterion=criterion,
        )
        return Response(BlockSerializer(block).data, status=status.HTTP_201_CREATED)


class BlockClose(ApiView):
    serializer_class = BlockSerializer

    @extend_schema(
        summary="End the item's open block",
        request=None,
        responses={200: BlockSerializer, **REFUSALS},
    )
    def post(self, request, item_id):
        item = item_access(request, item_id, Role.MEMBER)
        block = services.block_end(item, actor=request.user)
        return Response(BlockSerializer(block).data)
