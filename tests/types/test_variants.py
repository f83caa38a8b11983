"""Variants worth asking (issue 12, item 6): many distinct problems per type and difficulty,
no dead unit at difficulty 1, and numbers a student works by hand.

Oracles: problems compared by their JSON (the seed left out), and a forward and backward
pass written here in numpy, not the engine's, for the dead units and the costs.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

import exercises as E
from tests.types import kit

DIFFICULTIES = (1, 2, 3)
TYPES = sorted(t.id for t in E.catalogue())
# 2,000 seeds a sweep, fewer for the types whose variants cost the most to build
# (backprop-story, thirteen parts), so that every sweep stays near a minute on one core.
SEEDS = {"backprop-story": 1000}
DEFAULT_SEEDS = 2000
# At most one repeat in 1,000 problems.
REPEATS_PER_1000 = 1


def problem_identity(v: E.Variant) -> str:
    """What the student is asked: the variant's JSON without its seed. A concept question's
    options are compared as a set: the same question with its options shuffled repeats it."""
    j = v.to_json()
    del j["seed"]
    for part in j["parts"]:
        if "options" in part:
            part["options"] = sorted(o["label"] for o in part["options"])
    return json.dumps(j, sort_keys=True)


@pytest.mark.slow
@pytest.mark.parametrize("difficulty", DIFFICULTIES)
@pytest.mark.parametrize("type_id", TYPES)
def test_no_problem_repeats_more_than_once_in_1000_seeds(type_id: str, difficulty: int) -> None:
    n = SEEDS.get(type_id, DEFAULT_SEEDS)
    seen = Counter(problem_identity(E.generate(type_id, s, difficulty)) for s in range(n))
    repeats = n - len(seen)
    assert repeats * 1000 <= REPEATS_PER_1000 * n, (
        f"{repeats} repeats in {n} seeds; the most common problem came {max(seen.values())} "
        "times")


# --- a forward and backward pass in numpy -----------------------------------------------------


def _number(v: Any) -> float:
    return float(Fraction(v)) if isinstance(v, str) else float(v)


def _matrix(rows: list[list[Any]]) -> np.ndarray:
    return np.array([[_number(v) for v in row] for row in rows], dtype=np.float64)


def _act(name: str, z: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray | None]:
    """a and σ'(z) (None for softmax, whose Jacobian is applied in the backward pass)."""
    if name == "identity":
        return z, np.ones_like(z)
    if name == "relu":
        return np.maximum(z, 0), (z > 0).astype(float)
    if name == "leaky_relu":
        return np.where(z > 0, z, alpha * z), np.where(z > 0, 1.0, alpha)
    if name == "sigmoid":
        a = 1 / (1 + np.exp(-z))
        return a, a * (1 - a)
    if name == "tanh":
        a = np.tanh(z)
        return a, 1 - a**2
    if name == "softmax":
        e = np.exp(z - z.max(axis=0))
        return e / e.sum(axis=0), None
    raise AssertionError(name)


def backprop(net: dict[str, Any]) -> tuple[float, list[dict[str, Any]]]:
    """The cost and each layer's a, δ, dC/dW and dC/db of a network file (CONTRACT §2, §3)."""
    x, y = _matrix(net["x"]), _matrix(net["y"])
    m = x.shape[1]
    layers: list[dict[str, Any]] = []
    a = x
    g: np.ndarray | None
    for L in net["layers"]:
        W, b = _matrix(L["W"]), _matrix(L["b"])
        z = W @ a + b
        out, slope = _act(L["activation"], z, _number(L.get("alpha", "1/100")))
        layers.append({"W": W, "input": a, "a": out, "slope": slope})
        a = out
    loss = net["loss"]
    if loss == "half_sse":
        C, g = 0.5 * np.sum((a - y) ** 2) / m, (a - y) / m
    elif loss == "mse":
        n = a.shape[0]
        C, g = np.sum((a - y) ** 2) / n / m, 2 * (a - y) / n / m
    elif loss == "cross_entropy":
        C, g = -np.sum(y * np.log(a)) / m, None
    elif loss == "binary_cross_entropy":
        C = -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a)) / m
        g = (a - y) / (a * (1 - a)) / m
    else:
        raise AssertionError(loss)
    for k in reversed(range(len(layers))):
        L = layers[k]
        if L["slope"] is None:  # softmax with cross-entropy
            delta = (L["a"] - y) / m
        else:
            assert g is not None, "cross-entropy comes only with softmax"
            delta = g * L["slope"]
        L["delta"], L["dC_dW"], L["dC_db"] = delta, delta @ L["input"].T, delta.sum(axis=1)
        g = L["W"].T @ delta
    return float(C), layers


def dead_units(net: dict[str, Any]) -> list[tuple[int, int]]:
    """(layer, unit), 1-based, of each dead unit: its output is 0 on every example and so is
    its whole gradient row (dC/dW row and dC/db entry): it neither passes a signal forward
    nor learns."""
    _, layers = backprop(net)
    return [(k + 1, i + 1) for k, L in enumerate(layers) for i in range(L["a"].shape[0])
            if not np.any(L["a"][i]) and not np.any(L["dC_dW"][i]) and not L["dC_db"][i]]


def test_dead_unit_definition_by_hand() -> None:
    # z = [2; −1]: the ReLU of the second unit is 0 and so is its gradient row.
    net: dict[str, Any] = {
        "x": [[1], [1]], "y": [[1], [0]], "loss": "half_sse", "learning_rate": "1/10",
        "layers": [{"W": [[1, 1], [-1, 1]], "b": [[0], [-1]], "activation": "relu"}]}
    assert dead_units(net) == [(1, 2)]
    # The same as a leaky ReLU: a_2 = −1/10 passes on, and its row of dC/dW is not 0.
    net["layers"][0] |= {"activation": "leaky_relu", "alpha": "1/10"}
    assert dead_units(net) == []
    cost, layers = backprop(net)
    assert cost == pytest.approx(0.5 * (1 + 0.01))
    assert layers[0]["dC_dW"] == pytest.approx(np.array([[1, 1], [-0.01, -0.01]]))


NETWORK_TYPES = [t for t in TYPES if t != "concept-check"]


@pytest.mark.slow
@pytest.mark.parametrize("type_id", NETWORK_TYPES)
def test_no_difficulty_one_variant_has_a_dead_unit(type_id: str) -> None:
    dead = {}
    for s in range(1000):
        v = E.generate(type_id, s, 1)
        if units := dead_units(kit.network(v)):
            dead[s] = units
    assert not dead, f"{len(dead)} of 1000 variants have dead units, e.g. {list(dead.items())[:3]}"


# The largest cost (where it is asked) and key entry a student works by hand at difficulty 1.
HAND_COST = 100
HAND_ENTRY = 30


@pytest.mark.slow
@pytest.mark.parametrize("type_id", NETWORK_TYPES)
def test_difficulty_one_costs_and_keys_stay_in_hand_range(type_id: str) -> None:
    asks_cost = "C" in {p.name for p in E.get_type(type_id).parts}
    for s in range(1000):
        v = E.generate(type_id, s, 1)
        C, _ = backprop(kit.network(v))
        assert C < HAND_COST or not asks_cost, (s, C)
        for p in v.parts:
            if p.kind in ("matrix", "scalar") and p.name != "C":  # the cost: bound above
                key = np.abs(np.asarray(v.key_values[p.name], dtype=np.float64))
                assert np.max(key) <= HAND_ENTRY, (s, p.name, np.max(key))
    if type_id == "loss":  # the cost is the answer: more seeds
        for s in range(1000, 3000):
            C, _ = backprop(kit.network(E.generate(type_id, s, 1)))
            assert C < HAND_COST, (s, C)


# --- concept-check: the drawn numbers and the right option ------------------------------------

_NUMBER = re.compile(r"(-?\d+(?:\.\d+)?)(?: \\times 10\^\{(-?\d+)\})?")


def label_numbers(label: str) -> np.ndarray:
    """The numbers of an option's LaTeX label as a matrix: rows split at "\\\\", entries
    at "&" ("1.2 \\times 10^{-3}" read as one number)."""
    rows = [[float(m) * 10 ** int(e or 0) for m, e in _NUMBER.findall(row)]
            for row in label.split("\\\\")]
    return np.array(rows, dtype=np.float64)


def _f(values: Any) -> np.ndarray:
    return np.array([_number(v) for v in np.ravel(values)], dtype=np.float64)


def _sig(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def _col(v: np.ndarray) -> np.ndarray:
    return v.reshape(-1, 1)


def right_answer(template: str, v: dict[str, Any]) -> np.ndarray:
    """Each numeric question's answer, worked here from its drawn numbers, in its shape."""
    if template == "outer-product":
        return np.outer(_f(v["delta"]), _f(v["x"]))
    if template == "update-step":  # a row of two weights
        return (_f(v["w"]) - _number(v["eta"]) * _f(v["g"])).reshape(1, -1)
    if template == "loss-value":
        return np.array([[0.5 * np.sum((_f(v["a"]) - _f(v["y"])) ** 2)]])
    if template == "loss-gradient":
        return _col(_f(v["a"]) - _f(v["y"]))
    if template == "delta-values":
        a, y = _f(v["a"]), _f(v["y"])
        return _col((a - y) * a * (1 - a))
    if template == "neuron-gradient":
        out, target = _number(v["a"]), _number(v["y"])
        return _col((out - target) * out * (1 - out) * _f(v["x"]))
    if template == "sigmoid-slopes":
        s = _sig(_f(v["z"]))
        return _col(s * (1 - s))
    if template == "send-back-values":
        return _col(_f(v["W2"]).reshape(3, 3).T @ _f(v["delta2"]))
    if template == "hidden-delta-values":
        a1 = _f(v["a1"])
        return _col((_f(v["W2"]).reshape(2, 2).T @ _f(v["delta2"])) * a1 * (1 - a1))
    if template == "hidden-weight-values":
        return np.outer(_f(v["delta1"]), _f(v["x"]))
    if template == "batch-mean":  # one neuron: a row
        return _f(v["D"]).reshape(1, 3) @ _f(v["X"]).reshape(2, 3).T / 3
    raise AssertionError(f"no independent answer for {template}")


def test_label_numbers_reads_matrices_and_powers_of_ten() -> None:
    got = label_numbers(r"$\begin{bmatrix} 0.3333 & -2 \\ 1.5 \times 10^{-3} & 4 \end{bmatrix}$")
    assert got == pytest.approx(np.array([[0.3333, -2], [0.0015, 4]]))
    assert label_numbers("$-0.25$") == pytest.approx(np.array([[-0.25]]))


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_concept_questions_right_option_is_the_worked_answer(difficulty: int) -> None:
    """Over drawn concept questions: the key's option shows the answer worked here from the
    question's own numbers (4 significant figures), and no wrong option shows it too."""
    for seed in range(300):
        v = E.generate("concept-check", seed, difficulty)
        params = dict(v.params)
        want = right_answer(params.pop("template"), params)
        (part,) = v.parts
        labels = {o.id: label_numbers(o.label) for o in part.options}
        got = labels[v.key["choice"]]
        assert got.shape == want.shape and np.allclose(got, want, rtol=1e-3, atol=0), (
            seed, v.params)
        for option, numbers in labels.items():
            if option != v.key["choice"]:
                same = numbers.shape == want.shape and np.allclose(numbers, want, rtol=1e-3)
                assert not same, (seed, option)
