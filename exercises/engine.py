"""The reference engine: forward pass, loss and backprop, written once.

The chain rule is spelled out step by step (``forward``, ``output_gradient``,
``layer_delta``, ``weight_gradient``, ...), each step a small function over a
*backend*: ``Exact`` keeps rationals rational and sigmoid/tanh/softmax symbolic,
``Float`` is NumPy float64 and also works on stacks of networks (leading axes).
``ChainRule`` runs the steps in order: forward z and a, the cost, dC/da, σ'(z),
δ = dC/da ⊙ σ'(z), dC/dW = δ·a_prevᵀ, dC/db = δ, the update, and Wᵀ·δ sent back.

A derivation may be computed with *slips*: the places where students go wrong
(drop σ'(z), use W instead of Wᵀ, forget the learning rate, ...). Each slip is a
small subclass of ``ChainRule`` overriding the one step it changes; a mistake in
the library is a set of slips, so the engine predicts the exact wrong answer a
mistake produces on any variant, downstream effects included. A new slip is a new
``Slip`` member and its override class, nothing inside the derivation.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

import numpy as np
import sympy

from .network import DEFAULT_ALPHA, Network
from .numbers import to_answer, to_exact_text, to_float

M = TypeVar("M")


class Exact:
    """SymPy matrices: rationals stay rationals, exp/log/tanh stay symbolic."""

    name = "exact"
    exp = staticmethod(sympy.exp)
    log = staticmethod(sympy.log)
    tanh = staticmethod(sympy.tanh)

    def matrix(self, M: sympy.Matrix) -> sympy.Matrix:
        return sympy.Matrix(M)

    def scalar(self, v: Any) -> Any:
        """An engine constant (never user text) as a SymPy number."""
        if isinstance(v, sympy.Basic):
            return v
        if isinstance(v, int):
            return sympy.Integer(v)
        return sympy.Rational(str(v))  # a float constant, read as the decimal it prints as

    def ones(self, like: sympy.Matrix, rows: int | None = None,
             cols: int | None = None) -> sympy.Matrix:
        return sympy.ones(like.rows if rows is None else rows, like.cols if cols is None else cols)

    def rows(self, M: sympy.Matrix) -> int:
        return M.rows

    def cols(self, M: sympy.Matrix) -> int:
        return M.cols

    def T(self, M: sympy.Matrix) -> sympy.Matrix:
        return M.T

    def mul(self, A: sympy.Matrix, B: sympy.Matrix) -> sympy.Matrix:
        """Elementwise (Hadamard) product."""
        return A.multiply_elementwise(B)

    def map(self, f: Callable[[Any], Any], Z: sympy.Matrix) -> sympy.Matrix:
        return Z.applyfunc(f)

    def positive(self, Z: sympy.Matrix) -> sympy.Matrix:
        """1 where z > 0, else 0."""
        return Z.applyfunc(lambda v: sympy.Integer(1) if v > 0 else sympy.Integer(0))

    def total(self, M: sympy.Matrix) -> Any:
        return sum(M, sympy.Integer(0))

    def column_sums(self, M: sympy.Matrix) -> sympy.Matrix:
        """1ᵀ·M: the sum of each column, a 1×m row."""
        return sympy.ones(1, M.rows) * M

    def row_sums(self, M: sympy.Matrix) -> sympy.Matrix:
        """M·1: the sum of each row, an n×1 column."""
        return M * sympy.ones(M.cols, 1)

    def spread(self, row: sympy.Matrix, n: int) -> sympy.Matrix:
        """1·row: a 1×m row repeated down n rows."""
        return sympy.ones(n, 1) * row

    def add_bias(self, Z: sympy.Matrix, b: sympy.Matrix) -> sympy.Matrix:
        """Z + b·1ᵀ: the bias column added to every example."""
        return Z + b * sympy.ones(1, Z.cols)

    def complement(self, M: sympy.Matrix) -> sympy.Matrix:
        """1 − M, entry by entry."""
        return M.applyfunc(lambda v: 1 - v)


class Float:
    """NumPy float64; a matrix may carry leading batch axes (a stack of networks)."""

    name = "float"
    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    tanh = staticmethod(np.tanh)

    def matrix(self, M: Any) -> np.ndarray:
        if isinstance(M, sympy.MatrixBase):
            return np.array([[to_float(v) for v in row] for row in M.tolist()], dtype=np.float64)
        return np.asarray(M, dtype=np.float64)

    def scalar(self, v: Any) -> float:
        if isinstance(v, sympy.Rational):
            return int(v.p) / int(v.q)  # correctly rounded, without evalf (hot: every derivation)
        return to_float(v)

    def ones(self, like: np.ndarray, rows: int | None = None,
             cols: int | None = None) -> np.ndarray:
        shape = (*like.shape[:-2], like.shape[-2] if rows is None else rows,
                 like.shape[-1] if cols is None else cols)
        return np.ones(shape)

    def rows(self, M: np.ndarray) -> int:
        return M.shape[-2]

    def cols(self, M: np.ndarray) -> int:
        return M.shape[-1]

    def T(self, M: np.ndarray) -> np.ndarray:
        return np.swapaxes(M, -1, -2)

    def mul(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        return A * B

    def map(self, f: Callable[[Any], Any], Z: np.ndarray) -> np.ndarray:
        return f(Z)

    def positive(self, Z: np.ndarray) -> np.ndarray:
        return (Z > 0).astype(np.float64)

    def total(self, M: np.ndarray) -> Any:
        return M.sum(axis=(-2, -1))

    def column_sums(self, M: np.ndarray) -> np.ndarray:
        return M.sum(axis=-2, keepdims=True)

    def row_sums(self, M: np.ndarray) -> np.ndarray:
        return M.sum(axis=-1, keepdims=True)

    def spread(self, row: np.ndarray, n: int) -> np.ndarray:
        # Broadcasting repeats the row wherever it meets an n-row matrix.
        return row

    def add_bias(self, Z: np.ndarray, b: np.ndarray) -> np.ndarray:
        return Z + b

    def complement(self, M: np.ndarray) -> np.ndarray:
        return 1.0 - M


EXACT = Exact()
FLOAT = Float()
Backend = Exact | Float


class Slip(enum.Enum):
    """A place in the derivation where a student's method departs from the chain rule."""

    ACTIVATION_SKIPPED = "prediction taken as z, not σ(z)"
    BIAS_OMITTED = "z = W·x, the bias left out"
    RAW_ERROR_AS_LOSS = "cost taken as a − y, so dC/da = 1"
    SIGN_FLIP = "y − a instead of a − y"
    DOUBLE_LOSS_GRADIENT = "(a − y)² differentiated without the ½"
    HALF_LOSS_GRADIENT = "an extra ½ on the loss gradient"
    LOSS_NOT_AVERAGED = "the mean squared error's 1/n over the outputs left out"
    OTHER_LOSS_DERIVATIVE = "dC/da of another loss (½SSE for MSE, or the reverse)"
    NO_ACTIVATION_DERIVATIVE = "σ'(z) dropped"
    DERIVATIVE_FORMULA_ON_Z = "σ'(z) computed as z(1 − z)"
    DERIVATIVE_AS_ACTIVATION = "σ'(z) computed as σ(z)"
    DERIVATIVE_OF_A = "σ'(a) instead of σ'(z)"
    DOT_NOT_HADAMARD = "δ = (dC/da)ᵀσ'(z), a scalar"
    SPREAD = "a scalar from a dot product spread back to the shape it replaced"
    SOFTMAX_EXTRA_DERIVATIVE = "δ = (a − y)⊙a(1 − a) for softmax"
    UNTRANSPOSED_BACKPROP = "W instead of Wᵀ sending δ back"
    UPDATED_WEIGHTS_IN_BACKPROP = "updated W sending δ back"
    TRANSPOSED_GRADIENT = "x·δᵀ instead of δ·xᵀ"
    DOT_NOT_OUTER = "xᵀ·δ, a scalar"
    HADAMARD_NOT_OUTER = "δ⊙x instead of δ·xᵀ"
    OWN_OUTPUT_AS_INPUT = "dC/dW built from the layer's own output"
    EARLIER_INPUT = "dC/dW built from the previous layer's input"
    BIAS_LIKE_WEIGHT = "dC/db = δ·xᵀ"
    BIAS_TIMES_INPUT = "dC/db = δ⊙x"
    BATCH_SUM = "summed over the batch, not averaged"
    GRADIENT_ASCENT = "W + η·g"
    NO_LEARNING_RATE = "W − g"
    INDEX_SWAP = "entry (j, i) for (i, j)"
    ZERO_BASED_INDEX = "0-based index for a 1-based one"


@dataclass
class LayerDerivation(Generic[M]):
    """Every quantity of one layer; ``None`` where a slip made it undefined (shapes)."""

    W: M
    b: M
    activation: str
    a_prev: M
    z: M
    a: M
    alpha: Any = DEFAULT_ALPHA  # the leaky ReLU's slope below zero
    a_in: M | None = None  # the input dC/dW was built from (a_prev unless a slip says otherwise)
    dC_da: M | None = None
    da_dz: M | None = None  # None for softmax, whose δ is a Jacobian product
    delta: M | None = None
    dC_dW: M | None = None
    dC_db: M | None = None
    W_new: M | None = None
    b_new: M | None = None


@dataclass
class Derivation(Generic[M]):
    """The full forward and backward pass of a network, as computed with ``slips``."""

    backend: Backend
    loss: Any
    layers: list[LayerDerivation[M]]
    slips: frozenset[Slip] = field(default_factory=frozenset)

    def to_json(self) -> dict[str, Any]:
        """CONTRACT §3: every quantity as float64 rows."""
        return {
            "loss": to_float(self.loss),
            "layers": [{k: _floats(getattr(L, k)) for k in QUANTITIES} for L in self.layers],
        }

    def to_exact_json(self) -> dict[str, Any]:
        """The same quantities as exact strings ("1/4", "1/(1 + exp(-1/2))")."""
        return {
            "loss": to_exact_text(self.loss),
            "layers": [{k: _texts(getattr(L, k)) for k in QUANTITIES} for L in self.layers],
        }


QUANTITIES = ("z", "a", "dC_da", "da_dz", "delta", "dC_dW", "dC_db", "W_new", "b_new")


def derivation_json(net: Network, exact: bool = False) -> dict[str, Any]:
    """CONTRACT §3 for ``backprop-quiz derive``: float64 from the float engine and, with
    ``exact``, the exact strings from the symbolic engine.

    The float engine gives the float64 numbers because evaluating the symbolic values
    of a deep sigmoid net costs SymPy minutes (the expressions grow like width^depth);
    the two engines are held together by the tests.
    """
    out = derive(net, FLOAT).to_json()
    if exact:
        out["exact"] = derive(net, EXACT).to_exact_json()
    return out


def _floats(M: Any) -> list[list[float]] | None:
    if M is None:
        return None
    return FLOAT.matrix(M).tolist()


def _texts(M: Any) -> list[list[str]] | None:
    if M is None:
        return None
    return [[str(to_answer(v)) if v.is_Rational else to_exact_text(v) for v in row]
            for row in M.tolist()]


class ShapeMismatch(Exception):
    """A slip asked for a product whose shapes do not fit."""


def matmul(A: Any, B: Any) -> Any:
    """A·B, raising ``ShapeMismatch`` (not a backend-specific error) when shapes differ."""
    if A.shape[-1] != B.shape[-2]:
        raise ShapeMismatch(f"{A.shape} · {B.shape}")
    if isinstance(A, np.ndarray) and max(A.ndim, B.ndim) > 2 and A.shape[-1] <= UNROLL:
        # NumPy multiplies a stack of tiny matrices one by one (~90 ns each); a sum of
        # k broadcast products over the whole stack is an order of magnitude faster.
        k = A.shape[-1]
        out = A[..., :, 0:1] * B[..., 0:1, :]
        for j in range(1, k):
            out = out + A[..., :, j:j + 1] * B[..., j:j + 1, :]
        return out
    return A @ B


UNROLL = 8


def same_shape(A: Any, B: Any) -> None:
    if A.shape != B.shape:
        raise ShapeMismatch(f"{A.shape} vs {B.shape}")


# --- the steps of the chain rule -------------------------------------------------


def forward(B: Backend, W: Any, b: Any, a_prev: Any) -> Any:
    """z = W·a_prev + b, the bias added to every example (column)."""
    return B.add_bias(matmul(W, a_prev), b)


def activate(B: Backend, activation: str, z: Any, alpha: Any = DEFAULT_ALPHA) -> Any:
    """a = σ(z) for the named activation."""
    if activation == "identity":
        return z
    if activation == "relu":
        return B.mul(z, B.positive(z))
    if activation == "leaky_relu":
        p = B.positive(z)
        return B.mul(z, p + (B.ones(z) - p) * B.scalar(alpha))
    if activation == "sigmoid":
        return B.map(lambda v: 1 / (1 + B.exp(-v)), z)
    if activation == "tanh":
        return B.map(B.tanh, z)
    if activation == "softmax":
        e = B.map(B.exp, z)
        return B.mul(e, B.spread(B.map(lambda v: 1 / v, B.column_sums(e)), B.rows(e)))
    raise ValueError(f"unknown activation {activation!r}")


def activation_derivative(
    B: Backend, activation: str, z: Any, a: Any, alpha: Any = DEFAULT_ALPHA
) -> Any:
    """da/dz elementwise, from z (and from a where that is the textbook form)."""
    if activation == "identity":
        return B.ones(z)
    if activation == "relu":
        return B.positive(z)
    if activation == "leaky_relu":
        p = B.positive(z)
        return p + (B.ones(z) - p) * B.scalar(alpha)
    if activation == "sigmoid":
        return B.mul(a, B.complement(a))
    if activation == "tanh":
        return B.ones(a) - B.mul(a, a)
    raise ValueError(f"{activation} has no elementwise derivative")


def cost(B: Backend, loss: str, a: Any, y: Any) -> Any:
    """C, the mean over the m examples of the per-example loss."""
    m = B.cols(a)
    n = B.rows(a)
    if loss == "half_sse":
        d = a - y
        return B.total(B.mul(d, d)) / (2 * m)
    if loss == "mse":
        d = a - y
        return B.total(B.mul(d, d)) / (n * m)
    if loss == "cross_entropy":
        return -B.total(B.mul(y, B.map(B.log, a))) / m
    if loss == "binary_cross_entropy":
        one = B.ones(a)
        return -B.total(B.mul(y, B.map(B.log, a)) + B.mul(one - y, B.map(B.log, one - a))) / m
    raise ValueError(f"unknown loss {loss!r}")


def output_gradient(B: Backend, loss: str, a: Any, y: Any) -> Any:
    """dC/da at the output layer (with the cost's 1/m)."""
    m = B.cols(a)
    n = B.rows(a)
    if loss == "half_sse":
        return (a - y) / m
    if loss == "mse":
        return (a - y) * B.scalar(sympy.Rational(2, n * m))
    if loss == "cross_entropy":
        return B.mul(-y, B.map(lambda v: 1 / v, a)) / m
    if loss == "binary_cross_entropy":
        one = B.ones(a)
        return B.mul(a - y, B.map(lambda v: 1 / v, B.mul(a, one - a))) / m
    raise ValueError(f"unknown loss {loss!r}")


def layer_delta(B: Backend, activation: str, dC_da: Any, da_dz: Any, a: Any) -> Any:
    """δ = dC/dz = dC/da ⊙ σ'(z); for softmax the Jacobian product a ⊙ (g − aᵀg)."""
    if activation == "softmax":
        return B.mul(a, dC_da - B.spread(B.column_sums(B.mul(a, dC_da)), B.rows(a)))
    same_shape(dC_da, da_dz)
    return B.mul(dC_da, da_dz)


def weight_gradient(B: Backend, delta: Any, a_prev: Any) -> Any:
    """dC/dW = δ · a_prevᵀ: an outer product per example, summed over the batch."""
    return matmul(delta, B.T(a_prev))


def bias_gradient(B: Backend, delta: Any) -> Any:
    """dC/db = δ summed over the examples."""
    return B.row_sums(delta)


def backward_error(B: Backend, W: Any, delta: Any) -> Any:
    """dC/da_prev = Wᵀ · δ: the error sent back through the weights."""
    return matmul(B.T(W), delta)


def sgd(B: Backend, W: Any, grad: Any, learning_rate: Any) -> Any:
    """W − η·g."""
    same_shape(W, grad)
    return W - grad * learning_rate


# --- the whole derivation ----------------------------------------------------------


def derive(net: Network, B: Backend = EXACT, slips: Iterable[Slip] = ()) -> Derivation[Any]:
    """Forward pass, cost and backprop of ``net`` with the given backend and slips."""
    x = B.matrix(net.x)
    y = B.matrix(net.y)
    layers = [(B.matrix(L.W), B.matrix(L.b), L.activation, L.alpha) for L in net.layers]
    return derive_arrays(B, x, y, layers, net.loss, net.learning_rate, frozenset(slips))


LayerParams = tuple[Any, Any, str, Any]
"""(W, b, activation, alpha) of one layer, W and b in the backend's form."""


def derive_arrays(
    B: Backend,
    x: Any,
    y: Any,
    layers: list[LayerParams],
    loss: str,
    learning_rate: Any,
    slips: frozenset[Slip] = frozenset(),
    memo: dict[Any, Any] | None = None,
) -> Derivation[Any]:
    """``derive`` on matrices already in the backend's form (for stacks of networks).

    ``memo``, shared between calls on the same network, keeps the forward pass and the
    output gradient, which only a few slips change: deriving the key and every mistake
    prediction then computes each of them once per distinct set of those slips.
    """
    if B is FLOAT:
        # A slip may divide by zero or overflow (σ of a huge z): that yields inf/nan
        # predictions, which the variant checks reject; no warning is needed.
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            return _derive(B, x, y, layers, loss, learning_rate, slips, memo)
    return _derive(B, x, y, layers, loss, learning_rate, slips, memo)


def _derive(B: Backend, x: Any, y: Any, layers: list[LayerParams], loss: str,
            learning_rate: Any, slips: frozenset[Slip],
            memo: dict[Any, Any] | None) -> Derivation[Any]:
    memo = {} if memo is None else memo
    rule = chain_rule(slips)(B, y, loss, learning_rate, slips)
    key = ("forward", slips & FORWARD_SLIPS)
    if key not in memo:
        memo[key] = rule.forward_pass(x, layers)
    rule.layers = [
        LayerDerivation(W=W, b=b, activation=act, alpha=alpha, a_prev=a_prev, z=z, a=a)
        for (W, b, act, alpha), (a_prev, z, a) in zip(layers, memo[key], strict=True)
    ]
    key = ("output", slips & OUTPUT_SLIPS)
    if key not in memo:
        memo[key] = rule.output(rule.layers[-1].a)
    C, dC_da = memo[key]
    for layer in reversed(range(len(layers))):
        dC_da = rule.backward(layer, dC_da)
    return Derivation(backend=B, loss=C, layers=rule.layers, slips=slips)


class ChainRule:
    """The right derivation, one method per step; a slip overrides the step it changes.

    A derivation with slips runs a subclass combining one override class per slip
    (``chain_rule``). Where two slips override the same step, the one declared first in
    ``Slip`` comes first and decides whether the other runs (through ``super()``).
    """

    def __init__(self, B: Backend, y: Any, loss: str, learning_rate: Any,
                 slips: frozenset[Slip]):
        self.B = B
        self.y = y
        self.loss = loss
        self.eta = learning_rate
        self.slips = slips  # for the slips (SPREAD) that only modify another slip's step
        self.layers: list[LayerDerivation[Any]] = []

    def last(self, layer: int) -> bool:
        return layer == len(self.layers) - 1

    # Forward: (a_prev, z, a) of each layer.

    def forward_pass(self, x: Any, layers: list[LayerParams]) -> list[tuple[Any, Any, Any]]:
        out, a_prev = [], x
        for k, (W, b, act, alpha) in enumerate(layers):
            z = self.z(W, b, a_prev)
            a = self.a(z, act, alpha, last=k == len(layers) - 1)
            out.append((a_prev, z, a))
            a_prev = a
        return out

    def z(self, W: Any, b: Any, a_prev: Any) -> Any:
        """z = W·a_prev + b."""
        return forward(self.B, W, b, a_prev)

    def a(self, z: Any, activation: str, alpha: Any, last: bool) -> Any:
        """a = σ(z)."""
        return activate(self.B, activation, z, alpha)

    # The loss at the output a: the cost C and dC/da.

    def output(self, a: Any) -> tuple[Any, Any]:
        """C and dC/da, both times the factor the loss carries (1 unless a slip adds one)."""
        C, dC_da = self.cost(a), self.dC_da(a)
        k = self.loss_scale(a)
        if k != 1:
            C, dC_da = C * k, dC_da * k
        return C, dC_da

    def cost(self, a: Any) -> Any:
        return cost(self.B, self.loss, a, self.y)

    def dC_da(self, a: Any) -> Any:
        return output_gradient(self.B, self.loss, a, self.y)

    def loss_scale(self, a: Any) -> Any:
        return 1

    # Backward, one layer at a time.

    def backward(self, layer: int, dC_da: Any) -> Any:
        """Every backward quantity of ``layer`` from its dC/da; returns the layer below's."""
        L = self.layers[layer]
        L.dC_da = dC_da
        if dC_da is not None:
            L.da_dz = self.da_dz(layer)
            L.delta = self.delta(layer, dC_da, L.da_dz)
        L.a_in = self.a_in(layer)
        if L.delta is not None and L.a_in is not None:
            L.dC_dW = _attempt(self.dC_dW, layer, L.delta, L.a_in)
        if L.delta is not None:
            L.dC_db = _attempt(self.dC_db, layer, L.delta)
        eta = self.learning_rate()
        L.W_new = _attempt(sgd, self.B, L.W, L.dC_dW, eta)
        L.b_new = _attempt(sgd, self.B, L.b, L.dC_db, eta)
        return self.dC_da_prev(layer) if layer > 0 else None

    def da_dz(self, layer: int) -> Any:
        """σ'(z); None for softmax, whose δ is a Jacobian product instead."""
        L = self.layers[layer]
        if L.activation == "softmax":
            return None
        return activation_derivative(self.B, L.activation, L.z, L.a, L.alpha)

    def delta(self, layer: int, dC_da: Any, da_dz: Any | None) -> Any:
        """δ = dC/da ⊙ σ'(z)."""
        L = self.layers[layer]
        return _attempt(layer_delta, self.B, L.activation, dC_da, da_dz, L.a)

    def a_in(self, layer: int) -> Any:
        """The input dC/dW is built from: the layer's own input a_prev."""
        return self.layers[layer].a_prev

    def dC_dW(self, layer: int, delta: Any, a_in: Any) -> Any:
        """δ · a_inᵀ."""
        return weight_gradient(self.B, delta, a_in)

    def dC_db(self, layer: int, delta: Any) -> Any:
        """δ summed over the examples."""
        return bias_gradient(self.B, delta)

    def learning_rate(self) -> Any:
        return self.B.scalar(self.eta)

    def W_back(self, layer: int) -> Any:
        """The weights δ is sent back through: those of the forward pass."""
        return self.layers[layer].W

    def dC_da_prev(self, layer: int) -> Any:
        """dC/da of the layer below: Wᵀ · δ."""
        W = self.W_back(layer)
        if W is None:  # the update it would use is undefined (a slip's shapes)
            return None
        return _attempt(backward_error, self.B, W, self.layers[layer].delta)


def _attempt(step: Callable[..., Any], *args: Any) -> Any:
    """Run a step; a slip whose shapes no longer fit (or a missing input) yields None."""
    try:
        return step(*args)
    except (ShapeMismatch, TypeError, AttributeError):
        return None


# --- the slips, each an override of the step it changes -------------------------------

OVERRIDES: dict[Slip, type[ChainRule]] = {}
"""The override class of each slip. SPREAD (read by the two dot-product slips) and the
index slips (read by the exercise types that ask for one entry) have none."""

R = TypeVar("R", bound=type[ChainRule])


def overrides(slip: Slip) -> Callable[[R], R]:
    """Class decorator: the class is how ``slip`` changes the chain rule."""
    def register(cls: R) -> R:
        OVERRIDES[slip] = cls
        return cls
    return register


@functools.cache
def chain_rule(slips: frozenset[Slip]) -> type[ChainRule]:
    """The chain rule as computed with ``slips``: their overrides, in ``Slip`` order."""
    bases = tuple(OVERRIDES[s] for s in Slip if s in slips and s in OVERRIDES)
    if not bases:
        return ChainRule
    return cast(type[ChainRule], type("ChainRuleWithSlips", bases, {}))


SIGMOID_TANH = ("sigmoid", "tanh")
RECTIFIERS = ("relu", "leaky_relu")

# The loss whose derivative a student confuses with the prompt's: the two squared errors
# (½Σ(a − y)² and (1/n)Σ(a − y)²), and for binary cross-entropy the ½SSE's a − y.
OTHER_LOSS = {"half_sse": "mse", "mse": "half_sse", "binary_cross_entropy": "half_sse"}


@overrides(Slip.ACTIVATION_SKIPPED)
class ActivationSkipped(ChainRule):
    def a(self, z: Any, activation: str, alpha: Any, last: bool) -> Any:
        return z if last else super().a(z, activation, alpha, last)

    def da_dz(self, layer: int) -> Any:
        return self.B.ones(self.layers[layer].z) if self.last(layer) else super().da_dz(layer)


@overrides(Slip.BIAS_OMITTED)
class BiasOmitted(ChainRule):
    def z(self, W: Any, b: Any, a_prev: Any) -> Any:
        return matmul(W, a_prev)


@overrides(Slip.RAW_ERROR_AS_LOSS)
class RawErrorAsLoss(ChainRule):
    def cost(self, a: Any) -> Any:
        return self.B.total(a - self.y) / self.B.cols(a)

    def dC_da(self, a: Any) -> Any:
        return self.B.ones(a) / self.B.cols(a)


@overrides(Slip.SIGN_FLIP)
class SignFlip(ChainRule):
    def output(self, a: Any) -> tuple[Any, Any]:
        C, dC_da = super().output(a)
        return C, -dC_da


@overrides(Slip.DOUBLE_LOSS_GRADIENT)
class DoubleLossGradient(ChainRule):
    def loss_scale(self, a: Any) -> Any:
        return super().loss_scale(a) * 2


@overrides(Slip.HALF_LOSS_GRADIENT)
class HalfLossGradient(ChainRule):
    def loss_scale(self, a: Any) -> Any:
        return super().loss_scale(a) * self.B.scalar(sympy.Rational(1, 2))


@overrides(Slip.LOSS_NOT_AVERAGED)
class LossNotAveraged(ChainRule):
    def loss_scale(self, a: Any) -> Any:
        k = super().loss_scale(a)
        return k * self.B.rows(a) if self.loss == "mse" else k


@overrides(Slip.OTHER_LOSS_DERIVATIVE)
class OtherLossDerivative(ChainRule):
    def dC_da(self, a: Any) -> Any:
        if self.loss not in OTHER_LOSS:
            return super().dC_da(a)
        return output_gradient(self.B, OTHER_LOSS[self.loss], a, self.y)


@overrides(Slip.NO_ACTIVATION_DERIVATIVE)
class NoActivationDerivative(ChainRule):
    def da_dz(self, layer: int) -> Any:
        L = self.layers[layer]
        return super().da_dz(layer) if L.activation == "softmax" else self.B.ones(L.z)

    def delta(self, layer: int, dC_da: Any, da_dz: Any | None) -> Any:
        # Softmax has no σ'(z) to drop but its Jacobian: δ = dC/da.
        return dC_da if da_dz is None else super().delta(layer, dC_da, da_dz)


@overrides(Slip.DERIVATIVE_FORMULA_ON_Z)
class DerivativeFormulaOnZ(ChainRule):
    def da_dz(self, layer: int) -> Any:
        L = self.layers[layer]
        if L.activation not in SIGMOID_TANH:
            return super().da_dz(layer)
        return activation_derivative(self.B, L.activation, L.z, L.z, L.alpha)


@overrides(Slip.DERIVATIVE_AS_ACTIVATION)
class DerivativeAsActivation(ChainRule):
    def da_dz(self, layer: int) -> Any:
        L = self.layers[layer]
        # For a ReLU too: the output max(0, z) written for its slope.
        return L.a if L.activation in (*SIGMOID_TANH, *RECTIFIERS) else super().da_dz(layer)


@overrides(Slip.DERIVATIVE_OF_A)
class DerivativeOfA(ChainRule):
    def da_dz(self, layer: int) -> Any:
        L = self.layers[layer]
        if L.activation not in SIGMOID_TANH:
            return super().da_dz(layer)
        a_of_a = activate(self.B, L.activation, L.a, L.alpha)
        return activation_derivative(self.B, L.activation, L.a, a_of_a, L.alpha)


@overrides(Slip.DOT_NOT_HADAMARD)
class DotNotHadamard(ChainRule):
    def delta(self, layer: int, dC_da: Any, da_dz: Any | None) -> Any:
        if not self.last(layer) or da_dz is None:
            return super().delta(layer, dC_da, da_dz)
        # One number per example (a 1×m row); with SPREAD, repeated down the n rows of δ.
        B = self.B
        collapsed = _attempt(lambda: B.column_sums(B.mul(dC_da, da_dz)))
        if Slip.SPREAD in self.slips and collapsed is not None:
            collapsed = matmul(B.ones(collapsed, B.rows(self.layers[layer].z), 1), collapsed)
        return collapsed


@overrides(Slip.SOFTMAX_EXTRA_DERIVATIVE)
class SoftmaxExtraDerivative(ChainRule):
    def delta(self, layer: int, dC_da: Any, da_dz: Any | None) -> Any:
        delta = super().delta(layer, dC_da, da_dz)
        if da_dz is not None or delta is None:
            return delta
        a = self.layers[layer].a
        return self.B.mul(delta, self.B.mul(a, self.B.complement(a)))


@overrides(Slip.UNTRANSPOSED_BACKPROP)
class UntransposedBackprop(ChainRule):
    def dC_da_prev(self, layer: int) -> Any:
        W = self.W_back(layer)
        return None if W is None else _attempt(matmul, W, self.layers[layer].delta)


@overrides(Slip.UPDATED_WEIGHTS_IN_BACKPROP)
class UpdatedWeightsInBackprop(ChainRule):
    def W_back(self, layer: int) -> Any:
        return self.layers[layer].W_new


@overrides(Slip.TRANSPOSED_GRADIENT)
class TransposedGradient(ChainRule):
    def dC_dW(self, layer: int, delta: Any, a_in: Any) -> Any:
        return matmul(a_in, self.B.T(delta))


@overrides(Slip.DOT_NOT_OUTER)
class DotNotOuter(ChainRule):
    def dC_dW(self, layer: int, delta: Any, a_in: Any) -> Any:
        W, B = self.layers[layer].W, self.B
        # xᵀδ, summed over the examples: one number (1×1); with SPREAD, in every entry of W.
        same_shape(a_in, delta)
        dot = B.column_sums(B.row_sums(B.mul(a_in, delta)))
        if Slip.SPREAD not in self.slips:
            return dot
        return matmul(matmul(B.ones(dot, B.rows(W), 1), dot), B.ones(dot, 1, B.cols(W)))


@overrides(Slip.HADAMARD_NOT_OUTER)
class HadamardNotOuter(ChainRule):
    def dC_dW(self, layer: int, delta: Any, a_in: Any) -> Any:
        same_shape(delta, a_in)
        return self.B.mul(delta, a_in)


@overrides(Slip.OWN_OUTPUT_AS_INPUT)
class OwnOutputAsInput(ChainRule):
    def a_in(self, layer: int) -> Any:
        return self.layers[layer].a


@overrides(Slip.EARLIER_INPUT)
class EarlierInput(ChainRule):
    def a_in(self, layer: int) -> Any:
        return self.layers[layer - 1].a_prev if layer > 0 else None


@overrides(Slip.BIAS_LIKE_WEIGHT)
class BiasLikeWeight(ChainRule):
    def dC_db(self, layer: int, delta: Any) -> Any:
        return weight_gradient(self.B, delta, self.layers[layer].a_prev)


@overrides(Slip.BIAS_TIMES_INPUT)
class BiasTimesInput(ChainRule):
    def dC_db(self, layer: int, delta: Any) -> Any:
        a_prev = self.layers[layer].a_prev
        same_shape(delta, a_prev)
        return bias_gradient(self.B, self.B.mul(delta, a_prev))


@overrides(Slip.BATCH_SUM)
class BatchSum(ChainRule):
    def loss_scale(self, a: Any) -> Any:
        return super().loss_scale(a) * self.B.cols(a)


@overrides(Slip.GRADIENT_ASCENT)
class GradientAscent(ChainRule):
    def learning_rate(self) -> Any:
        return -super().learning_rate()


@overrides(Slip.NO_LEARNING_RATE)
class NoLearningRate(ChainRule):
    def learning_rate(self) -> Any:
        return self.B.scalar(1)


def _slips_overriding(*steps: str) -> frozenset[Slip]:
    return frozenset(s for s, cls in OVERRIDES.items() if any(step in vars(cls) for step in steps))


# The slips that change the forward pass, and those that change it or the loss: a
# derivation's memo keeps one forward pass and one output per distinct set of them.
FORWARD_SLIPS = _slips_overriding("z", "a")
OUTPUT_SLIPS = FORWARD_SLIPS | _slips_overriding("output", "cost", "dC_da", "loss_scale")


# --- a fast backend for keys of sigmoid/tanh/softmax nets --------------------------------


class Numeric(Exact):
    """SymPy with rationals exact until exp/log/tanh, whose values are then kept to
    ``DIGITS`` significant digits.

    Nested symbolic exponentials (a sigmoid of a sigmoid) cost SymPy hundreds of
    milliseconds to build and evaluate; 40 digits give the same float64 key (the
    correctly rounded exact value) and the same printed story, in a few milliseconds.
    Piecewise-linear nets never call these functions and stay exactly rational, and
    so do the values the functions give exactly (σ(0) = 1/2).
    """

    name = "numeric"
    DIGITS = 40
    exp = staticmethod(lambda v: _digits(sympy.exp(v)))
    log = staticmethod(lambda v: _digits(sympy.log(v)))
    tanh = staticmethod(lambda v: _digits(sympy.tanh(v)))


def _digits(v: Any) -> Any:
    """A rational stays exact (e^0 = 1, so σ(0) = 1/2); anything else becomes 40 digits."""
    return v if v.is_Rational else v.evalf(Numeric.DIGITS)


NUMERIC = Numeric()
