"""Reading students' answers: numbers, matrices, scalars and choices.

Every reader takes one part's raw JSON value and returns a plain value, or raises
``PartFormatError`` with a short reason a student can act on. A submission with any
unreadable part is an ``AnswerFormatError``: not graded, no attempt used (CONTRACT §4).

Accepted forms:

- a number: a JSON number, or text holding an integer, decimal, fraction or scientific
  notation ("3", "-0.25", "1/4", "-3/8", "1.5/2", "2.5e-3", "1E2"); read by regular
  expression (``exercises.numbers.parse_fraction``), never evaluated;
- a matrix: JSON rows (``[[1, "1/4"], [0, -2]]``), a flat JSON list read as a column
  (``[1, 2]`` is 2×1), a bare number (1×1), or text in the MATLAB/Octave way, where commas
  or spaces separate the entries of a row and semicolons or newlines separate rows
  (``"[1 2; 3 4]"``, ``"1, 2; 3, 4"``, ``"[1 2]"`` is 1×2), or nested brackets of rows
  (``"[[1, 2], [3, 4]]"``, also NumPy's printout); a transpose mark (``'`` or ``ᵀ``) after
  the closing bracket transposes (``"[1 2]'"`` is 2×1).

Orientation: given the part's shape, a vector whose form leaves its orientation open (a flat
JSON list, or one row of text without brackets of rows or a transpose mark: ``"[1, 2]"``,
``"1 2"``) is read in the part's orientation; a vector written explicitly the other way
round (``"[1; 2]"`` where a row is wanted) is refused with a message saying which way.

Everything is bounded so a hostile answer costs microseconds: number text up to
``MAX_NUMBER_TEXT`` characters, matrix text up to ``MAX_MATRIX_TEXT`` characters, at most
``MAX_DIM`` rows and columns and ``MAX_ENTRIES`` entries.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np

from exercises.numbers import MAX_NUMBER_TEXT, NumberFormatError, parse_fraction

MAX_DIM = 64
MAX_ENTRIES = 4096
MAX_MATRIX_TEXT = 20_000

# Characters students paste from typeset maths that mean plain ASCII ones.
_ASCII = str.maketrans(
    {"\u2212": "-", "\u2013": "-", "\u00a0": " ", "\u2019": "'", "\u2032": "'"}
)
# The decimal/scientific subset of numbers.py's grammar: float() reads these exactly rounded,
# as float(Fraction(text)) would, without the cost of a Fraction.
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
_ROW_BREAK = re.compile(r"[;\n]")
_BRACKETED_ROW = re.compile(r"\[([^\[\]]*)\]")
_ENTRY_BREAK = re.compile(r"[ ,]")
# Transpose marks, longest first: MATLAB's ' and .', the typeset ᵀ, and ^T.
_TRANSPOSE_MARKS = (".'", "'", "ᵀ", "^T")


class PartFormatError(ValueError):
    """One part's answer cannot be read; ``str(exc)`` is the reason, for the student."""


class AnswerFormatError(ValueError):
    """The submission cannot be read: not graded and no attempt used (CONTRACT §4)."""

    def __init__(self, message: str, parts: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.parts: dict[str, str] = dict(parts or {})

    @classmethod
    def from_parts(cls, parts: Mapping[str, str]) -> AnswerFormatError:
        """The error for these unreadable parts, with a summary message naming them."""
        names = ", ".join(parts)
        noun = "answer" if len(parts) == 1 else "answers"
        return cls(f"could not read the {noun} for {names}", parts)

    def to_json(self) -> dict[str, dict[str, object]]:
        """The 422 body of CONTRACT §4."""
        return {
            "error": {"code": "invalid_answer", "message": self.message, "parts": dict(self.parts)}
        }


def read_number(value: object) -> float:
    """A finite float64 from a JSON number (not a boolean) or number text.

    >>> read_number(3), read_number("-3/8"), read_number("2.5e-3")
    (3.0, -0.375, 0.0025)
    """
    # Exact types first: the common JSON cases, and a bool is never an int here.
    if type(value) is float:
        if math.isfinite(value):
            return value
        raise PartFormatError(f"{value} is not a finite number")
    if type(value) is int:
        return _int_to_float(value)
    if isinstance(value, str):
        return _number_from_text(value)
    if isinstance(value, float):  # NumPy scalars and other float subclasses
        return read_number(float(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return _int_to_float(int(value))
    raise PartFormatError(f"expected a number, got {_json_kind(value)}")


def read_matrix(value: object, shape: tuple[int, int] | None = None) -> np.ndarray:
    """A 2-D float64 array from JSON rows, a flat list (a column), a number (1×1) or text.

    With ``shape``, the part's own, a vector is read in the part's orientation where the
    answer leaves it open, and refused (``PartFormatError`` saying which way) where it is
    written explicitly the other way round at the right length.

    >>> read_matrix([[1, "1/4"], [0, -2]]).tolist(), read_matrix([1, 2]).shape
    ([[1.0, 0.25], [0.0, -2.0]], (2, 1))
    >>> read_matrix("[1 2; 3 4]").tolist(), read_matrix("[1, 2]").shape, read_matrix("[1 2]'").shape
    ([[1.0, 2.0], [3.0, 4.0]], (1, 2), (2, 1))
    >>> read_matrix("[1, 2]", shape=(2, 1)).shape
    (2, 1)
    """
    if isinstance(value, list):
        # Rows of lists say their orientation; a flat list does not.
        matrix, oriented = _matrix_from_json(value), bool(value) and isinstance(value[0], list)
    elif isinstance(value, str):
        matrix, oriented = _matrix_from_text(value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        return np.array([[read_number(value)]], dtype=np.float64)
    else:
        raise PartFormatError(
            f"expected a matrix such as [[1, 2], [3, 4]], got {_json_kind(value)}"
        )
    if shape is None or not (_is_vector(shape) and _is_vector(matrix.shape)):
        return matrix
    column = shape[1] == 1
    if not oriented:
        return matrix.reshape((-1, 1) if column else (1, -1))
    if matrix.shape != shape and matrix.size == max(shape):
        n = matrix.size
        if column:
            raise PartFormatError(
                f"a column is wanted here ({n}×1), but this is a row (1×{n}): separate the "
                "entries with ';' as in [1; 2], or transpose the row with ' as in [1 2]'"
            )
        raise PartFormatError(
            f"a row is wanted here (1×{n}), but this is a column ({n}×1): separate the "
            "entries with commas or spaces as in [1, 2], or transpose the column with ' "
            "as in [1; 2]'"
        )
    return matrix


def _is_vector(shape: tuple[int, ...]) -> bool:
    return len(shape) == 2 and min(shape) == 1 and max(shape) > 1


def read_scalar(value: object) -> float:
    """A float64 from a number, or from a 1×1 matrix in any form ``read_matrix`` reads."""
    if isinstance(value, str) and "[" not in value:
        return read_number(value)
    if isinstance(value, (list, str)):
        m = read_matrix(value)
        if m.shape != (1, 1):
            raise PartFormatError(
                f"expected a single number, got a {m.shape[0]}×{m.shape[1]} matrix"
            )
        return float(m[0, 0])
    return read_number(value)


def read_choice(value: object, options: Sequence[str]) -> str:
    """The option id chosen; exact match first, then ignoring case if that is unambiguous."""
    valid = ", ".join(options)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise PartFormatError(f"expected one of the options {valid}, got {_json_kind(value)}")
    text = value.strip()
    if text in options:
        return text
    folded = [option for option in options if option.casefold() == text.casefold()]
    if len(folded) == 1:
        return folded[0]
    if not text:
        raise PartFormatError(f"empty answer: choose one of {valid}")
    raise PartFormatError(f"{_quote(text)} is not one of the options {valid}")


_SMALL_INT = re.compile(r"\s*[+-]?\d{1,15}\s*")


def _int_to_float(value: int) -> float:
    try:
        return float(value)
    except OverflowError:
        raise PartFormatError("the number is too large") from None


def _number_from_text(text: str) -> float:
    s = text.strip().translate(_ASCII)
    if not s:
        raise PartFormatError("empty answer")
    if len(s) > MAX_NUMBER_TEXT:
        raise PartFormatError(f"a number has at most {MAX_NUMBER_TEXT} characters")
    if _DECIMAL.fullmatch(s):
        number = float(s)
        if math.isfinite(number):
            return number
        raise PartFormatError(f"{_quote(s)} is too large")
    num, slash, den = s.partition("/")
    if slash and _SMALL_INT.fullmatch(num) and _SMALL_INT.fullmatch(den) and int(den) != 0:
        # Both below 2**53, so each converts exactly and IEEE division rounds correctly:
        # the same float as Fraction(num, den), without the Fraction.
        return int(num) / int(den)
    try:
        exact = parse_fraction(s)
    except NumberFormatError as exc:
        if _DECIMAL_COMMA.fullmatch(s):
            raise PartFormatError(
                f"{_quote(s)}: write decimals with a point, e.g. {s.replace(',', '.')}"
            ) from None
        raise PartFormatError(str(exc)) from None
    try:
        return float(exact)
    except OverflowError:
        raise PartFormatError(f"{_quote(s)} is too large") from None


def _matrix_from_json(rows: list) -> np.ndarray:
    height = len(rows)
    if height == 0:
        raise PartFormatError("empty matrix: write rows such as [[1, 2], [3, 4]]")
    if height > MAX_DIM:
        raise PartFormatError(f"too many rows: at most {MAX_DIM}")
    if not isinstance(rows[0], list):
        # A flat list is a column vector, the convention of the network file (CONTRACT §2).
        for i, entry in enumerate(rows):
            if isinstance(entry, list):
                raise PartFormatError(
                    f"row {i + 1} is a list but row 1 is a number: "
                    "write every row as a list, e.g. [[1, 2], [3, 4]]"
                )
        rows = [[entry] for entry in rows]
    width = len(rows[0])
    for i, row in enumerate(rows):
        if not isinstance(row, list):
            raise PartFormatError(
                f"row {i + 1} is {_json_kind(row)} but row 1 is a list: "
                "write every row as a list, e.g. [[1, 2], [3, 4]]"
            )
        if not row:
            raise PartFormatError(f"row {i + 1} is empty")
        if len(row) != width:
            raise PartFormatError(f"row {i + 1} has {_entries(len(row))} but row 1 has {width}")
    if width > MAX_DIM:
        raise PartFormatError(f"too many columns: at most {MAX_DIM}")
    if _plain_floats(rows):
        return np.array(rows, dtype=np.float64)
    return np.array(
        [[_entry(x, i, j) for j, x in enumerate(row)] for i, row in enumerate(rows)],
        dtype=np.float64,
    )


def _plain_floats(rows: list[list]) -> bool:
    """Whether every entry is a finite float or a float-sized int: the common, fast case."""
    for row in rows:
        for x in row:
            kind = type(x)
            if kind is float:
                if x - x != 0.0:  # inf or nan
                    return False
            elif kind is not int or not -1e308 < x < 1e308:
                return False
    return True


def _entry(value: object, i: int, j: int) -> float:
    if isinstance(value, list):
        raise PartFormatError(
            f"row {i + 1}, column {j + 1} is a list: a matrix is a list of rows of numbers"
        )
    if isinstance(value, str) and not value.strip():
        raise PartFormatError(f"row {i + 1}, column {j + 1} is empty")
    try:
        return read_number(value)
    except PartFormatError as exc:
        raise PartFormatError(f"row {i + 1}, column {j + 1}: {exc}") from None


def _matrix_from_text(text: str) -> tuple[np.ndarray, bool]:
    """The matrix, and whether the text says its orientation (rows, brackets of rows, ')."""
    if len(text) > MAX_MATRIX_TEXT:
        raise PartFormatError(f"the matrix text is longer than {MAX_MATRIX_TEXT} characters")
    s = text.translate(_ASCII).strip()
    if not s:
        raise PartFormatError("empty answer")
    transposed = False
    mark = next((m for m in _TRANSPOSE_MARKS if s.endswith(m)), None)
    if mark is not None:
        s, transposed = s[: -len(mark)].rstrip(), True
        if s.endswith(_TRANSPOSE_MARKS):
            raise PartFormatError("write at most one transpose mark, as in [1 2]'")
        if not (s.startswith("[") and s.endswith("]")):
            raise PartFormatError(
                "put the matrix in brackets before the transpose mark, as in [1 2]'"
            )
    if "'" in s or "ᵀ" in s:
        raise PartFormatError("a transpose mark (' or ᵀ) goes right after the closing ']'")
    oriented = transposed
    if s.startswith("["):
        if not s.endswith("]"):
            raise PartFormatError("a '[' is not closed: end the matrix with ']'")
        inner = s[1:-1]
        nested = "[" in inner or "]" in inner
        oriented = oriented or nested
        lines = _bracketed_rows(inner) if nested else _plain_rows(inner)
    elif "[" in s or "]" in s:
        raise PartFormatError("the brackets do not match: write [1 2; 3 4] or [[1, 2], [3, 4]]")
    else:
        lines = _plain_rows(s)
    if not lines:
        raise PartFormatError("empty matrix: write rows such as [1 2; 3 4]")
    if len(lines) > MAX_DIM:
        raise PartFormatError(f"too many rows: at most {MAX_DIM}")
    rows = [_text_row(line, i) for i, line in enumerate(lines)]
    width = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            raise PartFormatError(f"row {i + 1} has {_entries(len(row))} but row 1 has {width}")
    matrix = np.array(rows, dtype=np.float64)
    return (matrix.T if transposed else matrix), oriented or len(rows) > 1


def _plain_rows(text: str) -> list[str]:
    """Rows split at semicolons and newlines; blank rows (a trailing ';') are dropped."""
    return [line for line in _ROW_BREAK.split(text) if line.strip()]


def _bracketed_rows(inner: str) -> list[str]:
    """The rows of "[[1, 2], [3, 4]]" (outer brackets already removed)."""
    # re.split with a group alternates: gap, row, gap, row, ..., gap.
    pieces = _BRACKETED_ROW.split(inner)
    gaps, rows = pieces[0::2], pieces[1::2]
    for k, gap in enumerate(gaps):
        between = gap.strip()
        if "[" in between or "]" in between:
            raise PartFormatError(
                "the brackets do not match: write [[1, 2], [3, 4]] with one [...] per row"
            )
        if between and (k == 0 or between not in {",", ";"}):
            raise PartFormatError(
                f"unexpected {_quote(between)} between rows: write [[1, 2], [3, 4]]"
            )
    for i, row in enumerate(rows):
        if ";" in row:
            raise PartFormatError(f"row {i + 1} contains ';' inside its brackets")
    return rows


def _text_row(line: str, i: int) -> list[float]:
    """The entries of one row of text: numbers separated by commas or spaces."""
    # Collapse whitespace first so a fraction typed as "1 / 4" stays one entry.
    s = " ".join(line.split()).replace(" /", "/").replace("/ ", "/")
    s = s.replace(" ,", ",").replace(", ", ",")
    if not s:
        raise PartFormatError(f"row {i + 1} is empty")
    entries = _ENTRY_BREAK.split(s)
    if len(entries) > MAX_DIM:
        raise PartFormatError(f"too many columns: at most {MAX_DIM}")
    return [_entry(entry, i, j) for j, entry in enumerate(entries)]


def _entries(n: int) -> str:
    return "1 entry" if n == 1 else f"{n} entries"


def _quote(text: str, limit: int = 24) -> str:
    """The student's text, quoted and cut short so a huge answer is not echoed back."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (int, float)):
        return "a number"
    return type(value).__name__
