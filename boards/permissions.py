"""Who may do what on a board: its members' roles.

- a viewer reads the board, its cards and its charts;
- a member also creates, moves, edits, blocks and discards cards and works their criteria;
- an ops lead also changes the board's configuration (columns, limits, gates, integrations).

Superusers act as ops leads on every board. Anyone else does not see the board at all: the
surfaces answer 404, as if it did not exist.
"""

from django.db.models import QuerySet

from boards.models import Board, BoardMembership

Role = BoardMembership.Role
RANK = {Role.VIEWER: 1, Role.MEMBER: 2, Role.OPS_LEAD: 3}


def visible_boards(user) -> QuerySet[Board]:
    """The boards ``user`` may see, by name."""
    if not user.is_authenticated:
        return Board.objects.none()
    if user.is_superuser:
        return Board.objects.all()
    return Board.objects.filter(memberships__user=user).distinct()


def role_on(user, board: Board) -> str | None:
    """``user``'s role on ``board`` (an ops lead for a superuser), None for a stranger."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return Role.OPS_LEAD
    return (
        BoardMembership.objects.filter(board=board, user=user)
        .values_list("role", flat=True)
        .first()
    )


def allows(role: str | None, needed: str) -> bool:
    """Whether ``role`` is at least ``needed`` (viewer < member < ops lead)."""
    return role is not None and RANK[role] >= RANK[needed]


def can_write(role: str | None) -> bool:
    return allows(role, Role.MEMBER)
