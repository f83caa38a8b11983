"""weight-gradient: dC/dW of one layer — the "2×2 net" of every backprop course."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import solution as story
from ..engine import Derivation
from ..network import Network
from ..problem import Part
from ..registry import Setup, register
from . import draw, text
from .levels import BATCH_SUM, WRONG_DERIVATIVE, Level, Levelled, squashed_output, table


@dataclass(frozen=True, kw_only=True)
class Gradient(Level):
    """One difficulty of weight-gradient: the widths (inputs first), each layer's activation
    drawn from its options, the loss from ``losses``, ``m`` examples, the layer asked about
    (1-based); with ``by_hand``, no dead unit and gradients small enough to work by hand."""

    widths: tuple[int, ...]
    activations: tuple[tuple[str, ...], ...]
    losses: tuple[str, ...] = ("half_sse", "mse")
    m: int = 1
    layer: int = 1
    by_hand: bool = False


_TAGS = ("transposed-gradient", "sign-flip", "wrong-layer-input", "factor-of-two",
         "missing-activation-derivative")


@register
class WeightGradient(Levelled[Gradient]):
    id = "weight-gradient"
    version = 2
    title = "Weight gradient"
    summary = "dC/dW of one layer: δ times the layer's input, as an outer product."
    parts = (Part("dC_dW", "matrix", r"$\partial C / \partial W$"),)

    # Difficulty 1 has one example: a ReLU unit below zero would be dead, half the answer 0.
    # A leaky ReLU keeps it alive, and there a dropped σ' still shows. Difficulty 3 has a
    # batch of 3, not 2: summing two examples would look exactly like a factor of two.
    levels = table({
        1: Gradient(widths=(2, 2), activations=(("leaky_relu",),), losses=("half_sse",),
                    by_hand=True, shows=(*_TAGS, "dot-instead-of-outer")),
        2: Gradient(widths=(2, 2), activations=(("sigmoid", "tanh"),),
                    shows=(*_TAGS, "dot-instead-of-outer", WRONG_DERIVATIVE)),
        3: Gradient(widths=(2, 3, 2), activations=(("relu", "tanh"), ("sigmoid", "tanh")),
                    m=3, layer=2, shows=(*_TAGS, WRONG_DERIVATIVE, BATCH_SUM)),
    })

    def draw(self, rng: np.random.Generator, difficulty: int) -> Setup:
        row = self.levels[difficulty]
        # The activations are drawn from the output layer back, then the loss: the order
        # that gives each seed its variant.
        acts = [draw.pick(rng, options) for options in reversed(row.activations)][::-1]
        net = draw.network(rng, row.widths, acts, draw.pick(rng, row.losses), row.m,
                           difficulty)
        if row.by_hand:
            net = draw.small_gradients(draw.alive(net))
        return Setup(net, {"layer": row.layer})

    def fit(self, network: Network) -> Setup | None:
        """Any depth with an elementwise output; the question is on layer 1, the gradient
        backpropagated through every layer (on one layer, the output layer's)."""
        return Setup(network, {"layer": 1}) if squashed_output(network) else None

    def extract(self, setup: Setup, d: Derivation) -> dict[str, Any]:
        return {"dC_dW": d.layers[setup.params["layer"] - 1].dC_dW}

    def prompt(self, setup: Setup) -> str:
        net, layer = setup.net, setup.params["layer"]
        which = ("$\\partial C/\\partial W$, the gradient of the cost with respect to the weights"
                 if len(net.layers) == 1 else
                 f"$\\partial C/\\partial W_{{{layer}}}$, the gradient of the cost with respect to "
                 f"the weights of layer {layer}")
        return f"{text.layers(net)} {text.data(net)} Compute {which}. {text.TOLERANCE}"

    def story(self, setup: Setup) -> list[Any]:
        net, d = setup.net, setup.exact
        single = len(net.layers) == 1
        steps: list[Any] = []
        for k, L in enumerate(d.layers):
            steps += story.forward(L, None if single else k + 1,
                                   input_name="x" if k == 0 else f"a_{{{k}}}")
        steps.append(story.loss(net, d))
        steps.append(story.output_gradient(net, d.layers[-1]))
        for k in reversed(range(len(d.layers))):
            L = d.layers[k]
            idx = None if single else k + 1
            if k < len(d.layers) - 1:
                steps.append(story.backward(d.layers[k + 1], k + 1))
            steps.append(story.activation_derivative(L, idx))
            steps.append(story.delta(L, idx))
            if k == setup.params["layer"] - 1:
                steps.append(story.weight_gradient(
                    L, idx, part="dC_dW", input_name="x" if k == 0 else f"a_{{{k}}}"))
                break
        return steps
