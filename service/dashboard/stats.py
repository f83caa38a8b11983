"""TODO: stats pages."""

from __future__ import annotations

from flask import render_template

from .base import bp, login_required, staff_course


@bp.get("/courses/<int:course_id>/assignments/<int:assignment_id>/stats")
@login_required
def stats(course_id: int, assignment_id: int) -> str:
    """Per-slot statistics and the misconception chart with its table."""
    staff = staff_course(course_id)
    return render_template("dashboard/todo.html", staff=staff)
