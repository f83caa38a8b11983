"""What a variant is once drawn: its parts, its key and its predicted wrong answers.

``Variant`` is the stored truth of a problem (CONTRACT §4). It keeps apart what the
student sees (prompt, network, parts) from what they must not (key, predictions),
and converts itself to and from a JSON-able record for the database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import sympy

from .numbers import parse_fraction, to_answer, to_float

Kind = Literal["matrix", "scalar", "expression", "choice"]

# Stated in every numeric part: |answer − key| ≤ atol + rtol·|key|, entry by entry.
RTOL = 5e-3
ATOL = 1e-4
# Looser band inside which a right-method answer counts as early rounding.
ROUNDING_RTOL = 5e-2
ROUNDING_ATOL = 5e-3
# A right answer written with this many significant figures is judged as rounded, never as a
# mistake (three figures are within the tolerance).
ROUNDED_FIGURES = 2


@dataclass(frozen=True)
class Option:
    """One answer of a choice part: its id, and its label as text (or, once rendered for a
    page, as markup: a ``str`` subclass such as ``markupsafe.Markup``)."""

    id: str
    label: str

    def rendered(self, render: Callable[[str], str]) -> Option:
        """This option with ``render`` applied to its label (e.g. text to safe HTML)."""
        return Option(self.id, render(self.label))


@dataclass(frozen=True)
class Part:
    """One answer box of a problem."""

    name: str
    kind: Kind
    label: str
    options: tuple[Option, ...] = ()
    symbols: tuple[str, ...] = ()
    rtol: float = RTOL
    atol: float = ATOL

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "label": self.label}
        if self.kind in ("matrix", "scalar"):
            out["tolerance"] = {"relative": self.rtol, "absolute": self.atol}
        if self.options:
            out["options"] = [{"id": o.id, "label": o.label} for o in self.options]
        if self.symbols:
            out["symbols"] = list(self.symbols)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Part:
        tol = data.get("tolerance", {})
        return cls(
            name=data["name"], kind=data["kind"], label=data["label"],
            options=tuple(Option(o["id"], o["label"]) for o in data.get("options", ())),
            symbols=tuple(data.get("symbols", ())),
            rtol=tol.get("relative", RTOL), atol=tol.get("absolute", ATOL),
        )


@dataclass(frozen=True)
class Prediction:
    """The answer a part would get from the tagged mistake(s); ``value`` in grading form."""

    tags: tuple[str, ...]
    value: Any


# --- values: exact (key), JSON (answers format) and grading form (float64 / Expr / id) ---


def value_to_json(kind: Kind, value: Any) -> Any:
    """The answers-format JSON of an exact or float value."""
    if kind == "matrix":
        M = value.tolist() if hasattr(value, "tolist") else value
        return [[to_answer(v) if isinstance(v, sympy.Basic) else float(v) for v in row]
                for row in M]
    if kind == "scalar":
        return to_answer(value) if isinstance(value, sympy.Basic) else float(value)
    if kind == "expression":
        from .expressions import expression_to_text

        return expression_to_text(value)
    return value


def value_from_json(part: Part, data: Any) -> Any:
    """The grading form of a stored JSON value (trusted: written by ``value_to_json``)."""
    if part.kind == "matrix":
        return np.array([[_number(v) for v in row] for row in data], dtype=np.float64)
    if part.kind == "scalar":
        return _number(data)
    if part.kind == "expression":
        from .expressions import parse_expression

        return parse_expression(data, part.symbols)
    return data


def to_grading_form(kind: Kind, value: Any) -> Any:
    """Exact or float value -> what the grader compares (float64 arrays and floats)."""
    if kind == "matrix":
        if isinstance(value, sympy.MatrixBase):
            return np.array([[to_float(v) for v in row] for row in value.tolist()],
                            dtype=np.float64)
        return np.asarray(value, dtype=np.float64)
    if kind == "scalar":
        return to_float(value)
    return value


def _number(v: Any) -> float:
    return float(parse_fraction(v)) if isinstance(v, str) else float(v)


@dataclass
class Variant:
    """One drawn problem: what the student sees, its key, and its mistake predictions."""

    type: str
    type_version: int
    seed: int
    difficulty: int
    title: str
    prompt: str
    network: dict[str, Any] | None
    params: dict[str, Any]
    parts: tuple[Part, ...]
    key: dict[str, Any]  # answers format (exact where possible)
    predictions: dict[str, tuple[Prediction, ...]]
    key_values: dict[str, Any] = field(default_factory=dict)  # grading form, derived
    # Derived per instance for grading (the rebuilt setup, stacked predictions); a worker
    # that keeps the variant pays for them once.
    cache: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.key_values:
            self.key_values = {p.name: value_from_json(p, self.key[p.name]) for p in self.parts}

    def part(self, name: str) -> Part:
        for p in self.parts:
            if p.name == name:
                return p
        raise KeyError(name)

    def to_json(self, with_key: bool = False) -> dict[str, Any]:
        """CONTRACT §4 problem (without the service's ``id``); the key only if asked."""
        out: dict[str, Any] = {
            "type": self.type,
            "type_version": self.type_version,
            "seed": self.seed,
            "difficulty": self.difficulty,
            "title": self.title,
            "prompt": self.prompt,
            "network": self.network,
            "params": self.params,
            "parts": [p.to_json() for p in self.parts],
        }
        if with_key:
            out["key"] = dict(self.key)
        return out

    def to_record(self) -> dict[str, Any]:
        """Everything, JSON-able: the stored truth of this variant."""
        out = self.to_json(with_key=True)
        out["predictions"] = {
            name: [
                {"tags": list(p.tags), "value": value_to_json(self.part(name).kind, p.value)}
                for p in preds
            ]
            for name, preds in self.predictions.items()
        }
        return out

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Variant:
        parts = tuple(Part.from_json(p) for p in data["parts"])
        by_name = {p.name: p for p in parts}
        return cls(
            type=data["type"], type_version=data["type_version"], seed=data["seed"],
            difficulty=data["difficulty"], title=data.get("title", data["type"]),
            prompt=data["prompt"], network=data.get("network"), params=data.get("params", {}),
            parts=parts, key=data["key"],
            predictions={
                name: tuple(
                    Prediction(tuple(p["tags"]), value_from_json(by_name[name], p["value"]))
                    for p in preds
                )
                for name, preds in data.get("predictions", {}).items()
            },
        )


def reads_as_rounded_key(part: Part, answer: Any, key: Any,
                         figures: int = ROUNDED_FIGURES) -> bool:
    """Every entry of ``answer`` within tolerance of the key's or the key's rounded to
    ``figures`` significant figures: a right answer written with fewer digits, which grading
    judges before any mistake and no mistake prediction may claim."""
    if part.kind not in ("matrix", "scalar") or np.shape(answer) != np.shape(key):
        return False
    a, k = np.asarray(answer, dtype=np.float64), np.asarray(key, dtype=np.float64)
    right = np.abs(a - k) <= part.atol + part.rtol * np.abs(k)
    return bool(np.all(right | _rounded_entries(a, k, figures)))


def _rounded_entries(a: np.ndarray, k: np.ndarray, figures: int) -> np.ndarray:
    """Entry by entry: a is k rounded to ``figures`` significant figures (either way at a
    tie): a multiple of k's last kept digit, at most half of one from k."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        unit = 10.0 ** (np.floor(np.log10(np.abs(k))) - figures + 1)
        steps = a / unit
        on_grid = np.abs(steps - np.round(steps)) <= 1e-6 * np.maximum(1.0, np.abs(steps))
        near = np.abs(a - k) <= 0.5 * unit * (1 + 1e-9)
    return (k != 0) & np.isfinite(unit) & on_grid & near
