"""Fitting knowledge tracing: the brute-force grid fit finds the parameters that made the
data, when the data come from a known BKT process (the oracle is the generator)."""

from __future__ import annotations

import numpy as np
import pytest

from exercises import learning
from exercises.learning import Evidence, PartEvidence


def bkt_students(n: int, l0: float, learn: float, slip: float, guess: float,
                 steps: int, seed: int) -> list[list[bool]]:
    """Answer sequences of students who follow BKT with these parameters."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        known, answers = bool(rng.random() < l0), []
        for _ in range(steps):
            answers.append(bool(rng.random() < (1 - slip if known else guess)))
            known = known or bool(rng.random() < learn)
        out.append(answers)
    return out


@pytest.mark.parametrize(("l0", "learn", "slip", "guess"),
                         [(0.2, 0.15, 0.1, 0.05), (0.5, 0.05, 0.03, 0.2)])
def test_the_fit_recovers_the_parameters_that_made_the_data(
        l0: float, learn: float, slip: float, guess: float) -> None:
    data = bkt_students(600, l0, learn, slip, guess, steps=12, seed=1)
    fit = learning.fit_knowledge_tracing(data)
    assert fit is not None
    assert (fit.mastery_prior, fit.learn, fit.slip, fit.guess) == (l0, learn, slip, guess)
    assert fit.sequences == 600 and fit.answers == 600 * 12
    assert fit.log_likelihood >= fit.current_log_likelihood


def test_the_log_likelihood_is_the_one_worked_by_hand() -> None:
    """One student, right then wrong, at the parameters in use (L0 .3, T .1, S .1, G .02):
    P(right) = .3·.9 + .7·.02 = .284; L | right = .27/.284, then learns: L' = L + (1−L)·.1;
    P(wrong) = L'·.1 + (1−L')·.98."""
    fit = learning.fit_knowledge_tracing([[True, False]])
    assert fit is not None
    after = 0.27 / 0.284
    after = after + (1 - after) * 0.1
    expected = np.log(0.284) + np.log(after * 0.1 + (1 - after) * 0.98)
    assert fit.current_log_likelihood == pytest.approx(expected)


def test_sequences_are_per_skill_in_order_and_leave_choices_out() -> None:
    def e(*parts: PartEvidence) -> Evidence:
        return Evidence("t", 1, parts)

    history = [
        e(PartEvidence("dC_dW", "weight-gradient", "right"),
          PartEvidence("choice", "delta", "mistake", options=4)),
        e(PartEvidence("dC_dW", "weight-gradient", "mistake"),
          PartEvidence("delta", "delta", "carried")),
    ]
    assert learning.sequences(history) == {"weight-gradient": [True, False], "delta": [True]}
    assert learning.fit_knowledge_tracing([]) is None
