"""Object-level authorization: who may see or act on which course, problem and submission.

Every API route and page asks one of these before it touches an object. Admins may do
everything; a course's staff (instructors and teaching assistants) see and grade
everything in it, but only its instructors change its policy or delete anything
(CONTRACT §9); a student sees their own problems and submissions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import exists, select

from .db import db
from .models import (
    CURRENT_RESULT,
    Assignment,
    CourseRole,
    Enrollment,
    Mode,
    Problem,
    Result,
    Role,
    Status,
    Submission,
    utcnow,
)


class Person(Protocol):
    """Whoever is asking: a logged-in ``User`` or an API ``auth.Principal``."""

    @property
    def id(self) -> int: ...

    @property
    def role(self) -> Role: ...


def course_role(user: Person, course_id: int) -> CourseRole | None:
    """The user's role in the course (admins count as instructors), or None."""
    if user.role == Role.admin:
        return CourseRole.instructor
    return db.session.scalar(
        select(Enrollment.role).where(
            Enrollment.course_id == course_id, Enrollment.user_id == user.id
        )
    )


def teaches(user: Person, course_id: int | None) -> bool:
    """Whether the user is on the course's staff (instructor or TA): sees and grades."""
    if course_id is None:
        return user.role == Role.admin
    role = course_role(user, course_id)
    return role is not None and role.is_staff


def manages(user: Person, course_id: int) -> bool:
    """Whether the user may change the course's policy or delete from it: instructors."""
    return course_role(user, course_id) == CourseRole.instructor


def problem_course_id(problem: Problem) -> int | None:
    """The course an assignment problem belongs to; None for a practice problem."""
    return problem.slot.assignment.course_id if problem.slot is not None else None


def can_read_problem(user: Person, problem: Problem) -> bool:
    """Its course's staff; its owner, unless its assignment is hidden from students now."""
    if teaches(user, problem_course_id(problem)):
        return True
    slot = problem.slot
    return problem.owner_id == user.id and (slot is None or visible(slot.assignment))


def visible(assignment: Assignment, now: datetime | None = None) -> bool:
    """Whether students see the assignment: published and opened."""
    now = now or utcnow()
    return assignment.published and (assignment.opens_at is None or assignment.opens_at <= now)


def can_see_seed(user: Person, problem: Problem) -> bool:
    """A practice problem's seed is public; a graded one's only its course's staff see,
    since the key follows from it (CONTRACT §11)."""
    return problem.slot_id is None or teaches(user, problem_course_id(problem))


class Owned(Protocol):
    @property
    def owner_id(self) -> int: ...


def can_submit(user: Person, problem: Owned) -> bool:
    """Only the problem's owner answers it; an instructor cannot answer for a student."""
    return problem.owner_id == user.id


def can_read_submission(user: Person, submission: Submission) -> bool:
    return submission.user_id == user.id or teaches(user, problem_course_id(submission.problem))


def can_retry(user: Person, submission: Submission) -> bool:
    return teaches(user, problem_course_id(submission.problem))


def is_exam(problem: Problem) -> bool:
    """Whether the problem is an exam's slot (its solution waits for the due date)."""
    return problem.slot is not None and problem.slot.assignment.mode == Mode.exam


def can_see_solution(user: Person, problem: Problem, now: datetime) -> bool:
    """Instructors always; the owner once solved or out of attempts (exams: after the due date)."""
    if teaches(user, problem_course_id(problem)):
        return True
    if problem.owner_id != user.id:
        return False
    if problem.slot is not None and is_exam(problem):
        due = problem.slot.assignment.due_at
        return due is not None and now >= due
    out_of_attempts = (
        problem.attempts_allowed is not None and problem.attempts_used >= problem.attempts_allowed
    )
    return out_of_attempts or solved(problem)


def solved(problem: Problem) -> bool:
    """True once some submission of the problem earned full marks."""
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    Submission.problem_id == problem.id,
                    Submission.status == Status.graded,
                    CURRENT_RESULT,
                    Result.score >= 1.0,
                )
            )
        )
    )
