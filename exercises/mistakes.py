"""The mistake library: every misconception tag of CONTRACT §6, written once.

A mistake is one or more alternative sets of engine slips. The engine applies the
slips to the reference derivation, so each mistake predicts the exact wrong answer
it produces on any variant. ``arithmetic-slip`` and ``rounding`` have no slips:
the grader recognises them by comparing with the key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .engine import Slip as S


@dataclass(frozen=True)
class Mistake:
    """A named misconception, its slips, and what a tutor would say about it.

    ``explanation`` is said in general terms; ``explanation_for`` says it in a variant's own
    conventions (its loss with its 1/n, its batch's 1/m) where the mistake depends on them.
    """

    tag: str
    name: str
    explanation: str
    variants: tuple[frozenset[S], ...] = ()
    specific: Callable[[Conventions], str] | None = None

    def explanation_for(self, network: dict[str, Any] | None) -> str:
        """The explanation in the conventions of ``network`` (CONTRACT §2 JSON); the general
        one without a network."""
        if network is None or self.specific is None:
            return self.explanation
        return self.specific(Conventions.of(network))

    def to_json(self) -> dict[str, str]:
        return {"tag": self.tag, "name": self.name, "explanation": self.explanation}


@dataclass(frozen=True)
class Conventions:
    """What a variant's explanations depend on: its loss, outputs n and batch m."""

    loss: str
    n: int
    m: int

    @classmethod
    def of(cls, network: dict[str, Any]) -> Conventions:
        y = network["y"]
        return cls(network["loss"], len(y), len(y[0]))

    @property
    def derivative(self) -> str:
        """The loss and its derivative, as this problem states them."""
        n = self.n
        return {
            "half_sse": "the loss is C = ½Σ(a − y)², so dC/da = a − y",
            "mse": (f"the loss is the mean over the {n} outputs, C = (1/{n})Σ(a − y)², so "
                    f"dC/da = (2/{n})(a − y)" + (" = a − y" if n == 2 else "")),
            "cross_entropy": "the loss is C = −Σ y·ln a, so dC/da = −y/a",
            "binary_cross_entropy": ("the loss is C = −Σ [y·ln a + (1 − y)·ln(1 − a)], so "
                                     "dC/da = (a − y)/(a(1 − a))"),
        }[self.loss]

    @property
    def batch(self) -> str:
        """The batch's 1/m, where there is a batch."""
        if self.m == 1:
            return ""
        return (f"; the cost is the mean over the {self.m} examples, so every gradient also "
                f"carries 1/{self.m}")


def _m(tag: str, name: str, explanation: str, *variants: set[S],
       specific: Callable[[Conventions], str] | None = None) -> Mistake:
    return Mistake(tag, name, explanation, tuple(frozenset(v) for v in variants), specific)


_CATALOGUE = [
    _m("transposed-gradient", "Transposed gradient",
       "You formed x·δᵀ. The gradient must have the shape of W (one row per neuron, one "
       "column per input), so it is dC/dW = δ·xᵀ: an (n×1)·(1×k) outer product gives n×k.",
       {S.TRANSPOSED_GRADIENT}),
    _m("dot-instead-of-outer", "Dot product instead of outer product",
       "You combined δ and x into a dot product (or multiplied them entry by entry). dC/dW "
       "needs every pair: entry (i, j) is δᵢ·xⱼ, which is the outer product δ·xᵀ — matrix "
       "multiplication of a column by a row, not a dot product.",
       {S.DOT_NOT_OUTER}, {S.HADAMARD_NOT_OUTER}, {S.DOT_NOT_OUTER, S.SPREAD}),
    _m("missing-activation-derivative", "Dropped σ'(z)",
       "You used δ = dC/da and left out the activation's derivative. By the chain rule "
       "δ = dC/dz = dC/da ⊙ σ'(z): the error has to pass back through the activation.",
       {S.NO_ACTIVATION_DERIVATIVE}),
    _m("activation-skipped", "Activation skipped",
       "You took the raw output z as the prediction. z = W·x + b goes through the activation "
       "first: the prediction is a = σ(z), and the loss is computed from a.",
       {S.ACTIVATION_SKIPPED}),
    _m("bias-omitted", "Bias left out",
       "You computed z = W·x and left out the bias. The weighted input is z = W·x + b (b added "
       "to every example), and every later quantity is computed from that z.",
       {S.BIAS_OMITTED}),
    _m("sign-flip", "Sign flip",
       "You used (y − a) where (a − y) belongs. For C = ½(a − y)² the derivative is "
       "dC/da = a − y: positive when the prediction is too high, so that gradient descent "
       "lowers it.",
       {S.SIGN_FLIP},
       specific=lambda c: (
           f"Your answer has the opposite sign: (y − a) where (a − y) belongs. Here "
           f"{c.derivative}{c.batch}. The gradient is positive where the prediction is too "
           "high, so that gradient descent lowers it.")),
    _m("factor-of-two", "Factor of two",
       "Your answer is twice or half the right one. The ½ in C = ½(a − y)² is there so that "
       "dC/da = (a − y); with mean squared error (a − y)² the derivative is 2(a − y). Check "
       "which loss the problem uses.",
       {S.DOUBLE_LOSS_GRADIENT}, {S.HALF_LOSS_GRADIENT},
       specific=lambda c: (
           f"Your answer is twice or half the right one. In this problem {c.derivative}"
           f"{c.batch}. Check for a stray ½ or 2.")),
    _m("loss-not-averaged", "Loss not averaged over the outputs",
       "You left out the 1/n of the mean squared error. MSE averages over the n outputs, "
       "C = (1/n)Σ(a − y)², so its derivative is dC/da = (2/n)(a − y).",
       {S.LOSS_NOT_AVERAGED},
       specific=lambda c: (
           f"You left out the 1/{c.n} of the mean squared error: {c.derivative}{c.batch}.")),
    _m("wrong-loss-derivative", "Derivative of another loss",
       "You differentiated another loss than the problem's. ½Σ(a − y)² gives dC/da = a − y; "
       "the mean squared error (1/n)Σ(a − y)² gives (2/n)(a − y); binary cross-entropy gives "
       "(a − y)/(a(1 − a)).",
       {S.OTHER_LOSS_DERIVATIVE},
       specific=lambda c: (
           f"You differentiated another loss than this problem's: {c.derivative}{c.batch}. "
           "Read the loss off the problem before differentiating it.")),
    _m("raw-error-as-loss", "Raw error as the loss",
       "You treated the loss as the difference a − y itself (so dC/da = 1). The loss is a "
       "function of prediction and target, e.g. C = ½(a − y)², and its derivative is a − y.",
       {S.RAW_ERROR_AS_LOSS},
       specific=lambda c: (
           "You treated the loss as the difference a − y itself (so dC/da = 1). The loss is a "
           f"function of prediction and target: {c.derivative}{c.batch}.")),
    _m("wrong-activation-derivative", "Wrong activation derivative",
       "Your σ'(z) is off: for the sigmoid σ'(z) = σ(z)(1 − σ(z)) = a(1 − a), computed from "
       "a = σ(z) (for tanh, 1 − a²). Not z(1 − z), not σ(z) itself, and not σ'(a). For a "
       "ReLU it is the slope, 1 above zero and 0 below (α for a leaky ReLU), not the output.",
       {S.DERIVATIVE_FORMULA_ON_Z}, {S.DERIVATIVE_AS_ACTIVATION}, {S.DERIVATIVE_OF_A}),
    _m("dot-instead-of-hadamard", "Dot product inside δ",
       "You collapsed (a − y)ᵀσ'(z) into one number. Each neuron has its own error: "
       "δ = dC/da ⊙ σ'(z) multiplies entry by entry and keeps one entry per neuron.",
       {S.DOT_NOT_HADAMARD}, {S.DOT_NOT_HADAMARD, S.SPREAD}),
    _m("wrong-layer-input", "Wrong layer input",
       "You built dC/dW from the wrong activations. For layer l, z = W·a_prev + b, so "
       "dz/dW is that layer's own input: dC/dW_l = δ_l · a_{l−1}ᵀ (x for the first layer).",
       {S.OWN_OUTPUT_AS_INPUT}, {S.EARLIER_INPUT}),
    _m("untransposed-backprop", "W instead of Wᵀ",
       "You sent the error back with W_{l+1}. Going backwards reverses the arrows: "
       "dC/da_l = W_{l+1}ᵀ · δ_{l+1}, which also makes the shapes fit (n_l rows).",
       {S.UNTRANSPOSED_BACKPROP}),
    _m("updated-weights-in-backprop", "Updated weights used in backprop",
       "You sent δ back through weights you had already updated. Backprop uses the weights "
       "of the forward pass; all updates happen after every gradient is computed.",
       {S.UPDATED_WEIGHTS_IN_BACKPROP}),
    _m("gradient-ascent", "Gradient ascent",
       "You added the gradient: W + η·g climbs the loss. Gradient descent steps against "
       "the gradient: W_new = W − η·dC/dW.",
       {S.GRADIENT_ASCENT}),
    _m("missing-learning-rate", "Learning rate missing",
       "You subtracted the whole gradient. The step is scaled by the learning rate: "
       "W_new = W − η·dC/dW.",
       {S.NO_LEARNING_RATE}),
    _m("index-swap", "Index swap",
       "You read the wrong entry. Entry (i, j) is row i, column j, counted from 1: it "
       "connects input j to neuron i.",
       {S.INDEX_SWAP}, {S.ZERO_BASED_INDEX}),
    _m("batch-sum-not-mean", "Batch summed, not averaged",
       "You summed over the batch. The cost is the mean of the per-example losses, so "
       "every gradient carries a 1/m: dC/dW = (1/m)·Σ δ⁽ᵏ⁾x⁽ᵏ⁾ᵀ.",
       {S.BATCH_SUM},
       specific=lambda c: (
           f"You summed over the batch. The cost is the mean of the {c.m} examples' losses, "
           f"so every gradient carries a 1/{c.m}: dC/dW = (1/{c.m})·Σ δ⁽ᵏ⁾x⁽ᵏ⁾ᵀ.")),
    _m("softmax-extra-derivative", "Extra softmax derivative",
       "With softmax and cross-entropy the Jacobian of softmax cancels against the loss: "
       "δ = a − y exactly. Multiplying again by a(1 − a) counts the softmax twice.",
       {S.SOFTMAX_EXTRA_DERIVATIVE}),
    _m("bias-times-input", "Bias gradient built like the weight gradient",
       "You multiplied by the input. The bias enters z = W·x + b with dz/db = 1, so "
       "dC/db = δ (summed over the batch), with the shape of b.",
       {S.BIAS_LIKE_WEIGHT}, {S.BIAS_TIMES_INPUT}),
    _m("arithmetic-slip", "Arithmetic slip",
       "Your method is right and all but one entry are correct: recheck the arithmetic of "
       "the entry marked wrong."),
    _m("rounding", "Rounding",
       "Your method is right, but the numbers drifted: you rounded intermediate values too "
       "early. Keep at least four significant figures until the final answer."),
]

MISTAKES: dict[str, Mistake] = {m.tag: m for m in _CATALOGUE}
