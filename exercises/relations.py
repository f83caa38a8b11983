"""How a wrong answer relates to its key, where no named mistake explains it.

``relate`` tries the relations in a fixed order, most specific first, and returns the
first that holds, judged with the part's own tolerance (the grader's ``_close``): a
rounding of the key, a constant multiple, some entries negated, the transpose of the key
or of a block of it, a permutation of its entries, the key of another part, one row or
column right; else ``NONE``. An answer within tolerance of the key is not wrong: ``NONE``.
Candidates for a new mistake in the library are the groups this finds often.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .grading import _close_entries
from .problem import Part, reads_as_rounded_key
from .registry import _close


@dataclass(frozen=True)
class Relation:
    """How an answer relates to the key: ``kind`` is a stable id to group by, ``label``
    says it for a person ("2 × the key")."""

    kind: str
    label: str


# Each kind's heading, in the order ``relate`` tries them.
KINDS: dict[str, str] = {
    "rounding": "A rounding of the key",
    "multiple": "A constant multiple of the key",
    "negated": "Some entries negated",
    "transpose": "The key, or a block of it, transposed",
    "permutation": "A permutation of the key's entries",
    "neighbour": "The key of another part",
    "row-right": "Only one row right",
    "column-right": "Only one column right",
    "none": "No relation found",
}
NONE = Relation("none", "no relation to the key found")
Check = Callable[[Part, np.ndarray, np.ndarray], "Relation | None"]

MAX_FIGURES = 3  # rounding to 1..3 significant figures is tried
MAX_DECIMALS = 3  # and to 0..3 decimals
# The factors a single number may be a multiple by: any number is some multiple of a
# non-zero one, so only simple ones say anything (±n and ±1/n, n ≤ 10, and powers of 10).
SIMPLE_FACTORS = np.array(sorted({s * f for s in (1.0, -1.0)
                                  for f in (*range(1, 11), *(1 / n for n in range(2, 11)),
                                            100.0, 1000.0, 0.01, 0.001)}))


def relate(part: Part, answer: Any, key: Any, others: Mapping[str, Any] | None = None) -> Relation:
    """How ``answer`` (grading form) relates to ``key``; ``others`` are the keys of the
    variant's other parts by name, in the variant's order."""
    if part.kind not in ("matrix", "scalar"):
        return NONE
    a, k = np.asarray(answer, dtype=np.float64), np.asarray(key, dtype=np.float64)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(k))):
        return NONE
    if a.shape == k.shape and _close(part, answer, key):
        return NONE
    same_matrix = part.kind == "matrix" and a.shape == k.shape
    checks: tuple[Check, ...] = (
        (_rounding, _multiple, _negated, _transpose, _permutation) if same_matrix
        else (_rounding, _multiple, _transpose))
    for check in checks:
        found = check(part, a, k)
        if found is not None:
            return found
    for name, other in (others or {}).items():
        if np.shape(other) == a.shape and _close(part, a, np.asarray(other, dtype=np.float64)):
            return Relation("neighbour", f"the key of {name}")
    if same_matrix:
        return _one_line(part, a, k) or NONE
    return NONE


def _rounding(part: Part, a: np.ndarray, k: np.ndarray) -> Relation | None:
    """Each entry right or the key's rounded: to the fewest figures (or decimals) that fit."""
    if a.shape != k.shape:
        return None
    right = _close_entries(part, a, k)
    wrong = a[~right]
    with np.errstate(divide="ignore", invalid="ignore"):
        unit = np.where(wrong == 0, 1.0, 10.0 ** (MAX_FIGURES - 1 - np.floor(
            np.log10(np.abs(wrong)))))
    if not np.all(_on_grid(wrong * 10.0 ** MAX_DECIMALS) | _on_grid(wrong * unit)):
        return None  # some wrong entry has more digits than any rounding tried leaves
    for figures in range(1, MAX_FIGURES + 1):
        if reads_as_rounded_key(part, a, k, figures):
            noun = "figure" if figures == 1 else "figures"
            return Relation("rounding", f"the key rounded to {figures} significant {noun}")
    for decimals in range(MAX_DECIMALS + 1):
        rounded = np.round(k, decimals)
        # An entry rounded to 0 says nothing: an answer of zeros is no rounding.
        hit = (rounded != 0) & (np.abs(a - rounded) <= 1e-9 * np.maximum(1.0, np.abs(rounded)))
        if np.all(right | hit):
            noun = "decimal" if decimals == 1 else "decimals"
            return Relation("rounding", f"the key rounded to {decimals} {noun}")
    return None


def _on_grid(steps: np.ndarray) -> np.ndarray:
    """Entry by entry: a whole number of steps (up to float error)."""
    return np.abs(steps - np.round(steps)) <= 1e-6 * np.maximum(1.0, np.abs(steps))


def _multiple(part: Part, a: np.ndarray, k: np.ndarray) -> Relation | None:
    """a = c·k within tolerance, c ≠ 0, 1; c simple unless two entries pin it down."""
    if a.shape != k.shape or not np.any(k):
        return None
    big = int(np.argmax(np.abs(k)))
    c = float(a.flat[big] / k.flat[big])
    # The part's tolerance on the entry that fixes c, for every simple factor at once.
    near = np.abs((c - SIMPLE_FACTORS) * k.flat[big]) <= (
        part.atol + part.rtol * np.abs(SIMPLE_FACTORS * k.flat[big]))
    if near.any():
        c = float(SIMPLE_FACTORS[np.argmax(near)])
    elif np.count_nonzero(k) < 2:
        return None
    if c == 0 or _close(part, c, 1.0) or not _close(part, a, c * k):
        return None
    return Relation("multiple", f"{_factor(c)} × the key")


def _factor(c: float) -> str:
    text = f"{c:.3g}"
    return text.replace("-", "−")


def _negated(part: Part, a: np.ndarray, k: np.ndarray) -> Relation | None:
    """Some entries (not all, not only zeros) are the key's negated, the rest right."""
    right = _close_entries(part, a, k)
    flipped = _close_entries(part, a, -k) & ~right
    if not flipped.any() or not np.all(right | flipped) or right.all():
        return None
    if not right.any():
        return None  # all negated: the multiple ×−1 (tried before)
    where = ", ".join(f"({i + 1}, {j + 1})" for i, j in np.argwhere(flipped)[:8])
    more = "…" if np.count_nonzero(flipped) > 8 else ""
    noun = "entry" if np.count_nonzero(flipped) == 1 else "entries"
    return Relation("negated", f"{noun} {where}{more} negated")


def _transpose(part: Part, a: np.ndarray, k: np.ndarray) -> Relation | None:
    """a = kᵀ, or a = k with one square block (2×2 or larger) transposed."""
    if part.kind != "matrix" or k.ndim != 2:
        return None
    if a.shape == k.T.shape and not _close(part, k.T, k) and _close(part, a, k.T):
        return Relation("transpose", "the key transposed")
    if a.shape != k.shape:
        return None
    wrong = np.argwhere(~_close_entries(part, a, k))
    if len(wrong) < 2:
        return None
    (top, left), (bottom, right) = wrong.min(axis=0), wrong.max(axis=0)
    rows, cols = k.shape
    for size in range(min(rows, cols) - 1 if rows == cols else min(rows, cols), 1, -1):
        # Only the blocks that hold every wrong entry.
        for i in range(max(0, bottom - size + 1), min(top, rows - size) + 1):
            for j in range(max(0, right - size + 1), min(left, cols - size) + 1):
                block = k[i:i + size, j:j + size]
                if _close(part, block.T, block):
                    continue
                swapped = k.copy()
                swapped[i:i + size, j:j + size] = block.T
                if _close(part, a, swapped):
                    return Relation("transpose", f"the block of rows {i + 1}–{i + size}, "
                                    f"columns {j + 1}–{j + size} of the key transposed")
    return None


def _permutation(part: Part, a: np.ndarray, k: np.ndarray) -> Relation | None:
    """The key's rows, columns or entries in another order."""
    if a.size < 2 or not _close(part, np.sort(a, axis=None), np.sort(k, axis=None)):
        return None  # reordered rows or columns reorder the entries too
    for axis, noun in ((0, "rows"), (1, "columns")):
        order = _order(part, a, k, axis)
        if order is not None:
            moved = [i for i, o in enumerate(order) if i != o]
            if len(moved) == 2:
                return Relation("permutation",
                                f"{noun} {moved[0] + 1} and {moved[1] + 1} swapped")
            return Relation("permutation", f"{noun} permuted")
    return Relation("permutation", "the key's entries in another order")


def _order(part: Part, a: np.ndarray, k: np.ndarray, axis: int) -> list[int] | None:
    """Which line of k each line of a is (along ``axis``), if a is k's lines reordered."""
    lines_a = list(a) if axis == 0 else list(a.T)
    lines_k = list(k) if axis == 0 else list(k.T)
    if len(lines_k) < 2:
        return None
    order: list[int] = []
    for line in lines_a:
        match = next((n for n, kl in enumerate(lines_k)
                      if n not in order and _close(part, line, kl)), None)
        if match is None:
            return None
        order.append(match)
    return None if order == sorted(order) else order


def _one_line(part: Part, a: np.ndarray, k: np.ndarray) -> Relation | None:
    """Exactly one row (else one column) entirely right, every other line wrong somewhere."""
    right = _close_entries(part, a, k)
    for axis, kind, noun in ((1, "row-right", "row"), (0, "column-right", "column")):
        whole = np.all(right, axis=axis)
        if whole.size >= 2 and np.count_nonzero(whole) == 1:
            return Relation(kind, f"only {noun} {int(np.argmax(whole)) + 1} right")
    return None
