"""LaTeX for prompts and worked solutions: exact rationals as fractions, the rest as decimals."""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy

from .numbers import to_float

SIGNIFICANT = 4


def number(v: Any) -> str:
    """An exact rational as a decimal if it terminates, else a fraction; anything else
    rounded to 4 significant figures.

    >>> number(sympy.Rational(-1, 3)), number(sympy.Rational(-3, 40)), number(0.731058)
    ('-\\\\frac{1}{3}', '-0.075', '0.7311')
    """
    if isinstance(v, sympy.Basic) and v.is_Rational:
        p, q = int(v.p), int(v.q)
        if q == 1:
            return str(p)
        decimal = _terminating(p, q)
        if decimal is not None:
            return decimal
        if q > 1000:  # 1199/1600 helps nobody: show the digits a student would write
            return number(float(p) / q)
        sign = "-" if p < 0 else ""
        return f"{sign}\\frac{{{abs(p)}}}{{{q}}}"
    f = to_float(v)
    if f == 0:
        return "0"
    text = f"{f:.{SIGNIFICANT}g}"
    if "e" in text:
        mant, exp = text.split("e")
        return f"{mant} \\times 10^{{{int(exp)}}}"
    return text


def factor(v: Any) -> str:
    """A number as a factor of a product: negatives in parentheses, ``0.25 \\cdot (-12)``."""
    text = number(v)
    return f"({text})" if text.startswith("-") else text


def _terminating(p: int, q: int, places: int = 6) -> str | None:
    """p/q as a decimal if it terminates within ``places`` digits (3/40 -> '0.075')."""
    scaled = p * 10**places
    if scaled % q:
        return None
    text = f"{abs(scaled // q):0{places + 1}d}"
    whole, frac = text[:-places], text[-places:].rstrip("0")
    return ("-" if p < 0 else "") + whole + ("." + frac if frac else "")


def matrix(M: Any) -> str:
    """A bmatrix of exact or float entries."""
    rows = M.tolist() if hasattr(M, "tolist") else M
    if isinstance(M, np.ndarray) and M.ndim == 0:
        return number(float(M))
    body = r" \\ ".join(" & ".join(number(v) for v in row) for row in rows)
    return r"\begin{bmatrix} " + body + r" \end{bmatrix}"


def shape_text(M: Any) -> str:
    """Plain-text shape, e.g. '2×3'."""
    r, c = (M.rows, M.cols) if isinstance(M, sympy.MatrixBase) else np.shape(M)
    return f"{r}×{c}"
