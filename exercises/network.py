"""The network file (CONTRACT §2): a small fully connected net, its data and its loss.

Column-vector convention: ``z = W·x + b`` with the m examples as the columns of x.
Every number is kept exact (SymPy ``Rational``); the engines decide how to compute.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

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


def _is_rows(data: object) -> TypeGuard[Sequence[Any]]:
    """A non-empty JSON array (a string is a sequence too, but never a list of rows)."""
    return isinstance(data, Sequence) and not isinstance(data, str) and bool(data)


def _matrix(data: object, field: str, context: Context | None = None) -> sympy.Matrix:
    """A matrix of exact numbers, each error naming the row or the entry."""
    if not _is_rows(data):
        raise NetworkError(field, "expected a non-empty list of rows")
    rows = []
    for i, row in enumerate(data):
        if not _is_rows(row):
            raise NetworkError(f"{field}[{i}]", "expected a non-empty list of numbers")
        if len(row) > MAX_WIDTH * MAX_EXAMPLES:
            raise NetworkError(f"{field}[{i}]", "row too long")
        rows.append([_number(cell, f"{field}[{i}][{j}]") for j, cell in enumerate(row)])
    if len({len(r) for r in rows}) != 1:
        raise NetworkError(field, "rows have different lengths")
    return sympy.Matrix(rows)


def _number(data: object, field: str, context: Context | None = None) -> sympy.Rational:
    try:
        return parse_exact(data)
    except NumberFormatError as exc:
        raise NetworkError(field, str(exc)) from None


def _shape(M: sympy.Matrix) -> str:
    return f"{M.rows}×{M.cols}"


# --- the rules: what each object of the file may hold, read and checked in order ---------

# What each object's fields are read into so far, and what the enclosing object passes down.
Context = dict[str, Any]


@dataclass(frozen=True)
class Read:
    """Read field ``name`` with ``reader`` (which raises ``NetworkError`` naming the field);
    an optional field left out takes ``default``."""

    name: str
    reader: Callable[[object, str, Context], object]
    default: object = None


@dataclass(frozen=True)
class Check:
    """Reject field ``name`` with ``message`` when ``fails(value, context)``; before the
    field's ``Read`` the value is the raw JSON. Skipped when an optional field is left out."""

    name: str
    fails: Callable[[Any, Context], bool]
    message: str | Callable[[Any, Context], str]


@dataclass(frozen=True)
class Schema:
    """An object of the network file: its required fields (reported missing in this order),
    its optional ones, what a value that is no object or an unknown key is told, and its
    steps. The first step that fails names the error, so the order is part of the contract."""

    required: tuple[str, ...]
    optional: tuple[str, ...]
    not_an_object: str
    unknown_field: str
    steps: tuple[Read | Check, ...]


def _validate(schema: Schema, data: object, where: str, context: Context) -> Context:
    """Every field of ``data`` read by ``schema``, after the ``context`` passed down."""
    if not isinstance(data, Mapping):
        raise NetworkError(where or "network", schema.not_an_object)
    for key in data:
        if key not in schema.required and key not in schema.optional:
            raise NetworkError(_path(where, key), schema.unknown_field)
    for key in schema.required:
        if key not in data:
            raise NetworkError(_path(where, key), "missing")
    values = {**context, **data}
    for step in schema.steps:
        field = _path(where, step.name)
        if isinstance(step, Read):
            values[step.name] = (step.reader(data[step.name], field, values)
                                 if step.name in data else step.default)
        elif step.name in data and step.fails(values[step.name], values):
            message = step.message
            raise NetworkError(field, message if isinstance(message, str)
                               else message(values[step.name], values))
    return values


def _path(where: str, key: object) -> str:
    return f"{where}.{key}" if where else str(key)


_LAYER = Schema(
    required=("W", "b", "activation"),
    optional=("alpha",),
    not_an_object="expected an object with W, b and activation",
    unknown_field="unknown field",
    steps=(
        Read("W", _matrix),
        Read("b", _matrix),
        Check("W", lambda W, c: W.rows > MAX_WIDTH, f"at most {MAX_WIDTH} neurons per layer"),
        Check("W", lambda W, c: W.cols != c["nin"],
              lambda W, c: f"shape {_shape(W)} does not fit its input of {c['nin']} rows "
                           f"(needs {W.rows}×{c['nin']})"),
        Check("b", lambda b, c: b.shape != (c["W"].rows, 1),
              lambda b, c: f"shape {_shape(b)}, expected {c['W'].rows}×1"),
        Check("activation", lambda act, c: act not in ACTIVATIONS,
              lambda act, c: f"unknown activation {act!r} "
                             f"(expected one of {', '.join(ACTIVATIONS)})"),
        Check("activation", lambda act, c: act == "softmax" and not c["last"],
              "softmax is allowed on the last layer only"),
        Check("alpha", lambda alpha, c: c["activation"] != "leaky_relu",
              "only a leaky_relu layer takes alpha"),
        Read("alpha", _number, default=DEFAULT_ALPHA),
    ),
)


def _layers(data: object, field: str, context: Context) -> tuple[Layer, ...]:
    """Each layer by ``_LAYER``, its input the previous layer's output (x for the first)."""
    assert _is_rows(data)  # checked by the rules before this read
    layers: list[Layer] = []
    nin = context["x"].rows
    for k, raw in enumerate(data):
        v = _validate(_LAYER, raw, f"{field}[{k}]", {"nin": nin, "last": k == len(data) - 1})
        layers.append(Layer(W=v["W"], b=v["b"], activation=v["activation"], alpha=v["alpha"]))
        nin = layers[-1].nout
    return tuple(layers)


# The output layer each probability loss needs; its targets must lie between 0 and 1.
_OUTPUT_FOR_LOSS = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}

_NETWORK = Schema(
    required=("x", "y", "layers", "loss"),
    optional=("learning_rate",),
    not_an_object="expected a JSON object",
    unknown_field="unknown field (expected layers, learning_rate, loss, x, y)",
    steps=(
        Read("x", _matrix),
        Check("x", lambda x, c: x.rows > MAX_WIDTH, f"at most {MAX_WIDTH} inputs"),
        Check("x", lambda x, c: x.cols > MAX_EXAMPLES, f"at most {MAX_EXAMPLES} examples"),
        Check("layers", lambda raw, c: not _is_rows(raw), "expected a non-empty list of layers"),
        Check("layers", lambda raw, c: len(raw) > MAX_DEPTH, f"at most {MAX_DEPTH} layers"),
        Read("layers", _layers),
        Read("y", _matrix),
        Check("y", lambda y, c: y.shape != (c["layers"][-1].nout, c["x"].cols),
              lambda y, c: f"shape {_shape(y)}, expected {c['layers'][-1].nout}×{c['x'].cols} "
                           "(outputs × examples)"),
        Check("loss", lambda loss, c: loss not in LOSSES,
              lambda loss, c: f"unknown loss {loss!r} (expected one of {', '.join(LOSSES)})"),
        Check("loss", lambda loss, c: (loss in _OUTPUT_FOR_LOSS
                                       and c["layers"][-1].activation != _OUTPUT_FOR_LOSS[loss]),
              lambda loss, c: f"{loss} needs a {_OUTPUT_FOR_LOSS[loss]} output layer"),
        Check("y", lambda y, c: c["loss"] in _OUTPUT_FOR_LOSS and any(not 0 <= t <= 1 for t in y),
              lambda y, c: f"{c['loss']} needs targets between 0 and 1"),
        Read("learning_rate", _number, default=sympy.Rational(1, 10)),
        Check("learning_rate", lambda lr, c: lr <= 0, "must be positive"),
    ),
)


class NotJSON(NetworkError):
    """A network file whose text is not JSON at all."""

    def __init__(self, exc: json.JSONDecodeError):
        ValueError.__init__(self, f"the network file is not JSON: {exc}")
        self.field, self.reason = "", str(exc)


def read_network(text: str) -> Network:
    """A network file's text decoded and validated: the messages ``backprop-quiz derive``
    prints, wherever a network file is read.

    Raises:
        NetworkError: ``NotJSON`` for text that is not JSON, else as ``parse_network``.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotJSON(exc) from None
    return parse_network(data)


def parse_network(data: object) -> Network:
    """Validate a network file (already decoded from JSON) and return the Network.

    Raises:
        NetworkError: naming the field and the reason, by the rules of ``_NETWORK``.
    """
    v = _validate(_NETWORK, data, "", {})
    return Network(x=v["x"], y=v["y"], layers=v["layers"], loss=v["loss"],
                   learning_rate=v["learning_rate"])
