"""The reference engine: forward pass, loss and backprop, written once.

The chain rule is spelled out step by step (``forward``, ``output_gradient``,
``layer_delta``, ``weight_gradient``, ...), each step a small function over a
*backend*: ``Exact`` keeps rationals rational and sigmoid/tanh/softmax symbolic,
``Float`` is NumPy float64 and also works on stacks of networks (leading axes).

A derivation may be computed with *slips*: the places where students go wrong
(drop σ'(z), use W instead of Wᵀ, forget the learning rate, ...). A mistake in
the library is a set of slips, so the engine predicts the exact wrong answer a
mistake produces on any variant, downstream effects included.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

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

    def ones(self, like: sympy.Matrix, rows: int | None = None, cols: int | None = None) -> sympy.Matrix:
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

    def ones(self, like: np.ndarray, rows: int | None = None, cols: int | None = None) -> np.ndarray:
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
    a_in: M | None = None  # the input dC/dW was built from (a_prev unless a slip says otherwise)
    z: M | None = None
    a: M | None = None
    dC_da: M | None = None
    da_dz: M | None = None
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
    return [[str(to_answer(v)) if v.is_Rational else to_exact_text(v) for v in row] for row in M.tolist()]


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


def derive(net: Network, B: Backend = EXACT, slips: Iterable[Slip] = ()) -> Derivation:
    """Forward pass, cost and backprop of ``net`` with the given backend and slips."""
    x = B.matrix(net.x)
    y = B.matrix(net.y)
    layers = [(B.matrix(L.W), B.matrix(L.b), L.activation, L.alpha) for L in net.layers]
    return derive_arrays(B, x, y, layers, net.loss, net.learning_rate, frozenset(slips))


def derive_arrays(
    B: Backend,
    x: Any,
    y: Any,
    layers: list[tuple[Any, Any, str, Any]],
    loss: str,
    learning_rate: Any,
    slips: frozenset[Slip] = frozenset(),
    memo: dict[Any, Any] | None = None,
) -> Derivation:
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


FORWARD_SLIPS = frozenset({Slip.ACTIVATION_SKIPPED, Slip.BIAS_OMITTED})
OUTPUT_SLIPS = FORWARD_SLIPS | {Slip.RAW_ERROR_AS_LOSS, Slip.DOUBLE_LOSS_GRADIENT,
                                Slip.HALF_LOSS_GRADIENT, Slip.BATCH_SUM, Slip.SIGN_FLIP,
                                Slip.LOSS_NOT_AVERAGED, Slip.OTHER_LOSS_DERIVATIVE}


def _derive(B, x, y, layers, loss, learning_rate, slips, memo=None):
    s = slips
    memo = {} if memo is None else memo
    key = ("forward", s & FORWARD_SLIPS)
    if key not in memo:
        memo[key] = _forward_pass(B, x, layers, s)
    out = [LayerDerivation(W=W, b=b, activation=act, a_prev=a_prev, z=z, a=a)
           for (W, b, act, _), (a_prev, z, a) in zip(layers, memo[key])]
    key = ("output", s & OUTPUT_SLIPS)
    if key not in memo:
        memo[key] = _output(B, loss, out[-1].a, y, s)
    C, g = memo[key]
    L = len(layers)

    # Backward.
    for l in reversed(range(L)):
        d = out[l]
        W, b, act, alpha = layers[l]
        d.dC_da = g
        d.da_dz, d.delta = _delta(B, d, act, alpha, y, last=(l == L - 1), loss=loss, s=s)
        d.a_in = _gradient_input(d, l, out, s)
        d.dC_dW = _attempt(_weight_gradient, B, d, s)
        d.dC_db = _attempt(_bias_gradient, B, d, s)
        lr = B.scalar(1 if Slip.NO_LEARNING_RATE in s else learning_rate)
        if Slip.GRADIENT_ASCENT in s:
            lr = -lr
        d.W_new = _attempt(sgd, B, W, d.dC_dW, lr)
        d.b_new = _attempt(sgd, B, b, d.dC_db, lr)
        if l > 0:
            W_back = d.W_new if Slip.UPDATED_WEIGHTS_IN_BACKPROP in s else W
            if W_back is None:  # the update it would use is undefined (a slip's shapes)
                g = None
            elif Slip.UNTRANSPOSED_BACKPROP in s:
                g = _attempt(matmul, W_back, d.delta)
            else:
                g = _attempt(backward_error, B, W_back, d.delta)
    return Derivation(backend=B, loss=C, layers=out, slips=s)


def _forward_pass(B, x, layers, s):
    """(a_prev, z, a) of each layer."""
    out, a_prev = [], x
    for l, (W, b, act, alpha) in enumerate(layers):
        z = matmul(W, a_prev) if Slip.BIAS_OMITTED in s else forward(B, W, b, a_prev)
        last = l == len(layers) - 1
        a = z if (last and Slip.ACTIVATION_SKIPPED in s) else activate(B, act, z, alpha)
        out.append((a_prev, z, a))
        a_prev = a
    return out


def _output(B, loss, aL, y, s):
    """The cost C and dC/da at the output, with the slips that touch them."""
    m = B.cols(aL)
    if Slip.RAW_ERROR_AS_LOSS in s:
        C = B.total(aL - y) / m
        g = B.ones(aL) / m
    else:
        C = cost(B, loss, aL, y)
        g = output_gradient(B, loss, aL, y)
        if Slip.OTHER_LOSS_DERIVATIVE in s and loss in OTHER_LOSS:
            g = output_gradient(B, OTHER_LOSS[loss], aL, y)
    scale = 1
    if Slip.LOSS_NOT_AVERAGED in s and loss == "mse":
        scale *= B.rows(aL)
    if Slip.DOUBLE_LOSS_GRADIENT in s:
        scale *= 2
    if Slip.HALF_LOSS_GRADIENT in s:
        scale *= B.scalar(sympy.Rational(1, 2))
    if Slip.BATCH_SUM in s:
        scale *= m
    if scale != 1:
        C, g = C * scale, g * scale
    if Slip.SIGN_FLIP in s:
        g = -g
    return C, g


RECTIFIERS = ("relu", "leaky_relu")

# The loss whose derivative a student confuses with the prompt's: the two squared errors
# (½Σ(a − y)² and (1/n)Σ(a − y)²), and for binary cross-entropy the ½SSE's a − y.
OTHER_LOSS = {"half_sse": "mse", "mse": "half_sse", "binary_cross_entropy": "half_sse"}


def _attempt(step: Callable[..., Any], *args: Any) -> Any:
    """Run a step; a slip whose shapes no longer fit (or a missing input) yields None."""
    try:
        return step(*args)
    except (ShapeMismatch, TypeError, AttributeError):
        return None


def _delta(B, d, act, alpha, y, *, last, loss, s):
    """σ'(z) and δ of one layer, with the slips that touch them."""
    if d.dC_da is None:
        return None, None
    if last and Slip.ACTIVATION_SKIPPED in s:
        da_dz = B.ones(d.z)
    elif act == "softmax":
        da_dz = None
    elif Slip.NO_ACTIVATION_DERIVATIVE in s:
        da_dz = B.ones(d.z)
    elif Slip.DERIVATIVE_FORMULA_ON_Z in s and act in ("sigmoid", "tanh"):
        da_dz = activation_derivative(B, act, d.z, d.z, alpha)
    elif Slip.DERIVATIVE_AS_ACTIVATION in s and act in ("sigmoid", "tanh", *RECTIFIERS):
        da_dz = d.a  # for a ReLU too: the output max(0, z) written for its slope
    elif Slip.DERIVATIVE_OF_A in s and act in ("sigmoid", "tanh"):
        a_of_a = activate(B, act, d.a, alpha)
        da_dz = activation_derivative(B, act, d.a, a_of_a, alpha)
    else:
        da_dz = activation_derivative(B, act, d.z, d.a, alpha)

    if act == "softmax" and not (last and Slip.ACTIVATION_SKIPPED in s):
        if Slip.NO_ACTIVATION_DERIVATIVE in s:
            return None, d.dC_da
        delta = _attempt(layer_delta, B, act, d.dC_da, None, d.a)
        if Slip.SOFTMAX_EXTRA_DERIVATIVE in s and delta is not None:
            delta = B.mul(delta, B.mul(d.a, B.complement(d.a)))
        return None, delta
    if Slip.DOT_NOT_HADAMARD in s and last:
        # One number per example (a 1×m row); with SPREAD, repeated down the n rows of δ.
        collapsed = _attempt(lambda: B.column_sums(B.mul(d.dC_da, da_dz)))
        if Slip.SPREAD in s and collapsed is not None:
            collapsed = matmul(B.ones(collapsed, B.rows(d.z), 1), collapsed)
        return da_dz, collapsed
    return da_dz, _attempt(layer_delta, B, act, d.dC_da, da_dz, d.a)


def _gradient_input(d, l, out, s):
    if Slip.OWN_OUTPUT_AS_INPUT in s:
        return d.a
    if Slip.EARLIER_INPUT in s:
        return out[l - 1].a_prev if l > 0 else None
    return d.a_prev


def _weight_gradient(B, d, s):
    a_in = d.a_in
    if d.delta is None or a_in is None:
        return None
    if Slip.TRANSPOSED_GRADIENT in s:
        return matmul(a_in, B.T(d.delta))
    if Slip.DOT_NOT_OUTER in s:
        # xᵀδ, summed over the examples: one number (1×1); with SPREAD, in every entry of W.
        same_shape(a_in, d.delta)
        dot = B.column_sums(B.row_sums(B.mul(a_in, d.delta)))
        if Slip.SPREAD not in s:
            return dot
        return matmul(matmul(B.ones(dot, B.rows(d.W), 1), dot), B.ones(dot, 1, B.cols(d.W)))
    if Slip.HADAMARD_NOT_OUTER in s:
        same_shape(d.delta, a_in)
        return B.mul(d.delta, a_in)
    return weight_gradient(B, d.delta, a_in)


def _bias_gradient(B, d, s):
    if d.delta is None:
        return None
    if Slip.BIAS_LIKE_WEIGHT in s:
        return weight_gradient(B, d.delta, d.a_prev)
    if Slip.BIAS_TIMES_INPUT in s:
        same_shape(d.delta, d.a_prev)
        return bias_gradient(B, B.mul(d.delta, d.a_prev))
    return bias_gradient(B, d.delta)


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
