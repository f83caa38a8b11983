"""My courses with my progress, an assignment's problems, and the practice catalogue."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from flask import redirect, render_template, request, url_for
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response

import exercises as ex

from .. import assignments, policy, problems, queries
from ..db import db
from ..models import Assignment, LatePolicy, User, utcnow
from .base import bp, due_text, login_required, no_such, signed_in
from .problem import problem_page


@dataclass(frozen=True)
class AssignmentRow:
    """An assignment as listed on my courses: the caller's progress in it."""

    id: int
    title: str
    mode: str
    due_at: datetime | None
    due: str
    earned: float
    points: float
    solved: int
    problems: int


@dataclass(frozen=True)
class CourseRow:
    id: int
    code: str
    title: str
    role: str
    assignments: list[AssignmentRow]


@bp.get("/courses")
@login_required
def courses() -> str:
    """My courses, each with my progress per assignment."""
    user, now = signed_in(), utcnow()
    rows = [
        CourseRow(
            c.id, c.code, c.title, role.value,
            [_assignment_row(a, user, now) for a in c.assignments
             if role.is_staff or policy.visible(a, now)],
        )
        for c, role in queries.memberships(user)
    ]
    return render_template("courses.html", courses=rows)


def _assignment_row(assignment: Assignment, user: User, now: datetime) -> AssignmentRow:
    progress = queries.assignment_progress(assignment, user)
    return AssignmentRow(
        id=assignment.id,
        title=assignment.title,
        mode=assignment.mode.value,
        due_at=progress["your_due_at"],
        due=due_text(progress["your_due_at"], now),
        earned=progress["score"],
        points=progress["points"],
        solved=sum(1 for s in progress["slots"] if (s["best_score"] or 0) >= 1.0),
        problems=len(progress["slots"]),
    )


def _member_assignment(course_id: int, assignment_id: int) -> Assignment:
    """The assignment, for its course's members: staff always, students once it is
    published and opened; a 404 otherwise."""
    assignment = db.session.get(Assignment, assignment_id)
    role = policy.course_role(signed_in(), course_id)
    if (
        assignment is None
        or assignment.course_id != course_id
        or role is None
        or not (role.is_staff or policy.visible(assignment, utcnow()))
    ):
        raise no_such("assignment")
    return assignment


@bp.get("/courses/<int:course_id>/assignments/<int:assignment_id>")
@login_required
def assignment(course_id: int, assignment_id: int) -> str:
    """An assignment's problems with my best score, attempts used and left, my due date and
    what late work earns; for staff, a preview of it as a student sees it."""
    a = _member_assignment(course_id, assignment_id)
    user, now = signed_in(), utcnow()
    progress = queries.assignment_progress(a, user)
    slots = [
        {
            **s,
            "title": ex.get_type(s["exercise_type"]).title,
            "attempts_left": max(0, s["attempts_allowed"] - s["attempts_used"]),
        }
        for s in progress["slots"]
    ]
    due_at = progress["your_due_at"]
    return render_template(
        "assignment.html",
        course=a.course,
        assignment=a,
        progress=progress,
        slots=slots,
        due_at=due_at,
        due=due_text(due_at, now),
        extended=due_at != a.due_at,
        late_rule=assignments.late_rule(a),
        closed=a.late_policy == LatePolicy.closed and due_at is not None and now > due_at,
        late=due_at is not None and now > due_at,
        preview=policy.teaches(user, course_id),
    )


@bp.get("/courses/<int:course_id>/assignments/<int:assignment_id>/problems/<int:position>")
@login_required
def slot_problem(course_id: int, assignment_id: int, position: int) -> Response:
    """My variant of a slot, drawn on the first visit and the same on every later one."""
    a = _member_assignment(course_id, assignment_id)
    slot = next((s for s in a.slots if s.position == position), None)
    if slot is None:
        raise no_such("problem")
    problem = problems.draw_for_slot(slot, signed_in())
    return redirect(url_for("student.problem", problem_id=problem.id))


# --- practice ----------------------------------------------------------------------------


@bp.get("/practice")
@login_required
def practice_index() -> str:
    """Every exercise type, at every difficulty, to practise on fresh variants."""
    return render_template(
        "practice_index.html", types=ex.catalogue(), difficulties=ex.DIFFICULTIES
    )


@bp.get("/practice/<type_id>")
@login_required
def practice(type_id: str) -> Response | str:
    """A practice variant (CONTRACT §8); without a seed, a fresh one at a stable address."""
    try:
        exercise = ex.get_type(type_id)
    except ex.UnknownExerciseType:
        raise no_such("exercise type") from None
    difficulty = _int_arg("difficulty", 1, ex.DIFFICULTIES[0], ex.DIFFICULTIES[-1])
    if "seed" not in request.args:
        seed = secrets.randbelow(2**31)
        return redirect(
            url_for("student.practice", type_id=exercise.id, seed=seed, difficulty=difficulty)
        )
    seed = _int_arg("seed", 0, 0, ex.SEED_MAX)
    problem = problems.practice(signed_in(), exercise.id, seed, difficulty)
    return problem_page(problem)


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name, "")
    if raw == "":
        return default
    # ASCII digits only ("²" is a digit to isdigit, not to int), and few enough for int().
    if not (raw.isascii() and raw.isdigit() and len(raw) <= len(str(high))
            and low <= int(raw) <= high):
        raise BadRequest(f"{name} must be a whole number from {low} to {high}.")
    return int(raw)
