"""Grading policies: each field changes the score as it says, worked by hand on drawn
variants; the default policy is the scoring rule unchanged; a policy is read strictly; and
the grader version names the type, the mistake library and the policy."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import re
from typing import Any

import numpy as np
import pytest

import exercises as ex
from exercises.problem import ATOL, RTOL
from exercises.relations import relate


def _raw(v: ex.Variant, **parts: Any) -> dict[str, Any]:
    """The key in the answers' JSON format with the given parts replaced."""
    raw = {p.name: v.key[p.name] for p in v.parts}
    raw.update({name: np.asarray(value).tolist() for name, value in parts.items()})
    return raw


def _grade(v: ex.Variant, policy: ex.GradingPolicy = ex.DEFAULT_POLICY,
           **parts: Any) -> ex.Grade:
    return ex.grade(v, ex.parse_answers(v, _raw(v, **parts)), policy)


def _largest_entry(k: np.ndarray) -> tuple[int, int]:
    i, j = np.unravel_index(int(np.argmax(np.abs(k))), k.shape)
    return int(i), int(j)


# --- tolerance ---


@pytest.mark.parametrize("seed", range(10))
def test_an_entry_off_by_0_8_percent_is_wrong_by_default_and_right_within_1_percent(seed):
    v = ex.generate("weight-gradient", seed, 1)
    k = v.key_values["dC_dW"].copy()
    i, j = _largest_entry(k)
    assert abs(k[i, j]) > 0.1  # so 0.8% of it is beyond the 0.0001 absolute tolerance
    k[i, j] *= 1.008
    loose = ex.GradingPolicy(rtol=0.01)

    # Graded by the loose policy first: the variant's cache must not keep its tolerance.
    assert _grade(v, loose, dC_dW=k).parts["dC_dW"].score == 1.0
    assert _grade(v, loose, dC_dW=k).parts["dC_dW"].correct
    strict = _grade(v, dC_dW=k).parts["dC_dW"]
    assert strict.score == 0.75  # 3 of 4 entries within 0.5%
    assert strict.entries is not None and sum(map(sum, strict.entries)) == 3
    assert _grade(v, loose, dC_dW=k).parts["dC_dW"].score == 1.0


def test_the_close_feedback_states_the_policy_tolerance():
    v = ex.generate("weight-gradient", 3, 1)
    off = v.key_values["dC_dW"] * 1.02  # every entry 2% off: within 5%, outside 1%
    assert "the 0.5% tolerance" in _grade(v, dC_dW=off).parts["dC_dW"].feedback
    said = _grade(v, ex.GradingPolicy(rtol=0.01), dC_dW=off).parts["dC_dW"].feedback
    assert "the 1% tolerance" in said and "0.5%" not in said


# --- carried forward ---


def _weight_update() -> tuple[ex.Variant, np.ndarray, tuple[int, int]]:
    """weight-update seed 3: W_new 3×3, w_entry its entry at (row 2, column 1)."""
    v = ex.generate("weight-update", 3, 1)
    i, j = v.params["row"] - 1, v.params["column"] - 1
    assert v.key_values["W_new"].shape == (3, 3) and (i, j) == (1, 0)
    return v, v.key_values["W_new"].copy(), (i, j)


def test_carried_forward_credit_and_carrying_forward_turned_off():
    v, W, (i, j) = _weight_update()
    W[i, j] += 7.125  # one slipped entry: 8 of 9 right, and it shows work
    mine = W[i, j]  # w_entry read from the student's own W_new
    by_default = _grade(v, W_new=W, w_entry=mine)
    assert by_default.parts["W_new"].score == round(8 / 9, 6)
    assert by_default.parts["w_entry"].score == 1.0
    assert by_default.parts["w_entry"].carried_forward

    half = _grade(v, ex.GradingPolicy(carry_forward_credit=0.5), W_new=W, w_entry=mine)
    assert half.parts["w_entry"].score == 0.5 and half.parts["w_entry"].carried_forward
    assert half.score == pytest.approx((8 / 9 + 0.5) / 2, abs=1e-6)

    off = _grade(v, ex.GradingPolicy(carry_forward=False), W_new=W, w_entry=mine)
    assert off.parts["w_entry"].score == 0.0  # a single number 7.125 off the key
    assert not off.parts["w_entry"].carried_forward
    assert off.parts["W_new"].score == round(8 / 9, 6)


# --- partial credit ---


@pytest.mark.parametrize("seed", range(5))
def test_without_partial_credit_three_of_four_scores_0(seed):
    v = ex.generate("weight-gradient", seed, 1)
    k = v.key_values["dC_dW"].copy()
    k[1, 0] += 7
    default = _grade(v, dC_dW=k).parts["dC_dW"]
    strict = _grade(v, ex.GradingPolicy(partial_credit=False), dC_dW=k).parts["dC_dW"]
    assert default.score == 0.75
    assert strict.score == 0.0
    assert strict.entries == [[True, True], [False, True]]  # still reported
    assert strict.feedback == default.feedback
    # A right answer is still right.
    assert _grade(v, ex.GradingPolicy(partial_credit=False)).score == 1.0


# --- a credit per mistake ---


@pytest.mark.parametrize("seed", range(3))
def test_a_mistake_given_its_own_credit(seed):
    v = ex.generate("weight-gradient", seed, 3)  # dC_dW 2×3: the transpose is 3×2
    transposed = next(p.value for p in v.predictions["dC_dW"]
                      if p.tags == ("transposed-gradient",))
    policy = ex.GradingPolicy(mistake_credit=(("transposed-gradient", 0.5),))
    default = _grade(v, dC_dW=transposed).parts["dC_dW"]
    credited = _grade(v, policy, dC_dW=transposed).parts["dC_dW"]
    assert default.misconceptions == ("transposed-gradient",) and default.score == 0.0
    assert credited.misconceptions == ("transposed-gradient",) and credited.score == 0.5
    # Also without partial credit: the mistake's own credit stands.
    strict = dataclasses.replace(policy, partial_credit=False)
    assert _grade(v, strict, dC_dW=transposed).parts["dC_dW"].score == 0.5


def test_an_answer_showing_no_work_stays_at_0_whatever_its_mistake_credit():
    v = ex.generate("output-error", 0, 1)
    ones = [[1.0], [1.0]]  # dC/da taken as 1: the mistake named, but all one number
    default = _grade(v, dC_da=ones).parts["dC_da"]
    assert default.misconceptions == ("raw-error-as-loss",) and default.score == 0.0
    policy = ex.GradingPolicy(mistake_credit=(("raw-error-as-loss", 1.0),))
    assert _grade(v, policy, dC_da=ones).parts["dC_da"].score == 0.0


# --- accepted answers ---


def test_an_accepted_relation_holds_across_variants():
    accepted = ex.Accepted(part="dC_dW", relation="3 × the key", credit=0.8,
                           reason="The 3 comes from the problem's misprinted loss.")
    policy = ex.GradingPolicy(accepted=(accepted,))
    for seed in (0, 1):
        v = ex.generate("weight-gradient", seed, 1)
        k = v.key_values["dC_dW"]
        answer = 3 * k
        assert relate(v.part("dC_dW"), answer, k).label == "3 × the key"
        default = _grade(v, dC_dW=answer).parts["dC_dW"]
        assert default.misconceptions == () and default.score == 0.0  # no entry of k is 0
        result = _grade(v, policy, dC_dW=answer).parts["dC_dW"]
        assert result.score == 0.8
        assert result.accepted == accepted.reason
        assert result.feedback == f"Accepted by your instructor: {accepted.reason}"
        assert result.to_json()["accepted"] == accepted.reason
        # Another multiple is not accepted.
        assert _grade(v, policy, dC_dW=-3 * k).parts["dC_dW"].accepted is None
    assert "accepted" not in default.to_json()


def test_an_accepted_value_within_tolerance_scores_and_carries_forward():
    v, W, (i, j) = _weight_update()
    W += 7.125  # every entry wrong: 0 by the rule, and nothing carried forward from it
    default = _grade(v, W_new=W, w_entry=W[i, j])
    assert default.parts["W_new"].score == 0.0 and not default.parts["W_new"].misconceptions
    assert default.parts["w_entry"].score == 0.0

    exact = [[f"{x:.10g}" for x in row] for row in W.tolist()]
    policy = ex.GradingPolicy(accepted=(
        ex.Accepted(part="W_new", value=exact, credit=0.6, reason="Read with the other η."),))
    near = W * (1 + 1e-3)  # within 0.5% of the accepted value in every entry
    graded = _grade(v, policy, W_new=near, w_entry=near[i, j])
    assert graded.parts["W_new"].score == 0.6
    assert graded.parts["W_new"].accepted == "Read with the other η."
    assert graded.parts["w_entry"].score == 1.0 and graded.parts["w_entry"].carried_forward
    assert graded.score == pytest.approx(0.8)

    far = W.copy()
    far[0, 0] *= 1.1
    assert _grade(v, policy, W_new=far).parts["W_new"].accepted is None


def test_an_accepted_answer_scores_the_rule_credit_when_that_is_more():
    v = ex.generate("weight-gradient", 2, 1)
    k = v.key_values["dC_dW"].copy()
    k[1, 0] += 7  # 3 of 4 right: 0.75 by the rule
    policy = ex.GradingPolicy(accepted=(
        ex.Accepted(part="dC_dW", value=k.tolist(), credit=0.25, reason="Seen in class."),))
    result = _grade(v, policy, dC_dW=k).parts["dC_dW"]
    assert result.score == 0.75 and result.accepted == "Seen in class."


# --- the default policy is the rule unchanged ---


def _answer_sets(v: ex.Variant) -> list[dict[str, Any]]:
    """The key, each single-mistake prediction in its part, and perturbed keys."""
    out: list[dict[str, Any]] = [{}]
    for name, preds in v.predictions.items():
        out += [{name: p.value} for p in preds[:4] if len(p.tags) == 1]
    for p in v.parts:
        if p.kind in ("matrix", "scalar"):
            k = np.asarray(v.key_values[p.name], dtype=np.float64)
            out += [{p.name: k * 1.008}, {p.name: k * 1.03}, {p.name: k + 7.125}]
    return out


SWEEP = [("weight-gradient", 1), ("weight-update", 1), ("hidden-gradient", 2),
         ("forward-pass", 2), ("chain-rule", 1), ("backprop-story", 2)]


@pytest.mark.parametrize(("type_id", "difficulty"), SWEEP)
def test_the_default_policy_is_the_rule_and_a_policy_leaves_the_variant_clean(type_id,
                                                                               difficulty):
    loose = ex.GradingPolicy(rtol=0.05, atol=0.01, partial_credit=False)
    same_tolerance = ex.GradingPolicy(rtol=RTOL, atol=ATOL)  # the policy path, the rule's numbers
    for seed in range(6):
        reference = ex.generate(type_id, seed, difficulty)
        v = ex.generate(type_id, seed, difficulty)  # graded by a policy first, then by default
        for parts in _answer_sets(reference):
            try:
                answers = ex.parse_answers(reference, _raw(reference, **parts))
            except ex.AnswerFormatError:
                continue  # a perturbed value the part cannot take
            expected = ex.grade(reference, answers).to_json()
            assert ex.grade(reference, answers, ex.DEFAULT_POLICY).to_json() == expected
            ex.grade(v, answers, loose)
            assert ex.grade(v, answers, same_tolerance).to_json() == expected
            assert ex.grade(v, answers).to_json() == expected, (type_id, seed, parts)


# --- reading a policy ---


GOOD = {"part": "dC_dW", "relation": "3 × the key", "reason": "fine"}


@pytest.mark.parametrize(("doc", "field"), [
    ([], "policy"),
    ({"tolerance": 0.1}, "tolerance"),
    ({"rtol": True}, "rtol"),
    ({"rtol": 1.5}, "rtol"),
    ({"rtol": "0.01"}, "rtol"),
    ({"rtol": float("nan")}, "rtol"),
    ({"atol": -0.1}, "atol"),
    ({"atol": 1e4}, "atol"),
    ({"atol": float("inf")}, "atol"),
    ({"carry_forward": 1}, "carry_forward"),
    ({"carry_forward_credit": 1.2}, "carry_forward_credit"),
    ({"carry_forward_credit": None}, "carry_forward_credit"),
    ({"partial_credit": "no"}, "partial_credit"),
    ({"mistake_credit": {"no-such-mistake": 0.5}}, "mistake_credit"),
    ({"mistake_credit": {"transposed-gradient": -0.1}}, "mistake_credit"),
    ({"mistake_credit": {"transposed-gradient": False}}, "mistake_credit"),
    ({"mistake_credit": [1]}, "mistake_credit"),
    ({"accepted": {}}, "accepted"),
    ({"accepted": [GOOD] * 51}, "accepted"),
    ({"accepted": [7]}, "accepted[0]"),
    ({"accepted": [GOOD, {**GOOD, "value": 1}]}, "accepted[1].relation"),
    ({"accepted": [{"part": "dC_dW", "reason": "r"}]}, "accepted[0].relation"),
    ({"accepted": [{**GOOD, "reason": ""}]}, "accepted[0].reason"),
    ({"accepted": [{**GOOD, "reason": "x" * 501}]}, "accepted[0].reason"),
    ({"accepted": [{"part": "dC_dW", "relation": "3 × the key"}]}, "accepted[0].reason"),
    ({"accepted": [{**GOOD, "credit": 1.5}]}, "accepted[0].credit"),
    ({"accepted": [{**GOOD, "part": ""}]}, "accepted[0].part"),
    ({"accepted": [{**GOOD, "relation": "no relation to the key found"}]},
     "accepted[0].relation"),
    ({"accepted": [{"part": "dC_dW", "value": [[1, float("nan")]], "reason": "r"}]},
     "accepted[0].value"),
    ({"accepted": [{"part": "dC_dW", "value": True, "reason": "r"}]}, "accepted[0].value"),
    ({"accepted": [{**GOOD, "why": 1}]}, "accepted[0].why"),
])
def test_a_bad_policy_is_refused_naming_the_field(doc, field):
    with pytest.raises(ex.PolicyError) as caught:
        ex.GradingPolicy.from_json(doc)
    assert str(caught.value).startswith(field), str(caught.value)


def test_a_policy_reads_back_what_it_writes_and_its_json_is_canonical():
    doc = {"rtol": 0.01, "carry_forward_credit": 0.5, "partial_credit": False,
           "mistake_credit": {"transposed-gradient": 0.5, "factor-of-two": 1},
           "accepted": [GOOD, {"part": "dC_dW", "value": [["1/3", 2]], "credit": 0, "reason": "r"}]}
    policy = ex.GradingPolicy.from_json(doc)
    assert ex.GradingPolicy.from_json(policy.to_json()) == policy
    reordered = ex.GradingPolicy.from_json(
        {**doc, "mistake_credit": {"factor-of-two": 1.0, "transposed-gradient": 0.5}})
    assert reordered == policy and reordered.to_json() == policy.to_json()
    assert hash(reordered) == hash(policy)
    assert policy.to_json()["accepted"][1]["value"] == [["1/3", 2]]
    # Written at its defaults, a policy is the default policy.
    at_defaults = ex.GradingPolicy.from_json({"carry_forward": True, "carry_forward_credit": 1})
    assert at_defaults == ex.DEFAULT_POLICY and at_defaults.to_json() == {}
    assert ex.GradingPolicy.from_json(None) == ex.DEFAULT_POLICY


def test_merging_the_slot_policy_over_the_assignment_policy():
    assignment = {"rtol": 0.01, "partial_credit": False, "accepted": [GOOD]}
    slot = {"partial_credit": True, "carry_forward_credit": 0.5}
    assert ex.merge_policy(assignment, slot) == ex.GradingPolicy(
        rtol=0.01, partial_credit=True, carry_forward_credit=0.5)  # accepted: the slot's only
    with_accepted = ex.merge_policy(assignment, {"accepted": [GOOD]})
    assert with_accepted.accepted == (ex.Accepted(part="dC_dW", relation="3 × the key",
                                                  reason="fine"),)
    assert ex.merge_policy(None, None) == ex.DEFAULT_POLICY
    assert ex.merge_policy({"rtol": 0.01}, {"rtol": None}).rtol is None
    with pytest.raises(ex.PolicyError, match=r"^slot policy: rtol"):
        ex.merge_policy(assignment, {"rtol": 2})


def test_describing_a_policy():
    assert ex.describe_policy(ex.DEFAULT_POLICY) == []
    said = ex.describe_policy(ex.GradingPolicy(
        rtol=0.01, atol=0.001, carry_forward_credit=0.5, partial_credit=False,
        mistake_credit=(("transposed-gradient", 0.25),)))
    assert said[0] == "Tolerance: within 1% (or 0.001) of the exact value."
    assert "50%" in said[1] and "carried forward" in said[1]
    assert said[2].startswith("No partial credit")
    assert said[3] == "The mistake “Transposed gradient” scores 25% of the part."


# --- the grader version ---


def test_the_grader_version_names_package_type_mistakes_and_policy(monkeypatch):
    version = ex.grader_version("weight-gradient")
    assert re.fullmatch(r"\S+\+[0-9a-f]{12}", version)
    assert version.startswith(importlib.metadata.version("backprop-quiz") + "+")
    assert ex.grader_version("weight-gradient", ex.DEFAULT_POLICY) == version
    assert ex.grader_version("weight-gradient", ex.GradingPolicy()) == version
    assert ex.grader_version("weight-gradient", ex.GradingPolicy(rtol=0.01)) != version
    assert ex.grader_version("weight-update") != version

    library = ex.mistake_library_version()
    mistake = ex.MISTAKES["transposed-gradient"]
    monkeypatch.setitem(ex.MISTAKES, "transposed-gradient", dataclasses.replace(
        mistake, explanation=mistake.explanation + " Check the shapes."))
    assert ex.mistake_library_version() != library
    assert ex.grader_version("weight-gradient") != version
    monkeypatch.undo()
    assert ex.grader_version("weight-gradient") == version
