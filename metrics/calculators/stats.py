"""Percentiles and the service level expectation (docs/metrics.md, "Percentiles").

"Percentiles are read off the sorted values without interpolation:
value = sorted[floor((n - 1) * p / 100)]. The defaults are p = 50, 70, 85 and 95."

"A service level expectation reads '85% of items finish in X days or less'."
"""

import math
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any, TypeVar

T = TypeVar("T")

DEFAULT_PERCENTILES: tuple[int, ...] = (50, 70, 85, 95)


def percentile_index(n: int, p: float) -> int:
    """The index floor((n - 1) * p / 100) into ``n`` sorted values.

    Computed with exact rational arithmetic, so ``p = 70`` over 11 values gives index 7 and never
    6.999... rounded down to 6.
    """
    if n <= 0:
        raise ValueError("percentile of an empty sample")
    _check_p(p)
    return math.floor(Fraction(n - 1) * Fraction(p) / 100)


def percentile(sorted_values: Sequence[T], p: float) -> T:
    """The ``p``-th percentile of values already sorted ascending: sorted[floor((n-1)*p/100)].

    No interpolation, so the answer is always one of the values. Raises ValueError on an empty
    sample or a ``p`` outside 0..100. The caller guarantees the order (see ``percentiles``).
    """
    return sorted_values[percentile_index(len(sorted_values), p)]


def percentiles(values: Iterable[T], ps: Iterable[float] = DEFAULT_PERCENTILES) -> dict[Any, T]:
    """Each requested percentile of ``values`` (a sorted copy is taken; the input is not touched).

    Keys are the requested ``ps`` as given. Raises ValueError on an empty sample or any ``p``
    outside 0..100.
    """
    ordered = sorted(values)  # type: ignore[type-var]
    wanted = tuple(ps)
    for p in wanted:
        _check_p(p)
    return {p: percentile(ordered, p) for p in wanted}


def median(values: Iterable[T]) -> T:
    """The 50th percentile by the same rule: the lower middle value when the count is even."""
    return percentile(sorted(values), 50)  # type: ignore[type-var]


def service_level_expectation(values_days: Iterable[float] | None, p: int = 85) -> dict[str, Any]:
    """ "p% of items finish in X days or less", X being the p-th percentile of ``values_days``.

    Returns ``{"percent", "days", "sample_size", "text"}``. With no values (None or empty) there is
    no expectation: ``days`` is None and ``text`` says why, instead of inventing a number.
    """
    _check_p(p)
    ordered = sorted(values_days or ())
    if not ordered:
        return {
            "percent": p,
            "days": None,
            "sample_size": 0,
            "text": "No service level expectation yet: no finished items",
        }
    days = percentile(ordered, p)
    unit = "day" if days == 1 else "days"
    return {
        "percent": p,
        "days": days,
        "sample_size": len(ordered),
        "text": f"{p:g}% of items finish in {format_days(days)} {unit} or less",
    }


def format_days(days: float) -> str:
    """Whole days print without a decimal point (6, not 6.0); others with one decimal."""
    if float(days).is_integer():
        return str(int(days))
    return f"{days:.1f}"


def _check_p(p: float) -> None:
    if isinstance(p, bool) or not isinstance(p, int | float | Fraction):
        raise TypeError(f"percentile must be a number, not {p!r}")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within 0..100, not {p!r}")
