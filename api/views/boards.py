"""Boards with their columns (read by members, configured by ops leads), and the Transition log
(read-only)."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from api.auth import board_access
from api.filters import TransitionFilter
from api.serializers import BoardSerializer, BoardUpdate, TransitionSerializer
from api.views.common import ApiView, valid
from boards import setup
from boards.models import BoardMembership, Transition
from boards.permissions import Role, visible_boards


class BoardList(ApiView):
    listing = True
    serializer_class = BoardSerializer

    def get_queryset(self):
        return (
            visible_boards(self.request.user)
            .select_related("commitment_column", "delivery_column")
            .prefetch_related("columns")
        )

    @extend_schema(
        summary="The boards you are a member of",
        operation_id="boards_list",
        responses=BoardSerializer(many=True),
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        roles = dict(
            BoardMembership.objects.filter(user=request.user).values_list("board_id", "role")
        )
        if request.user.is_superuser:
            roles = {board.pk: Role.OPS_LEAD for board in page}
        data = BoardSerializer(page, many=True, context={"roles": roles}).data
        return self.get_paginated_response(data)


class BoardDetail(ApiView):
    serializer_class = BoardSerializer

    @extend_schema(summary="A board and its columns")
    def get(self, request, slug):
        board, role = board_access(request, slug)
        return Response(BoardSerializer(board, context={"roles": {board.pk: role}}).data)

    @extend_schema(
        summary="Change a board's set-up (ops leads)",
        description="Name, time zone, and the whole list of columns in their new order (an "
        "existing column by its id; a column left out is deleted, which is refused while "
        "anything refers to it), with the commitment and delivery columns by name. Checked "
        "as a whole; the board's metrics are recomputed.",
        request=BoardUpdate,
        responses={200: BoardSerializer},
    )
    def patch(self, request, slug):
        board, role = board_access(request, slug, Role.OPS_LEAD)
        data = valid(BoardUpdate, request.data)
        columns = None
        if "columns" in data:
            columns = [setup.ColumnSpec(**column) for column in data["columns"]]
        board = setup.board_update(
            board,
            name=data.get("name"),
            time_zone=data.get("time_zone"),
            columns=columns,
            commitment=data.get("commitment"),
            delivery=data.get("delivery"),
        )
        board.refresh_from_db()
        return Response(BoardSerializer(board, context={"roles": {board.pk: role}}).data)


class TransitionList(ApiView):
    listing = True
    serializer_class = TransitionSerializer
    filterset_class = TransitionFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator
            return Transition.objects.none()
        board, _ = board_access(self.request, self.kwargs["slug"])
        return Transition.objects.filter(board=board).select_related(
            "item", "from_column", "to_column", "actor"
        )

    @extend_schema(
        summary="The log of moves of a board (filter by time, item, source)",
        responses=TransitionSerializer(many=True),
    )
    def get(self, request, slug):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(TransitionSerializer(page, many=True).data)
