"""Exact numbers: reading them from JSON and writing them back.

A number in a network file or an answer is a JSON number or a string holding an
exact integer, decimal or fraction ("3", "-0.25", "1/10", "2.5e-3"). Strings are
read by a regular expression, never by ``eval`` or ``sympify``.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import SupportsFloat

import sympy

_NUMBER = re.compile(
    r"""^\s*(?P<num>[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?)
         (\s*/\s*(?P<den>[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?))?\s*$""",
    re.VERBOSE,
)
MAX_NUMBER_TEXT = 64


class NumberFormatError(ValueError):
    """A value that is not a readable exact number."""


def parse_fraction(value: object) -> Fraction:
    """Read a JSON number or number string as an exact ``Fraction``.

    >>> parse_fraction("1/10"), parse_fraction(0.25), parse_fraction("-2.5e-1")
    (Fraction(1, 10), Fraction(1, 4), Fraction(-1, 4))
    """
    if isinstance(value, bool):
        raise NumberFormatError("expected a number, got true/false")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NumberFormatError(f"{value!r} is not a finite number")
        # A JSON float is what the author typed; read its shortest repr, not its binary value.
        return Fraction(repr(value))
    if isinstance(value, str):
        if len(value) > MAX_NUMBER_TEXT:
            raise NumberFormatError(f"number text longer than {MAX_NUMBER_TEXT} characters")
        m = _NUMBER.match(value)
        if not m:
            raise NumberFormatError(f"{value!r} is not a number (use e.g. 3, -0.25, 1/4 or 2.5e-3)")
        num = Fraction(m["num"])
        if m["den"] is None:
            return num
        den = Fraction(m["den"])
        if den == 0:
            raise NumberFormatError(f"{value!r} divides by zero")
        return num / den
    raise NumberFormatError(f"expected a number, got {type(value).__name__}")


def parse_exact(value: object) -> sympy.Rational:
    """Read a number as a SymPy ``Rational``."""
    f = parse_fraction(value)
    return sympy.Rational(f.numerator, f.denominator)


def to_float(value: SupportsFloat) -> float:
    """A float64 for an exact SymPy value, a Fraction or a plain number."""
    if isinstance(value, sympy.Basic):
        return float(value.evalf(30))
    return float(value)


def to_answer(value: SupportsFloat) -> int | str | float:
    """The answers-format form of an exact value: integers as ints, fractions as
    "p/q" strings, irrational values as float64.

    >>> to_answer(sympy.Rational(1, 4)), to_answer(sympy.Integer(-2)), to_answer(sympy.sqrt(2))
    ('1/4', -2, 1.4142135623730951)
    """
    if isinstance(value, sympy.Basic) and value.is_Rational:
        value = Fraction(int(value.p), int(value.q))
    if isinstance(value, (int, Fraction)):
        f = Fraction(value)
        return f.numerator if f.denominator == 1 else f"{f.numerator}/{f.denominator}"
    return to_float(value)


def to_exact_text(value: object) -> str:
    """A string that states a value exactly ("1/4", "1/(1 + exp(-1/2))")."""
    return str(value)
