"""Every registered exercise type, through the same checks, over many seeds each.

Per seed: the key scores full marks and is never named as a mistake; every mistake the
engine offers on a part, submitted as the answer it predicts, is named by its tag and scores
by the rule (its right entries, never as right), and mistakes whose predictions coincide are
named together (never only one of them); an unreadable answer is a format error; and the same
(type, seed, difficulty) gives the same variant, which survives its stored record.
"""

from __future__ import annotations

import numpy as np
import pytest

import exercises as ex
from exercises.problem import value_to_json
from exercises.registry import _close
from tests.types.kit import rule_score

# CONTRACT §5 and §6, written out here rather than read from the code under test.
CONTRACT_TYPES = {
    "forward-pass": ["z", "a"],
    "loss": ["C"],
    "output-error": ["dC_da"],
    "activation-derivative": ["da_dz"],
    "delta": ["delta"],
    "weight-gradient": ["dC_dW"],
    "bias-gradient": ["dC_db"],
    "weight-update": ["W_new", "w_entry"],
    "chain-rule": ["dC_da", "da_dz", "dz_dw", "dC_dw"],
    "hidden-gradient": ["delta2", "delta1", "dC_dW1"],
    "backprop-story": ["z1", "a1", "z2", "a2", "C", "delta2", "dC_dW2", "dC_db2", "delta1",
                       "dC_dW1", "dC_db1", "W1_new", "W2_new"],
    "batch-gradient": ["dC_dW", "dC_db"],
    "softmax-cross-entropy": ["a", "delta", "dC_dW"],
    "symbolic-gradient": ["expr"],
    "concept-check": ["choice"],
}
CONTRACT_TAGS = {
    "transposed-gradient", "dot-instead-of-outer", "missing-activation-derivative",
    "activation-skipped", "sign-flip", "factor-of-two", "raw-error-as-loss",
    "wrong-activation-derivative", "dot-instead-of-hadamard", "wrong-layer-input",
    "untransposed-backprop", "updated-weights-in-backprop", "gradient-ascent",
    "missing-learning-rate", "index-swap", "batch-sum-not-mean", "softmax-extra-derivative",
    "bias-times-input", "arithmetic-slip", "rounding",
}
# Issue 12's tags, beyond the contract's.
NEW_TAGS = {"bias-omitted", "loss-not-averaged", "wrong-loss-derivative"}
SEEDS = 300
TYPES = sorted(CONTRACT_TYPES)


def test_catalogue_has_the_contract_types_and_parts():
    assert {t.id: [p.name for p in t.parts] for t in ex.catalogue()} == CONTRACT_TYPES


def test_mistake_library_has_every_contract_tag():
    assert set(ex.MISTAKES) >= CONTRACT_TAGS | NEW_TAGS
    for m in ex.MISTAKES.values():
        assert m.name and len(m.explanation) > 40


def test_every_predicted_mistake_is_shown_by_some_type():
    shown = {tag for t in ex.catalogue() for d in ex.DIFFICULTIES for tag in t.can_show(d)}
    predicted = {tag for tag, m in ex.MISTAKES.items() if m.variants}
    assert predicted <= shown, predicted - shown


def _answers(variant: ex.Variant, replace: dict | None = None) -> dict:
    answers = dict(variant.key)
    for name, value in (replace or {}).items():
        answers[name] = value_to_json(variant.part(name).kind, value)
    return answers


def _rounded_key(part: ex.Part, value, key) -> bool:
    """Each entry of value within tolerance of the key or the key rounded to 2 significant
    figures (Python's own decimal rounding)."""
    if part.kind not in ("matrix", "scalar") or np.shape(value) != np.shape(key):
        return False
    v, k = np.ravel(value), np.ravel(key)
    r = np.array([float(f"{x:.1e}") for x in k])
    ok = (np.abs(v - k) <= part.atol + part.rtol * np.abs(k)) | (np.abs(v - r) <= 1e-9 * np.abs(r))
    return bool(ok.all())


def check_variant(v: ex.Variant, all_pairs: bool) -> set[str]:
    """The key is right and names nothing; each offered prediction (singles, and pairs where
    ``all_pairs``) is named by its tags, together with every prediction of as many tags that
    it coincides with. Returns the tags named."""
    full = ex.grade(v, ex.parse_answers(v, _answers(v)))
    assert full.score == 1.0, (v.seed, v.difficulty, full.to_json())
    assert not any(r.misconceptions for r in full.parts.values())
    named: set[str] = set()
    for part in v.parts:
        preds = v.predictions.get(part.name, ())
        for p in preds:
            assert not _close(part, p.value, v.key_values[part.name]), (v.seed, p.tags)
        for p in (preds if all_pairs else [p for p in preds if len(p.tags) == 1]):
            result = ex.grade(v, ex.parse_answers(v, _answers(v, {part.name: p.value})))
            got = result.parts[part.name]
            assert not got.correct
            if _rounded_key(part, p.value, v.key_values[part.name]):
                # A pair that lands on the key rounded to 2 significant figures: judged as
                # the rounded key, before any mistake, and never tagged.
                assert got.misconceptions == (), (v.seed, part.name, p.tags, got)
                continue
            assert p.tags in got.explanations, (v.seed, v.difficulty, part.name, p.tags, got)
            # Named or not, it scores by the rule (SCORING_RULE), never as right.
            want = (rule_score(part, p.value, v.key_values[part.name])
                    if part.kind in ("matrix", "scalar") else 0.0)
            assert got.score == want, (v.seed, part.name, p.tags, got)
            alike = {q.tags for q in preds
                     if len(q.tags) == len(p.tags) and _close(part, p.value, q.value)}
            assert alike <= set(got.explanations), (v.seed, part.name, alike, got)
            named.update(p.tags)
    return named


@pytest.mark.parametrize("type_id", TYPES)
@pytest.mark.parametrize("difficulty", ex.DIFFICULTIES)
def test_every_offered_mistake_and_pair_is_named(type_id, difficulty):
    """A few seeds of every type and difficulty, every pair graded too."""
    for seed in range(4):
        check_variant(ex.generate(type_id, seed, difficulty), all_pairs=True)


@pytest.mark.slow
@pytest.mark.parametrize("type_id", TYPES)
def test_every_type_over_many_seeds(type_id):
    for seed in range(SEEDS):
        difficulty = 1 + seed % 3  # 100 seeds at each difficulty
        v = ex.generate(type_id, seed, difficulty)
        # Pairs are many; grading every one on a tenth of the seeds keeps the sweep short.
        check_variant(v, all_pairs=seed % 10 == 0)

        first = v.parts[0].name
        with pytest.raises(ex.AnswerFormatError) as err:
            ex.parse_answers(v, {**_answers(v), first: "1/"})
        assert first in err.value.parts

        if seed % 20 == 0:
            assert ex.generate(type_id, seed, difficulty).to_record() == v.to_record()
            stored = ex.Variant.from_record(v.to_record())
            assert ex.grade(stored, ex.parse_answers(stored, _answers(v))).score == 1.0
            assert ex.worked_solution(stored).steps


@pytest.mark.parametrize("type_id", TYPES)
def test_every_part_is_answered_by_a_step_of_the_worked_solution(type_id):
    for difficulty in ex.DIFFICULTIES:
        v = ex.generate(type_id, 3, difficulty)
        covered = {name for step in ex.worked_solution(v).steps for name in step.parts}
        assert {p.name for p in v.parts} <= covered


@pytest.mark.parametrize("type_id", TYPES)
def test_matrix_parts_do_not_give_away_their_shape(type_id):
    v = ex.generate(type_id, 11, 2)
    for p in v.to_json()["parts"]:
        assert set(p) <= {"name", "kind", "label", "tolerance", "options", "symbols"}
    assert "key" not in v.to_json() and "predictions" not in v.to_json()


def test_difficulty_one_keys_are_exact_small_rationals():
    from fractions import Fraction

    for t in ex.catalogue():
        if t.id in ("symbolic-gradient", "concept-check"):
            continue
        v = ex.generate(t.id, 5, 1)
        for p in v.parts:
            cells = np.ravel(v.key[p.name]).tolist() if p.kind == "matrix" else [v.key[p.name]]
            for cell in cells:
                assert isinstance(cell, (int, str)), (t.id, p.name, cell)
                assert abs(Fraction(cell).denominator) <= 1000, (t.id, p.name, cell)


def test_unknown_type_and_bad_difficulty_are_named():
    with pytest.raises(ex.UnknownExerciseType, match="no-such-type"):
        ex.generate("no-such-type", 1)
    with pytest.raises(ex.InvalidDifficulty, match="difficulty"):
        ex.generate("weight-gradient", 1, 4)
