"""Creating and revoking API tokens (the admin and ``manage.py`` call these)."""

import uuid

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from api.models import ApiToken, hash_key, new_key
from boards.models import Board, BoardMembership
from flowboard import validation
from flowboard.errors import InvalidInput


@transaction.atomic
def token_create(board: Board, *, name: str, role: str, created_by=None) -> tuple[ApiToken, str]:
    """A new token for ``board`` in ``role``, and its key (shown once, never stored)."""
    name = validation.text(name, ApiToken, "name", "The token's name", required=True)
    validation.choice(role, BoardMembership.Role, "role", "role")
    user = get_user_model().objects.create_user(
        username=f"token-{uuid.uuid4().hex[:12]}", first_name=name[:150]
    )
    user.set_unusable_password()
    user.save(update_fields=["password"])
    BoardMembership.objects.create(board=board, user=user, role=role)
    key = new_key()
    token = ApiToken.objects.create(
        board=board,
        name=name,
        user=user,
        key_prefix=key[:10],
        key_hash=hash_key(key),
        created_by=created_by,
    )
    return token, key


@transaction.atomic
def token_revoke(token: ApiToken) -> ApiToken:
    """The token stops working at once; its user stays (it is the actor of past changes)."""
    if token.revoked_at is not None:
        raise InvalidInput(f"The token {token} is already revoked.")
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    token.user.is_active = False
    token.user.save(update_fields=["is_active"])
    token.forget()
    transaction.on_commit(token.forget)  # and again once committed: no request re-caches it
    return token
