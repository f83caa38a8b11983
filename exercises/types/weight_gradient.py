"""weight-gradient: dC/dW of one layer — the "2×2 net" of every backprop course."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import solution as story
from ..engine import Derivation
from ..problem import Part
from ..registry import ExerciseType, Setup, register
from . import draw, text


@register
class WeightGradient(ExerciseType):
    id = "weight-gradient"
    version = 2
    title = "Weight gradient"
    summary = "dC/dW of one layer: δ times the layer's input, as an outer product."
    parts = (Part("dC_dW", "matrix", r"$\partial C / \partial W$"),)

    def must_show(self, difficulty: int) -> tuple[str, ...]:
        tags = ["transposed-gradient", "sign-flip", "wrong-layer-input", "factor-of-two",
                "missing-activation-derivative"]
        if difficulty < 3:
            tags.append("dot-instead-of-outer")
        if difficulty >= 2:
            tags.append("wrong-activation-derivative")
        if difficulty == 3:
            tags.append("batch-sum-not-mean")
        return tuple(tags)

    def draw(self, rng: np.random.Generator, difficulty: int) -> Setup:
        if difficulty == 1:
            # One example: a ReLU unit below zero would be dead, half the answer 0. A leaky
            # ReLU keeps it alive, and there a dropped σ' still shows.
            net = draw.network(rng, (2, 2), ["leaky_relu"], "half_sse", 1, 1)
            return Setup(draw.small_gradients(draw.alive(net)), {"layer": 1})
        if difficulty == 2:
            act = draw.pick(rng, ("sigmoid", "tanh"))
            net = draw.network(rng, (2, 2), [act], draw.pick(rng, ("half_sse", "mse")), 1, 2)
            return Setup(net, {"layer": 1})
        act = draw.pick(rng, ("sigmoid", "tanh"))
        net = draw.network(rng, (2, 3, 2), [draw.pick(rng, ("relu", "tanh")), act],
                           draw.pick(rng, ("half_sse", "mse")), 3, 3)
        # A batch of 3, not 2: summing two examples would look exactly like a factor of two.
        return Setup(net, {"layer": 2})

    def extract(self, setup: Setup, d: Derivation) -> dict[str, Any]:
        return {"dC_dW": d.layers[setup.params["layer"] - 1].dC_dW}

    def prompt(self, setup: Setup) -> str:
        net, layer = draw.net_of(setup), setup.params["layer"]
        which = ("$\\partial C/\\partial W$, the gradient of the cost with respect to the weights"
                 if len(net.layers) == 1 else
                 f"$\\partial C/\\partial W_{{{layer}}}$, the gradient of the cost with respect to "
                 f"the weights of layer {layer}")
        return f"{text.layers(net)} {text.data(net)} Compute {which}. {text.TOLERANCE}"

    def story(self, setup: Setup) -> list[Any]:
        net, d = draw.net_of(setup), setup.exact
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
