"""bias-gradient, batch-gradient, weight-update, chain-rule and softmax-cross-entropy
(exercises/types/steps.py).

Oracles: networks worked by hand (exact fractions), PyTorch autograd for every key of the
sweeps, and mistake answers built here with NumPy from the problem's own network and key.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
import sympy  # type: ignore[import-untyped, unused-ignore]  # sympy ships no type hints
import torch

import exercises as E
from exercises.engine import Slip
from exercises.mistakes import MISTAKES
from exercises.network import parse_network
from exercises.registry import Setup
from tests.types import kit
from tests.types.kit import SEEDS, assert_key_near, offered_singles, submit, variant, variants

TYPES = ("bias-gradient", "batch-gradient", "weight-update", "chain-rule",
         "softmax-cross-entropy")
CASES = [(t, d) for t in TYPES for d in E.DIFFICULTIES]
R = sympy.Rational


def key(v: E.Variant, part: str) -> Any:
    return v.key_values[part]


def setup_of(network: dict[str, Any], **params: Any) -> Setup:
    return Setup(parse_network(network), params)


def predicted(type_id: str, setup: Setup, tag: str) -> list[dict[str, Any]]:
    """What each slip set of ``tag`` gives on ``setup``."""
    t = E.get_type(type_id)
    return [t.predict(setup, slips) for slips in MISTAKES[tag].variants]


def exact(rows: list[list[Any]]) -> sympy.Matrix:
    return sympy.Matrix([[sympy.nsimplify(v) for v in row] for row in rows])


def differs(answer: float, key_value: float) -> bool:
    """Outside the parts' stated tolerance of the key."""
    return not np.isclose(answer, key_value, rtol=5e-3, atol=1e-4)


def expect_tag(v: E.Variant, part: str, tag: str, value: Any) -> None:
    """Submitting ``value`` for ``part`` (the rest the key) names ``tag`` on that part."""
    k = np.asarray(v.key_values[part], dtype=np.float64)
    for d in (2, 3):  # the key written to 2 or 3 figures: no mistake can be told by it
        r = np.array([float(f"{e:.{d}g}") for e in k.ravel()]).reshape(k.shape)
        if np.shape(value) == k.shape and np.all(np.abs(value - r) <= 1e-4 + 5e-3 * np.abs(r)):
            return
    result = submit(v, **{part: value}).parts[part]
    assert result.score < 1, (v.type, v.seed, v.difficulty, part, tag)
    assert tag in result.misconceptions, (v.type, v.seed, v.difficulty, part, tag,
                                          result.misconceptions)


# --- an independent oracle: PyTorch autograd -----------------------------------------------


def _t(rows: Any) -> torch.Tensor:
    return torch.tensor([[float(Fraction(str(v))) for v in row] for row in rows],
                        dtype=torch.float64)


def torch_pass(network: dict[str, Any]) -> dict[str, Any]:
    """Every layer's z, a, δ = dC/dz, dC/da, dC/dW and dC/db for a network file, by autograd."""
    x, y = _t(network["x"]), _t(network["y"])
    Ws = [_t(L["W"]).requires_grad_() for L in network["layers"]]
    bs = [_t(L["b"]).requires_grad_() for L in network["layers"]]
    a, zs, acts = x, [], []
    for L, W, b in zip(network["layers"], Ws, bs, strict=True):
        z = W @ a + b
        alpha = float(Fraction(str(L.get("alpha", "1/100"))))
        f: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
            "identity": lambda u: u, "relu": torch.relu,
            "leaky_relu": functools.partial(torch.nn.functional.leaky_relu, negative_slope=alpha),
            "sigmoid": torch.sigmoid, "tanh": torch.tanh,
            "softmax": functools.partial(torch.softmax, dim=0)}
        a = f[L["activation"]](z)
        z.retain_grad()
        a.retain_grad()
        zs.append(z)
        acts.append(a)
    n, m = y.shape
    loss = network["loss"]
    if loss == "half_sse":
        C = ((a - y) ** 2).sum() / (2 * m)
    elif loss == "mse":
        C = ((a - y) ** 2).sum() / (n * m)
    elif loss == "cross_entropy":
        C = -(y * torch.log(a)).sum() / m
    else:
        C = -(y * torch.log(a) + (1 - y) * torch.log(1 - a)).sum() / m
    C.backward()
    return {
        "z": [z.detach().numpy() for z in zs],
        "a": [a.detach().numpy() for a in acts],
        "delta": [_grad(z) for z in zs],
        "dC_da": [_grad(a) for a in acts],
        "dC_dW": [_grad(W) for W in Ws],
        "dC_db": [_grad(b) for b in bs],
        "W": [W.detach().numpy() for W in Ws],
        "x": x.numpy(),
        "lr": float(Fraction(str(network["learning_rate"]))),
    }


def _grad(t: torch.Tensor) -> np.ndarray:
    """The gradient autograd left on ``t``, as numpy."""
    assert t.grad is not None
    return t.grad.numpy()


def close(a: Any, b: Any) -> bool:
    return bool(np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                            rtol=1e-9, atol=1e-12))


def torch_layer(v: E.Variant) -> tuple[dict[str, Any], int]:
    """Autograd's pass of the variant's network, and the asked layer's 0-based index."""
    return torch_pass(kit.network(v)), v.params.get("layer", 1) - 1


def torch_key(v: E.Variant) -> dict[str, Any]:
    """The key of each type, computed here from autograd alone."""
    ref, k = torch_layer(v)
    if v.type == "bias-gradient":
        return {"dC_db": ref["dC_db"][k]}
    if v.type == "batch-gradient":
        return {"dC_dW": ref["dC_dW"][k], "dC_db": ref["dC_db"][k]}
    if v.type == "weight-update":
        W_new = ref["W"][k] - ref["lr"] * ref["dC_dW"][k]
        return {"W_new": W_new, "w_entry": W_new[v.params["row"] - 1, v.params["column"] - 1]}
    if v.type == "chain-rule":
        j = v.params["input"] - 1
        z = torch.tensor(float(ref["z"][0][0, 0]), dtype=torch.float64, requires_grad=True)
        layer = kit.network(v)["layers"][0]
        slope = float(Fraction(str(layer.get("alpha", "1/100"))))
        act: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
            "leaky_relu": functools.partial(torch.nn.functional.leaky_relu, negative_slope=slope),
            "sigmoid": torch.sigmoid, "tanh": torch.tanh}
        (da_dz,) = torch.autograd.grad(act[layer["activation"]](z), z)
        return {"dC_da": ref["dC_da"][0][0, 0], "da_dz": float(da_dz),
                "dz_dw": ref["x"][j, 0], "dC_dw": ref["dC_dW"][0][0, j]}
    return {"a": ref["a"][0], "delta": ref["delta"][0], "dC_dW": ref["dC_dW"][0]}


# --- networks worked by hand ---------------------------------------------------------------

# z = [1·2 + 2·1 + 0; −2·2 + 1·1 − 1] = [4; −4], a = [4; −2/5] (α = 1/10), y = [1; 2]:
# a − y = [3; −12/5], σ' = [1; 1/10], δ = [3; −6/25] = dC/db.
LEAKY_NET = {"x": [[2], [1]], "y": [[1], [2]],
             "layers": [{"W": [[1, 2], [-2, 1]], "b": [[0], [-1]], "activation": "leaky_relu",
                         "alpha": "1/10"}],
             "loss": "half_sse", "learning_rate": "1/10"}


def test_bias_gradient_by_hand() -> None:
    s = setup_of(LEAKY_NET, layer=1)
    assert E.get_type("bias-gradient").key(s)["dC_db"] == exact([[3], [R(-6, 25)]])
    # δ·xᵀ and δ⊙x; σ' dropped: δ = a − y; sign flip; twice and half.
    times_input = [p["dC_db"] for p in predicted("bias-gradient", s, "bias-times-input")]
    assert close(times_input[0], [[6, 3], [-0.48, -0.24]])
    assert close(times_input[1], [[6], [-0.24]])
    assert close(predicted("bias-gradient", s, "missing-activation-derivative")[0]["dC_db"],
                 [[3], [-2.4]])
    assert close(predicted("bias-gradient", s, "sign-flip")[0]["dC_db"], [[-3], [0.24]])
    doubled, halved = (p["dC_db"] for p in predicted("bias-gradient", s, "factor-of-two"))
    assert close(doubled, [[6], [-0.48]]) and close(halved, [[1.5], [-0.12]])


# z column by column: x = (−1, 1) → [−2; 1], x = (−2, −1) → [3; 6] (twice).
# a = [0 3 3; 1 6 6], a − y = [−3 2 4; −2 5 9], relu' = [0 1 1; 1 1 1],
# δ = (1/3)[0 2 4; −2 5 9], dC/dW = δ·xᵀ = [−4 −2; −26/3 −16/3], dC/db = (1/3)[6; 12].
RELU_BATCH = {"x": [[-1, -2, -2], [1, -1, -1]], "y": [[3, 1, -1], [3, 1, -3]],
              "layers": [{"W": [[-1, -2], [-3, -1]], "b": [[-1], [-1]], "activation": "relu"}],
              "loss": "half_sse", "learning_rate": "1/10"}


def test_batch_gradient_by_hand() -> None:
    s = setup_of(RELU_BATCH, layer=1)
    k = E.get_type("batch-gradient").key(s)
    assert k["dC_dW"] == exact([[-4, -2], [R(-26, 3), R(-16, 3)]])
    assert k["dC_db"] == exact([[2], [4]])
    (summed,) = predicted("batch-gradient", s, "batch-sum-not-mean")
    assert close(summed["dC_dW"], [[-12, -6], [-26, -16]]) and close(summed["dC_db"], [[6], [12]])
    (dropped,) = predicted("batch-gradient", s, "missing-activation-derivative")
    # The dead unit's error −3/3 now counts: δ₁ = (1/3)[−3 2 4].
    assert close(dropped["dC_db"], [[1], [4]])
    assert close(dropped["dC_dW"], [[-3, -3], [-26 / 3, -16 / 3]])


# z = [4 − 1 + 2 − 2; −4 − 3 + 2 + 1; 4 + 1 + 2 − 2] = [3; −4; 5], a = [3; 0; 5], y = [1; 2; −2],
# δ = (a − y)⊙relu'(z) = [2; 0; 7], g = δ·xᵀ = [4 −2 −4; 0 0 0; 14 −7 −14], η = 1/5:
# W_new = [6/5 7/5 −1/5; −2 3 −1; −4/5 2/5 9/5].
RELU_3X3 = {"x": [[2], [-1], [-2]], "y": [[1], [2], [-2]],
            "layers": [{"W": [[2, 1, -1], [-2, 3, -1], [2, -1, -1]], "b": [[-2], [1], [-2]],
                        "activation": "relu"}],
            "loss": "half_sse", "learning_rate": "1/5"}


def test_weight_update_by_hand() -> None:
    s = setup_of(RELU_3X3, layer=1, row=1, column=2)
    k = E.get_type("weight-update").key(s)
    assert k["W_new"] == exact([[R(6, 5), R(7, 5), R(-1, 5)], [-2, 3, -1],
                                [R(-4, 5), R(2, 5), R(9, 5)]])
    assert k["w_entry"] == R(7, 5)

    def entry(tag: str) -> list[float]:
        return [float(p["w_entry"]) for p in predicted("weight-update", s, tag)]

    assert entry("gradient-ascent") == pytest.approx([1 - 0.4])  # w + η·g
    assert entry("missing-learning-rate") == pytest.approx([1 + 2])  # w − g
    assert entry("factor-of-two") == pytest.approx([1 + 0.8, 1 + 0.2])
    assert entry("index-swap") == pytest.approx([-2, -1])  # entry (2, 1); 0-based: (2, 3)
    assert entry("transposed-gradient") == pytest.approx([1])  # g₂₁ = 0


def test_weight_update_reads_the_named_entry_from_the_students_own_matrix() -> None:
    t = E.get_type("weight-update")
    s = setup_of(RELU_3X3, layer=1, row=1, column=2)
    mine = np.arange(9.0).reshape(3, 3)
    assert t.follow_on(s, "w_entry", {"W_new": mine}) == 1.0
    assert t.follow_on(s, "w_entry", {"W_new": np.ones((1, 1))}) is None
    assert t.follow_on(s, "W_new", {"W_new": mine}) is None


# z = 2·1 − 1·2 + 0 = 0, a = σ(0) = 1/2, σ'(0) = 1/4, y = 4/5, weight w₂ (x₂ = 2):
# dC/da = 1/2 − 4/5 = −3/10, dz/dw₂ = 2, dC/dw₂ = −3/10 · 1/4 · 2 = −3/20.
SIGMOID_NEURON = {"x": [[1], [2]], "y": [["4/5"]],
                  "layers": [{"W": [[2, -1]], "b": [[0]], "activation": "sigmoid"}],
                  "loss": "half_sse", "learning_rate": "1/10"}


def test_chain_rule_by_hand() -> None:
    s = setup_of(SIGMOID_NEURON, input=2)
    k = E.get_type("chain-rule").key(s)
    assert k == {"dC_da": R(-3, 10), "da_dz": R(1, 4), "dz_dw": 2, "dC_dw": R(-3, 20)}

    def only(tag: str) -> dict[str, float]:
        (p,) = predicted("chain-rule", s, tag)
        return {name: float(v) for name, v in p.items() if v is not None}

    assert only("missing-activation-derivative") == pytest.approx(
        {"dC_da": -0.3, "da_dz": 1, "dz_dw": 2, "dC_dw": -0.6})
    assert only("raw-error-as-loss") == pytest.approx(
        {"dC_da": 1, "da_dz": 0.25, "dz_dw": 2, "dC_dw": 0.5})
    # The prediction taken as z = 0: dC/da = 0 − 4/5, and da/dz is not asked of it.
    assert only("activation-skipped") == pytest.approx({"dC_da": -0.8, "dz_dw": 2, "dC_dw": -1.6})
    # dz/dw taken as the neuron's own output a = 1/2; the other form (an earlier layer's
    # input) has no layer to take it from.
    own_output, earlier = predicted("chain-rule", s, "wrong-layer-input")
    assert float(own_output["dz_dw"]) == 0.5
    assert float(own_output["dC_dw"]) == pytest.approx(-3 / 80)
    assert earlier["dz_dw"] is None and earlier["dC_dw"] is None


def test_chain_rule_by_finite_differences() -> None:
    """A tanh neuron: dC/dw against central differences of the cost itself."""
    net = {"x": [["-1.1"], ["0.6"]], "y": [["-0.45"]],
           "layers": [{"W": [["0.7", "-1.2"]], "b": [["0.35"]], "activation": "tanh"}],
           "loss": "mse", "learning_rate": "1/10"}
    k = E.get_type("chain-rule").key(setup_of(net, input=1))

    def cost(w1: float) -> float:
        return (np.tanh(w1 * -1.1 - 1.2 * 0.6 + 0.35) + 0.45) ** 2

    h = 1e-6
    assert float(k["dC_dw"]) == pytest.approx((cost(0.7 + h) - cost(0.7 - h)) / (2 * h), rel=1e-7)
    assert float(k["dC_da"] * k["da_dz"] * k["dz_dw"]) == pytest.approx(float(k["dC_dw"]))


# Identical rows and biases: z = 1·2 + 2·(−1) + 0 = 0 for both classes, so a = [1/2; 1/2];
# y = [0; 1]: δ = [1/2; −1/2], dC/dW = δ·xᵀ = [1 −1/2; −1 1/2].
EQUAL_SOFTMAX = {"x": [[2], [-1]], "y": [[0], [1]],
                 "layers": [{"W": [[1, 2], [1, 2]], "b": [[0], [0]], "activation": "softmax"}],
                 "loss": "cross_entropy", "learning_rate": "1/10"}
# Three classes with z = 1 − 2 + 6 − 5 = 0 each: a = 1/3, y = e₃, δ = [1/3; 1/3; −2/3].
EQUAL_SOFTMAX_3 = {"x": [[1], [2], [3]], "y": [[0], [0], [1]],
                   "layers": [{"W": [[1, -1, 2]] * 3, "b": [[-5]] * 3, "activation": "softmax"}],
                   "loss": "cross_entropy", "learning_rate": "1/10"}


def test_softmax_cross_entropy_by_hand() -> None:
    t = E.get_type("softmax-cross-entropy")
    k = t.key(setup_of(EQUAL_SOFTMAX))
    assert k["a"] == exact([[R(1, 2)], [R(1, 2)]])
    assert k["delta"] == exact([[R(1, 2)], [R(-1, 2)]])
    assert k["dC_dW"] == exact([[1, R(-1, 2)], [-1, R(1, 2)]])
    s3 = setup_of(EQUAL_SOFTMAX_3)
    k3 = t.key(s3)
    assert k3["a"] == exact([[R(1, 3)]] * 3)
    assert k3["dC_dW"] == exact([[R(1, 3), R(2, 3), 1], [R(1, 3), R(2, 3), 1],
                                 [R(-2, 3), R(-4, 3), -2]])
    # The extra a(1 − a) = 2/9 on δ.
    (extra,) = predicted("softmax-cross-entropy", s3, "softmax-extra-derivative")
    assert close(extra["delta"], [[2 / 27], [2 / 27], [-4 / 27]])
    dot, hadamard, _ = predicted("softmax-cross-entropy", s3, "dot-instead-of-outer")
    assert close(dot["dC_dW"], [[1 / 3 + 2 / 3 - 2]]) and close(hadamard["dC_dW"],
                                                                [[1 / 3], [2 / 3], [-2]])


def test_softmax_follow_on_uses_the_students_own_a_and_delta() -> None:
    t = E.get_type("softmax-cross-entropy")
    s = setup_of(EQUAL_SOFTMAX)
    assert close(t.follow_on(s, "delta", {"a": np.array([[0.3], [0.7]])}), [[0.3], [-0.3]])
    assert t.follow_on(s, "delta", {"a": np.array([[0.3, 0.7]])}) is None
    assert close(t.follow_on(s, "dC_dW", {"delta": np.array([[1.0], [2.0]])}), [[2, -1], [4, -2]])
    assert t.follow_on(s, "dC_dW", {"delta": np.ones((1, 3))}) is None
    assert t.follow_on(s, "a", {"a": np.ones((2, 1))}) is None


def test_can_show_lists_known_tags_and_both_sign_flip_and_gradient_ascent() -> None:
    for type_id in TYPES:
        for d in E.DIFFICULTIES:
            tags = E.get_type(type_id).can_show(d)
            assert set(tags) <= set(MISTAKES) and len(set(tags)) == len(tags)
            assert "arithmetic-slip" not in tags and "rounding" not in tags
    # Both give W + η·g there: the two are named together, as alternatives.
    assert {"sign-flip", "gradient-ascent"} <= set(E.get_type("weight-update").can_show(3))
    assert "batch-sum-not-mean" in E.get_type("bias-gradient").can_show(3)
    assert "batch-sum-not-mean" not in E.get_type("bias-gradient").can_show(2)
    assert "factor-of-two" in E.get_type("batch-gradient").can_show(1)


# --- sweeps over seeds ---------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("type_id,difficulty", CASES)
def test_key_matches_torch_and_scores_full(type_id: str, difficulty: int) -> None:
    for v in variants(type_id, difficulty):
        assert_key_near(v, torch_key(v))


@pytest.mark.slow
@pytest.mark.parametrize("type_id,difficulty", CASES)
def test_each_offered_mistake_is_named(type_id: str, difficulty: int) -> None:
    for v, part, tag, value in offered_singles(type_id, difficulty):
        expect_tag(v, part, tag, value)


@pytest.mark.slow
@pytest.mark.parametrize("type_id", TYPES)
def test_difficulty_one_keys_are_exact_rationals(type_id: str) -> None:
    for v in variants(type_id, 1):
        for p in v.parts:
            rows = v.key[p.name] if p.kind == "matrix" else [[v.key[p.name]]]
            for value in (value for row in rows for value in row):
                assert isinstance(value, int) or (
                    isinstance(value, str) and Fraction(value).denominator <= 1000), (
                    v.seed, p.name, value)
        if type_id == "chain-rule":  # a leaky ReLU below zero: σ'(z) is its slope, not 1
            assert v.key["da_dz"] == kit.network(v)["layers"][0]["alpha"] != 1


@pytest.mark.slow
@pytest.mark.parametrize("difficulty", E.DIFFICULTIES)
def test_gradient_mistakes_built_here(difficulty: int) -> None:
    """bias-gradient and batch-gradient: wrong answers computed here from autograd's δ."""
    for v in variants("bias-gradient", difficulty):
        ref, k = torch_layer(v)
        delta, x, db = ref["delta"][k], ref["x"] if k == 0 else ref["a"][k - 1], ref["dC_db"][k]
        expect_tag(v, "dC_db", "sign-flip", -db)
        expect_tag(v, "dC_db", "factor-of-two", 2 * db)
        expect_tag(v, "dC_db", "factor-of-two", db / 2)
        expect_tag(v, "dC_db", "bias-times-input", delta @ x.T)
        expect_tag(v, "dC_db", "bias-times-input", (delta * x).sum(axis=1, keepdims=True))
        if difficulty == 3:
            expect_tag(v, "dC_db", "batch-sum-not-mean", len(kit.network(v)["x"][0]) * db)
    for v in variants("batch-gradient", difficulty):
        ref, k = torch_layer(v)
        dW, db = ref["dC_dW"][k], ref["dC_db"][k]
        m = len(kit.network(v)["x"][0])
        expect_tag(v, "dC_dW", "batch-sum-not-mean", m * dW)
        expect_tag(v, "dC_db", "batch-sum-not-mean", m * db)
        expect_tag(v, "dC_dW", "transposed-gradient", dW.T)
        expect_tag(v, "dC_dW", "sign-flip", -dW)
        expect_tag(v, "dC_db", "bias-times-input", dW)  # dC/db = δ·xᵀ, built like dC/dW


@pytest.mark.slow
@pytest.mark.parametrize("difficulty", E.DIFFICULTIES)
def test_weight_update_mistakes_built_here(difficulty: int) -> None:
    for v in variants("weight-update", difficulty):
        ref, k = torch_layer(v)
        W, g, lr = ref["W"][k], ref["dC_dW"][k], ref["lr"]
        i, j = v.params["row"] - 1, v.params["column"] - 1
        W_new = key(v, "W_new")
        assert close(W_new, W - lr * g)
        for tag, wrong in (("gradient-ascent", W + lr * g), ("missing-learning-rate", W - g),
                           ("transposed-gradient", W - lr * g.T),
                           ("factor-of-two", W - 2 * lr * g), ("factor-of-two", W - lr * g / 2)):
            expect_tag(v, "W_new", tag, wrong)
            # The entry of the wrong matrix: carried forward from the student's own W_new.
            result = submit(v, W_new=wrong, w_entry=wrong[i, j]).parts["w_entry"]
            assert result.score == 1.0, (v.seed, tag)
            if differs(wrong[i, j], W_new[i, j]):  # (a mistake may leave this entry in place)
                assert result.carried_forward, (v.seed, tag)
                expect_tag(v, "w_entry", tag, wrong[i, j])
        for swapped in (W_new[j, i], W_new[i + 1, j + 1]):  # (j, i); (i, j) read 0-based
            if differs(swapped, W_new[i, j]):
                expect_tag(v, "w_entry", "index-swap", swapped)


@pytest.mark.slow
@pytest.mark.parametrize("difficulty", E.DIFFICULTIES)
def test_chain_rule_mistakes_built_here(difficulty: int) -> None:
    for v in variants("chain-rule", difficulty):
        ref = torch_pass(kit.network(v))
        dC_da, a = key(v, "dC_da"), float(ref["a"][0][0, 0])
        expect_tag(v, "dC_da", "sign-flip", -dC_da)
        expect_tag(v, "dC_da", "factor-of-two", 2 * dC_da)
        expect_tag(v, "dC_da", "raw-error-as-loss", 1.0)
        expect_tag(v, "da_dz", "missing-activation-derivative", 1.0)
        expect_tag(v, "dz_dw", "wrong-layer-input", a)
        expect_tag(v, "dC_dw", "sign-flip", -key(v, "dC_dw"))
        expect_tag(v, "dC_dw", "missing-activation-derivative", dC_da * key(v, "dz_dw"))


@pytest.mark.slow
@pytest.mark.parametrize("difficulty", E.DIFFICULTIES)
def test_softmax_mistakes_built_here(difficulty: int) -> None:
    for v in variants("softmax-cross-entropy", difficulty):
        a, delta, dW = key(v, "a"), key(v, "delta"), key(v, "dC_dW")
        expect_tag(v, "delta", "sign-flip", -delta)
        expect_tag(v, "delta", "softmax-extra-derivative", delta * a * (1 - a))
        expect_tag(v, "dC_dW", "transposed-gradient", dW.T)
        if difficulty == 3:
            expect_tag(v, "delta", "batch-sum-not-mean", 3 * delta)
        else:
            x = np.array([[float(Fraction(str(c))) for c in row] for row in kit.network(v)["x"]])
            expect_tag(v, "dC_dW", "dot-instead-of-outer", x.T @ delta)


@pytest.mark.slow
@pytest.mark.parametrize("difficulty", E.DIFFICULTIES)
def test_carried_forward_credit(difficulty: int) -> None:
    for v in variants("chain-rule", difficulty):
        # A named mistake (the sign of dC/da flipped) is work: the product carries forward.
        wrong = -key(v, "dC_da")
        result = submit(v, dC_da=wrong,
                        dC_dw=wrong * key(v, "da_dz") * key(v, "dz_dw")).parts
        assert "sign-flip" in result["dC_da"].misconceptions  # with any it coincides with
        assert result["dC_dw"].score == 1.0 and result["dC_dw"].carried_forward, v.seed
        # A wrong number nothing explains is no work to build on (SCORING_RULE).
        wrong = key(v, "dC_da") + 0.37
        result = submit(v, dC_da=wrong,
                        dC_dw=wrong * key(v, "da_dz") * key(v, "dz_dw")).parts
        assert result["dC_da"].score < 1.0
        if result["dC_da"].score == 0.0 and not result["dC_da"].misconceptions:
            assert not result["dC_dw"].carried_forward, v.seed
    for v in variants("softmax-cross-entropy", difficulty):
        y = np.array([[float(Fraction(str(c))) for c in row] for row in kit.network(v)["y"]])
        x = np.array([[float(Fraction(str(c))) for c in row] for row in kit.network(v)["x"]])
        a = key(v, "a").copy()
        a[0, 0] += 0.03  # one entry slipped: partly right, work to build on
        delta = (a - y) / y.shape[1]
        result = submit(v, a=a, delta=delta, dC_dW=delta @ x.T).parts
        assert result["a"].score < 1.0
        assert result["delta"].carried_forward and result["delta"].score == 1.0, v.seed
        assert result["dC_dW"].carried_forward and result["dC_dW"].score == 1.0, v.seed
    for v in variants("weight-update", difficulty):
        i, j = v.params["row"] - 1, v.params["column"] - 1
        W_new = key(v, "W_new").copy()
        W_new[i, j] += 0.37  # the asked entry slipped in W_new, and read from there
        result = submit(v, W_new=W_new, w_entry=W_new[i, j]).parts
        assert result["W_new"].score < 1.0
        assert result["w_entry"].carried_forward and result["w_entry"].score == 1.0, v.seed
        # Every entry off and nothing to explain it: no work, so no entry is carried from it.
        W_new = key(v, "W_new") + 0.5
        result = submit(v, W_new=W_new, w_entry=W_new[i, j]).parts
        if result["W_new"].score == 0.0 and not result["W_new"].misconceptions:
            assert not result["w_entry"].carried_forward and result["w_entry"].score < 1.0


@pytest.mark.slow
@pytest.mark.parametrize("type_id,difficulty", CASES)
def test_same_seed_same_variant(type_id: str, difficulty: int) -> None:
    for seed in SEEDS:
        assert E.generate(type_id, seed, difficulty).to_record() == variant(
            type_id, seed, difficulty).to_record(), seed


@pytest.mark.parametrize("type_id,difficulty", CASES)
def test_unreadable_answer_is_a_format_error(type_id: str, difficulty: int) -> None:
    v = variant(type_id, 0, difficulty)
    for p in v.parts:
        raw = {q.name: v.key[q.name] for q in v.parts}
        raw[p.name] = "1/"
        with pytest.raises(E.AnswerFormatError) as exc:
            E.parse_answers(v, raw)
        assert set(exc.value.parts) == {p.name}


@pytest.mark.parametrize("type_id,difficulty", CASES)
def test_story_answers_every_part_with_this_variants_numbers(type_id: str, difficulty: int) -> None:
    for seed in range(5):
        v = variant(type_id, seed, difficulty)
        steps = E.worked_solution(v).steps
        answered = {part for s in steps for part in s.parts}
        assert answered == {p.name for p in v.parts}
        assert all(s.title and s.text and s.latex for s in steps)
        assert "$" in v.prompt


def test_weight_update_names_an_entry_whose_swap_and_zero_based_reading_differ() -> None:
    for seed in range(50):
        v = variant("weight-update", seed, 1)
        i, j = v.params["row"], v.params["column"]
        assert (i, j) in ((1, 2), (2, 1))
        assert f"row {i}, column {j}" in v.prompt
        W = np.array(kit.network(v)["layers"][v.params["layer"] - 1]["W"], dtype=object)
        assert W.shape == (3, 3) and W[i - 1, j - 1] != W[j - 1, i - 1]


def test_index_swap_slips_read_other_entries() -> None:
    t = E.get_type("weight-update")
    s = setup_of(RELU_3X3, layer=1, row=1, column=2)
    W_new = t.predict(s, frozenset())["W_new"]
    assert t.predict(s, frozenset({Slip.INDEX_SWAP}))["w_entry"] == W_new[1, 0]
    # (1, 2) read as 0-based indices is W_new[1][2]: row 2, column 3.
    assert t.predict(s, frozenset({Slip.ZERO_BASED_INDEX}))["w_entry"] == W_new[1, 2]
