"""The demo's seed: two logins and a course whose assignments use several exercise types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from . import auth
from .db import db
from .models import Assignment, Course, CourseRole, Enrollment, Mode, Role, Slot, utcnow

COURSE_CODE = "BP101"


@dataclass(frozen=True)
class Login:
    role: str
    email: str
    password: str


LOGINS = (
    Login("student", "student@demo.local", "student-demo"),
    Login("instructor", "instructor@demo.local", "instructor-demo"),
)

HOMEWORK = ("forward-pass", "loss", "output-error", "delta", "weight-gradient")
EXAM = (("activation-derivative", 2), ("weight-gradient", 2))


def seed() -> tuple[Login, ...]:
    """Create the demo logins and course unless they exist; commits. Returns the logins."""
    if db.session.scalar(select(Course).where(Course.code == COURSE_CODE)) is not None:
        return LOGINS
    users = {
        login.role: auth.find_user(login.email)
        or auth.create_user(
            login.email, login.password, Role(login.role), name=f"Demo {login.role}"
        )
        for login in LOGINS
    }
    course = Course(code=COURSE_CODE, title="Backpropagation by hand")
    db.session.add(course)
    for role, user in users.items():
        db.session.add(Enrollment(course=course, user=user, role=CourseRole(role)))
    db.session.add(
        Assignment(
            course=course,
            title="Homework 1: one layer, step by step",
            mode=Mode.homework,
            attempts_allowed=3,
            due_at=utcnow() + timedelta(days=14),
            slots=[Slot(position=i, exercise_type=t) for i, t in enumerate(HOMEWORK, start=1)],
        )
    )
    db.session.add(
        Assignment(
            course=course,
            title="Quiz: sigmoid layers",
            mode=Mode.exam,
            attempts_allowed=1,
            due_at=utcnow() + timedelta(days=7),
            slots=[
                Slot(position=i, exercise_type=t, difficulty=d, points=2.0)
                for i, (t, d) in enumerate(EXAM, start=1)
            ],
        )
    )
    db.session.commit()
    return LOGINS
