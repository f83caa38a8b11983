"""TODO: live pages."""

from __future__ import annotations

from flask import render_template

from .base import bp, login_required, staff_course


@bp.get("/courses/<int:course_id>/assignments/<int:assignment_id>/live")
@login_required
def live(course_id: int, assignment_id: int) -> str:
    """The last minutes of submissions, for a lecture."""
    staff = staff_course(course_id)
    return render_template("dashboard/todo.html", staff=staff)


@bp.get("/courses/<int:course_id>/assignments/<int:assignment_id>/unexplained")
@login_required
def unexplained(course_id: int, assignment_id: int) -> str:
    """Wrong answers no mistake explains, grouped by their relation to the key."""
    staff = staff_course(course_id)
    return render_template("dashboard/todo.html", staff=staff)
