"""Reading and grading a submission: what is right, what is wrong, and which mistake explains it.

``parse_answers`` is PrairieLearn's *parse*: unreadable input raises
``AnswerFormatError`` with a message per part, and is not graded. ``grade`` compares
each part with the key, then with the answer computed from the student's own earlier
parts (carried-forward credit), then with every mistake prediction (single mistakes
before pairs: the simplest explanation wins), then looks for one slipped entry or
early rounding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .answers import AnswerFormatError, PartFormatError, read_choice, read_matrix, read_scalar
from .mistakes import MISTAKES
from .problem import ROUNDING_ATOL, ROUNDING_RTOL, Part, Variant
from .registry import ExerciseType, Setup, _close, get_type

MAX_PARTS = 32


@dataclass(frozen=True)
class Answers:
    """A submission's answers, read into grading form (float64 arrays, floats, Expr, ids)."""

    values: dict[str, Any]


@dataclass(frozen=True)
class PartResult:
    """The grade of one part (CONTRACT §4)."""

    score: float
    correct: bool
    feedback: str
    misconceptions: tuple[str, ...] = ()
    entries: list[list[bool]] | None = None
    carried_forward: bool = False
    # Each explanation that fits the answer equally well (a tag tuple: one mistake, or a pair
    # made together); several when mistakes coincide in this variant, and all are named.
    explanations: tuple[tuple[str, ...], ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "score": self.score,
            "correct": self.correct,
            "misconceptions": list(self.misconceptions),
            "feedback": self.feedback,
        }
        if self.entries is not None:
            out["entries"] = self.entries
        if self.carried_forward:
            out["carried_forward"] = True
        if len(self.explanations) > 1:
            out["explanations"] = [list(e) for e in self.explanations]
        return out


@dataclass(frozen=True)
class Grade:
    """The whole result: the mean part score and each part's grade."""

    score: float
    parts: dict[str, PartResult] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"score": self.score, "parts": {k: v.to_json() for k, v in self.parts.items()}}


def parse_answers(variant: Variant, raw: object) -> Answers:
    """Read the ``answers`` object of a submission; raise ``AnswerFormatError`` if any part
    cannot be read (with a reason per part)."""
    if not isinstance(raw, Mapping):
        raise AnswerFormatError("answers must be a JSON object mapping part names to answers", {})
    if len(raw) > MAX_PARTS:
        raise AnswerFormatError(f"too many answers (at most {MAX_PARTS})", {})
    names = {p.name for p in variant.parts}
    problems: dict[str, str] = {}
    for name in raw:
        if name not in names:
            problems[str(name)[:64]] = f"this problem has no part {str(name)[:64]!r}"
    values: dict[str, Any] = {}
    for part in variant.parts:
        if part.name not in raw or raw[part.name] is None or raw[part.name] == "":
            problems[part.name] = "no answer given"
            continue
        try:
            values[part.name] = _read(part, raw[part.name])
        except PartFormatError as exc:
            problems[part.name] = str(exc)
    if problems:
        listed = ", ".join(sorted(problems))
        raise AnswerFormatError(f"some answers cannot be read ({listed}); nothing was graded",
                                problems)
    return Answers(values)


def _read(part: Part, value: object) -> Any:
    if part.kind == "matrix":
        return read_matrix(value)
    if part.kind == "scalar":
        return read_scalar(value)
    if part.kind == "choice":
        return read_choice(value, [o.id for o in part.options])
    from .expressions import parse_expression

    if not isinstance(value, str):
        raise PartFormatError("an expression must be text")
    return parse_expression(value, part.symbols)


def grade(variant: Variant, answers: Answers) -> Grade:
    """Grade every part of ``answers`` against ``variant``."""
    results: dict[str, PartResult] = {}
    for part in variant.parts:
        results[part.name] = _grade_part(variant, part, answers.values)
    score = sum(r.score for r in results.values()) / len(results)
    return Grade(score=round(score, 6), parts=results)


def _grade_part(variant: Variant, part: Part, given: dict[str, Any]) -> PartResult:
    """Key, then carried forward, then mistakes (singles first), then one slipped entry,
    then early rounding; what is left is marked entry by entry."""
    answer, key = given[part.name], variant.key_values[part.name]
    entries = _key_entries(variant, part, answer)
    if entries is not None:
        right = all(map(all, entries))
    else:  # a matrix of another shape is never right; other kinds compare whole
        right = part.kind != "matrix" and _close(part, answer, key)
    if right:
        return PartResult(1.0, True, "Correct.", entries=entries)

    t = get_type(variant.type)
    if type(t).follow_on is not ExerciseType.follow_on:
        expected = t.follow_on(_setup(variant, t), part.name, given)
        if expected is not None and _close(part, answer, expected):
            return PartResult(
                1.0, True,
                "Correct from your own earlier answers: this step is right, the error came "
                "earlier, so it earns its credit (carried forward).",
                entries=_entries(part, answer, expected), carried_forward=True,
            )

    explanations = _matching_mistakes(variant, part, answer)
    if explanations:
        tags = tuple(dict.fromkeys(t for e in explanations for t in e))
        return PartResult(0.0, False, _explain(variant, explanations, part, answer, key),
                          misconceptions=tags, entries=entries, explanations=explanations)

    if entries is not None:
        wrong = [(i, j) for i, row in enumerate(entries) for j, ok in enumerate(row) if not ok]
        n = sum(len(row) for row in entries)
        if len(wrong) == 1 and n >= 2:
            i, j = wrong[0]
            return PartResult(
                (n - 1) / n, False,
                f"{MISTAKES['arithmetic-slip'].explanation} (row {i + 1}, column {j + 1})",
                misconceptions=("arithmetic-slip",), entries=entries,
            )
    if _close(part, answer, key, ROUNDING_RTOL, ROUNDING_ATOL):
        return PartResult(0.5, False, MISTAKES["rounding"].explanation,
                          misconceptions=("rounding",), entries=entries)
    if part.kind == "matrix" and entries is None:
        r, c = np.shape(key)
        ar, ac = np.shape(answer)
        return PartResult(
            0.0, False,
            f"Your answer is {ar}×{ac}, but {part.name} is {r}×{c}: check which quantities "
            "you multiplied and the shape each one has.",
        )
    if entries is not None:
        n = sum(len(row) for row in entries)
        right = sum(ok for row in entries for ok in row)
        return PartResult(round(right / n, 6), False,
                          f"{right} of {n} entries are right; the worked solution shows each step.",
                          entries=entries)
    return PartResult(0.0, False, "Not correct; the worked solution shows each step.")


def _setup(variant: Variant, t: ExerciseType) -> Setup:
    """The variant's setup, rebuilt from its stored network once per variant instance."""
    if "setup" not in variant.cache:
        variant.cache["setup"] = t.setup_from(variant)
    return variant.cache["setup"]


def _matching_mistakes(variant: Variant, part: Part, answer: Any) -> tuple[tuple[str, ...], ...]:
    """Every prediction the answer matches at the simplest level (fewest tags), or ().

    Mistakes that coincide in this variant give equal predictions; the answer cannot tell
    them apart, so all of them are named, never only the first.
    """
    preds = variant.predictions.get(part.name, ())
    if part.kind not in ("matrix", "scalar"):
        return _simplest([p.tags for p in preds if _close(part, answer, p.value)])
    groups = variant.cache.get(("predictions", part.name))
    if groups is None:
        # Same-shape predictions stacked, so one comparison tests them all.
        by_shape: dict[tuple[int, ...], list] = {}
        for p in preds:
            by_shape.setdefault(np.shape(p.value), []).append(p)
        groups = {shape: (np.array([p.value for p in ps], dtype=np.float64), [p.tags for p in ps])
                  for shape, ps in by_shape.items()}
        variant.cache[("predictions", part.name)] = groups
    group = groups.get(np.shape(answer))
    if group is None:
        return ()
    stack, tags = group
    axes = tuple(range(1, stack.ndim))
    ok = np.all(np.abs(stack - answer) <= part.atol + part.rtol * np.abs(stack), axis=axes)
    return _simplest([tags[i] for i in np.flatnonzero(ok)])


def _simplest(matches: list[tuple[str, ...]]) -> tuple[tuple[str, ...], ...]:
    """The distinct matches with the fewest tags: the simplest explanations."""
    if not matches:
        return ()
    fewest = min(map(len, matches))
    return tuple(dict.fromkeys(m for m in matches if len(m) == fewest))


def _key_entries(variant: Variant, part: Part, answer: Any) -> list[list[bool]] | None:
    """Per-entry marks against the key, its tolerances computed once per variant."""
    if part.kind != "matrix":
        return None
    key = variant.key_values[part.name]
    if np.shape(answer) != key.shape:
        return None
    tol = variant.cache.get(("tolerance", part.name))
    if tol is None:
        tol = variant.cache[("tolerance", part.name)] = part.atol + part.rtol * np.abs(key)
    return (np.abs(answer - key) <= tol).tolist()


def _entries(part: Part, answer: Any, key: Any) -> list[list[bool]] | None:
    if part.kind != "matrix" or np.shape(answer) != np.shape(key):
        return None
    ok = np.abs(answer - key) <= part.atol + part.rtol * np.abs(key)
    return ok.tolist()


def _explain(variant: Variant, explanations: tuple[tuple[str, ...], ...], part: Part,
             answer: Any, key: Any) -> str:
    """Each explanation's mistakes, in the variant's own conventions; coinciding ones joined
    by "or" (the answer fits each)."""
    said = [" ".join(f"{MISTAKES[t].name}: {MISTAKES[t].explanation_for(variant.network)}"
                     for t in e) for e in explanations]
    text = said[0] if len(said) == 1 else (
        "Your answer fits more than one mistake here, and this problem cannot tell them "
        "apart. " + " Or: ".join(said))
    if part.kind == "matrix" and np.shape(answer) != np.shape(key):
        r, c = np.shape(key)
        text += f" ({part.name} should be {r}×{c}.)"
    return text
