"""The steps around dC/dW: the bias gradient, the batch mean, the SGD update, the chain rule
of one neuron, and the softmax output with cross-entropy.

Each draw chooses shapes and values that let every mistake it lists show and be told
apart: square layers where δ⊙x or a transposed gradient must fit, a negative z where
a dropped ReLU/leaky derivative must change something, batches of 3 (never 2, whose
sum looks like a factor of two), learning rates away from ½ (where 2η = 1 would make
a doubled gradient look like a forgotten learning rate).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from .. import latex as tex
from .. import solution as story
from ..engine import (
    FLOAT,
    Derivation,
    LayerDerivation,
    ShapeMismatch,
    Slip,
    activate,
    forward,
    weight_gradient,
)
from ..network import Layer, Network
from ..problem import Part
from ..registry import Degenerate, ExerciseType, Setup, register
from ..solution import Step
from . import draw, text
from .levels import BATCH_SUM, Level, Levelled, shows, squashed_output, table

# Hidden and output activations of the two-layer nets at difficulty 3.
HIDDEN = ("relu", "leaky_relu", "tanh")
SQUASHING = ("sigmoid", "tanh")
SQUARED_LOSSES = ("half_sse", "mse")
# η = ½ is left out wherever factor-of-two and missing-learning-rate are both shown.
UPDATE_RATES = {1: ("1/10", "1/4", "1/5"), 2: ("1/4", "3/10", "2/5"), 3: ("1/5", "3/10", "2/5")}


# --- drawing ---------------------------------------------------------------------------------


def _z(net: Network) -> sympy.Matrix:
    """z of the first layer, exactly."""
    L = net.layers[0]
    return L.W * net.x + L.b * sympy.ones(1, net.m)


def _first_layer(net: Network, **changes: Any) -> Network:
    """``net`` with fields of its first layer replaced."""
    layer = dataclasses.replace(net.layers[0], **changes)
    return dataclasses.replace(net, layers=(layer, *net.layers[1:]))


def _off_kinks(rng: np.random.Generator, net: Network) -> Network:
    """The integer net with each first-layer bias redrawn from −2..2 where no example's z is 0,
    so no unit sits at a ReLU kink (each example rules out at most one bias, and m ≤ 3 < 5)."""
    L = net.layers[0]
    Wx = L.W * net.x
    b = L.b.copy()
    for i in range(L.nout):
        allowed = [v for v in range(-2, 3) if all(Wx[i, k] + v != 0 for k in range(net.m))]
        b[i, 0] = int(rng.choice(allowed))
    return _first_layer(net, b=b)


def _with_signs(net: Network, signs: Sequence[int]) -> Network:
    """The single-example net with the sign of each first-layer z_i set to ``signs[i]``.

    Negating row i of W and b_i negates z_i, so this keeps every value on the grid.
    Raises ``Degenerate`` when some z_i is 0 (a ReLU kink, or no sign to set).
    """
    z = _z(net)
    W, b = net.layers[0].W.copy(), net.layers[0].b.copy()
    for i, s in enumerate(signs):
        if z[i, 0] == 0:
            raise Degenerate(f"z_{i + 1} is 0")
        if (z[i, 0] > 0) != (s > 0):
            W[i, :] = -W[i, :]
            b[i, 0] = -b[i, 0]
    return _first_layer(net, W=W, b=b)


def _signs(rng: np.random.Generator, n: int, positive: int) -> list[int]:
    """Signs for n units: unit ``positive`` and maybe others above zero, one or more below
    (where a dropped ReLU/leaky σ' shows)."""
    others = [u for u in range(n) if u != positive]
    signs = [1] * n
    for u in rng.choice(others, size=int(rng.integers(1, len(others) + 1)), replace=False):
        signs[int(u)] = -1
    return signs


def _distinct_inputs(net: Network) -> None:
    """δ⊙x must not be a multiple of δ: no example may repeat an input value."""
    for k in range(net.m):
        if len(set(net.x[:, k])) < net.x.rows:
            raise Degenerate("two inputs of one example are equal")


def _rectified(net: Network) -> sympy.Matrix:
    """a of a first layer of ReLU or leaky ReLU, exactly."""
    L = net.layers[0]
    slope = 0 if L.activation == "relu" else L.alpha
    return _z(net).applyfunc(lambda v: v if v > 0 else slope * v)


def _rectifier_shows(net: Network) -> None:
    """Some unit of the single ReLU/leaky layer sits at z < 0 with a − y ≠ 0, so that dropping
    σ'(z) changes the answer; some sits at z > 0; none at the kink."""
    z, a = _z(net), _rectified(net)
    if any(v == 0 for v in z):
        raise Degenerate("z = 0 at a ReLU kink")
    if not any(v > 0 for v in z):
        raise Degenerate("every unit is below zero")
    if not any(z[i] < 0 and a[i] != net.y[i] for i in range(len(z))):
        raise Degenerate("no unit below zero carries an error")


# The grids of difficulties 2 and 3: tenths and twentieths (two decimals whose products still
# end within four decimal places, so the story prints them as decimals).
_DEN = {1: 1, 2: 10, 3: 20}
# How far each activation's weights and biases reach (numerators on the grid): tanh saturates
# early, so its layers draw from a narrower range than the sigmoid's. Inputs reach ±1.5.
_REACH = {2: {"sigmoid": 15, "tanh": 10, "softmax": 10, "input": 15},
          3: {"sigmoid": 30, "tanh": 15, "relu": 20, "leaky_relu": 20, "softmax": 20,
              "input": 30}}
# Where some output z must lie: away from saturation, and where σ'(z) differs clearly from the
# wrong derivatives z(1 − z), σ(z) and σ'(a). For the sigmoid σ'(a) meets σ'(z) near |z| = 0.9
# and σ(z) nears σ'(z) as z → −∞; for tanh 1 − z² and σ'(a) near z = 0, and a = 1 − a² near
# z = 0.72.
_LIVELY = {"sigmoid": (1.1, 2.7), "tanh": (0.85, 1.9)}
_SATURATED = {"sigmoid": 3.8, "tanh": 1.9}  # |z| beyond which the generic check would refuse


def _grid(rng: np.random.Generator, rows: int, cols: int, difficulty: int,
          what: str) -> sympy.Matrix:
    """Nonzero values on the difficulty's grid within the reach of ``what`` (an activation, or
    "input"): a zero input would zero a whole gradient column."""
    r, den = _REACH[difficulty][what], _DEN[difficulty]
    nums = rng.choice(np.r_[-r:0, 1:r + 1], size=(rows, cols))
    return sympy.Matrix(rows, cols, [sympy.Rational(int(v), den) for v in nums.ravel()])


def _net(rng: np.random.Generator, widths: Sequence[int], acts: Sequence[str], loss: str, m: int,
         difficulty: int) -> Network:
    """A difficulty-2/3 net on the grid, each layer's weights within its activation's reach."""
    x = _grid(rng, widths[0], m, difficulty, "input")
    layers = []
    for nin, nout, act in zip(widths[:-1], widths[1:], acts, strict=True):
        layers.append(Layer(W=_grid(rng, nout, nin, difficulty, act),
                            b=_grid(rng, nout, 1, difficulty, act), activation=act))
    lr = sympy.Rational(draw.pick(rng, draw.LEARNING_RATES[difficulty]))
    return Network(x=x, y=draw.targets(rng, loss, widths[-1], m, difficulty),
                   layers=tuple(layers), loss=loss, learning_rate=lr)


def _lively(net: Network) -> None:
    """No sigmoid/tanh layer near saturation, and some output z in its ``_LIVELY`` range."""
    a = FLOAT.matrix(net.x)
    for L in net.layers:
        z = forward(FLOAT, FLOAT.matrix(L.W), FLOAT.matrix(L.b), a)
        a = activate(FLOAT, L.activation, z, L.alpha)
        if L.activation in _SATURATED and np.any(np.abs(z) > _SATURATED[L.activation]):
            raise Degenerate(f"{L.activation} saturates")
    low, high = _LIVELY.get(net.layers[-1].activation, (0, np.inf))
    if not np.any((np.abs(z) >= low) & (np.abs(z) <= high)):
        raise Degenerate("no output z where the derivative's mistakes show")


def _outputs(net: Network, upto: int | None = None) -> list[np.ndarray]:
    """The float activations a_0 = x, a_1, ... (through layer ``upto``, 1-based; all by default)."""
    a = [FLOAT.matrix(net.x)]
    for L in net.layers[:upto]:
        z = forward(FLOAT, FLOAT.matrix(L.W), FLOAT.matrix(L.b), a[-1])
        a.append(activate(FLOAT, L.activation, z, L.alpha))
    return a


def _place(rng: np.random.Generator, net: Network, difficulty: int) -> Network:
    """The single-example net with its output biases chosen on the grid so that no output z
    saturates and a random unit's z lies in the ``_LIVELY`` range."""
    L, den = net.layers[-1], _DEN[difficulty]
    low, high = _LIVELY[L.activation]
    s = FLOAT.matrix(L.W) @ _outputs(net, len(net.layers) - 1)[-1]
    lively = int(rng.integers(L.nout))
    b = L.b.copy()
    for u in range(L.nout):
        floor = low if u == lively else 0
        ks = [k for k in range(-3 * den // 2, 3 * den // 2 + 1)
              if floor <= abs(s[u, 0] + k / den) <= high]
        if not ks:
            raise Degenerate("no bias puts z where the derivative's mistakes show")
        b[u, 0] = sympy.Rational(int(rng.choice(ks)), den)
    layers = (*net.layers[:-1], dataclasses.replace(L, b=b))
    return dataclasses.replace(net, layers=layers)


def _far_targets(rng: np.random.Generator, net: Network, difficulty: int, gap: float) -> Network:
    """Targets in the output's range ([0, 1] for the sigmoid, [−1, 1] for tanh), on the
    difficulty's grid, each at least ``gap`` from its output: the error
    a − y, and with it every gradient, is never so small that mistakes look like rounding."""
    scale = _DEN[difficulty]
    lowest = 0 if net.layers[-1].activation == "sigmoid" else -scale
    a = _outputs(net)[-1]
    y = sympy.zeros(*a.shape)
    for idx in np.ndindex(*a.shape):
        ks = [k for k in range(lowest, scale + 1) if abs(a[idx] - k / scale) >= gap]
        y[idx] = sympy.Rational(int(rng.choice(ks)), scale)
    return dataclasses.replace(net, y=y)


def _two_layer(rng: np.random.Generator, widths: tuple[int, int, int], m: int) -> Network:
    """A difficulty-3 net: ReLU, leaky ReLU or tanh hidden layer, sigmoid or tanh output, squared
    loss."""
    acts = [draw.pick(rng, HIDDEN), draw.pick(rng, SQUASHING)]
    return _net(rng, widths, acts, draw.pick(rng, SQUARED_LOSSES), m, 3)


# --- stories ---------------------------------------------------------------------------------


def _index(net: Network, k: int) -> int | None:
    """The layer's subscript in the story: none for a single layer."""
    return None if len(net.layers) == 1 else k + 1


def _input_name(k: int) -> str:
    return "x" if k == 0 else f"a_{{{k}}}"


def _story_to(setup: Setup, layer: int) -> list[Step]:
    """Forward pass, loss and backprop down to δ of ``layer`` (1-based), with exact numbers."""
    net, d = setup.net, setup.exact
    steps: list[Step] = []
    for k, L in enumerate(d.layers):
        steps += story.forward(L, _index(net, k), input_name=_input_name(k))
    steps.append(story.loss(net, d))
    steps.append(story.output_gradient(net, d.layers[-1]))
    for k in reversed(range(layer - 1, len(d.layers))):
        L = d.layers[k]
        if k < len(d.layers) - 1:
            steps.append(story.backward(d.layers[k + 1], k + 1))
        steps.append(story.activation_derivative(L, _index(net, k)))
        steps.append(story.delta(L, _index(net, k)))
    return steps


def _story_to_weights(setup: Setup, part: str | None = None
                      ) -> tuple[list[Step], LayerDerivation[Any], int | None]:
    """``_story_to`` the asked layer and on to its weight gradient (the answer ``part``, if
    one); with that layer's derivation and subscript, for the steps that follow."""
    layer = setup.params["layer"]
    L = setup.exact.layers[layer - 1]
    idx = _index(setup.net, layer - 1)
    steps = [*_story_to(setup, layer),
             story.weight_gradient(L, idx, part=part, input_name=_input_name(layer - 1))]
    return steps, L, idx


def _which(net: Network, layer: int, symbol: str, what: str) -> str:
    """'$∂C/∂W$, the gradient ... ' naming the layer only when there are several."""
    if len(net.layers) == 1:
        return f"$\\partial C/\\partial {symbol}$, the gradient of the cost with respect to {what}"
    return (f"$\\partial C/\\partial {symbol}_{{{layer}}}$, the gradient of the cost with "
            "respect to "
            f"{what} of layer {layer}")


# --- the table of a difficulty ---------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Grid(Level):
    """One difficulty of a type of this module: ``by_hand`` draws its network (difficulty 1,
    where each type builds the small exact numbers its mistakes need), or else a net on the
    difficulty's grid of the given widths (inputs first), each layer's activation drawn from
    its options and the loss from ``losses``, over ``m`` examples; ``layer`` (1-based) is the
    one asked about."""

    by_hand: Callable[[np.random.Generator], Network] | None = None
    widths: tuple[int, ...] = (2, 2)
    activations: tuple[tuple[str, ...], ...] = (SQUASHING,)
    losses: tuple[str, ...] = SQUARED_LOSSES
    m: int = 1
    layer: int = 1


def _drawn_net(rng: np.random.Generator, row: Grid, difficulty: int) -> Network:
    """The net of ``row``: its own ``by_hand`` drawing, or one on the difficulty's grid."""
    if row.by_hand is not None:
        return row.by_hand(rng)
    acts = [draw.pick(rng, options) for options in row.activations]
    return _net(rng, row.widths, acts, draw.pick(rng, row.losses), row.m, difficulty)


def _settled(rng: np.random.Generator, net: Network, difficulty: int) -> Network:
    """A grid net whose gradients show every mistake plainly: with one example, its output
    biases placed (``_place``); over a batch, where no bias fits every example, checked
    (``_lively``); then targets at least 0.3 from the outputs (``_far_targets``)."""
    if net.m == 1:
        net = _place(rng, net, difficulty)
    else:
        _lively(net)
    return _far_targets(rng, net, difficulty, 0.3)


class _GradientType(Levelled[Grid]):
    """A type that asks the gradients of one layer of its difficulty's net."""

    def draw(self, rng: np.random.Generator, difficulty: int) -> Setup:
        row = self.levels[difficulty]
        net = _drawn_net(rng, row, difficulty)
        if row.by_hand is None:
            net = _settled(rng, net, difficulty)
        return Setup(net, {"layer": row.layer})

    def fit(self, network: Network) -> Setup | None:
        """Any depth with an elementwise output; the question is on layer 1 (on one layer,
        the output layer)."""
        return Setup(network, {"layer": 1}) if squashed_output(network) else None


# --- bias-gradient ---------------------------------------------------------------------------


def _leaky_single(rng: np.random.Generator) -> Network:
    """Difficulty 1 of bias-gradient: leaky ReLU with a unit below zero, where σ' = α, so
    dropping it shows."""
    net = _off_kinks(rng, draw.network(rng, (2, 2), ["leaky_relu"], "half_sse", 1, 1))
    net = _with_signs(net, _signs(rng, 2, positive=int(rng.integers(2))))
    _rectifier_shows(net)
    if any(v == 0 for v in _rectified(net) - net.y):
        raise Degenerate("a unit without error makes δ⊙x a multiple of δ")
    return draw.alive(net)


_BIAS_TAGS = shows(("bias-times-input", "missing-activation-derivative", "sign-flip",
                    "factor-of-two"))


@register
class BiasGradient(_GradientType):
    id = "bias-gradient"
    version = 2
    title = "Bias gradient"
    summary = "dC/db of one layer: δ itself (summed over the batch), since dz/db = 1."
    parts = (Part("dC_db", "matrix", r"$\partial C / \partial b$"),)

    # Square layers throughout, so that δ⊙x (one form of bias-times-input) fits. At
    # difficulty 3 the hidden layer of a two-layer net, over a batch of 3 (never 2: a sum
    # of two examples would look exactly like a factor of two).
    levels = table({
        1: Grid(by_hand=_leaky_single, shows=_BIAS_TAGS[1]),
        2: Grid(shows=_BIAS_TAGS[2]),
        3: Grid(widths=(3, 3, 2), activations=(HIDDEN, SQUASHING), m=3, shows=_BIAS_TAGS[3]),
    })

    def draw(self, rng: np.random.Generator, difficulty: int) -> Setup:
        setup = super().draw(rng, difficulty)
        _distinct_inputs(setup.net)
        return setup

    def extract(self, setup: Setup, d: Derivation) -> dict[str, Any]:
        return {"dC_db": d.layers[setup.params["layer"] - 1].dC_db}

    def prompt(self, setup: Setup) -> str:
        net, layer = setup.net, setup.params["layer"]
        return (f"{text.layers(net)} {text.data(net)} Compute "
                f"{_which(net, layer, 'b', 'the biases')}."
                f" {text.TOLERANCE}")

    def story(self, setup: Setup) -> list[Step]:
        layer = setup.params["layer"]
        L = setup.exact.layers[layer - 1]
        return [*_story_to(setup, layer),
                story.bias_gradient(L, _index(setup.net, layer - 1),
                                                           part="dC_db")]


# --- batch-gradient --------------------------------------------------------------------------


def _rectified_batch(rng: np.random.Generator) -> Network:
    """Difficulty 1 of batch-gradient: a ReLU or leaky ReLU layer over a batch of 3, where
    a unit may be below zero on some examples, never on all."""
    act = draw.pick(rng, ("relu", "leaky_relu"))
    net = _off_kinks(rng, draw.network(rng, (2, 2), [act], "half_sse", 3, 1))
    if act == "relu":  # a unit below zero passes no error back: make y count there
        net = dataclasses.replace(net, y=draw.values(rng, 2, 3, 1))
    _rectifier_shows(net)
    return draw.small_gradients(draw.alive(net))


_BATCH_TAGS = shows(("batch-sum-not-mean", "transposed-gradient", "sign-flip",
                     "bias-times-input", "missing-activation-derivative"), batch=4)


@register
class BatchGradient(_GradientType):
    id = "batch-gradient"
    version = 2
    title = "Mini-batch gradient"
    summary = "dC/dW and dC/db over a mini-batch: the mean of the examples' gradients."
    parts = (Part("dC_dW", "matrix", r"$\partial C / \partial W$"),
             Part("dC_db", "matrix", r"$\partial C / \partial b$"))

    # m = 3 at every difficulty: the sum of 2 examples would look like a factor of two.
    levels = table({
        1: Grid(by_hand=_rectified_batch, shows=_BATCH_TAGS[1]),
        2: Grid(m=3, shows=_BATCH_TAGS[2]),
        3: Grid(widths=(2, 3, 3), activations=(HIDDEN, SQUASHING), m=3, layer=2,
                shows=_BATCH_TAGS[3]),
    })

    def fit(self, network: Network) -> Setup | None:
        """A batch (more than one example): otherwise it is bias- and weight-gradient."""
        return super().fit(network) if network.m > 1 else None

    def extract(self, setup: Setup, d: Derivation) -> dict[str, Any]:
        L = d.layers[setup.params["layer"] - 1]
        return {"dC_dW": L.dC_dW, "dC_db": L.dC_db}

    def prompt(self, setup: Setup) -> str:
        net, layer = setup.net, setup.params["layer"]
        return (f"{text.layers(net)} {text.data(net)} Compute "
                f"{_which(net, layer, 'W', 'the weights')}"
                f" and {_which(net, layer, 'b', 'the biases')}, for the cost over the whole batch."
                f" {text.TOLERANCE}")

    def story(self, setup: Setup) -> list[Step]:
        steps, L, idx = _story_to_weights(setup, part="dC_dW")
        return [*steps, story.bias_gradient(L, idx, part="dC_db")]


# --- weight-update ---------------------------------------------------------------------------

# Numerator ranges (on the difficulty's grid) of the named old weight and of its swap.
_SMALL = {1: (1, 1), 2: (1, 1), 3: (1, 2)}
_LARGE = {1: (2, 3), 2: (5, 10), 3: (6, 15)}


def _name_entry(rng: np.random.Generator, net: Network, layer: int, entry: tuple[int, int],
                difficulty: int) -> Network:
    """``net`` with the named old weight w_ij small and its swap w_ji large.

    A step η·g is small beside a large weight: every mistake would move the new entry by
    a few percent, inside the band we read as early rounding. Beside a small w_ij the
    step dominates the entry, and a large w_ji keeps the swapped entry well apart.
    """
    (i, j), den = entry, _DEN[difficulty]
    L = net.layers[layer - 1]
    W = L.W.copy()
    for (r, c), (low, high) in (((i, j), _SMALL[difficulty]), ((j, i), _LARGE[difficulty])):
        sign = 1 if rng.integers(2) else -1
        W[r - 1, c - 1] = sympy.Rational(sign * int(rng.integers(low, high + 1)), den)
    layers = list(net.layers)
    layers[layer - 1] = dataclasses.replace(L, W=W)
    return dataclasses.replace(net, layers=tuple(layers))


@register
class WeightUpdate(ExerciseType):
    id = "weight-update"
    version = 2
    title = "Weight update"
    summary = "One step of gradient descent, W − η·dC/dW, and one named entry of the result."
    parts = (Part("W_new", "matrix", r"$W^{\text{new}}$"),
             Part("w_entry", "scalar", r"the named entry of $W^{\text{new}}$"))

    def must_show(self, difficulty: int) -> tuple[str, ...]:
        # Not sign-flip as well: it gives W + η·g, gradient-ascent's answer, and is named
        # with it as its alternative.
        return ("gradient-ascent", "missing-learning-rate", "index-swap", "transposed-gradient",
                "factor-of-two", "missing-activation-derivative")

    def draw(self, rng: np.random.Generator, difficulty: int) -> Setup:
        # 3×3 weights: square for the transposed gradient, and room for a named entry (i, j)
        # whose swap (j, i) and 0-based reading (i + 1, j + 1) are both other entries.
        i, j = ((1, 2), (2, 1))[int(rng.integers(2))]
        if difficulty == 1:
            # One example, and a unit below zero: a leaky ReLU, so that unit is not dead.
            net = draw.network(rng, (3, 3), ["leaky_relu"], "half_sse", 1, 1)
            net = _off_kinks(rng, _name_entry(rng, net, 1, (i, j), 1))
            # The named entry's neuron above zero (its weights move); another below, where
            # a dropped σ' shows.
            net = _with_signs(net, _signs(rng, 3, positive=i - 1))
            _rectifier_shows(net)
            if _rectified(net)[i - 1] == net.y[i - 1]:
                raise Degenerate("the named weight's neuron has no error: it would not move")
            net, layer = draw.alive(net), 1
        elif difficulty == 2:
            net = _net(rng, (3, 3), [draw.pick(rng, SQUASHING)], draw.pick(rng, SQUARED_LOSSES),
                       1, 2)
            net, layer = _name_entry(rng, net, 1, (i, j), 2), 1
            # The named weight's input sizable, so that its gradient δ_i·x_j is too.
            x = net.x.copy()
            x[j - 1, 0] = sympy.Rational(int(rng.choice([-1, 1]) * rng.integers(5, 16)), 10)
            net = _far_targets(rng, _place(rng, dataclasses.replace(net, x=x), 2), 2, 0.5)
        else:
            net = _two_layer(rng, (2, 3, 3), 1)
            net, layer = _name_entry(rng, net, 2, (i, j), 3), 2
            # The named weight's input a_1j from a hidden unit above zero, and sizable.
            z1 = _z(net)
            if abs(z1[j - 1, 0]) < sympy.Rational(1, 4):
                raise Degenerate("the named weight's input is small")
            net = _with_signs(net, [1 if u == j - 1 or v > 0 else -1 for u, v in enumerate(z1)])
            net = _far_targets(rng, _place(rng, net, 3), 3, 0.5)
        net = dataclasses.replace(
            net, learning_rate=sympy.Rational(draw.pick(rng, UPDATE_RATES[difficulty])))
        return Setup(net, {"layer": layer, "row": i, "column": j})

    def fit(self, network: Network) -> Setup | None:
        """Any depth with an elementwise output; layer 1's weights, and the entry whose
        gradient is largest in size (the first such, row by row), where the step shows most."""
        if not squashed_output(network):
            return None
        g = Setup(network).plain.layers[0].dC_dW
        assert g is not None  # a plain derivation computes every stage
        i, j = np.unravel_index(int(np.argmax(np.abs(g))), g.shape)
        return Setup(network, {"layer": 1, "row": int(i) + 1, "column": int(j) + 1})

    def extract(self, setup: Setup, d: Derivation) -> dict[str, Any]:
        L = d.layers[setup.params["layer"] - 1]
        i, j = setup.params["row"] - 1, setup.params["column"] - 1
        if Slip.INDEX_SWAP in d.slips:
            i, j = j, i
        if Slip.ZERO_BASED_INDEX in d.slips:
            i, j = i + 1, j + 1  # the numbers (i, j) read as 0-based indices
        W_new = L.W_new
        # A given network's W may be too small for the misread entry: then no prediction.
        return {"W_new": W_new, "w_entry": _entry(W_new, i, j)}

    def follow_on(self, setup: Setup, part: str, given: dict[str, Any]) -> Any | None:
        """The named entry read from the student's own W_new."""
        W_new = given.get("W_new")
        i, j = setup.params["row"], setup.params["column"]
        if part != "w_entry" or W_new is None or W_new.shape[0] < i or W_new.shape[1] < j:
            return None
        return float(W_new[i - 1, j - 1])

    def prompt(self, setup: Setup) -> str:
        net, layer = setup.net, setup.params["layer"]
        i, j = setup.params["row"], setup.params["column"]
        W = "W" if len(net.layers) == 1 else f"W_{{{layer}}}"
        which = "" if len(net.layers) == 1 else f" of layer {layer}"
        return (f"{text.layers(net)} {text.data(net)} Take one step of gradient descent with "
                f"learning rate $\\eta = {tex.number(net.learning_rate)}$: compute the new "
                f"weights ${W}^{{\\text{{new}}}}${which}, and the entry in row {i}, column {j} "
                f"of ${W}^{{\\text{{new}}}}$ (rows and columns counted from 1). {text.TOLERANCE}")

    def story(self, setup: Setup) -> list[Step]:
        steps, L, idx = _story_to_weights(setup)
        return [*steps, *story.update(L, idx, setup.net.learning_rate, part="W_new",
                                      entry=(setup.params["row"], setup.params["column"]),
                                      entry_part="w_entry")]


# --- chain-rule ------------------------------------------------------------------------------


def _neuron(rng: np.random.Generator, act: str, loss: str, difficulty: int) -> Network:
    """One neuron with two inputs, its bias chosen to put z in the ``_LIVELY`` range, its target
    (but for binary cross-entropy's 0 or 1) at least 0.3 from its output: dC/da is not tiny."""
    net = _place(rng, _net(rng, (2, 1), [act], loss, 1, difficulty), difficulty)
    if loss == "binary_cross_entropy":
        return net
    return _far_targets(rng, net, difficulty, 0.3)


# Difficulty 1: a leaky ReLU neuron below zero, so that σ'(z) = α is not 1 and dropping it
# shows, yet every factor stays an exact small rational. Slopes other than ½ (where a dropped
# σ' would double the answer, exactly a factor of two); weights in ±1..4, inputs in ±1..5,
# biases in −4..4, half-integer targets in −3..3: a few million neurons to ask about.
_CHAIN_SLOPES = ("1/10", "1/5", "1/4")
_CHAIN_WEIGHTS = np.r_[-4:0, 1:5]
_CHAIN_INPUTS = np.r_[-5:0, 1:6]
_CHAIN_BIASES = np.arange(-4, 5)
_CHAIN_TARGETS = np.arange(-6, 7)  # halves


def _leaky_neuron(rng: np.random.Generator) -> Network:
    """The difficulty-1 neuron: two inputs, z = w·x + b < 0 (b drawn among those that put z
    there), a leaky ReLU, half the squared error."""
    w = rng.choice(_CHAIN_WEIGHTS, size=2)
    x = rng.choice(_CHAIN_INPUTS, size=2)
    below = [int(b) for b in _CHAIN_BIASES if int(w @ x) + b < 0]
    if not below:
        raise Degenerate("no bias puts z below zero")
    layer = Layer(W=sympy.Matrix([[int(v) for v in w]]), b=sympy.Matrix([[int(rng.choice(below))]]),
                  activation="leaky_relu", alpha=sympy.Rational(draw.pick(rng, _CHAIN_SLOPES)))
    y = sympy.Rational(int(rng.choice(_CHAIN_TARGETS)), 2)
    return Network(x=sympy.Matrix([[int(v)] for v in x]), y=sympy.Matrix([[y]]), layers=(layer,),
                   loss="half_sse", learning_rate=sympy.Rational(1, 10))


@dataclass(frozen=True, kw_only=True)
class Neuron(Level):
    """One difficulty of chain-rule: the neuron ``by_hand`` draws (difficulty 1), or else
    one of ``neurons``, an activation and the losses to draw from, drawn with equal odds."""

    by_hand: Callable[[np.random.Generator], Network] | None = None
    neurons: tuple[tuple[str, tuple[str, ...]], ...] = ()


_CHAIN_TAGS = shows(("sign-flip", "raw-error-as-loss", "factor-of-two",
                     "missing-activation-derivative", "wrong-layer-input",
                     "activation-skipped"), batch=4)


@register
class ChainRule(Levelled[Neuron]):
    id = "chain-rule"
    version = 2
    title = "The chain rule, factor by factor"
    summary = "One neuron: dC/dw = dC/da · da/dz · dz/dw, each factor and the product."
    parts = (Part("dC_da", "scalar", r"$\partial C / \partial a$"),
             Part("da_dz", "scalar", r"$\partial a / \partial z$"),
             Part("dz_dw", "scalar", r"$\partial z / \partial w$"),
             Part("dC_dw", "scalar", r"$\partial C / \partial w$"))

    levels = table({
        1: Neuron(by_hand=_leaky_neuron, shows=_CHAIN_TAGS[1]),
        2: Neuron(neurons=(("sigmoid", SQUARED_LOSSES),), shows=_CHAIN_TAGS[2]),
        3: Neuron(neurons=(("sigmoid", ("binary_cross_entropy",)), ("tanh", SQUARED_LOSSES)),
                  shows=_CHAIN_TAGS[3]),
    })

    def draw(self, rng: np.random.Generator, difficulty: int) -> Setup:
        # One neuron with two inputs. At difficulty 1 every input is a nonzero integer and
        # the question names either weight; above, it names the weight w_j of the larger input
        # (a small x_j would shrink every product to where mistakes look like rounding).
        row = self.levels[difficulty]
        if row.by_hand is not None:
            return Setup(row.by_hand(rng), {"input": int(rng.integers(2)) + 1})
        act, losses = row.neurons[int(rng.integers(len(row.neurons)))]
        net = _neuron(rng, act, draw.pick(rng, losses), difficulty)
        return Setup(net, {"input": int(np.argmax(np.abs(FLOAT.matrix(net.x[:, 0])))) + 1})

    def fit(self, network: Network) -> Setup | None:
        """One neuron with two inputs on one example, elementwise; the weight of the larger
        input (the first on a tie), as the draws above difficulty 1 name it."""
        if (len(network.layers) != 1 or network.layers[0].nout != 1
                or network.layers[0].nin != 2 or network.m != 1
                or not squashed_output(network)):
            return None
        x = FLOAT.matrix(network.x[:, 0])
        return Setup(network, {"input": int(np.argmax(np.abs(x))) + 1})

    def extract(self, setup: Setup, d: Derivation) -> dict[str, Any]:
        L = d.layers[0]
        j = setup.params["input"] - 1
        if L.a_in is not None and L.a_in.shape[-2] == 1:
            j = 0  # the neuron's own output a (one number) taken where x_j belongs
        return {
            "dC_da": _entry(L.dC_da, 0, 0),
            # Skipping the activation answers da/dz = 1, which on this part *is* dropping σ':
            # leave that answer to missing-activation-derivative.
            "da_dz": None if Slip.ACTIVATION_SKIPPED in d.slips else _entry(L.da_dz, 0, 0),
            "dz_dw": _entry(L.a_in, j, 0),
            "dC_dw": _entry(L.dC_dW, 0, j),
        }

    def follow_on(self, setup: Setup, part: str, given: dict[str, Any]) -> Any | None:
        """dC/dw as the product of the student's own three factors."""
        if part != "dC_dw" or any(given.get(p) is None for p in ("dC_da", "da_dz", "dz_dw")):
            return None
        return given["dC_da"] * given["da_dz"] * given["dz_dw"]

    def prompt(self, setup: Setup) -> str:
        net, j = setup.net, setup.params["input"]
        L = net.layers[0]
        w = ", ".join(f"$w_{k + 1} = {tex.number(L.W[0, k])}$" for k in range(L.nin))
        x = ", ".join(f"$x_{k + 1} = {tex.number(net.x[k, 0])}$" for k in range(L.nin))
        return (
            f"One neuron computes $z = w_1 x_1 + w_2 x_2 + b$ and $a = \\sigma(z)$ with {w}, "
            f"$b = {tex.number(L.b[0, 0])}$ and {text.activation_name(net, 0)}. Its inputs are "
            f"{x} and the target is $y = {tex.number(net.y[0, 0])}$; the loss is "
            f"{text.LOSS_NAMES[net.loss]}. By the chain rule "
            f"$\\frac{{\\partial C}}{{\\partial w_{j}}} = "
            f"\\frac{{\\partial C}}{{\\partial a}} \\cdot \\frac{{\\partial a}}{{\\partial z}} "
            f"\\cdot \\frac{{\\partial z}}{{\\partial w_{j}}}$. "
            f"Compute each of the three factors, then $\\partial C/\\partial w_{j}$. "
            f"{text.TOLERANCE}"
        )

    def story(self, setup: Setup) -> list[Step]:
        net, d, j = setup.net, setup.exact, setup.params["input"]
        L = d.layers[0]
        z, a, x = draw.known(L.z)[0, 0], draw.known(L.a)[0, 0], net.x[j - 1, 0]
        dC_da, da_dz = draw.known(L.dC_da)[0, 0], draw.known(L.da_dz)[0, 0]
        dC_dw = draw.known(L.dC_dW)[0, j - 1]
        terms = " + ".join(rf"{_factor(L.W[0, k])} \cdot {_factor(net.x[k, 0])}"
                           for k in range(net.x.rows))
        return [
            Step("Forward pass",
                 "The weighted input z, then the neuron's output a = σ(z): the prediction is a, "
                 "not z.",
                 rf"z = {terms} + {_factor(L.b[0, 0])} = {tex.number(z)}, \quad "
                 rf"{story.ACTIVATION_FORMULA[L.activation]} = {tex.number(a)}"),
            story.loss(net, d),
            Step("How the cost changes with the prediction",
                 "The first factor: differentiate the loss with respect to the prediction a "
                 "(the loss is a function of a and y, not a − y itself).",
                 rf"{story.LOSS_GRADIENT[net.loss]} = {tex.number(dC_da)}", ("dC_da",)),
            Step("How the prediction changes with z",
                 "The second factor: the activation's derivative, evaluated at this z.",
                 rf"{story.DERIVATIVE_FORMULA[L.activation]} \;\Rightarrow\; "
                 rf"\frac{{\partial a}}{{\partial z}} = {tex.number(da_dz)}", ("da_dz",)),
            Step("How z changes with the weight",
                 f"The third factor: z = w₁x₁ + w₂x₂ + b is linear in w_{j}, with slope the "
                 f"input that w_{j} multiplies, x_{j} (not the neuron's output a).",
                 rf"\frac{{\partial z}}{{\partial w_{j}}} = x_{j} = {tex.number(x)}", ("dz_dw",)),
            Step("The chain rule",
                 "Multiply the three factors: how C moves with a, a with z, and z with the weight.",
                 rf"\frac{{\partial C}}{{\partial w_{j}}} = \frac{{\partial C}}{{\partial a}} "
                 rf"\cdot \frac{{\partial a}}{{\partial z}} \cdot "
                 rf"\frac{{\partial z}}{{\partial w_{j}}} = {_factor(dC_da)} \cdot "
                 rf"{_factor(da_dz)} \cdot {_factor(x)} = {tex.number(dC_dw)}", ("dC_dw",)),
        ]


def _factor(v: Any) -> str:
    """A number as a factor in a product: negatives in parentheses."""
    printed = tex.number(v)
    return f"({printed})" if printed.startswith("-") else printed


def _entry(M: Any, i: int, j: int) -> Any:
    """Entry (i, j) of an exact or float matrix; None where a slip left the matrix undefined
    or gave it a shape without that entry."""
    return None if M is None or i >= M.shape[-2] or j >= M.shape[-1] else M[i, j]


# --- softmax-cross-entropy -------------------------------------------------------------------


# The weights and inputs of the difficulty-1 softmax layer, by its number of classes.
_SOFTMAX_VALUES = {2: np.r_[-4:0, 1:5], 3: np.r_[-3:0, 1:4]}


def _uniform_softmax(rng: np.random.Generator) -> Network:
    """Difficulty 1 of softmax-cross-entropy: each bias cancels its row's w_i·x, so every
    class has z = 0: a = 1/n, and e^z = 1 keeps a exactly rational in any engine. Three
    classes two times in three, and two classes with a wider range of values: many problems
    to draw from."""
    n = 3 if rng.integers(3) else 2
    values = _SOFTMAX_VALUES[n]
    W = sympy.Matrix(n, n, [int(v) for v in rng.choice(values, size=n * n)])
    x = sympy.Matrix(n, 1, [int(v) for v in rng.choice(values, size=n)])
    layer = Layer(W=W, b=-W * x, activation="softmax")
    return Network(x=x, y=draw.targets(rng, "cross_entropy", n, 1, 1), layers=(layer,),
                   loss="cross_entropy", learning_rate=sympy.Rational(1, 10))


# xᵀδ and δ⊙x fit while there are as many inputs as classes (one example).
_SOFTMAX_TAGS = ("softmax-extra-derivative", "sign-flip", "transposed-gradient")


@register
class SoftmaxCrossEntropy(Levelled[Grid]):
    id = "softmax-cross-entropy"
    version = 2
    title = "Softmax with cross-entropy"
    summary = "The softmax output, its error δ = (a − y)/m, and dC/dW = δ·xᵀ."
    parts = (Part("a", "matrix", "$a$"),
             Part("delta", "matrix", r"$\delta$"),
             Part("dC_dW", "matrix", r"$\partial C / \partial W$"))

    levels = table({
        1: Grid(by_hand=_uniform_softmax, shows=(*_SOFTMAX_TAGS, "dot-instead-of-outer")),
        2: Grid(widths=(3, 3), activations=(("softmax",),), losses=("cross_entropy",),
                shows=(*_SOFTMAX_TAGS, "dot-instead-of-outer")),
        3: Grid(widths=(3, 3), activations=(("softmax",),), losses=("cross_entropy",), m=3,
                shows=(*_SOFTMAX_TAGS, BATCH_SUM)),
    })

    def draw(self, rng: np.random.Generator, difficulty: int) -> Setup:
        return Setup(_drawn_net(rng, self.levels[difficulty], difficulty), {})

    def fit(self, network: Network) -> Setup | None:
        """One softmax layer with the cross-entropy loss."""
        if (len(network.layers) != 1 or network.layers[0].activation != "softmax"
                or network.loss != "cross_entropy"):
            return None
        return Setup(network, {})

    def extract(self, setup: Setup, d: Derivation) -> dict[str, Any]:
        L = d.layers[0]
        return {"a": L.a, "delta": L.delta, "dC_dW": L.dC_dW}

    def follow_on(self, setup: Setup, part: str, given: dict[str, Any]) -> Any | None:
        """δ from the student's own a; dC/dW from the student's own δ."""
        net = setup.net
        if part == "delta" and given.get("a") is not None:
            a, y = given["a"], FLOAT.matrix(net.y)
            # Softmax with cross-entropy: the Jacobian product simplifies to (a − y)/m, and this
            # form stays finite for any a the student gives.
            return (a - y) / net.m if a.shape == y.shape else None
        if part == "dC_dW" and given.get("delta") is not None:
            try:
                return weight_gradient(FLOAT, given["delta"], FLOAT.matrix(net.x))
            except ShapeMismatch:
                return None
        return None

    def prompt(self, setup: Setup) -> str:
        net = setup.net
        return (f"{text.layers(net)} {text.data(net)} Compute the output $a$ of the softmax, the "
                f"error $\\delta = \\partial C/\\partial z$ at its input, and "
                f"$\\partial C/\\partial W$. {text.TOLERANCE}")

    def story(self, setup: Setup) -> list[Step]:
        L = setup.exact.layers[0]
        return [
            *story.forward(L, None, a_part="a"),
            story.loss(setup.net, setup.exact),
            story.delta(L, None, part="delta", softmax_cross_entropy=True),
            story.weight_gradient(L, None, part="dC_dW"),
        ]
