"""An instructor's own network, for the dashboard page and its API twin: reading the file,
previewing every exercise type on it, and adding one as a slot of an assignment.

A network file is read by ``exercises.read_network``, so every message is the one
``backprop-quiz derive`` prints; the dashboard adds only its own size limits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy
from sqlalchemy import func, select

import exercises as ex
from exercises import latex as tex

from .db import db
from .models import Assignment, Slot

# A network file of the largest widths below is a few KB. Half the app's request limit
# (MAX_CONTENT_LENGTH, 64 KB by default), so a file over it gets this module's message.
MAX_BYTES = 32 * 1024
MAX_WIDTH = 6  # units or inputs of any layer: larger nets are no exercise to work by hand
MAX_EXAMPLES = 6


class NetworkInput(ValueError):
    """A network file the dashboard cannot preview; the message says why."""


def read(text: str) -> ex.Network:
    """The network of a pasted or uploaded file; ``NetworkInput`` with the CLI's message
    (or the dashboard's size limit) otherwise."""
    if len(text.encode()) > MAX_BYTES:
        raise NetworkInput(f"the network file is larger than {MAX_BYTES // 1024} KB")
    if not text.strip():
        raise NetworkInput("paste a network file or choose one to upload")
    try:
        net = ex.read_network(text)
    except ex.NetworkError as exc:
        raise NetworkInput(str(exc)) from None
    except RecursionError:
        raise NetworkInput("the network file is nested too deeply") from None
    widest = max(net.widths)
    if widest > MAX_WIDTH:
        raise NetworkInput(f"the dashboard previews networks at most {MAX_WIDTH} units wide "
                           f"(inputs included); this one has a layer of {widest}")
    if net.m > MAX_EXAMPLES:
        raise NetworkInput(f"the dashboard previews at most {MAX_EXAMPLES} examples; "
                           f"this network has {net.m}")
    return net


def read_json(data: object) -> ex.Network:
    """A network given as decoded JSON (the API's body), by the same rules as ``read``."""
    return read(json.dumps(data))


# --- the preview -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Named:
    """A mistake prediction of one part: the mistakes (one, or two made together) and the
    answer they give."""

    tags: tuple[str, ...]
    names: str
    value: Any  # grading form: float, or numpy array of floats


def preview(net: ex.Network) -> list[ex.Fitted]:
    """Every exercise type that can ask about ``net``, fitted."""
    return ex.for_network(net)


def named(fitted: ex.Fitted, part: str) -> list[Named]:
    """The mistakes the engine would name on ``part``, with their answers."""
    return [Named(p.tags, " with ".join(ex.MISTAKES[t].name if t in ex.MISTAKES else t
                                        for t in p.tags), p.value)
            for p in fitted.variant.predictions.get(part, ())]


def value_tex(kind: str, value: Any) -> str:
    """A key (answers format) or a prediction (grading form) in LaTeX."""
    if kind == "matrix":
        rows = np.asarray(value, dtype=object).tolist()
        return tex.matrix([[_exact(v) for v in row] for row in rows])
    if kind == "scalar":
        return tex.number(_exact(value))
    return str(value)


def _exact(v: Any) -> Any:
    """An answers-format number as the latex module takes it: "p/q" strings exact."""
    return sympy.Rational(v) if isinstance(v, str) else v


def fitted_json(fitted: ex.Fitted) -> dict[str, Any]:
    """One type's preview for the API: key, predictions per part, worked solution, warnings."""
    v = fitted.variant
    return {
        "exercise_type": v.type,
        "title": v.title,
        "difficulty": v.difficulty,
        "prompt": v.prompt,
        "params": v.params,
        "key": v.key,
        "predictions": {
            p.name: [{"mistakes": list(n.tags), "value": np.asarray(n.value).tolist()}
                     for n in named(fitted, p.name)]
            for p in v.parts
        },
        "solution": [{"title": s.title, "text": s.text, "latex": s.latex or None,
                      "parts": list(s.parts)} for s in fitted.solution.steps],
        "warnings": fitted.warnings,
    }


# --- adding a slot ---------------------------------------------------------------------------


class NotApplicable(ValueError):
    """The exercise type cannot ask about this network."""


def add_slot(assignment: Assignment, type_id: str, net: ex.Network, points: float) -> Slot:
    """A new last slot of ``assignment`` asking ``type_id`` about ``net`` (stored in the
    CONTRACT §2 form), at the difficulty the network's mistakes were checked for.

    Raises ``ex.UnknownExerciseType``, and ``NotApplicable`` where the type does not fit.
    """
    t = ex.get_type(type_id)
    if ex.fit_variant(t, net) is None:
        raise NotApplicable(f"{t.title} cannot ask about this network")
    last = db.session.scalar(select(func.max(Slot.position))
                             .where(Slot.assignment_id == assignment.id))
    slot = Slot(assignment=assignment, position=(last or 0) + 1, exercise_type=t.id,
                difficulty=ex.network_difficulty(net), points=points, network=net.to_json())
    db.session.add(slot)
    db.session.commit()
    return slot
