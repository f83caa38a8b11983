"""forward-pass, loss, output-error, activation-derivative and delta (exercises/types/basics.py).

Oracles: networks worked by hand (exact fractions), PyTorch autograd for every key of the
sweeps, and mistake answers built here with NumPy from the problem's own network.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
import sympy  # type: ignore[import-untyped, unused-ignore]  # sympy ships no type hints
import torch

import exercises as E
from exercises.mistakes import MISTAKES
from exercises.network import parse_network
from exercises.registry import Setup
from tests.types import kit
from tests.types.kit import SEEDS, assert_key_near, offered_singles, submit, variant, variants

TYPES = ("forward-pass", "loss", "output-error", "activation-derivative", "delta")
CASES = [(t, d) for t in TYPES for d in E.DIFFICULTIES]
R = sympy.Rational


def key_setup(network: dict[str, Any]) -> Setup:
    return Setup(parse_network(network))


def predicted(type_id: str, setup: Setup, tag: str) -> list[dict[str, Any]]:
    """What each slip set of ``tag`` gives on ``setup``."""
    t = E.get_type(type_id)
    return [t.predict(setup, slips) for slips in MISTAKES[tag].variants]


def exact(rows: list[list[Any]]) -> sympy.Matrix:
    return sympy.Matrix([[sympy.nsimplify(v) for v in row] for row in rows])


# --- networks worked by hand --------------------------------------------------------------

# z = [1·2 − 2·1 − 1; 3·2 + 1·1 + 1] = [−1; 8], a = relu(z) = [0; 8], y = [1; 2].
RELU_NET = {"x": [[2], [1]], "y": [[1], [2]],
            "layers": [{"W": [[1, -2], [3, 1]], "b": [[-1], [1]], "activation": "relu"}],
            "loss": "half_sse", "learning_rate": "1/10"}
# z = [2 + 2 + 0; 1 − 2 − 1] = [4; −2], a = [4; −1/5] (α = 1/10), y = [3; 0], mse over n = 2.
LEAKY_NET = {"x": [[1], [-2]], "y": [[3], [0]],
             "layers": [{"W": [[2, -1], [1, 1]], "b": [[0], [-1]], "activation": "leaky_relu",
                         "alpha": "1/10"}],
             "loss": "mse", "learning_rate": "1/10"}
# z = 0 everywhere, so a = σ(0) = 1/2 and σ'(0) = 1/4 exactly; a batch of 3.
SIGMOID_NET = {"x": [[1, 2, 3], [1, 2, 3]], "y": [[1, 0, 1], [0, 0, 1]],
               "layers": [{"W": [[1, -1], [2, -2]], "b": [[0], [0]], "activation": "sigmoid"}],
               "loss": "half_sse", "learning_rate": "1/10"}


def test_forward_pass_by_hand() -> None:
    t = E.get_type("forward-pass")
    relu, leaky = key_setup(RELU_NET), key_setup(LEAKY_NET)
    assert t.key(relu) == {"z": exact([[-1], [8]]), "a": exact([[0], [8]])}
    assert t.key(leaky) == {"z": exact([[4], [-2]]), "a": exact([[4], [R(-1, 5)]])}
    # Index swap: Wᵀx + b = [1·2 + 3·1 − 1; −2·2 + 1·1 + 1] = [4; −2], then relu.
    swapped = [p for p in predicted("forward-pass", relu, "index-swap") if p["z"] is not None]
    assert any(np.allclose(p["z"], [[4], [-2]]) and np.allclose(p["a"], [[4], [0]])
               for p in swapped)
    (skipped,) = predicted("forward-pass", relu, "activation-skipped")
    assert np.allclose(skipped["a"], [[-1], [8]])


def test_loss_by_hand() -> None:
    t = E.get_type("loss")
    # ½((0 − 1)² + (8 − 2)²) = 37/2
    assert t.key(key_setup(RELU_NET)) == {"C": R(37, 2)}
    # mse: ((4 − 3)² + (−1/5)²)/2 = 13/25
    assert t.key(key_setup(LEAKY_NET)) == {"C": R(13, 25)}
    # six errors of ±1/2: (1/3)·½·6·(1/4) = 1/4
    sig = key_setup(SIGMOID_NET)
    assert t.key(sig) == {"C": R(1, 4)}
    (summed,) = predicted("loss", sig, "batch-sum-not-mean")
    assert summed["C"] == pytest.approx(3 / 4)
    (raw,) = predicted("loss", key_setup(RELU_NET), "raw-error-as-loss")
    assert raw["C"] == pytest.approx(5)  # (0 − 1) + (8 − 2)
    assert sorted(p["C"] for p in predicted("loss", key_setup(RELU_NET), "factor-of-two")) == \
        pytest.approx([37 / 4, 37])


def test_output_error_by_hand() -> None:
    t = E.get_type("output-error")
    relu = key_setup(RELU_NET)
    assert t.key(relu) == {"dC_da": exact([[-1], [6]])}
    assert t.key(key_setup(LEAKY_NET)) == {"dC_da": exact([[1], [R(-1, 5)]])}  # 2/n·(a − y)
    assert t.key(key_setup(SIGMOID_NET)) == {
        "dC_da": exact([[R(-1, 6), R(1, 6), R(-1, 6)], [R(1, 6), R(1, 6), R(-1, 6)]])}
    (skipped,) = predicted("output-error", relu, "activation-skipped")
    assert np.allclose(skipped["dC_da"], [[-2], [6]])  # z − y
    (raw,) = predicted("output-error", relu, "raw-error-as-loss")
    assert np.allclose(raw["dC_da"], [[1], [1]])


def test_activation_derivative_by_hand() -> None:
    t = E.get_type("activation-derivative")
    assert t.key(key_setup(RELU_NET)) == {"da_dz": exact([[0], [1]])}
    assert t.key(key_setup(LEAKY_NET)) == {"da_dz": exact([[1], [R(1, 10)]])}
    sig = key_setup(SIGMOID_NET)
    assert t.key(sig) == {"da_dz": sympy.Matrix(2, 3, [R(1, 4)] * 6)}
    wrong = [p["da_dz"][0, 0] for p in predicted("activation-derivative", sig,
                                                 "wrong-activation-derivative")]
    s = 1 / (1 + np.exp(-0.5))
    # z(1 − z) at 0, σ(0), and σ'(σ(0)) = σ(½)(1 − σ(½))
    assert wrong == pytest.approx([0, 0.5, s * (1 - s)])


def test_delta_by_hand() -> None:
    t = E.get_type("delta")
    relu = key_setup(RELU_NET)
    assert t.key(relu) == {"delta": exact([[0], [6]])}
    assert t.key(key_setup(LEAKY_NET)) == {"delta": exact([[1], [R(-1, 50)]])}
    sig = key_setup(SIGMOID_NET)
    assert t.key(sig) == {
        "delta": exact([[R(-1, 24), R(1, 24), R(-1, 24)], [R(1, 24), R(1, 24), R(-1, 24)]])}
    expect = {
        "missing-activation-derivative": [[-1], [6]],
        "dot-instead-of-hadamard": [[6]],  # (a − y)ᵀσ'(z) = −1·0 + 6·1
        "activation-skipped": [[-2], [6]],  # (z − y)·1
        "raw-error-as-loss": [[0], [1]],  # 1·σ'(z)
        "sign-flip": [[0], [-6]],
    }
    for tag, value in expect.items():
        p = predicted("delta", relu, tag)[0]  # dot-instead-of-hadamard: the 1×1 form first
        assert np.allclose(p["delta"], value), tag
    (summed,) = predicted("delta", sig, "batch-sum-not-mean")
    assert np.allclose(summed["delta"], [[-1 / 8, 1 / 8, -1 / 8], [1 / 8, 1 / 8, -1 / 8]])


# --- what the tests compute for themselves from a problem's network ----------------------


def arrays(v: E.Variant) -> dict[str, Any]:
    """x, y, W, b, z = Wx + b (float64) and the layer's activation, α and loss, read from the
    problem."""
    net = kit.network(v)

    def mat(rows: list[list[Any]]) -> np.ndarray:
        return np.array([[float(Fraction(str(e))) for e in row] for row in rows])

    (layer,) = net["layers"]
    x, W, b = mat(net["x"]), mat(layer["W"]), mat(layer["b"])
    return {"x": x, "y": mat(net["y"]), "W": W, "b": b, "z": W @ x + b,
            "act": layer["activation"], "alpha": float(Fraction(str(layer.get("alpha", "1/100")))),
            "loss": net["loss"]}


def problems(type_id: str, difficulty: int) -> Iterator[tuple[E.Variant, dict[str, Any]]]:
    """The sweep's variants of ``type_id``, each with its ``arrays``."""
    for v in variants(type_id, difficulty):
        yield v, arrays(v)


def act(name: str, z: np.ndarray, alpha: float) -> np.ndarray:
    return {"identity": lambda: z, "relu": lambda: np.maximum(z, 0),
            "leaky_relu": lambda: np.where(z > 0, z, alpha * z),
            "sigmoid": lambda: 1 / (1 + np.exp(-z)), "tanh": lambda: np.tanh(z)}[name]()


def act_derivative(name: str, z: np.ndarray, alpha: float) -> np.ndarray:
    s = act(name, z, alpha)
    return {"relu": lambda: (z > 0) * 1.0, "leaky_relu": lambda: np.where(z > 0, 1.0, alpha),
            "sigmoid": lambda: s * (1 - s), "tanh": lambda: 1 - s * s}[name]()


def loss_slope(n: dict[str, Any]) -> float:
    """dC/da = slope·(a − y) for the squared losses: 1/m for ½SSE, 2/(n·m) for mse."""
    rows, m = n["y"].shape
    return 1 / m if n["loss"] == "half_sse" else 2 / (rows * m)


def torch_reference(v: E.Variant) -> dict[str, np.ndarray]:
    """Every quantity of the one-layer net by torch.autograd."""
    n = arrays(v)
    t = {k: torch.tensor(n[k], dtype=torch.float64) for k in ("x", "y", "W", "b")}
    z = (t["W"] @ t["x"] + t["b"]).requires_grad_()
    f = {"identity": lambda u: u, "relu": torch.relu,
         "leaky_relu": lambda u: torch.nn.functional.leaky_relu(u, n["alpha"]),
         "sigmoid": torch.sigmoid, "tanh": torch.tanh}[n["act"]]
    a = f(z)
    rows, m = n["y"].shape
    sq = ((a - t["y"]) ** 2).sum()
    C = sq / (2 * m) if n["loss"] == "half_sse" else sq / (rows * m)
    (da_dz,) = torch.autograd.grad(a.sum(), z, retain_graph=True)  # elementwise: the diagonal
    dC_da, delta = torch.autograd.grad(C, (a, z))
    return {"z": z.detach().numpy(), "a": a.detach().numpy(), "C": C.item(),
            "dC_da": dC_da.numpy(), "da_dz": da_dz.numpy(), "delta": delta.numpy()}


def rounded_keys(key: Any) -> list[np.ndarray]:
    """The key written to 2 and to 3 significant figures."""
    k = np.asarray(key, dtype=np.float64)
    return [np.array([float(f"{e:.{d}g}") for e in k.ravel()]).reshape(k.shape) for d in (2, 3)]


def expect_tag(v: E.Variant, tag: str, **answers: Any) -> None:
    """The mistake answer is named by its tag (or, where it happens to agree with the key
    within tolerance on this variant, simply right)."""
    (part,) = answers
    value, key, p = answers[part], v.key_values[part], v.part(part)
    same_shape = np.shape(value) == np.shape(key)
    if same_shape and np.all(np.abs(value - key) <= p.atol + p.rtol * np.abs(key)):
        assert submit(v, **answers).parts[part].score == 1.0
        return
    if same_shape and any(np.all(np.abs(value - r) <= p.atol + p.rtol * np.abs(r))
                          for r in rounded_keys(key)):
        return  # reads as the key written to 2 or 3 figures: no mistake can be told by it
    result = submit(v, **answers).parts[part]
    assert tag in result.misconceptions, (v.seed, part, tag, result)


# --- sweeps over seeds ---------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("type_id,difficulty", CASES)
def test_key_matches_torch_and_scores_full(type_id: str, difficulty: int) -> None:
    for v in variants(type_id, difficulty):
        assert_key_near(v, torch_reference(v))


@pytest.mark.slow
@pytest.mark.parametrize("type_id,difficulty", CASES)
def test_each_offered_mistake_is_named(type_id: str, difficulty: int) -> None:
    for v, part, tag, value in offered_singles(type_id, difficulty):
        expect_tag(v, tag, **{part: value})


@pytest.mark.slow
@pytest.mark.parametrize("difficulty", E.DIFFICULTIES)
def test_forward_pass_mistakes_built_here(difficulty: int) -> None:
    for v, n in problems("forward-pass", difficulty):
        z = n["z"]
        expect_tag(v, "activation-skipped", a=z)
        # The index swap z_i = Σ_j w_ji x_j, then a computed right from it: the error is named
        # on z, and a earns its credit carried forward.
        z_swap = n["W"].T @ n["x"] + n["b"]
        g = submit(v, z=z_swap, a=act(n["act"], z_swap, n["alpha"]))
        assert "index-swap" in g.parts["z"].misconceptions
        if np.ptp(z_swap) == 0:
            # The swap happens to give all one number: by the rule it scores 0 (no credit for
            # entries a constant happens to hit) and carries nothing forward, though named.
            assert g.parts["z"].score == 0.0 and not g.parts["a"].carried_forward
            continue
        assert g.parts["a"].score == 1.0 and g.parts["a"].carried_forward


@pytest.mark.slow
@pytest.mark.parametrize("difficulty", E.DIFFICULTIES)
def test_forward_pass_carries_a_forward_from_a_wrong_z(difficulty: int) -> None:
    for v, n in problems("forward-pass", difficulty):
        z_wrong = n["z"].copy()
        # One entry off, by an amount off the problems' grids (so the answer can be neither
        # all one number nor a copy of the problem's numbers): partly right, work that
        # carries forward.
        z_wrong[0, 0] += 1.37
        g = submit(v, z=z_wrong, a=act(n["act"], z_wrong, n["alpha"]))
        k = z_wrong.size
        assert g.parts["z"].score == pytest.approx((k - 1) / k)
        # a is right from the slipped z (or right outright, where ReLU hides the slip)
        assert g.parts["a"].score == 1.0
        assert g.parts["a"].carried_forward or g.parts["a"].feedback == "Correct."
        assert g.score == pytest.approx((2 * k - 1) / (2 * k))
        # The activation skipped on top of the wrong z is not carried forward (unless σ(z) = z
        # there anyway, as ReLU on positive entries).
        if not np.allclose(act(n["act"], z_wrong, n["alpha"]), z_wrong, rtol=5e-3, atol=1e-4):
            assert submit(v, z=z_wrong, a=z_wrong).parts["a"].score < 1.0
        # Every entry off by one and no mistake to explain it: nothing carries forward.
        z_off = n["z"] + 1
        g = submit(v, z=z_off, a=act(n["act"], z_off, n["alpha"]))
        if not g.parts["z"].misconceptions:
            assert not g.parts["a"].carried_forward


@pytest.mark.slow
@pytest.mark.parametrize("difficulty", E.DIFFICULTIES)
def test_loss_mistakes_built_here(difficulty: int) -> None:
    for v, n in problems("loss", difficulty):
        a = act(n["act"], n["z"], n["alpha"])
        C, m = v.key_values["C"], n["y"].shape[1]
        expect_tag(v, "raw-error-as-loss", C=(a - n["y"]).sum() / m)
        expect_tag(v, "factor-of-two", C=2 * C)
        expect_tag(v, "factor-of-two", C=C / 2)
        if difficulty == 3:
            expect_tag(v, "batch-sum-not-mean", C=m * C)


@pytest.mark.slow
@pytest.mark.parametrize("difficulty", E.DIFFICULTIES)
def test_output_error_mistakes_built_here(difficulty: int) -> None:
    for v, n in problems("output-error", difficulty):
        z = n["z"]
        g, m = v.key_values["dC_da"], n["y"].shape[1]
        expect_tag(v, "sign-flip", dC_da=-g)
        expect_tag(v, "factor-of-two", dC_da=2 * g)
        expect_tag(v, "factor-of-two", dC_da=g / 2)
        expect_tag(v, "raw-error-as-loss", dC_da=np.full_like(g, 1 / m))
        expect_tag(v, "activation-skipped", dC_da=loss_slope(n) * (z - n["y"]))
        if difficulty == 3:
            expect_tag(v, "batch-sum-not-mean", dC_da=m * g)


def wrong_derivatives(name: str, z: np.ndarray) -> list[np.ndarray]:
    """σ'(z) as z(1 − z) (tanh: 1 − z²), as σ(z), and as σ'(a)."""
    a = act(name, z, 0)
    on_z = z * (1 - z) if name == "sigmoid" else 1 - z * z
    return [on_z, a, act_derivative(name, a, 0)]


@pytest.mark.slow
@pytest.mark.parametrize("difficulty", (2, 3))
def test_activation_derivative_mistakes_built_here(difficulty: int) -> None:
    for v, n in problems("activation-derivative", difficulty):
        for wrong in wrong_derivatives(n["act"], n["z"]):
            expect_tag(v, "wrong-activation-derivative", da_dz=wrong)


@pytest.mark.slow
@pytest.mark.parametrize("difficulty", E.DIFFICULTIES)
def test_delta_mistakes_built_here(difficulty: int) -> None:
    for v, n in problems("delta", difficulty):
        z = n["z"]
        a = act(n["act"], z, n["alpha"])
        dC_da = loss_slope(n) * (a - n["y"])
        d, m = v.key_values["delta"], n["y"].shape[1]
        expect_tag(v, "sign-flip", delta=-d)
        expect_tag(v, "factor-of-two", delta=2 * d)
        expect_tag(v, "factor-of-two", delta=d / 2)
        expect_tag(v, "missing-activation-derivative", delta=dC_da)
        expect_tag(v, "dot-instead-of-hadamard", delta=d.sum(axis=0, keepdims=True))
        expect_tag(v, "activation-skipped", delta=loss_slope(n) * (z - n["y"]))
        expect_tag(v, "raw-error-as-loss", delta=act_derivative(n["act"], z, n["alpha"]) / m)
        if difficulty >= 2:
            for wrong in wrong_derivatives(n["act"], z):
                expect_tag(v, "wrong-activation-derivative", delta=dC_da * wrong)
        if difficulty == 3:
            expect_tag(v, "batch-sum-not-mean", delta=m * d)


@pytest.mark.slow
@pytest.mark.parametrize("type_id,difficulty", CASES)
def test_same_seed_same_variant(type_id: str, difficulty: int) -> None:
    for s in SEEDS:
        assert E.generate(type_id, s, difficulty).to_record() == \
            variant(type_id, s, difficulty).to_record()


@pytest.mark.parametrize("type_id,difficulty", CASES)
def test_unreadable_answer_is_a_format_error(type_id: str, difficulty: int) -> None:
    for s in range(20):
        v = variant(type_id, s, difficulty)
        with pytest.raises(E.AnswerFormatError) as err:
            E.parse_answers(v, {p.name: "1/" for p in v.parts})
        assert set(err.value.parts) == {p.name for p in v.parts}


@pytest.mark.parametrize("type_id,difficulty", CASES)
def test_story_answers_every_part_with_its_own_numbers(type_id: str, difficulty: int) -> None:
    for s in range(10):
        v = variant(type_id, s, difficulty)
        steps = E.worked_solution(v).steps
        assert {p.name for p in v.parts} <= {name for st in steps for name in st.parts}
        assert all(st.latex for st in steps)
        assert "$" in v.prompt and "\\begin{bmatrix}" in v.prompt


def test_can_show_per_difficulty() -> None:
    shows = {t: [E.get_type(t).can_show(d) for d in E.DIFFICULTIES] for t in TYPES}
    # ReLU's slope written as its output max(0, z).
    assert "wrong-activation-derivative" in shows["activation-derivative"][0]
    assert "wrong-activation-derivative" in shows["activation-derivative"][1]
    assert all("bias-omitted" in level for level in shows["forward-pass"])
    assert "batch-sum-not-mean" in shows["loss"][2] and "batch-sum-not-mean" not in shows["loss"][1]
    assert "wrong-activation-derivative" in shows["delta"][1]
    assert "activation-skipped" in shows["output-error"][0]
    for tags in shows.values():
        for level in tags:
            assert set(level) <= set(MISTAKES) - {"arithmetic-slip", "rounding"}


def test_difficulty_one_keys_are_small_exact_rationals() -> None:
    for type_id in TYPES:
        for s in range(50):
            v = variant(type_id, s, 1)
            for p in v.parts:
                key = v.key[p.name]
                for entry in ([e for row in key for e in row] if p.kind == "matrix" else [key]):
                    assert isinstance(entry, (int, str)), (type_id, s, entry)
                    assert Fraction(str(entry)).denominator <= 100
