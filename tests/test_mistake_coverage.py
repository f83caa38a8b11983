"""Every mistake on every part it can change.

The engine decides which mistakes a variant offers; these tests hold it to that from the
outside: wrong answers worked in NumPy from the variant's own network (not by the engine)
are named by their tag, reported variants are named right, coinciding mistakes are named
together, and the key is never named.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

import exercises as ex
from exercises.problem import ATOL, RTOL, value_to_json
from tests.reported import reported


def _matrix(rows: list[list[Any]]) -> np.ndarray:
    return np.array([[float(Fraction(str(v))) for v in row] for row in rows], dtype=np.float64)


def _submit(v: ex.Variant, **answers: Any) -> ex.Grade:
    """Grade the key with the given parts replaced."""
    raw = dict(v.key)
    for name, value in answers.items():
        raw[name] = value_to_json(v.part(name).kind, value)
    return ex.grade(v, ex.parse_answers(v, raw))


def _differs(a: Any, key: Any) -> bool:
    a, key = np.asarray(a, dtype=np.float64), np.asarray(key, dtype=np.float64)
    return a.shape != key.shape or not np.all(np.abs(a - key) <= ATOL + RTOL * np.abs(key))


def _rounded(key: Any, digits: int) -> np.ndarray:
    k = np.asarray(key, dtype=np.float64)
    return np.array([float(f"{v:.{digits}g}") for v in k.ravel()]).reshape(k.shape)


# --- a student's derivation, in NumPy, from the network JSON --------------------------------

ACTIVATIONS = {
    "identity": (lambda z, al: z, lambda z, al: np.ones_like(z)),
    "relu": (lambda z, al: np.maximum(z, 0), lambda z, al: (z > 0) * 1.0),
    "leaky_relu": (lambda z, al: np.where(z > 0, z, al * z),
                   lambda z, al: np.where(z > 0, 1.0, al)),
    "sigmoid": (lambda z, al: 1 / (1 + np.exp(-z)),
                lambda z, al: np.exp(-z) / (1 + np.exp(-z)) ** 2),
    "tanh": (lambda z, al: np.tanh(z), lambda z, al: 1 / np.cosh(z) ** 2),
}


@dataclass
class Student:
    """How the student departs from the chain rule (all False: the textbook)."""

    bias_omitted: bool = False  # z = W·a_prev, no b
    activation_skipped: bool = False  # the output a taken as z (so da/dz = 1)
    collapse: str | None = None  # δ of the output layer as (dC/da)ᵀσ'(z): "row" or "spread"
    transposed: bool = False  # dC/dW = a_prev·δᵀ

    def work(self, net: dict) -> dict[str, Any]:
        """Every quantity, 1-based per layer: z1, a1, ..., C, delta1, dC_dW1, dC_db1, W1_new."""
        x, y = _matrix(net["x"]), _matrix(net["y"])
        layers = [(_matrix(L["W"]), _matrix(L["b"]), L["activation"],
                   float(Fraction(str(L.get("alpha", "0.01"))))) for L in net["layers"]]
        lr = float(Fraction(str(net["learning_rate"])))
        n, m, last = y.shape[0], x.shape[1], len(layers)
        out: dict[str, Any] = {}
        a, inputs, zs = x, [], []
        for k, (W, b, act, al) in enumerate(layers, start=1):
            inputs.append(a)
            z = W @ a + (0 if self.bias_omitted else b)
            a = z if (self.activation_skipped and k == last) else ACTIVATIONS[act][0](z, al)
            zs.append(z)
            out[f"z{k}"], out[f"a{k}"] = z, a
        if net["loss"] == "half_sse":
            out["C"], g = ((a - y) ** 2).sum() / (2 * m), (a - y) / m
        else:
            out["C"], g = ((a - y) ** 2).sum() / (n * m), 2 * (a - y) / (n * m)
        for k in range(last, 0, -1):
            W, b, act, al = layers[k - 1]
            if g is None:
                break
            skipped = self.activation_skipped and k == last
            dz = np.ones_like(zs[k - 1]) if skipped else ACTIVATIONS[act][1](zs[k - 1], al)
            delta = g * dz
            if self.collapse and k == last:
                delta = delta.sum(axis=0, keepdims=True)  # one number per example
                if self.collapse == "spread":
                    delta = np.repeat(delta, W.shape[0], axis=0)
            a_prev = inputs[k - 1]
            dW = a_prev @ delta.T if self.transposed else delta @ a_prev.T
            out[f"delta{k}"], out[f"dC_dW{k}"] = delta, dW
            out[f"dC_db{k}"] = delta.sum(axis=1, keepdims=True)
            if dW.shape == W.shape:
                out[f"W{k}_new"] = W - lr * dW
            g = W.T @ delta if W.shape[0] == delta.shape[0] else None
        return out


def _parts(type_id: str, v: ex.Variant, work: dict[str, Any]) -> dict[str, Any]:
    """The type's parts, read off a worked derivation (None where undefined)."""
    if type_id == "weight-gradient":
        return {"dC_dW": work.get(f"dC_dW{v.params['layer']}")}
    if type_id == "delta":
        return {"delta": work.get("delta1")}
    if type_id == "hidden-gradient":
        return {"delta2": work.get("delta2"), "delta1": work.get("delta1"),
                "dC_dW1": work.get("dC_dW1")}
    names = ("z1", "a1", "z2", "a2", "C", "delta2", "dC_dW2", "dC_db2", "delta1", "dC_dW1",
             "dC_db1", "W1_new", "W2_new")
    return {name: work.get(name) for name in names}


HAND_MISTAKES = {
    "activation-skipped": [Student(activation_skipped=True)],
    "dot-instead-of-hadamard": [Student(collapse="row"), Student(collapse="spread")],
    "bias-omitted": [Student(bias_omitted=True)],
    "transposed-gradient": [Student(transposed=True)],
}
HAND_TYPES = ("weight-gradient", "delta", "hidden-gradient", "backprop-story")


@pytest.mark.parametrize("type_id", HAND_TYPES)
@pytest.mark.parametrize("difficulty", (1, 2, 3))
def test_mistakes_worked_in_numpy_are_named(type_id: str, difficulty: int) -> None:
    """Each hand-worked mistake, on the first part it changes (the step where it is made; the
    two-layer types credit later parts as carried forward), in each shape it takes, is named
    by its tag."""
    checked = 0
    for seed in range(8):
        v = ex.generate(type_id, seed, difficulty)
        right = _parts(type_id, v, Student().work(v.network))
        for name, value in right.items():  # the NumPy oracle agrees with the key
            assert not _differs(value, v.key_values[name]), (seed, name)
        for tag, students in HAND_MISTAKES.items():
            for student in students:
                wrong = _parts(type_id, v, student.work(v.network))
                first = next((name for name, value in wrong.items() if value is not None
                              and _differs(value, v.key_values[name])), None)
                if first is None:
                    continue  # the mistake changes nothing this variant asks
                key = v.key_values[first]
                if any(not _differs(wrong[first], _rounded(key, d)) for d in (2, 3)):
                    continue  # the key written to 2 or 3 figures: no mistake can be told
                got = _submit(v, **{first: wrong[first]}).parts[first]
                assert tag in got.misconceptions, (seed, tag, student, first, got)
                checked += 1
    assert checked >= 8


# --- reported variants, named right ----------------------------------------------------


def test_activation_skipped_is_named_on_weight_gradient_seed_803794() -> None:
    v = ex.generate("weight-gradient", 803794, 2)
    assert v.network["layers"][0]["activation"] == "tanh"
    wrong = Student(activation_skipped=True).work(v.network)["dC_dW1"]
    assert _differs(wrong, v.key_values["dC_dW"])
    got = _submit(v, dC_dW=wrong).parts["dC_dW"]
    assert "activation-skipped" in got.misconceptions, got


@pytest.mark.parametrize("difficulty", (1, 2, 3))
def test_a_sign_flip_on_weight_update_is_named_as_both_alternatives(difficulty: int) -> None:
    """y − a for a − y gives W + η·g, gradient ascent's answer: the answer cannot tell them
    apart, so both are named."""
    for seed in range(10):
        v = ex.generate("weight-update", seed, difficulty)
        net, layer = v.network, v.params["layer"]
        W = _matrix(net["layers"][layer - 1]["W"])
        g = Student().work(net)[f"dC_dW{layer}"]
        flipped = W + float(Fraction(str(net["learning_rate"]))) * g
        got = _submit(v, W_new=flipped).parts["W_new"]
        assert {"sign-flip", "gradient-ascent"} <= set(got.misconceptions), (seed, got)
        assert {("sign-flip",), ("gradient-ascent",)} <= set(got.explanations), (seed, got)


MSE_TYPES = {"weight-gradient": "dC_dW", "batch-gradient": "dC_dW", "hidden-gradient": "delta2",
             "backprop-story": "C"}


@pytest.mark.parametrize("type_id", sorted(MSE_TYPES))
def test_mse_without_its_one_over_n_is_not_named_batch_sum(type_id: str) -> None:
    """Dropping the MSE's 1/n over n outputs scales the first part it reaches by n; over a
    batch of m = n examples that looks like summing the batch, which it is not."""
    part, found = MSE_TYPES[type_id], 0
    for seed in range(60):
        v = ex.generate(type_id, seed, 3)
        if v.network["loss"] != "mse":
            continue
        found += 1
        n = len(v.network["y"])
        got = _submit(v, **{part: n * v.key_values[part]}).parts[part]
        assert "batch-sum-not-mean" not in got.misconceptions, (seed, got)
        assert "loss-not-averaged" in got.misconceptions, (seed, got)
    if type_id == "weight-gradient":
        assert found


def test_wrong_activation_derivative_on_chain_rule_is_not_rounding() -> None:
    """σ'(a) for σ'(z) at a = ½ is 0.2350 for 0.25: a named mistake, not early rounding."""
    for seed in range(20):
        v = reported("chain-rule", seed, 1)  # a sigmoid at z = 0, as reported
        a = 1 / (1 + np.exp(-1 / 2))  # σ(a) at a = σ(0) = ½
        got = _submit(v, da_dz=a * (1 - a)).parts["da_dz"]
        assert got.misconceptions == ("wrong-activation-derivative",), (seed, got)


def test_softmax_cross_entropy_offers_the_dropped_softmax_derivative() -> None:
    for seed in range(10):
        v = ex.generate("softmax-cross-entropy", seed, 2)
        y, m = _matrix(v.network["y"]), len(v.network["y"][0])
        a = v.key_values["a"]
        got = _submit(v, delta=-y / (m * a)).parts["delta"]
        assert "missing-activation-derivative" in got.misconceptions, (seed, got)


def test_batch_gradient_offers_factor_of_two() -> None:
    for difficulty in (1, 2, 3):
        for seed in range(5):
            v = ex.generate("batch-gradient", seed, difficulty)
            got = _submit(v, dC_dW=2 * v.key_values["dC_dW"]).parts["dC_dW"]
            assert "factor-of-two" in got.misconceptions, (difficulty, seed, got)


def test_bias_omitted_is_named_on_forward_pass() -> None:
    for difficulty in (1, 2, 3):
        for seed in range(10):
            v = ex.generate("forward-pass", seed, difficulty)
            z = Student(bias_omitted=True).work(v.network)["z1"]
            if not _differs(z, v.key_values["z"]):
                continue
            got = _submit(v, z=z).parts["z"]
            assert got.misconceptions == ("bias-omitted",), (difficulty, seed, got)


# --- explanations in the variant's conventions ----------------------------------------------------


def test_explanations_use_the_variants_own_loss_and_batch() -> None:
    mse3 = {"y": [[0, 1, 0], [1, 0, 0], [0, 0, 1]], "loss": "mse"}
    text = ex.MISTAKES["factor-of-two"].explanation_for(mse3)
    assert "(2/3)(a − y)" in text and "1/3" in text and "2(a − y)" not in text.replace(
        "(2/3)(a − y)", "")
    half = {"y": [[0], [1]], "loss": "half_sse"}
    text = ex.MISTAKES["factor-of-two"].explanation_for(half)
    assert "dC/da = a − y" in text and "1/" not in text
    assert "1/4" in ex.MISTAKES["batch-sum-not-mean"].explanation_for(
        {"y": [[0, 1, 0, 1]], "loss": "half_sse"})
    assert ex.MISTAKES["transposed-gradient"].explanation_for(half) == \
        ex.MISTAKES["transposed-gradient"].explanation
    assert ex.MISTAKES["factor-of-two"].explanation_for(None) == \
        ex.MISTAKES["factor-of-two"].explanation


def test_feedback_states_the_variants_mse_derivative() -> None:
    for seed in range(40):
        v = ex.generate("weight-gradient", seed, 2)
        if v.network["loss"] != "mse":
            continue
        got = _submit(v, dC_dW=0.5 * v.key_values["dC_dW"]).parts["dC_dW"]
        assert "factor-of-two" in got.misconceptions
        assert "C = (1/2)Σ(a − y)²" in got.feedback, got.feedback
        return
    pytest.fail("no mse variant in 40 seeds")


# --- shapes: a collapsed scalar in each shape a student writes ------------------------------------


@pytest.mark.parametrize(("type_id", "difficulty"), [("weight-gradient", 1), ("weight-gradient", 2),
                                                    ("batch-gradient", 1), ("batch-gradient", 2)])
def test_a_dot_product_for_the_outer_one_is_named_in_each_shape(type_id: str,
                                                                 difficulty: int) -> None:
    """xᵀδ is one number (over a batch, summed over the examples: the batch dimension
    dropped): written as a 1×1 matrix (the feedback names W's shape) or in every entry of W,
    it is named dot-instead-of-outer."""
    for seed in range(10):
        v = ex.generate(type_id, seed, difficulty)
        x = _matrix(v.network["x"])
        key = v.key_values["dC_dW"]
        delta = Student().work(v.network)["delta1"]
        s = float((x * delta).sum())
        one = _submit(v, dC_dW=np.array([[s]])).parts["dC_dW"]
        assert "dot-instead-of-outer" in one.misconceptions, (seed, one)
        assert f"(dC_dW should be {key.shape[0]}×{key.shape[1]}.)" in one.feedback
        full = _submit(v, dC_dW=np.full(key.shape, s)).parts["dC_dW"]
        assert "dot-instead-of-outer" in full.misconceptions, (seed, full)


def test_a_collapsed_delta_times_x_is_named_as_a_row_and_spread_to_w() -> None:
    """δ collapsed to one number s = (dC/da)ᵀσ'(z), then multiplied by xᵀ: s·xᵀ as a row, or
    repeated down every row of W."""
    for seed in range(10):
        v = ex.generate("weight-gradient", seed, 2)
        net = v.network
        row = Student(collapse="row").work(net)["dC_dW1"]
        assert row.shape == (1, 2)
        for answer in (row, np.repeat(row, 2, axis=0)):
            if not _differs(answer, v.key_values["dC_dW"]):
                continue
            got = _submit(v, dC_dW=answer).parts["dC_dW"]
            assert "dot-instead-of-hadamard" in got.misconceptions, (seed, answer, got)
