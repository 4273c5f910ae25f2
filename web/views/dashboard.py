"""The flow dashboard: the page, and each chart's data over a date range as JSON (what the page
draws) or CSV (the same rows, to download)."""

import csv
import datetime as dt
import io

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from web import dashboard
from web.views.common import BadRequest, answers_refusals, board_access

MAX_RANGE_DAYS = 3660


def date_range(request, board) -> tuple[dt.date, dt.date]:
    """``since`` and ``until`` (YYYY-MM-DD) from the query; the last 90 days by default."""
    since, until = dashboard.default_range(board, timezone.now())
    try:
        if request.GET.get("since"):
            since = dt.date.fromisoformat(request.GET["since"])
        if request.GET.get("until"):
            until = dt.date.fromisoformat(request.GET["until"])
    except ValueError:
        raise BadRequest("Dates are written YYYY-MM-DD, for example 2026-03-01.") from None
    if since > until:
        raise BadRequest(f"The range starts ({since}) after it ends ({until}).")
    if (until - since).days > MAX_RANGE_DAYS:
        raise BadRequest(f"A range is at most {MAX_RANGE_DAYS} days.")
    return since, until


@login_required
@require_GET
@answers_refusals
def dashboard_page(request, slug):
    access = board_access(request, slug)
    since, until = dashboard.default_range(access.board, timezone.now())
    context = {
        "access": access,
        "charts": list(dashboard.CHARTS),
        "since": since,
        "until": until,
    }
    return render(request, "web/dashboard.html", context)


@login_required
@require_GET
@answers_refusals
def chart_data(request, slug, chart, format):
    access = board_access(request, slug)
    if chart not in dashboard.CHARTS or format not in ("json", "csv"):
        raise Http404(f"There is no chart {chart}.{format}.")
    since, until = date_range(request, access.board)
    data = dashboard.chart(chart, access.board, since, until)
    if format == "json":
        return JsonResponse(data)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(data["columns"])
    writer.writerows(data["rows"])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    name = f"{access.board.slug}-{chart}-{since}-{until}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
