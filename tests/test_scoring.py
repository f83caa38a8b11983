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
from tests.reported import reported

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


@pytest.mark.parametrize(
    ("type_id", "seed", "difficulty", "part", "exact", "rounded"),
    [
        pytest.param("weight-update", 9, 2, "w_entry", 0.34410, 0.34,
                     id="weight_update_seed_9_rounded_entry"),
        pytest.param("chain-rule", 11, 2, "dC_da", 0.49567, 0.5,
                     id="chain_rule_seed_11_rounded_factor"),
    ],
)
def test_rounded_key_is_not_two_mistakes(type_id, seed, difficulty, part, exact, rounded):
    v = reported(type_id, seed, difficulty)
    assert abs(key(v)[part] - exact) < 5e-5
    r = grade(v, **{part: rounded}).parts[part]
    assert r.misconceptions == ()
    assert "2 significant figures" in r.feedback
    assert r.score >= 0.5


def test_weight_update_seed_0_named_mistake_scores_its_right_entries():
    v = reported("weight-update", 0, 1)
    k = key(v)["W_new"]
    ascent = next(p.value for p in v.predictions["W_new"] if p.tags == ("gradient-ascent",))
    right = within(v.part("W_new"), ascent, k)
    assert right.sum() == 6 and right.size == 9  # as reported: 6 of 9 entries right
    named = grade(v, W_new=ascent).parts["W_new"]
    assert "gradient-ascent" in named.misconceptions  # with the mistakes it coincides with
    junk = np.where(right, ascent, np.array([[101.5, -203.25, 307.125]] * 3))
    unexplained = grade(v, W_new=junk).parts["W_new"]
    assert unexplained.misconceptions == ()
    assert named.score == pytest.approx(6 / 9) == unexplained.score


@pytest.mark.parametrize(("type_id", "as_reported"), [("backprop-story", 0.69),
                                                      ("hidden-gradient", 0.67)])
def test_seed_0_all_zero_answers_score_nothing(type_id, as_reported):
    v = reported(type_id, 0, 1)
    zeros = {p.name: np.zeros_like(k) if isinstance(k, np.ndarray) else 0.0
             for p, k in zip(v.parts, key(v).values(), strict=True)}
    g = grade(v, **zeros)
    assert g.score == 0.0, (as_reported, g.to_json())
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


# --- every type and difficulty: no work scores 0, rounded keys are never tagged ---------------

CASES = [(t, d) for t in NUMERIC_TYPES for d in ex.DIFFICULTIES]


def problem_numbers(v: ex.Variant) -> tuple[list[np.ndarray], list[float]]:
    """The matrices (and transposes) and the single numbers the problem states."""
    net = v.network
    mats = [exact(net["x"]), exact(net["y"])]
    for layer in net["layers"]:
        mats += [exact(layer["W"]), exact(layer["b"])]
    numbers = sorted({float(x) for M in mats for x in M.ravel()}
                     | {exact(net["learning_rate"])})
    return mats + [M.T for M in mats], numbers


def no_work_answers(v: ex.Variant, how: str, c: float = 0.0) -> dict[str, Any]:
    """Every part all zeros, all the constant c, or copied from the problem (zeros where
    nothing the problem gives has the part's shape)."""
    k = key(v)
    mats, numbers = problem_numbers(v)
    out: dict[str, Any] = {}
    for p in v.parts:
        kp = k[p.name]
        if how == "zeros":
            out[p.name] = np.zeros_like(kp) if p.kind == "matrix" else 0.0
        elif how == "constant":
            out[p.name] = np.full_like(kp, c) if p.kind == "matrix" else c
        elif p.kind == "matrix":
            same = [M for M in mats if M.shape == kp.shape and not within(p, M, kp).all()]
            out[p.name] = same[0] if same else np.zeros_like(kp)
        else:
            wrong = [x for x in numbers if abs(x - kp) > 5e-3 + 5e-2 * abs(kp)]
            out[p.name] = wrong[0] if wrong else 0.0
    return out


@pytest.mark.parametrize(("type_id", "difficulty"), CASES)
def test_zeros_constants_and_copies_of_the_problem_score_nothing(type_id, difficulty):
    for seed in SEEDS:
        v = ex.generate(type_id, seed, difficulty)
        k = key(v)
        assert grade(v, **no_work_answers(v, "zeros")).score == 0.0, (seed, "zeros")
        g = grade(v, **no_work_answers(v, "copy"))
        assert g.score == 0.0, (seed, "copy", g.to_json())
        # Constants: each entry of a matrix key (a constant that hits it), and a plain one.
        hits = {float(x) for p in v.parts if p.kind == "matrix" for x in k[p.name].ravel()}
        for c in sorted(hits | {0.75}):
            g = grade(v, **no_work_answers(v, "constant", c))
            for p in v.parts:
                if p.kind == "scalar" and abs(c - k[p.name]) <= 5e-3 + 5e-2 * abs(k[p.name]):
                    continue  # a number that is (nearly) the key is a right answer, not a constant
                if within(p, np.full_like(k[p.name], c), k[p.name]).all():
                    continue  # the key is itself all one number (softmax of equal inputs)
                assert g.parts[p.name].score == 0.0, (seed, c, p.name, g.parts[p.name])


def test_a_symbolic_answer_of_zero_or_one_scores_nothing():
    for d in ex.DIFFICULTIES:
        for seed in SEEDS:
            v = ex.generate("symbolic-gradient", seed, d)
            for text in ("0", "1"):
                assert ex.grade(v, ex.parse_answers(v, {"expr": text})).score == 0.0


@pytest.mark.parametrize(("type_id", "difficulty"), CASES)
def test_the_key_rounded_to_2_or_3_significant_figures_is_never_tagged(type_id, difficulty):
    for seed in SEEDS:
        v = ex.generate(type_id, seed, difficulty)
        k = key(v)
        for figures in (2, 3):
            whole = {name: rounded(value, figures) for name, value in k.items()}
            results = [grade(v, **whole).parts]
            results += [grade(v, **{name: whole[name]}).parts for name in k]
            for parts in results:
                for name, r in parts.items():
                    assert r.misconceptions == (), (seed, figures, name, r)
                    assert r.score == 1.0 if figures == 3 else r.score >= 0.5, (seed, name, r)


# --- the claims of the feedback, each against its counter-example -----------------------------


@pytest.mark.parametrize(("type_id", "difficulty"), CASES)
def test_no_slip_is_claimed_where_a_mistake_explains_one_wrong_entry(type_id, difficulty):
    """A prediction (single or pair) off in exactly one entry is named, not "arithmetic slip"."""
    for seed in SEEDS:
        v = ex.generate(type_id, seed, difficulty)
        for p in v.parts:
            if p.kind != "matrix":
                continue
            kp = key(v)[p.name]
            for pred in v.predictions.get(p.name, ()):
                if pred.value.shape != kp.shape or (~within(p, pred.value, kp)).sum() != 1:
                    continue
                r = grade(v, **{p.name: pred.value}).parts[p.name]
                if r.correct:  # carried forward from the key's own earlier parts: right
                    continue
                assert "arithmetic-slip" not in r.misconceptions, (seed, p.name, pred.tags, r)
                assert "method is right" not in r.feedback


def test_two_entries_off_is_never_an_arithmetic_slip():
    for seed in range(20):
        v = ex.generate("weight-gradient", seed, 1)
        k = key(v)["dC_dW"]
        off = k.copy()
        off[0, 0] += 7
        off[-1, -1] -= 5
        r = grade(v, dC_dW=off).parts["dC_dW"]
        assert "arithmetic-slip" not in r.misconceptions
        assert "all but one" not in r.feedback and "method is right" not in r.feedback
        assert r.score == pytest.approx(within(v.part("dC_dW"), off, k).mean())


def test_a_structural_mistake_close_to_the_key_is_not_called_rounding():
    # Chain rule, difficulty 1: a sigmoid at z = 0, so σ'(z) = 1/4. σ'(a) = σ(½)(1 − σ(½)) =
    # 0.2350 is within 5% of it but is a wrong formula, not early rounding.
    sigma = 1 / (1 + np.exp(-0.5))
    wrong = sigma * (1 - sigma)
    for seed in range(10):
        v = reported("chain-rule", seed, 1)
        assert key(v)["da_dz"] == 0.25
        r = grade(v, da_dz=wrong).parts["da_dz"]
        assert "rounding" not in r.misconceptions
        assert "method is right" not in r.feedback and "rounded" not in r.feedback
        assert r.score == 0.5 or r.misconceptions  # the band's half credit, or the mistake named


def test_a_close_answer_claims_nothing_about_the_method():
    for type_id, difficulty in CASES:
        v = ex.generate(type_id, 1, difficulty)
        for name, kp in key(v).items():
            r = grade(v, **{name: kp * 1.03}).parts[name]
            if r.correct:
                continue
            assert "rounding" not in r.misconceptions, (type_id, difficulty, name, r)
            assert "rounded" not in r.feedback, (type_id, difficulty, name, r)
            if r.misconceptions != ("arithmetic-slip",):  # one entry off (a ReLU's 0 kept)
                assert "method is right" not in r.feedback, (type_id, difficulty, name, r)


# --- properties of the rule, over every type ------------------------------------------------

FOLLOW_ON_TYPES = [t.id for t in ex.catalogue()
                   if type(t).follow_on is not ex.ExerciseType.follow_on]
PROPERTY = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])


@PROPERTY
@given(type_id=st.sampled_from(NUMERIC_TYPES), difficulty=st.sampled_from(ex.DIFFICULTIES),
       seed=st.integers(0, 5), data=st.data())
def test_a_named_mistake_never_scores_below_the_same_right_entries_unexplained(
        type_id, difficulty, seed, data):
    v = ex.generate(type_id, seed, difficulty)
    preds = [(p, q) for p in v.parts for q in v.predictions.get(p.name, ())
             if np.shape(q.value) == np.shape(key(v)[p.name])]
    part, pred = data.draw(st.sampled_from(preds)) if preds else (None, None)
    if part is None:
        return
    kp, P = key(v)[part.name], pred.value
    named = grade(v, **{part.name: P}).parts[part.name]
    if named.correct:  # carried forward from the key's earlier parts: right, not a mistake
        return
    # The same answer, with nothing to explain it: naming never lowers the score.
    bare = ex.Variant.from_record({**v.to_record(), "predictions": {}})
    unnamed = grade(bare, **{part.name: P}).parts[part.name]
    assert unnamed.misconceptions in ((), ("arithmetic-slip",))
    assert named.score >= unnamed.score, (named, unnamed)
    # Junk in the wrong entries instead: the same right entries, nothing named.
    right = within(part, P, kp)
    junk = np.asarray(data.draw(st.lists(st.floats(-40, 40), min_size=np.size(kp),
                                         max_size=np.size(kp))), dtype=np.float64)
    junk = np.where(right, P, junk.reshape(np.shape(kp)) + 3.0 * np.sign(junk.reshape(
        np.shape(kp)) - kp + 1e-9) + kp)  # at least 3 away from the key where P is wrong
    other = grade(v, **{part.name: junk}).parts[part.name]
    if other.misconceptions not in ((), ("arithmetic-slip",)):
        return
    if np.ptp(np.asarray(P)) == 0 and np.size(P) > 1:
        assert named.score == 0.0  # all one number scores 0, named or not (the rule says so)
    else:
        assert named.score >= other.score, (pred.tags, named, other)


def _junk(v: ex.Variant, part: ex.Part, how: str, data: st.DataObject) -> Any:
    kp = key(v)[part.name]
    if how == "zeros":
        return np.zeros_like(kp) if part.kind == "matrix" else 0.0
    if how == "constant":
        c = data.draw(st.floats(-9, 9).filter(lambda c: abs(c) > 1e-3))
        return np.full_like(kp, c) if part.kind == "matrix" else c
    if how == "copy":
        mats, numbers = problem_numbers(v)
        same = [M for M in mats if M.shape == np.shape(kp)] if part.kind == "matrix" else numbers
        return data.draw(st.sampled_from(same)) if same else np.zeros_like(kp)
    # Key-shaped but random: every entry at least 1 and 20% away from the key.
    noise = data.draw(st.lists(st.floats(1.0, 9.0), min_size=np.size(kp), max_size=np.size(kp)))
    signs = data.draw(st.lists(st.sampled_from((-1.0, 1.0)), min_size=np.size(kp),
                               max_size=np.size(kp)))
    off = np.asarray(noise) * np.asarray(signs)
    value = kp + np.reshape(off, np.shape(kp)) * (1 + 0.2 * np.abs(kp))
    return value if part.kind == "matrix" else float(value)


@PROPERTY
@given(type_id=st.sampled_from(FOLLOW_ON_TYPES), difficulty=st.sampled_from(ex.DIFFICULTIES),
       seed=st.integers(0, 5), how=st.sampled_from(["zeros", "constant", "copy", "random"]),
       data=st.data())
def test_no_credit_is_carried_forward_from_no_work(type_id, difficulty, seed, how, data):
    """An earlier answer that is all zeros, one constant, a copy of the problem, or key-shaped
    but random: a later part computed correctly from it earns nothing carried forward."""
    v = ex.generate(type_id, seed, difficulty)
    t = ex.get_type(type_id)
    setup = t.setup_from(v)
    numeric = [p for p in v.parts if p.kind in ("matrix", "scalar")]
    earlier = data.draw(st.sampled_from(numeric[:-1]))
    X = _junk(v, earlier, how, data)
    given_values = {**v.key_values, earlier.name: X}
    first = grade(v, **{earlier.name: X}).parts[earlier.name]
    if first.correct or (first.misconceptions and how != "zeros"):
        return  # right by chance, or a named mistake (work, by the rule): not this property
    if how == "random" and first.score > 0:
        return  # an entry hit or within 5%: partly right, which is work
    # The first later part that builds on it, computed correctly from it, rest the key.
    for q in numeric[numeric.index(earlier) + 1:]:
        built = t.follow_on(setup, q.name, given_values)
        if built is None or np.shape(built) != np.shape(key(v)[q.name]):
            continue
        if within(q, built, key(v)[q.name]).all():
            continue  # does not depend on it (or a dead ReLU hides it)
        r = grade(v, **{earlier.name: X, q.name: built}).parts[q.name]
        assert not r.carried_forward and r.score < 1.0, (how, earlier.name, X, q.name, r)
        return


def test_the_readme_states_the_rule_verbatim():
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("## How answers are graded", 1)[1].split("\n## ", 1)[0]
    assert " ".join(ex.SCORING_RULE.split()) in " ".join(section.split())
