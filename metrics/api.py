"""The metrics read API: ``/api/v1/boards/<slug>/metrics/...``, all GET, all served from the
snapshot tables (``metrics.selectors``); no request recomputes a board.

Members of a board (any role) and superusers can read it; to anyone else signed in the board
does not exist (404). A board without history answers 200 with ``has_history: false``, the same
shape and empty series. Malformed query parameters answer 400 naming the parameter; well-formed
ones a rule refuses (since after until, a forecast date in the past) answer 422.
"""

from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from boards.models import Board
from flowboard.api import Problem, refuse_unknown_query
from flowboard.errors import InvalidInput, MalformedInput
from flowboard.pagination import Cursor
from metrics import loaders, selectors
from metrics.serializers import (
    MAX_PAGE,
    RULE,
    CycleTimeQuery,
    DateRangeQuery,
    ForecastQuery,
    ThroughputQuery,
)

METRICS_RESPONSE = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="The figures as defined in docs/metrics.md; `has_history: false` with empty "
    "series for a board without history.",
)


RULE_REFUSAL = OpenApiResponse(
    Problem,
    description="Well-formed parameters a rule refuses: since after until, a forecast "
    "date in the past, more than one question.",
)


def parse_query(serializer_class, request: Request, **context) -> dict[str, Any]:
    """The validated query parameters, or an error listing each bad one by name: 400 when one
    is malformed (``MalformedInput``), 422 when they are well-formed but a rule refuses them
    (``InvalidInput``)."""
    fields = serializer_class().fields
    empty = [name for name in fields if request.query_params.get(name, None) == ""]
    if empty:
        raise MalformedInput(
            " ".join(
                f"{name}: is empty; give a value or leave the parameter out." for name in empty
            ),
            errors={name: ["is empty."] for name in empty},
        )
    query = serializer_class(data=request.query_params, context=context)
    if query.is_valid():
        return query.validated_data
    messages, codes = [], set()
    for name, errors in query.errors.items():
        prefix = "" if name == "non_field_errors" else f"{name}: "
        messages.extend(f"{prefix}{error}" for error in errors)
        codes.update(getattr(error, "code", None) for error in errors)
    error = InvalidInput if codes == {RULE} else MalformedInput
    raise error(" ".join(messages), errors=query.errors)


class CycleTimePagination(Cursor):
    """In delivery order, by cursor (stable while items are delivered meanwhile)."""

    ordering = ("delivered_at", "item_id")
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE

    def is_position(self, position: str) -> bool:
        try:
            return parse_datetime(position) is not None  # a delivery time
        except ValueError:
            return False


class BoardMetricsAPI(APIView):
    """Base: the board of the URL, if the user may read it. It takes the query parameters of
    its ``query_class`` and refuses any other by name."""

    query_class = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        allowed = self.query_class().fields if self.query_class else {}
        refuse_unknown_query(request, allowed)

    def get_board(self, slug: str) -> Board:
        board = selectors.readable_board(self.request.user, slug)
        if board is None:
            raise NotFound("No board with this slug.")
        return board

    @staticmethod
    def no_history(**empty) -> Response:
        return Response({**selectors.NO_HISTORY, **empty})


class SummaryAPI(BoardMetricsAPI):
    @extend_schema(
        summary="The board's flow summary: WIP, throughput, cycle-time percentiles, bottleneck",
        responses={200: METRICS_RESPONSE, 422: RULE_REFUSAL},
    )
    def get(self, request: Request, slug: str) -> Response:
        return Response(selectors.board_summary(self.get_board(slug)))


class CycleTimesAPI(BoardMetricsAPI):
    query_class = CycleTimeQuery

    @extend_schema(
        summary="Cycle times of delivered items (cursor pages) and their percentiles",
        parameters=[CycleTimeQuery],
        responses={200: METRICS_RESPONSE, 422: RULE_REFUSAL},
    )
    def get(self, request: Request, slug: str) -> Response:
        board = self.get_board(slug)
        query = parse_query(CycleTimeQuery, request)
        if not selectors.has_history(board):
            return self.no_history(count=0, next=None, previous=None, results=[], percentiles=None)
        items = selectors.delivered_items(
            board, since=query.get("since"), until=query.get("until"), kind=query.get("kind")
        )
        paginator = CycleTimePagination()
        page = paginator.paginate_queryset(selectors.cycle_time_rows(items), request, view=self)
        return Response(
            {
                "has_history": True,
                "count": items.count(),
                "next": paginator.get_next_link(),
                "previous": paginator.get_previous_link(),
                "results": [selectors.cycle_time_row(board, row) for row in page],
                "percentiles": selectors.cycle_time_percentiles(items),
            }
        )


class CfdAPI(BoardMetricsAPI):
    query_class = DateRangeQuery

    @extend_schema(
        summary="Cumulative flow: items per column per day",
        parameters=[DateRangeQuery],
        responses={200: METRICS_RESPONSE, 422: RULE_REFUSAL},
    )
    def get(self, request: Request, slug: str) -> Response:
        board = self.get_board(slug)
        query = parse_query(DateRangeQuery, request)
        info = loaders.board_info(board)
        columns = [c.name for c in info.columns]
        if not selectors.has_history(board):
            return self.no_history(columns=columns, days=[])
        start, end = selectors.series_range(board, query.get("since"), query.get("until"))
        return Response(
            {
                "has_history": True,
                "columns": columns,
                "days": selectors.cfd(board, info, start, end),
            }
        )


class ThroughputAPI(BoardMetricsAPI):
    query_class = ThroughputQuery

    @extend_schema(
        summary="Items delivered per day or week",
        parameters=[ThroughputQuery],
        responses={200: METRICS_RESPONSE, 422: RULE_REFUSAL},
    )
    def get(self, request: Request, slug: str) -> Response:
        board = self.get_board(slug)
        query = parse_query(ThroughputQuery, request)
        period = query["period"]
        if not selectors.has_history(board):
            return self.no_history(period=period, total=0, series=[])
        start, end = selectors.series_range(board, query.get("since"), query.get("until"))
        series = selectors.throughput(board, start, end, period)
        return Response(
            {
                "has_history": True,
                "period": period,
                "since": start,
                "until": end,
                "total": sum(row["count"] for row in series),
                "series": series,
            }
        )


class AgingAPI(BoardMetricsAPI):
    @extend_schema(
        summary="Work in progress with its age, against the cycle-time percentiles",
        responses={200: METRICS_RESPONSE, 422: RULE_REFUSAL},
    )
    def get(self, request: Request, slug: str) -> Response:
        board = self.get_board(slug)
        if not selectors.has_history(board):
            return self.no_history(columns=[], items=[], cycle_time=None)
        info = loaders.board_info(board)
        return Response({"has_history": True, **selectors.aging(board, info, timezone.now())})


class TimeInColumnAPI(BoardMetricsAPI):
    query_class = DateRangeQuery

    @extend_schema(
        summary="Time spent in each column, and flow efficiency",
        parameters=[DateRangeQuery],
        responses={200: METRICS_RESPONSE, 422: RULE_REFUSAL},
    )
    def get(self, request: Request, slug: str) -> Response:
        board = self.get_board(slug)
        query = parse_query(DateRangeQuery, request)
        if not selectors.has_history(board):
            return self.no_history(columns=[])
        report = selectors.time_in_column(
            board,
            loaders.board_info(board),
            query.get("since"),
            query.get("until"),
            timezone.now(),
        )
        return Response({"has_history": True, **report})


class ReadinessAPI(BoardMetricsAPI):
    @extend_schema(
        summary="Business readiness: criteria per track, gate waits, blockers",
        responses={200: METRICS_RESPONSE, 422: RULE_REFUSAL},
    )
    def get(self, request: Request, slug: str) -> Response:
        board = self.get_board(slug)
        if not selectors.has_history(board):
            return self.no_history(readiness=None, blockers=None)
        return Response(selectors.readiness_report(board, loaders.board_info(board)))


class ForecastAPI(BoardMetricsAPI):
    query_class = ForecastQuery

    @extend_schema(
        summary="Monte Carlo forecast: when (items), how many (date), or for keys",
        parameters=[ForecastQuery],
        responses={200: METRICS_RESPONSE, 422: RULE_REFUSAL},
    )
    def get(self, request: Request, slug: str) -> Response:
        board = self.get_board(slug)
        now = timezone.now()
        query = parse_query(
            ForecastQuery,
            request,
            today=selectors.today(board, now),
            max_days=selectors.FORECAST_DATE_MAX_DAYS,
        )
        if "keys" in query:
            items = selectors.items_by_key(board, query["keys"])
            unknown = [key for key in query["keys"] if key not in items]
            if unknown:
                raise InvalidInput(
                    f"keys: no item with the keys {', '.join(unknown)} on this board.",
                    errors={"keys": [f"unknown keys: {', '.join(unknown)}"]},
                    unknown_keys=unknown,
                )
        if not selectors.has_history(board):
            return self.no_history(readings=None)
        if "keys" in query:
            answer = selectors.forecast_items(board, loaders.board_info(board), items, now)
        elif "items" in query:
            answer = selectors.forecast_when(board, query["items"], now)
        else:
            answer = selectors.forecast_how_many(board, query["date"], now)
        return Response({"has_history": True, **answer})
