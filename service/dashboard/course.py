"""TODO: course pages."""

from __future__ import annotations

from flask import render_template

from .base import bp, login_required, staff_course


@bp.get("/courses/<int:course_id>")
@login_required
def course(course_id: int) -> str:
    """The course at a glance: assignments, roster summary, the class's top mistakes."""
    staff = staff_course(course_id)
    return render_template("dashboard/todo.html", staff=staff)


@bp.get("/courses/<int:course_id>/misconceptions")
@login_required
def misconceptions(course_id: int) -> str:
    """The class's named mistakes across the course."""
    staff = staff_course(course_id)
    return render_template("dashboard/todo.html", staff=staff)


@bp.get("/courses/<int:course_id>/students/<int:user_id>")
@login_required
def student(course_id: int, user_id: int) -> str:
    """One student: submissions per assignment, marks, named mistakes."""
    staff = staff_course(course_id)
    return render_template("dashboard/todo.html", staff=staff)
