"""The first steps of backprop, one quantity at a time: forward pass, loss, dC/da, σ'(z), δ.

Each type asks for one link of the chain on a single layer, so a student's mistake has
nowhere to hide: the prediction taken as z, the loss taken as a − y, the ½ of the
squared error, σ'(z) computed from the wrong thing, a dot product where ⊙ belongs.
Where the question starts from z (output-error, activation-derivative, delta), the
prompt states z so the exercise is about the step asked, not about the matrix product.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import sympy

from .. import latex as tex
from .. import solution as story
from ..engine import FLOAT, Derivation, ShapeMismatch, Slip, activate, forward
from ..network import Network
from ..problem import Part
from ..registry import Setup, register
from . import draw, text
from .levels import (
    BATCH_SUM,
    WRONG_DERIVATIVE,
    Level,
    Levelled,
    shows,
    squashed_output,
    table,
)

# Activations whose outputs stay exact small rationals (difficulty 1, and the shown a of `loss`).
PIECEWISE_LINEAR = ("relu", "leaky_relu")
# Difficulty 1 asks about one example, where a ReLU unit below zero is dead (output and
# gradient row 0) and one above zero is the identity: the leaky ReLU keeps a unit below zero
# alive, and there a skipped activation or a dropped σ' still shows.
ONE_EXAMPLE_RECTIFIERS = ("leaky_relu",)
SMOOTH = ("sigmoid", "tanh")
SQUARED_LOSSES = ("half_sse", "mse")
# Keep sigmoid/tanh inputs where the generic check finds no saturation (a in (0.02, 0.98),
# |tanh| <= 0.96), with a margin.
Z_LIMIT = {"sigmoid": 3.8, "tanh": 1.9}
ROW_TRIES = 20


def _net(rng: np.random.Generator, nin: int, nout: int, activations: tuple[str, ...],
         m: int, difficulty: int, losses: tuple[str, ...] = SQUARED_LOSSES) -> Network:
    """One layer, its activation and loss picked from the given options, its rows shaped
    so that the generic checks seldom have to redraw (see ``_shape_rows``); at difficulty 1
    no unit dead."""
    act = draw.pick(rng, activations)
    net = draw.network(rng, (nin, nout), [act], draw.pick(rng, losses), m, difficulty)
    net = _shape_rows(rng, net, difficulty)
    return draw.alive(net) if difficulty == 1 else net


def _shape_rows(rng: np.random.Generator, net: Network, difficulty: int) -> Network:
    """Redraw the (w_i, b_i) rows of a sigmoid/tanh layer that saturate; flip the rows of a
    single-example ReLU layer so that z has both signs (one unit live, one dead or leaking).

    Rows are independent given x, so redrawing one row alone samples the same distribution
    conditioned on "no saturation"; flipping a row's sign flips z_i and keeps the values.
    """
    L = net.layers[0]
    x = FLOAT.matrix(net.x)
    W, b = L.W.copy(), L.b.copy()
    if L.activation in Z_LIMIT:
        for i in range(L.nout):
            for _ in range(ROW_TRIES):
                z = FLOAT.matrix(W[i, :]) @ x + float(b[i])
                if np.all(np.abs(z) < Z_LIMIT[L.activation]):
                    break
                W[i, :] = draw.values(rng, 1, L.nin, difficulty)
                b[i] = draw.values(rng, 1, 1, difficulty, nonzero=False)[0]
    elif L.activation in PIECEWISE_LINEAR and net.m == 1 and L.nout >= 2:
        z = (FLOAT.matrix(W) @ x + FLOAT.matrix(b))[:, 0]
        want = rng.permutation([1.0, -1.0, *rng.choice([-1.0, 1.0], L.nout - 2)])
        flip = sympy.diag(*[-1 if z[i] * want[i] < 0 else 1 for i in range(L.nout)])
        W, b = flip * W, flip * b
    return replace(net, layers=(replace(L, W=W, b=b),))


def _input(net: Network) -> str:
    if net.m == 1:
        return f"The input is $x = {tex.matrix(net.x)}$."
    return (f"The input is a batch of {net.m} examples, one per column: "
            f"$x = {tex.matrix(net.x)}$.")


def _given_z(setup: Setup) -> str:
    """The sentence that hands the student z (exact: z = Wx + b is rational)."""
    return (f"The layer's weighted input is $z = Wx + b = {tex.matrix(setup.exact.layers[0].z)}$"
            f"{' (one column per example)' if setup.net.m > 1 else ''}.")


@dataclass(frozen=True, kw_only=True)
class OneLayer(Level):
    """One difficulty of a one-layer type: a layer of ``nin`` inputs and ``nout`` units, its
    activation drawn from ``activations``, over ``m`` examples; with ``by_hand``, a cost small
    enough to work out by hand."""

    activations: tuple[str, ...]
    nin: int = 2
    nout: int = 2
    m: int = 1
    by_hand: bool = False


def _output_layer(tags: Mapping[int, tuple[str, ...]]) -> Mapping[int, OneLayer]:
    """The rows of a type that asks about the output layer's error: two units, a rectifier
    on one example, then a smooth activation on one example and on a batch of 3 (never 2,
    whose sum looks exactly like a factor of two)."""
    return table({1: OneLayer(activations=ONE_EXAMPLE_RECTIFIERS, shows=tags[1]),
                  2: OneLayer(activations=SMOOTH, shows=tags[2]),
                  3: OneLayer(activations=SMOOTH, m=3, shows=tags[3])})


# The mistakes forward-pass and loss show at every difficulty.
_FORWARD = ("activation-skipped", "index-swap")
_LOSS = ("raw-error-as-loss", "factor-of-two")


class _OneLayerType(Levelled[OneLayer]):
    """A type that asks one step of a single layer drawn as its difficulty's row says."""

    # Whether the type can ask about a softmax layer (it asks nothing of σ'(z)).
    takes_softmax: ClassVar[bool] = False

    def fit(self, network: Network) -> Setup | None:
        """A given network of one layer (the output layer, which these types ask about)."""
        if len(network.layers) != 1 or not (self.takes_softmax or squashed_output(network)):
            return None
        return Setup(network)

    def draw(self, rng: np.random.Generator, difficulty: int) -> Setup:
        row = self.levels[difficulty]
        net = _net(rng, row.nin, row.nout, row.activations, row.m, difficulty)
        # The cost is the answer of loss: at difficulty 1 one a student works out by hand.
        return Setup(draw.hand_sized(net) if row.by_hand else net)


@register
class ForwardPass(_OneLayerType):
    id = "forward-pass"
    takes_softmax = True
    version = 2
    title = "Forward pass"
    summary = "z = Wx + b and a = σ(z) of one layer."
    parts = (
        Part("z", "matrix", r"$z$, the weighted input"),
        Part("a", "matrix", r"$a = \sigma(z)$, the layer's output"),
    )

    # W is square at every difficulty, so Wᵀx (reading w_ji for w_ij) has the shape of z.
    levels = table({
        1: OneLayer(activations=ONE_EXAMPLE_RECTIFIERS, shows=_FORWARD),
        2: OneLayer(activations=SMOOTH, shows=_FORWARD),
        3: OneLayer(activations=(*PIECEWISE_LINEAR, *SMOOTH), nin=3, nout=3, m=2,
                    shows=_FORWARD),
    })

    def extract(self, setup: Setup, d: Derivation) -> dict[str, Any]:
        L = d.layers[0]
        if Slip.INDEX_SWAP not in d.slips:
            return {"z": L.z, "a": L.a}
        # z_i = Σ_j w_ji x_j: every weight read with its indices swapped, i.e. Wᵀx + b.
        B = d.backend
        z = forward(B, B.T(L.W), L.b, L.a_prev)
        skipped = Slip.ACTIVATION_SKIPPED in d.slips
        a = z if skipped else activate(B, L.activation, z, setup.net.layers[0].alpha)
        return {"z": z, "a": a}

    def follow_on(self, setup: Setup, part: str, given: dict[str, Any]) -> Any | None:
        """a = σ(z) from the student's own z."""
        if part != "a" or given.get("z") is None:
            return None
        L = setup.net.layers[0]
        try:
            return activate(FLOAT, L.activation, np.asarray(given["z"], dtype=np.float64), L.alpha)
        except ShapeMismatch:
            return None

    def prompt(self, setup: Setup) -> str:
        net = setup.net
        return (f"{text.layers(net)} {_input(net)} Compute the forward pass: the layer's "
                f"weighted input $z$ and its output $a$. {text.TOLERANCE}")

    def story(self, setup: Setup) -> list[Any]:
        return story.forward(setup.exact.layers[0], None, z_part="z", a_part="a")


@register
class Loss(_OneLayerType):
    id = "loss"
    takes_softmax = True
    version = 2
    title = "Loss"
    summary = "The cost C of a prediction against its target."
    parts = (Part("C", "scalar", r"$C$, the cost"),)

    # Piecewise-linear outputs at every difficulty: the prompt shows the prediction a,
    # and it must be shown exactly (a rounded sigmoid output would move C).
    # Two outputs, so forgetting mse's 1/n is exactly the factor of two. At difficulty 1
    # the identity: a ReLU below zero would be a dead unit, and a leaky one's tenths,
    # squared and halved, make C a number of 200ths.
    # A batch of 3, not 2: summing two examples would look exactly like a factor of two.
    levels = table({
        1: OneLayer(activations=("identity",), by_hand=True, shows=_LOSS),
        2: OneLayer(activations=("identity", *PIECEWISE_LINEAR), shows=_LOSS),
        3: OneLayer(activations=("identity", *PIECEWISE_LINEAR), m=3,
                    shows=(*_LOSS, BATCH_SUM)),
    })

    def extract(self, setup: Setup, d: Derivation) -> dict[str, Any]:
        return {"C": d.loss}

    def prompt(self, setup: Setup) -> str:
        net, L = setup.net, setup.exact.layers[0]
        return (f"{text.layers(net)} {text.data(net)} On this input the layer computes "
                f"$z = Wx + b = {tex.matrix(L.z)}$ and the prediction "
                f"$a = \\sigma(z) = {tex.matrix(L.a)}$. Compute the cost $C$ of this prediction"
                f"{' (the mean over the examples)' if net.m > 1 else ''}. {text.TOLERANCE}")

    def story(self, setup: Setup) -> list[Any]:
        d = setup.exact
        return [*story.forward(d.layers[0], None), story.loss(setup.net, d, part="C")]


@register
class OutputError(_OneLayerType):
    id = "output-error"
    version = 2
    title = "Output error"
    summary = "dC/da at the output: how the cost changes with the prediction."
    parts = (Part("dC_da", "matrix", r"$\partial C / \partial a$"),)

    levels = _output_layer(shows(("raw-error-as-loss", "sign-flip", "factor-of-two",
                                  "activation-skipped"), smooth=4))

    def extract(self, setup: Setup, d: Derivation) -> dict[str, Any]:
        return {"dC_da": d.layers[0].dC_da}

    def prompt(self, setup: Setup) -> str:
        net = setup.net
        return (f"{text.layers(net)} {text.data(net)} {_given_z(setup)} Compute "
                r"$\partial C/\partial a$, the gradient of the cost with respect to the layer's "
                r"output, the prediction $a = \sigma(z)$. " + text.TOLERANCE)

    def story(self, setup: Setup) -> list[Any]:
        d = setup.exact
        return [*story.forward(d.layers[0], None),
                story.output_gradient(setup.net, d.layers[0], part="dC_da")]


@register
class ActivationDerivative(_OneLayerType):
    id = "activation-derivative"
    version = 2
    title = "Activation derivative"
    summary = "da/dz = σ'(z), entry by entry."
    parts = (Part("da_dz", "matrix", r"$\partial a / \partial z = \sigma'(z)$"),)

    # ReLU's derivative (1 or 0, α for leaky) has no formula to get wrong the library knows.
    levels = table({
        1: OneLayer(activations=ONE_EXAMPLE_RECTIFIERS, nout=3),
        2: OneLayer(activations=SMOOTH, shows=(WRONG_DERIVATIVE,)),
        3: OneLayer(activations=SMOOTH, nout=3, m=3, shows=(WRONG_DERIVATIVE,)),
    })

    def extract(self, setup: Setup, d: Derivation) -> dict[str, Any]:
        return {"da_dz": d.layers[0].da_dz}

    def prompt(self, setup: Setup) -> str:
        net = setup.net
        return (f"{text.layers(net)} {_input(net)} {_given_z(setup)} Compute "
                r"$\partial a/\partial z = \sigma'(z)$, the derivative of the activation at "
                r"each entry of $z$. " + text.TOLERANCE)

    def story(self, setup: Setup) -> list[Any]:
        L = setup.exact.layers[0]
        return [*story.forward(L, None), story.activation_derivative(L, None, part="da_dz")]


@register
class Delta(_OneLayerType):
    id = "delta"
    version = 2
    title = "Output-layer error δ"
    summary = "δ = dC/dz = dC/da ⊙ σ'(z) of the output layer."
    parts = (Part("delta", "matrix", r"$\delta = \partial C / \partial z$"),)

    # Two or more outputs at every difficulty: with one, (dC/da)ᵀσ'(z) is δ itself.
    levels = _output_layer(shows(("missing-activation-derivative", "sign-flip",
                                  "factor-of-two", "dot-instead-of-hadamard",
                                  "activation-skipped", "raw-error-as-loss")))

    def extract(self, setup: Setup, d: Derivation) -> dict[str, Any]:
        return {"delta": d.layers[0].delta}

    def prompt(self, setup: Setup) -> str:
        net = setup.net
        return (f"{text.layers(net)} {text.data(net)} {_given_z(setup)} This is the output "
                r"layer. Compute its error $\delta = \partial C/\partial z$. " + text.TOLERANCE)

    def story(self, setup: Setup) -> list[Any]:
        net, L = setup.net, setup.exact.layers[0]
        return [*story.forward(L, None), story.output_gradient(net, L),
                story.activation_derivative(L, None), story.delta(L, None, part="delta")]
