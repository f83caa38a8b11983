"""Item statistics (service.analytics) against numbers worked out by hand here."""

from __future__ import annotations

import math

import pytest

from service.analytics import (
    Scored,
    distribution,
    fraction,
    group_size,
    mean,
    median,
    point_biserial,
    ranked,
    upper_lower,
)

# Ten students: (user id, assignment total, item score). Users 3 and 4 tie at 7 on the
# boundary of the upper group; the rule (ascending user id) puts user 3 in it.
CLASS = [
    Scored(1, 9, 1), Scored(2, 8, 1), Scored(3, 7, 0), Scored(4, 7, 1), Scored(5, 6, 0),
    Scored(6, 5, 1), Scored(7, 4, 0), Scored(8, 3, 1), Scored(9, 2, 0), Scored(10, 1, 0),
]


def test_mean_and_fraction() -> None:
    assert mean([1.0, 0.5, 0.0, 0.5]) == 0.5  # 2.0 / 4
    assert mean([]) is None
    assert fraction(3, 4) == 0.75
    assert fraction(0, 0) is None


def test_median_of_odd_and_even_counts() -> None:
    assert median([3, 1, 2]) == 2  # sorted 1, 2, 3: the middle one
    assert median([4, 1, 3, 2]) == 2.5  # sorted 1, 2, 3, 4: (2 + 3) / 2
    assert median([60.0]) == 60.0
    assert median([]) is None


def test_distribution_counts_each_value_in_order() -> None:
    # attempts to solve of five students: 1, 2, 1, 3, 1 -> three at 1, one at 2, one at 3
    assert distribution([1, 2, 1, 3, 1]) == [(1, 3), (2, 1), (3, 1)]
    assert distribution([]) == []


@pytest.mark.parametrize(
    ("n", "size"),
    [
        (1, 1),  # 0.27 -> 0, at least 1
        (2, 1),  # 0.54 -> 1
        (4, 1),  # 1.08 -> 1
        (7, 2),  # 1.89 -> 2
        (10, 3),  # 2.7 -> 3
        (150, 41),  # 40.5 -> 41: halves round up (Python's round would give 40)
    ],
)
def test_group_size(n: int, size: int) -> None:
    assert group_size(n) == size


def test_ranking_breaks_ties_by_user_id() -> None:
    assert [s.user_id for s in ranked(reversed(CLASS))] == list(range(1, 11))


def test_upper_lower_index_by_hand() -> None:
    # N = 10, n_g = 3. Upper: users 1, 2, 3 (items 1, 1, 0) -> p_U = 2/3.
    # Lower: users 8, 9, 10 (items 1, 0, 0) -> p_L = 1/3. D = 2/3 - 1/3 = 1/3.
    d = upper_lower(CLASS)
    assert d is not None
    assert d.group_size == 3
    assert d.p_upper == pytest.approx(2 / 3) and d.p_lower == pytest.approx(1 / 3)
    assert d.index == pytest.approx(1 / 3)


def test_upper_lower_with_partial_scores() -> None:
    # N = 4, n_g = 1: the top student (total 10, item 0.5) against the bottom one
    # (total 2, item 0.25): D = 0.5 - 0.25 = 0.25.
    d = upper_lower([Scored(7, 2, 0.25), Scored(5, 10, 0.5), Scored(6, 6, 1), Scored(8, 4, 0)])
    assert d is not None and (d.group_size, d.index) == (1, 0.25)


def test_upper_lower_needs_two_students() -> None:
    assert upper_lower([Scored(1, 3, 1)]) is None
    assert upper_lower([]) is None


def test_point_biserial_by_hand() -> None:
    # Solved: users 1, 2, 4, 6, 8 with totals 9, 8, 7, 5, 3 -> M1 = 32 / 5 = 6.4.
    # Not solved: users 3, 5, 7, 9, 10 with totals 7, 6, 4, 2, 1 -> M0 = 20 / 5 = 4.
    # Mean total 52 / 10 = 5.2; squared deviations 14.44, 7.84, 3.24, 3.24, 0.64, 0.04,
    # 1.44, 4.84, 10.24, 17.64 sum to 63.6, so s_n = sqrt(6.36).
    # p = q = 0.5, sqrt(p q) = 0.5: r_pb = (6.4 - 4) / sqrt(6.36) * 0.5 = 1.2 / sqrt(6.36).
    r = point_biserial(CLASS)
    assert r == pytest.approx(1.2 / math.sqrt(6.36))
    assert r == pytest.approx(0.475831, abs=1e-6)


def test_point_biserial_undefined_cases() -> None:
    everyone = [Scored(1, 3, 1), Scored(2, 2, 1)]
    no_one = [Scored(1, 3, 0.5), Scored(2, 2, 0)]  # 0.5 is not solved
    flat = [Scored(1, 2, 1), Scored(2, 2, 0)]  # s_n = 0
    assert point_biserial(everyone) is None
    assert point_biserial(no_one) is None
    assert point_biserial(flat) is None
