"""What a student is shown of a graded result, by the assignment's feedback mode.

Practice feedback (homework, practice problems): the score, each part's marks and the
named mistakes at once. Exam: the score only until the student's own due date (their
override's, else the assignment's; never, without one), then everything. The course's
staff always see everything. The API's result JSON and the pages both ask here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import assignments, policy
from .models import Mode, Problem, ResultKind, Status, Submission
from .policy import Person

SCORE_ONLY = "Exam: only the score is shown until the due date; then the full feedback."


def score_only(user: Person, problem: Problem, now: datetime) -> bool:
    """Whether ``user`` sees only the score of this problem's results now."""
    slot = problem.slot
    if slot is None or slot.assignment.mode != Mode.exam:
        return False
    if policy.teaches(user, slot.assignment.course_id):
        return False
    due = assignments.due_for(slot.assignment, problem.owner_id)
    return due is None or now < due


def shown_parts(user: Person, submission: Submission, now: datetime) -> dict[str, Any] | None:
    """The result's per-part marks and mistakes as ``user`` may see them now: None when
    not graded or withheld (exam, before the due date)."""
    result = submission.result if submission.status == Status.graded else None
    if result is None:
        return None
    # Whoever reads another's submission is its course's staff (``policy``): no need to
    # load its problem, which a list of a course's submissions would do row by row.
    if submission.user_id != user.id:
        return result.parts
    return None if score_only(user, submission.problem, now) else result.parts


def can_see_solution(user: Person, problem: Problem, now: datetime) -> bool:
    """``policy.can_see_solution``, and for an exam not before the student's own due date."""
    return policy.can_see_solution(user, problem, now) and not score_only(user, problem, now)


@dataclass(frozen=True)
class Change:
    """Why a submission's score is not the one its first grading gave: the current result
    is a regrade (``old`` → ``new``) or an override (set by hand), with its reason.
    A score and a reason only: shown in every feedback mode (an exam shows the score)."""

    kind: str  # "regraded" or "override"
    at: datetime
    old: float | None  # the score before (None: no earlier result)
    new: float
    reason: str


def change(submission: Submission) -> Change | None:
    """The current result's change over the one before it; None for a first grading."""
    current = submission.result if submission.status == Status.graded else None
    if current is None or current.kind == ResultKind.graded:
        return None  # the common case: no history is read
    before = [r for r in submission.results if r.id < current.id]
    return Change(current.kind.value, current.created_at,
                  before[-1].score if before else None, current.score, current.reason)


def history_json(submission: Submission) -> list[dict[str, Any]]:
    """The earlier results (not the current one), oldest first: score, grader version,
    kind, reason and when (CONTRACT §4, §9); their parts are not repeated."""
    return [
        {"score": r.score, "grader_version": r.grader_version, "kind": r.kind.value,
         "reason": r.reason, "created_at": r.created_at}
        for r in submission.results if not r.current
    ]
