"""Keeping the cached API tokens (``ApiToken.find``) true: a change to a token, its user, its
board or its membership deletes the token's cache entry, now and once the change commits (so a
request reading the old rows meanwhile cannot put a stale entry back for long)."""

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from api.models import ApiToken
from boards.models import Board, BoardMembership


def forget_tokens(tokens) -> None:
    if not settings.REDIS_URL:
        return  # tokens are cached only in Redis (``ApiToken.remember``)
    tokens = list(tokens)
    if not tokens:
        return
    for token in tokens:
        token.forget()
    transaction.on_commit(lambda: [token.forget() for token in tokens])


def token_changed(sender, instance, **kwargs):
    forget_tokens([instance])


def user_changed(sender, instance, **kwargs):
    forget_tokens(ApiToken.objects.filter(user_id=instance.pk))


def board_changed(sender, instance, update_fields=None, **kwargs):
    if update_fields and set(update_fields) <= {"next_number"}:
        return  # an item was created: the board's own fields did not change
    forget_tokens(ApiToken.objects.filter(board_id=instance.pk))


def membership_changed(sender, instance, **kwargs):
    forget_tokens(ApiToken.objects.filter(user_id=instance.user_id))


def connect() -> None:
    for signal in (post_save, post_delete):
        signal.connect(token_changed, sender=ApiToken, dispatch_uid=f"token-{signal}")
        signal.connect(user_changed, sender=settings.AUTH_USER_MODEL, dispatch_uid=f"user-{signal}")
        signal.connect(board_changed, sender=Board, dispatch_uid=f"board-{signal}")
        signal.connect(membership_changed, sender=BoardMembership, dispatch_uid=f"member-{signal}")
