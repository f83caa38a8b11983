"""Grading policies an instructor may change, and the version of the grader that applies them.

A ``GradingPolicy`` changes how ``grading.grade`` scores, never what it recognises: the
tolerance, whether carried-forward credit is given and how much, whether a part that is not
right earns partial credit, a credit per named mistake, and answers the instructor accepts
(``Accepted``). ``DEFAULT_POLICY`` is ``SCORING_RULE`` exactly. A policy is stored as JSON
(``to_json``, canonical: equal policies give equal JSON) and read back strictly
(``from_json`` raises ``PolicyError`` naming the field and why).

``grader_version`` names what produced a result: the package, the exercise type's version,
the mistake library's text and the policy, so that a regrade can say what changed.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .answers import MAX_ENTRIES, PartFormatError, read_matrix
from .mistakes import MISTAKES
from .problem import ATOL, RTOL
from .registry import get_type

MAX_ACCEPTED = 50
MAX_REASON = 500
MAX_PART_NAME = 64
MAX_RELATION = 200
MAX_VALUE_TEXT = 2000
MAX_ATOL = 1e3
PACKAGE = "backprop-quiz"


class PolicyError(ValueError):
    """A policy that cannot be used; the message names the field and why."""


def _number(where: str, v: object, low: float, high: float) -> float:
    """``v`` as a float in [low, high]; bools, NaN and infinities refused."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise PolicyError(f"{where}: must be a number from {low:g} to {high:g}, "
                          f"got {_kind(v)}")
    f = float(v)
    if not math.isfinite(f) or not low <= f <= high:
        raise PolicyError(f"{where}: must be a number from {low:g} to {high:g}, got {v!r}")
    return f


def _flag(where: str, v: object) -> bool:
    if not isinstance(v, bool):
        raise PolicyError(f"{where}: must be true or false, got {_kind(v)}")
    return v


def _text(where: str, v: object, limit: int) -> str:
    if not isinstance(v, str) or not v.strip() or len(v) > limit:
        raise PolicyError(f"{where}: must be non-empty text of at most {limit} characters")
    return v


def _kind(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return f"the number {v!r}"
    if isinstance(v, str):
        return "text"
    if isinstance(v, (list, tuple)):
        return "a list"
    if isinstance(v, Mapping):
        return "an object"
    return type(v).__name__


def _frozen(v: Any) -> Any:
    """Lists as tuples, all the way down: an accepted value stays hashable."""
    return tuple(_frozen(x) for x in v) if isinstance(v, (list, tuple)) else v


def _thawed(v: Any) -> Any:
    return [_thawed(x) for x in v] if isinstance(v, (list, tuple)) else v


def _answer_value(where: str, v: Any) -> Any:
    """An answer in the answers' JSON format: a finite number, text, or rows of them."""
    if isinstance(v, bool) or v is None:
        raise PolicyError(f"{where}: must be an answer (a number, text or a matrix), "
                          f"got {_kind(v)}")
    if isinstance(v, (int, float)):
        if not math.isfinite(v):
            raise PolicyError(f"{where}: must be a finite number, got {v!r}")
        return v
    if isinstance(v, str):
        return _text(where, v, MAX_VALUE_TEXT)
    if isinstance(v, (list, tuple)):
        flat = [x for row in v for x in (row if isinstance(row, (list, tuple)) else [row])]
        if not flat or len(flat) > MAX_ENTRIES:
            raise PolicyError(f"{where}: a matrix must have 1 to {MAX_ENTRIES} entries")
        for x in flat:
            if isinstance(x, bool) or not isinstance(x, (int, float, str)) or (
                    isinstance(x, float) and not math.isfinite(x)):
                raise PolicyError(f"{where}: every entry must be a finite number or text, "
                                  f"got {_kind(x)}")
        try:
            read_matrix(_thawed(v))
        except PartFormatError as exc:
            raise PolicyError(f"{where}: {exc}") from None
        return _frozen(v)
    raise PolicyError(f"{where}: must be an answer (a number, text or a matrix), got {_kind(v)}")


_ACCEPTED_FIELDS = ("part", "relation", "value", "credit", "reason")


@dataclass(frozen=True, kw_only=True)
class Accepted:
    """An answer to one part the instructor accepts, for ``credit`` of the part.

    ``relation`` is a label as ``relations.relate`` says it ("2 × the key"): it matches any
    answer to the part that relates so to its own variant's key, so it holds across students'
    variants. ``value`` is one answer in the answers' JSON format, matched within the part's
    tolerance (for an answer no relation describes). Exactly one of the two is set.
    """

    part: str
    relation: str | None = None
    value: Any | None = None
    credit: float = 1.0
    reason: str

    def __post_init__(self) -> None:
        _text("part", self.part, MAX_PART_NAME)
        if (self.relation is None) == (self.value is None):
            raise PolicyError("relation: give either a relation or a value, not both or neither")
        if self.relation is not None:
            from .relations import NONE

            _text("relation", self.relation, MAX_RELATION)
            if self.relation == NONE.label:
                raise PolicyError("relation: 'no relation' would accept every unexplained "
                                  "answer; accept a value instead")
        else:
            object.__setattr__(self, "value", _answer_value("value", self.value))
        object.__setattr__(self, "credit", _number("credit", self.credit, 0.0, 1.0))
        _text("reason", self.reason, MAX_REASON)

    @property
    def answer(self) -> Any:
        """``value`` in the answers' JSON format (rows as lists), for the part's reader."""
        return _thawed(self.value)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"part": self.part}
        if self.relation is not None:
            out["relation"] = self.relation
        else:
            out["value"] = _thawed(self.value)
        out["credit"] = self.credit
        out["reason"] = self.reason
        return out

    @classmethod
    def from_json(cls, doc: object) -> Accepted:
        """An accepted answer from stored JSON (an object), checked strictly."""
        if not isinstance(doc, Mapping):
            raise PolicyError(f"accepted: each entry must be an object, got {_kind(doc)}")
        unknown = sorted(str(k) for k in set(doc) - set(_ACCEPTED_FIELDS))
        if unknown:
            raise PolicyError(f"{unknown[0][:64]}: unknown field (known: "
                              f"{', '.join(_ACCEPTED_FIELDS)})")
        for name in ("part", "reason"):
            if name not in doc:
                raise PolicyError(f"{name}: missing")
        return cls(part=doc["part"], relation=doc.get("relation"), value=doc.get("value"),
                   credit=doc.get("credit", 1.0), reason=doc["reason"])


@dataclass(frozen=True)
class GradingPolicy:
    """How a slot's submissions are scored; the defaults are ``SCORING_RULE``.

    ``rtol``/``atol`` replace every numeric part's own tolerance where set.
    ``carry_forward_credit`` is what a carried-forward part scores. With ``partial_credit``
    off, a part that is not right scores 0 unless carried forward, accepted, or a mistake in
    ``mistake_credit``. ``mistake_credit`` (tag → credit, kept as sorted pairs so the policy
    is hashable; a mapping is accepted) is what a part a named mistake explains scores in place
    of the rule's credit, the highest where several are named. An answer that shows no work
    (all one number, a copy) scores 0 whatever the policy, unless it is accepted.
    """

    rtol: float | None = None
    atol: float | None = None
    carry_forward: bool = True
    carry_forward_credit: float = 1.0
    partial_credit: bool = True
    mistake_credit: tuple[tuple[str, float], ...] = ()
    accepted: tuple[Accepted, ...] = ()

    def __post_init__(self) -> None:
        if self.rtol is not None:
            object.__setattr__(self, "rtol", _number("rtol", self.rtol, 0.0, 1.0))
        if self.atol is not None:
            object.__setattr__(self, "atol", _number("atol", self.atol, 0.0, MAX_ATOL))
        _flag("carry_forward", self.carry_forward)
        object.__setattr__(self, "carry_forward_credit",
                           _number("carry_forward_credit", self.carry_forward_credit, 0.0, 1.0))
        _flag("partial_credit", self.partial_credit)
        object.__setattr__(self, "mistake_credit", _credits(self.mistake_credit))
        accepted = self.accepted
        if not isinstance(accepted, (list, tuple)):
            raise PolicyError(f"accepted: must be a list, got {_kind(accepted)}")
        if len(accepted) > MAX_ACCEPTED:
            raise PolicyError(f"accepted: at most {MAX_ACCEPTED} answers, got {len(accepted)}")
        for i, a in enumerate(accepted):
            if not isinstance(a, Accepted):
                raise PolicyError(f"accepted[{i}]: must be an Accepted")
        object.__setattr__(self, "accepted", tuple(accepted))

    @property
    def credits(self) -> dict[str, float]:
        """``mistake_credit`` as a mapping."""
        return dict(self.mistake_credit)

    def to_json(self) -> dict[str, Any]:
        """The fields that differ from the default, JSON-able; equal policies, equal JSON."""
        out: dict[str, Any] = {}
        for name, default in _DEFAULTS.items():
            v = getattr(self, name)
            if v == default:
                continue
            if name == "mistake_credit":
                out[name] = dict(v)
            elif name == "accepted":
                out[name] = [a.to_json() for a in v]
            else:
                out[name] = v
        return out

    @classmethod
    def from_json(cls, doc: object) -> GradingPolicy:
        """A policy from stored JSON, checked strictly; ``PolicyError`` names what is wrong."""
        if doc is None:
            return DEFAULT_POLICY
        if not isinstance(doc, Mapping):
            raise PolicyError(f"policy: must be an object, got {_kind(doc)}")
        unknown = sorted(str(k) for k in set(doc) - set(_DEFAULTS))
        if unknown:
            raise PolicyError(f"{unknown[0][:64]}: unknown field (known: "
                              f"{', '.join(_DEFAULTS)})")
        kw: dict[str, Any] = dict(doc)
        if "mistake_credit" in kw and not isinstance(kw["mistake_credit"], Mapping):
            raise PolicyError(f"mistake_credit: must be an object of mistake tags and credits, "
                              f"got {_kind(kw['mistake_credit'])}")
        if "accepted" in kw:
            entries = kw["accepted"]
            if not isinstance(entries, list):
                raise PolicyError(f"accepted: must be a list, got {_kind(entries)}")
            if len(entries) > MAX_ACCEPTED:
                raise PolicyError(f"accepted: at most {MAX_ACCEPTED} answers, got {len(entries)}")
            read = []
            for i, entry in enumerate(entries):
                if not isinstance(entry, Mapping):
                    raise PolicyError(f"accepted[{i}]: must be an object, got {_kind(entry)}")
                try:
                    read.append(Accepted.from_json(entry))
                except PolicyError as exc:
                    raise PolicyError(f"accepted[{i}].{exc}") from None
            kw["accepted"] = tuple(read)
        return cls(**kw)


def _credits(v: object) -> tuple[tuple[str, float], ...]:
    """Tag → credit as pairs sorted by tag; every tag one of the mistake library's."""
    pairs: list[Any]
    if isinstance(v, Mapping):
        pairs = list(v.items())
    elif isinstance(v, (tuple, list)):
        pairs = list(v)
    else:
        raise PolicyError(f"mistake_credit: must map mistake tags to credits, got {_kind(v)}")
    out: dict[str, float] = {}
    for pair in pairs:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise PolicyError("mistake_credit: must map mistake tags to credits")
        tag, credit = pair
        if not isinstance(tag, str) or tag not in MISTAKES:
            raise PolicyError(f"mistake_credit: unknown mistake tag {str(tag)[:64]!r}")
        out[tag] = _number(f"mistake_credit[{tag!r}]", credit, 0.0, 1.0)
    return tuple(sorted(out.items()))


_DEFAULTS: dict[str, Any] = {
    "rtol": None, "atol": None, "carry_forward": True, "carry_forward_credit": 1.0,
    "partial_credit": True, "mistake_credit": (), "accepted": (),
}
DEFAULT_POLICY = GradingPolicy()


def merge(assignment_doc: Mapping[str, Any] | None,
          slot_doc: Mapping[str, Any] | None) -> GradingPolicy:
    """The policy a slot grades by: the assignment's, each field the slot's doc sets replacing
    the assignment's (a field set to its default in the slot's doc still replaces it).

    Accepted answers are taken from the slot's doc only: each names a part of the slot's
    exercise type, so an assignment-wide list means nothing and is ignored. Both docs are
    checked (``PolicyError``, its message saying which doc).
    """
    docs = {"assignment policy": assignment_doc, "slot policy": slot_doc}
    for where, doc in docs.items():
        try:
            GradingPolicy.from_json(doc)
        except PolicyError as exc:
            raise PolicyError(f"{where}: {exc}") from None
    merged = {k: v for k, v in (assignment_doc or {}).items() if k != "accepted"}
    merged.update(slot_doc or {})
    return GradingPolicy.from_json(merged)


def percent(f: float) -> str:
    """A fraction as a percentage, as the rule says it (0.005 → "0.5%")."""
    return f"{f * 100:.6g}%"


def describe(policy: GradingPolicy) -> list[str]:
    """How ``policy`` differs from ``SCORING_RULE``, one plain sentence each ([] for none)."""
    out: list[str] = []
    if policy.rtol is not None or policy.atol is not None:
        rtol = RTOL if policy.rtol is None else policy.rtol
        atol = ATOL if policy.atol is None else policy.atol
        out.append(f"Tolerance: within {percent(rtol)} (or {atol:.6g}) of the exact value.")
    if not policy.carry_forward:
        out.append("No carried-forward credit: a part is judged against the exact answer "
                   "only, even where it follows correctly from your own earlier answers.")
    elif policy.carry_forward_credit != 1.0:
        out.append("A part that follows correctly from your own earlier answers (carried "
                   f"forward) scores {percent(policy.carry_forward_credit)} of the part.")
    if not policy.partial_credit:
        out.append("No partial credit: a part that is not right scores 0, unless it is "
                   "carried forward, accepted by your instructor, or a mistake given its own "
                   "credit.")
    for tag, credit in policy.mistake_credit:
        out.append(f"The mistake “{MISTAKES[tag].name}” scores {percent(credit)} of the part.")
    parts = list(dict.fromkeys(a.part for a in policy.accepted))
    if parts:
        out.append("Your instructor also accepts some other answers to "
                   f"{', '.join(parts)}; the feedback says why where one applies.")
    return out


@functools.cache
def _package_version() -> str:
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def _digest(doc: Any) -> str:
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def mistake_library_version() -> str:
    """12 hex digits over every mistake's tag, name and explanation: editing one changes it."""
    return _digest(sorted([m.tag, m.name, m.explanation] for m in MISTAKES.values()))


def grader_version(type_id: str, policy: GradingPolicy = DEFAULT_POLICY) -> str:
    """``"<package version>+<12 hex digits>"``: the digits over the exercise type and its
    version, the mistake library and the policy; the same in every process."""
    doc = {
        "type": type_id,
        "type_version": get_type(type_id).version,
        "mistakes": mistake_library_version(),
        "policy": policy.to_json(),
    }
    return f"{_package_version()}+{_digest(doc)}"

