"""STUB (the domain branch replaces this file): grading policies and grader versions."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any


class PolicyError(ValueError):
    pass


@dataclass(frozen=True)
class Accepted:
    part: str
    relation: str | None
    value: Any | None
    reason: str
    credit: float = 1.0


@dataclass(frozen=True)
class GradingPolicy:
    rtol: float | None = None
    atol: float | None = None
    carry_forward: bool = True
    carry_forward_credit: float = 1.0
    partial_credit: bool = True
    mistake_credit: tuple[tuple[str, float], ...] = ()
    accepted: tuple[Accepted, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.rtol is not None:
            out["rtol"] = self.rtol
        if self.atol is not None:
            out["atol"] = self.atol
        return out

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> GradingPolicy:
        return cls(rtol=doc.get("rtol"), atol=doc.get("atol"))


DEFAULT_POLICY = GradingPolicy()


def merge(assignment_doc: Mapping[str, Any] | None,
          slot_doc: Mapping[str, Any] | None) -> GradingPolicy:
    return GradingPolicy.from_json({**(assignment_doc or {}), **(slot_doc or {})})


def grader_version(type_id: str, policy: GradingPolicy = DEFAULT_POLICY) -> str:
    try:
        package = metadata.version("backprop-quiz")
    except metadata.PackageNotFoundError:
        package = "0+unknown"
    doc = json.dumps({"type": type_id, "policy": policy.to_json()}, sort_keys=True)
    return f"{package}+{hashlib.sha256(doc.encode()).hexdigest()[:12]}"
