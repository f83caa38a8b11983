"""Grading paths that compare with the key: shapes, one slipped entry, early rounding,
per-entry marks, and the forms an answer may take."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import exercises as ex

SEEDS = range(40)


def _key(v: ex.Variant) -> np.ndarray:
    return np.array([[float(Fraction(str(c))) for c in row] for row in v.key["dC_dW"]])


def _grade(v: ex.Variant, answer) -> ex.PartResult:
    return ex.grade(v, ex.parse_answers(v, {"dC_dW": answer})).parts["dC_dW"]


@pytest.mark.parametrize("seed", SEEDS)
def test_key_in_every_form_scores_full(seed):
    v = ex.generate("weight-gradient", seed, 1)
    k = _key(v)
    text = "[" + "; ".join(" ".join(str(float(x)) for x in row) for row in k) + "]"
    for answer in (v.key["dC_dW"], k.tolist(), text, [[f"{x:.6e}" for x in row] for row in k]):
        assert _grade(v, answer).score == 1.0


@pytest.mark.parametrize("seed", SEEDS)
def test_a_wrong_shape_gets_a_message_not_a_silent_zero(seed):
    v = ex.generate("weight-gradient", seed, 2)
    result = _grade(v, [[1, 2, 3]])
    assert result.score == 0.0 and result.entries is None
    assert "1×3" in result.feedback and "2×2" in result.feedback


@pytest.mark.parametrize("seed", SEEDS)
def test_one_slipped_entry_is_an_arithmetic_slip(seed):
    v = ex.generate("weight-gradient", seed, 1)
    k = _key(v)
    k[1, 0] += 7
    result = _grade(v, k.tolist())
    assert result.misconceptions == ("arithmetic-slip",)
    assert result.score == 0.75
    assert result.entries == [[True, True], [False, True]]
    assert "row 2, column 1" in result.feedback


@pytest.mark.parametrize("seed", SEEDS)
def test_a_close_answer_earns_half_and_claims_no_method(seed):
    v = ex.generate("weight-gradient", seed, 2)
    # Every entry 2 % off: outside the 0.5 % tolerance, inside the 5 % band. A number that
    # close does not show the method was right (a structural mistake can land there too), so
    # no "rounding" tag saying so; the rule gives it half credit.
    result = _grade(v, (_key(v) * 1.02).tolist())
    assert result.misconceptions == ()
    assert result.score == 0.5
    assert "within 5%" in result.feedback and "method is right" not in result.feedback


@pytest.mark.parametrize("seed", SEEDS)
def test_an_unexplained_answer_gets_per_entry_marks(seed):
    v = ex.generate("weight-gradient", seed, 1)
    k = _key(v)
    k[0, :] += 100  # two entries far off: no slip, no rounding, no known mistake
    result = _grade(v, k.tolist())
    assert result.misconceptions == ()
    assert result.entries == [[False, False], [True, True]]
    assert result.score == 0.5


def test_within_tolerance_is_right_and_just_outside_is_not():
    v = ex.generate("weight-gradient", 4, 2)
    k = _key(v)
    tol = 1e-4 + 5e-3 * np.abs(k)
    assert _grade(v, (k + 0.9 * tol).tolist()).score == 1.0
    assert _grade(v, (k + 1.1 * tol).tolist()).score < 1.0


def test_unknown_and_missing_parts_are_named():
    v = ex.generate("weight-gradient", 1, 1)
    with pytest.raises(ex.AnswerFormatError) as err:
        ex.parse_answers(v, {"dC_dw": [[1]]})
    assert set(err.value.parts) == {"dC_dw", "dC_dW"}
    assert err.value.parts["dC_dW"] == "no answer given"


# -- a vector typed as text is read in the part's orientation (issue 12, item 5) -----------


def _column_key(v: ex.Variant, name: str) -> list[str]:
    """The key of a column part as the student would type its entries (decimals)."""
    column = [[float(Fraction(str(c))) for c in row] for row in v.key[name]]
    assert all(len(row) == 1 for row in column) and len(column) >= 2, "a column part"
    return [repr(row[0]) for row in column]


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize(
    "form",
    ["[{}]", "[{}]'", "[{}]ᵀ", "{}"],
    ids=["brackets", "transposed", "superscript-T", "bare"],
)
@pytest.mark.parametrize("separator", [", ", " "])
def test_a_right_column_typed_as_a_row_of_text_scores_full(seed, form, separator):
    v = ex.generate("delta", seed, 1)
    entries = _column_key(v, "delta")
    text = form.format(separator.join(entries))
    if form == "{}" and separator == " ":
        text = "[" + text + "]'"
    graded = ex.grade(v, ex.parse_answers(v, {"delta": text}))
    assert graded.parts["delta"].score == 1.0, text


@pytest.mark.parametrize("seed", range(10))
def test_every_way_to_write_a_column_agrees(seed):
    v = ex.generate("bias-gradient", seed, 2)
    entries = _column_key(v, "dC_db")
    forms = ["[" + "; ".join(entries) + "]", "[" + ", ".join(entries) + "]",
             "[" + " ".join(entries) + "]'", entries, [[e] for e in entries]]
    for form in forms:
        assert ex.grade(v, ex.parse_answers(v, {"dC_db": form})).score == 1.0, form


def test_a_column_written_explicitly_as_a_row_is_refused_saying_a_column_is_wanted():
    v = ex.generate("delta", 7, 1)
    entries = _column_key(v, "delta")
    for text in ("[" + "; ".join(entries) + "]'", "[[" + ", ".join(entries) + "]]"):
        with pytest.raises(ex.AnswerFormatError) as err:
            ex.parse_answers(v, {"delta": text})
        assert "a column is wanted here (2×1)" in err.value.parts["delta"]


def test_a_transposed_matrix_typed_with_a_transpose_mark_scores_full():
    v = ex.generate("weight-gradient", 7, 1)
    k = _key(v)
    text = "[" + "; ".join(" ".join(repr(float(x)) for x in column) for column in k.T) + "]'"
    assert _grade(v, text).score == 1.0
