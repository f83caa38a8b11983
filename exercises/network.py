"""The network file (CONTRACT §2): a small fully connected net, its data and its loss.

Column-vector convention: ``z = W·x + b`` with the m examples as the columns of x.
Every number is kept exact (SymPy ``Rational``); the engines decide how to compute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sympy

from .numbers import NumberFormatError, parse_exact, to_answer

ACTIVATIONS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh", "softmax")
LOSSES = ("half_sse", "mse", "cross_entropy", "binary_cross_entropy")
DEFAULT_ALPHA = sympy.Rational(1, 100)
MAX_WIDTH = 64
MAX_DEPTH = 16
MAX_EXAMPLES = 256


class NetworkError(ValueError):
    """A network file that cannot be used; ``field`` names the offending field."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Layer:
    """One dense layer: ``a = activation(W·a_prev + b)``."""

    W: sympy.Matrix
    b: sympy.Matrix
    activation: str
    alpha: sympy.Rational = DEFAULT_ALPHA

    @property
    def nin(self) -> int:
        return self.W.cols

    @property
    def nout(self) -> int:
        return self.W.rows


@dataclass(frozen=True)
class Network:
    """Input batch ``x`` (n0×m), targets ``y`` (nL×m), layers, loss and learning rate."""

    x: sympy.Matrix
    y: sympy.Matrix
    layers: tuple[Layer, ...]
    loss: str
    learning_rate: sympy.Rational

    @property
    def m(self) -> int:
        """The number of examples (columns of x)."""
        return self.x.cols

    @property
    def widths(self) -> tuple[int, ...]:
        return (self.x.rows, *(layer.nout for layer in self.layers))

    def to_json(self) -> dict[str, Any]:
        """The network file form; exact values as ints or "p/q" strings."""
        layers = []
        for layer in self.layers:
            entry: dict[str, Any] = {
                "W": matrix_to_json(layer.W),
                "b": matrix_to_json(layer.b),
                "activation": layer.activation,
            }
            if layer.activation == "leaky_relu":
                entry["alpha"] = to_answer(layer.alpha)
            layers.append(entry)
        return {
            "x": matrix_to_json(self.x),
            "y": matrix_to_json(self.y),
            "layers": layers,
            "loss": self.loss,
            "learning_rate": to_answer(self.learning_rate),
        }


def matrix_to_json(M: sympy.Matrix) -> list[list[int | str | float]]:
    return [[to_answer(M[i, j]) for j in range(M.cols)] for i in range(M.rows)]


def _matrix(data: object, field: str) -> sympy.Matrix:
    if not isinstance(data, Sequence) or isinstance(data, str) or not data:
        raise NetworkError(field, "expected a non-empty list of rows")
    rows = []
    for i, row in enumerate(data):
        if not isinstance(row, Sequence) or isinstance(row, str) or not row:
            raise NetworkError(f"{field}[{i}]", "expected a non-empty list of numbers")
        if len(row) > MAX_WIDTH * MAX_EXAMPLES:
            raise NetworkError(f"{field}[{i}]", "row too long")
        cells = []
        for j, cell in enumerate(row):
            try:
                cells.append(parse_exact(cell))
            except NumberFormatError as exc:
                raise NetworkError(f"{field}[{i}][{j}]", str(exc)) from None
        rows.append(cells)
    if len({len(r) for r in rows}) != 1:
        raise NetworkError(field, "rows have different lengths")
    return sympy.Matrix(rows)


def _shape(M: sympy.Matrix) -> str:
    return f"{M.rows}×{M.cols}"


def parse_network(data: object) -> Network:
    """Validate a network file (already decoded from JSON) and return the Network.

    Raises:
        NetworkError: naming the field and the reason.
    """
    if not isinstance(data, Mapping):
        raise NetworkError("network", "expected a JSON object")
    known = {"x", "y", "layers", "loss", "learning_rate"}
    for key in data:
        if key not in known:
            raise NetworkError(str(key), f"unknown field (expected {', '.join(sorted(known))})")
    for key in ("x", "y", "layers", "loss"):
        if key not in data:
            raise NetworkError(key, "missing")

    x = _matrix(data["x"], "x")
    if x.rows > MAX_WIDTH:
        raise NetworkError("x", f"at most {MAX_WIDTH} inputs")
    if x.cols > MAX_EXAMPLES:
        raise NetworkError("x", f"at most {MAX_EXAMPLES} examples")

    raw_layers = data["layers"]
    if not isinstance(raw_layers, Sequence) or isinstance(raw_layers, str) or not raw_layers:
        raise NetworkError("layers", "expected a non-empty list of layers")
    if len(raw_layers) > MAX_DEPTH:
        raise NetworkError("layers", f"at most {MAX_DEPTH} layers")

    layers: list[Layer] = []
    nin = x.rows
    for l, raw in enumerate(raw_layers):
        where = f"layers[{l}]"
        if not isinstance(raw, Mapping):
            raise NetworkError(where, "expected an object with W, b and activation")
        for key in raw:
            if key not in ("W", "b", "activation", "alpha"):
                raise NetworkError(f"{where}.{key}", "unknown field")
        for key in ("W", "b", "activation"):
            if key not in raw:
                raise NetworkError(f"{where}.{key}", "missing")
        W = _matrix(raw["W"], f"{where}.W")
        b = _matrix(raw["b"], f"{where}.b")
        if W.rows > MAX_WIDTH:
            raise NetworkError(f"{where}.W", f"at most {MAX_WIDTH} neurons per layer")
        if W.cols != nin:
            raise NetworkError(
                f"{where}.W",
                f"shape {_shape(W)} does not fit its input of {nin} rows (needs {W.rows}×{nin})",
            )
        if b.shape != (W.rows, 1):
            raise NetworkError(f"{where}.b", f"shape {_shape(b)}, expected {W.rows}×1")
        act = raw["activation"]
        if act not in ACTIVATIONS:
            raise NetworkError(
                f"{where}.activation", f"unknown activation {act!r} (expected one of {', '.join(ACTIVATIONS)})"
            )
        if act == "softmax" and l != len(raw_layers) - 1:
            raise NetworkError(f"{where}.activation", "softmax is allowed on the last layer only")
        alpha = DEFAULT_ALPHA
        if "alpha" in raw:
            if act != "leaky_relu":
                raise NetworkError(f"{where}.alpha", "only a leaky_relu layer takes alpha")
            try:
                alpha = parse_exact(raw["alpha"])
            except NumberFormatError as exc:
                raise NetworkError(f"{where}.alpha", str(exc)) from None
        layers.append(Layer(W=W, b=b, activation=act, alpha=alpha))
        nin = W.rows

    y = _matrix(data["y"], "y")
    if y.shape != (nin, x.cols):
        raise NetworkError("y", f"shape {_shape(y)}, expected {nin}×{x.cols} (outputs × examples)")

    loss = data["loss"]
    if loss not in LOSSES:
        raise NetworkError("loss", f"unknown loss {loss!r} (expected one of {', '.join(LOSSES)})")
    last = layers[-1].activation
    if loss == "cross_entropy" and last != "softmax":
        raise NetworkError("loss", "cross_entropy needs a softmax output layer")
    if loss == "binary_cross_entropy" and last != "sigmoid":
        raise NetworkError("loss", "binary_cross_entropy needs a sigmoid output layer")
    if loss in ("cross_entropy", "binary_cross_entropy") and any(not (0 <= v <= 1) for v in y):
        raise NetworkError("y", f"{loss} needs targets between 0 and 1")

    lr = sympy.Rational(1, 10)
    if "learning_rate" in data:
        try:
            lr = parse_exact(data["learning_rate"])
        except NumberFormatError as exc:
            raise NetworkError("learning_rate", str(exc)) from None
        if lr <= 0:
            raise NetworkError("learning_rate", "must be positive")

    return Network(x=x, y=y, layers=tuple(layers), loss=loss, learning_rate=lr)
