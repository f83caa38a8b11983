"""Difficulty tables: each exercise type says per difficulty *what* it asks, in one row.

A type sets ``levels = table({1: Row(...), 2: Row(...), 3: Row(...)})``, a small frozen dataclass
per difficulty (a ``Level`` subclass saying what to draw), and shared code reads the row:
``must_show`` here, the drawing in the base class of the type's module. A difficulty is
changed by changing its row, not by another ``if difficulty >= 2`` in every type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Generic, TypeVar

from ..network import Network
from ..registry import ExerciseType

# Tags that recur across the tables: a smooth activation has a derivative formula to get
# wrong (difficulties 2 and 3), a batch has a mean to forget (difficulty 3).
WRONG_DERIVATIVE = "wrong-activation-derivative"
BATCH_SUM = "batch-sum-not-mean"


@dataclass(frozen=True, kw_only=True)
class Level:
    """One difficulty of a type: the mistakes every variant of it must make visible."""

    shows: tuple[str, ...] = ()


L = TypeVar("L", bound=Level)


class Levelled(ExerciseType, Generic[L]):
    """An exercise type whose difficulties are the rows of ``levels``."""

    levels: Mapping[int, L]

    def must_show(self, difficulty: int) -> tuple[str, ...]:
        return self.levels[difficulty].shows


def squashed_output(net: Network) -> bool:
    """Whether the output layer has an elementwise activation (not softmax, whose δ the
    types asking σ'(z) cannot state)."""
    return net.layers[-1].activation != "softmax"


def table(rows: Mapping[int, L]) -> Mapping[int, L]:
    """``rows`` read-only: a type's table is shared by every draw and never changes."""
    return MappingProxyType(dict(rows))


def shows(every: tuple[str, ...], *, smooth: int = 2, batch: int = 3
          ) -> dict[int, tuple[str, ...]]:
    """The tags of each difficulty: ``every`` throughout, then ``WRONG_DERIVATIVE`` from
    difficulty ``smooth`` on and ``BATCH_SUM`` from ``batch`` on (4: never)."""
    return {d: (*every, *((WRONG_DERIVATIVE,) if d >= smooth else ()),
                *((BATCH_SUM,) if d >= batch else ()))
            for d in (1, 2, 3)}
