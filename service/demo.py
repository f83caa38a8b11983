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


@dataclass(frozen=True)
class Planned:
    """An assignment of the demo course; its slots are (exercise type, difficulty, points)."""

    title: str
    mode: Mode
    attempts_allowed: int
    due_in: timedelta
    slots: tuple[tuple[str, int, float], ...]


ASSIGNMENTS = (
    Planned(
        "Homework 1: one layer, step by step",
        Mode.homework,
        attempts_allowed=3,
        due_in=timedelta(days=14),
        slots=tuple((t, 1, 1.0) for t in HOMEWORK),
    ),
    Planned(
        "Quiz: sigmoid layers",
        Mode.exam,
        attempts_allowed=1,
        due_in=timedelta(days=7),
        slots=tuple((t, d, 2.0) for t, d in EXAM),
    ),
)


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
    for planned in ASSIGNMENTS:
        slots = [
            Slot(position=i, exercise_type=t, difficulty=d, points=points)
            for i, (t, d, points) in enumerate(planned.slots, start=1)
        ]
        db.session.add(
            Assignment(
                course=course,
                title=planned.title,
                mode=planned.mode,
                attempts_allowed=planned.attempts_allowed,
                due_at=utcnow() + planned.due_in,
                slots=slots,
            )
        )
    db.session.commit()
    return LOGINS
