"""Percentiles and the service level expectation (docs/metrics.md, "Percentiles")."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metrics.calculators.stats import (
    median,
    percentile,
    percentile_index,
    percentiles,
    service_level_expectation,
)

SPEC_SAMPLE = [3, 4, 4, 5, 5, 6, 6, 6, 7, 7]


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        # n = 10, index = floor(9 * p / 100)
        (50, 5),  # floor(4.5) = 4 -> 5
        (70, 6),  # floor(6.3) = 6 -> 6
        (85, 6),  # floor(7.65) = 7 -> 6
        (95, 7),  # floor(8.55) = 8 -> 7
    ],
)
def test_actionableagile_example(p, expected):
    """The spec's check: 3,4,4,5,5,6,6,6,7,7 gives 5, 6, 6, 7."""
    assert percentile(SPEC_SAMPLE, p) == expected


def test_percentiles_default_levels_match_the_spec_example():
    assert percentiles(reversed(SPEC_SAMPLE)) == {50: 5, 70: 6, 85: 6, 95: 7}


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([9], 0, 9),  # n = 1: every p reads index 0
        ([9], 100, 9),
        ([1, 2], 50, 1),  # floor(1 * 0.5) = 0: no interpolation to 1.5
        ([1, 2], 99, 1),  # floor(0.99) = 0
        ([1, 2], 100, 2),  # floor(1.0) = 1
        (list(range(1, 12)), 70, 8),  # floor(10 * 0.7) = 7 -> value 8
        (list(range(1, 12)), 33.3, 4),  # floor(10 * 0.333) = 3 -> value 4
        (list(range(101)), 29, 29),  # floor(100 * 0.29) = 29, exactly (no 28.999...)
        (list(range(101)), 57, 57),
        ([1.5, 2.5, 10.0], 95, 2.5),  # floor(2 * 0.95) = 1
    ],
)
def test_percentile_reads_without_interpolation(values, p, expected):
    assert percentile(values, p) == expected


@pytest.mark.parametrize(("n", "p", "index"), [(10, 85, 7), (10_000, 15, 1499), (10_000, 95, 9499)])
def test_percentile_index(n, p, index):
    # 9 * 0.85 = 7.65; 9999 * 0.15 = 1499.85; 9999 * 0.95 = 9499.05
    assert percentile_index(n, p) == index


@pytest.mark.parametrize(
    ("values", "p", "error"),
    [
        ([], 50, ValueError),
        ([1, 2], -1, ValueError),
        ([1, 2], 100.5, ValueError),
        ([1, 2], float("nan"), ValueError),
        ([1, 2], "50", TypeError),
        ([1, 2], True, TypeError),
    ],
)
def test_percentile_rejects_bad_input(values, p, error):
    with pytest.raises(error):
        percentile(values, p)


def test_percentiles_any_levels_and_input_untouched():
    values = [7, 3, 5, 4]
    assert percentiles(values, (0, 25, 100)) == {0: 3, 25: 3, 100: 7}  # floor(0.75) = 0
    assert values == [7, 3, 5, 4]


@pytest.mark.parametrize(("values", "ps"), [([], (50,)), ([1], (50, 101))])
def test_percentiles_rejects_empty_sample_and_bad_levels(values, ps):
    with pytest.raises(ValueError):
        percentiles(values, ps)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([5], 5),
        ([3, 1, 2], 2),
        ([4, 1, 3, 2], 2),  # even count: floor(3 * 0.5) = 1 -> the lower middle, 2
        (SPEC_SAMPLE, 5),
    ],
)
def test_median_uses_the_same_rule(values, expected):
    assert median(values) == expected


def test_median_of_nothing_is_an_error():
    with pytest.raises(ValueError):
        median([])


@pytest.mark.parametrize(
    ("values", "p", "days", "text"),
    [
        (SPEC_SAMPLE, 85, 6, "85% of items finish in 6 days or less"),
        (SPEC_SAMPLE, 95, 7, "95% of items finish in 7 days or less"),
        ([1, 1, 2], 50, 1, "50% of items finish in 1 day or less"),  # floor(2 * 0.5) = 1 -> 1
        ([2.5, 4.5], 85, 2.5, "85% of items finish in 2.5 days or less"),  # floor(0.85) = 0
        ([6.0], 85, 6.0, "85% of items finish in 6 days or less"),
    ],
)
def test_service_level_expectation(values, p, days, text):
    sle = service_level_expectation(values, p)
    assert sle == {"percent": p, "days": days, "sample_size": len(values), "text": text}


@pytest.mark.parametrize("values", [None, []])
def test_service_level_expectation_without_data_says_so(values):
    sle = service_level_expectation(values)
    assert sle["percent"] == 85
    assert sle["days"] is None
    assert sle["sample_size"] == 0
    assert "no finished items" in sle["text"]


samples = st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=60)
levels = st.integers(min_value=0, max_value=100)


@given(samples, levels, levels)
def test_percentiles_are_monotone_in_p(values, p, q):
    low, high = sorted((p, q))
    result = percentiles(values, (low, high))
    assert result[low] <= result[high]


@given(samples, levels)
def test_percentile_is_one_of_the_values_and_bounded(values, p):
    value = percentiles(values, (p,))[p]
    assert value in values
    assert min(values) <= value <= max(values)
    assert percentiles(values, (0, 100)) == {0: min(values), 100: max(values)}


@given(samples, levels)
def test_at_least_p_percent_are_at_or_below_the_percentile(values, p):
    """The rule's guarantee: values at or below sorted[k] number at least k + 1 > (n-1)p/100."""
    value = percentiles(values, (p,))[p]
    at_or_below = sum(v <= value for v in values)
    assert at_or_below >= (len(values) - 1) * p / 100
