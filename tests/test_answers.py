"""Reading answers: numbers, matrices, scalars, choices and the 422 error shape."""

from __future__ import annotations

import os
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from exercises.answers import (
    MAX_DIM,
    MAX_MATRIX_TEXT,
    AnswerFormatError,
    PartFormatError,
    read_choice,
    read_matrix,
    read_number,
    read_scalar,
)

HOSTILE = [
    "__import__('os').system('id')",
    "9**9**9**9",
    "().__class__.__bases__[0]",
    "lambda: 1",
    "x.__class__",
    '"a"*10**9',
    "(" * 10_000 + "1" + ")" * 10_000,
    "[" * 10_000 + "1" + "]" * 10_000,
    "[" * 9_000 + "1" + "]" * 9_000,
    "[[" + "1 " * 9_000 + "]]",
    "1" * 1_000_000,
    " " * 1_000_000 + "1/",
    "1 " * 500_000,
]


# -- numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (3, 3.0),
        (-0.25, -0.25),
        ("3", 3.0),
        ("-0.25", -0.25),
        (".5", 0.5),
        ("1/4", 0.25),
        ("-3/8", -0.375),
        ("3/-8", -0.375),
        ("1.5/2", 0.75),
        (" 1 / 4 ", 0.25),
        ("2.5e-3", 0.0025),
        ("1E2", 100.0),
        ("+7", 7.0),
        ("\u22121/2", -0.5),  # the typeset minus sign, pasted from the prompt
        (np.float64(0.5), 0.5),
    ],
)
def test_read_number_accepts(raw: object, expected: float) -> None:
    assert read_number(raw) == expected
    assert type(read_number(raw)) is float


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty answer"),
        ("   ", "empty answer"),
        ("1/", "'1/' is not a number"),
        ("1/0", "divides by zero"),
        ("0,5", "write decimals with a point, e.g. 0.5"),
        ("nan", "is not a number"),
        ("inf", "is not a number"),
        ("1e999", "too large"),
        ("1" * 65, "at most 64 characters"),
        (float("nan"), "not a finite number"),
        (float("inf"), "not a finite number"),
        (10**400, "too large"),
        (True, "got true/false"),
        (None, "got null"),
        ([1], "got a list"),
        ({"n": 1}, "got an object"),
    ],
)
def test_read_number_rejects_with_reason(raw: object, reason: str) -> None:
    with pytest.raises(PartFormatError, match=None) as info:
        read_number(raw)
    assert reason in str(info.value)


@given(st.integers(-(10**12), 10**12), st.integers(1, 10**12))
def test_fraction_text_reads_as_the_correctly_rounded_quotient(p: int, q: int) -> None:
    # Python's int / int is correctly rounded: an oracle independent of Fraction parsing.
    assert read_number(f"{p}/{q}") == p / q
    assert read_number(f"{p}/-{q}") == -p / q


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_text_and_json_round_trip_exactly(x: float) -> None:
    assert read_number(x) == x
    assert read_number(repr(x)) == x


# -- matrices ------------------------------------------------------------------------------

TWO_BY_TWO = [[1.0, 2.0], [3.0, 4.0]]


@pytest.mark.parametrize(
    "raw",
    [
        [[1, 2], [3, 4]],
        [[1.0, "2"], ["6/2", "4e0"]],
        "[1 2; 3 4]",
        "1 2; 3 4",
        "1, 2; 3, 4",
        "[1, 2; 3, 4;]",
        "[[1,2],[3,4]]",
        "[[1, 2], [3, 4],]",
        "[[1 2] [3 4]]",
        "[[1. 2.]\n [3. 4.]]",  # NumPy's printout
        "1 2\n3 4\n",
        "  1\t2 \r\n 3 4 ",
        "[2/2 4/2; 6 / 2 8/2]",
    ],
)
def test_read_matrix_forms(raw: object) -> None:
    m = read_matrix(raw)
    assert m.dtype == np.float64
    assert m.tolist() == TWO_BY_TWO


def test_read_matrix_mixed_json_entries() -> None:
    assert read_matrix([[1, "1/4"], [0, -2]]).tolist() == [[1.0, 0.25], [0.0, -2.0]]


def test_flat_json_list_is_a_column_and_text_row_is_a_row() -> None:
    assert read_matrix([1, "1/2"]).tolist() == [[1.0], [0.5]]
    assert read_matrix("[1, 2]").tolist() == [[1.0, 2.0]]
    assert read_matrix("[1; 2]").tolist() == [[1.0], [2.0]]


def test_bare_number_is_one_by_one() -> None:
    assert read_matrix(3).tolist() == [[3.0]]
    assert read_matrix("3/4").tolist() == [[0.75]]


def test_any_shape_is_read() -> None:
    assert read_matrix([[1, 2, 3]]).shape == (1, 3)
    assert read_matrix("1 2 3; 4 5 6").shape == (2, 3)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ([[1, 2], [3, 4, 5]], "row 2 has 3 entries but row 1 has 2"),
        ("1 2; 3 4 5", "row 2 has 3 entries but row 1 has 2"),
        ([[1, 2], [3]], "row 2 has 1 entry but row 1 has 2"),
        ([[1, 2], ["1/", 4]], "row 2, column 1: '1/' is not a number"),
        ("[1 2; 3 x]", "row 2, column 2: 'x' is not a number"),
        ([[1, None]], "row 1, column 2: expected a number, got null"),
        ([[1, True]], "row 1, column 2: expected a number, got true/false"),
        ([[1, [2]]], "row 1, column 2 is a list"),
        ([[1, " "]], "row 1, column 2 is empty"),
        ("1,,2", "row 1, column 2 is empty"),
        ([[1, float("nan")]], "row 1, column 2: nan is not a finite number"),
        ([[10**400]], "row 1, column 1: the number is too large"),
        ([1, [2]], "row 2 is a list but row 1 is a number"),
        ([[1], 2], "row 2 is a number but row 1 is a list"),
        ([], "empty matrix"),
        ([[]], "row 1 is empty"),
        ("", "empty answer"),
        ("[]", "empty matrix"),
        ("[1 2", "'[' is not closed"),
        ("1 2]", "brackets do not match"),
        ("[[1, 2], 5, [3, 4]]", "between rows"),
        ("[[[1]]]", "brackets do not match"),
        ("[[1; 2]]", "row 1 contains ';'"),
        ({"rows": 1}, "got an object"),
        (None, "got null"),
        (True, "got true/false"),
    ],
)
def test_read_matrix_rejects_naming_the_place(raw: object, reason: str) -> None:
    with pytest.raises(PartFormatError) as info:
        read_matrix(raw)
    assert reason in str(info.value)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ([[0]] * (MAX_DIM + 1), "too many rows"),
        ([[0] * (MAX_DIM + 1)], "too many columns"),
        ([0] * (MAX_DIM + 1), "too many rows"),
        (";".join(["1"] * (MAX_DIM + 1)), "too many rows"),
        (" ".join(["1"] * (MAX_DIM + 1)), "too many columns"),
        ("1 " * (MAX_MATRIX_TEXT // 2 + 1), "longer than"),
    ],
)
def test_read_matrix_bounds(raw: object, reason: str) -> None:
    with pytest.raises(PartFormatError) as info:
        read_matrix(raw)
    assert reason in str(info.value)


def test_largest_matrix_is_read() -> None:
    rows = [[i * MAX_DIM + j for j in range(MAX_DIM)] for i in range(MAX_DIM)]
    text = "\n".join(" ".join(str(x) for x in row) for row in rows)
    assert read_matrix(rows).tolist() == read_matrix(text).tolist() == rows


finite = st.floats(allow_nan=False, allow_infinity=False)
shapes = st.tuples(st.integers(1, 6), st.integers(1, 6))


@st.composite
def float_matrices(draw: st.DrawFn) -> list[list[float]]:
    rows, cols = draw(shapes)
    return [[draw(finite) for _ in range(cols)] for _ in range(rows)]


@given(float_matrices())
def test_matrix_round_trips_through_json_and_text(rows: list[list[float]]) -> None:
    text_rows = [[repr(x) for x in row] for row in rows]
    forms = [
        rows,
        text_rows,
        "[" + "; ".join(" ".join(row) for row in text_rows) + "]",
        "\n".join(", ".join(row) for row in text_rows),
        "[" + ", ".join("[" + ", ".join(row) + "]" for row in text_rows) + "]",
    ]
    for form in forms:
        assert read_matrix(form).tolist() == rows


@given(st.lists(st.tuples(st.integers(-99, 99), st.integers(1, 99)), min_size=1, max_size=8))
def test_fraction_column_reads_exactly(pairs: list[tuple[int, int]]) -> None:
    column = [f"{p}/{q}" for p, q in pairs]
    expected = [[float(Fraction(p, q))] for p, q in pairs]
    assert read_matrix(column).tolist() == expected
    assert read_matrix("; ".join(column)).tolist() == expected


# -- scalars and choices -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(0.5, 0.5), ("1/4", 0.25), ([[2]], 2.0), ([3], 3.0), ("[0.5]", 0.5), ("[[1/8]]", 0.125)],
)
def test_read_scalar(raw: object, expected: float) -> None:
    assert read_scalar(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("[1 2]", "expected a single number, got a 1×2 matrix"),
        ([1, 2], "expected a single number, got a 2×1 matrix"),
        ("1,5", "write decimals with a point, e.g. 1.5"),
        ("", "empty answer"),
        (None, "got null"),
    ],
)
def test_read_scalar_rejects(raw: object, reason: str) -> None:
    with pytest.raises(PartFormatError) as info:
        read_scalar(raw)
    assert reason in str(info.value)


def test_read_choice() -> None:
    options = ["a", "b", "transpose"]
    assert read_choice("b", options) == "b"
    assert read_choice(" Transpose ", options) == "transpose"
    assert read_choice(2, ["1", "2"]) == "2"
    with pytest.raises(PartFormatError, match="'c' is not one of the options a, b, transpose"):
        read_choice("c", options)
    with pytest.raises(PartFormatError, match="empty answer: choose one of a, b, transpose"):
        read_choice("", options)
    with pytest.raises(PartFormatError, match="got true/false"):
        read_choice(True, options)


def test_choice_ignores_case_only_when_unambiguous() -> None:
    assert read_choice("AB", ["ab", "AB"]) == "AB"
    with pytest.raises(PartFormatError, match="not one of the options ab, AB"):
        read_choice("Ab", ["ab", "AB"])


# -- the whole submission ------------------------------------------------------------------


def test_answer_format_error_json_is_contract_shape() -> None:
    error = AnswerFormatError.from_parts({"dC_dW": "row 2 has 3 entries but row 1 has 2"})
    assert isinstance(error, ValueError)
    assert error.parts == {"dC_dW": "row 2 has 3 entries but row 1 has 2"}
    assert error.to_json() == {
        "error": {
            "code": "invalid_answer",
            "message": "could not read the answer for dC_dW",
            "parts": {"dC_dW": "row 2 has 3 entries but row 1 has 2"},
        }
    }
    assert AnswerFormatError("not an object").to_json()["error"]["parts"] == {}
    assert AnswerFormatError.from_parts({"a": "x", "C": "y"}).message == (
        "could not read the answers for a, C"
    )


# -- hostile input -------------------------------------------------------------------------


@pytest.mark.parametrize("raw", HOSTILE, ids=lambda raw: repr(raw[:20]))
def test_hostile_text_is_a_format_error_and_runs_nothing(
    raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(*args: object) -> None:
        raise AssertionError("a reader ran a command")

    monkeypatch.setattr(os, "system", forbidden)
    monkeypatch.setattr(os, "popen", forbidden)
    for reader in (read_number, read_matrix, read_scalar):
        with pytest.raises(PartFormatError):
            reader(raw)
    with pytest.raises(PartFormatError):
        read_choice(raw, ["a", "b"])


@pytest.mark.parametrize("raw", ["x" * 60, "x" * 1_000_000, "[" + "x " * 30 + "]"])
def test_error_messages_do_not_echo_long_input(raw: str) -> None:
    for read in (read_number, read_matrix, lambda value: read_choice(value, ["a"])):
        with pytest.raises(PartFormatError) as info:
            read(raw)
        assert len(str(info.value)) < 160  # at most the 64 characters a number may have


JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(alphabet="0123456789./-+eE ;,[]x", max_size=20),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=3), children, max_size=2)
    ),
    max_leaves=12,
)


@given(JSON_VALUES)
def test_any_json_value_is_read_or_refused_with_a_reason(raw: object) -> None:
    for read in (read_number, read_matrix, read_scalar, lambda v: read_choice(v, ["a"])):
        try:
            value = read(raw)
        except PartFormatError as exc:
            assert str(exc)
        else:
            assert isinstance(value, (float, str, np.ndarray))


# -- orientation and the transpose mark (issue 12, item 5) ---------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("[1 2; 3 4]'", [[1.0, 3.0], [2.0, 4.0]]),
        ("[1 2; 3 4]ᵀ", [[1.0, 3.0], [2.0, 4.0]]),
        ("[1 2; 3 4]\u2019", [[1.0, 3.0], [2.0, 4.0]]),  # a phone's curly apostrophe
        ("[[1, 2], [3, 4]]'", [[1.0, 3.0], [2.0, 4.0]]),
        ("[1 2]'", [[1.0], [2.0]]),
        ("[1; 2]'", [[1.0, 2.0]]),
        (" [1, -1/2] ' ", [[1.0], [-0.5]]),
    ],
)
def test_a_transpose_mark_parses(raw: str, expected: list[list[float]]) -> None:
    assert read_matrix(raw).tolist() == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [("[1 2]''", "one transpose mark"), ("[1' 2]", "after the closing"), ("1 2'", "brackets")],
)
def test_a_misplaced_transpose_mark_is_named(raw: str, reason: str) -> None:
    with pytest.raises(PartFormatError) as info:
        read_matrix(raw)
    assert reason in str(info.value)


COLUMN, ROW = (2, 1), (1, 2)


@pytest.mark.parametrize("raw", ["[1, 2]", "[1 2]", "1, 2", "[1; 2]", "[1 2]'", [1, 2], [[1], [2]]])
def test_a_vector_is_read_as_the_column_the_part_asks_for(raw: object) -> None:
    assert read_matrix(raw, shape=COLUMN).tolist() == [[1.0], [2.0]]


@pytest.mark.parametrize("raw", ["[1, 2]", "[1 2]", "1 2", "[1; 2]'", [1, 2], [[1, 2]]])
def test_a_vector_is_read_as_the_row_the_part_asks_for(raw: object) -> None:
    assert read_matrix(raw, shape=ROW).tolist() == [[1.0, 2.0]]


@pytest.mark.parametrize(
    ("raw", "shape", "wanted"),
    [
        ("[1; 2]'", COLUMN, "a column is wanted here (2×1)"),
        ("[[1, 2]]", COLUMN, "a column is wanted here (2×1)"),
        ("[1; 2]", ROW, "a row is wanted here (1×2)"),
        ("[1 2]'", ROW, "a row is wanted here (1×2)"),
    ],
)
def test_a_vector_written_the_other_way_round_is_refused_saying_which_way(
    raw: str, shape: tuple[int, int], wanted: str
) -> None:
    with pytest.raises(PartFormatError) as info:
        read_matrix(raw, shape=shape)
    assert wanted in str(info.value)


def test_a_vector_of_another_length_keeps_the_parts_orientation() -> None:
    # The shape message then compares like with like: 3×1 against 2×1.
    assert read_matrix("[1, 2, 3]", shape=COLUMN).shape == (3, 1)
    assert read_matrix([1, 2, 3], shape=ROW).shape == (1, 3)
    assert read_matrix("[1; 2; 3]", shape=ROW).shape == (3, 1)  # explicit, and not 2 long


def test_a_matrix_part_reads_vectors_as_before() -> None:
    assert read_matrix("[1, 2]", shape=(2, 2)).shape == (1, 2)
    assert read_matrix([1, 2], shape=(2, 2)).shape == (2, 1)
    assert read_matrix("[1 2; 3 4]'", shape=(2, 2)).tolist() == [[1.0, 3.0], [2.0, 4.0]]
