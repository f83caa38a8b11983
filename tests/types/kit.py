"""Shared helpers of the exercise-type tests: cached variants and grading a key with parts replaced."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

import exercises as E

SEEDS = range(200)


@functools.cache
def variant(type_id: str, seed: int, difficulty: int) -> E.Variant:
    return E.generate(type_id, seed, difficulty)


def variants(type_id: str, difficulty: int) -> list[E.Variant]:
    return [variant(type_id, s, difficulty) for s in SEEDS]


def to_json(value: Any) -> Any:
    return value.tolist() if isinstance(value, np.ndarray) else float(value)


def submit(v: E.Variant, **answers: Any) -> E.Grade:
    """Grade the key with the given parts replaced."""
    raw = {p.name: v.key[p.name] for p in v.parts}
    raw.update({name: to_json(value) for name, value in answers.items()})
    return E.grade(v, E.parse_answers(v, raw))
