"""The reads the pages and API v1 share: courses, rosters, submissions, progress and marks.

Each function runs its statements in ``db.session`` and returns rows or plain values;
who may ask is the caller's business (``policy``), the JSON or page shape too, except
for ``assignment_progress``, the one shape both audiences show as it is.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from . import auth
from .db import db
from .models import (
    CURRENT_RESULT,
    Assignment,
    Course,
    CourseRole,
    Enrollment,
    Mark,
    Override,
    Problem,
    Result,
    Role,
    Slot,
    Status,
    Submission,
    User,
)
from .policy import Person

MAX_COURSE_SUBMISSIONS = 500  # a page of the course's submissions, newest first


def memberships(user: Person) -> list[tuple[Course, CourseRole]]:
    """The user's courses and role in each, by course id; every course, as instructor, for
    admins."""
    if user.role == Role.admin:
        courses = db.session.scalars(select(Course).order_by(Course.id))
        return [(course, CourseRole.instructor) for course in courses]
    rows = db.session.execute(
        select(Course, Enrollment.role)
        .join(Enrollment)
        .where(Enrollment.user_id == user.id)
        .order_by(Course.id)
    )
    return [(course, role) for course, role in rows]


@dataclass(frozen=True)
class Entry:
    user_id: int
    email: str
    name: str
    role: CourseRole
    section: str
    student_account: bool  # may get a set-password link
    pending: bool  # has never set a password


def entries(course_id: int, section: str | None = None) -> list[Entry]:
    """The course's members by role (instructors first), section, then email."""
    order = {CourseRole.instructor: 0, CourseRole.ta: 1, CourseRole.student: 2}
    stmt = (
        select(User, Enrollment.role, Enrollment.section)
        .join(Enrollment)
        .where(Enrollment.course_id == course_id)
    )
    if section is not None:
        stmt = stmt.where(Enrollment.section == section)
    rows = [
        Entry(u.id, u.email, u.name, role, sec, u.role == Role.student,
              u.password_hash == auth.UNUSABLE_PASSWORD)
        for u, role, sec in db.session.execute(stmt)
    ]
    return sorted(rows, key=lambda e: (order[e.role], e.section, e.email))


def sections(course_id: int) -> list[tuple[str, int]]:
    """The course's sections ("" for none) and how many students each has."""
    rows = db.session.execute(
        select(Enrollment.section, func.count())
        .where(Enrollment.course_id == course_id, Enrollment.role == CourseRole.student)
        .group_by(Enrollment.section)
        .order_by(Enrollment.section)
    )
    return [(sec, n) for sec, n in rows]


def enrollment(course_id: int, user_id: int) -> Enrollment | None:
    return db.session.scalar(
        select(Enrollment).where(Enrollment.course_id == course_id, Enrollment.user_id == user_id)
    )


def students(course_id: int) -> Sequence[User]:
    """The course's students, by email."""
    return db.session.scalars(
        select(User)
        .join(Enrollment)
        .where(Enrollment.course_id == course_id, Enrollment.role == CourseRole.student)
        .order_by(User.email)
    ).all()


def submissions(problem_id: uuid.UUID, *, newest_first: bool = False) -> list[Submission]:
    """The problem's submissions by attempt."""
    order = Submission.attempt.desc() if newest_first else Submission.attempt
    return list(
        db.session.scalars(
            select(Submission).where(Submission.problem_id == problem_id).order_by(order)
        )
    )


def course_submissions(course_id: int, status: Status | None = None) -> list[Submission]:
    """The latest submissions to the course's assignments, newest first, of one status or all."""
    stmt = (
        select(Submission)
        .join(Problem)
        .join(Slot)
        .join(Assignment)
        .where(Assignment.course_id == course_id)
        .order_by(Submission.received_at.desc())
        .limit(MAX_COURSE_SUBMISSIONS)
    )
    if status is not None:
        stmt = stmt.where(Submission.status == status)
    return list(db.session.scalars(stmt))


def best_scores(problem_ids: list[uuid.UUID]) -> dict[uuid.UUID, float]:
    """Each problem's best graded score (problems never graded are absent)."""
    rows = db.session.execute(
        select(Submission.problem_id, func.max(Result.score))
        .join(Result, CURRENT_RESULT)
        .where(Submission.problem_id.in_(problem_ids))
        .group_by(Submission.problem_id)
    )
    return dict(rows.all())


def last_statuses(problem_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The status of each problem's latest attempt (problems never submitted are absent)."""
    latest = (
        select(Submission.problem_id, func.max(Submission.attempt).label("attempt"))
        .where(Submission.problem_id.in_(problem_ids))
        .group_by(Submission.problem_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Submission.problem_id, Submission.status).join(
            latest,
            (Submission.problem_id == latest.c.problem_id)
            & (Submission.attempt == latest.c.attempt),
        )
    )
    return {problem_id: status.value for problem_id, status in rows}


def assignment_progress(assignment: Assignment, user: Person) -> dict[str, Any]:
    """The assignment with the user's variant, attempts and best score per slot, their own
    due date and extra attempts (their override), and the points they earned after the late
    policy (their marks): the API's ``Assignment`` shape, which the pages show too."""
    owned = {
        p.slot_id: p
        for p in db.session.scalars(
            select(Problem).where(
                Problem.owner_id == user.id,
                Problem.slot_id.in_([slot.id for slot in assignment.slots]),
            )
        )
    }
    ids = [p.id for p in owned.values()]
    best, last = best_scores(ids), last_statuses(ids)
    credit: dict[int, float] = dict(db.session.execute(
        select(Mark.slot_id, Mark.credit).where(
            Mark.assignment_id == assignment.id, Mark.user_id == user.id)
    ).all())
    own = db.session.scalar(select(Override).where(
        Override.assignment_id == assignment.id, Override.user_id == user.id))
    extra = own.extra_attempts if own is not None else 0
    slots, earned = [], 0.0
    for slot in assignment.slots:
        problem = owned.get(slot.id)
        score = best.get(problem.id) if problem is not None else None
        earned += credit.get(slot.id, 0.0) * slot.points
        slots.append(
            {
                "position": slot.position,
                "exercise_type": slot.exercise_type,
                "difficulty": slot.difficulty,
                "points": slot.points,
                "problem_id": problem.id if problem is not None else None,
                "attempts_used": problem.attempts_used if problem is not None else 0,
                "attempts_allowed": problem.attempts_allowed if problem is not None
                else assignment.attempts_allowed + extra,
                "best_score": score,
                "credit": credit.get(slot.id),
                "last_status": last.get(problem.id) if problem is not None else None,
            }
        )
    return {
        "id": assignment.id,
        "course_id": assignment.course_id,
        "title": assignment.title,
        "mode": assignment.mode.value,
        "attempts_allowed": assignment.attempts_allowed,
        "due_at": assignment.due_at,
        "opens_at": assignment.opens_at,
        "published": assignment.published,
        "late_policy": assignment.late_policy.value,
        "late_penalty": assignment.late_penalty,
        "your_due_at": own.due_at if own is not None and own.due_at is not None
        else assignment.due_at,
        "extra_attempts": extra,
        "slots": slots,
        "score": earned,
        "points": sum(slot.points for slot in assignment.slots),
    }
