"""Reading and grading a submission: what is right, what is wrong, and which mistake explains it.

``parse_answers`` is PrairieLearn's *parse*: unreadable input raises
``AnswerFormatError`` with a message per part, and is not graded. ``grade`` scores each
part by the one rule below, ``SCORING_RULE``, running its checks in order (``_CHECKS``):
right, carried forward, the key rounded, all one number, a copy, named mistakes (singles
before pairs: the simplest explanation wins), one slipped entry, close, and what is left.
A ``policy.GradingPolicy`` other than the default changes the tolerance and the credits
(``_grade_by``); the default is the rule as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np

from .answers import AnswerFormatError, PartFormatError, read_choice, read_matrix, read_scalar
from .mistakes import MISTAKES
from .numbers import parse_fraction
from .policy import DEFAULT_POLICY, Accepted, GradingPolicy, percent
from .problem import (
    ROUNDED_FIGURES,
    ROUNDING_ATOL,
    ROUNDING_RTOL,
    Part,
    Variant,
    reads_as_rounded_key,
)
from .registry import ExerciseType, Setup, _close, get_type

MAX_PARTS = 32
# Within the rounding band (5%, or 0.005, of the key in every entry) an answer earns at least this.
CLOSE_CREDIT = 0.5
SAME_NUMBER = 1e-9  # relative spread below which an answer's entries are one number

# The scoring rule, said once: the problem page and the README show this text.
SCORING_RULE = (
    "Each part is checked entry by entry against the exact answer: an entry within 0.5% "
    "(or 0.0001) of it is right. A part scores 1 when every entry is right, or when it "
    "follows correctly from your own earlier answers that show work (carried forward). "
    "Otherwise: an answer that is all one number (all zeros included) scores 0, even where "
    "that number is right, and so does a copy of numbers given in the problem or of one of "
    "your earlier answers, unless a named mistake explains it; any other matrix of the "
    "right shape scores the fraction of its entries that are right, a single number or a "
    "matrix of the wrong shape scores 0, and an answer within 5% of the exact one in every "
    "entry (rounded to 2 significant figures, say) scores at least 1/2. Naming a mistake "
    "never lowers a score: a named mistake scores what an unexplained answer with the same "
    "right entries would. An earlier answer shows work when it earned credit or a named "
    "mistake explains it, and is neither all one number nor an unexplained copy."
)


@dataclass(frozen=True)
class Answers:
    """A submission's answers, read into grading form (float64 arrays, floats, Expr, ids)."""

    values: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class PartResult:
    """The grade of one part (CONTRACT §4); built by name, as it has many fields."""

    score: float
    correct: bool
    feedback: str
    misconceptions: tuple[str, ...] = ()
    entries: list[list[bool]] | None = None
    carried_forward: bool = False
    # Each explanation that fits the answer equally well (a tag tuple: one mistake, or a pair
    # made together); several when mistakes coincide in this variant, and all are named.
    explanations: tuple[tuple[str, ...], ...] = ()
    # An answer that shows no work: all one number (all zeros included), or a copy that no
    # named mistake explains. It scores 0 and carries nothing forward.
    no_work: bool = False
    # The instructor's reason, where the answer is one the grading policy accepts.
    accepted: str | None = None

    @property
    def carries_forward(self) -> bool:
        """Whether later parts may build on this answer for carried-forward credit: it shows
        work, and it is right, earned credit, or a named mistake explains it."""
        return not self.no_work and (self.correct or self.score > 0 or bool(self.explanations)
                                     or self.accepted is not None)

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
        if self.accepted is not None:
            out["accepted"] = self.accepted
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
            values[part.name] = _read(part, raw[part.name], variant.key_values[part.name])
        except PartFormatError as exc:
            problems[part.name] = str(exc)
    if problems:
        listed = ", ".join(sorted(problems))
        raise AnswerFormatError(f"some answers cannot be read ({listed}); nothing was graded",
                                problems)
    return Answers(values)


def _read(part: Part, value: object, key: Any) -> Any:
    if part.kind == "matrix":
        # The key's shape only orients a vector the answer leaves open, or names the way
        # round a vector written explicitly the other way should be (answers.read_matrix).
        return read_matrix(value, shape=np.shape(key))
    if part.kind == "scalar":
        return read_scalar(value)
    if part.kind == "choice":
        return read_choice(value, [o.id for o in part.options])
    from .expressions import parse_expression

    if not isinstance(value, str):
        raise PartFormatError("an expression must be text")
    return parse_expression(value, part.symbols)


def grade(variant: Variant, answers: Answers, policy: GradingPolicy = DEFAULT_POLICY) -> Grade:
    """Grade every part of ``answers`` against ``variant`` (SCORING_RULE, as ``policy``
    changes it: ``_grade_by``).

    Parts are graded in order, so that a part's carried-forward check sees which earlier
    answers are work (the types' follow-ons only read earlier parts).
    """
    if policy is not DEFAULT_POLICY and policy != DEFAULT_POLICY:
        return _grade_by(variant, answers, policy)
    results: dict[str, PartResult] = {}
    work: dict[str, Any] = {}
    for part in variant.parts:
        result = _grade_part(variant, part, answers.values, work)
        results[part.name] = result
        if result.carries_forward:
            work[part.name] = answers.values[part.name]
    score = sum(r.score for r in results.values()) / len(results)
    return Grade(score=round(score, 6), parts=results)


@dataclass
class _Case:
    """One part's answer and what the checks need to know about it, each computed once."""

    variant: Variant
    part: Part
    answer: Any
    key: Any
    given: dict[str, Any]  # every answer of the submission
    work: dict[str, Any]  # the earlier answers that carry forward

    @cached_property
    def numeric(self) -> bool:
        return self.part.kind in ("matrix", "scalar")

    @cached_property
    def entries(self) -> list[list[bool]] | None:
        return _key_entries(self.variant, self.part, self.answer)

    @cached_property
    def same_shape(self) -> bool:
        return self.part.kind != "matrix" or self.entries is not None

    @cached_property
    def explanations(self) -> tuple[tuple[str, ...], ...]:
        return _matching_mistakes(self.variant, self.part, self.answer)

    @cached_property
    def close(self) -> bool:
        """Within the rounding band of the key in every entry."""
        return (self.numeric and self.same_shape
                and _close(self.part, self.answer, self.key, ROUNDING_RTOL, ROUNDING_ATOL))

    @cached_property
    def credit(self) -> float:
        """What the answer earns by the rule, whatever explains it: its right entries, and
        at least ``CLOSE_CREDIT`` within the rounding band."""
        right = 0.0
        if self.entries is not None:
            n = sum(len(row) for row in self.entries)
            right = sum(ok for row in self.entries for ok in row) / n
        return round(max(right, CLOSE_CREDIT if self.close else 0.0), 6)

    def counts(self) -> str:
        """ "k of n entries are right." for a matrix of the key's shape, else ""."""
        if self.entries is None:
            return ""
        n = sum(len(row) for row in self.entries)
        right = sum(ok for row in self.entries for ok in row)
        return f" {right} of {n} entries are right."


def _grade_part(variant: Variant, part: Part, given: dict[str, Any],
                work: dict[str, Any]) -> PartResult:
    """The first check that applies, in the order of SCORING_RULE."""
    case = _Case(variant, part, given[part.name], variant.key_values[part.name], given, work)
    for check in _CHECKS:
        result = check(case)
        if result is not None:
            return result
    raise AssertionError("the last check always applies")


def _right(c: _Case) -> PartResult | None:
    """Within tolerance of the key: never tagged, whatever else it resembles."""
    if c.entries is not None:
        right = all(map(all, c.entries))
    else:  # a matrix of another shape is never right; other kinds compare whole
        right = c.part.kind != "matrix" and _close(c.part, c.answer, c.key)
    if not right:
        return None
    return PartResult(score=1.0, correct=True, feedback="Correct.", entries=c.entries)


def _carried(c: _Case) -> PartResult | None:
    """Right when computed from the student's own earlier answers that are work."""
    t = get_type(c.variant.type)
    if type(t).follow_on is ExerciseType.follow_on:
        return None
    expected = t.follow_on(_setup(c.variant, t), c.part.name, c.work)
    if expected is None or not _close(c.part, c.answer, expected):
        return None
    return PartResult(
        score=1.0, correct=True,
        feedback="Correct from your own earlier answers: this step is right, the error came "
        "earlier, so it earns its credit (carried forward).",
        entries=_entries(c.part, c.answer, expected), carried_forward=True,
    )


def _rounded_key(c: _Case) -> PartResult | None:
    """The key rounded to 2 significant figures (entry by entry): judged before any mistake
    is tried, since a pair of mistakes may land within rounding of the key."""
    if not (c.numeric and c.same_shape):
        return None
    if not reads_as_rounded_key(c.part, c.answer, c.key):
        return None
    return PartResult(
        score=c.credit, correct=False,
        feedback=f"Right, but rounded to {ROUNDED_FIGURES} significant figures: give at least "
        f"{ROUNDED_FIGURES + 1} (answers within {percent(c.part.rtol)} of the exact value count "
        "as exact).",
        entries=c.entries,
    )


def _all_one_number(c: _Case) -> PartResult | None:
    """All zeros, or all one number where the key's entries differ: 0, and nothing carried
    forward, whatever mistake it resembles (the mistake is still named)."""
    reason = _constant(c)
    if reason is None:
        return None
    tags = _tags(c.explanations)
    said = f"{_explain(c.variant, c.explanations, c.part, c.answer, c.key)} " if tags else ""
    return PartResult(
        score=0.0, correct=False,
        feedback=f"{said}{reason}, and nothing built on it is carried forward.",
        misconceptions=tags, entries=c.entries, explanations=c.explanations, no_work=True,
    )


def _copied(c: _Case) -> PartResult | None:
    """A copy of the problem's numbers or of an earlier answer that no mistake explains: 0."""
    if c.explanations:
        return None
    reason = _copy(c)
    if reason is None:
        return None
    return PartResult(
        score=0.0, correct=False,
        feedback=f"{reason}, and nothing built on it is carried forward.",
        entries=c.entries, no_work=True,
    )


def _mistake(c: _Case) -> PartResult | None:
    """Every prediction the answer matches at the simplest level, named; scored by the rule,
    never below the same entries unexplained."""
    if not c.explanations:
        return None
    return PartResult(
        score=c.credit, correct=False,
        feedback=_explain(c.variant, c.explanations, c.part, c.answer, c.key) + c.counts(),
        misconceptions=_tags(c.explanations), entries=c.entries, explanations=c.explanations,
    )


def _slip(c: _Case) -> PartResult | None:
    """Exactly one entry off and no mistake explains the answer: an arithmetic slip."""
    if c.entries is None:
        return None
    wrong = [(i, j) for i, row in enumerate(c.entries) for j, ok in enumerate(row) if not ok]
    n = sum(len(row) for row in c.entries)
    if len(wrong) != 1 or n < 2:
        return None
    i, j = wrong[0]
    return PartResult(
        score=c.credit, correct=False,
        feedback=f"{MISTAKES['arithmetic-slip'].explanation} (row {i + 1}, column {j + 1})",
        misconceptions=("arithmetic-slip",), entries=c.entries,
    )


def _near(c: _Case) -> PartResult | None:
    """Within the rounding band, no mistake named: close, and said to be no more than that
    (a right method cannot be told from a number within 5%, so no `rounding` tag)."""
    if not c.close:
        return None
    return PartResult(
        score=c.credit, correct=False,
        feedback=f"Close, but not within the {percent(c.part.rtol)} tolerance: every entry is "
        "within 5% of the exact value. Recheck the arithmetic, and keep at least four "
        "significant figures until the final answer." + c.counts(),
        entries=c.entries,
    )


def _rest(c: _Case) -> PartResult:
    """Wrong: the shape named if it is off, else the right entries counted."""
    if c.part.kind == "matrix" and c.entries is None:
        r, k = np.shape(c.key)
        ar, ac = np.shape(c.answer)
        return PartResult(
            score=0.0, correct=False,
            feedback=f"Your answer is {ar}×{ac}, but {c.part.name} is {r}×{k}: check which "
            "quantities you multiplied and the shape each one has.",
        )
    if c.entries is not None:
        return PartResult(
            score=c.credit, correct=False,
            feedback=c.counts().strip()[:-1] + "; the worked solution shows each step.",
            entries=c.entries,
        )
    return PartResult(score=0.0, correct=False,
                      feedback="Not correct; the worked solution shows each step.")


_CHECKS = (_right, _carried, _rounded_key, _all_one_number, _copied, _mistake, _slip, _near,
           _rest)


# --- a grading policy other than the default (policy.GradingPolicy) ---


def _grade_by(variant: Variant, answers: Answers, policy: GradingPolicy) -> Grade:
    """``grade`` under ``policy``: the same checks in the same order, with the policy's
    tolerance, its accepted answers judged right after the carried-forward check, and its
    credits. Which answers carry forward is the rule's (the answer shows work), whatever
    the policy scores them."""
    v = _under(variant, policy)
    accepted: dict[str, list[Accepted]] = {}
    for a in policy.accepted:
        accepted.setdefault(a.part, []).append(a)
    results: dict[str, PartResult] = {}
    work: dict[str, Any] = {}
    for part in v.parts:
        case = _Case(v, part, answers.values[part.name], v.key_values[part.name],
                     answers.values, work)
        result, shows_work = _grade_part_by(case, policy, accepted.get(part.name, []))
        results[part.name] = result
        if shows_work:
            work[part.name] = answers.values[part.name]
    score = sum(r.score for r in results.values()) / len(results)
    return Grade(score=round(score, 6), parts=results)


def _under(variant: Variant, policy: GradingPolicy) -> Variant:
    """The variant with the policy's tolerance on its numeric parts.

    A changed tolerance grades a copy with its own cache: the per-part tolerance arrays of
    the variant's cache belong to its own parts, and a caller may keep the variant to grade
    by other policies. What does not depend on the tolerance is computed once, in the
    variant's cache, and shared.
    """
    if policy.rtol is None and policy.atol is None:
        return variant
    t = get_type(variant.type)
    if type(t).follow_on is not ExerciseType.follow_on:
        _setup(variant, t)
    _problem_numbers(variant)
    parts = tuple(
        replace(p, rtol=p.rtol if policy.rtol is None else policy.rtol,
                atol=p.atol if policy.atol is None else policy.atol)
        if p.kind in ("matrix", "scalar") else p
        for p in variant.parts)
    shared = {k: val for k, val in variant.cache.items()
              if k in ("setup", "problem numbers")
              or (isinstance(k, tuple) and k[0] == "predictions")}
    return replace(variant, parts=parts, cache=shared)


def _grade_part_by(c: _Case, policy: GradingPolicy,
                   accepted: list[Accepted]) -> tuple[PartResult, bool]:
    """The part's result under ``policy``, and whether it shows work by the rule."""
    for check in _CHECKS:
        if check is _carried:
            carried = _carried(c) if policy.carry_forward else None
            if carried is not None:
                return replace(carried, score=policy.carry_forward_credit), True
            found = _accepted(c, policy, accepted)
            if found is not None:
                return found, True
            continue
        result = check(c)
        if result is not None:
            return _credited(result, policy), result.carries_forward
    raise AssertionError("the last check always applies")


def _accepted(c: _Case, policy: GradingPolicy, accepted: list[Accepted]) -> PartResult | None:
    """An answer the instructor accepts: the highest credit of those it matches, or the
    rule's, whichever is more."""
    label: str | None = None
    best: Accepted | None = None
    for a in accepted:
        if a.relation is not None:
            if label is None:
                label = _relation(c)
            hit = label == a.relation
        else:
            hit = _is_value(c, a)
        if hit and (best is None or a.credit > best.credit):
            best = a
    if best is None:
        return None
    rule = c.credit if policy.partial_credit else 0.0
    return PartResult(
        score=round(max(best.credit, rule), 6), correct=False,
        feedback=f"Accepted by your instructor: {best.reason}", entries=c.entries,
        accepted=best.reason,
    )


def _relation(c: _Case) -> str:
    """How the answer relates to its own key (``relations.relate``), as its label."""
    from .relations import relate

    others = {p.name: c.variant.key_values[p.name] for p in c.variant.parts
              if p.name != c.part.name and p.kind in ("matrix", "scalar")}
    return relate(c.part, c.answer, c.key, others).label


def _is_value(c: _Case, a: Accepted) -> bool:
    """The answer is the accepted value, within the part's tolerance (shape included)."""
    try:
        value = _read(c.part, a.answer, c.key)
    except PartFormatError:
        return False  # a value this part cannot read accepts nothing
    return bool(_close(c.part, c.answer, value))


def _credited(result: PartResult, policy: GradingPolicy) -> PartResult:
    """The policy's credit for a part not right: a named mistake's own credit (the highest
    of those named), else none without partial credit. No work stays 0."""
    if result.correct or result.no_work:
        return result
    credits = [credit for tag, credit in policy.mistake_credit if tag in result.misconceptions]
    if credits:
        return replace(result, score=max(credits))
    if not policy.partial_credit and result.score:
        return replace(result, score=0.0)
    return result


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


def _tags(explanations: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(t for e in explanations for t in e))


def _close_entries(part: Part, a: Any, b: Any) -> np.ndarray:
    """Entry by entry: a within the part's tolerance of b."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.abs(a - b) <= part.atol + part.rtol * np.abs(b)


def _constant(c: _Case) -> str | None:
    """Why the answer is all one number (all zeros included), or None."""
    if not c.numeric:
        return None
    a = np.asarray(c.answer, dtype=np.float64)
    if np.all(a == 0):
        what = "An answer of 0" if a.ndim == 0 else "An answer of all zeros"
        return f"{what} shows no work, so it earns nothing"
    if a.size < 2:
        return None
    k = np.asarray(c.key, dtype=np.float64)
    # The same number as written, not merely within tolerance: a right answer may have
    # entries within 0.5% of each other.
    if np.ptp(a) > SAME_NUMBER * max(1.0, float(np.max(np.abs(a)))):
        return None
    if np.all(_close_entries(c.part, k, k.flat[0])):  # the key is all one number too
        return None
    return (f"Every entry of your answer is the same number ({a.flat[0]:.4g}), while the exact "
            "answer's entries differ: an answer like that shows no work, so it earns nothing "
            "(not even for an entry it happens to hit)")


def _copy(c: _Case) -> str | None:
    """Why the answer is a copy of the problem's numbers or of an earlier answer, or None."""
    if not c.numeric:
        return None
    a = np.asarray(c.answer, dtype=np.float64)
    for label, given in _problem_numbers(c.variant):
        if given.shape == a.shape and np.all(_close_entries(c.part, a, given)):
            return (f"Your answer is {label} as given in the problem: a copy shows no work, so "
                    "it earns nothing")
    for other in c.variant.parts:
        if other.name == c.part.name:
            break
        earlier = c.given.get(other.name)
        if earlier is None:
            continue
        if (other.kind in ("matrix", "scalar") and np.shape(earlier) == a.shape
                and np.all(_close_entries(c.part, a, earlier))):
            return (f"Your answer is the same as your answer to {other.name}: a copy shows no "
                    "work for this part, so it earns nothing")
    return None


def _problem_numbers(variant: Variant) -> list[tuple[str, np.ndarray]]:
    """Every matrix (and its transpose) and every single number the problem gives."""
    if "problem numbers" in variant.cache:
        return variant.cache["problem numbers"]
    out: list[tuple[str, np.ndarray]] = []
    net = variant.network
    if net is not None:
        layers = net["layers"]
        named = [("x", net["x"]), ("y", net["y"])]
        for k, layer in enumerate(layers, start=1):
            sub = "" if len(layers) == 1 else str(k)
            named += [(f"W{sub}", layer["W"]), (f"b{sub}", layer["b"])]
        for label, rows in named:
            M = np.array([[_number(v) for v in row] for row in rows], dtype=np.float64)
            out += [(label, M), (f"{label}ᵀ", M.T)]
            out += [(f"a number of {label} ({v:g})", np.asarray(v)) for v in M.ravel()]
        out.append(("the learning rate", np.asarray(_number(net["learning_rate"]))))
    variant.cache["problem numbers"] = out
    return out


def _number(v: Any) -> float:
    return float(parse_fraction(v)) if isinstance(v, str) else float(v)
