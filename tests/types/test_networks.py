"""hidden-gradient and backprop-story: hand-worked keys, where mistakes are named, carried-forward
credit, and sweeps over many seeds.

Oracles are independent of the engine: fractions worked by hand below, and a few lines of NumPy
(``Net``) that redo the forward pass and the textbook formulas from the problem's own network.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pytest
import sympy  # type: ignore[import-untyped, unused-ignore]  # sympy ships no type hints

from exercises import (
    MISTAKES,
    AnswerFormatError,
    Variant,
    generate,
    get_type,
    grade,
    parse_answers,
    worked_solution,
)
from exercises.engine import EXACT, Slip, derive
from exercises.network import parse_network
from exercises.numbers import parse_fraction
from exercises.problem import Prediction, to_grading_form, value_to_json
from exercises.registry import Setup
from tests.types.kit import network, rule_score

TYPES = ("hidden-gradient", "backprop-story")
SEEDS = range(200)

# --- hand-worked networks ----------------------------------------------------------------------

# x = [2; 1], ReLU hidden layer with one dead unit, leaky-ReLU output (α = 1/10) with one
# negative z, half squared error, η = 1/10. Worked by hand:
#   z1 = W1 x + b1 = [2 − 2 − 1; 4 + 1 − 1] = [−1; 4]        a1 = [0; 4]
#   z2 = W2 a1 + b2 = [−4; 4 − 1] = [−4; 3]                   a2 = [−2/5; 3]
#   C = ½((−7/5)² + 4²) = ½(49/25 + 400/25) = 449/50
#   δ2 = (a2 − y) ⊙ σ'(z2) = [−7/5; 4] ⊙ [1/10; 1] = [−7/50; 4]
#   ∂C/∂W2 = δ2 a1ᵀ = [[0, −14/25], [0, 16]]                  ∂C/∂b2 = δ2
#   W2ᵀ δ2 = [−7/50 + 8; 7/50 + 4] = [393/50; 207/50]         δ1 = ⊙ [0; 1] = [0; 207/50]
#   ∂C/∂W1 = δ1 xᵀ = [[0, 0], [207/25, 207/50]]               ∂C/∂b1 = δ1
#   W1_new = W1 − ∂C/∂W1 / 10 = [[1, −2], [293/250, 293/500]]
#   W2_new = W2 − ∂C/∂W2 / 10 = [[1, −118/125], [2, −3/5]]
HAND = {
    "x": [[2], [1]],
    "y": [[1], [-1]],
    "layers": [
        {"W": [[1, -2], [2, 1]], "b": [[-1], [-1]], "activation": "relu"},
        {"W": [[1, -1], [2, 1]], "b": [[0], [-1]], "activation": "leaky_relu", "alpha": "1/10"},
    ],
    "loss": "half_sse",
    "learning_rate": "1/10",
}
HAND_KEY = {
    "z1": [[-1], [4]],
    "a1": [[0], [4]],
    "z2": [[-4], [3]],
    "a2": [["-2/5"], [3]],
    "C": "449/50",
    "delta2": [["-7/50"], [4]],
    "dC_dW2": [[0, "-14/25"], [0, 16]],
    "dC_db2": [["-7/50"], [4]],
    "delta1": [[0], ["207/50"]],
    "dC_dW1": [[0, 0], ["207/25", "207/50"]],
    "dC_db1": [[0], ["207/50"]],
    "W1_new": [[1, -2], ["293/250", "293/500"]],
    "W2_new": [[1, "-118/125"], [2, "-3/5"]],
}

# Sigmoids at z = 0 throughout, so every value is rational: σ(0) = 1/2, σ'(0) = 1/4.
#   z1 = [0; 0], a1 = [1/2; 1/2]; z2 = [1/2 − 1/2; 1 − 1] = [0; 0], a2 = [1/2; 1/2]
#   C = ½(1/4 + 1/4) = 1/4; δ2 = [−1/2; 1/2]/4 = [−1/8; 1/8]
#   ∂C/∂W2 = δ2 a1ᵀ = [[−1/16, −1/16], [1/16, 1/16]]
#   W2ᵀδ2 = [−1/8 + 2/8; 1/8 − 2/8] = [1/8; −1/8], δ1 = [1/32; −1/32]
#   ∂C/∂W1 = δ1 xᵀ = [[1/32, 1/32], [−1/32, −1/32]]
#   W1_new = W1 − ∂C/∂W1 / 2 = [[63/64, −65/64], [−127/64, 129/64]]
#   W2_new = W2 − ∂C/∂W2 / 2 = [[33/32, −31/32], [63/32, −65/32]]
SIGMOID_AT_ZERO = {
    "x": [[1], [1]],
    "y": [[1], [0]],
    "layers": [
        {"W": [[1, -1], [-2, 2]], "b": [[0], [0]], "activation": "sigmoid"},
        {"W": [[1, -1], [2, -2]], "b": [[0], [0]], "activation": "sigmoid"},
    ],
    "loss": "half_sse",
    "learning_rate": "1/2",
}
SIGMOID_AT_ZERO_KEY = {
    "z1": [[0], [0]],
    "a1": [["1/2"], ["1/2"]],
    "z2": [[0], [0]],
    "a2": [["1/2"], ["1/2"]],
    "C": "1/4",
    "delta2": [["-1/8"], ["1/8"]],
    "dC_dW2": [["-1/16", "-1/16"], ["1/16", "1/16"]],
    "dC_db2": [["-1/8"], ["1/8"]],
    "delta1": [["1/32"], ["-1/32"]],
    "dC_dW1": [["1/32", "1/32"], ["-1/32", "-1/32"]],
    "dC_db1": [["1/32"], ["-1/32"]],
    "W1_new": [["63/64", "-65/64"], ["-127/64", "129/64"]],
    "W2_new": [["33/32", "-31/32"], ["63/32", "-65/32"]],
}


def exact(v: Any) -> Any:
    """A hand-written value (ints and "p/q" strings) as SymPy."""
    if isinstance(v, list):
        return sympy.Matrix([[exact(c) for c in row] for row in v])
    f = parse_fraction(v)
    return sympy.Rational(f.numerator, f.denominator)


def floats(v: Any) -> Any:
    if isinstance(v, list):
        return np.array([[float(parse_fraction(c)) for c in row] for row in v])
    return float(parse_fraction(v))


def hand_setup(net: dict) -> Setup:
    return Setup(parse_network(net))


@pytest.mark.parametrize(("net", "key"), [(HAND, HAND_KEY), (SIGMOID_AT_ZERO, SIGMOID_AT_ZERO_KEY)])
def test_story_key_is_the_hand_worked_step(net: dict, key: dict) -> None:
    t = get_type("backprop-story")
    got = t.key(hand_setup(net))
    for part, want in key.items():
        assert got[part] == exact(want), part


def test_hidden_gradient_key_is_the_hand_worked_backprop() -> None:
    got = get_type("hidden-gradient").key(hand_setup(HAND))
    assert got == {name: exact(HAND_KEY[name]) for name in ("delta2", "delta1", "dC_dW1")}


def test_sigmoid_at_zero_key_stays_exact_in_the_answers_format() -> None:
    """σ(0) = 1/2 is rational, so the fast reference backend keeps it as "1/2", not 0.5."""
    t = get_type("backprop-story")
    setup = hand_setup(SIGMOID_AT_ZERO)
    key = {p.name: value_to_json(p.kind, t.key(setup)[p.name]) for p in t.parts}
    assert key["a1"] == [["1/2"], ["1/2"]]
    assert key["W1_new"] == SIGMOID_AT_ZERO_KEY["W1_new"]


@pytest.mark.parametrize(("slips", "part", "want"), [
    # W2·δ2 = [−7/50 − 4; −14/50 + 4] = [−207/50; 186/50], then ⊙ [0; 1].
    ({Slip.UNTRANSPOSED_BACKPROP}, "delta1", [[0], ["93/25"]]),
    # W2_newᵀ δ2: second row (−118/125)(−7/50) + (−3/5)(4) = 413/3125 − 7500/3125.
    ({Slip.UPDATED_WEIGHTS_IN_BACKPROP}, "delta1", [[0], ["-7087/3125"]]),
    # δ2 = a2 − y, and δ1 = W2ᵀ(a2 − y) with no ReLU derivative either.
    ({Slip.NO_ACTIVATION_DERIVATIVE}, "delta2", [["-7/5"], [4]]),
    ({Slip.NO_ACTIVATION_DERIVATIVE}, "delta1", [["33/5"], ["27/5"]]),
    ({Slip.SIGN_FLIP}, "delta2", [["7/50"], [-4]]),
    ({Slip.DOUBLE_LOSS_GRADIENT}, "delta2", [["-7/25"], [8]]),
    ({Slip.TRANSPOSED_GRADIENT}, "dC_dW1", [[0, "207/25"], [0, "207/50"]]),
    ({Slip.OWN_OUTPUT_AS_INPUT}, "dC_dW1", [[0, 0], [0, "414/25"]]),
])
def test_hidden_gradient_predictions_match_hand_worked_mistakes(slips: set[Slip], part: str,
                                                                want: Any) -> None:
    got = get_type("hidden-gradient").predict(hand_setup(HAND), frozenset(slips))
    np.testing.assert_allclose(got[part], floats(want), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("slips", "named", "carried"), [
    # A sign slip at the output is named at δ2; everything after it is the right step
    # applied to the wrong δ2, so it is left to carried-forward credit.
    ({Slip.SIGN_FLIP}, {"delta2": [["7/50"], [-4]]},
     ("dC_dW2", "dC_db2", "delta1", "dC_dW1", "dC_db1", "W1_new", "W2_new")),
    # Gradient ascent is named at the update itself: W + η·g.
    ({Slip.GRADIENT_ASCENT}, {"W1_new": [[1, -2], ["707/250", "707/500"]],
                              "W2_new": [[1, "-132/125"], [2, "13/5"]]}, ()),
    ({Slip.NO_LEARNING_RATE}, {"W1_new": [[1, -2], ["-157/25", "-157/50"]],
                               "W2_new": [[1, "-11/25"], [2, -15]]}, ()),
    # Skipping the output activation: a2 = z2, and δ2 = (z2 − y)·1 is a second slip of the
    # same idea (σ' dropped), while C from a2 = z2 is carried forward.
    ({Slip.ACTIVATION_SKIPPED}, {"a2": [[-4], [3]], "delta2": [[-5], [4]]}, ("C",)),
    # The loss as a − y: C = −7/5 + 4, and dC/da = 1 so δ2 = σ'(z2).
    ({Slip.RAW_ERROR_AS_LOSS}, {"C": "13/5", "delta2": [["1/10"], [1]]}, ("dC_dW2", "delta1")),
    ({Slip.BIAS_LIKE_WEIGHT}, {"dC_db1": [[0, 0], ["207/25", "207/50"]],
                               "dC_db2": [[0, "-14/25"], [0, 16]]}, ()),
])
def test_story_names_a_mistake_where_it_is_made(slips: set[Slip], named: dict[str, Any],
                                                carried: tuple[str, ...]) -> None:
    t = get_type("backprop-story")
    setup = hand_setup(HAND)
    got = t.predict(setup, frozenset(slips))
    for part, want in named.items():
        np.testing.assert_allclose(got[part], floats(want), rtol=1e-12, atol=1e-12)
    for part in carried:
        assert got[part] is None, part
    untouched = set(HAND_KEY) - set(named) - set(carried)
    for part in untouched:
        assert got[part] is None or np.allclose(got[part], floats(HAND_KEY[part])), part


def test_hand_worked_student_with_a_sign_slip_loses_only_delta2() -> None:
    """A student who writes (y − a) and then does every later step right."""
    t = get_type("backprop-story")
    setup = hand_setup(HAND)
    variant = _variant(t, setup)
    answers = dict(HAND_KEY)
    # δ2 = [7/50; −4]; everything after it recomputed by hand from that δ2:
    answers.update({
        "delta2": [["7/50"], [-4]],
        "dC_dW2": [[0, "14/25"], [0, -16]],
        "dC_db2": [["7/50"], [-4]],
        "delta1": [[0], ["-207/50"]],                  # (W2ᵀ δ2) ⊙ [0; 1]
        "dC_dW1": [[0, 0], ["-207/25", "-207/50"]],
        "dC_db1": [[0], ["-207/50"]],
        "W1_new": [[1, -2], ["707/250", "707/500"]],   # also W + η·g: not gradient ascent here
        "W2_new": [[1, "-132/125"], [2, "13/5"]],
    })
    g = grade(variant, parse_answers(variant, answers))
    assert "sign-flip" in g.parts["delta2"].misconceptions
    for part in ("dC_dW2", "dC_db2", "delta1", "dC_dW1", "dC_db1", "W1_new", "W2_new"):
        assert g.parts[part].score == 1.0 and g.parts[part].carried_forward, part
    assert g.score == pytest.approx(12 / 13)


def test_hand_worked_gradient_ascent_is_named_at_the_update() -> None:
    t = get_type("backprop-story")
    variant = _variant(t, hand_setup(HAND))
    answers = dict(HAND_KEY, W1_new=[[1, -2], ["707/250", "707/500"]])
    g = grade(variant, parse_answers(variant, answers))
    assert "gradient-ascent" in g.parts["W1_new"].misconceptions
    # The first row (the dead unit's, gradient 0) is right either way: the named mistake keeps
    # the credit of its 2 right entries out of 4, as an unexplained answer would (SCORING_RULE).
    assert g.parts["W1_new"].entries == [[True, True], [False, False]]
    assert g.parts["W1_new"].score == 0.5


def test_hand_worked_follow_on_through_the_forward_pass() -> None:
    """A slip in z1 is paid once: a1, z2, a2 and C computed from it earn their credit."""
    t = get_type("backprop-story")
    variant = _variant(t, hand_setup(HAND))
    answers = dict(HAND_KEY)
    # z1 = [1; 4] (first entry slipped); a1 = [1; 4]; z2 = [1 − 4; 2 + 4 − 1] = [−3; 5];
    # a2 = [−3/10; 5]; C = ½((−13/10)² + 6²) = ½(169/100 + 3600/100) = 3769/200.
    answers.update({"z1": [[1], [4]], "a1": [[1], [4]], "z2": [[-3], [5]],
                    "a2": [["-3/10"], [5]], "C": "3769/200"})
    g = grade(variant, parse_answers(variant, answers))
    assert g.parts["z1"].score < 1
    for part in ("a1", "z2", "a2", "C"):
        assert g.parts[part].carried_forward, part


def _variant(t: Any, setup: Setup) -> Variant:
    """A variant of a hand-built setup with the single-mistake predictions of the library
    (the generic redraw checks are not run: the hand net is fixed)."""
    key = t.key(setup)
    predictions: dict[str, list[Prediction]] = {p.name: [] for p in t.parts}
    for tag in (tag for tag, m in MISTAKES.items() if m.variants):
        for slips in MISTAKES[tag].variants:
            values = t.predict(setup, slips)
            for p in t.parts:
                if values.get(p.name) is not None:
                    predictions[p.name].append(
                        Prediction((tag,), to_grading_form(p.kind, values[p.name])))
    return Variant(
        type=t.id, type_version=t.version, seed=0, difficulty=1, title=t.title,
        prompt=t.prompt(setup), network=setup.net.to_json(), params={}, parts=t.parts,
        key={p.name: value_to_json(p.kind, key[p.name]) for p in t.parts},
        predictions={k: tuple(v) for k, v in predictions.items() if v},
    )


def test_reference_backend_agrees_with_exact_sympy() -> None:
    """The fast 40-digit reference gives the key SymPy's exact derivation gives."""
    for seed in range(3):
        v = generate("backprop-story", seed, 2)
        setup = Setup(parse_network(network(v)))
        fast, slow = setup.exact, derive(setup.net, EXACT)
        for L_fast, L_slow in zip(fast.layers, slow.layers, strict=True):
            for name in ("z", "a", "delta", "dC_dW", "W_new"):
                a = np.array(getattr(L_fast, name).evalf(20).tolist(), dtype=float)
                b = np.array(getattr(L_slow, name).evalf(20).tolist(), dtype=float)
                np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)


# --- an independent oracle: the problem's own numbers, redone in NumPy --------------------------


@dataclass
class Net:
    """The forward pass and the textbook backprop of a problem's network, in plain NumPy."""

    x: np.ndarray
    y: np.ndarray
    W: list[np.ndarray]
    b: list[np.ndarray]
    act: list[str]
    alpha: list[float]
    loss: str
    lr: float

    @classmethod
    def of(cls, v: Variant) -> Net:
        n = network(v)
        return cls(x=floats(n["x"]), y=floats(n["y"]),
                   W=[floats(L["W"]) for L in n["layers"]],
                   b=[floats(L["b"]) for L in n["layers"]],
                   act=[L["activation"] for L in n["layers"]],
                   alpha=[float(parse_fraction(L.get("alpha", "1/100"))) for L in n["layers"]],
                   loss=n["loss"], lr=float(parse_fraction(n["learning_rate"])))

    def sigma(self, layer: int, z: np.ndarray) -> np.ndarray:
        alpha = self.alpha[layer]
        return {"identity": lambda: z, "relu": lambda: np.maximum(z, 0),
                "leaky_relu": lambda: np.where(z > 0, z, alpha * z),
                "sigmoid": lambda: 1 / (1 + np.exp(-z)),
                "tanh": lambda: np.tanh(z)}[self.act[layer]]()

    def dsigma(self, layer: int, z: np.ndarray) -> np.ndarray:
        a, alpha = self.sigma(layer, z), self.alpha[layer]
        return {"identity": lambda: np.ones_like(z), "relu": lambda: (z > 0) * 1.0,
                "leaky_relu": lambda: np.where(z > 0, 1.0, alpha),
                "sigmoid": lambda: a * (1 - a), "tanh": lambda: 1 - a * a}[self.act[layer]]()

    @property
    def z1(self) -> np.ndarray:
        return self.W[0] @ self.x + self.b[0]

    @property
    def a1(self) -> np.ndarray:
        return self.sigma(0, self.z1)

    @property
    def z2(self) -> np.ndarray:
        return self.W[1] @ self.a1 + self.b[1]

    def dC_da(self, a2: np.ndarray) -> np.ndarray:
        n, m = self.y.shape
        return (a2 - self.y) / m * (2 / n if self.loss == "mse" else 1)

    def delta1_from(self, delta2: np.ndarray, W2: np.ndarray | None = None) -> np.ndarray:
        return ((self.W[1] if W2 is None else W2).T @ delta2) * self.dsigma(0, self.z1)


@cache
def variants(type_id: str, difficulty: int) -> tuple[Variant, ...]:
    return tuple(generate(type_id, seed, difficulty) for seed in SEEDS)


def submit(v: Variant, **changed: Any) -> Any:
    answers = dict(v.key)
    answers.update({k: np.asarray(a).tolist() for k, a in changed.items()})
    return grade(v, parse_answers(v, answers))


CASES = [(t, d) for t in TYPES for d in (1, 2, 3)]


@pytest.mark.slow
@pytest.mark.parametrize(("type_id", "difficulty"), CASES)
def test_sweep_key_scores_full_and_every_offered_mistake_is_named(type_id: str,
                                                                   difficulty: int) -> None:
    for v in variants(type_id, difficulty):
        assert submit(v).score == 1.0, v.seed
        hits = [(part, p) for part, preds in v.predictions.items() for p in preds
                if len(p.tags) == 1]
        for part, p in hits:
            r = submit(v, **{part: p.value}).parts[part]
            assert p.tags[0] in r.misconceptions and not r.correct, (v.seed, p.tags, part)
            # Named or not, the answer scores by the rule (SCORING_RULE).
            expected = rule_score(v.part(part), p.value, v.key_values[part])
            assert r.score == expected, (v.seed, p.tags, part, r)


@pytest.mark.slow
@pytest.mark.parametrize(("type_id", "difficulty"), CASES)
def test_sweep_a_consistent_mistake_is_named_once_and_carried_after(type_id: str,
                                                                    difficulty: int) -> None:
    """A student who makes one mistake and then works correctly from it: every part is
    either right (directly or carried forward) or names that mistake, and some part does."""
    t = get_type(type_id)
    for v in variants(type_id, difficulty)[:60]:
        setup = t.setup_from(v)
        offered = {p.tags[0] for preds in v.predictions.values() for p in preds
                   if len(p.tags) == 1}
        for tag in sorted(offered):
            named, checked = 0, 0
            for slips in MISTAKES[tag].variants:  # e.g. W1 has no earlier layer's input
                worked = t.extract(setup, setup.float_derivation(slips))
                answers = {p.name: v.key_values[p.name] if worked[p.name] is None
                           else worked[p.name] for p in t.parts}
                if any(np.ptp(np.asarray(a)) == 0 for a in answers.values() if np.size(a) > 1):
                    # All one number carries nothing forward (SCORING_RULE), even where a
                    # mistake leads there, so the parts after it are not credited.
                    continue
                checked += 1
                for n, r in submit(v, **answers).parts.items():
                    assert r.score == 1.0 or tag in r.misconceptions or _as_rounded_key(
                        answers[n], v.key_values[n]), (v.seed, tag, n, r)
                    named += bool(r.misconceptions)
            assert named or not checked, (v.seed, tag)


def _as_rounded_key(value: Any, key: Any) -> bool:
    """Whether ``value`` reads as the key written to 2 or 3 significant figures (then no
    mistake can be told by it)."""
    k = np.asarray(key, dtype=np.float64)
    value = np.asarray(value, dtype=np.float64)
    for d in (2, 3):
        r = np.array([float(f"{e:.{d}g}") for e in k.ravel()]).reshape(k.shape)
        if value.shape == k.shape and np.all(np.abs(value - r) <= 1e-4 + 5e-3 * np.abs(r)):
            return True
    return False


@pytest.mark.slow
@pytest.mark.parametrize("difficulty", (1, 2, 3))
def test_sweep_hidden_gradient_mistakes_built_in_numpy(difficulty: int) -> None:
    for v in variants("hidden-gradient", difficulty):
        net, k = Net.of(v), v.key_values
        d2, d1 = k["delta2"], k["delta1"]
        W2_new = net.W[1] - net.lr * d2 @ net.a1.T  # the update a student does too early
        expect = {
            ("delta2", "sign-flip"): -d2,
            ("delta2", "factor-of-two"): 2 * d2,
            ("delta1", "untransposed-backprop"): (net.W[1] @ d2) * net.dsigma(0, net.z1),
            ("delta1", "updated-weights-in-backprop"): net.delta1_from(d2, W2_new),
            ("dC_dW1", "transposed-gradient"): net.x @ d1.T,
            ("dC_dW1", "wrong-layer-input"): d1 @ net.a1.T,
        }
        for (part, tag), answer in expect.items():
            assert tag in submit(v, **{part: answer}).parts[part].misconceptions, \
                (v.seed, part, tag)


@pytest.mark.slow
@pytest.mark.parametrize("difficulty", (1, 2, 3))
def test_sweep_story_mistakes_built_in_numpy(difficulty: int) -> None:
    for v in variants("backprop-story", difficulty):
        net, k = Net.of(v), v.key_values
        W1, W2 = net.W
        expect = {
            ("a2", "activation-skipped"): k["z2"],
            ("C", "factor-of-two"): 2 * k["C"],
            ("delta2", "sign-flip"): -k["delta2"],
            ("delta2", "missing-activation-derivative"): net.dC_da(k["a2"]),
            ("dC_dW2", "transposed-gradient"): k["dC_dW2"].T,
            ("dC_db1", "bias-times-input"): k["delta1"] @ net.x.T,
            ("delta1", "untransposed-backprop"): (W2 @ k["delta2"]) * net.dsigma(0, net.z1),
            ("W1_new", "gradient-ascent"): W1 + net.lr * k["dC_dW1"],
            ("W2_new", "missing-learning-rate"): W2 - k["dC_dW2"],
        }
        if difficulty == 3:
            expect[("C", "batch-sum-not-mean")] = net.x.shape[1] * k["C"]
        for (part, tag), answer in expect.items():
            r = submit(v, **{part: answer}).parts[part]
            if part == "delta2" and tag == "missing-activation-derivative" and r.score == 1.0:
                continue  # σ'(z2) is 1 wherever it matters: the mistake shows at δ1 instead
            assert tag in r.misconceptions, (v.seed, part, tag, r)


@pytest.mark.slow
@pytest.mark.parametrize("difficulty", (1, 2, 3))
def test_sweep_story_carries_a_wrong_delta2_through_every_later_part(difficulty: int) -> None:
    for v in variants("backprop-story", difficulty):
        net, k = Net.of(v), v.key_values
        d2 = k["delta2"].copy()
        d2[0, :] += 0.5  # a slip in δ2; everything after it done right, in NumPy
        d1 = net.delta1_from(d2)
        g2, g1 = d2 @ net.a1.T, d1 @ net.x.T
        later = {"dC_dW2": g2, "dC_db2": d2.sum(axis=1, keepdims=True), "delta1": d1,
                 "dC_dW1": g1, "dC_db1": d1.sum(axis=1, keepdims=True),
                 "W1_new": net.W[0] - net.lr * g1, "W2_new": net.W[1] - net.lr * g2}
        g = submit(v, delta2=d2, **later)
        assert g.parts["delta2"].score < 1.0
        assert g.parts["dC_db2"].carried_forward, v.seed
        for part in later:  # right from the slipped δ2 (or right anyway: a dead ReLU hides it)
            assert g.parts[part].score == 1.0, (v.seed, part)


@pytest.mark.slow
@pytest.mark.parametrize("difficulty", (1, 2, 3))
def test_sweep_hidden_gradient_carries_a_wrong_delta2(difficulty: int) -> None:
    for v in variants("hidden-gradient", difficulty):
        net = Net.of(v)
        d2 = v.key_values["delta2"].copy()
        d2[0, :] += 0.37  # a slip in the first row, no catalogued mistake
        d1 = net.delta1_from(d2)
        g = submit(v, delta2=d2, delta1=d1, dC_dW1=d1 @ net.x.T)
        assert g.parts["delta2"].score < 1.0
        for part in ("delta1", "dC_dW1"):  # carried forward, or right anyway (a dead ReLU)
            assert g.parts[part].carried_forward or g.parts[part].correct, (v.seed, part)
        # Every entry wrong, not close, and nothing to explain it: δ2 is no work to build on
        # (SCORING_RULE), so δ1 computed from it earns nothing carried forward.
        d2 = 1.5 * v.key_values["delta2"] + 0.25
        d1 = net.delta1_from(d2)
        g = submit(v, delta2=d2, delta1=d1, dC_dW1=d1 @ net.x.T)
        if g.parts["delta2"].score == 0.0 and not g.parts["delta2"].misconceptions:
            assert not g.parts["delta1"].carried_forward, v.seed


@pytest.mark.parametrize(("type_id", "difficulty"), CASES)
def test_same_seed_same_variant_and_the_record_round_trips(type_id: str, difficulty: int) -> None:
    a, b = generate(type_id, 7, difficulty), generate(type_id, 7, difficulty)
    assert a.to_record() == b.to_record()
    again = Variant.from_record(a.to_record())
    assert grade(again, parse_answers(again, again.key)).score == 1.0


@pytest.mark.parametrize(("type_id", "difficulty"), CASES)
def test_unreadable_answer_is_a_format_error(type_id: str, difficulty: int) -> None:
    v = generate(type_id, 3, difficulty)
    part = v.parts[-1].name
    with pytest.raises(AnswerFormatError) as err:
        parse_answers(v, dict(v.key, **{part: "1/"}))
    assert set(err.value.parts) == {part}


@pytest.mark.parametrize(("type_id", "difficulty"), CASES)
def test_worked_solution_answers_every_part_with_numbers(type_id: str, difficulty: int) -> None:
    v = generate(type_id, 5, difficulty)
    steps = worked_solution(v).steps
    answered = {p for s in steps for p in s.parts}
    assert answered == {p.name for p in v.parts}
    assert all(s.latex for s in steps if s.parts)
    if type_id == "backprop-story":
        titles = [s.title for s in steps]
        assert any(t.startswith("Entry (") for t in titles)  # the update of a named entry
        assert "has gone down" in steps[-1].text


@pytest.mark.parametrize(("type_id", "difficulty"), CASES)
def test_prompt_gives_the_learning_rate_and_not_the_shapes(type_id: str, difficulty: int) -> None:
    v = generate(type_id, 2, difficulty)
    assert r"\eta = " in v.prompt
    assert "×" not in v.prompt and "\\times" not in v.prompt


@pytest.mark.parametrize("type_id", TYPES)
def test_shows_is_honest_about_difficulty(type_id: str) -> None:
    t = get_type(type_id)
    # Piecewise-linear at difficulty 1: σ'(z) taken as the output max(0, z) itself.
    assert "wrong-activation-derivative" in t.can_show(1)
    assert "wrong-activation-derivative" in t.can_show(2)
    assert "batch-sum-not-mean" in t.can_show(3) and "batch-sum-not-mean" not in t.can_show(2)
    assert "untransposed-backprop" in t.can_show(1)
    assert "updated-weights-in-backprop" in t.can_show(1)
    assert "bias-omitted" in t.can_show(1)
