"""TODO: assignments pages."""

from __future__ import annotations

from flask import render_template

from .base import bp, login_required, staff_course


@bp.get("/courses/<int:course_id>/assignments/<int:assignment_id>/manage")
@login_required
def assignment(course_id: int, assignment_id: int) -> str:
    """An assignment's settings, slots and overrides, for its staff."""
    staff = staff_course(course_id)
    return render_template("dashboard/todo.html", staff=staff)


@bp.get("/courses/<int:course_id>/assignments/new")
@login_required
def assignment_new(course_id: int) -> str:
    """Create an assignment from the catalogue."""
    staff = staff_course(course_id)
    return render_template("dashboard/todo.html", staff=staff)
