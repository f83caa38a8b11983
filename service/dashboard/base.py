"""What every staff page shares: the blueprint, the course's staff check, the 404 for
everyone else, and the course's tabs.

A page of a course asks ``staff_course`` (instructors and TAs; 404 for students and
outsiders alike, CONTRACT §9) or ``managed_course`` (instructors; 403 for a TA, who may
see but not change policy) before it touches anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import Forbidden

from .. import policy
from ..db import db
from ..models import Assignment, Course, CourseRole
from ..student import base as student_base
from ..student.base import login_required, no_such, signed_in

__all__ = [
    "Staff",
    "bp",
    "login_required",
    "managed_course",
    "no_such",
    "signed_in",
    "staff_assignment",
    "staff_course",
]

bp = Blueprint(
    "dashboard",
    "service.dashboard",
    template_folder="templates",
    root_path=str(Path(__file__).resolve().parent.parent),
)
# The student pages' headers (CSP and the rest) and error pages, for staff pages too.
bp.after_request(student_base.secure_headers)
bp.register_error_handler(CSRFError, student_base.csrf_failed)
for _status in (400, 403, 404):
    bp.register_error_handler(_status, student_base.http_error)


@dataclass(frozen=True)
class Staff:
    """The course a staff page is about and the caller's role in it."""

    course: Course
    role: CourseRole

    @property
    def manages(self) -> bool:
        """Instructors change policy and delete; TAs see and grade."""
        return self.role == CourseRole.instructor


def staff_course(course_id: int) -> Staff:
    """The course, if the signed-in user is on its staff; a 404 otherwise (students too)."""
    course = db.session.get(Course, course_id)
    role = policy.course_role(signed_in(), course_id) if course is not None else None
    if course is None or role is None or not role.is_staff:
        raise no_such("course")
    return Staff(course, role)


def staff_assignment(course_id: int, assignment_id: int, *, manage: bool = False
                     ) -> tuple[Staff, Assignment]:
    """The course (as ``staff_course``, or ``managed_course`` with ``manage``) and its
    assignment; a 404 for an assignment of another course."""
    staff = managed_course(course_id) if manage else staff_course(course_id)
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None or assignment.course_id != course_id:
        raise no_such("assignment")
    return staff, assignment


def managed_course(course_id: int) -> Staff:
    """The course, if the signed-in user may change its policy (instructors); a TA gets 403."""
    staff = staff_course(course_id)
    if not staff.manages:
        raise Forbidden("Only the course's instructors can change this; teaching assistants "
                        "can see and grade.")
    return staff
