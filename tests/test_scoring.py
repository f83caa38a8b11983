"""The one scoring rule (exercises.grading.SCORING_RULE) and feedback that never overclaims.

The issue's reproducers first, each as it was reported; then the rule's properties over every
type: a named mistake never scores below an unexplained answer with the same right entries,
answers that show no work (all zeros, one constant, a copy of the problem's numbers) score 0
and carry nothing forward, and the key rounded to 2 or 3 significant figures is never tagged.
Oracles are written here: the key read from the variant's exact answers, rounding done with
Python's own decimal formatting, junk built with numpy.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import exercises as ex

NUMERIC_TYPES = [t.id for t in ex.catalogue() if t.id not in ("symbolic-gradient", "concept-check")]
SEEDS = range(4)


def exact(value: Any) -> Any:
    """The float value of an answers-format value (the key as the problem states it)."""
    if isinstance(value, list):
        return np.array([[float(Fraction(str(c))) for c in row] for row in value])
    return float(Fraction(str(value)))


def key(v: ex.Variant) -> dict[str, Any]:
    return {p.name: exact(v.key[p.name]) for p in v.parts}


def jsonable(value: Any) -> Any:
    return value.tolist() if isinstance(value, np.ndarray) else value


def grade(v: ex.Variant, **answers: Any) -> ex.Grade:
    """Grade the key with the named parts replaced."""
    raw = dict(v.key)
    raw.update({name: jsonable(value) for name, value in answers.items()})
    return ex.grade(v, ex.parse_answers(v, raw))


def sig(x: float, figures: int) -> float:
    """x rounded to ``figures`` significant figures, as a student writes it down."""
    return float(f"{x:.{figures - 1}e}")


def rounded(value: Any, figures: int) -> Any:
    if isinstance(value, np.ndarray):
        return np.vectorize(lambda x: sig(x, figures))(value)
    return sig(value, figures)


def within(part: ex.Part, a: Any, b: Any) -> np.ndarray:
    return np.abs(np.asarray(a) - np.asarray(b)) <= part.atol + part.rtol * np.abs(np.asarray(b))


# --- the reproducers, as reported ------------------------------------------------------------


def test_weight_update_seed_9_rounded_entry_is_not_two_mistakes():
    v = ex.generate("weight-update", 9, 2)
    assert abs(key(v)["w_entry"] - 0.34410) < 5e-5
    r = grade(v, w_entry=0.34).parts["w_entry"]
    assert r.misconceptions == ()
    assert "2 significant figures" in r.feedback
    assert r.score >= 0.5


def test_chain_rule_seed_11_rounded_factor_is_not_two_mistakes():
    v = ex.generate("chain-rule", 11, 2)
    assert abs(key(v)["dC_da"] - 0.49567) < 5e-5
    r = grade(v, dC_da=0.5).parts["dC_da"]
    assert r.misconceptions == ()
    assert "2 significant figures" in r.feedback
    assert r.score >= 0.5


def test_weight_update_seed_0_named_mistake_scores_its_right_entries():
    v = ex.generate("weight-update", 0, 1)
    k = key(v)["W_new"]
    ascent = next(p.value for p in v.predictions["W_new"] if p.tags == ("gradient-ascent",))
    right = within(v.part("W_new"), ascent, k)
    assert right.sum() == 6 and right.size == 9  # as reported: 6 of 9 entries right
    named = grade(v, W_new=ascent).parts["W_new"]
    assert named.misconceptions == ("gradient-ascent",)
    junk = np.where(right, ascent, np.array([[101.5, -203.25, 307.125]] * 3))
    unexplained = grade(v, W_new=junk).parts["W_new"]
    assert unexplained.misconceptions == ()
    assert named.score == pytest.approx(6 / 9) == unexplained.score


@pytest.mark.parametrize(("type_id", "reported"), [("backprop-story", 0.69),
                                                   ("hidden-gradient", 0.67)])
def test_seed_0_all_zero_answers_score_nothing(type_id, reported):
    v = ex.generate(type_id, 0, 1)
    zeros = {p.name: np.zeros_like(k) if isinstance(k, np.ndarray) else 0.0
             for p, k in zip(v.parts, key(v).values(), strict=True)}
    g = grade(v, **zeros)
    assert g.score == 0.0, (reported, g.to_json())
    assert not any(r.carried_forward for r in g.parts.values())


def test_weight_update_constant_with_the_entrys_number_scores_nothing():
    for seed in range(10):
        v = ex.generate("weight-update", seed, 1)
        k = key(v)
        c = k["w_entry"]
        g = grade(v, W_new=np.full_like(k["W_new"], c), w_entry=c)
        # w_entry is right as a number, but only W_new's entry (i, j) says so; W_new is all one
        # number, so it earns nothing and carries nothing forward. The entry itself is the key.
        assert g.parts["W_new"].score == 0.0, (seed, g.to_json())
        assert g.parts["w_entry"].score == 1.0 and not g.parts["w_entry"].carried_forward
        d = np.full_like(k["W_new"], 7.25)
        g = grade(v, W_new=d, w_entry=7.25)
        assert g.score == 0.0, (seed, g.to_json())
