"""Shared helpers of the exercise-type tests: cached variants, grading a key with parts
replaced, and the single-mistake predictions a sweep checks."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import numpy as np

import exercises as E

SEEDS = range(200)


@functools.cache
def variant(type_id: str, seed: int, difficulty: int) -> E.Variant:
    return E.generate(type_id, seed, difficulty)


def variants(type_id: str, difficulty: int) -> list[E.Variant]:
    return [variant(type_id, s, difficulty) for s in SEEDS]


def assert_key_near(v: E.Variant, ref: dict[str, Any]) -> None:
    """Each part of the key within 1e-9 (relative) of an independent oracle's ``ref``, and the
    key scoring full marks."""
    for p in v.parts:
        np.testing.assert_allclose(
            np.asarray(v.key_values[p.name], dtype=np.float64),
            np.asarray(ref[p.name], dtype=np.float64), rtol=1e-9, atol=1e-12,
            err_msg=f"{v.type} seed {v.seed} difficulty {v.difficulty} part {p.name}")
    assert_full_marks(v)


def assert_full_marks(v: E.Variant) -> None:
    """The key scores full marks and names no mistake."""
    graded = submit(v)
    assert graded.score == 1.0, (v.type, v.seed, v.difficulty, graded.to_json())
    assert not any(r.misconceptions for r in graded.parts.values())


def network(v: E.Variant) -> dict[str, Any]:
    """The variant's network (JSON), which every type but concept-check draws."""
    assert v.network is not None, (v.type, v.seed, v.difficulty)
    return v.network


def offered_singles(type_id: str, difficulty: int) -> Iterator[tuple[E.Variant, str, str, Any]]:
    """Each single-mistake prediction of the sweep's variants: (variant, part, tag, value)."""
    for v in variants(type_id, difficulty):
        for part, preds in v.predictions.items():
            for p in preds:
                if len(p.tags) == 1:
                    yield v, part, p.tags[0], p.value


def to_json(value: Any) -> Any:
    return value.tolist() if isinstance(value, np.ndarray) else float(value)


def submit(v: E.Variant, **answers: Any) -> E.Grade:
    """Grade the key with the given parts replaced."""
    raw = {p.name: v.key[p.name] for p in v.parts}
    raw.update({name: to_json(value) for name, value in answers.items()})
    return E.grade(v, E.parse_answers(v, raw))


def rule_score(part: E.Part, answer: Any, key: Any) -> float:
    """SCORING_RULE written out for a wrong answer that is no copy: 0 when all one number
    (the key's entries differing), else the fraction of right entries (0 for a number or
    another shape), and at least 1/2 when every entry is within 5% (or 0.005)."""
    a, k = np.asarray(answer, dtype=np.float64), np.asarray(key, dtype=np.float64)
    if a.shape != k.shape:
        return 0.0
    if np.all(a == 0) or (a.size > 1 and np.ptp(a) <= 1e-9 * max(1.0, np.max(np.abs(a)))
                          and np.ptp(k) > part.atol + part.rtol * abs(k.flat[0])):
        return 0.0
    right = np.abs(a - k) <= part.atol + part.rtol * np.abs(k)
    per_entry = float(right.mean()) if part.kind == "matrix" else 0.0
    close = bool(np.all(np.abs(a - k) <= 5e-3 + 5e-2 * np.abs(k)))
    return round(max(per_entry, 0.5 if close else 0.0), 6)
