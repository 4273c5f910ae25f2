"""Query parameters of the metrics API, validated. Each error names its parameter. A parameter
that is not of its documented shape is a 400; well-formed parameters that a rule refuses (since
after until, a forecast date in the past, two questions at once) carry the code ``RULE`` and
are a 422 (``metrics.api.parse_query``)."""

import datetime as dt

from rest_framework import serializers

from boards.models import WorkItem

DATE_ERRORS = {"invalid": "expected a date as YYYY-MM-DD."}
MAX_PAGE = 1000
MAX_ITEMS = 1000  # a forecast's cost grows with N; see docs/BENCHMARKS.md
MAX_KEYS = 200
RULE = "rule"  # the error code of a well-formed parameter a rule refuses (HTTP 422)


# Dates outside these years can't be real flow history, and would overflow date arithmetic.
FIRST_DATE, LAST_DATE = dt.date(1970, 1, 1), dt.date(2999, 12, 31)


def _in_range(value: dt.date) -> None:
    if not FIRST_DATE <= value <= LAST_DATE:
        raise serializers.ValidationError(f"expected a date between {FIRST_DATE} and {LAST_DATE}.")


def _date(**kwargs) -> serializers.DateField:
    return serializers.DateField(
        required=False,
        input_formats=["%Y-%m-%d"],
        error_messages=DATE_ERRORS,
        validators=[_in_range],
        **kwargs,
    )


class DateRangeQuery(serializers.Serializer):
    """``since`` and ``until``, both inclusive local dates of the board."""

    since = _date()
    until = _date()

    def validate(self, attrs):
        since, until = attrs.get("since"), attrs.get("until")
        if since and until and since > until:
            raise serializers.ValidationError(
                {"since": f"since ({since}) must be on or before until ({until})."}, code=RULE
            )
        return attrs


class CycleTimeQuery(DateRangeQuery):
    kind = serializers.ChoiceField(
        required=False,
        choices=WorkItem.Kind.choices,
        error_messages={
            "invalid_choice": "unknown kind {input}; expected one of "
            + ", ".join(WorkItem.Kind.values)
            + "."
        },
    )
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)
    cursor = serializers.CharField(required=False, max_length=1000)


class ThroughputQuery(DateRangeQuery):
    period = serializers.ChoiceField(
        required=False,
        choices=["day", "week"],
        default="day",
        error_messages={"invalid_choice": "unknown period {input}; expected day or week."},
    )


class ForecastQuery(serializers.Serializer):
    """Exactly one question: ``items`` (when will N more be done), ``date`` (how many by then)
    or ``keys`` (when will these items be delivered). ``today`` (board zone) comes from the
    context, since ``date`` must be after it."""

    items = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ITEMS)
    date = _date()
    keys = serializers.CharField(required=False, max_length=10_000, trim_whitespace=True)

    def validate_date(self, value: dt.date) -> dt.date:
        today = self.context["today"]
        if value <= today:
            raise serializers.ValidationError(
                f"must be in the future (after {today}, today in the board's zone).", code=RULE
            )
        horizon = self.context["max_days"]
        if (value - today).days > horizon:
            raise serializers.ValidationError(f"must be within {horizon} days of today.", code=RULE)
        return value

    def validate_keys(self, value: str) -> list[str]:
        keys = list(dict.fromkeys(k.strip() for k in value.split(",") if k.strip()))
        if not keys:
            raise serializers.ValidationError("expected item keys separated by commas.")
        if len(keys) > MAX_KEYS:
            raise serializers.ValidationError(f"at most {MAX_KEYS} keys, got {len(keys)}.")
        return keys

    def validate(self, attrs):
        given = [name for name in ("items", "date", "keys") if name in attrs]
        if len(given) != 1:
            which = " and ".join(given) if given else "none of them"
            raise serializers.ValidationError(
                f"give exactly one of the parameters items, date or keys (got {which}).",
                code=RULE,
            )
        return attrs
