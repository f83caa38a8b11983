"""TODO: networks pages."""

from __future__ import annotations

from flask import render_template

from .base import bp, login_required, staff_course


@bp.get("/courses/<int:course_id>/network")
@login_required
def networks(course_id: int) -> str:
    """An instructor's own network: every exercise type on it, previewed."""
    staff = staff_course(course_id)
    return render_template("dashboard/todo.html", staff=staff)
