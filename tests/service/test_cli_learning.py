"""``backprop-quiz learning fit``: knowledge tracing fitted to the graded answers in the
database, printed beside the parameters in use; no answers is a clear error (exit 2)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from click.testing import CliRunner
from flask import Flask
from servicekit import Caller, cli_env, grade_queued
from test_learning_store import practise, transposed

import exercises as ex
from service.cli import main
from service.config import Settings


def test_fit_without_answers_says_so(app: Flask, settings: Settings) -> None:
    out = CliRunner().invoke(main, ["learning", "fit"], env=cli_env(settings))
    assert out.exit_code == 2
    assert "no graded answers to fit" in out.output


def test_fit_counts_every_answer_and_prints_both_parameter_sets(
        app: Flask, settings: Settings, make_caller: Callable[..., Caller]) -> None:
    ada, bob = make_caller(), make_caller()
    for seed in (11, 12, 13):
        practise(ada, seed, transposed(seed))
        practise(bob, seed, {"dC_dW": ex.generate("weight-gradient", seed, 1).key["dC_dW"]})
    grade_queued(app)
    runner, env = CliRunner(), cli_env(settings)

    got = runner.invoke(main, ["learning", "fit", "--json"], env=env)
    assert got.exit_code == 0, got.output
    fit = json.loads(got.output)
    # Two students, one skill each (dC/dW), three answers apiece.
    assert (fit["sequences"], fit["answers"]) == (2, 6)
    assert fit["log_likelihood"] >= fit["current_log_likelihood"]
    # Ada is wrong three times and Bob right three times: the fit puts half the class
    # knowing it from the start.
    assert fit["mastery_prior"] == pytest.approx(0.5)

    table = runner.invoke(main, ["learning", "fit"], env=env)
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0] == "6 answers in 2 sequences (student × skill)"
    assert lines[2].split()[:2] == ["in", "use"] and lines[3].split()[0] == "fitted"
