"""Checks of the shape of values that every service applies before it writes, so that a value
the database would refuse (too long, NUL characters) is a clear refusal naming the field and its
limit, never a ``DataError``."""

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models

from flowboard.errors import InvalidInput

_URL = URLValidator(schemes=["http", "https"])


def text(
    value: str | None,
    model: type[models.Model],
    field: str,
    label: str,
    *,
    required: bool = False,
    strip: bool = True,
) -> str:
    """``value`` checked against ``model.field``'s ``max_length`` (TextFields: no limit): a
    string, without NUL characters, present when ``required``. Returns it stripped."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"{label} must be text.", field=field)
    if strip:
        value = value.strip()
    if required and not value:
        raise InvalidInput(f"{label} is required.", field=field)
    if "\x00" in value:
        raise InvalidInput(f"{label} contains a NUL character.", field=field)
    limit = model._meta.get_field(field).max_length
    if limit is not None and len(value) > limit:
        raise InvalidInput(
            f"{label} is {len(value)} characters long; the limit is {limit}.",
            field=field,
            limit=limit,
            length=len(value),
        )
    return value


def url(value: str | None, model: type[models.Model], field: str, label: str) -> str:
    """An optional http(s) link, checked like ``text`` and as a URL."""
    value = text(value, model, field, label)
    if value:
        try:
            _URL(value)
        except ValidationError:
            raise InvalidInput(f"{label} {value!r} is not an http(s) link.", field=field) from None
    return value


def choice(value: str, choices: type[models.TextChoices], field: str, label: str) -> str:
    if value not in choices.values:
        raise InvalidInput(
            f"Unknown {label} {value!r}; one of {', '.join(choices.values)}.",
            field=field,
            allowed=list(choices.values),
        )
    return value
