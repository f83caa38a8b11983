"""One submission's page, and the panel the problem page swaps in once it is graded."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask import Response, jsonify, render_template

from .. import feedback, mathml, pipeline, policy
from ..db import db
from ..models import CourseRole, ResultKind, Submission, utcnow
from ..unexplained import Unexplaining, unexplained_answers
from .base import bp, login_required, no_such, signed_in
from .problem import problem_submissions
from .render import Attempts, result_view, solution_view


def _readable_submission(submission_id: uuid.UUID) -> Submission:
    submission = db.session.get(Submission, submission_id)
    if submission is None or not policy.can_read_submission(signed_in(), submission):
        raise no_such("submission")
    return submission


@bp.get("/submissions/<uuid:submission_id>")
@login_required
def submission(submission_id: uuid.UUID) -> str:
    """One submission: the answers as given and the result."""
    sub = _readable_submission(submission_id)
    variant = pipeline.parsed_variant(sub.problem.id, sub.problem.variant)
    return render_template(
        "submission.html",
        submission=sub,
        problem=sub.problem,
        variant=variant,
        result=result_view(sub, variant),
        answers=[(mathml.text(p.label), sub.answers.get(p.name)) for p in variant.parts],
        staff=_staff_tools(sub),
    )


@dataclass(frozen=True)
class StaffTools:
    """What the course's staff may do on a submission's page: set or clear its score
    (staff), accept one of its unexplained answers (instructors)."""

    course_id: int
    assignment_id: int
    manages: bool
    overridden: bool
    unexplained: list[Unexplaining]


def _staff_tools(sub: Submission) -> StaffTools | None:
    """The staff's forms for an assignment's graded submission; None for anyone else."""
    slot = sub.problem.slot
    if slot is None or sub.result is None:
        return None
    course_id = slot.assignment.course_id
    role = policy.course_role(signed_in(), course_id)
    if role is None or not role.is_staff:
        return None
    manages = role == CourseRole.instructor
    return StaffTools(course_id, slot.assignment_id, manages,
                      sub.result.kind == ResultKind.override,
                      unexplained_answers(sub) if manages else [])


@bp.get("/submissions/<uuid:submission_id>/panel")
@login_required
def submission_panel(submission_id: uuid.UUID) -> Response:
    """The pieces the problem page swaps in once a submission is graded, as HTML in JSON."""
    sub = _readable_submission(submission_id)
    problem = sub.problem
    variant = pipeline.parsed_variant(problem.id, problem.variant)
    user, now = signed_in(), utcnow()
    attempts = Attempts(problem.attempts_used, problem.attempts_allowed)
    solution = (
        render_template("_solution.html", solution=solution_view(variant, sub), variant=variant)
        if feedback.can_see_solution(user, problem, now)
        else None
    )
    return jsonify(
        status=sub.status.value,
        result=render_template("_result.html", result=result_view(sub, variant), live=True),
        history=render_template(
            "_history.html", history=[result_view(s, variant) for s in problem_submissions(problem)]
        ),
        attempts=render_template("_attempts.html", attempts=attempts),
        attempts_left=attempts.left,
        solution=solution,
    )
