"""The metrics read API: ``/api/v1/boards/<slug>/metrics/...``, all GET, all served from the
snapshot tables (``metrics.selectors``); no request recomputes a board.

Members of a board (any role) and superusers can read it; to anyone else signed in the board
does not exist (404). A board without history answers 200 with ``has_history: false``, the same
shape and empty series. Malformed query parameters answer 400 naming the parameter.
"""

from typing import Any

from django.utils import timezone
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from boards.models import Board
from flowboard.errors import InvalidInput
from flowboard.pagination import Cursor
from metrics import loaders, selectors
from metrics.serializers import (
    MAX_PAGE,
    CycleTimeQuery,
    DateRangeQuery,
    ForecastQuery,
    ThroughputQuery,
)


def parse_query(serializer_class, request: Request, **context) -> dict[str, Any]:
    """The validated query parameters, or ``InvalidInput`` listing each bad one by name."""
    fields = serializer_class().fields
    empty = [name for name in fields if request.query_params.get(name, None) == ""]
    if empty:
        raise InvalidInput(
            " ".join(
                f"{name}: is empty; give a value or leave the parameter out." for name in empty
            ),
            errors={name: ["is empty."] for name in empty},
        )
    query = serializer_class(data=request.query_params, context=context)
    if query.is_valid():
        return query.validated_data
    messages = []
    for name, errors in query.errors.items():
        prefix = "" if name == "non_field_errors" else f"{name}: "
        messages.extend(f"{prefix}{error}" for error in errors)
    raise InvalidInput(" ".join(messages), errors=query.errors)


class CycleTimePagination(Cursor):
    """In delivery order, by cursor (stable while items are delivered meanwhile)."""

    ordering = ("delivered_at", "item_id")
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE


class BoardMetricsAPI(APIView):
    """Base: the board of the URL, if the user may read it."""

    def get_board(self, slug: str) -> Board:
        board = selectors.readable_board(self.request.user, slug)
        if board is None:
            raise NotFound("No board with this slug.")
        return board

    @staticmethod
    def no_history(**empty) -> Response:
        return Response({**selectors.NO_HISTORY, **empty})


class SummaryAPI(BoardMetricsAPI):
    def get(self, request: Request, slug: str) -> Response:
        return Response(selectors.board_summary(self.get_board(slug)))


class CycleTimesAPI(BoardMetricsAPI):
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
    def get(self, request: Request, slug: str) -> Response:
        board = self.get_board(slug)
        if not selectors.has_history(board):
            return self.no_history(columns=[], items=[], cycle_time=None)
        info = loaders.board_info(board)
        return Response({"has_history": True, **selectors.aging(board, info, timezone.now())})


class TimeInColumnAPI(BoardMetricsAPI):
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
    def get(self, request: Request, slug: str) -> Response:
        board = self.get_board(slug)
        if not selectors.has_history(board):
            return self.no_history(readiness=None, blockers=None)
        return Response(selectors.readiness_report(board, loaders.board_info(board)))


class ForecastAPI(BoardMetricsAPI):
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
