"""concept-check's question bank: multiple-choice templates, each wrong option a mistake.

A ``Template`` draws its numbers (JSON-able: they are the variant's params, from which the
question is rebuilt) and builds a ``Question`` from them: a prompt and its choices, the
answer first. Each wrong choice carries one slip set of the mistake library, so the
generic prediction machinery maps that option to its tag. ``concepts.ConceptCheck`` is
the exercise type that asks them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from .. import latex as tex
from ..engine import Slip
from ..expressions import sigmoid
from ..mistakes import MISTAKES
from ..numbers import parse_exact, to_answer, to_float
from ..registry import Degenerate
from . import draw

S = Slip

_TAG_OF = {slips: m.tag for m in MISTAKES.values() for slips in m.variants}


def _mistake(tag: str, slip: Slip | None = None) -> frozenset[Slip]:
    """The slip set of ``tag`` (the one holding ``slip``, if given)."""
    variants = MISTAKES[tag].variants
    return variants[0] if slip is None else next(v for v in variants if slip in v)


@dataclass(frozen=True)
class Choice:
    """One option: its label ($LaTeX$), why it is right or what it got wrong, and the
    mistake's slip set (empty for the answer)."""

    label: str
    why: str
    slips: frozenset[Slip] = frozenset()

    @property
    def tag(self) -> str | None:
        return _TAG_OF[self.slips] if self.slips else None


@dataclass(frozen=True)
class Question:
    """A question and its choices, the answer first."""

    prompt: str
    choices: tuple[Choice, ...]


@dataclass(frozen=True)
class Template:
    """A question with the numbers or shapes it draws (JSON-able, shown in the problem)."""

    id: str
    difficulty: int
    values: Callable[[np.random.Generator], dict[str, Any]]
    question: Callable[[dict[str, Any]], Question]


def _q(v: Any) -> sympy.Rational:
    return parse_exact(v)


def _tenths(rng: np.random.Generator, low: int, high: int, *, nonzero: bool = True) -> Any:
    """A one-decimal number k/10 with low ≤ k ≤ high, in its JSON form."""
    ks = [k for k in range(low, high + 1) if k or not nonzero]
    return to_answer(sympy.Rational(int(rng.choice(ks)), 10))


def _distinct(choices: tuple[Choice, ...]) -> tuple[Choice, ...]:
    if len({c.label for c in choices}) < len(choices):
        raise Degenerate("two options of the question read the same")
    return choices


def _shown(v: Any) -> Any:
    """An exact value as it reads best in an option: a short decimal, else 4 figures."""
    return v if "frac" not in tex.number(v) else sympy.Float(to_float(v))


def _num(v: Any) -> str:
    return f"${tex.number(_shown(v))}$"


def _vec(M: sympy.Matrix) -> str:
    return f"${tex.matrix(M.applyfunc(_shown))}$"


FRAC_DC_DW = r"\partial C/\partial W"

# Difficulty 1: one layer — the shape of the gradient, the update, the loss.


def _gradient_shape(v: dict[str, Any]) -> Question:
    n, k = v["n"], v["k"]
    return Question(
        f"A layer computes $z = Wx + b$, where $W$ is ${n} \\times {k}$ and the input $x$ is "
        f"${k} \\times 1$. What is the shape of ${FRAC_DC_DW}$?",
        (
            Choice(f"${n} \\times {k}$",
                   f"∂C/∂W = δ·xᵀ, an ({n}×1)·(1×{k}) outer product: one entry per weight, "
                   "so it has the shape of W."),
            Choice(f"${k} \\times {n}$",
                   "That is the shape of x·δᵀ, the gradient transposed.",
                   _mistake("transposed-gradient")),
            Choice("$1 \\times 1$",
                   "One number is what a dot product of δ and x gives, but each of the "
                   f"{n * k} weights needs its own derivative.",
                   _mistake("dot-instead-of-outer", S.DOT_NOT_OUTER)),
        ),
    )


def _update_rule(v: dict[str, Any]) -> Question:
    eta = tex.number(_q(v["eta"]))
    return Question(
        "A layer computes $z = Wx + b$; its error is $\\delta = \\partial C/\\partial z$ and the "
        f"learning rate is $\\eta = {eta}$. Which are the layer's weights after one step of "
        "gradient descent?",
        (
            Choice(f"$W - {eta}\\,\\delta x^\\top$",
                   "Gradient descent steps against the gradient ∂C/∂W = δ·xᵀ, scaled by η."),
            Choice(f"$W + {eta}\\,\\delta x^\\top$",
                   "Adding the gradient moves uphill: the loss grows.",
                   _mistake("gradient-ascent")),
            Choice("$W - \\delta x^\\top$",
                   "The whole gradient is subtracted: the learning rate is missing.",
                   _mistake("missing-learning-rate")),
            Choice(f"$W - {eta}\\, x \\delta^\\top$",
                   "x·δᵀ is the gradient transposed; it has the shape of Wᵀ.",
                   _mistake("transposed-gradient")),
        ),
    )


def _update_number(v: dict[str, Any]) -> Question:
    w, g, eta = _q(v["w"]), _q(v["g"]), _q(v["eta"])
    return Question(
        f"A weight $w = {tex.number(w)}$ has the gradient $\\partial C/\\partial w = "
        f"{tex.number(g)}$. With the learning rate $\\eta = {tex.number(eta)}$, what is $w$ "
        "after one step of gradient descent?",
        _distinct((
            Choice(_num(w - eta * g),
                   f"w − η·∂C/∂w = {tex.number(w)} − {tex.number(eta)}·({tex.number(g)})."),
            Choice(_num(w + eta * g), "This adds η·∂C/∂w: a step uphill.",
                   _mistake("gradient-ascent")),
            Choice(_num(w - g), "This subtracts the whole gradient, without η.",
                   _mistake("missing-learning-rate")),
        )),
    )


def _loss_function(v: dict[str, Any]) -> Question:
    return Question(
        "A student writes: “the loss is prediction − true”. For a prediction $a = \\sigma(z)$ "
        "and a target $y$, which is the half squared error loss that backprop differentiates?",
        (
            Choice("$C = \\tfrac12 (a - y)^2$",
                   "The loss is a function of prediction and target that is smallest when they "
                   "agree; the ½ makes its derivative simply a − y."),
            Choice("$C = a - y$",
                   "The raw error is not a loss: it is negative whenever a < y, and its "
                   "derivative is 1 whatever the prediction.",
                   _mistake("raw-error-as-loss")),
            Choice("$C = (a - y)^2$",
                   "That is the squared error without the ½; its derivative is 2(a − y).",
                   _mistake("factor-of-two", S.DOUBLE_LOSS_GRADIENT)),
            Choice("$C = \\tfrac12 (z - y)^2$",
                   "z is the weighted input before the activation; the prediction is a = σ(z).",
                   _mistake("activation-skipped")),
        ),
    )


def _loss_derivative(v: dict[str, Any]) -> Question:
    a, y = _q(v["a"]), _q(v["y"])
    return Question(
        f"A neuron predicts $a = {tex.number(a)}$ for the target $y = {tex.number(y)}$, and "
        "the loss is $C = \\tfrac12 (a - y)^2$. What is $\\partial C/\\partial a$?",
        _distinct((
            Choice(_num(a - y), f"∂C/∂a = a − y = {tex.number(a)} − {tex.number(y)}."),
            Choice("$1$", "1 is the derivative of a − y itself, as if the raw error were the loss.",
                   _mistake("raw-error-as-loss")),
            Choice(_num(y - a), "This is y − a: the sign is flipped.", _mistake("sign-flip")),
            Choice(_num(2 * (a - y)), "2(a − y) is the derivative of (a − y)², without the ½.",
                   _mistake("factor-of-two", S.DOUBLE_LOSS_GRADIENT)),
            Choice(_num((a - y) / 2), "This halves a − y: the ½ was kept after differentiating.",
                   _mistake("factor-of-two", S.HALF_LOSS_GRADIENT)),
        )),
    )


def _a_and_y(rng: np.random.Generator) -> dict[str, Any]:
    a = _tenths(rng, 1, 9)
    y = _tenths(rng, 0, 10, nonzero=False)
    return {"a": a, "y": y}


# Difficulty 2: δ and the chain rule.

SIGMOID_OUTPUTS = ("1/5", "1/4", "2/5", "1/2", "3/5", "3/4", "4/5")


def _delta_output(v: dict[str, Any]) -> Question:
    n = v["n"]
    return Question(
        f"The output layer has {n} sigmoid neurons, $a = \\sigma(z)$, and the loss is "
        "$C = \\tfrac12 \\lVert a - y \\rVert^2$. Which is its error "
        "$\\delta = \\partial C/\\partial z$?",
        (
            Choice("$(a - y) \\odot a \\odot (1 - a)$",
                   f"δ = ∂C/∂a ⊙ σ'(z): each of the {n} neurons' errors a − y times its own "
                   "σ'(z) = a(1 − a), entry by entry."),
            Choice("$a - y$", "This is ∂C/∂a: the activation's derivative is left out.",
                   _mistake("missing-activation-derivative")),
            Choice("$(y - a) \\odot a \\odot (1 - a)$", "y − a has the sign flipped.",
                   _mistake("sign-flip")),
            Choice("$(a - y)^\\top \\big(a \\odot (1 - a)\\big)$",
                   f"A dot product gives one number, but δ needs one entry for each of the "
                   f"{n} neurons.",
                   _mistake("dot-instead-of-hadamard")),
            Choice("$(a - y) \\odot z \\odot (1 - z)$",
                   "σ'(z) is a(1 − a), computed from the output a = σ(z), not z(1 − z).",
                   _mistake("wrong-activation-derivative", S.DERIVATIVE_FORMULA_ON_Z)),
        ),
    )


def _sigmoid_derivative(v: dict[str, Any]) -> Question:
    a = _q(v["a"])
    z = sympy.log(a / (1 - a))  # so that σ(z) = a exactly
    sig_a = sigmoid(a).rewrite(sympy.exp)
    return Question(
        f"A sigmoid neuron has $z = {tex.number(z)}$ and the output "
        f"$a = \\sigma(z) = {tex.number(a)}$. What is $\\sigma'(z)$?",
        _distinct((
            Choice(_num(a * (1 - a)),
                   f"σ'(z) = σ(z)(1 − σ(z)) = a(1 − a) = {tex.number(a)}·{tex.number(1 - a)}."),
            Choice(_num(z * (1 - z)), "This is z(1 − z): the formula needs a = σ(z), not z.",
                   _mistake("wrong-activation-derivative", S.DERIVATIVE_FORMULA_ON_Z)),
            Choice(_num(a), "This is σ(z) itself, not its derivative.",
                   _mistake("wrong-activation-derivative", S.DERIVATIVE_AS_ACTIVATION)),
            Choice(_num(sig_a * (1 - sig_a)),
                   "This is σ'(a) = σ(a)(1 − σ(a)): the derivative evaluated at a, not at z.",
                   _mistake("wrong-activation-derivative", S.DERIVATIVE_OF_A)),
            Choice("$1$", "1 is σ'(z) of no activation at all: the sigmoid's derivative "
                   "was dropped.",
                   _mistake("missing-activation-derivative")),
        )),
    )


def _chain_factors(v: dict[str, Any]) -> Question:
    return Question(
        "For one sigmoid neuron, $z = wx + b$, $a = \\sigma(z)$ and "
        "$C = \\tfrac12 (a - y)^2$, the chain rule gives "
        "$\\frac{\\partial C}{\\partial w} = \\frac{\\partial C}{\\partial a} \\cdot "
        "\\frac{\\partial a}{\\partial z} \\cdot \\frac{\\partial z}{\\partial w}$. "
        "Which are the three factors, in this order?",
        (
            Choice("$(a - y),\\ a(1 - a),\\ x$",
                   "∂C/∂a = a − y (the cost's change with the prediction), ∂a/∂z = σ'(z) = "
                   "a(1 − a) (the activation's), and ∂z/∂w = x (z changes with w by the input "
                   "w multiplies)."),
            Choice("$(a - y),\\ 1,\\ x$",
                   "∂a/∂z is the sigmoid's derivative, not 1.",
                   _mistake("missing-activation-derivative")),
            Choice("$(y - a),\\ a(1 - a),\\ x$", "∂C/∂a is a − y, not y − a.",
                   _mistake("sign-flip")),
            Choice("$(a - y),\\ z(1 - z),\\ x$", "σ'(z) is a(1 − a), not z(1 − z).",
                   _mistake("wrong-activation-derivative", S.DERIVATIVE_FORMULA_ON_Z)),
            Choice("$(a - y),\\ a(1 - a),\\ a$",
                   "∂z/∂w is the neuron's input x, not its output a.",
                   _mistake("wrong-layer-input", S.OWN_OUTPUT_AS_INPUT)),
        ),
    )


def _chain_number(v: dict[str, Any]) -> Question:
    x, a, y = _q(v["x"]), _q(v["a"]), _q(v["y"])
    e = a - y
    return Question(
        f"One sigmoid neuron gets the input $x = {tex.number(x)}$ and outputs "
        f"$a = \\sigma(wx + b) = {tex.number(a)}$; the target is $y = {tex.number(y)}$ and "
        "$C = \\tfrac12 (a - y)^2$. What is $\\partial C/\\partial w$?",
        _distinct((
            Choice(_num(e * a * (1 - a) * x),
                   "∂C/∂w = (a − y)·a(1 − a)·x: the loss's derivative, the sigmoid's, and "
                   "the input the weight multiplies."),
            Choice(_num(e * x), "(a − y)·x leaves out the sigmoid's derivative a(1 − a).",
                   _mistake("missing-activation-derivative")),
            Choice(_num(-e * a * (1 - a) * x), "This uses y − a: the sign is flipped.",
                   _mistake("sign-flip")),
            Choice(_num(e * a * (1 - a) * a),
                   "This multiplies by the output a where ∂z/∂w = x belongs.",
                   _mistake("wrong-layer-input", S.OWN_OUTPUT_AS_INPUT)),
            Choice(_num(e * a * x), "This takes σ'(z) as σ(z) = a.",
                   _mistake("wrong-activation-derivative", S.DERIVATIVE_AS_ACTIVATION)),
        )),
    )


# Difficulty 3: backprop through layers, batches, softmax.


def _send_back(v: dict[str, Any]) -> Question:
    n1, n2 = v["n1"], v["n2"]
    return Question(
        f"In a two-layer network, layer 2 has the weights $W_2$ (${n2} \\times {n1}$) and the "
        f"error $\\delta_2$ (${n2} \\times 1$). Which is $\\partial C/\\partial a_1$, the error "
        "sent back to the outputs of layer 1?",
        (
            Choice("$W_2^\\top \\delta_2$",
                   f"Backwards the arrows reverse, so W₂ is transposed: ({n1}×{n2})·({n2}×1) "
                   f"gives one entry for each of the {n1} neurons of layer 1."),
            Choice("$W_2 \\delta_2$",
                   f"W₂ maps layer 1 forward; ({n2}×{n1})·({n2}×1) does not even fit.",
                   _mistake("untransposed-backprop")),
            Choice("$\\big(W_2 - \\eta\\, \\partial C/\\partial W_2\\big)^\\top \\delta_2$",
                   "These are the weights after the update; backprop uses the weights of "
                   "the forward pass.",
                   _mistake("updated-weights-in-backprop")),
        ),
    )


def _hidden_delta(v: dict[str, Any]) -> Question:
    n1 = v["n1"]
    return Question(
        f"A hidden layer 1 of {n1} sigmoid neurons, $a_1 = \\sigma(z_1)$, feeds layer 2, whose "
        "weights are $W_2$ and whose error is $\\delta_2$. Which is "
        "$\\delta_1 = \\partial C/\\partial z_1$?",
        (
            Choice("$(W_2^\\top \\delta_2) \\odot a_1 \\odot (1 - a_1)$",
                   "The error comes back through W₂ᵀ and then through layer 1's own "
                   "activation: times σ'(z₁) = a₁(1 − a₁), entry by entry."),
            Choice("$(W_2 \\delta_2) \\odot a_1 \\odot (1 - a_1)$",
                   "Sending δ₂ back needs W₂ᵀ, not W₂.",
                   _mistake("untransposed-backprop")),
            Choice("$W_2^\\top \\delta_2$",
                   "This is ∂C/∂a₁; δ₁ = ∂C/∂z₁ still needs σ'(z₁).",
                   _mistake("missing-activation-derivative")),
            Choice("$\\big((W_2 - \\eta\\, \\partial C/\\partial W_2)^\\top \\delta_2\\big) "
                   "\\odot a_1 \\odot (1 - a_1)$",
                   "These are the already-updated weights.",
                   _mistake("updated-weights-in-backprop")),
            Choice("$(W_2^\\top \\delta_2) \\odot z_1 \\odot (1 - z_1)$",
                   "σ'(z₁) is a₁(1 − a₁), not z₁(1 − z₁).",
                   _mistake("wrong-activation-derivative", S.DERIVATIVE_FORMULA_ON_Z)),
        ),
    )


def _hidden_weight_gradient(v: dict[str, Any]) -> Question:
    n0, n1 = v["n0"], v["n1"]
    return Question(
        f"Layer 1 of a network takes the input $x$ (${n0} \\times 1$); its error is "
        f"$\\delta_1$ (${n1} \\times 1$) and its output is $a_1 = \\sigma(z_1)$. Which is "
        "$\\partial C/\\partial W_1$?",
        (
            Choice("$\\delta_1 x^\\top$",
                   f"z₁ = W₁x + b₁, so each weight's factor is the input x it multiplies: "
                   f"({n1}×1)·(1×{n0}), the shape of W₁."),
            Choice("$\\delta_1 a_1^\\top$",
                   "a₁ is layer 1's output; its weights multiply its input x.",
                   _mistake("wrong-layer-input", S.OWN_OUTPUT_AS_INPUT)),
            Choice("$x\\, \\delta_1^\\top$", "x·δ₁ᵀ is the gradient transposed.",
                   _mistake("transposed-gradient")),
            Choice("$x^\\top \\delta_1$",
                   "A dot product gives at most one number; every weight needs its own.",
                   _mistake("dot-instead-of-outer", S.DOT_NOT_OUTER)),
        ),
    )


def _batch_gradient(v: dict[str, Any]) -> Question:
    m, n, k = v["m"], v["n"], v["k"]
    return Question(
        f"A layer sees a mini-batch of {m} examples: its inputs are the columns of $X$ "
        f"(${k} \\times {m}$) and each example's error, without any $\\tfrac1m$, is a column of "
        f"$\\Delta$ (${n} \\times {m}$). The cost is the mean of the {m} losses. Which is "
        f"${FRAC_DC_DW}$?",
        (
            Choice(f"$\\tfrac{{1}}{{{m}}}\\, \\Delta X^\\top$",
                   f"ΔXᵀ sums the {m} outer products δ⁽ᵏ⁾x⁽ᵏ⁾ᵀ; the mean cost divides by {m}."),
            Choice("$\\Delta X^\\top$", "This is the sum over the batch, not the mean.",
                   _mistake("batch-sum-not-mean")),
            Choice(f"$\\tfrac{{1}}{{{m}}}\\, X \\Delta^\\top$",
                   f"X·Δᵀ is {k}×{n}: the gradient transposed.",
                   _mistake("transposed-gradient")),
        ),
    )


SOFTMAX_OUTPUTS = (("7/10", "1/5", "1/10"), ("3/5", "3/10", "1/10"), ("1/2", "3/10", "1/5"),
                   ("1/2", "2/5", "1/10"), ("2/5", "2/5", "1/5"), ("2/5", "7/20", "1/4"))


def _softmax_delta(v: dict[str, Any]) -> Question:
    a = sympy.Matrix([_q(p) for p in v["a"]])
    y = sympy.zeros(3, 1)
    y[v["target"] - 1] = 1
    e = a - y
    over = sympy.Matrix([-y[k] / a[k] for k in range(3)])
    return Question(
        f"A softmax output layer gives $a = {tex.matrix(a)}$ for the one-hot target "
        f"$y = {tex.matrix(y)}$, with the cross-entropy loss $C = -\\sum_i y_i \\ln a_i$. "
        "What is $\\delta = \\partial C/\\partial z$?",
        _distinct((
            Choice(_vec(e),
                   "With softmax and cross-entropy the softmax Jacobian cancels against the "
                   "loss: δ = a − y."),
            Choice(_vec(e.multiply_elementwise(a.applyfunc(lambda p: p * (1 - p)))),
                   "This multiplies a − y again by a(1 − a).",
                   _mistake("softmax-extra-derivative")),
            Choice(_vec(-e), "This is y − a: the sign is flipped.",
                   _mistake("sign-flip")),
            Choice(_vec(over),
                   "This is ∂C/∂a = −y/a; δ = ∂C/∂z still goes through the softmax.",
                   _mistake("missing-activation-derivative")),
        )),
    )


def _softmax_values(rng: np.random.Generator) -> dict[str, Any]:
    a = list(SOFTMAX_OUTPUTS[int(rng.integers(len(SOFTMAX_OUTPUTS)))])
    rng.shuffle(a)
    return {"a": a, "target": int(rng.integers(1, 4))}


def _sizes(*names: str) -> Callable[[np.random.Generator], dict[str, Any]]:
    """Different sizes from 2 to 5, so that a transposed shape is visibly another shape."""
    def values(rng: np.random.Generator) -> dict[str, Any]:
        picked = rng.choice(np.arange(2, 6), size=len(names), replace=False)
        return {name: int(p) for name, p in zip(names, picked, strict=True)}
    return values


# Drawn until the bank got its numbers; kept so that their problems can be rebuilt.
EARLIER: tuple[Template, ...] = (
    Template("gradient-shape", 1, _sizes("n", "k"), _gradient_shape),
    Template("update-rule", 1, lambda rng: {"eta": draw.pick(rng, ("1/10", "1/2", "1/4"))},
             _update_rule),
    Template("update-number", 1,
             lambda rng: {"w": _tenths(rng, -15, 15), "g": _tenths(rng, -20, 20),
                          "eta": draw.pick(rng, ("1/10", "1/5", "1/4", "1/2"))},
             _update_number),
    Template("loss-function", 1, lambda rng: {}, _loss_function),
    Template("loss-derivative", 1, _a_and_y, _loss_derivative),
    Template("delta-output", 2, lambda rng: {"n": int(rng.integers(2, 5))}, _delta_output),
    Template("sigmoid-derivative", 2, lambda rng: {"a": draw.pick(rng, SIGMOID_OUTPUTS)},
             _sigmoid_derivative),
    Template("chain-factors", 2, lambda rng: {}, _chain_factors),
    Template("chain-number", 2,
             lambda rng: {"x": _tenths(rng, -15, 15), "a": draw.pick(rng, SIGMOID_OUTPUTS),
                          "y": int(rng.integers(0, 2))},
             _chain_number),
    Template("send-back", 3, _sizes("n1", "n2"), _send_back),
    Template("hidden-delta", 3, _sizes("n1"), _hidden_delta),
    Template("hidden-weight-gradient", 3, _sizes("n0", "n1"), _hidden_weight_gradient),
    Template("batch-gradient", 3,
             lambda rng: {"m": int(rng.integers(3, 9)), **_sizes("n", "k")(rng)},
             _batch_gradient),
    Template("softmax-delta", 3, _softmax_values, _softmax_delta),
)


# --- the drawn bank: every question with its own numbers ---------------------------------------
#
# Each template below draws several numbers (vectors and matrices of them), so that a template
# has millions of instances and two seeds seldom ask the same question; the right option and
# each distractor are computed from those numbers. The templates above, whose only numbers
# are a few sizes, are kept to rebuild problems drawn before, and are no longer drawn.


def _drawn(rng: np.random.Generator, nums: Any, den: int, size: int) -> list[Any]:
    """``size`` exact values k/den, k drawn from ``nums``, in their JSON form."""
    return [to_answer(sympy.Rational(int(k), den)) for k in rng.choice(nums, size=size)]


def _column(values: list[Any]) -> sympy.Matrix:
    return sympy.Matrix([_q(v) for v in values])


def _grid(values: list[Any], rows: int) -> sympy.Matrix:
    """A rows × (len/rows) matrix, filled row by row."""
    return sympy.Matrix(rows, len(values) // rows, [_q(v) for v in values])


NONZERO_HALVES = np.r_[-6:0, 1:7]  # ±1/2 .. ±3
NONZERO_TENTHS = np.r_[-20:0, 1:21]  # ±0.1 .. ±2
SIGMOID_TWENTIETHS = np.arange(2, 19)  # a = 0.1 .. 0.9 in steps of 0.05


def _outer_values(rng: np.random.Generator) -> dict[str, Any]:
    return {"delta": _drawn(rng, NONZERO_HALVES, 2, 3), "x": _drawn(rng, np.r_[-5:0, 1:6], 1, 3)}


def _outer(v: dict[str, Any]) -> Question:
    delta, x = _column(v["delta"]), _column(v["x"])
    return Question(
        f"A layer of 3 neurons computes $z = Wx + b$ with $W$ a $3 \\times 3$ matrix. For the "
        f"input $x = {tex.matrix(x)}$ its error is $\\delta = \\partial C/\\partial z = "
        f"{tex.matrix(delta)}$. Which is ${FRAC_DC_DW}$?",
        _distinct((
            Choice(_vec(delta * x.T),
                   "∂C/∂W = δ·xᵀ: entry (i, j) is δᵢ·xⱼ, the error of neuron i times the input "
                   "that weight multiplies."),
            Choice(_vec(x * delta.T), "x·δᵀ is the gradient transposed: entry (i, j) is xᵢ·δⱼ.",
                   _mistake("transposed-gradient")),
            Choice(_num((x.T * delta)[0, 0]),
                   "xᵀδ is one number, but each of the 9 weights needs its own derivative.",
                   _mistake("dot-instead-of-outer", S.DOT_NOT_OUTER)),
        )),
    )


def _step_values(rng: np.random.Generator) -> dict[str, Any]:
    return {"w": _drawn(rng, np.r_[-15:0, 1:16], 10, 2), "g": _drawn(rng, NONZERO_TENTHS, 10, 2),
            "eta": draw.pick(rng, ("1/10", "1/5", "1/4", "1/2"))}


def _step(v: dict[str, Any]) -> Question:
    w, g, eta = _column(v["w"]).T, _column(v["g"]).T, _q(v["eta"])
    return Question(
        f"Two weights $w = {tex.matrix(w)}$ have the gradient $\\partial C/\\partial w = "
        f"{tex.matrix(g)}$. With the learning rate $\\eta = {tex.number(eta)}$, what are they "
        "after one step of gradient descent?",
        _distinct((
            Choice(_vec(w - eta * g), f"w − η·∂C/∂w, with η = {tex.number(eta)}: each weight "
                   "steps against its own gradient."),
            Choice(_vec(w + eta * g), "This adds η·∂C/∂w: a step uphill.",
                   _mistake("gradient-ascent")),
            Choice(_vec(w - g), "This subtracts the whole gradient, without η.",
                   _mistake("missing-learning-rate")),
        )),
    )


def _prediction_values(rng: np.random.Generator) -> dict[str, Any]:
    return {"a": _drawn(rng, NONZERO_TENTHS, 10, 2), "y": _drawn(rng, np.arange(-20, 21), 10, 2)}


def _loss_value(v: dict[str, Any]) -> Question:
    a, y = _column(v["a"]), _column(v["y"])
    e = a - y
    return Question(
        f"A network predicts $a = {tex.matrix(a)}$ for the target $y = {tex.matrix(y)}$. "
        "What is the half squared error $C = \\tfrac12 \\lVert a - y \\rVert^2$?",
        _distinct((
            Choice(_num((e.T * e)[0, 0] / 2),
                   "½ of the sum of the squared errors: ½·((a₁ − y₁)² + (a₂ − y₂)²)."),
            Choice(_num(sum(e)), "This is the raw error a − y summed, not a loss: it can be "
                   "negative, and it is not smallest when the prediction is right.",
                   _mistake("raw-error-as-loss")),
            Choice(_num((e.T * e)[0, 0]), "This is the squared error without the ½.",
                   _mistake("factor-of-two", S.DOUBLE_LOSS_GRADIENT)),
        )),
    )


def _loss_gradient(v: dict[str, Any]) -> Question:
    a, y = _column(v["a"]), _column(v["y"])
    e = a - y
    return Question(
        f"A network predicts $a = {tex.matrix(a)}$ for the target $y = {tex.matrix(y)}$, and "
        "the loss is $C = \\tfrac12 \\lVert a - y \\rVert^2$. What is "
        "$\\partial C/\\partial a$?",
        _distinct((
            Choice(_vec(e), "∂C/∂a = a − y, entry by entry (the ½ cancels the 2)."),
            Choice(_vec(sympy.ones(2, 1)),
                   "1 is the derivative of a − y itself, as if the raw error were the loss.",
                   _mistake("raw-error-as-loss")),
            Choice(_vec(-e), "This is y − a: the sign is flipped.", _mistake("sign-flip")),
            Choice(_vec(2 * e), "2(a − y) is the derivative of ‖a − y‖², without the ½.",
                   _mistake("factor-of-two", S.DOUBLE_LOSS_GRADIENT)),
            Choice(_vec(e / 2), "This halves a − y: the ½ was kept after differentiating.",
                   _mistake("factor-of-two", S.HALF_LOSS_GRADIENT)),
        )),
    )


def _sigmoid_layer_values(rng: np.random.Generator) -> dict[str, Any]:
    return {"a": _drawn(rng, SIGMOID_TWENTIETHS, 20, 3), "y": _drawn(rng, np.arange(0, 11), 10, 3)}


def _delta_values(v: dict[str, Any]) -> Question:
    a, y = _column(v["a"]), _column(v["y"])
    e, slope = a - y, a.applyfunc(lambda p: p * (1 - p))
    return Question(
        f"An output layer of 3 sigmoid neurons, $a = \\sigma(z)$, predicts "
        f"$a = {tex.matrix(a)}$ for the target $y = {tex.matrix(y)}$; the loss is "
        "$C = \\tfrac12 \\lVert a - y \\rVert^2$. What is its error "
        "$\\delta = \\partial C/\\partial z$?",
        _distinct((
            Choice(_vec(e.multiply_elementwise(slope)),
                   "δ = (a − y) ⊙ σ'(z), and the sigmoid's σ'(z) = a(1 − a): each neuron's "
                   "error times its own slope."),
            Choice(_vec(e), "This is ∂C/∂a: the activation's derivative is left out.",
                   _mistake("missing-activation-derivative")),
            Choice(_vec(-e.multiply_elementwise(slope)), "y − a has the sign flipped.",
                   _mistake("sign-flip")),
            Choice(_num((e.T * slope)[0, 0]),
                   "A dot product gives one number, but δ needs one entry for each neuron.",
                   _mistake("dot-instead-of-hadamard")),
            Choice(_vec(e.multiply_elementwise(a)), "This takes σ'(z) as σ(z) = a.",
                   _mistake("wrong-activation-derivative", S.DERIVATIVE_AS_ACTIVATION)),
        )),
    )


def _neuron_values(rng: np.random.Generator) -> dict[str, Any]:
    return {"x": _drawn(rng, NONZERO_TENTHS, 10, 3),
            "a": _drawn(rng, SIGMOID_TWENTIETHS, 20, 1)[0],
            "y": _drawn(rng, np.arange(0, 11), 10, 1)[0]}


def _neuron_gradient(v: dict[str, Any]) -> Question:
    x, a, y = _column(v["x"]), _q(v["a"]), _q(v["y"])
    delta = (a - y) * a * (1 - a)
    return Question(
        f"One sigmoid neuron, $a = \\sigma(w^\\top x + b)$, gets the input $x = {tex.matrix(x)}$ "
        f"and outputs $a = {tex.number(a)}$; the target is $y = {tex.number(y)}$ and "
        "$C = \\tfrac12 (a - y)^2$. What is $\\partial C/\\partial w$, one entry per weight?",
        _distinct((
            Choice(_vec(delta * x),
                   "∂C/∂wⱼ = (a − y)·a(1 − a)·xⱼ: the loss's derivative, the sigmoid's, and "
                   "the input the weight multiplies."),
            Choice(_vec((a - y) * x), "(a − y)·x leaves out the sigmoid's derivative a(1 − a).",
                   _mistake("missing-activation-derivative")),
            Choice(_vec(-delta * x), "This uses y − a: the sign is flipped.",
                   _mistake("sign-flip")),
            Choice(_vec(delta * a * sympy.ones(3, 1)),
                   "This multiplies by the output a where ∂z/∂wⱼ = xⱼ belongs.",
                   _mistake("wrong-layer-input", S.OWN_OUTPUT_AS_INPUT)),
            Choice(_vec((a - y) * a * x), "This takes σ'(z) as σ(z) = a.",
                   _mistake("wrong-activation-derivative", S.DERIVATIVE_AS_ACTIVATION)),
        )),
    )


def _slope_values(rng: np.random.Generator) -> dict[str, Any]:
    return {"z": _drawn(rng, np.r_[-60:0, 1:61], 20, 3)}


def _sigmoid_slopes(v: dict[str, Any]) -> Question:
    z = _column(v["z"])
    a = z.applyfunc(lambda t: 1 / (1 + sympy.exp(-t)))
    return Question(
        f"A layer of 3 sigmoid neurons has the weighted input $z = {tex.matrix(z)}$. What is "
        "$\\sigma'(z)$, entry by entry?",
        _distinct((
            Choice(_vec(a.applyfunc(lambda p: p * (1 - p))),
                   "σ'(z) = σ(z)(1 − σ(z)): first each a = σ(z), then a(1 − a)."),
            Choice(_vec(z.applyfunc(lambda t: t * (1 - t))),
                   "This is z(1 − z): the formula needs a = σ(z), not z.",
                   _mistake("wrong-activation-derivative", S.DERIVATIVE_FORMULA_ON_Z)),
            Choice(_vec(a), "This is σ(z) itself, not its derivative.",
                   _mistake("wrong-activation-derivative", S.DERIVATIVE_AS_ACTIVATION)),
            Choice(_vec(sympy.ones(3, 1)),
                   "1 is σ'(z) of no activation at all: the sigmoid's derivative was dropped.",
                   _mistake("missing-activation-derivative")),
        )),
    )


def _back_values(rng: np.random.Generator) -> dict[str, Any]:
    return {"W2": _drawn(rng, np.r_[-3:0, 1:4], 1, 9), "delta2": _drawn(rng, NONZERO_HALVES, 2, 3)}


def _send_back_values(v: dict[str, Any]) -> Question:
    W2, d2 = _grid(v["W2"], 3), _column(v["delta2"])
    return Question(
        f"In a two-layer network, layer 2 has the weights $W_2 = {tex.matrix(W2)}$ and the "
        f"error $\\delta_2 = {tex.matrix(d2)}$. What is $\\partial C/\\partial a_1$, the error "
        "sent back to the outputs of layer 1?",
        _distinct((
            Choice(_vec(W2.T * d2),
                   "Backwards the arrows reverse, so W₂ is transposed: W₂ᵀδ₂, whose entry i "
                   "sums δ₂ⱼ·w_ji over the neurons j that a₁ᵢ feeds."),
            Choice(_vec(W2 * d2), "W₂δ₂ uses W₂ as in the forward pass, not transposed.",
                   _mistake("untransposed-backprop")),
            Choice(_vec(-W2.T * d2), "This sends back −δ₂: the sign is flipped.",
                   _mistake("sign-flip")),
        )),
    )


def _hidden_values(rng: np.random.Generator) -> dict[str, Any]:
    return {"W2": _drawn(rng, np.r_[-3:0, 1:4], 1, 4), "delta2": _drawn(rng, NONZERO_HALVES, 2, 2),
            "a1": _drawn(rng, SIGMOID_TWENTIETHS, 20, 2)}


def _hidden_delta_values(v: dict[str, Any]) -> Question:
    W2, d2, a1 = _grid(v["W2"], 2), _column(v["delta2"]), _column(v["a1"])
    slope = a1.applyfunc(lambda p: p * (1 - p))
    back = W2.T * d2
    return Question(
        f"A hidden layer of 2 sigmoid neurons outputs $a_1 = {tex.matrix(a1)}$ and feeds "
        f"layer 2, whose weights are $W_2 = {tex.matrix(W2)}$ and whose error is "
        f"$\\delta_2 = {tex.matrix(d2)}$. What is $\\delta_1 = \\partial C/\\partial z_1$?",
        _distinct((
            Choice(_vec(back.multiply_elementwise(slope)),
                   "The error comes back through W₂ᵀ and then through layer 1's own "
                   "activation: (W₂ᵀδ₂) ⊙ a₁(1 − a₁)."),
            Choice(_vec((W2 * d2).multiply_elementwise(slope)),
                   "Sending δ₂ back needs W₂ᵀ, not W₂.", _mistake("untransposed-backprop")),
            Choice(_vec(back), "This is ∂C/∂a₁; δ₁ = ∂C/∂z₁ still needs σ'(z₁).",
                   _mistake("missing-activation-derivative")),
            Choice(_vec(back.multiply_elementwise(a1)), "This takes σ'(z₁) as σ(z₁) = a₁.",
                   _mistake("wrong-activation-derivative", S.DERIVATIVE_AS_ACTIVATION)),
        )),
    )


def _layer_one_values(rng: np.random.Generator) -> dict[str, Any]:
    return {"delta1": _drawn(rng, NONZERO_HALVES, 2, 3), "x": _drawn(rng, np.r_[-5:0, 1:6], 1, 2),
            "a1": _drawn(rng, SIGMOID_TWENTIETHS, 20, 3)}


def _hidden_weight_values(v: dict[str, Any]) -> Question:
    d1, x, a1 = _column(v["delta1"]), _column(v["x"]), _column(v["a1"])
    return Question(
        f"Layer 1 of a network takes the input $x = {tex.matrix(x)}$ and outputs "
        f"$a_1 = {tex.matrix(a1)}$; its error is $\\delta_1 = {tex.matrix(d1)}$. What is "
        "$\\partial C/\\partial W_1$?",
        _distinct((
            Choice(_vec(d1 * x.T),
                   "z₁ = W₁x + b₁, so each weight's factor is the input x it multiplies: "
                   "δ₁·xᵀ, 3×2 like W₁."),
            Choice(_vec(d1 * a1.T), "a₁ is layer 1's output; its weights multiply its input x.",
                   _mistake("wrong-layer-input", S.OWN_OUTPUT_AS_INPUT)),
            Choice(_vec(x * d1.T), "x·δ₁ᵀ is the gradient transposed.",
                   _mistake("transposed-gradient")),
        )),
    )


def _batch_values(rng: np.random.Generator) -> dict[str, Any]:
    return {"X": _drawn(rng, np.r_[-4:0, 1:5], 1, 6), "D": _drawn(rng, NONZERO_HALVES, 2, 3)}


def _batch_mean(v: dict[str, Any]) -> Question:
    X, D = _grid(v["X"], 2), _grid(v["D"], 1)
    return Question(
        "A layer of one neuron sees a mini-batch of 3 examples: its inputs are the columns of "
        f"$X = {tex.matrix(X)}$ and each example's error, without any $\\tfrac13$, is an entry "
        f"of $\\Delta = {tex.matrix(D)}$. The cost is the mean of the 3 losses. What is "
        f"${FRAC_DC_DW}$?",
        _distinct((
            Choice(_vec(D * X.T / 3),
                   "ΔXᵀ sums the 3 examples' gradients δ⁽ᵏ⁾x⁽ᵏ⁾ᵀ; the mean cost divides by 3."),
            Choice(_vec(D * X.T), "This is the sum over the batch, not the mean.",
                   _mistake("batch-sum-not-mean")),
            Choice(_vec(X * D.T / 3), "X·Δᵀ/3 is the gradient transposed: a column, not a row.",
                   _mistake("transposed-gradient")),
        )),
    )


BANK: tuple[Template, ...] = (
    Template("outer-product", 1, _outer_values, _outer),
    Template("update-step", 1, _step_values, _step),
    Template("loss-value", 1, _prediction_values, _loss_value),
    Template("loss-gradient", 1, _prediction_values, _loss_gradient),
    Template("delta-values", 2, _sigmoid_layer_values, _delta_values),
    Template("neuron-gradient", 2, _neuron_values, _neuron_gradient),
    Template("sigmoid-slopes", 2, _slope_values, _sigmoid_slopes),
    Template("send-back-values", 3, _back_values, _send_back_values),
    Template("hidden-delta-values", 3, _hidden_values, _hidden_delta_values),
    Template("hidden-weight-values", 3, _layer_one_values, _hidden_weight_values),
    Template("batch-mean", 3, _batch_values, _batch_mean),
)
TEMPLATES = {t.id: t for t in (*BANK, *EARLIER)}



def _tags(t: Template) -> frozenset[str]:
    """The mistakes a template's wrong options name (the same whatever numbers it draws)."""
    rng = np.random.default_rng(0)
    while True:
        try:
            q = t.question(t.values(rng))
        except Degenerate:
            continue
        return frozenset(c.tag for c in q.choices[1:] if c.tag is not None)


# Every variant asks one question, and its wrong options name only a few mistakes: a
# difficulty's ``shows`` lists those every one of its questions offers.
COMMON_TAGS = {
    d: tuple(sorted(frozenset.intersection(*(_tags(t) for t in BANK if t.difficulty == d))))
    for d in (1, 2, 3)
}


