"""Checks of the shape of values that every service applies before it writes, so that a value
the database would refuse (too long, NUL characters) is a clear refusal naming the field and its
limit, never a ``DataError``."""

import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models

from flowboard.errors import InvalidInput

_URL = URLValidator(schemes=["http", "https"])


MAX_ID = 2**63 - 1  # ids are 64-bit: a larger number is no id (and would overflow the query)


def is_id(value: str) -> bool:
    """Whether text is an id: ASCII digits only ("²" is a digit to Python's isdigit, and int()
    refuses it), from 1 to ``MAX_ID``."""
    return value.isascii() and value.isdigit() and len(value) <= 19 and 1 <= int(value) <= MAX_ID


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
    characters(value, label, field)
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


# C0 control characters and DEL, but tab, line feed and carriage return (text may have lines).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def printable(value: str) -> str:
    """``value`` without what ``characters`` refuses (control characters, lone surrogates), for
    text another system already holds: its issue exists there, and one stray byte in a title
    must not keep it off the board."""
    value = _CONTROL.sub("", value)
    return value.encode("utf-8", "replace").decode("utf-8") if _has_surrogate(value) else value


def _has_surrogate(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def characters(value: str, label: str, field: str) -> str:
    """Text a person can read: no NUL or other control characters (a terminal escape, a bell),
    and no lone surrogate (JSON can carry one; UTF-8 and the database cannot)."""
    found = _CONTROL.search(value)
    if found:
        name = "a NUL character" if found.group() == "\x00" else "a control character"
        raise InvalidInput(
            f"{label} contains {name} (U+{ord(found.group()):04X}) at position {found.start()}.",
            field=field,
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidInput(
            f"{label} contains a lone surrogate at position {error.start}: not valid Unicode.",
            field=field,
        ) from None
    return value


EARLIEST_DATE = dt.date(1970, 1, 1)
LATEST_DATE = dt.date(2999, 12, 31)


def date_in_range(value: dt.date | None, label: str, field: str) -> dt.date | None:
    """A calendar date between 1970 and 2999 (a due date of year 1 or 9999 is a typo)."""
    if value is None:
        return None
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise InvalidInput(f"{label} must be a date.", field=field)
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise InvalidInput(
            f"{label} {value.isoformat()} is out of range: from {EARLIEST_DATE.isoformat()} "
            f"to {LATEST_DATE.isoformat()}.",
            field=field,
        )
    return value
