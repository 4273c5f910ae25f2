"""The board list, the board itself (whole page or just its columns, for a refresh), a column's
next cards, and the board's version for cheap polling."""

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpResponseNotModified, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from boards.models import Column, WorkItem
from boards.permissions import visible_boards
from readiness.models import Track
from web import selectors
from web.forms import CardForm
from web.views.common import answers_refusals, board_access, column_of, filters_from


@login_required
def home(request):
    """A signed-in user lands on their board when they have one, else on their boards."""
    boards = list(visible_boards(request.user).order_by("name")[:2])
    if len(boards) == 1:
        return redirect("web:board", slug=boards[0].slug)
    return redirect("web:boards")


@login_required
@require_GET
def board_list(request):
    boards = visible_boards(request.user).order_by("name")
    counts = dict(
        WorkItem.objects.filter(
            board__in=boards, discarded_at__isnull=True, delivered_at__isnull=True
        )
        .values_list("board_id")
        .annotate(n=Count("id"))
    )
    rows = [(board, counts.get(board.pk, 0)) for board in boards]
    return render(request, "web/board_list.html", {"rows": rows})


@login_required
@require_GET
@answers_refusals
def board(request, slug):
    """The board. ``?partial=columns`` answers only the columns (the page's refresh after a
    change, its own or someone else's)."""
    access = board_access(request, slug)
    filters = filters_from(request)
    view = selectors.board_view(access.board, filters)
    context = {
        "access": access,
        "view": view,
        "filters": filters,
        "kinds": WorkItem.Kind.choices,
        "tracks": Track.choices,
        "lane_choices": [
            ("", "No swimlanes"),
            ("class_of_service", "Class of service"),
            ("kind", "Kind"),
        ],  # fmt: skip
        "card_form": CardForm(),
        "add_columns": _add_columns(view),
        "query": request.GET.urlencode(),
    }
    template = "web/_columns.html" if request.GET.get("partial") == "columns" else "web/board.html"
    response = render(request, template, context)
    response["ETag"] = f'"{view.version}"'
    return response


def _add_columns(view) -> set[int]:
    """Cards are added at the top of the first column and of any upstream column."""
    columns = [c.column for c in view.columns]
    return {columns[0].pk} | {c.pk for c in columns if c.stage == Column.Stage.UPSTREAM}


@login_required
@require_GET
@answers_refusals
def board_version(request, slug):
    """The board's version, as an ETag: 304 when the client's is current, so a hundred open
    boards polling every few seconds cost a couple of indexed queries each."""
    access = board_access(request, slug)
    version = selectors.board_version(access.board)
    etag = f'"{version}"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponseNotModified()
    else:
        response = JsonResponse({"version": version})
    response["ETag"] = etag
    response["Cache-Control"] = "no-cache"
    return response


@login_required
@require_GET
@answers_refusals
def column_more(request, slug, column_id):
    """The next cards of a long column, from ``offset``."""
    access = board_access(request, slug)
    column = column_of(access, column_id)
    try:
        offset = max(0, int(request.GET.get("offset", selectors.CARDS_PER_COLUMN)))
    except ValueError:
        offset = selectors.CARDS_PER_COLUMN
    filters = filters_from(request)
    cards, total = selectors.column_cards(access.board, column, filters, offset)
    context = {
        "access": access,
        "cards": cards,
        "column": column,
        "next_offset": offset + len(cards),
        "remaining": max(0, total - offset - len(cards)),
        "query": request.GET.urlencode(),
        "p85_days": selectors.cycle_percentiles(access.board, timezone.now()).get("85"),
    }
    return render(request, "web/_more.html", context)
