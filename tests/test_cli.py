"""The offline CLI as a user runs it: the installed ``backprop-quiz`` console script."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

CLI = str(Path(sys.executable).parent / "backprop-quiz")


def run(*args: str, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout, check=False)


def run_json(*args: str) -> dict:
    return json.loads(run(*args).stdout)


def test_types_lists_the_catalogue():
    out = run("types", "--json")
    assert out.returncode == 0
    ids = {t["id"] for t in json.loads(out.stdout)}
    assert {"weight-gradient", "backprop-story", "concept-check"} <= ids
    text = run("types").stdout
    assert "weight-gradient" in text


def test_generate_hides_the_key_unless_asked():
    plain = json.loads(run("generate", "weight-gradient", "--seed", "7", "--json").stdout)
    assert "key" not in plain and plain["type"] == "weight-gradient" and plain["seed"] == 7
    keyed = run_json("generate", "weight-gradient", "--seed", "7", "--json", "--with-key")
    assert set(keyed["key"]) == {"dC_dW"}
    assert run("generate", "weight-gradient", "--seed", "7").stdout.startswith("Weight gradient")


def test_grade_key_transposed_and_unreadable(tmp_path):
    keyed = run_json("generate", "weight-gradient", "--seed", "3", "--json", "--with-key")
    key = keyed["key"]["dC_dW"]
    path = tmp_path / "a.json"

    path.write_text(json.dumps({"answers": {"dC_dW": key}}))
    out = run("grade", "weight-gradient", "--seed", "3", "--answers", str(path))
    assert out.returncode == 0
    assert json.loads(out.stdout)["score"] == 1.0

    transposed = np.array(key, dtype=object).T.tolist()
    path.write_text(json.dumps({"answers": {"dC_dW": transposed}}))
    result = run_json("grade", "weight-gradient", "--seed", "3", "--answers", str(path))
    assert result["parts"]["dC_dW"]["misconceptions"] == ["transposed-gradient"]
    # Named or not, its right entries (the diagonal, which a transpose keeps) earn their
    # share (SCORING_RULE): the 2×2 key is not symmetric, so exactly those two of four.
    k = np.array([[float(Fraction(str(c))) for c in row] for row in key])
    assert k[0, 1] != k[1, 0]
    assert result["score"] == 0.5

    path.write_text(json.dumps({"answers": {"dC_dW": "[1/ 2; 3 4]"}}))
    out = run("grade", "weight-gradient", "--seed", "3", "--answers", str(path))
    assert out.returncode == 2
    error = json.loads(out.stdout)["error"]
    assert error["code"] == "invalid_answer" and "dC_dW" in error["parts"]


@pytest.mark.parametrize("hostile", ["__import__('os').system('id')", "9**9**9**9",
                                     "().__class__.__bases__[0].__subclasses__()"])
@pytest.mark.parametrize(("type_id", "part"), [("weight-gradient", "dC_dW"), ("loss", "C"),
                                               ("symbolic-gradient", "expr")])
def test_hostile_answers_are_format_errors_and_run_nothing(tmp_path, hostile, type_id, part):
    marker = tmp_path / "pwned"
    payload = hostile.replace("'id'", f"'touch {marker}'")
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"answers": {part: payload}}))
    # A hostile answer must be refused quickly; the 10 s limit only catches a hang.
    out = run("grade", type_id, "--seed", "1", "--answers", str(path), timeout=10)
    assert out.returncode == 2, out.stdout
    assert part in json.loads(out.stdout)["error"]["parts"]
    assert not marker.exists()


def test_derive_reads_stdin_and_names_bad_fields():
    good = {"x": [[1], [2]], "y": [[0], [1]], "loss": "half_sse", "learning_rate": "1/10",
            "layers": [{"W": [[1, 2], [3, 4]], "b": [[0], [0]], "activation": "identity"}]}
    out = run("derive", "--exact", "-", stdin=json.dumps(good))
    data = json.loads(out.stdout)
    assert data["layers"][0]["dC_dW"] == [[5.0, 10.0], [10.0, 20.0]]  # worked in test_engine
    assert data["exact"]["layers"][0]["W_new"] == [["1/2", "1"], ["2", "2"]]
    bad = dict(good, loss="hinge")
    out = run("derive", "-", stdin=json.dumps(bad))
    assert out.returncode == 2 and "loss: unknown loss" in out.stderr


def test_unknown_type_is_a_clear_error():
    out = run("generate", "no-such-type", "--seed", "1")
    assert out.returncode == 2 and "unknown exercise type 'no-such-type'" in out.stderr
