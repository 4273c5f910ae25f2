"""API tokens: one per integration (a ticket system, a script), created and revoked by ops
leads in the admin, and stored hashed.

A token acts as a user of its own (``token:<id>``) with a membership on the token's board in the
token's role, so the API's permissions are the board's memberships, whoever calls, and every
move it makes names it as the actor. The key is shown once, when the token is created; only its
SHA-256 and its first characters (to recognise it) are kept.
"""

import hashlib
import json
import secrets

from django.conf import settings
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import OuterRef, Subquery
from django.utils import timezone

PREFIX = "fb_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


class ApiToken(models.Model):
    board = models.ForeignKey("boards.Board", on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80, help_text="What uses it: 'Jira Cloud sync', 'CI bot'.")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_token"
    )
    key_prefix = models.CharField(max_length=12, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["board", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def find(cls, key: str) -> "ApiToken | None":
        """The active token with this key, with its user, its board and its role there
        (``role``); None otherwise.

        With Redis (a cache every process shares) a found token is kept there for
        ``CACHE_SECONDS``, so most requests authenticate without a query; revoking it, or a
        change to its user, board or membership, deletes that entry at once
        (``api.signals``). The in-process cache of the embedded default is not shared, so there
        every request reads the database.
        """
        digest = hash_key(key)
        if settings.REDIS_URL:
            token = cache.get(cache_key(digest))
            if token is not None:
                return token
        from boards.models import BoardMembership

        role = BoardMembership.objects.filter(board=OuterRef("board"), user=OuterRef("user"))
        token = (
            cls.objects.select_related("user", "board")
            .annotate(role=Subquery(role.values("role")[:1]))
            .filter(key_hash=digest, revoked_at__isnull=True)
            .first()
        )
        if token is not None:
            token.remember()
        return token

    def remember(self) -> None:
        if settings.REDIS_URL:
            cache.set(cache_key(self.key_hash), self, self.CACHE_SECONDS)

    def forget(self) -> None:
        cache.delete(cache_key(self.key_hash))

    CACHE_SECONDS = 60


def cache_key(digest: str) -> str:
    return f"flowboard:api-token:{digest}"


class MoveReceipt(models.Model):
    """The answer to a move made with an ``Idempotency-Key``, kept so that a retry with the same
    key and body gets the first answer again, byte for byte (status 200, body and ETag). It is
    written in the move's own transaction, so a committed move always has its receipt. Receipts
    are pruned after ``API_IDEMPOTENCY_DAYS`` (``api.tasks.prune_move_receipts``); a retry after
    that still writes nothing, and is answered from the log and the item as it is now."""

    transition = models.OneToOneField(
        "boards.Transition", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    etag = models.CharField(max_length=24)
    # JSON text, in the answer's own key order (PostgreSQL's jsonb would sort the keys).
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"receipt of transition {self.transition_id}"

    @classmethod
    def keep(cls, transition, body: dict, etag: str) -> "MoveReceipt":
        text = json.dumps(body, cls=DjangoJSONEncoder, ensure_ascii=False)
        return cls.objects.create(transition=transition, body=text, etag=etag)

    def answer(self) -> dict:
        return json.loads(self.body)
