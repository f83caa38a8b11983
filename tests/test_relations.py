"""How a wrong answer relates to its key (exercises.relations), on matrices written by hand."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from exercises.problem import Part
from exercises.relations import KINDS, NONE, Relation, relate

MATRIX = Part("dC_dW", "matrix", "dC/dW")
SCALAR = Part("C", "scalar", "C")
KEY = np.array([[0.25, -1.5, 2.0],
                [3.0, 0.75, -0.5]])


def _m(rows: list[list[float]]) -> np.ndarray:
    return np.array(rows, dtype=np.float64)


@pytest.mark.parametrize(("answer", "expected"), [
    (_m([[0.5, -3.0, 4.0], [6.0, 1.5, -1.0]]), Relation("multiple", "2 × the key")),
    (_m([[-0.25, 1.5, -2.0], [-3.0, -0.75, 0.5]]), Relation("multiple", "−1 × the key")),
    (_m([[0.125, -0.75, 1.0], [1.5, 0.375, -0.25]]), Relation("multiple", "0.5 × the key")),
    (_m([[0.25, 1.5, 2.0], [3.0, 0.75, 0.5]]),
     Relation("negated", "entries (1, 2), (2, 3) negated")),
    (_m([[3.0, 0.75, -0.5], [0.25, -1.5, 2.0]]),
     Relation("permutation", "rows 1 and 2 swapped")),
    (_m([[-1.5, 0.25, 2.0], [0.75, 3.0, -0.5]]),
     Relation("permutation", "columns 1 and 2 swapped")),
    (_m([[0.25, 2.0, -1.5], [0.75, 3.0, -0.5]]),
     Relation("permutation", "the key's entries in another order")),
    (_m([[0.25, 3.0], [-1.5, 0.75], [2.0, -0.5]]), Relation("transpose", "the key transposed")),
    (_m([[0.25, 3.0, 2.0], [-1.5, 0.75, -0.5]]),
     Relation("transpose", "the block of rows 1–2, columns 1–2 of the key transposed")),
    (_m([[0.3, -1.5, 2.0], [3.0, 0.8, -0.5]]),
     Relation("rounding", "the key rounded to 1 significant figure")),
    (_m([[0.25, 9.0, 7.0], [3.0, 0.75, -0.5]]), Relation("row-right", "only row 2 right")),
])
def test_each_relation_of_a_matrix(answer: np.ndarray, expected: Relation) -> None:
    assert relate(MATRIX, answer, KEY) == expected


def test_one_column_right_when_no_row_is() -> None:
    answer = _m([[0.25, 9.0, 7.0], [3.0, 7.0, 9.0]])  # column 1 right, rows both wrong
    assert relate(MATRIX, answer, KEY) == Relation("column-right", "only column 1 right")


def test_rounding_to_decimals_beyond_the_tolerance() -> None:
    key = _m([[0.1234, 0.0456]])
    answer = _m([[0.12, 0.05]])  # 2 decimals, not 1 or 2 significant figures: 0.05 is 10% off
    assert relate(MATRIX, answer, key) == Relation("rounding", "the key rounded to 2 decimals")


def test_the_key_of_a_neighbouring_part() -> None:
    others = {"delta": _m([[1.0], [2.0]]), "dC_db": _m([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])}
    answer = _m([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert relate(MATRIX, answer, KEY, others) == Relation("neighbour", "the key of dC_db")


@pytest.mark.parametrize("answer", [
    KEY * 1.004,  # within 0.5% of every entry: right, so not an unexplained wrong answer
    _m([[7.0, 1.0, -9.0], [0.1, 4.0, 5.0]]),  # nothing in common with the key
    _m([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]),  # all zeros are no multiple and no rounding
])
def test_right_or_unrelated_answers_relate_as_none(answer: np.ndarray) -> None:
    assert relate(MATRIX, answer, KEY) == NONE


@pytest.mark.parametrize(("answer", "key", "others", "expected"), [
    (1.5, 0.5, {}, Relation("multiple", "3 × the key")),
    (-0.125, 0.5, {}, Relation("multiple", "−0.25 × the key")),
    (0.49, 0.4862, {}, Relation("rounding", "the key rounded to 2 significant figures")),
    (0.7, 0.5, {"a": 0.7}, Relation("neighbour", "the key of a")),
    (0.3971, 0.5, {}, NONE),  # a single number is a multiple of any other: only simple count
    (0.501, 0.5, {}, NONE),  # right within tolerance
])
def test_relations_of_a_single_number(answer: float, key: float, others: dict[str, Any],
                                      expected: Relation) -> None:
    assert relate(SCALAR, answer, key, others) == expected


def test_every_kind_has_a_heading() -> None:
    assert set(KINDS) == {"rounding", "multiple", "negated", "transpose", "permutation",
                          "neighbour", "row-right", "column-right", "none"}


def test_a_block_inside_a_larger_matrix_transposed() -> None:
    key = _m([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    answer = _m([[1.0, 2.0, 3.0], [4.0, 5.0, 8.0], [7.0, 6.0, 9.0]])  # rows/cols 2–3 transposed
    assert relate(MATRIX, answer, key) == Relation(
        "transpose", "the block of rows 2–3, columns 2–3 of the key transposed")


def test_large_numbers_rounded_to_significant_figures() -> None:
    key = _m([[12345.678, -2.5]])
    answer = _m([[12000.0, -2.5]])  # 2.8% off: wrong, and 12345.678 to 2 figures
    assert relate(MATRIX, answer, key) == Relation(
        "rounding", "the key rounded to 2 significant figures")
