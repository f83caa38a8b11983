"""Drawing networks for exercises: small exact numbers a student can work by hand.

Difficulty 1 uses small integers (every answer an exact small rational), 2 one-decimal
values, 3 two-decimal values; the exercise types choose widths, activations and batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import sympy

from ..engine import FLOAT, derive
from ..network import DEFAULT_ALPHA, Layer, Network
from ..registry import Degenerate

# Numerators and denominators of the values each difficulty draws from.
_GRID = {
    1: (np.array([-3, -2, -1, 1, 2, 3]), 1),
    2: (np.arange(-15, 16), 10),
    3: (np.arange(-60, 61), 40),
}
# The largest cost, and the largest gradient entry, a difficulty-1 question asks a student
# to work out by hand.
HAND_COST = 50
HAND_ENTRY = 30
LEARNING_RATES = {1: ("1/10", "1/2", "1/4"), 2: ("1/10", "1/5", "1/2"), 3: ("1/20", "1/10", "3/10")}


def values(rng: np.random.Generator, rows: int, cols: int, difficulty: int,
           *, nonzero: bool = True) -> sympy.Matrix:
    """A rows×cols matrix of exact values from the difficulty's grid."""
    nums, den = _GRID[difficulty]
    if nonzero:
        nums = nums[nums != 0]
    picked = rng.choice(nums, size=(rows, cols))
    return sympy.Matrix(rows, cols, [sympy.Rational(int(v), den) for v in picked.ravel()])


def integers(rng: np.random.Generator, rows: int, cols: int, low: int, high: int) -> sympy.Matrix:
    """A rows×cols matrix of integers in [low, high]."""
    picked = rng.integers(low, high + 1, size=(rows, cols))
    return sympy.Matrix(rows, cols, [sympy.Integer(int(v)) for v in picked.ravel()])


def targets(rng: np.random.Generator, loss: str, n: int, m: int, difficulty: int) -> sympy.Matrix:
    """Targets that suit the loss: one-hot for cross-entropy, 0/1 for binary, else values."""
    if loss == "cross_entropy":
        y = sympy.zeros(n, m)
        for k, i in enumerate(rng.integers(0, n, size=m)):
            y[int(i), k] = 1
        return y
    if loss == "binary_cross_entropy":
        return integers(rng, n, m, 0, 1)
    if difficulty == 1:
        return integers(rng, n, m, -2, 2)
    return values(rng, n, m, difficulty, nonzero=False)


def network(rng: np.random.Generator, widths: Sequence[int], activations: Sequence[str],
            loss: str, m: int, difficulty: int, *, x: sympy.Matrix | None = None) -> Network:
    """A random network of the given widths (inputs first) with exact small values."""
    layers = []
    for nin, nout, act in zip(widths[:-1], widths[1:], activations, strict=True):
        W = values(rng, nout, nin, difficulty)
        b = (values(rng, nout, 1, difficulty, nonzero=False) if difficulty > 1
             else integers(rng, nout, 1, -1, 1))
        alpha = sympy.Rational(1, 10) if act == "leaky_relu" else DEFAULT_ALPHA
        layers.append(Layer(W=W, b=b, activation=act, alpha=alpha))
    if x is None:
        # Nonzero: a zero input zeroes a whole gradient column.
        x = values(rng, widths[0], m, difficulty)
    lr = sympy.Rational(str(rng.choice(LEARNING_RATES[difficulty])))
    return Network(x=x, y=targets(rng, loss, widths[-1], m, difficulty), layers=tuple(layers),
                   loss=loss, learning_rate=lr)


Q = TypeVar("Q")


def known(v: Q | None) -> Q:
    """A quantity of a derivation without slips, which computes every one."""
    if v is None:
        raise ValueError("a quantity a derivation without slips computes is missing")
    return v


def pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return str(options[int(rng.integers(len(options)))])


def alive(net: Network) -> Network:
    """``net`` itself, or ``Degenerate`` when some unit is dead: its output is 0 on every
    example and so is its whole gradient row, so it neither passes a signal on nor learns
    (a ReLU below zero on every example; an identity unit at z = 0 with nothing to learn)."""
    for k, L in enumerate(derive(net, FLOAT).layers):
        a, dC_dW, dC_db = known(L.a), known(L.dC_dW), known(L.dC_db)
        for i in range(a.shape[0]):
            if not (np.any(a[i]) or np.any(dC_dW[i]) or np.any(dC_db[i])):
                raise Degenerate(f"unit {i + 1} of layer {k + 1} is dead")
    return net


def hand_sized(net: Network, limit: float = HAND_COST) -> Network:
    """``net`` itself, or ``Degenerate`` when its cost is too large to work out by hand."""
    if derive(net, FLOAT).loss >= limit:
        raise Degenerate("the cost is too large to work out by hand")
    return net


def small_gradients(net: Network, limit: float = HAND_ENTRY) -> Network:
    """``net`` itself, or ``Degenerate`` when an entry of some dC/dW or dC/db exceeds ``limit``
    in size (too large to work out by hand)."""
    for L in derive(net, FLOAT).layers:
        if max(np.max(np.abs(known(L.dC_dW))), np.max(np.abs(known(L.dC_db)))) > limit:
            raise Degenerate("a gradient entry is too large to work out by hand")
    return net
