"""Students' symbolic answers: reading, comparing and printing expressions.

A student types a derivative such as ``(a1 - y1)*a1*(1 - a1)*x1`` in the exercise's named
symbols. The text is parsed by Python's ``ast`` module and walked through a whitelist that
builds the SymPy expression node by node; nothing the student typed is ever evaluated
(no ``eval``, ``sympify`` or ``parse_expr``). Accepted:

- numbers (``2``, ``0.5``, ``2.5e-3``; read exactly, as rationals), the exercise's symbols,
  ``e`` (Euler's number, unless it is one of the symbols);
- ``+ - * /``, unary ``-``, powers ``x**2`` or ``x^2`` whose exponent is a number of size at
  most ``MAX_EXPONENT`` (``x^(-1)``, ``x^(1/2)``), and ``e^(...)`` with any exponent;
- the functions ``exp``, ``log`` (or ``ln``), ``sqrt``, ``tanh``, ``abs`` and the logistic
  ``sigmoid`` (or ``sigma``, ``σ``), each of one argument.

Symbols are real SymPy symbols named as given; ``w_11`` is read as ``w11`` and a Greek
letter as its name (``η`` for ``eta``). Text is bounded (``MAX_TEXT`` characters,
``MAX_NODES`` syntax nodes, ``MAX_DEPTH`` levels of nesting, numbers of ``MAX_BITS`` bits),
so any input is read or refused in well under a second.
"""

from __future__ import annotations

import ast
import functools
import keyword
import math
import re
import threading
import unicodedata
import warnings
from collections.abc import Callable, Sequence
from fractions import Fraction

import numpy as np
import sympy
from sympy.printing.str import StrPrinter

from exercises.answers import PartFormatError

MAX_TEXT = 500
MAX_NODES = 200
MAX_DEPTH = 40
MAX_EXPONENT = 10
MAX_BITS = 128
MAX_POWER = 100  # a power built up from typed ones, as (x^10)^10
# The bounded SymPy confirmation in `equivalent`: expressions above this operation count
# are not simplified, and a simplification that runs longer than this is abandoned.
MAX_SIMPLIFY_OPS = 60
SIMPLIFY_SECONDS = 1.0

# Where the symbols are sampled: first values like activations and targets, then wider
# ranges in case the key is undefined there (a log of a negative, a division by zero).
SAMPLE_RANGES = ((0.1, 0.9), (1.1, 3.0), (-0.9, -0.1), (-3.0, -1.1))


class sigmoid(sympy.Function):
    """The logistic function σ(x) = 1/(1 + e^(−x)), kept whole so it prints as σ."""

    nargs = 1

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x: sympy.Expr, **kwargs: object) -> sympy.Expr:
        return 1 / (1 + sympy.exp(-x))

    def _latex(self, printer: sympy.printing.latex.LatexPrinter, exp: str | None = None) -> str:
        tex = rf"\sigma\left({printer._print(self.args[0])}\right)"
        return tex if exp is None else rf"{tex}^{{{exp}}}"


FUNCTIONS: dict[str, Callable[[sympy.Expr], sympy.Expr]] = {
    "exp": sympy.exp,
    "log": sympy.log,
    "ln": sympy.log,
    "sqrt": sympy.sqrt,
    "tanh": sympy.tanh,
    "abs": sympy.Abs,
    "sigmoid": sigmoid,
    "sigma": sigmoid,
    "σ": sigmoid,
}
_FUNCTION_LIST = "exp, log, sqrt, tanh, sigmoid, abs"

# Typeset characters students paste, as the ASCII the parser reads. `^` becomes `**` here,
# before parsing, because Python parses `^` as XOR with the wrong precedence (a^2+1 = a^(2+1)).
_ASCII = str.maketrans(
    {"^": "**", "\u2212": "-", "\u2013": "-", "·": "*", "⋅": "*", "×": "*", "∗": "*", "÷": "/",
     "\n": " ", "\r": " ", "\t": " "}
)
# Implicit products, looked for only once the text failed to parse. The atomic group keeps
# scientific notation whole: "2e-3" is a number, "2e" is 2*e.
_NUMBER_THEN_NAME = re.compile(r"(?<![\w.])((?>\d+\.?\d*(?:[eE][+-]?\d+)?))\s*([A-Za-z_(]\w*)")
_CLOSE_THEN_OPERAND = re.compile(r"\)\s*([\w(]+)")
_NAME_THEN_OPERAND = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\s+([\w(]\w*)")

# Python's tokenizer warns about some typos ("1if"); a student's typo is reported as a
# PartFormatError, not logged as a SyntaxWarning, so warnings from parsing answers are off.
_SOURCE = "<answer>"
warnings.filterwarnings("ignore", category=SyntaxWarning, module=re.escape(_SOURCE))

_OPERATORS = {
    ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.BitAnd: "&", ast.BitOr: "|",
    ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>", ast.Invert: "~", ast.Not: "not",
}
_FORBIDDEN = {
    ast.Attribute: "'.' after a name (attributes) is not allowed",
    ast.Subscript: "square brackets are not allowed: write the symbol's name, e.g. w11",
    ast.Lambda: "lambda is not allowed",
    ast.Compare: "comparisons (<, >, ==) are not allowed",
    ast.BoolOp: "'and'/'or' are not allowed",
    ast.IfExp: "'if ... else' is not allowed",
    ast.Tuple: "commas are not allowed: write one expression, decimals with a point (0.5)",
    ast.List: "square brackets are not allowed",
    ast.Dict: "braces are not allowed",
    ast.Set: "braces are not allowed",
    ast.Starred: "'*' before an argument is not allowed",
}


def parse_expression(text: str, symbols: Sequence[str]) -> sympy.Expr:
    """The SymPy expression for a student's text, built through a whitelist.

    >>> parse_expression("(a1 - y1)*a1*(1-a1)*x1", ["a1", "y1", "x1"])
    a1*x1*(1 - a1)*(a1 - y1)
    >>> parse_expression("w_11^2 / 2", ["w11"])
    w11**2/2

    Raises:
        PartFormatError: the text is not an expression in these symbols, with the reason.
    """
    if not isinstance(text, str):
        raise PartFormatError("expected the expression as text")
    if len(text) > MAX_TEXT:
        raise PartFormatError(f"the expression is longer than {MAX_TEXT} characters")
    source = text.translate(_ASCII).strip()
    if not source:
        raise PartFormatError("empty answer")
    try:
        tree = ast.parse(source, filename=_SOURCE, mode="eval")
    except SyntaxError as exc:
        raise PartFormatError(_syntax_reason(source, exc)) from None
    except (ValueError, MemoryError, RecursionError):
        raise PartFormatError("the expression cannot be read") from None
    if sum(not isinstance(node, ast.expr_context) for node in ast.walk(tree)) > MAX_NODES:
        raise PartFormatError("the expression is too long: simplify it")
    try:
        expr = _settled(_Reader(symbols).read(tree.body, 0))
    except PartFormatError:
        raise
    except (ArithmeticError, ValueError, TypeError, RecursionError):
        # SymPy's own arithmetic can fail on odd numbers (its factoring of a huge integer
        # under a root has raised ValueError); such an answer is unreadable, not a crash.
        raise PartFormatError("the expression cannot be read: simplify its numbers") from None
    if expr.has(sympy.zoo, sympy.oo, -sympy.oo, sympy.nan):
        raise PartFormatError("the expression divides by zero or is undefined")
    if expr.has(sympy.I):
        raise PartFormatError("the expression is not a real number")
    return expr


def to_latex(expr: sympy.Expr) -> str:
    """LaTeX of an expression as it was read, for the live preview (``w11`` as w_{11})."""
    return sympy.latex(expr, ln_notation=True)


def expression_to_text(expr: sympy.Expr) -> str:
    """Plain text in the accepted syntax, which ``parse_expression`` reads back to ``expr``.

    >>> expression_to_text(parse_expression("-(a1 + 1)/b1 * e^2", ["a1", "b1"]))
    '(-a1 - 1)*exp(2)/b1'

    Exact for what ``parse_expression`` built; a SymPy Float in a key built elsewhere comes
    back as the rational of its printed digits.
    """
    return _TextPrinter().doprint(expr)


def equivalent(
    student: sympy.Expr,
    key: sympy.Expr,
    symbols: Sequence[str],
    *,
    points: int = 8,
    rtol: float = 1e-6,
    atol: float = 1e-12,
    seed: int = 0,
) -> bool:
    """Whether two expressions are the same function of the named symbols.

    The rule: symbols are matched by name. Identical trees are equivalent. Otherwise both
    are evaluated at ``points`` random points (seeded) in the first of ``SAMPLE_RANGES``
    where the key is finite at at least half of them; they are equivalent when the student's
    value is finite and within ``rtol`` (relative) or ``atol`` of the key's at every such
    point. If no range gives the key enough finite values, SymPy decides whether
    ``simplify(student - key)`` is 0, for expressions up to ``MAX_SIMPLIFY_OPS`` operations
    and within ``SIMPLIFY_SECONDS``; a check that cannot finish counts as not equivalent.
    """
    student, key = _real_symbols(student), _real_symbols(key)
    if student == key:
        return True
    names = tuple(sorted({*symbols, *_symbol_names(student), *_symbol_names(key)}))
    for s, k in zip(_sampled(student, names, points, seed), _sampled(key, names, points, seed),
                    strict=True):
        defined = np.isfinite(k)
        if defined.sum() * 2 < max(points, 1):
            continue
        s, k = s[defined], k[defined]
        close = np.abs(s - k) <= rtol * np.maximum(np.abs(s), np.abs(k)) + atol
        return bool(np.isfinite(s).all() and close.all())
    return _simplifies_to_zero(student - key)


class _Reader:
    """Builds a SymPy expression from a whitelisted Python syntax tree."""

    def __init__(self, symbols: Sequence[str]) -> None:
        self.symbols = {name: sympy.Symbol(name, real=True) for name in symbols}
        # Looser spellings: w_11 for w11 (only when that is unambiguous).
        squeezed: dict[str, list[str]] = {}
        for name in symbols:
            squeezed.setdefault(name.replace("_", ""), []).append(name)
        self.squeezed = {k: v[0] for k, v in squeezed.items() if len(v) == 1}
        self.listing = ", ".join(symbols)

    def read(self, node: ast.AST, depth: int) -> sympy.Expr:
        if depth > MAX_DEPTH:
            raise PartFormatError("the expression is nested too deeply")
        if isinstance(node, ast.Constant):
            return self.constant(node.value)
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = self.read(node.operand, depth + 1)
            return _bounded(-operand if isinstance(node.op, ast.USub) else operand)
        if isinstance(node, ast.BinOp) and isinstance(
            node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)
        ):
            return self.binary(node, depth)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        op = getattr(node, "op", None)
        if isinstance(op, ast.AST) and type(op) in _OPERATORS:
            raise PartFormatError(
                f"the operator {_OPERATORS[type(op)]} is not allowed: use + - * / and ^"
            )
        raise PartFormatError(
            _FORBIDDEN.get(
                type(node),
                f"this is not allowed in an expression: use numbers, the symbols "
                f"{self.listing}, + - * / ^ and {_FUNCTION_LIST}",
            )
        )

    def constant(self, value: object) -> sympy.Expr:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = "text in quotes" if isinstance(value, str) else repr(value)
            raise PartFormatError(f"{kind} is not allowed in an expression")
        if isinstance(value, float):
            if not math.isfinite(value):
                raise PartFormatError("a number in the expression has too many digits")
            # The float holds what was typed; its shortest repr is that decimal, exactly.
            exact = Fraction(repr(value))
        else:
            exact = Fraction(value)
        return _bounded(sympy.Rational(exact.numerator, exact.denominator))

    def name(self, name: str) -> sympy.Expr:
        symbol = self.symbol(name)
        if symbol is not None:
            return symbol
        if name in FUNCTIONS:
            raise PartFormatError(f"{name} is a function: write {name}(...)")
        if name == "e":
            return sympy.E
        raise PartFormatError(
            f"unknown name {name!r}: use the symbols {self.listing} "
            f"and the functions {_FUNCTION_LIST}"
        )

    def symbol(self, name: str) -> sympy.Symbol | None:
        if name in self.symbols:
            return self.symbols[name]
        if len(name) == 1 and unicodedata.category(name).startswith("L"):
            spelled = unicodedata.name(name, "").removeprefix("GREEK SMALL LETTER ").lower()
            if spelled in self.symbols:
                return self.symbols[spelled]
        original = self.squeezed.get(name.replace("_", ""))
        return None if original is None else self.symbols[original]

    def binary(self, node: ast.BinOp, depth: int) -> sympy.Expr:
        left = self.read(node.left, depth + 1)
        if isinstance(node.op, ast.Pow) and left == sympy.E:
            return _bounded(sympy.exp(self.read(node.right, depth + 1)))  # e^z is exp(z)
        if isinstance(node.op, ast.Pow):
            if any(isinstance(n, (ast.Name, ast.Call)) for n in ast.walk(node.right)):
                raise PartFormatError("an exponent must be a number, as in x^2 or x^(-1)")
            exponent = self.read(node.right, depth + 1)
            if not exponent.is_Rational or abs(exponent) > MAX_EXPONENT:
                raise PartFormatError(
                    f"an exponent must be a number between -{MAX_EXPONENT} and {MAX_EXPONENT}"
                )
            if left == 0 and exponent < 0:
                raise PartFormatError("the expression divides by zero")
            return _bounded(left**exponent)
        right = self.read(node.right, depth + 1)
        if isinstance(node.op, ast.Add):
            return _bounded(left + right)
        if isinstance(node.op, ast.Sub):
            return _bounded(left - right)
        if isinstance(node.op, ast.Mult):
            return _bounded(left * right)
        if right == 0:
            raise PartFormatError("the expression divides by zero")
        return _bounded(left / right)

    def call(self, node: ast.Call, depth: int) -> sympy.Expr:
        func = node.func
        if isinstance(func, ast.Name) and func.id in FUNCTIONS and self.symbol(func.id) is None:
            if len(node.args) != 1 or node.keywords or isinstance(node.args[0], ast.Starred):
                raise PartFormatError(f"{func.id}(...) takes one argument")
            return _bounded(FUNCTIONS[func.id](self.read(node.args[0], depth + 1)))
        # Anything else "called" is an implicit product, a1(1 - a1), if it reads at all.
        self.read(func, depth + 1)
        left = ast.unparse(func)
        if not isinstance(func, (ast.Name, ast.Constant, ast.Call)):
            left = f"({left})"
        raise PartFormatError(f"write {_cut(left)}*(...) for a product")


def _bounded(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` if its numbers and powers stay small: ((10^9)^10)^10 is refused, not computed."""
    for number in expr.atoms(sympy.Rational):
        if max(abs(number.p).bit_length(), number.q.bit_length()) > MAX_BITS:
            raise PartFormatError("a number in the expression has too many digits")
    for power in expr.atoms(sympy.Pow):
        if power.exp.is_Rational and abs(power.exp) > MAX_POWER:
            raise PartFormatError(f"a power above {MAX_POWER} is too large")
    return expr


def _settled(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` rebuilt bottom-up until SymPy's automatic simplification stops changing it.

    SymPy's construction is not idempotent (abs(-abs(x)) builds Abs(Abs(x)), which rebuilt
    is Abs(x)); settling makes the printed form read back to the same tree.
    """
    for _ in range(3):
        rebuilt = _rebuild(expr)
        if rebuilt == expr:
            break
        expr = rebuilt
    return expr


def _rebuild(expr: sympy.Expr) -> sympy.Expr:
    if not expr.args:
        return expr
    return expr.func(*(_rebuild(arg) for arg in expr.args))


def _syntax_reason(source: str, exc: SyntaxError) -> str:
    """A student-facing reason for text Python cannot parse."""
    for pattern in (_NUMBER_THEN_NAME, _CLOSE_THEN_OPERAND, _NAME_THEN_OPERAND):
        for match in pattern.finditer(source):
            if pattern is _NAME_THEN_OPERAND and (
                keyword.iskeyword(match[1]) or keyword.iskeyword(match[2])
            ):
                continue
            snippet = match[0]
            boundary = match.end(1) - match.start() if match.lastindex == 2 else 1
            fixed = snippet[:boundary].rstrip() + "*" + snippet[boundary:].lstrip()
            return f"{_cut(snippet)!r} is not read as a product: write {_cut(fixed)}"
    opened, closed = source.count("("), source.count(")")
    if opened != closed:
        return f"the parentheses do not match: {opened} '(' and {closed} ')'"
    if exc.msg.startswith("too many nested"):
        return "the expression is nested too deeply"
    where = f" near character {exc.offset}" if exc.offset else ""
    return f"the expression cannot be read{where}: check for a missing operator or number"


def _cut(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


class _TextPrinter(StrPrinter):
    """SymPy's plain-text printer, kept inside the syntax ``parse_expression`` accepts."""

    def _print_Exp1(self, expr: sympy.Expr) -> str:
        return "exp(1)"

    def _print_Abs(self, expr: sympy.Expr) -> str:
        return f"abs({self._print(expr.args[0])})"

    def _print_Mul(self, expr: sympy.Mul) -> str:
        coeff, rest = expr.as_coeff_mul()
        if coeff == 1 or not any(f.is_Add or (f.is_Pow and f.base.is_Add) for f in rest):
            return super()._print_Mul(expr)
        # SymPy distributes a number over a sum as it reads "2*(6 - x)/y" or "-(a + 1)/b", so
        # the number is kept apart from the product it scales: "2*((6 - x)/y)".
        product = self._print(sympy.Mul._from_args(rest))
        return f"-({product})" if coeff == -1 else f"{self._print(coeff)}*({product})"

    def _print_Pow(self, expr: sympy.Pow, rational: bool = False) -> str:
        exponent = expr.exp
        if not (exponent.is_Rational and abs(exponent) > MAX_EXPONENT):
            return super()._print_Pow(expr, rational)
        # Powers above the typed limit arise from products (x^9*x^2 is x^11): print them as
        # products of allowed powers, which SymPy combines again on reading.
        whole, rest = divmod(abs(exponent), MAX_EXPONENT)
        sign = 1 if exponent > 0 else -1
        factors = [sympy.Pow(expr.base, sign * MAX_EXPONENT, evaluate=False)] * int(whole)
        if rest:
            factors.append(sympy.Pow(expr.base, sign * rest, evaluate=False))
        return "(" + "*".join(self._print(f) for f in factors) + ")"


# Keys and mistake predictions are compared with each other and with answers many times
# (a variant's checks compare every prediction with every other): each expression is
# converted and evaluated once, and every comparison after that is a lookup.
@functools.lru_cache(maxsize=4096)
def _real_symbols(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` over real symbols of the same names, so keys built elsewhere compare."""
    return expr.xreplace({s: sympy.Symbol(s.name, real=True) for s in expr.free_symbols})


@functools.lru_cache(maxsize=4096)
def _symbol_names(expr: sympy.Expr) -> frozenset[str]:
    return frozenset(s.name for s in expr.free_symbols)


@functools.lru_cache(maxsize=4096)
def _sampled(expr: sympy.Expr, names: tuple[str, ...], points: int,
             seed: int) -> tuple[np.ndarray, ...]:
    """``expr`` at the seeded sample points of each of ``SAMPLE_RANGES``, in order: the same
    points for every expression in these names."""
    f = _numeric(expr, names)
    rng = np.random.default_rng(seed)
    return tuple(_evaluate(f, rng.uniform(low, high, size=(len(names), points)), points)
                 for low, high in SAMPLE_RANGES)


@functools.lru_cache(maxsize=512)
def _numeric(expr: sympy.Expr, names: tuple[str, ...]) -> Callable[..., object]:
    """A NumPy function of the named symbols; safe to generate because we built ``expr``."""
    args = [sympy.Symbol(n, real=True) for n in names]
    # No docstring: printing the expression into one costs more than generating the code.
    return sympy.lambdify(args, _plain(expr), modules="numpy", docstring_limit=0)


def _plain(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` with σ written out in exp, which NumPy and ``simplify`` know."""
    return expr.replace(sigmoid, lambda x: 1 / (1 + sympy.exp(-x)))


def _evaluate(f: Callable[..., object], sample: np.ndarray, points: int) -> np.ndarray:
    """Values at the sample points as floats, NaN where undefined or not real."""
    with np.errstate(all="ignore"):
        try:
            values = np.asarray(f(*sample))
        except (ArithmeticError, ValueError, TypeError):
            return np.full(points, np.nan)
        if np.iscomplexobj(values):
            values = np.where(values.imag == 0, values.real, np.nan)
        try:
            values = values.astype(np.float64)
        except (OverflowError, TypeError, ValueError):
            return np.full(points, np.nan)
    return np.broadcast_to(values, (points,))


def _simplifies_to_zero(difference: sympy.Expr) -> bool:
    """Whether SymPy simplifies ``difference`` to 0, within the size and time bounds."""
    if sympy.count_ops(difference) > MAX_SIMPLIFY_OPS:
        return False
    verdict: list[bool] = []

    def check() -> None:
        try:
            verdict.append(sympy.simplify(_plain(difference)) == 0)
        except Exception:  # noqa: BLE001 - any SymPy failure means "not shown equal"
            verdict.append(False)

    # SymPy cannot be interrupted: an abandoned check finishes in a daemon thread, which the
    # operation bound keeps finite and which never holds up the process's exit.
    worker = threading.Thread(target=check, daemon=True)
    worker.start()
    worker.join(SIMPLIFY_SECONDS)
    return bool(verdict and verdict[0])
