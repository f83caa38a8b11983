"""What a request may bring before any view reads it: JSON bodies and integer ids.

A body is parsed strictly: no NaN or Infinity, no number a float cannot hold, no integer
of more than MAX_INT_DIGITS digits, nesting at most MAX_DEPTH deep. Anything else is a
400 ``invalid_json`` naming the problem, not an exception deep in a view. Integer ids in
URLs stop at the largest value an INTEGER column holds; a larger one matches no route (404).
"""

from __future__ import annotations

import json
import math
from typing import Any, NoReturn

import flask
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request
from werkzeug.routing import IntegerConverter

MAX_DEPTH = 32  # containers inside containers; an answer is a matrix, two levels deep
MAX_INT_DIGITS = 30  # a seed is a 64-bit integer (19 digits); room for exact answers
MAX_ID = 2**31 - 1  # the largest INTEGER primary key on PostgreSQL


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer has more than {MAX_INT_DIGITS} digits")
    return int(text)


def _float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"the number {text[:20]} is too large for a float")
    return number


def _constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _depth(value: Any) -> int:
    """How deep containers nest in ``value`` (0 for a scalar); iterative, so it cannot overflow."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth + 1)
            if deepest > MAX_DEPTH:
                break
            stack.extend((child, depth + 1) for child in item)
    return deepest


def loads(data: str | bytes) -> Any:
    """Parse a request body as strict, bounded JSON; ValueError says what is wrong."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except UnicodeDecodeError:
        raise ValueError("the body is not UTF-8") from None
    except RecursionError:
        raise ValueError(f"it nests deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if _depth(value) > MAX_DEPTH:
        raise ValueError(f"it nests deeper than {MAX_DEPTH} levels")
    return value


class JsonParser(FlaskParser):
    """webargs' Flask parser, reading bodies with ``loads`` (its own parser takes anything
    ``json.loads`` does, and lets RecursionError and ValueError escape as 500s)."""

    def _raw_load_json(self, req: flask.Request) -> Any:
        if not is_json_request(req):
            return core.missing
        data = req.get_data(cache=True)
        if not data:
            return core.missing
        try:
            return loads(data)
        except ValueError as exc:
            abort(400, messages={"json": [f"the body is not valid JSON: {exc}"]})


class IdConverter(IntegerConverter):
    """``<int:...>`` that stops at MAX_ID: a larger id is no route (404), not a database error."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)
