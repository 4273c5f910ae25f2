"""How the API knows who calls, what they may do on a board, and how often.

- ``TokenAuthentication``: ``Authorization: Token <key>`` (``api.models.ApiToken``). It comes
  first among the authentication classes, so an anonymous request gets 401 with the challenge
  ``WWW-Authenticate: Token``. The browser's session (with CSRF) is the second.
- ``board_access``: the caller's role on a board. A board the caller can't see is a 404, as if
  it did not exist; one they can see but may not change in that way is a 403.
- ``TokenRateThrottle``: requests per token (per user for a session, per address otherwise).
"""

import datetime as dt
import time

from django.conf import settings
from django.core.cache import cache as default_cache
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.throttling import BaseThrottle

from api.models import ApiToken
from boards.models import Board
from boards.permissions import Role, allows, role_on, visible_boards

TOUCH_EVERY = dt.timedelta(minutes=1)  # last_used_at is written at most this often


class TokenAuthentication(BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Give the token as 'Authorization: Token <key>', with no spaces in the key."
            )
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(
                "The token holds characters no key has."
            ) from None
        token = ApiToken.find(key)
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("The token is unknown or was revoked.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
            token.remember()
        return token.user, token

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


def is_token(request) -> bool:
    return isinstance(getattr(request, "auth", None), ApiToken)


def board_access(request, slug: str, needed: str = Role.VIEWER) -> tuple[Board, str]:
    """The board ``slug`` and the caller's role on it (404 unseen, 403 not enough)."""
    board = visible_boards(request.user).filter(slug=slug).first()
    if board is None:
        raise exceptions.NotFound("No board with this slug.")
    role = role_of(request, board)
    require(role, needed)
    return board, role


def role_of(request, board: Board) -> str | None:
    """The caller's role on ``board``: a token's own board comes with the token (no query)."""
    token = getattr(request, "auth", None)
    if isinstance(token, ApiToken) and token.board_id == board.pk:
        return getattr(token, "role", None) or role_on(request.user, board)
    return role_on(request.user, board)


def require(role: str | None, needed: str) -> None:
    if not allows(role, needed):
        what = {Role.MEMBER: "change work on", Role.OPS_LEAD: "configure"}.get(needed, "read")
        raise exceptions.PermissionDenied(
            f"Your role ({role or 'none'}) may not {what} this board; ask an ops lead."
        )


class TokenRateThrottle(BaseThrottle):
    """``API_RATE`` requests per token (e.g. "3000/min"); sessions per user, others per address.

    A fixed window counted with one atomic increment in the cache (Redis in production): O(1)
    per request, where DRF's sliding log would read and write a list of every request's time.
    A client may burst up to twice the rate across a window's edge, which a per-minute budget
    tolerates.
    """

    scope = "api"
    cache = default_cache
    PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

    def parse_rate(self) -> tuple[int, int]:
        number, _, period = settings.API_RATE.partition("/")
        return int(number), self.PERIODS[period.strip()[0]]

    def ident_of(self, request) -> str:
        if is_token(request):
            return f"token-{request.auth.pk}"
        if request.user and request.user.is_authenticated:
            return f"user-{request.user.pk}"
        return self.get_ident(request)

    def allow_request(self, request, view) -> bool:
        limit, period = self.parse_rate()
        now = time.time()
        window = int(now // period)
        key = f"throttle:{self.scope}:{self.ident_of(request)}:{window}"
        try:
            count = self.cache.incr(key)  # one round trip, but for a window's first request
        except ValueError:
            count = 1 if self.cache.add(key, 1, timeout=period + 1) else self.cache.incr(key)
        self.remaining = (window + 1) * period - now
        return count <= limit

    def wait(self) -> float:
        return max(self.remaining, 0.001)
