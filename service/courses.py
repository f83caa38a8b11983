"""Courses: creating one (its creator teaches it) and changing its code and title; the
page and API v1 both come here. Errors are ``roster.RosterError`` with the HTTP status."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from . import identifiers
from .db import db
from .models import Course, CourseRole, Enrollment, Role
from .policy import Person
from .roster import RosterError


def create_course(by: Person, code: str, title: str) -> Course:
    """A new course the creator teaches (commits). RosterError: 403 for a student account,
    422 bad code or title, 409 code taken."""
    if by.role == Role.student:
        raise RosterError(403, "forbidden", "only instructors can create courses")
    code, title = _course_fields(code, title)
    course = Course(code=code, title=title)
    db.session.add(course)
    db.session.add(Enrollment(course=course, user_id=by.id, role=CourseRole.instructor))
    _commit_code(code)
    return course


def edit_course(course: Course, code: str | None, title: str | None) -> Course:
    """Change a course's code and title (commits); RosterError 422 or 409 as above."""
    new_code, new_title = _course_fields(
        code if code is not None else course.code, title if title is not None else course.title
    )
    course.code, course.title = new_code, new_title
    _commit_code(new_code)
    return course


def _course_fields(code: str, title: str) -> tuple[str, str]:
    try:
        return (
            identifiers.course_code(code, field="code", max_length=32),
            identifiers.clean("title", title, max_length=200),
        )
    except identifiers.IdentifierError as exc:
        raise RosterError(422, "invalid_request", str(exc)) from None


def _commit_code(code: str) -> None:
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise RosterError(409, "conflict", f"a course with code {code} exists") from None
