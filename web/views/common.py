"""What every view of the web board shares: finding the board the user may see, reading the
filters from the URL, and answering a service's refusal in words."""

import functools
from dataclasses import dataclass

from django.http import Http404, HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404, render

from boards.models import Board, Column, WorkItem
from boards.permissions import Role, allows, role_on, visible_boards
from flowboard.errors import FlowboardError
from readiness.models import Track
from web.selectors import LANE_ORDER, Filters


@dataclass(frozen=True)
class Access:
    board: Board
    role: str

    @property
    def can_write(self) -> bool:
        return allows(self.role, Role.MEMBER)

    @property
    def is_ops_lead(self) -> bool:
        return allows(self.role, Role.OPS_LEAD)

    @property
    def role_label(self) -> str:
        return Role(self.role).label


def board_access(request: HttpRequest, slug: str, needed: str = Role.VIEWER) -> Access:
    """The board ``slug`` with the user's role on it. A board the user can't see is a 404 (it
    does not exist for them); one they can see but not change is a 403."""
    board = (
        visible_boards(request.user)
        .select_related("metrics", "commitment_column", "delivery_column")
        .filter(slug=slug)
        .first()
    )
    if board is None:
        raise Http404("No board with this name.")
    role = role_on(request.user, board)
    if not allows(role, needed):
        raise PermissionDenied(
            "Viewers can look at this board but not change it. Ask an ops lead for access."
        )
    return Access(board, role)


class PermissionDenied(FlowboardError):
    code = "permission_denied"
    http_status = 403


def card_of(access: Access, key: str) -> WorkItem:
    return get_object_or_404(WorkItem.objects.select_related("column"), board=access.board, key=key)


def column_of(access: Access, column_id) -> Column:
    try:
        return Column.objects.get(board=access.board, pk=int(column_id))
    except (TypeError, ValueError, Column.DoesNotExist):
        raise BadRequest(f"{column_id!r} is not a column of {access.board.name}.") from None


class BadRequest(FlowboardError):
    code = "bad_request"


def filters_from(request: HttpRequest) -> Filters:
    """The board's filters as the URL carries them (unknown values are ignored: a link from an
    older version of the board still opens)."""
    query = request.GET
    kinds = tuple(k for k in query.getlist("kind") if k in WorkItem.Kind.values)
    track = query.get("track", "")
    lanes = query.get("lanes", "")
    older = []
    for value in query.getlist("older"):
        if value.isdigit():
            older.append(int(value))
    return Filters(
        kinds=kinds,
        blocked=query.get("blocked") == "1",
        overdue=query.get("overdue") == "1",
        track=track if track in Track.values else "",
        text=query.get("q", "").strip()[:100],
        lanes=lanes if lanes in LANE_ORDER else "",
        older=tuple(older),
    )


def refusal(error: FlowboardError) -> JsonResponse:
    """A service's refusal as the board's scripts read it: the code, the sentence to show, and
    its details (the unmet criteria, the limit...)."""
    return JsonResponse(error.as_dict(), status=error.http_status)


def wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def answers_refusals(view):
    """A refusal raised by the view or a service becomes its 4xx answer: JSON for the board's
    scripts, an HTML fragment for htmx (the drawer shows it), a page otherwise."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except FlowboardError as error:
            if wants_json(request):
                return refusal(error)
            htmx = request.headers.get("HX-Request")
            template = "web/_refusal.html" if htmx else "web/refusal.html"
            return render(request, template, {"error": error}, status=error.http_status)

    return wrapper
