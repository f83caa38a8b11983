"""symbolic-gradient and concept-check: the two exercise types whose answers are not numbers.

``symbolic-gradient`` asks for ∂C/∂w_ij as an expression in named symbols (a1, y1, x2, ...).
Its key and every mistake prediction are SymPy expressions built here by a small chain rule
over vectors of symbols, which applies the engine's slips the way the engine applies them to
numbers (y − a for a − y, a ½ or 2 on the loss gradient, σ'(z) dropped or wrong, the wrong
input, the indices swapped, a dot product for the outer one). The concrete network drawn
with it is the problem's diagram and the worked story's numeric check.

``concept-check`` asks one multiple-choice question from the templates of ``concept_bank``.
Each wrong option is one slip set of the mistake library, so the generic prediction
machinery maps that option to its tag, and choosing it names the mistake.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import sympy

from .. import latex as tex
from ..engine import Derivation, Slip
from ..expressions import sigmoid, to_latex
from ..mistakes import MISTAKES
from ..network import Network
from ..problem import Option, Part, Variant
from ..registry import ExerciseType, Setup, register
from ..solution import Step
from . import draw, text
from .concept_bank import BANK, COMMON_TAGS, TEMPLATES, Choice, Question
from .levels import Level, Levelled, table

S = Slip

# --- symbolic-gradient: the chain rule over symbols ------------------------------------------


def _symbol(name: str) -> sympy.Symbol:
    # Real symbols, as the answer parser builds them, so a key compares with an answer as is.
    return sympy.Symbol(name, real=True)


def _vector(stem: str, n: int) -> tuple[sympy.Symbol, ...]:
    return tuple(_symbol(f"{stem}{k + 1}") for k in range(n))


@dataclass(frozen=True)
class Layout:
    """The symbols of one symbolic-gradient variant, read off its network.

    One layer: inputs x, outputs a, targets y. Two layers (one output): inputs x, hidden
    outputs h, output weights W₂ = [v1 v2 ...], output a and target y.
    """

    x: tuple[sympy.Symbol, ...]
    a: tuple[sympy.Symbol, ...]
    y: tuple[sympy.Symbol, ...]
    h: tuple[sympy.Symbol, ...]
    v: tuple[sympy.Symbol, ...]
    activations: tuple[str, ...]
    loss: str

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in (*self.a, *self.y, *self.v, *self.h, *self.x))


def layout(net: Network) -> Layout:
    acts = tuple(L.activation for L in net.layers)
    x = _vector("x", net.x.rows)
    if len(net.layers) == 1:
        n = net.layers[0].nout
        return Layout(x, _vector("a", n), _vector("y", n), (), (), acts, net.loss)
    hidden = net.layers[0].nout
    return Layout(x, (_symbol("a"),), (_symbol("y"),), _vector("h", hidden),
                  _vector("v", hidden), acts, net.loss)


# The slips this chain rule knows. Any other (σ'(z) as z(1 − z): z is not a symbol here;
# W₂ for W₂ᵀ: W₂ is one row, so W₂·δ₂ does not fit; an earlier layer's input: layer 1 has
# none; a 0-based index) makes no expression in these symbols.
_SYMBOLIC_SLIPS = frozenset({
    S.SIGN_FLIP, S.DOUBLE_LOSS_GRADIENT, S.HALF_LOSS_GRADIENT, S.RAW_ERROR_AS_LOSS,
    S.NO_ACTIVATION_DERIVATIVE, S.DERIVATIVE_AS_ACTIVATION, S.DERIVATIVE_OF_A,
    S.DOT_NOT_HADAMARD, S.TRANSPOSED_GRADIENT, S.INDEX_SWAP, S.DOT_NOT_OUTER,
    S.HADAMARD_NOT_OUTER, S.OWN_OUTPUT_AS_INPUT,
})


def _derivative(activation: str, out: tuple[sympy.Expr, ...], s: frozenset[Slip]) -> list[Any]:
    """σ'(z) of each neuron, written in its output a = σ(z), with the engine's slips."""
    if activation == "identity" or S.NO_ACTIVATION_DERIVATIVE in s:
        return [sympy.Integer(1)] * len(out)
    if S.DERIVATIVE_AS_ACTIVATION in s:
        return list(out)
    if S.DERIVATIVE_OF_A in s:  # σ' evaluated at a instead of at z
        out = tuple(sigmoid(a) if activation == "sigmoid" else sympy.tanh(a) for a in out)
    if activation == "sigmoid":
        return [a * (1 - a) for a in out]
    if activation == "tanh":
        return [1 - a**2 for a in out]
    raise ValueError(f"no symbolic derivative for {activation}")


@functools.lru_cache(maxsize=2048)
def gradient_entry(lay: Layout, i: int, j: int, slips: frozenset[Slip]) -> sympy.Expr | None:
    """∂C/∂w_ij of the first layer (1-based i, j) as computed with ``slips``; None where
    the slips make no expression in these symbols."""
    s = slips
    if not s <= _SYMBOLIC_SLIPS:
        return None
    # dC/da at the output (one example, so no 1/m).
    if S.RAW_ERROR_AS_LOSS in s:
        g = [sympy.Integer(1)] * len(lay.a)
    elif lay.loss == "half_sse":
        g = [a - y for a, y in zip(lay.a, lay.y, strict=True)]
    elif lay.loss == "binary_cross_entropy":
        g = [(a - y) / (a * (1 - a)) for a, y in zip(lay.a, lay.y, strict=True)]
    else:
        raise ValueError(f"no symbolic gradient for the loss {lay.loss}")
    scale = sympy.Integer(-1 if S.SIGN_FLIP in s else 1)
    if S.DOUBLE_LOSS_GRADIENT in s:
        scale *= 2
    if S.HALF_LOSS_GRADIENT in s:
        scale /= 2
    slopes = _derivative(lay.activations[-1], lay.a, s)
    delta = [scale * gk * dk for gk, dk in zip(g, slopes, strict=True)]
    if S.DOT_NOT_HADAMARD in s:  # (dC/da)ᵀσ'(z): one number shared by every neuron
        delta = [sympy.Add(*delta)] * len(delta)
    inputs, own = lay.x, lay.a
    if lay.h:
        # Back through W₂ᵀ (W₂ is one row, so neuron i gets v_i·δ₂), then the hidden σ'.
        back = [v * delta[0] for v in lay.v]
        slopes = _derivative(lay.activations[0], lay.h, s)
        delta = [b * d for b, d in zip(back, slopes, strict=True)]
        own = lay.h
    a_in = own if S.OWN_OUTPUT_AS_INPUT in s else inputs
    if s & {S.TRANSPOSED_GRADIENT, S.INDEX_SWAP}:
        i, j = j, i
    if s & {S.DOT_NOT_OUTER, S.HADAMARD_NOT_OUTER}:
        if len(delta) != len(a_in):
            return None
        if S.DOT_NOT_OUTER in s:
            return sympy.Add(*(d * x for d, x in zip(delta, a_in, strict=True)))
        j = i  # δ ⊙ x: neuron i meets input i
    if not (1 <= i <= len(delta) and 1 <= j <= len(a_in)):
        return None
    return delta[i - 1] * a_in[j - 1]


def _values(lay: Layout, setup: Setup) -> dict[sympy.Symbol, Any]:
    """Each symbol's exact value in the variant's own network."""
    net, d = setup.net, setup.exact
    out = {x: net.x[k, 0] for k, x in enumerate(lay.x)}
    out |= {a: draw.known(d.layers[-1].a)[k, 0] for k, a in enumerate(lay.a)}
    out |= {y: net.y[k, 0] for k, y in enumerate(lay.y)}
    if lay.h:
        out |= {h: draw.known(d.layers[0].a)[k, 0] for k, h in enumerate(lay.h)}
        out |= {v: net.layers[1].W[0, k] for k, v in enumerate(lay.v)}
    return out


def _names(symbols: tuple[sympy.Symbol, ...]) -> str:
    return ", ".join(f"`{s.name}`" for s in symbols)


def _one_layer_story(net: Network, lay: Layout, i: int, j: int) -> list[Step]:
    """The chain rule of one layer's weight w_ij: its path to the cost and its factors."""
    a, y, x = (to_latex(v) for v in (lay.a[i - 1], lay.y[i - 1], lay.x[j - 1]))
    steps = [Step(
        "The path from the weight to the cost",
        f"w_{i}{j} feeds only neuron {i}: z_{i} = Σ_k w_{i}k·x_k + b_{i}. So the chain rule "
        "has three factors: how C changes with that neuron's output, how the output "
        "changes with z, and how z changes with the weight.",
        rf"\frac{{\partial C}}{{\partial w_{{{i}{j}}}}} = "
        rf"\frac{{\partial C}}{{\partial a_{{{i}}}}} \cdot "
        rf"\frac{{\partial a_{{{i}}}}}{{\partial z_{{{i}}}}} \cdot "
        rf"\frac{{\partial z_{{{i}}}}}{{\partial w_{{{i}{j}}}}}",
        ("expr",),
    )]
    act = net.layers[0].activation
    da_dz = "1" if act == "identity" else rf"{a}\,(1 - {a})"
    if net.loss == "binary_cross_entropy":
        why = ("Binary cross-entropy differentiates to (a − y)/(a(1 − a)), and the sigmoid's "
               "derivative a(1 − a) cancels it: δ is simply a − y. The weight's own factor "
               "is the input it multiplies.")
        dC_da = rf"\frac{{{a} - {y}}}{{{a}(1 - {a})}}"
    else:
        why = ("Half the squared error differentiates to a − y (the ½ cancels the 2); the "
               f"activation contributes σ'(z) = {'1' if act == 'identity' else 'a(1 − a)'}; "
               "the weight's own factor is the input it multiplies.")
        dC_da = rf"{a} - {y}"
    steps.append(Step(
        "The factors", why,
        rf"\frac{{\partial C}}{{\partial {a}}} = {dC_da}, \quad"
        rf"\frac{{\partial {a}}}{{\partial z_{{{i}}}}} = {da_dz}, \quad"
        rf"\frac{{\partial z_{{{i}}}}}{{\partial w_{{{i}{j}}}}} = {x}",
        ("expr",),
    ))
    return steps

def _two_layer_story(net: Network, lay: Layout, i: int, j: int) -> list[Step]:
    """The chain rule of a first-layer weight w_ij through the hidden unit i to the one
    output."""
    h, v, x = (to_latex(s) for s in (lay.h[i - 1], lay.v[i - 1], lay.x[j - 1]))
    hidden = net.layers[0].activation
    dh = rf"{h}(1 - {h})" if hidden == "sigmoid" else rf"(1 - {h}^2)"
    return [
        Step(
            "The path from the weight to the cost",
            f"w⁽¹⁾_{i}{j} feeds hidden neuron {i} only; that neuron reaches the output "
            f"through the weight v_{i}. The chain rule follows the path "
            f"w → z₁ → h_{i} → z₂ → a → C, one factor per arrow.",
            rf"\frac{{\partial C}}{{\partial w^{{(1)}}_{{{i}{j}}}}} = "
            rf"\frac{{\partial C}}{{\partial a}} \cdot \frac{{\partial a}}{{\partial z_2}} "
            rf"\cdot \frac{{\partial z_2}}{{\partial {h}}} \cdot "
            rf"\frac{{\partial {h}}}{{\partial z_{{1,{i}}}}} \cdot "
            rf"\frac{{\partial z_{{1,{i}}}}}{{\partial w^{{(1)}}_{{{i}{j}}}}}",
            ("expr",),
        ),
        Step(
            "The factors",
            "The output error δ₂ = (a − y)·a(1 − a) goes back through W₂ᵀ — for hidden "
            f"neuron {i} that is v_{i}·δ₂ — then through the hidden activation's "
            f"derivative ({'h(1 − h)' if hidden == 'sigmoid' else '1 − h²'}), and meets "
            f"the input x_{j} the weight multiplies.",
            rf"(a - y) \cdot a(1 - a) \cdot {v} \cdot {dh} \cdot {x}",
            ("expr",),
        ),
    ]


_SYMBOLIC_EVERY = ("sign-flip", "factor-of-two", "raw-error-as-loss", "index-swap",
                   "wrong-layer-input", "dot-instead-of-outer")
_SMOOTH_SHOWS = ("missing-activation-derivative", "wrong-activation-derivative")


@register
class SymbolicGradient(Levelled[Level]):
    id = "symbolic-gradient"
    version = 2
    title = "Symbolic gradient"
    summary = "∂C/∂w_ij as an expression in named symbols: the chain rule, written out."
    parts = (Part("expr", "expression", r"$\partial C / \partial w_{ij}$"),)

    # For one entry x·δᵀ is δ_j·x_i, exactly reading w_ji: transposed-gradient always
    # coincides with index-swap, and the two are named together. With one output
    # (difficulty 3) the dot product over outputs is the key itself.
    levels = table({
        1: Level(shows=_SYMBOLIC_EVERY),
        2: Level(shows=(*_SYMBOLIC_EVERY, *_SMOOTH_SHOWS, "dot-instead-of-hadamard")),
        3: Level(shows=(*_SYMBOLIC_EVERY, *_SMOOTH_SHOWS)),
    })

    def draw(self, rng: np.random.Generator, difficulty: int) -> Setup:
        if difficulty == 1:
            # Not an identity unit at z = 0 with y = 0: it would be dead (output and error 0).
            net = draw.alive(draw.network(rng, (2, 2), ["identity"], "half_sse", 1, 1))
        elif difficulty == 2:
            n = int(rng.integers(2, 4))
            loss = draw.pick(rng, ("half_sse", "binary_cross_entropy"))
            net = draw.network(rng, (n, n), ["sigmoid"], loss, 1, 2)
        else:
            net = draw.network(rng, (2, 2, 1), [draw.pick(rng, ("sigmoid", "tanh")), "sigmoid"],
                               "half_sse", 1, 3)
        if difficulty > 1:  # targets a sigmoid output can reach
            net = replace(net, y=draw.integers(rng, net.y.rows, 1, 0, 1))
        # W₁ is square and i ≠ j, so reading w_ji names another weight, not the same one.
        i, j = (int(k) + 1 for k in rng.choice(net.layers[0].nout, size=2, replace=False))
        return Setup(net, {"layer": 1, "i": i, "j": j})

    def _entry(self, setup: Setup, slips: frozenset[Slip]) -> dict[str, Any]:
        if len(slips) > 1 and S.SIGN_FLIP not in slips:
            # Of two mistakes at once, only those with y − a are predicted: the sign is
            # independent of every other step, and each prediction costs every variant a
            # comparison with every other.
            return {"expr": None}
        p = setup.params
        return {"expr": gradient_entry(layout(setup.net), p["i"], p["j"], slips)}

    def extract(self, setup: Setup, d: Derivation) -> dict[str, Any]:
        return self._entry(setup, d.slips)

    def key(self, setup: Setup) -> dict[str, Any]:
        return self._entry(setup, frozenset())

    def predict(self, setup: Setup, slips: frozenset[Slip]) -> dict[str, Any]:
        return self._entry(setup, slips)

    def parts_for(self, setup: Setup) -> tuple[Part, ...]:
        return (Part("expr", "expression", f"${self._w(setup)}$",
                     symbols=layout(setup.net).names),)

    @staticmethod
    def _w(setup: Setup) -> str:
        i, j = setup.params["i"], setup.params["j"]
        w = f"w_{{{i}{j}}}" if len(setup.net.layers) == 1 else f"w^{{(1)}}_{{{i}{j}}}"
        return rf"\partial C / \partial {w}"

    def prompt(self, setup: Setup) -> str:
        net, lay, p = setup.net, layout(setup.net), setup.params
        i, j = p["i"], p["j"]
        if len(net.layers) == 1:
            n = len(lay.a)
            model = (f"A layer of {n} neurons computes $z = Wx + b$ and $a = \\sigma(z)$ with "
                     f"{text.activation_name(net, 0)}, from the input "
                     f"$x = ({', '.join(to_latex(x) for x in lay.x)})^\\top$; the loss is "
                     f"{text.LOSS_NAMES[net.loss]}. "
                     f"Write ${self._w(setup)}$, the derivative with respect to the weight from "
                     f"input {j} to neuron {i}, as an expression in the symbols "
                     f"{_names(lay.a)} (outputs), {_names(lay.y)} (targets) and "
                     f"{_names(lay.x)} (inputs).")
        else:
            model = (f"A two-layer network computes the hidden outputs "
                     f"$h = \\sigma_1(W_1 x + b_1)$ ({len(lay.h)} neurons, "
                     f"{text.activation_name(net, 0)}) and one output "
                     f"$a = \\sigma(W_2 h + b_2)$ with the sigmoid, where "
                     f"$W_2 = [v_1 \\; v_2]$; the loss is $C = \\tfrac12 (a - y)^2$. "
                     f"Write ${self._w(setup)}$, the derivative with respect to the first-layer "
                     f"weight from input {j} to hidden neuron {i}, as an expression in the "
                     f"symbols `a` (output), `y` (target), {_names(lay.v)} (output weights), "
                     f"{_names(lay.h)} (hidden outputs) and {_names(lay.x)} (inputs).")
        return (f"{model} The diagram shows one such network with numbers; your expression "
                "must hold for any values. Type products with `*` and powers with `^`; "
                "`sigmoid(...)`, `tanh(...)` and `exp(...)` are available.")

    def story(self, setup: Setup) -> list[Any]:
        net, lay, p = setup.net, layout(setup.net), setup.params
        i, j = p["i"], p["j"]
        key = draw.known(gradient_entry(lay, i, j, frozenset()))
        if len(net.layers) == 1:
            steps = _one_layer_story(net, lay, i, j)
        else:
            steps = _two_layer_story(net, lay, i, j)
        steps.append(Step(
            "The expression",
            "Multiply the factors.",
            rf"{self._w(setup)} = {to_latex(key)}",
            ("expr",),
        ))
        values = _values(lay, setup)
        number = key.subs(values)
        reference = draw.known(setup.exact.layers[0].dC_dW)[i - 1, j - 1]
        shown = ", ".join(f"{to_latex(s)} = {tex.number(values[s])}"
                          for s in sorted(key.free_symbols, key=lambda s: s.name))
        steps.append(Step(
            "A check with this network's numbers",
            f"Put the diagram's values into the expression: it gives entry ({i}, {j}) of "
            "the weight gradient δ·xᵀ that the forward and backward pass compute.",
            rf"{shown} \;\Rightarrow\; {self._w(setup)} = {tex.number(number)} "
            rf"= \left(\delta x^\top\right)_{{{i}{j}}} = {tex.number(reference)}",
            ("expr",),
        ))
        return steps


# --- concept-check: one question of the bank ----------------------------------------------------

OPTION_IDS = "ABCDEF"

@dataclass
class ConceptSetup(Setup):
    """A concept question: no network, and its choices in the order shown (A, B, ...)."""

    shown: tuple[Choice, ...] = ()


@register
class ConceptCheck(ExerciseType):
    id = "concept-check"
    version = 2
    title = "Concept check"
    summary = "A multiple-choice question on the ideas of backprop; each wrong option is a "\
              "known mistake."
    parts = (Part("choice", "choice", "Your choice"),)

    def must_show(self, difficulty: int) -> tuple[str, ...]:
        return COMMON_TAGS[difficulty]

    def also_shows(self, setup: Setup) -> tuple[str, ...]:
        """Each wrong option of this variant's question names its mistake."""
        return tuple(c.tag for c in self._shown(setup) if c.tag is not None)

    def draw(self, rng: np.random.Generator, difficulty: int) -> Setup:
        bank = [t for t in BANK if t.difficulty == difficulty]
        template = bank[int(rng.integers(len(bank)))]
        values = template.values(rng)
        choices = template.question(values).choices
        shown = tuple(choices[int(k)] for k in rng.permutation(len(choices)))
        return ConceptSetup(None, {"template": template.id, **values}, shown)

    def setup_from(self, variant: Variant) -> Setup:
        """The question rebuilt from its template and numbers, its options matched by label."""
        values = dict(variant.params)
        template = TEMPLATES[values.pop("template")]
        by_label = {c.label: c for c in template.question(values).choices}
        shown = tuple(by_label[o.label] for o in variant.part("choice").options)
        return ConceptSetup(None, dict(variant.params), shown)

    @staticmethod
    def _shown(setup: Setup) -> tuple[Choice, ...]:
        assert isinstance(setup, ConceptSetup)
        return setup.shown

    def _question(self, setup: Setup) -> Question:
        values = dict(setup.params)
        return TEMPLATES[values.pop("template")].question(values)

    def parts_for(self, setup: Setup) -> tuple[Part, ...]:
        options = tuple(Option(OPTION_IDS[k], c.label) for k, c in enumerate(self._shown(setup)))
        return (Part("choice", "choice", "Your choice", options=options),)

    def _option(self, setup: Setup, slips: frozenset[Slip]) -> str | None:
        """The option a student with these slips picks (the answer for none); None when no
        option is that mistake."""
        for k, c in enumerate(self._shown(setup)):
            if c.slips == slips:
                return OPTION_IDS[k]
        return None

    def extract(self, setup: Setup, d: Derivation) -> dict[str, Any]:
        return {"choice": self._option(setup, d.slips)}

    def key(self, setup: Setup) -> dict[str, Any]:
        return {"choice": self._option(setup, frozenset())}

    def predict(self, setup: Setup, slips: frozenset[Slip]) -> dict[str, Any]:
        return {"choice": self._option(setup, slips)}

    def prompt(self, setup: Setup) -> str:
        return f"{self._question(setup).prompt} Choose one option."

    def story(self, setup: Setup) -> list[Any]:
        steps: list[Step] = []
        for k, c in enumerate(self._shown(setup)):
            if c.tag is None:
                steps.insert(0, Step(f"The answer: option {OPTION_IDS[k]}", c.why,
                                     c.label.strip("$"), ("choice",)))
            else:
                m = MISTAKES[c.tag]
                steps.append(Step(f"Option {OPTION_IDS[k]}: {m.name.lower()}",
                                  f"{c.why} {m.explanation}", c.label.strip("$"), ("choice",)))
        return steps
