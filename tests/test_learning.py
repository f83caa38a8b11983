"""The learning loop's student model (exercises/learning.py), pure: no database.

Oracles, each independent of the code under test: posteriors worked by hand from the
default parameters (the arithmetic is in the comments, the results are fractions); the
engine's own predictions (``Variant.predictions``, compared with the key here) for what a
variant can reveal; and the grader for what an answer names.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

import exercises as ex
from exercises import learning
from exercises.learning import (
    MISCONCEPTIONS,
    SKILLS,
    Candidate,
    Evidence,
    PartEvidence,
    StudentModel,
)
from exercises.problem import value_to_json
from exercises.types.concept_bank import BANK, TEMPLATES

P = learning.DEFAULT_PARAMETERS
TG = "transposed-gradient"
M1, M2 = "sign-flip", "factor-of-two"
EDGE = 1e-4  # the model's floor and ceiling: a belief is never 0 or 1


def exact(q: Fraction) -> Any:
    """A hand-computed fraction as the float the model should give (rounding only)."""
    return pytest.approx(float(q), rel=1e-12, abs=0)


# --- hand-computed numbers --------------------------------------------------------------
#
# With the defaults: belief prior 0.1 (odds 1/9), h = 0.85, f = 0.02, r = 0.2; mastery
# prior L0 = 0.3, S = 0.1, G = 0.02, T = 0.1.
#
# One named mistake, alone:  LR = (h + (1−h)·f)/f = (0.85 + 0.15·0.02)/0.02 = 0.853/0.02
#   = 853/20; odds 1/9 · 853/20 = 853/180; posterior 853/(180 + 853) = 853/1033;
#   then unlearning, × (1 − r) = 4/5:  3412/5165 ≈ 0.6606.
NAMED = Fraction(3412, 5165)
# One clean observation: LR = 1 − h = 3/20; odds 1/9 · 3/20 = 1/60; posterior 1/61.
CLEAN = Fraction(1, 61)
# Two clean observations: odds 1/9 · (3/20)² = 1/400; posterior 1/401.
CLEAN_TWICE = Fraction(1, 401)
# BKT right from L0: P = 0.3·0.9/(0.3·0.9 + 0.7·0.02) = 0.27/0.284 = 135/142;
#   L' = 135/142 + (7/142)·0.1 = 135.7/142 = 1357/1420 ≈ 0.9556.
BKT_RIGHT = Fraction(1357, 1420)
# BKT wrong from L0: P = 0.3·0.1/(0.3·0.1 + 0.7·0.98) = 0.03/0.716 = 15/358;
#   L' = 15/358 + (343/358)·0.1 = 49.3/358 = 493/3580 ≈ 0.1377.
BKT_WRONG = Fraction(493, 3580)
# BKT right on a choice part of 4 options (G = 1/4): P = 0.27/(0.27 + 0.7·0.25) = 54/89;
#   L' = 54/89 + (35/89)·0.1 = 57.5/89 = 115/178.
BKT_RIGHT_OF_4 = Fraction(115, 178)
# m1 named, with m2 (belief 0.1) an equally good explanation of the same answer:
#   f′ = 1 − (1−f)(1 − h·b_m2) = 1 − 0.98·(1 − 0.085) = 1 − 0.98·0.915 = 0.1033;
#   h + (1−h)·f′ = 0.85 + 0.15·0.1033 = 0.865495; LR = 0.865495/0.1033;
#   odds 0.865495/0.9297; posterior 865495/(929700 + 865495) = 865495/1795195; × 4/5.
NAMED_WITH_ALTERNATIVE = Fraction(865495, 1795195) * Fraction(4, 5)
# The same with b_m2 = 0.5: f′ = 1 − 0.98·(1 − 0.425) = 1 − 0.5635 = 0.4365;
#   h + (1−h)·f′ = 0.85 + 0.065475 = 0.915475; odds 0.915475/(9·0.4365) = 915475/3928500;
#   posterior 915475/4843975; × 4/5 ≈ 0.1512.
NAMED_WITH_LIKELY_ALTERNATIVE = Fraction(915475, 4843975) * Fraction(4, 5)
# And m2 (prior 0.5, odds 1), its alternative m1 at 0.1: f′ = 0.1033 as above,
#   odds 1 · 865495/103300; posterior 865495/968795; × 4/5 ≈ 0.7147.
LIKELY_NAMED_WITH_ALTERNATIVE = Fraction(865495, 968795) * Fraction(4, 5)


def part(outcome: learning.Outcome, revealable: tuple[str, ...] = (),
         shown: tuple[tuple[str, ...], ...] = (), skill: str = "weight-gradient",
         name: str = "dC_dW", options: int = 0) -> PartEvidence:
    return PartEvidence(name, skill, outcome, revealable, shown, options)


def evidence(*parts: PartEvidence, type_id: str = "weight-gradient") -> Evidence:
    return Evidence(type_id, 1, parts)


def test_the_hand_numbers_assume_the_default_parameters():
    assert (P.belief_prior, P.consistency, P.false_match, P.unlearn) == (0.1, 0.85, 0.02, 0.2)
    assert (P.mastery_prior, P.slip, P.guess, P.learn) == (0.3, 0.1, 0.02, 0.1)


def test_a_fresh_model_holds_the_priors():
    m = StudentModel.new()
    assert set(m.beliefs) == set(MISCONCEPTIONS) and set(m.mastery) == {s.id for s in SKILLS}
    assert all(b == 0.1 for b in m.beliefs.values())
    assert all(L == 0.3 for L in m.mastery.values())
    assert "arithmetic-slip" not in m.beliefs and "rounding" not in m.beliefs


def test_knowledge_tracing_one_step_right_and_wrong():
    assert learning.bkt_update(0.3, True, 0.02, P) == exact(BKT_RIGHT)
    assert learning.bkt_update(0.3, False, 0.02, P) == exact(BKT_WRONG)


def test_a_choice_part_guesses_one_in_its_options():
    m = StudentModel.new().update(evidence(part("right", options=4)))
    assert m.mastery["weight-gradient"] == exact(BKT_RIGHT_OF_4)


def test_one_named_mistake():
    m = StudentModel.new().update(
        evidence(part("mistake", revealable=(TG, M1), shown=((TG,),))))
    assert m.beliefs[TG] == exact(NAMED)
    # M1 could have shown on that part and did not (another mistake was named): clean.
    assert m.beliefs[M1] == exact(CLEAN)
    assert m.mastery["weight-gradient"] == exact(BKT_WRONG)
    assert (m.shown, m.tested) == ({TG: 1}, {TG: 1, M1: 1})
    assert (m.opportunities, m.submissions) == ({"weight-gradient": 1}, 1)


def test_one_clean_observation_and_two():
    e = evidence(part("right", revealable=(TG,)))
    once = StudentModel.new().update(e)
    assert once.beliefs[TG] == exact(CLEAN)
    assert once.mastery["weight-gradient"] == exact(BKT_RIGHT)
    assert once.shown == {} and once.tested == {TG: 1}
    assert once.update(e).beliefs[TG] == exact(CLEAN_TWICE)
    # Nothing else could show: every other belief is exactly its prior.
    assert all(b == 0.1 for m, b in once.beliefs.items() if m != TG)


def test_alternatives_are_weaker_evidence_for_each():
    e = evidence(part("mistake", revealable=(M1, M2), shown=((M1,), (M2,))))
    m = StudentModel.new().update(e)
    assert m.beliefs[M1] == exact(NAMED_WITH_ALTERNATIVE)
    assert m.beliefs[M2] == exact(NAMED_WITH_ALTERNATIVE)
    assert NAMED_WITH_ALTERNATIVE < NAMED


def test_a_likely_alternative_weakens_the_evidence_more():
    start = StudentModel.new()
    start = replace(start, beliefs={**start.beliefs, M2: 0.5})
    m = start.update(evidence(part("mistake", revealable=(M1, M2), shown=((M1,), (M2,)))))
    # Each likelihood uses the beliefs before the submission: M1's sees b_M2 = 0.5, M2's
    # sees b_M1 = 0.1.
    assert m.beliefs[M1] == exact(NAMED_WITH_LIKELY_ALTERNATIVE)
    assert m.beliefs[M2] == exact(LIKELY_NAMED_WITH_ALTERNATIVE)


def test_a_pair_made_together_is_no_alternative_to_its_own_members():
    m = StudentModel.new().update(evidence(part("mistake", revealable=(M1,),
                                                shown=((M1, M2),))))
    # Both named, each alone in explaining the answer with the other: f′ = f.
    assert m.beliefs[M1] == exact(NAMED)
    assert m.beliefs[M2] == exact(NAMED)


def test_an_unexplained_wrong_answer_leaves_every_belief_unchanged():
    start = StudentModel.new()
    m = start.update(evidence(part("unexplained", revealable=(TG, M1, M2))))
    assert m.beliefs == start.beliefs
    assert m.tested == {} and m.shown == {}
    assert m.mastery["weight-gradient"] == exact(BKT_WRONG)


def test_a_right_part_elsewhere_still_counts_against_what_it_could_reveal():
    m = StudentModel.new().update(evidence(
        part("unexplained", revealable=(TG, M1)),
        part("right", revealable=(TG,), name="W_new", skill="weight-update")))
    assert m.beliefs[TG] == exact(CLEAN)
    assert m.beliefs[M1] == 0.1


def test_a_carried_forward_part_says_nothing_of_misconceptions_but_is_right_for_its_skill():
    start = StudentModel.new()
    m = start.update(evidence(part("carried", revealable=(TG, M1))))
    assert m.beliefs == start.beliefs and m.tested == {}
    assert m.mastery["weight-gradient"] == exact(BKT_RIGHT)


def test_a_slip_is_clean_for_misconceptions_and_wrong_for_its_skill():
    m = StudentModel.new().update(evidence(part("slip", revealable=(TG, M1))))
    assert m.beliefs[TG] == exact(CLEAN) and m.beliefs[M1] == exact(CLEAN)
    assert m.mastery["weight-gradient"] == exact(BKT_WRONG)


def test_observe_reads_slips_of_care_as_slips():
    v = ex.generate("weight-gradient", 0, 1)
    for tags in (["arithmetic-slip"], ["rounding"], ["arithmetic-slip", "rounding"]):
        e = learning.observe(v, {"dC_dW": {"correct": False, "score": 0.75,
                                           "misconceptions": tags}})
        assert [q.outcome for q in e.parts] == ["slip"]


def test_a_graded_arithmetic_slip_is_clean_and_wrong():
    v = ex.generate("weight-gradient", 0, 1)
    k = np.array([[float(Fraction(str(c))) for c in row] for row in v.key["dC_dW"]])
    k[1, 0] += 7  # one entry off: the grader's arithmetic slip (tests/test_grading.py)
    g = ex.grade(v, ex.parse_answers(v, {"dC_dW": k.tolist()}))
    assert g.parts["dC_dW"].misconceptions == ("arithmetic-slip",)
    m = StudentModel.new().update(learning.observe(v, g.to_json()["parts"]))
    could = singles_that_differ(v)
    assert could
    assert all(m.beliefs[t] == exact(CLEAN) for t in could)
    assert all(b == 0.1 for t, b in m.beliefs.items() if t not in could)
    assert m.mastery["weight-gradient"] == exact(BKT_WRONG)


def test_observe_keeps_every_explanation_the_grader_found():
    v = ex.generate("weight-gradient", 0, 1)
    e = learning.observe(v, {"dC_dW": {"correct": False, "score": 0.0,
                                       "misconceptions": [M1, M2],
                                       "explanations": [[M1], [M2]]}})
    assert e.parts[0].outcome == "mistake" and e.parts[0].shown == ((M1,), (M2,))
    one = learning.observe(v, {"dC_dW": {"correct": False, "score": 0.0,
                                         "misconceptions": [TG]}})
    assert one.parts[0].shown == ((TG,),)


def test_beliefs_never_reach_certainty():
    named = evidence(part("mistake", revealable=(TG,), shown=((TG,),)))
    clean = evidence(part("right", revealable=(TG,)))
    high, low = StudentModel.new(), StudentModel.new()
    for _ in range(300):
        high, low = high.update(named), low.update(clean)
        assert 0 < high.beliefs[TG] < 1 and 0 < low.beliefs[TG] < 1
    assert low.beliefs[TG] == EDGE  # the floor: never certain it is not held
    assert 0.5 < high.beliefs[TG] < 1 - EDGE  # unlearning keeps it below the ceiling


# --- properties ---------------------------------------------------------------------

TAGS = (TG, M1, M2)
explanations = st.lists(st.lists(st.sampled_from(TAGS), min_size=1, max_size=2, unique=True)
                        .map(tuple), min_size=1, max_size=3, unique=True).map(tuple)


@st.composite
def part_evidence(draw: st.DrawFn) -> PartEvidence:
    outcome = draw(st.sampled_from(["right", "carried", "slip", "mistake", "unexplained"]))
    revealable = tuple(draw(st.lists(st.sampled_from(TAGS), unique=True)))
    shown = draw(explanations) if outcome == "mistake" else ()
    skill = draw(st.sampled_from(["weight-gradient", "delta", "weight-update"]))
    return part(outcome, revealable, shown, skill, options=draw(st.sampled_from([0, 0, 4])))


histories = st.lists(st.lists(part_evidence(), min_size=1, max_size=4)
                     .map(lambda ps: evidence(*ps)), max_size=25)


@given(histories)
def test_the_fold_is_the_updates_in_turn_and_stays_inside_the_unit_interval(history):
    model = StudentModel.new()
    for e in history:
        model = model.update(e)
        assert all(EDGE <= b <= 1 - EDGE for b in model.beliefs.values())
        assert all(EDGE <= L <= 1 - EDGE for L in model.mastery.values())
    assert StudentModel.fold(history) == model
    assert [Evidence.from_json(e.to_json()) for e in history] == history
    untouched = set(MISCONCEPTIONS) - set(TAGS)
    assert all(model.beliefs[t] == 0.1 for t in untouched)


lrs = st.floats(1e-6, 1e6)


@given(st.floats(EDGE, 1 - EDGE), lrs, lrs)
def test_belief_update_is_monotone_in_the_likelihood_ratio(b, lr1, lr2):
    lo, hi = sorted((lr1, lr2))
    assert learning.belief_update(b, lo) <= learning.belief_update(b, hi)
    assert 0 < learning.belief_update(b, lo) < 1
    assert learning.belief_update(b, 1.0) == pytest.approx(b, rel=1e-9)


@given(st.floats(EDGE, 1 - EDGE), st.booleans(), st.floats(1e-3, 0.5), st.floats(0.0, 0.3),
       st.floats(0.0, 0.5))
def test_knowledge_tracing_stays_inside_the_unit_interval(L, correct, guess, slip, learn):
    p = replace(P, slip=slip, learn=learn)
    after = learning.bkt_update(L, correct, guess, p)
    assert 0 < after < 1
    if correct:  # S + G < 1 here: a right answer is evidence of mastery, never against
        assert after >= min(L, 1 - EDGE) - 1e-12


# --- what a real variant can reveal -------------------------------------------------------

REAL_TYPES = ("weight-gradient", "weight-update", "delta", "hidden-gradient", "concept-check",
              "symbolic-gradient", "batch-gradient", "softmax-cross-entropy", "chain-rule")
CASES = [(t, d, s) for t in REAL_TYPES for d in ex.DIFFICULTIES for s in range(2)]


def differs(p: ex.Part, value: Any, key: Any) -> bool:
    """The answer ``value`` is not the key, by the tolerance the problem states."""
    if p.kind in ("matrix", "scalar"):
        a, k = np.asarray(value, dtype=np.float64), np.asarray(key, dtype=np.float64)
        return a.shape != k.shape or not bool(np.all(np.abs(a - k) <= p.atol + p.rtol * np.abs(k)))
    if p.kind == "expression":
        return sympy.simplify(value - key) != 0
    return bool(value != key)


def singles_that_differ(v: ex.Variant) -> set[str]:
    """The tracked mistakes whose own (single) predicted answer differs from the key on some
    part, read from the engine's predictions."""
    return {p.tags[0] for q in v.parts for p in v.predictions.get(q.name, ())
            if len(p.tags) == 1 and p.tags[0] in MISCONCEPTIONS
            and differs(q, p.value, v.key_values[q.name])}


def graded(v: ex.Variant, answers: dict[str, Any]) -> dict[str, Any]:
    return ex.grade(v, ex.parse_answers(v, answers)).to_json()["parts"]


@pytest.mark.parametrize(("type_id", "difficulty", "seed"), CASES)
def test_a_correct_answer_lowers_exactly_what_the_variant_could_reveal(type_id, difficulty,
                                                                       seed):
    v = ex.generate(type_id, seed, difficulty)
    parts = graded(v, v.key)
    assert all(r["correct"] for r in parts.values())
    m = StudentModel.new().update(learning.observe(v, parts))
    down = singles_that_differ(v)
    assert down, "every drawn variant can reveal some misconception"
    for tag in MISCONCEPTIONS:
        if tag in down:
            assert m.beliefs[tag] == exact(CLEAN), tag
        else:
            assert m.beliefs[tag] == 0.1, tag
    practised = {learning.skill_of(v.type, q.name, v.params) for q in v.parts}
    for skill, L in m.mastery.items():
        assert L > 0.3 if skill in practised else L == 0.3


@pytest.mark.parametrize(("type_id", "difficulty", "seed"), CASES)
def test_a_mistakes_predicted_answer_raises_its_belief(type_id, difficulty, seed):
    v = ex.generate(type_id, seed, difficulty)
    tried = 0
    for q in v.parts:
        for p in v.predictions.get(q.name, ()):
            if len(p.tags) != 1 or p.tags[0] not in MISCONCEPTIONS:
                continue
            tag = p.tags[0]
            parts = graded(v, {**v.key, q.name: value_to_json(q.kind, p.value)})
            assert tag in parts[q.name]["misconceptions"]
            m = StudentModel.new().update(learning.observe(v, parts))
            assert m.beliefs[tag] > 0.1, (q.name, tag)
            if parts[q.name]["misconceptions"] == [tag]:  # named alone
                assert m.beliefs[tag] == exact(NAMED), (q.name, tag)
            tried += 1
    assert tried


def test_parts_carried_forward_from_a_mistake_say_nothing_against_what_they_reveal():
    """hidden-gradient: δ2 with the bias left out, then δ1 and dC/dW1 computed rightly from
    that δ2 (the type's own follow-on). The grader carries them forward; transposed-gradient,
    which only dC/dW1 could show, keeps its prior, and both parts count as right to BKT."""
    v = ex.generate("hidden-gradient", 0, 1)
    t = ex.get_type(v.type)
    setup = t.setup_from(v)
    (wrong,) = [p.value for p in v.predictions["delta2"] if p.tags == ("bias-omitted",)]
    given = {"delta2": wrong}
    for name in ("delta1", "dC_dW1"):
        given[name] = t.follow_on(setup, name, given)
    answers = {name: value_to_json(v.part(name).kind, value) for name, value in given.items()}
    parts = graded(v, answers)
    e = learning.observe(v, parts)
    assert [q.outcome for q in e.parts] == ["mistake", "carried", "carried"]
    m = StudentModel.new().update(e)
    assert "transposed-gradient" in e.parts[2].revealable
    assert "transposed-gradient" not in e.parts[0].revealable + e.parts[1].revealable
    assert m.beliefs["transposed-gradient"] == 0.1
    assert m.beliefs["bias-omitted"] > 0.1
    assert m.mastery["backward-error"] > 0.3 and m.mastery["delta"] < 0.3


# --- the choice -------------------------------------------------------------------------


def believing(tag: str, b: float) -> StudentModel:
    m = StudentModel.new()
    return replace(m, beliefs={**m.beliefs, tag: b})


def test_entropy():
    assert learning.entropy(0.5) == 1
    # H(1/4) = ¼·2 + ¾·log2(4/3) = 0.5 + 0.75·0.4150375 = 0.8112781
    assert learning.entropy(0.25) == pytest.approx(0.8112781, abs=1e-7)
    assert learning.entropy(0.0) == learning.entropy(1.0) == 0


def test_mastery_gain_by_hand():
    # L = 0.5, S = 0.1, G = 0.02: P(right) = 0.45 + 0.01 = 0.46, then L = 45/46;
    # P(wrong) = 0.05 + 0.49 = 0.54, then L = 5/54.  H(45/46) = 0.151097, H(5/54) = 0.445066:
    # IG = 1 − 0.46·0.151097 − 0.54·0.445066 = 0.690160 bits.
    assert learning.mastery_gain(0.5, 0.02, P) == pytest.approx(0.690160, abs=1e-6)


def test_an_uncertain_belief_promises_more_information():
    c = Candidate("weight-gradient", 1, 1, frozenset(), {TG: 1.0})
    half = learning.information(believing(TG, 0.5), c)
    assert half > learning.information(believing(TG, 0.999), c)
    assert half > learning.information(believing(TG, 0.001), c)
    assert learning.belief_gain(0.5, P) > learning.belief_gain(0.99, P) > 0


def test_choose_settles_the_likely_misconception_first():
    poor = Candidate("weight-gradient", 1, 1, frozenset(), {TG: 1.0}, seed=1)
    rich = Candidate("backprop-story", 1, 4, frozenset({"delta", "loss", "batch"}),
                     dict.fromkeys([M1, M2, "bias-omitted", "wrong-layer-input"], 1.0), seed=2)
    fresh = StudentModel.new()
    assert learning.information(fresh, rich) > learning.information(fresh, poor)
    assert learning.choose(fresh, [poor, rich]) == rich
    likely = believing(TG, 0.8)
    assert learning.target(likely) == TG
    assert learning.choose(likely, [rich, poor]) == poor
    # Nothing reveals it: the most informative of the rest.
    assert learning.choose(likely, [rich, replace(poor, reveals={})]) == rich
    assert learning.choose(likely, []) is None


def test_choose_among_drawn_variants_picks_one_that_reveals_the_likely_misconception():
    variants = [ex.generate(t, s, d) for t in ("forward-pass", "loss", "delta", "weight-gradient",
                                              "concept-check", "hidden-gradient")
                for d in (1, 2) for s in range(2)]
    revealing = [TG in singles_that_differ(v) for v in variants]
    assert any(revealing) and not all(revealing)
    chosen = learning.choose(believing(TG, 0.8), [learning.candidate(v) for v in variants])
    assert chosen is not None
    v = next(v for v in variants if (v.type, v.difficulty, v.seed)
             == (chosen.type, chosen.difficulty, chosen.seed))
    assert TG in singles_that_differ(v)


def test_the_next_problem_reveals_the_likely_misconception_and_is_never_one_seen():
    model = believing(TG, 0.8)
    first = learning.next_problem(model, set(), np.random.default_rng(7))
    assert TG in singles_that_differ(first)
    seen = {(first.type, first.difficulty, first.seed)}
    # The same generator would draw the same seeds: the seen one must be passed over.
    second = learning.next_problem(model, seen, np.random.default_rng(7))
    assert (second.type, second.difficulty, second.seed) not in seen
    assert TG in singles_that_differ(second)
    assert 0 <= second.seed < learning.PRACTICE_SEEDS
    # Among types of which only some can reveal it, one that can.
    third = learning.next_problem(model, seen, np.random.default_rng(7),
                                  types=["forward-pass", "loss", "weight-update"])
    assert third.type == "weight-update" and TG in singles_that_differ(third)


# --- a student's record ----------------------------------------------------------------


def dC_dW(named: bool) -> Evidence:
    revealable = (TG, "dot-instead-of-outer", "wrong-layer-input")
    if named:
        return evidence(part("mistake", revealable, ((TG,),)))
    return evidence(part("right", revealable))


def test_the_record_of_the_last_five_dC_dW_answers():
    history = [("s1", dC_dW(True)), ("s2", dC_dW(False)), ("s3", dC_dW(True)),
               ("s4", dC_dW(False)), ("s5", dC_dW(True))]
    r = learning.record(TG, history)
    assert r is not None
    assert r.sentence() == "Transposed gradient in 3 of your last 5 dC/dW answers"
    assert r.skill == "weight-gradient"
    assert r.named == ("s1", "s3", "s5") and r.of == ("s1", "s2", "s3", "s4", "s5")


def test_the_record_keeps_the_last_answers_of_the_skill_it_was_named_in():
    update = evidence(part("right", (TG,), skill="weight-update", name="W_new"),
                      type_id="weight-update")
    history = [("old1", dC_dW(True)), ("old2", dC_dW(True)),
               *((f"u{i}", update) for i in range(6)),
               ("s1", dC_dW(False)), ("s2", dC_dW(True)), ("s3", dC_dW(True)),
               ("s4", dC_dW(False)), ("s5", dC_dW(True))]
    r = learning.record(TG, history)
    assert r is not None
    assert r.sentence() == "Transposed gradient in 3 of your last 5 dC/dW answers"
    assert r.named == ("s2", "s3", "s5") and r.of == ("s1", "s2", "s3", "s4", "s5")
    assert learning.record(M1, history) is None  # it could never show


# --- skills -----------------------------------------------------------------------------


def test_every_part_of_the_catalogue_practises_a_skill_and_every_skill_is_practised():
    ids = {s.id for s in SKILLS}
    practised = set()
    for t in ex.catalogue():
        for q in t.parts:
            practised.add(learning.skill_of(t.id, q.name))
    assert practised <= ids
    assert practised == ids


def test_every_concept_question_practises_its_skill():
    by_hand = {
        "outer-product": "weight-gradient", "update-step": "weight-update",
        "loss-value": "loss", "loss-gradient": "output-error", "delta-values": "delta",
        "neuron-gradient": "weight-gradient", "sigmoid-slopes": "activation-derivative",
        "send-back-values": "backward-error", "hidden-delta-values": "backward-error",
        "hidden-weight-values": "weight-gradient", "batch-mean": "batch",
    }
    assert {t.id for t in BANK} == set(by_hand)
    for template, skill in by_hand.items():
        assert learning.skill_of("concept-check", "choice", {"template": template}) == skill
    ids = {s.id for s in SKILLS}
    assert all(learning.skill_of("concept-check", "choice", {"template": t}) in ids
               for t in TEMPLATES)


def test_a_part_without_a_skill_is_an_error_not_a_guess():
    with pytest.raises(KeyError, match="no skill"):
        learning.skill_of("weight-gradient", "no-such-part")


def test_the_guess_rate_of_a_drawn_choice_is_one_in_its_options():
    v = ex.generate("concept-check", 0, 2)
    (q,) = learning.observe(v, graded(v, v.key)).parts
    assert q.options == len(v.parts[0].options) > 1
    assert q.skill == learning.skill_of("concept-check", "choice", v.params)
