"""TODO: roster pages."""

from __future__ import annotations

from flask import render_template

from .base import bp, login_required, staff_course


@bp.get("/courses/<int:course_id>/roster")
@login_required
def roster(course_id: int) -> str:
    """Members with role and section; add one; import a roster CSV."""
    staff = staff_course(course_id)
    return render_template("dashboard/todo.html", staff=staff)
