"""A course at a glance (assignments, roster, the class's top mistakes), the class's named
mistakes across the course with each student's learning model, and one student's work with
the mistakes they make most and their model."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from markupsafe import Markup

from exercises.learning import SKILL_NAMES
from exercises.mistakes import MISTAKES

from .. import class_learning, mathml, pipeline
from .. import stats as reads
from ..inputs import MAX_ID
from ..models import Assignment, Submission
from ..student.render import ResultView, result_view
from .base import bp, login_required, no_such, staff_assignment, staff_course


# The course-editing page belongs to the roster's module; the first of these that exists.
@bp.get("/courses/<int:course_id>")
@login_required
def course(course_id: int) -> str:
    """The course at a glance: assignments, roster summary, the class's top mistakes."""
    staff = staff_course(course_id)
    return render_template(
        "dashboard/course.html",
        staff=staff,
        overview=reads.overview(staff.course),
    )


@bp.get("/courses/<int:course_id>/misconceptions")
@login_required
def misconceptions(course_id: int) -> str:
    """The class's named mistakes across the course, and each student's model: the
    students most in need of help and the heatmap of beliefs (``class_learning``)."""
    staff = staff_course(course_id)
    return render_template(
        "dashboard/misconceptions.html",
        staff=staff,
        mistakes=reads.course_mistakes(staff.course),
        students=reads.roster_summary(course_id).students,
        learning=class_learning.class_learning(course_id),
        need_rule=class_learning.NEED_RULE,
        mistake_name=lambda tag: MISTAKES[tag].name,
        skill_name=SKILL_NAMES.get,
    )


def _submission_view(sub: Submission) -> tuple[ResultView, list[tuple[Markup, Any]]]:
    """A submission's result (marks and named mistakes) and its answers, labelled."""
    variant = pipeline.parsed_variant(sub.problem.id, sub.problem.variant)
    answers = [(mathml.text(p.label), sub.answers.get(p.name)) for p in variant.parts]
    return result_view(sub, variant), answers


@bp.get("/courses/<int:course_id>/students/<int:user_id>")
@login_required
def student(course_id: int, user_id: int) -> str:
    """One student: submissions per assignment, marks, named mistakes; ``?assignment=<id>``
    shows one assignment."""
    staff = staff_course(course_id)
    enrollment = reads.member(course_id, user_id)
    if enrollment is None:
        raise no_such("student")
    chosen: Assignment | None = None
    raw = request.args.get("assignment", "")
    if raw:
        if not (raw.isascii() and raw.isdigit() and len(raw) <= len(str(MAX_ID))
                and int(raw) <= MAX_ID):
            raise no_such("assignment")
        chosen = staff_assignment(course_id, int(raw))[1]
    assignments = [chosen] if chosen is not None else list(staff.course.assignments)
    report = reads.student_report(enrollment, assignments)
    views = {
        sub.id: _submission_view(sub)
        for a in report.assignments for sl in a.slots for sub in sl.submissions
    }
    return render_template(
        "dashboard/student.html",
        staff=staff,
        tab="dashboard.gradebook",
        report=report,
        chosen=chosen,
        views=views,
        type_title=reads.type_title,
        learning=class_learning.student_learning(course_id, user_id),
    )
