"""Identifiers people read and compare: names, emails, course codes, titles.

Each is normalised with NFKC (full-width and other compatibility forms become the plain
character, so ``ＣＳ１０１`` is ``CS101``), its runs of spaces made one, and refused when
it holds a character nobody can see: controls, format characters (zero-width, soft
hyphen, bidi overrides and isolates), line and paragraph separators, unassigned, private
and surrogate code points. Course codes are plain ASCII as well, since letters of other
scripts can look exactly like Latin ones (a Cyrillic ``С`` in ``СS101``).
"""

from __future__ import annotations

import re
import unicodedata

INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")  # the shape of an address, no more
COURSE_CODE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9 ._/-]*[A-Za-z0-9])?")


class IdentifierError(ValueError):
    """An identifier cannot be taken; the message starts with the field's name."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def clean(field: str, value: str, *, max_length: int, required: bool = True) -> str:
    """``value`` normalised (NFKC, spaces collapsed); IdentifierError naming ``field``."""
    text = unicodedata.normalize("NFKC", value)
    for ch in text:
        if unicodedata.category(ch) in INVISIBLE:
            name = unicodedata.name(ch, "a control character")
            raise IdentifierError(
                field, f"contains an invisible or control character U+{ord(ch):04X} ({name})"
            )
    text = " ".join(text.split())
    if required and not text:
        raise IdentifierError(field, "must not be empty")
    if len(text) > max_length:
        raise IdentifierError(field, f"must have at most {max_length} characters")
    return text


def course_code(value: str, *, field: str = "code", max_length: int = 32) -> str:
    """A course code: ``clean`` and then ASCII letters and digits, with ``-_./`` and spaces."""
    text = clean(field, value, max_length=max_length)
    if not COURSE_CODE.fullmatch(text):
        raise IdentifierError(
            field,
            f"use ASCII letters and digits, with - _ . / or spaces between them (got {text!r})",
        )
    return text
