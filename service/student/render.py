"""The pieces the problem, submission and result pages render: answer boxes prefilled and
marked, results with their named mistakes, and the worked solution marked where the latest
answer departs from it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from markupsafe import Markup

import exercises as ex
from exercises.solution import Departure, departure

from .. import feedback, mathml
from ..models import Status, Submission, utcnow
from .base import signed_in

MAX_GRID = 10  # rows or columns a matrix answer may be given in the page


# --- answer boxes ------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    id: str
    label: Markup


@dataclass(frozen=True)
class PartView:
    """One answer box, prefilled with the caller's last answer when it fits the box; with
    the reason it could not be read, or the marks of the result shown, if any."""

    name: str
    kind: str
    label: Markup
    choices: list[Choice] = field(default_factory=list)
    symbols: tuple[str, ...] = ()
    cells: list[list[str]] = field(default_factory=lambda: [[""]])
    value: str = ""
    error: str = ""
    correct: bool | None = None  # None: no result shown
    carried_forward: bool = False
    entries: list[list[bool]] | None = None


@dataclass(frozen=True)
class Attempts:
    used: int
    allowed: int | None  # None: unlimited (practice)

    @property
    def left(self) -> int | None:
        return None if self.allowed is None else max(0, self.allowed - self.used)


def part_view(
    part: ex.Part, last: Any, error: str = "", graded: dict[str, Any] | None = None
) -> PartView:
    """The answer box of ``part``, prefilled from ``last`` where it fits, with the reason
    ``error`` it could not be read and the marks in ``graded``, if any."""
    label = mathml.text(part.label)
    marks: dict[str, Any] = {"error": error}
    if graded is not None:
        marks.update(correct=bool(graded.get("correct")),
                     carried_forward=bool(graded.get("carried_forward")))
    if part.kind == "matrix":
        cells = _grid(last)
        entries = graded.get("entries") if graded is not None else None
        if entries is not None and (len(entries), len(entries[0])) != (len(cells), len(cells[0])):
            entries = None  # marks only where they fit the cells shown
        return PartView(part.name, part.kind, label, cells=cells, entries=entries, **marks)
    if part.kind == "choice":
        choices = [Choice(o.id, mathml.text(o.label)) for o in part.options]
        return PartView(part.name, part.kind, label, choices=choices, value=_plain(last), **marks)
    return PartView(
        part.name, part.kind, label, symbols=part.symbols, value=_plain(last), **marks
    )


def _plain(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return ""
    return str(value)


def _grid(value: Any) -> list[list[str]]:
    """The cells of a previous matrix answer given as JSON rows; else one empty cell.

    The grid never starts in the key's shape: the student sets the shape.
    """
    if isinstance(value, list) and value and not isinstance(value[0], list):
        value = [[entry] for entry in value]  # a flat list is a column (CONTRACT §2)
    if (
        not isinstance(value, list)
        or not value
        or len(value) > MAX_GRID
        or not all(isinstance(row, list) and row and len(row) == len(value[0]) for row in value)
        or len(value[0]) > MAX_GRID
    ):
        return [[""]]
    return [[_plain(entry) for entry in row] for row in value]


# --- results, history and the worked solution --------------------------------------------


@dataclass(frozen=True)
class MistakeView:
    tag: str
    name: str
    explanation: Markup


@dataclass(frozen=True)
class PartResultView:
    name: str
    label: Markup
    score: float
    correct: bool
    carried_forward: bool
    mistakes: list[MistakeView]
    note: Markup | None


@dataclass(frozen=True)
class ResultView:
    """A submission and, once graded, its result, ready for the page."""

    id: uuid.UUID
    attempt: int
    status: str
    received_at: datetime
    score: float | None
    parts: list[PartResultView]
    reason: str | None
    withheld: str | None = None  # why the parts are not shown (an exam before its due date)
    # A regrade or an override made the current score: old → new and why (every mode).
    change: feedback.Change | None = None


def result_view(submission: Submission, variant: ex.Variant) -> ResultView:
    """The submission for the page: once graded, each part's marks and named mistakes, as
    far as the feedback mode lets the signed-in user see them (``service.feedback``)."""
    result = submission.result if submission.status == Status.graded else None
    shown = feedback.shown_parts(signed_in(), submission, utcnow())
    parts: list[PartResultView] = []
    if shown is not None:
        for part in variant.parts:
            graded = shown.get(part.name)
            if graded is None:
                continue
            tags = [t for t in graded.get("misconceptions", []) if t in ex.MISTAKES]
            mistakes = [
                MistakeView(t, ex.MISTAKES[t].name, mathml.text(ex.MISTAKES[t].explanation))
                for t in tags
            ]
            note = feedback_note(graded.get("feedback", ""), tags)
            parts.append(
                PartResultView(
                    name=part.name,
                    label=mathml.text(part.label),
                    score=float(graded.get("score", 0.0)),
                    correct=bool(graded.get("correct")),
                    carried_forward=bool(graded.get("carried_forward")),
                    mistakes=mistakes,
                    note=mathml.text(note) if note else None,
                )
            )
    return ResultView(
        id=submission.id,
        attempt=submission.attempt,
        status=submission.status.value,
        received_at=submission.received_at,
        score=result.score if result is not None else None,
        parts=parts,
        reason=(submission.reason or "grading failed")
        if submission.status == Status.error
        else None,
        withheld=feedback.SCORE_ONLY if result is not None and shown is None else None,
        change=feedback.change(submission),
    )


def feedback_note(feedback: str, tags: list[str]) -> str:
    """What a part's feedback says beyond the named mistakes' own explanations.

    The grader writes "Name: explanation" (or the explanation alone) and may add a detail
    such as the slipped entry or the expected shape; the page shows the mistakes as cards,
    so only that detail is left. "Correct." says nothing the mark does not.
    """
    if feedback.strip() == "Correct.":
        return ""
    for tag in tags:
        mistake = ex.MISTAKES[tag]
        feedback = feedback.replace(f"{mistake.name}: {mistake.explanation}", "")
        feedback = feedback.replace(mistake.explanation, "")
    return feedback.strip()


@dataclass(frozen=True)
class StepView:
    title: str
    text: Markup
    formula: Markup | None
    parts: list[str]
    # Where the latest graded answer first departs from the solution: what to say and, where
    # a mistake was named, the step as that mistake does it next to the right one.
    departed: Markup | None = None
    yours: Markup | None = None
    right: Markup | None = None


def solution_view(variant: ex.Variant, latest: Submission | None = None) -> list[StepView]:
    """The worked solution, marked where ``latest`` (if graded, not full marks) departs."""
    mark = _departure(variant, latest)
    views = []
    for i, step in enumerate(ex.worked_solution(variant).steps):
        here = mark if mark is not None and mark.step == i else None
        views.append(StepView(
            step.title,
            mathml.text(step.text),
            mathml.formula(step.latex, display=True) if step.latex else None,
            list(step.parts),
            departed=mathml.text(here.text) if here else None,
            yours=mathml.formula(here.yours) if here and here.yours else None,
            right=mathml.formula(here.right) if here and here.right else None,
        ))
    return views


def _departure(variant: ex.Variant, latest: Submission | None) -> Departure | None:
    if latest is None or latest.status != Status.graded or latest.result is None:
        return None
    if latest.result.score >= 1.0:
        return None
    try:
        answers = ex.parse_answers(variant, latest.answers).values
    except ex.AnswerFormatError:  # graded answers were readable; a changed reader may differ
        return None
    return departure(variant, answers, latest.result.parts)
