"""Worked solutions: the story of backprop for one variant, with its own numbers.

Each step says in words what happens and shows it in LaTeX with the variant's exact
values and the shapes that make the products fit. Exercise types pick the steps
their parts need; ``worked_solution`` rebuilds them from the stored variant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import latex as tex
from .engine import Derivation, LayerDerivation
from .network import Network
from .problem import Variant

LOSS_FORMULA = {
    "half_sse": r"C = \frac{1}{m}\sum_k \tfrac12 \lVert a^{(k)} - y^{(k)} \rVert^2",
    "mse": r"C = \frac{1}{m}\sum_k \frac{1}{n}\lVert a^{(k)} - y^{(k)} \rVert^2",
    "cross_entropy": r"C = -\frac{1}{m}\sum_k \sum_i y_i^{(k)} \ln a_i^{(k)}",
    "binary_cross_entropy":
        r"C = -\frac{1}{m}\sum_k \sum_i \big[y_i^{(k)} \ln a_i^{(k)} + (1-y_i^{(k)})\ln(1-a_i^{(k)})\big]",
}
LOSS_WORDS = {
    "half_sse": "half the squared error",
    "mse": "the mean squared error",
    "cross_entropy": "the cross-entropy",
    "binary_cross_entropy": "the binary cross-entropy",
}
LOSS_GRADIENT = {
    "half_sse": r"\frac{\partial C}{\partial a} = \frac{1}{m}(a - y)",
    "mse": r"\frac{\partial C}{\partial a} = \frac{2}{nm}(a - y)",
    "cross_entropy": r"\frac{\partial C}{\partial a} = -\frac{1}{m}\, y \oslash a",
    "binary_cross_entropy": r"\frac{\partial C}{\partial a} = \frac{1}{m}(a - y) \oslash \big(a \odot (1 - a)\big)",
}
DERIVATIVE_FORMULA = {
    "identity": r"\sigma'(z) = 1",
    "relu": r"\sigma'(z) = 1 \text{ if } z > 0 \text{ else } 0",
    "leaky_relu": r"\sigma'(z) = 1 \text{ if } z > 0 \text{ else } \alpha",
    "sigmoid": r"\sigma'(z) = \sigma(z)\,(1 - \sigma(z)) = a \odot (1 - a)",
    "tanh": r"\sigma'(z) = 1 - \tanh^2(z) = 1 - a \odot a",
}
ACTIVATION_FORMULA = {
    "identity": r"a = z",
    "relu": r"a = \max(0, z)",
    "leaky_relu": r"a = \max(\alpha z, z)",
    "sigmoid": r"a = \sigma(z) = \frac{1}{1 + e^{-z}}",
    "tanh": r"a = \tanh(z)",
    "softmax": r"a_i = \frac{e^{z_i}}{\sum_j e^{z_j}}",
}


DELTA = r"\delta"


@dataclass(frozen=True)
class Step:
    """One step of the story: what happens, the maths with numbers, which parts it answers."""

    title: str
    text: str
    latex: str | None = None
    parts: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "text": self.text, "latex": self.latex,
                "parts": list(self.parts)}


@dataclass(frozen=True)
class Solution:
    """The worked solution of a variant."""

    steps: list[Step] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"steps": [s.to_json() for s in self.steps]}


def worked_solution(variant: Variant) -> Solution:
    """The story of this variant, rebuilt from its stored network."""
    from .registry import get_type

    t = get_type(variant.type)
    return Solution(t.story(t.setup_from(variant)))


# --- steps shared by the exercise types --------------------------------------------------


def _sub(l: int | None, name: str) -> str:
    return name if l is None else f"{name}_{{{l}}}"


def forward(L: LayerDerivation, l: int | None, *, z_part: str | None = None,
            a_part: str | None = None, input_name: str = "x") -> list[Step]:
    """z = W·a_prev + b, then a = σ(z)."""
    W, z, a = _sub(l, "W"), _sub(l, "z"), _sub(l, "a")
    steps = [Step(
        f"Forward pass{'' if l is None else f', layer {l}'}: weighted input",
        f"Multiply the weights by the layer's input and add the bias. {tex.shape_text(L.W)} "
        f"times {tex.shape_text(L.a_prev)} gives {tex.shape_text(L.z)}.",
        rf"{z} = {W}\,{input_name} + {_sub(l, 'b')} = {tex.matrix(L.W)} {tex.matrix(L.a_prev)} "
        rf"+ {tex.matrix(L.b)} = {tex.matrix(L.z)}",
        (z_part,) if z_part else (),
    )]
    steps.append(Step(
        f"Forward pass{'' if l is None else f', layer {l}'}: activation",
        f"Apply the activation ({L.activation}) to each entry: the neuron's output is "
        "a = σ(z), not z.",
        rf"{ACTIVATION_FORMULA[L.activation]}, \quad {a} = {tex.matrix(L.a)}",
        (a_part,) if a_part else (),
    ))
    return steps


def loss(net: Network, d: Derivation, *, part: str | None = None) -> Step:
    aL = d.layers[-1].a
    return Step(
        "Loss",
        f"The cost compares prediction a with target y ({LOSS_WORDS[net.loss]}), "
        f"averaged over the {net.m} example(s). It is a function of a and y, not a − y itself.",
        rf"{LOSS_FORMULA[net.loss]}, \quad a = {tex.matrix(aL)},\ y = {tex.matrix(net.y)}"
        rf" \;\Rightarrow\; C = {tex.number(d.loss)}",
        (part,) if part else (),
    )


def output_gradient(net: Network, L: LayerDerivation, *, part: str | None = None) -> Step:
    return Step(
        "How the cost changes with the prediction",
        "Differentiate the loss with respect to the prediction a.",
        rf"{LOSS_GRADIENT[net.loss]} = {tex.matrix(L.dC_da)}",
        (part,) if part else (),
    )


def activation_derivative(L: LayerDerivation, l: int | None, *, part: str | None = None) -> Step:
    return Step(
        "Derivative of the activation",
        "How much a moves when z moves, entry by entry, evaluated at this z.",
        rf"{DERIVATIVE_FORMULA[L.activation]} \;\Rightarrow\; "
        rf"\frac{{\partial {_sub(l, 'a')}}}{{\partial {_sub(l, 'z')}}} = {tex.matrix(L.da_dz)}",
        (part,) if part else (),
    )


def delta(L: LayerDerivation, l: int | None, *, part: str | None = None,
          softmax_cross_entropy: bool = False) -> Step:
    d = _sub(l, DELTA)
    if L.activation == "softmax":
        if softmax_cross_entropy:
            return Step(
                "Error at the softmax output",
                "With softmax and cross-entropy the softmax Jacobian cancels against the loss: "
                "δ is simply (a − y)/m. No extra a(1 − a) factor.",
                rf"{d} = \frac{{1}}{{m}}(a - y) = {tex.matrix(L.delta)}",
                (part,) if part else (),
            )
        return Step(
            "Error at the softmax output",
            "Softmax mixes its outputs, so δ is the Jacobian product a ⊙ (g − aᵀg) with g = dC/da.",
            rf"{d} = {tex.matrix(L.delta)}",
            (part,) if part else (),
        )
    return Step(
        f"Error of the layer (δ){'' if l is None else f', layer {l}'}",
        "δ = dC/dz: the error reaching the layer times the activation's derivative, entry by "
        "entry (⊙, a Hadamard product — not a dot product).",
        rf"{d} = \frac{{\partial C}}{{\partial {_sub(l, 'a')}}} \odot \sigma'({_sub(l, 'z')}) = "
        rf"{tex.matrix(L.dC_da)} \odot {tex.matrix(L.da_dz)} = {tex.matrix(L.delta)}",
        (part,) if part else (),
    )


def weight_gradient(L: LayerDerivation, l: int | None, *, part: str | None = None,
                    input_name: str = "x") -> Step:
    d, m = _sub(l, DELTA), L.a_prev.cols
    batch = f" summed over the {m} examples (the 1/m is already in δ)" if m > 1 else ""
    return Step(
        f"Weight gradient{'' if l is None else f', layer {l}'}",
        f"dC/dW is the outer product of the error with the layer's input{batch}: "
        f"({tex.shape_text(L.delta)})·({tex.shape_text(L.a_prev.T)}) = {tex.shape_text(L.dC_dW)}, "
        "the shape of W. Entry (i, j) is δᵢ·xⱼ.",
        rf"\frac{{\partial C}}{{\partial {_sub(l, 'W')}}} = {d}\,{input_name}^\top = "
        rf"{tex.matrix(L.delta)} {tex.matrix(L.a_prev.T)} = {tex.matrix(L.dC_dW)}",
        (part,) if part else (),
    )


def bias_gradient(L: LayerDerivation, l: int | None, *, part: str | None = None) -> Step:
    return Step(
        f"Bias gradient{'' if l is None else f', layer {l}'}",
        "The bias enters z with derivative 1, so dC/db is δ itself, summed over the examples.",
        rf"\frac{{\partial C}}{{\partial {_sub(l, 'b')}}} = \sum_k {_sub(l, DELTA)}^{{(k)}} = "
        rf"{tex.matrix(L.dC_db)}",
        (part,) if part else (),
    )


def backward(L_next: LayerDerivation, l: int, *, part: str | None = None) -> Step:
    """dC/da_l = W_{l+1}ᵀ·δ_{l+1}."""
    return Step(
        f"Sending the error back to layer {l}",
        f"Backwards the arrows reverse, so the weights are transposed: "
        f"({tex.shape_text(L_next.W.T)})·({tex.shape_text(L_next.delta)}). Use the weights of the "
        "forward pass, before any update.",
        rf"\frac{{\partial C}}{{\partial a_{{{l}}}}} = W_{{{l + 1}}}^\top \delta_{{{l + 1}}} = "
        rf"{tex.matrix(L_next.W.T)} {tex.matrix(L_next.delta)} = "
        rf"{tex.matrix(L_next.W.T * L_next.delta)}",
        (part,) if part else (),
    )


def update(L: LayerDerivation, l: int | None, learning_rate: Any, *, part: str | None = None,
           entry: tuple[int, int] | None = None, entry_part: str | None = None) -> list[Step]:
    W = _sub(l, "W")
    steps = [Step(
        f"Gradient descent step{'' if l is None else f', layer {l}'}",
        "Step against the gradient, scaled by the learning rate η.",
        rf"{W}^{{\text{{new}}}} = {W} - \eta \frac{{\partial C}}{{\partial {W}}} = "
        rf"{tex.matrix(L.W)} - {tex.number(learning_rate)} {tex.matrix(L.dC_dW)} = "
        rf"{tex.matrix(L.W_new)}",
        (part,) if part else (),
    )]
    if entry is not None:
        i, j = entry
        steps.append(Step(
            f"Entry ({i}, {j})",
            f"Row {i}, column {j} (counted from 1): the weight from input {j} to neuron {i}.",
            rf"w_{{{i}{j}}}^{{\text{{new}}}} = {tex.number(L.W[i - 1, j - 1])} - "
            rf"{tex.number(learning_rate)} \cdot {tex.factor(L.dC_dW[i - 1, j - 1])} = "
            rf"{tex.number(L.W_new[i - 1, j - 1])}",
            (entry_part,) if entry_part else (),
        ))
    return steps
