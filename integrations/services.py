"""Creating and checking integrations (the admin and ``manage.py integration_create`` call
these), so both configure an integration the same way."""

from django.db import transaction
from django.urls import reverse

from boards.models import Board
from flowboard import validation
from flowboard.errors import InvalidInput
from integrations.models import Integration

MIN_SECRET = 16


def parse_mapping(text: str) -> dict[str, str]:
    """``"To Do=Backlog,In Progress=In development"`` as a dict; a malformed pair is an error."""
    mapping: dict[str, str] = {}
    for pair in (text or "").split(","):
        if not pair.strip():
            continue
        status, sep, column = pair.partition("=")
        if not sep or not status.strip() or not column.strip():
            raise InvalidInput(f"{pair.strip()!r} is not STATUS=COLUMN.")
        mapping[status.strip()] = column.strip()
    return mapping


def check_mapping(board: Board, mapping) -> dict[str, str]:
    """Every status maps to a column of the board, by name (any case); each status once."""
    if not isinstance(mapping, dict):
        raise InvalidInput('The mapping is a JSON object: {"In Progress": "Build", ...}.')
    names = {c.name.lower(): c.name for c in board.columns.all()}
    clean: dict[str, str] = {}
    seen: set[str] = set()
    for status, column in mapping.items():
        if not isinstance(column, str) or not str(status).strip():
            raise InvalidInput(f"{status!r}: map a status name to a column name.")
        if status.strip().lower() in seen:
            raise InvalidInput(f"The status {status!r} is mapped twice (in another case).")
        seen.add(status.strip().lower())
        if column.strip().lower() not in names:
            raise InvalidInput(
                f"{status!r} maps to {column!r}, which is not a column of {board.name} "
                f"(columns: {', '.join(names.values())})."
            )
        clean[status.strip()] = names[column.strip().lower()]
    return clean


def check(integration: Integration) -> None:
    """What the admin's form and the command both enforce."""
    integration.name = validation.text(
        integration.name, Integration, "name", "The integration's name", required=True
    )
    validation.choice(integration.kind, Integration.Kind, "kind", "kind")
    if len(integration.secret or "") < MIN_SECRET:
        raise InvalidInput(
            f"The secret must be at least {MIN_SECRET} characters (GitHub and Jira sign each "
            "delivery with it)."
        )
    if len(integration.secret) > 200:
        raise InvalidInput("The secret must be at most 200 characters.")
    integration.mapping = check_mapping(integration.board, integration.mapping)


@transaction.atomic
def integration_create(board: Board, *, kind: str, name: str, secret: str, mapping) -> Integration:
    integration = Integration(board=board, kind=kind, name=name, secret=secret, mapping=mapping)
    check(integration)
    if Integration.objects.filter(board=board, name=integration.name).exists():
        raise InvalidInput(f"{board.name} already has an integration named {integration.name!r}.")
    integration.save()
    return integration


def webhook_path(integration: Integration) -> str:
    return reverse(
        "api:hook", kwargs={"kind": integration.kind, "public_id": integration.public_id}
    )
