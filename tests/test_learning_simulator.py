"""The learning benchmark's simulated student (bench/learning.py) is faithful, with the real
grader as the oracle: a student who holds a misconception gives answers the grader names
with it, a student with none and no slips gets full marks, and a careless slip is what the
grader calls an arithmetic slip."""

from __future__ import annotations

import numpy as np
import pytest

import exercises as ex
from bench.learning import Student, answers, graded, make_student
from exercises import learning
from exercises.mistakes import MISTAKES

# One or two variants of every kind of part: matrices through a chain, scalars, an
# expression, a choice (each difficulty of concept-check asks other mistakes), a batch.
VARIANTS = [("weight-gradient", 0, 2), ("backprop-story", 1, 1), ("chain-rule", 2, 2),
            ("symbolic-gradient", 3, 2), ("concept-check", 4, 1), ("concept-check", 5, 2),
            ("concept-check", 6, 3), ("batch-gradient", 7, 3), ("hidden-gradient", 8, 2),
            ("softmax-cross-entropy", 9, 1)]


def _graded(student: Student, v: ex.Variant, seed: int = 0) -> dict:
    setup = ex.get_type(v.type).setup_from(v)
    return graded(v, answers(student, v, setup, np.random.default_rng(seed)))


@pytest.fixture(scope="module", params=VARIANTS, ids=lambda p: f"{p[0]}-{p[2]}")
def variant(request: pytest.FixtureRequest) -> ex.Variant:
    type_id, seed, difficulty = request.param
    return ex.generate(type_id, seed, difficulty)


def test_no_misconception_no_slip_gets_full_marks(variant: ex.Variant) -> None:
    parts = _graded(Student((), 0.0), variant)
    assert all(r["correct"] and not r["misconceptions"] for r in parts.values()), parts


def test_a_held_misconception_is_named_by_the_grader(variant: ex.Variant) -> None:
    """Every misconception the variant can reveal, held alone through each of its slip sets:
    some part names it for some slip set, and every part that names anything names it."""
    where = learning.revealable(variant)
    tags = sorted({m for ms in where.values() for m in ms})
    assert tags
    for tag in tags:
        named = False
        for slips in MISTAKES[tag].variants:
            parts = _graded(Student(((tag, slips),), 0.0), variant)
            for name, r in parts.items():
                if r["misconceptions"]:
                    assert tag in r["misconceptions"], (tag, name, r)
                    named = True
        assert named, (tag, variant.type, variant.seed)


def test_two_misconceptions_on_a_chain_are_both_named() -> None:
    """A mistake early in a chain carries through it (the gradients right from the student's
    own δ₂), and a second one shows where it applies, named together with the first."""
    v = ex.generate("backprop-story", 1, 1)
    student = Student((("sign-flip", MISTAKES["sign-flip"].variants[0]),
                       ("missing-learning-rate", MISTAKES["missing-learning-rate"].variants[0])),
                      0.0)
    parts = _graded(student, v)
    assert parts["delta2"]["misconceptions"] == ["sign-flip"], parts["delta2"]
    assert parts["dC_dW2"].get("carried_forward"), parts["dC_dW2"]
    assert {"sign-flip", "missing-learning-rate"} <= set(parts["W2_new"]["misconceptions"])


def test_a_careless_slip_is_an_arithmetic_slip_or_unexplained() -> None:
    """Slip rate 1, nothing held: a matrix part of several entries is named an arithmetic
    slip; no part is ever credited or named with a misconception."""
    v = ex.generate("hidden-gradient", 8, 2)
    for seed in range(5):
        parts = _graded(Student((), 1.0), v, seed)
        for name, r in parts.items():
            assert not r["correct"], (name, r)
            assert r["misconceptions"] == ["arithmetic-slip"], (name, r)


def test_students_hold_zero_to_three_tracked_misconceptions() -> None:
    students = [make_student(np.random.default_rng([1, i])) for i in range(400)]
    counts = {len(s.held) for s in students}
    assert counts == {0, 1, 2, 3}
    for s in students:
        assert s.tags <= set(learning.MISCONCEPTIONS) and len(s.tags) == len(s.held)
        assert all(slips in MISTAKES[tag].variants for tag, slips in s.held)
        assert 0.0 <= s.slip <= 0.2
