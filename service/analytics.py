"""Item statistics of an assignment's slots, as pure functions over plain numbers.

No database here: ``service.stats`` reads one row per student and slot and hands the
numbers in. An *item* is one slot; a student's *item score* is their best score on it
(0..1, 0 if never graded); their *total* is the assignment total the ranking uses.

Formulas (named on the statistics page too):

- mean: the arithmetic mean; median: the middle value, or the mean of the two middle
  values of an even count.
- upper–lower discrimination index, ``D = p_U − p_L``: rank the N students by total,
  highest first, ties broken by ascending user id (a stable rule that does not depend on
  the item); the upper group is the first ``n_g`` and the lower group the last ``n_g``,
  ``n_g = max(1, round(0.27·N))`` with halves rounded up; ``p_U`` and ``p_L`` are the
  mean item scores in each group (for 0/1 items, the fractions that solved it).
  Undefined (None) for fewer than 2 students. Ranges from −1 to 1.
- point-biserial correlation, ``r_pb = (M₁ − M₀) / s_n · √(p·q)``: the item is solved
  (1) or not (0); ``M₁``, ``M₀`` are the mean totals of those who solved it and of those
  who did not, ``s_n`` the population standard deviation of all totals, ``p`` the fraction
  that solved it and ``q = 1 − p``. Undefined when everyone or no one solved it, or when
  all totals are equal.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

UPPER_LOWER_FRACTION = 0.27


def mean(values: Sequence[float]) -> float | None:
    """The arithmetic mean; None for no values."""
    return sum(values) / len(values) if values else None


def median(values: Iterable[float]) -> float | None:
    """The middle value (mean of the two middle ones for an even count); None for none."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return None
    middle = n // 2
    return ordered[middle] if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def fraction(count: int, total: int) -> float | None:
    """count / total, or None when total is 0."""
    return count / total if total else None


def distribution(values: Iterable[int]) -> list[tuple[int, int]]:
    """(value, how many times it occurs), by ascending value: e.g. attempts to solve."""
    return sorted(Counter(values).items())


def group_size(n: int) -> int:
    """Students in each of the upper and lower groups: max(1, round(0.27·n)), halves up."""
    return max(1, math.floor(UPPER_LOWER_FRACTION * n + 0.5))


@dataclass(frozen=True)
class Scored:
    """One student's numbers for one item: their assignment total and their item score."""

    user_id: int
    total: float
    item: float


@dataclass(frozen=True)
class UpperLower:
    """The upper–lower discrimination index and what it was computed from."""

    index: float  # D = p_upper - p_lower
    group_size: int
    p_upper: float
    p_lower: float


def ranked(students: Iterable[Scored]) -> list[Scored]:
    """Highest total first; equal totals by ascending user id."""
    return sorted(students, key=lambda s: (-s.total, s.user_id))


def upper_lower(students: Sequence[Scored]) -> UpperLower | None:
    """D = p_U − p_L over the top and bottom n_g students (see the module); None if N < 2."""
    n = len(students)
    if n < 2:
        return None
    order = ranked(students)
    size = group_size(n)
    upper = [s.item for s in order[:size]]
    lower = [s.item for s in order[-size:]]
    p_upper, p_lower = sum(upper) / size, sum(lower) / size
    return UpperLower(p_upper - p_lower, size, p_upper, p_lower)


def point_biserial(students: Sequence[Scored]) -> float | None:
    """r_pb = (M₁ − M₀)/s_n · √(p·q), an item counted solved at full marks (item ≥ 1);
    None when everyone or no one solved it, or every total is the same."""
    n = len(students)
    solved = [s.total for s in students if s.item >= 1.0]
    unsolved = [s.total for s in students if s.item < 1.0]
    if not solved or not unsolved:
        return None
    totals = [s.total for s in students]
    mu = sum(totals) / n
    s_n = math.sqrt(sum((t - mu) ** 2 for t in totals) / n)
    if s_n == 0:
        return None
    p = len(solved) / n
    m1, m0 = sum(solved) / len(solved), sum(unsolved) / len(unsolved)
    return (m1 - m0) / s_n * math.sqrt(p * (1 - p))
