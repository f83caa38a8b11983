"""Worked solutions: the story of backprop for one variant, with its own numbers.

Each step says in words what happens and shows it in LaTeX with the variant's exact
values and the shapes that make the products fit. Exercise types pick the steps
their parts need; ``worked_solution`` rebuilds them from the stored variant.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy

from . import latex as tex
from .engine import Derivation, LayerDerivation
from .network import Network
from .numbers import to_float
from .problem import Variant


@dataclass(frozen=True)
class LossText:
    """How the story states a loss: in words, its cost over the batch, and dC/da."""

    words: str
    formula: str
    gradient: str


@dataclass(frozen=True)
class ActivationText:
    """How the story states an activation and its elementwise derivative (softmax has none)."""

    formula: str
    derivative: str | None = None


DC_DA = r"\frac{\partial C}{\partial a}"
LOSSES = {
    "half_sse": LossText(
        "half the squared error",
        r"C = \frac{1}{m}\sum_k \tfrac12 \lVert a^{(k)} - y^{(k)} \rVert^2",
        DC_DA + r" = \frac{1}{m}(a - y)"),
    "mse": LossText(
        "the mean squared error",
        r"C = \frac{1}{m}\sum_k \frac{1}{n}\lVert a^{(k)} - y^{(k)} \rVert^2",
        DC_DA + r" = \frac{2}{nm}(a - y)"),
    "cross_entropy": LossText(
        "the cross-entropy",
        r"C = -\frac{1}{m}\sum_k \sum_i y_i^{(k)} \ln a_i^{(k)}",
        DC_DA + r" = -\frac{1}{m}\, y \oslash a"),
    "binary_cross_entropy": LossText(
        "the binary cross-entropy",
        r"C = -\frac{1}{m}\sum_k \sum_i \big[y_i^{(k)} \ln a_i^{(k)} "
        r"+ (1-y_i^{(k)})\ln(1-a_i^{(k)})\big]",
        DC_DA + r" = \frac{1}{m}(a - y) \oslash \big(a \odot (1 - a)\big)"),
}
ACTIVATIONS = {
    "identity": ActivationText(r"a = z", r"\sigma'(z) = 1"),
    "relu": ActivationText(r"a = \max(0, z)", r"\sigma'(z) = 1 \text{ if } z > 0 \text{ else } 0"),
    "leaky_relu": ActivationText(r"a = \max(\alpha z, z)",
                                 r"\sigma'(z) = 1 \text{ if } z > 0 \text{ else } \alpha"),
    "sigmoid": ActivationText(r"a = \sigma(z) = \frac{1}{1 + e^{-z}}",
                              r"\sigma'(z) = \sigma(z)\,(1 - \sigma(z)) = a \odot (1 - a)"),
    "tanh": ActivationText(r"a = \tanh(z)", r"\sigma'(z) = 1 - \tanh^2(z) = 1 - a \odot a"),
    "softmax": ActivationText(r"a_i = \frac{e^{z_i}}{\sum_j e^{z_j}}"),
}
LOSS_FORMULA = {name: loss.formula for name, loss in LOSSES.items()}
LOSS_WORDS = {name: loss.words for name, loss in LOSSES.items()}
LOSS_GRADIENT = {name: loss.gradient for name, loss in LOSSES.items()}
ACTIVATION_FORMULA = {name: act.formula for name, act in ACTIVATIONS.items()}
DERIVATIVE_FORMULA = {name: act.derivative for name, act in ACTIVATIONS.items()
                      if act.derivative is not None}


DELTA = r"\delta"


@dataclass(frozen=True)
class Step:
    """One step of the story: what happens, the maths with numbers, which parts it answers.

    ``quantity`` names what the step computes (a ``LayerDerivation`` field, or "loss") in
    derivation layer ``layer``, written ``symbol``: enough to redo the step as a mistake's
    slips would, and show it next to the right one (``departure``).
    """

    title: str
    text: str
    latex: str | None = None
    parts: tuple[str, ...] = ()
    quantity: str | None = None
    layer: int | None = None
    symbol: str | None = None

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


@dataclass(frozen=True)
class Departure:
    """Where a graded answer first leaves the worked solution: the step (an index into
    ``worked_solution(variant).steps``), the part, what to say, and, where a mistake was
    named, that step as the mistake does it (``yours``) next to the right one (LaTeX)."""

    step: int
    part: str
    text: str
    yours: str | None = None
    right: str | None = None


def departure(variant: Variant, answers: Mapping[str, Any],
              parts: Mapping[str, Mapping[str, Any]]) -> Departure | None:
    """The first step where the answers depart from the solution, or None if none does.

    ``answers`` are the submission's answers in grading form; ``parts`` the result's parts
    (CONTRACT §4 JSON). The first part not right, in the order of the story, is where the
    student left it; if a mistake was named there, its slips redo the derivation, and the
    first step (up to that part's own) whose value they change is the step shown.
    """
    from .mistakes import MISTAKES
    from .registry import get_type

    t = get_type(variant.type)
    steps = t.story(t.setup_from(variant)) if variant.network is not None else []
    wrong = {name for name, r in parts.items() if not r.get("correct")}
    first = next(((i, name) for i, step in enumerate(steps) for name in step.parts
                  if name in wrong), None)
    if first is None:
        return None
    at, part = first
    explanations = parts[part].get("explanations") or [parts[part].get("misconceptions", [])]
    tags = [tag for tag in explanations[0] if tag in MISTAKES and MISTAKES[tag].variants]
    if not tags or part not in answers:
        return Departure(at, part, f"Your answer to {part} is the first that does not match "
                                   "the solution: it is worked out from this step on.")
    setup = t.setup_from(variant)
    slips = _matching_slips(t, setup, variant, part, answers[part], tags)
    names = " and ".join(MISTAKES[tag].name for tag in tags)
    text = f"Your answer to {part} departs from the solution here: {names}."
    slipped, plain = setup.float_derivation(slips), setup.exact
    right_parts = {name for name, r in parts.items() if r.get("correct")}
    last = max(i for i, step in enumerate(steps) if part in step.parts)
    for i, step in enumerate(steps[:last + 1]):
        if step.quantity is None or (step.parts and set(step.parts) <= right_parts):
            continue
        yours, right = _value(slipped, step), _value(plain, step)
        if yours is None or _same(yours, right):
            continue
        return Departure(i, part, text, f"{step.symbol} = {_latex(yours)}",
                         f"{step.symbol} = {_latex(right)}")
    # The type's own steps carry no quantity (one neuron's factors): show the part itself.
    label = variant.part(part).label
    if label.count("$") == 2 and label.startswith("$") and label.endswith("$"):
        symbol = label.strip("$")
        return Departure(at, part, text, f"{symbol} = {_latex(answers[part])}",
                         f"{symbol} = {_latex(variant.key_values[part])}")
    return Departure(at, part, text)


def _matching_slips(t: Any, setup: Any, variant: Variant, part: str, answer: Any,
                    tags: list[str]) -> frozenset[Any]:
    """The slips of ``tags`` (one alternative of each mistake) that give ``answer``."""
    from .mistakes import MISTAKES
    from .problem import to_grading_form

    kind = variant.part(part).kind
    combos = [frozenset().union(*c)
              for c in itertools.product(*(MISTAKES[tag].variants for tag in tags))]
    for slips in combos:
        value = t.predict(setup, slips).get(part)
        if value is None:
            continue
        value = to_grading_form(kind, value)
        if np.shape(value) == np.shape(answer) and np.allclose(value, answer, rtol=5e-3,
                                                               atol=1e-4):
            return slips
    return combos[0]


def _value(d: Derivation, step: Step) -> Any:
    """The value ``step`` computes, as derivation ``d`` has it."""
    if step.quantity == "loss":
        return d.loss
    if step.quantity is None or step.layer is None:
        raise ValueError(f"step {step.title!r} computes no quantity of a layer")
    return getattr(d.layers[step.layer], step.quantity)


def _floats(v: Any) -> np.ndarray:
    if isinstance(v, sympy.Basic) and not isinstance(v, sympy.MatrixBase):
        return np.asarray(to_float(v), dtype=np.float64)
    if isinstance(v, sympy.MatrixBase):
        return np.array([[to_float(x) for x in row] for row in v.tolist()], dtype=np.float64)
    return np.asarray(v, dtype=np.float64)


def _same(a: Any, b: Any) -> bool:
    a, b = _floats(a), _floats(b)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-9, atol=1e-12))


def _latex(v: Any) -> str:
    return tex.number(v) if np.ndim(_floats(v)) == 0 else tex.matrix(v)


# --- steps shared by the exercise types --------------------------------------------------


def _sub(layer: int | None, name: str) -> str:
    return name if layer is None else f"{name}_{{{layer}}}"


def _layer(layer: int | None) -> int:
    """The derivation's index of story layer ``layer`` (1-based; None for a single layer)."""
    return 0 if layer is None else layer - 1


def forward(L: LayerDerivation, layer: int | None, *, z_part: str | None = None,
            a_part: str | None = None, input_name: str = "x") -> list[Step]:
    """z = W·a_prev + b, then a = σ(z)."""
    W, z, a = _sub(layer, "W"), _sub(layer, "z"), _sub(layer, "a")
    k = _layer(layer)
    steps = [Step(
        f"Forward pass{'' if layer is None else f', layer {layer}'}: weighted input",
        f"Multiply the weights by the layer's input and add the bias. {tex.shape_text(L.W)} "
        f"times {tex.shape_text(L.a_prev)} gives {tex.shape_text(L.z)}.",
        rf"{z} = {W}\,{input_name} + {_sub(layer, 'b')} = {tex.matrix(L.W)} {tex.matrix(L.a_prev)} "
        rf"+ {tex.matrix(L.b)} = {tex.matrix(L.z)}",
        (z_part,) if z_part else (), "z", k, z,
    )]
    steps.append(Step(
        f"Forward pass{'' if layer is None else f', layer {layer}'}: activation",
        f"Apply the activation ({L.activation}) to each entry: the neuron's output is "
        "a = σ(z), not z.",
        rf"{ACTIVATION_FORMULA[L.activation]}, \quad {a} = {tex.matrix(L.a)}",
        (a_part,) if a_part else (), "a", k, a,
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
        (part,) if part else (), "loss", None, "C",
    )


def output_gradient(net: Network, L: LayerDerivation, *, part: str | None = None) -> Step:
    return Step(
        "How the cost changes with the prediction",
        "Differentiate the loss with respect to the prediction a.",
        rf"{LOSS_GRADIENT[net.loss]} = {tex.matrix(L.dC_da)}",
        (part,) if part else (), "dC_da", -1, r"\frac{\partial C}{\partial a}",
    )


def activation_derivative(L: LayerDerivation, layer: int | None, *,
                          part: str | None = None) -> Step:
    return Step(
        "Derivative of the activation",
        "How much a moves when z moves, entry by entry, evaluated at this z.",
        rf"{DERIVATIVE_FORMULA[L.activation]} \;\Rightarrow\; "
        rf"\frac{{\partial {_sub(layer, 'a')}}}{{\partial {_sub(layer, 'z')}}} = "
        rf"{tex.matrix(L.da_dz)}",
        (part,) if part else (), "da_dz", _layer(layer), rf"\sigma'({_sub(layer, 'z')})",
    )


def delta(L: LayerDerivation, layer: int | None, *, part: str | None = None,
          softmax_cross_entropy: bool = False) -> Step:
    d = _sub(layer, DELTA)
    if L.activation == "softmax":
        if softmax_cross_entropy:
            return Step(
                "Error at the softmax output",
                "With softmax and cross-entropy the softmax Jacobian cancels against the loss: "
                "δ is simply (a − y)/m. No extra a(1 − a) factor.",
                rf"{d} = \frac{{1}}{{m}}(a - y) = {tex.matrix(L.delta)}",
                (part,) if part else (), "delta", _layer(layer), d,
            )
        return Step(
            "Error at the softmax output",
            "Softmax mixes its outputs, so δ is the Jacobian product a ⊙ (g − aᵀg) with g = dC/da.",
            rf"{d} = {tex.matrix(L.delta)}",
            (part,) if part else (), "delta", _layer(layer), d,
        )
    return Step(
        f"Error of the layer (δ){'' if layer is None else f', layer {layer}'}",
        "δ = dC/dz: the error reaching the layer times the activation's derivative, entry by "
        "entry (⊙, a Hadamard product — not a dot product).",
        rf"{d} = \frac{{\partial C}}{{\partial {_sub(layer, 'a')}}} \odot "
        rf"\sigma'({_sub(layer, 'z')}) = "
        rf"{tex.matrix(L.dC_da)} \odot {tex.matrix(L.da_dz)} = {tex.matrix(L.delta)}",
        (part,) if part else (), "delta", _layer(layer), d,
    )


def weight_gradient(L: LayerDerivation, layer: int | None, *, part: str | None = None,
                    input_name: str = "x") -> Step:
    d, m = _sub(layer, DELTA), L.a_prev.cols
    batch = f" summed over the {m} examples (the 1/m is already in δ)" if m > 1 else ""
    return Step(
        f"Weight gradient{'' if layer is None else f', layer {layer}'}",
        f"dC/dW is the outer product of the error with the layer's input{batch}: "
        f"({tex.shape_text(L.delta)})·({tex.shape_text(L.a_prev.T)}) = {tex.shape_text(L.dC_dW)}, "
        "the shape of W. Entry (i, j) is δᵢ·xⱼ.",
        rf"\frac{{\partial C}}{{\partial {_sub(layer, 'W')}}} = {d}\,{input_name}^\top = "
        rf"{tex.matrix(L.delta)} {tex.matrix(L.a_prev.T)} = {tex.matrix(L.dC_dW)}",
        (part,) if part else (), "dC_dW", _layer(layer),
        rf"\frac{{\partial C}}{{\partial {_sub(layer, 'W')}}}",
    )


def bias_gradient(L: LayerDerivation, layer: int | None, *, part: str | None = None) -> Step:
    return Step(
        f"Bias gradient{'' if layer is None else f', layer {layer}'}",
        "The bias enters z with derivative 1, so dC/db is δ itself, summed over the examples.",
        rf"\frac{{\partial C}}{{\partial {_sub(layer, 'b')}}} = "
        rf"\sum_k {_sub(layer, DELTA)}^{{(k)}} = "
        rf"{tex.matrix(L.dC_db)}",
        (part,) if part else (), "dC_db", _layer(layer),
        rf"\frac{{\partial C}}{{\partial {_sub(layer, 'b')}}}",
    )


def backward(L_next: LayerDerivation, layer: int, *, part: str | None = None) -> Step:
    """dC/da_l = W_{l+1}ᵀ·δ_{l+1}."""
    return Step(
        f"Sending the error back to layer {layer}",
        f"Backwards the arrows reverse, so the weights are transposed: "
        f"({tex.shape_text(L_next.W.T)})·({tex.shape_text(L_next.delta)}). Use the weights of the "
        "forward pass, before any update.",
        rf"\frac{{\partial C}}{{\partial a_{{{layer}}}}} = "
        rf"W_{{{layer + 1}}}^\top \delta_{{{layer + 1}}} = "
        rf"{tex.matrix(L_next.W.T)} {tex.matrix(L_next.delta)} = "
        rf"{tex.matrix(L_next.W.T * L_next.delta)}",
        (part,) if part else (), "dC_da", layer - 1,
        rf"\frac{{\partial C}}{{\partial a_{{{layer}}}}}",
    )


def update(L: LayerDerivation, layer: int | None, learning_rate: Any, *, part: str | None = None,
           entry: tuple[int, int] | None = None, entry_part: str | None = None) -> list[Step]:
    W = _sub(layer, "W")
    steps = [Step(
        f"Gradient descent step{'' if layer is None else f', layer {layer}'}",
        "Step against the gradient, scaled by the learning rate η.",
        rf"{W}^{{\text{{new}}}} = {W} - \eta \frac{{\partial C}}{{\partial {W}}} = "
        rf"{tex.matrix(L.W)} - {tex.number(learning_rate)} {tex.matrix(L.dC_dW)} = "
        rf"{tex.matrix(L.W_new)}",
        (part,) if part else (), "W_new", _layer(layer), rf"{W}^{{\text{{new}}}}",
    )]
    if entry is not None:
        if L.dC_dW is None or L.W_new is None:
            raise ValueError("an entry of an update the derivation does not have")
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
