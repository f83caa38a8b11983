"""TODO: gradebook pages."""

from __future__ import annotations

from flask import render_template

from .base import bp, login_required, staff_course


@bp.get("/courses/<int:course_id>/gradebook")
@login_required
def gradebook(course_id: int) -> str:
    """Students by assignments, with totals."""
    staff = staff_course(course_id)
    return render_template("dashboard/todo.html", staff=staff)
