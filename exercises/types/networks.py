"""Two-layer nets: the error sent back through the hidden layer, and one whole SGD step.

``hidden-gradient`` asks for δ of each layer and dC/dW1; ``backprop-story`` asks for every
intermediate of one step of gradient descent, the "story of backprop with actual small
matrices and numbers". Both carry errors forward: each later part has a ``follow_on``,
the value it must have when computed correctly from the student's own earlier parts.

Carried-forward credit also decides where a mistake is *named*. Grading tries the
follow-on before the predictions, so a mistake's downstream values (the W_new that a
sign-flipped δ leads to) already earn credit there; the prediction of a part is kept
only where the mistake changes that step itself, given the mistake's own earlier parts.
That is where a tutor would name it, and it keeps apart mistakes that only meet
downstream (sign-flip and gradient-ascent both give W + η·g, from different gradients).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import sympy

from .. import latex as tex
from .. import solution as story
from ..engine import (
    FLOAT,
    NUMERIC,
    Derivation,
    ShapeMismatch,
    Slip,
    activate,
    activation_derivative,
    backward_error,
    bias_gradient,
    cost,
    derive,
    derive_arrays,
    forward,
    layer_delta,
    output_gradient,
    same_shape,
    sgd,
    weight_gradient,
)
from ..network import DEFAULT_ALPHA, Layer, Network
from ..problem import Part, to_grading_form
from ..registry import Degenerate, Setup, _close, register
from ..solution import Step
from . import draw, text
from .levels import Level, Levelled, shows, squashed_output, table

PIECEWISE_LINEAR = ("relu", "leaky_relu")
# Difficulty 1 has one example, where a ReLU unit below zero is dead (output and gradient
# row 0): a leaky ReLU keeps the unit below zero, where a dropped σ' shows, alive. Only one
# of the two layers is leaky: two would multiply their slopes, and the numbers would run to
# ten-thousandths. hidden-gradient's is the hidden layer (δ1 goes through its σ');
# backprop-story's the output, where a prediction taken as z shows.
HIDDEN_LEAKY = (("leaky_relu",), ("identity",))
OUTPUT_LEAKY = (("identity",), ("leaky_relu",))
SMOOTH = ("sigmoid", "tanh")
SQUARED_LOSSES = ("half_sse", "mse")
# Keep sigmoid/tanh inputs inside the generic health check (a in (0.02, 0.98), |tanh| <= 0.96).
Z_LIMIT = {"sigmoid": 3.8, "tanh": 1.9}
ROW_TRIES = 20
# Difficulty 1: the values of weights and inputs, and the largest output worth working by hand.
SMALL = np.array([-2, -1, 1, 2])
HAND_LIMIT = 30
LEAKY_ALPHA = sympy.Rational(1, 10)


class Missing(Exception):
    """An earlier part a follow-on needs is absent from the answers."""


def _need(given: dict[str, Any], name: str) -> Any:
    v = given.get(name)
    if v is None:
        raise Missing(name)
    return v


@dataclass(frozen=True, kw_only=True)
class TwoLayer(Level):
    """One difficulty of a two-layer type: the widths (inputs first), each layer's activation
    drawn from its options, the loss from ``losses``, ``m`` examples, and the learning rates:
    never 1 (then W − g is the key), and large enough for the update (and the updated
    weights a student might backprop through) to be visible."""

    activations: tuple[tuple[str, ...], tuple[str, ...]]
    rates: tuple[str, ...]
    widths: tuple[int, int, int] = (2, 2, 2)
    losses: tuple[str, ...] = SQUARED_LOSSES
    m: int = 1


def _levels(tags: Mapping[int, tuple[str, ...]], first_rates: tuple[str, ...],
            activations: Mapping[int, tuple[tuple[str, ...], tuple[str, ...]]]
            ) -> Mapping[int, TwoLayer]:
    """The rows of a two-layer type: at difficulty 1 half the squared error and the learning
    rates ``first_rates``; above, a squared loss and η of 2 or 3; at difficulty 3 three
    hidden units over a batch of 3 (not 2: summing two examples would look exactly like a
    factor of two)."""
    return table({
        1: TwoLayer(activations=activations[1], losses=("half_sse",), rates=first_rates,
                    shows=tags[1]),
        2: TwoLayer(activations=activations[2], rates=("2", "3"), shows=tags[2]),
        3: TwoLayer(activations=activations[3], widths=(2, 3, 3), m=3, rates=("2", "3"),
                    shows=tags[3]),
    })


class _TwoLayer(Levelled[TwoLayer]):
    """What both types share: the drawing of a two-layer net, a fast reference derivation,
    and predictions named only at the step a mistake changes (see the module docstring)."""

    def fit(self, network: Network) -> Setup | None:
        """A given net of exactly two layers with an elementwise output."""
        if len(network.layers) != 2 or not squashed_output(network):
            return None
        return Setup(network)

    def draw(self, rng: np.random.Generator, difficulty: int) -> Setup:
        """A two-layer net with a non-symmetric W2 and rows that neither saturate nor die;
        at difficulty 1 every number of the key small enough to work by hand."""
        row = self.levels[difficulty]
        acts = (draw.pick(rng, row.activations[0]), draw.pick(rng, row.activations[1]))
        loss = draw.pick(rng, row.losses)
        if difficulty == 1:
            net = _small_network(rng, row.widths, acts, loss, row.m)
        else:
            net = draw.network(rng, row.widths, list(acts), loss, row.m, difficulty)
        net = replace(net, learning_rate=sympy.Rational(draw.pick(rng, row.rates)))
        x = FLOAT.matrix(net.x)
        layers = []
        for L in net.layers:
            L = _shape_rows(rng, L, x, difficulty)
            layers.append(L)
            x = activate(FLOAT, L.activation,
                         forward(FLOAT, FLOAT.matrix(L.W), FLOAT.matrix(L.b), x), L.alpha)
        W2 = layers[1].W
        if W2 == W2.T:
            raise Degenerate("W2 is symmetric: W2 and W2ᵀ send back the same error")
        setup = Setup(replace(net, layers=tuple(layers)))
        if difficulty == 1:
            draw.alive(setup.net)
            largest = max(np.max(np.abs(v)) for v in self.extract(setup, setup.plain).values())
            if largest > HAND_LIMIT:
                raise Degenerate(f"a key entry of {largest:g} is too large to work by hand")
        return setup

    def predict(self, setup: Setup, slips: frozenset[Slip]) -> dict[str, Any]:
        """The parts ``slips`` change at their own step; None where they leave the key or
        where the value follows from the mistake's own earlier parts (carried forward)."""
        values = super().predict(setup, slips)
        if not slips:
            return values
        parts = self.parts_for(setup)
        plain = self.extract(setup, setup.plain)
        given = {p.name: to_grading_form(p.kind, values[p.name])
                 for p in parts if values.get(p.name) is not None}
        for p in parts:
            v = given.get(p.name)
            if v is None:
                continue
            if _untouched(v, plain[p.name]):
                values[p.name] = None  # the key's own value: nothing to name here
                continue
            expected = self.follow_on(setup, p.name, given)
            if expected is not None and _close(p, v, expected):
                values[p.name] = None  # carried forward from the mistake's own earlier parts
        return values


def _small(rng: np.random.Generator, rows: int, cols: int) -> sympy.Matrix:
    picked = rng.choice(SMALL, size=(rows, cols))
    return sympy.Matrix(rows, cols, [sympy.Integer(int(v)) for v in picked.ravel()])


def _small_network(rng: np.random.Generator, widths: tuple[int, int, int],
                   activations: tuple[str, str], loss: str, m: int) -> Network:
    """Difficulty 1: weights and inputs in ±1, ±2 and biases in −1..1, so that two layers
    still give numbers a student multiplies in their head."""
    layers: list[Layer] = []
    for nin, nout, act in zip(widths[:-1], widths[1:], activations, strict=True):
        W = _small(rng, nout, nin)
        if layers and W.is_square:
            # Off-diagonal entries of different size: W2 stays non-symmetric whatever
            # signs the rows get.
            W[1, 0] = int(rng.choice([-1, 1])) * (3 - abs(W[0, 1]))
        layers.append(Layer(W=W, b=draw.integers(rng, nout, 1, -1, 1), activation=act,
                            alpha=LEAKY_ALPHA if act == "leaky_relu" else DEFAULT_ALPHA))
    return Network(x=_small(rng, widths[0], m), y=draw.integers(rng, widths[-1], m, -2, 2),
                   layers=tuple(layers), loss=loss, learning_rate=sympy.Rational(1, 10))


def _row(rng: np.random.Generator, nin: int, difficulty: int) -> tuple[sympy.Matrix, Any]:
    """One neuron's weights (1×nin) and bias, from the difficulty's values."""
    if difficulty == 1:
        return _small(rng, 1, nin), draw.integers(rng, 1, 1, -1, 1)[0]
    return (draw.values(rng, 1, nin, difficulty),
            draw.values(rng, 1, 1, difficulty, nonzero=False)[0])


def _shape_rows(rng: np.random.Generator, L: Layer, x: np.ndarray, difficulty: int) -> Layer:
    """Redraw the (w_i, b_i) rows of a layer that saturate (sigmoid/tanh) or sit on a ReLU's
    kink; rows are independent given the input, so redrawing one row samples the same
    distribution conditioned on the check. With one example, ReLU rows are then flipped in
    sign (values kept) so that one unit is live and one dead or leaking: σ'(z) is not all 1."""
    W, b = L.W.copy(), L.b.copy()
    if L.activation not in Z_LIMIT and L.activation not in PIECEWISE_LINEAR:
        return L
    for i in range(L.nout):
        for _ in range(ROW_TRIES):
            if _row_ok(L.activation, FLOAT.matrix(W[i, :]) @ x + float(b[i])):
                break
            W[i, :], b[i] = _row(rng, L.nin, difficulty)
    if L.activation in PIECEWISE_LINEAR and x.shape[1] == 1 and L.nout >= 2:
        z = (FLOAT.matrix(W) @ x + FLOAT.matrix(b))[:, 0]
        want = rng.permutation([1.0, -1.0, *rng.choice([-1.0, 1.0], L.nout - 2)])
        flip = sympy.diag(*[-1 if z[i] * want[i] < 0 else 1 for i in range(L.nout)])
        W, b = flip * W, flip * b
    return replace(L, W=W, b=b)


def _row_ok(activation: str, z: np.ndarray) -> bool:
    """Whether a row's z is clear of saturation (sigmoid/tanh) or of the kink (ReLU)."""
    if activation in Z_LIMIT:
        return bool(np.all(np.abs(z) < Z_LIMIT[activation]))
    return bool(np.all(z != 0))


def _untouched(v: Any, plain: Any) -> bool:
    """Bit for bit the mistake-free value: the slips never reached this part."""
    return plain is not None and np.array_equal(v, plain)


# --- follow-on: the chain rule applied to the student's own numbers --------------------------


def _layers(setup: Setup) -> tuple[Any, Any, tuple[Any, Any, str, Any], tuple[Any, Any, str, Any]]:
    x, y, layers = setup.arrays
    return x, y, layers[0], layers[1]


def _derivative(act: str, alpha: Any, z: Any, a: Any) -> Any:
    """σ'(z) from the student's z (ReLU's kink) and a (the sigmoid's a(1 − a))."""
    same_shape(z, a)
    return activation_derivative(FLOAT, act, z, a, alpha)


def _delta2(setup: Setup, a2: Any, z2: Any) -> Any:
    net = setup.net
    _, y, _, (_, _, act2, alpha2) = _layers(setup)
    same_shape(a2, y)
    return layer_delta(FLOAT, act2, output_gradient(FLOAT, net.loss, a2, y),
                       _derivative(act2, alpha2, z2, a2), a2)


def _delta1(setup: Setup, delta2: Any, z1: Any, a1: Any) -> Any:
    _, _, (_, _, act1, alpha1), (W2, _, _, _) = _layers(setup)
    return layer_delta(FLOAT, act1, backward_error(FLOAT, W2, delta2),
                       _derivative(act1, alpha1, z1, a1), a1)


def _carried(step: Any) -> Any | None:
    """A follow-on value, or None when an earlier part is missing or its shape does not fit."""
    try:
        return step()
    except (Missing, ShapeMismatch):
        return None


# --- hidden-gradient ------------------------------------------------------------------------


_HIDDEN_TAGS = shows(("untransposed-backprop", "updated-weights-in-backprop",
                      "missing-activation-derivative", "transposed-gradient",
                      "wrong-layer-input", "sign-flip", "factor-of-two"))


@register
class HiddenGradient(_TwoLayer):
    id = "hidden-gradient"
    version = 2
    title = "Backprop through a hidden layer"
    summary = ("Two layers: δ of the output layer, δ of the hidden layer (sent back through "
               "W2ᵀ), and dC/dW1.")
    parts = (
        Part("delta2", "matrix", r"$\delta_2 = \partial C / \partial z_2$"),
        Part("delta1", "matrix", r"$\delta_1 = \partial C / \partial z_1$"),
        Part("dC_dW1", "matrix", r"$\partial C / \partial W_1$"),
    )
    levels = _levels(_HIDDEN_TAGS, ("1/2", "1/4"), {
        1: HIDDEN_LEAKY, 2: (SMOOTH, SMOOTH), 3: (("relu", *SMOOTH), SMOOTH)})

    def extract(self, setup: Setup, d: Derivation) -> dict[str, Any]:
        L1, L2 = d.layers
        return {"delta2": L2.delta, "delta1": L1.delta, "dC_dW1": L1.dC_dW}

    def follow_on(self, setup: Setup, part: str, given: dict[str, Any]) -> Any | None:
        if part == "delta1":
            f = setup.plain.layers[0]
            return _carried(lambda: _delta1(setup, _need(given, "delta2"), f.z, f.a))
        if part == "dC_dW1":
            x = setup.arrays[0]
            return _carried(lambda: weight_gradient(FLOAT, _need(given, "delta1"), x))
        return None

    def prompt(self, setup: Setup) -> str:
        net = setup.net
        return (f"{text.layers(net)} {text.data(net)} The network is trained by gradient "
                f"descent with learning rate $\\eta = {tex.number(net.learning_rate)}$. For "
                "this step, backpropagate: compute the output layer's error "
                "$\\delta_2 = \\partial C/\\partial z_2$, the hidden layer's error "
                "$\\delta_1 = \\partial C/\\partial z_1$, and the gradient "
                f"$\\partial C/\\partial W_1$ of the first layer's weights.{_batch_note(net)} "
                f"{text.TOLERANCE}")

    def story(self, setup: Setup) -> list[Any]:
        net, d = setup.net, setup.exact
        L1, L2 = d.layers
        return [
            *story.forward(L1, 1),
            *story.forward(L2, 2, input_name="a_{1}"),
            story.loss(net, d),
            story.output_gradient(net, L2, part="delta2"),
            story.activation_derivative(L2, 2, part="delta2"),
            story.delta(L2, 2, part="delta2"),
            story.backward(L2, 1, part="delta1"),
            story.activation_derivative(L1, 1, part="delta1"),
            story.delta(L1, 1, part="delta1"),
            story.weight_gradient(L1, 1, part="dC_dW1"),
            Step("Where the learning rate comes in",
                 f"η = {tex.number(net.learning_rate)} is only used after every gradient is "
                 "known, to update W1, b1, W2 and b2 together. δ1 was sent back through W2 as "
                 "it was in the forward pass, not through the updated W2."),
        ]


# --- backprop-story ---------------------------------------------------------------------------


_STORY_TAGS = shows(("activation-skipped", "sign-flip", "missing-activation-derivative",
                     "transposed-gradient", "untransposed-backprop",
                     "updated-weights-in-backprop", "wrong-layer-input", "bias-times-input",
                     "gradient-ascent", "missing-learning-rate", "factor-of-two",
                     "raw-error-as-loss"))


@register
class BackpropStory(_TwoLayer):
    id = "backprop-story"
    version = 2
    title = "The story of one backprop step"
    summary = ("One full step of gradient descent on a two-layer net: forward pass, cost, "
               "each δ and gradient, and the updated weights.")
    parts = (
        Part("z1", "matrix", r"$z_1$"),
        Part("a1", "matrix", r"$a_1$"),
        Part("z2", "matrix", r"$z_2$"),
        Part("a2", "matrix", r"$a_2$"),
        Part("C", "scalar", r"$C$"),
        Part("delta2", "matrix", r"$\delta_2 = \partial C / \partial z_2$"),
        Part("dC_dW2", "matrix", r"$\partial C / \partial W_2$"),
        Part("dC_db2", "matrix", r"$\partial C / \partial b_2$"),
        Part("delta1", "matrix", r"$\delta_1 = \partial C / \partial z_1$"),
        Part("dC_dW1", "matrix", r"$\partial C / \partial W_1$"),
        Part("dC_db1", "matrix", r"$\partial C / \partial b_1$"),
        Part("W1_new", "matrix", r"$W_1^{\text{new}}$"),
        Part("W2_new", "matrix", r"$W_2^{\text{new}}$"),
    )
    levels = _levels(_STORY_TAGS, ("1/10", "1/4"), {
        1: OUTPUT_LEAKY, 2: (("sigmoid",), ("sigmoid",)), 3: (("relu", *SMOOTH), ("sigmoid",))})

    def draw(self, rng: np.random.Generator, difficulty: int) -> Setup:
        setup = super().draw(rng, difficulty)
        if not _lowers_cost(setup):
            # The story ends with the cost going down: that is what the step is for.
            raise Degenerate("this step would not lower the cost")
        return setup

    def extract(self, setup: Setup, d: Derivation) -> dict[str, Any]:
        L1, L2 = d.layers
        return {
            "z1": L1.z, "a1": L1.a, "z2": L2.z, "a2": L2.a, "C": d.loss,
            "delta2": L2.delta, "dC_dW2": L2.dC_dW, "dC_db2": L2.dC_db,
            "delta1": L1.delta, "dC_dW1": L1.dC_dW, "dC_db1": L1.dC_db,
            "W1_new": L1.W_new, "W2_new": L2.W_new,
        }

    def follow_on(self, setup: Setup, part: str, given: dict[str, Any]) -> Any | None:
        net = setup.net
        x, y, (W1, _, act1, alpha1), (W2, b2, act2, alpha2) = _layers(setup)

        def g(name: str) -> Any:
            return _need(given, name)

        steps: dict[str, Callable[[], Any]] = {
            "a1": lambda: activate(FLOAT, act1, g("z1"), alpha1),
            "z2": lambda: forward(FLOAT, W2, b2, g("a1")),
            "a2": lambda: activate(FLOAT, act2, g("z2"), alpha2),
            "C": lambda: _cost(net.loss, g("a2"), y),
            "delta2": lambda: _delta2(setup, g("a2"), g("z2")),
            "dC_dW2": lambda: weight_gradient(FLOAT, g("delta2"), g("a1")),
            "dC_db2": lambda: bias_gradient(FLOAT, g("delta2")),
            "delta1": lambda: _delta1(setup, g("delta2"), g("z1"), g("a1")),
            "dC_dW1": lambda: weight_gradient(FLOAT, g("delta1"), x),
            "dC_db1": lambda: bias_gradient(FLOAT, g("delta1")),
            "W1_new": lambda: sgd(FLOAT, W1, g("dC_dW1"), float(net.learning_rate)),
            "W2_new": lambda: sgd(FLOAT, W2, g("dC_dW2"), float(net.learning_rate)),
        }
        return _carried(steps[part]) if part in steps else None

    def prompt(self, setup: Setup) -> str:
        net = setup.net
        return (f"{text.layers(net)} {text.data(net)} Take one step of gradient descent with "
                f"learning rate $\\eta = {tex.number(net.learning_rate)}$, writing down every "
                "intermediate: the forward pass $z_1$, $a_1$, $z_2$, $a_2$; the cost $C$; the "
                "output layer's error $\\delta_2 = \\partial C/\\partial z_2$ and its gradients "
                "$\\partial C/\\partial W_2$, $\\partial C/\\partial b_2$; the hidden layer's "
                "error $\\delta_1 = \\partial C/\\partial z_1$ and its gradients "
                "$\\partial C/\\partial W_1$, $\\partial C/\\partial b_1$; and the updated "
                f"weights $W_1^{{\\text{{new}}}}$ and $W_2^{{\\text{{new}}}}$.{_batch_note(net)} "
                "A later answer computed correctly from your own earlier ones earns its credit. "
                f"{text.TOLERANCE}")

    def story(self, setup: Setup) -> list[Any]:
        net, d = setup.net, setup.exact
        L1, L2 = d.layers
        lr = net.learning_rate
        steps = [_plan(net)]
        steps += story.forward(L1, 1, z_part="z1", a_part="a1")
        steps += story.forward(L2, 2, z_part="z2", a_part="a2", input_name="a_{1}")
        steps.append(story.loss(net, d, part="C"))
        steps += [
            story.output_gradient(net, L2, part="delta2"),
            story.activation_derivative(L2, 2, part="delta2"),
            story.delta(L2, 2, part="delta2"),
            story.weight_gradient(L2, 2, part="dC_dW2", input_name="a_{1}"),
            story.bias_gradient(L2, 2, part="dC_db2"),
            story.backward(L2, 1, part="delta1"),
            story.activation_derivative(L1, 1, part="delta1"),
            story.delta(L1, 1, part="delta1"),
            story.weight_gradient(L1, 1, part="dC_dW1"),
            story.bias_gradient(L1, 1, part="dC_db1"),
        ]
        steps += story.update(L1, 1, lr, part="W1_new", entry=_largest(L1.dC_dW),
                              entry_part="W1_new")
        steps += story.update(L2, 2, lr, part="W2_new", entry=_largest(L2.dC_dW),
                              entry_part="W2_new")
        steps.append(_after(net, d))
        return steps


def _cost(loss: str, a2: Any, y: Any) -> float:
    same_shape(a2, y)
    return float(cost(FLOAT, loss, a2, y))


def _batch_note(net: Network) -> str:
    if net.m == 1:
        return ""
    return (" Every $\\delta$ and gradient is a derivative of the cost $C$ itself, the mean "
            f"over the {net.m} examples, so it carries that $\\tfrac1{{{net.m}}}$.")


def _largest(M: sympy.Matrix) -> tuple[int, int]:
    """The 1-based (row, column) of the largest gradient entry: the update worth showing."""
    flat = [abs(float(v)) for v in M]
    k = int(np.argmax(flat))
    return k // M.cols + 1, k % M.cols + 1


def _plan(net: Network) -> Step:
    """The shapes of everything, before any number: what multiplies what."""
    n0, n1, n2 = net.widths
    m = net.m
    return Step(
        "The plan",
        f"Forward: x ({n0}×{m}) goes through layer 1 (W1 {n1}×{n0}) to a1 ({n1}×{m}), then "
        f"through layer 2 (W2 {n2}×{n1}) to the prediction a2 ({n2}×{m}), which the loss "
        "compares with y. Backward: the chain rule gives δ2 = ∂C/∂z2, then δ1 = ∂C/∂z1 by "
        "sending δ2 back through W2ᵀ; each layer's weight gradient is its δ times its own "
        "input, transposed. Last, every weight and bias takes one step against its gradient.",
        r"x \xrightarrow{W_1,\,b_1} z_1 \xrightarrow{\sigma_1} a_1 \xrightarrow{W_2,\,b_2} z_2 "
        r"\xrightarrow{\sigma_2} a_2 \to C",
    )


def _lowers_cost(setup: Setup) -> bool:
    """Whether the cost of the same data is lower after the step (every W and b updated)."""
    d = setup.plain
    x, y, layers = setup.arrays
    updated = [(L.W_new, L.b_new, act, alpha)
               for L, (_, _, act, alpha) in zip(d.layers, layers, strict=True)]
    return bool(derive_arrays(FLOAT, x, y, updated, setup.net.loss, 0.0).loss < d.loss)


def _after(net: Network, d: Derivation) -> Step:
    """The payoff: the cost with the updated weights and biases (lower, for a drawn variant)."""
    L1, L2 = d.layers
    layers = (replace(net.layers[0], W=L1.W_new, b=L1.b_new),
              replace(net.layers[1], W=L2.W_new, b=L2.b_new))
    after = derive(replace(net, layers=layers), NUMERIC).loss
    went = ("has gone down: that is what the step was for" if after < d.loss else
            "has not gone down: this learning rate overshoots, a smaller step would lower it")
    return Step(
        "After the step",
        "The biases take the same step, b_new = b − η·∂C/∂b. Running the forward pass again "
        f"with the new weights and biases, the cost {went}.",
        rf"b_1^{{\text{{new}}}} = {tex.matrix(L1.b_new)},\ b_2^{{\text{{new}}}} = "
        rf"{tex.matrix(L2.b_new)}, \quad C: {tex.number(d.loss)} \to "
        rf"{tex.number(float(after))}",
    )
