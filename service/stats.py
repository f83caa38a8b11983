"""What the class gets wrong, read from the marks grading keeps (``service.marks``).

Shared by the statistics, course overview, misconceptions and student pages and their
JSON twins. Only the course's enrolled students count (not staff previews, not removed
students). Counts that grow with submissions are SQL aggregates over ``marks`` and
``mistake_marks``; rows of one student and slot are folded here (``service.analytics``).
A mistake is counted once per student, however often they made it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, distinct, func, select
from sqlalchemy.orm import selectinload

import exercises as ex

from . import analytics
from .db import db
from .models import (
    Assignment,
    Course,
    CourseRole,
    Enrollment,
    Mark,
    MistakeMark,
    Problem,
    Slot,
    Submission,
    User,
)

TOP_MISTAKES = 5  # on the course overview


def _enrolled(course_id: Any, user_id: Any) -> ColumnElement[bool]:
    """The join condition: ``user_id`` is a student of ``course_id``."""
    return and_(
        Enrollment.course_id == course_id,
        Enrollment.user_id == user_id,
        Enrollment.role == CourseRole.student,
    )


def type_title(type_id: str) -> str:
    try:
        return ex.get_type(type_id).title
    except ex.UnknownExerciseType:
        return type_id


@dataclass(frozen=True)
class MistakeCount:
    """A named mistake and how many students made it at least once."""

    tag: str
    students: int

    @property
    def name(self) -> str:
        return ex.MISTAKES[self.tag].name if self.tag in ex.MISTAKES else self.tag

    @property
    def explanation(self) -> str:
        return ex.MISTAKES[self.tag].explanation if self.tag in ex.MISTAKES else ""


def _by_count(counts: dict[str, int]) -> list[MistakeCount]:
    """Most students first, then by name."""
    rows = [MistakeCount(tag, n) for tag, n in counts.items()]
    return sorted(rows, key=lambda m: (-m.students, m.name))


# --- one assignment, per slot --------------------------------------------------------------


@dataclass(frozen=True)
class SlotStats:
    """One slot's statistics over the students who had a submission graded in it."""

    slot: Slot
    students: int
    submissions: int
    mean_best_score: float | None
    solved: int
    solved_fraction: float | None
    attempts_to_solve: list[tuple[int, int]]  # (attempt, students who first solved on it)
    median_seconds_to_solve: float | None  # first view to the solving attempt's arrival
    discrimination: analytics.UpperLower | None
    point_biserial: float | None
    mistakes: list[MistakeCount]

    @property
    def title(self) -> str:
        return type_title(self.slot.exercise_type)


@dataclass(frozen=True)
class AssignmentStats:
    assignment: Assignment
    students: int  # students with a graded submission in any slot: N of the indices
    slots: list[SlotStats]


@dataclass
class _Student:
    """One student's marks in an assignment, by slot id."""

    best: dict[int, float] = field(default_factory=dict)
    graded: dict[int, int] = field(default_factory=dict)
    solved_attempt: dict[int, int] = field(default_factory=dict)
    seconds_to_solve: dict[int, float] = field(default_factory=dict)


def _students_marks(assignment: Assignment) -> dict[int, _Student]:
    """The assignment's marks (one row per student and slot), by student."""
    rows = db.session.execute(
        select(
            Mark.user_id, Mark.slot_id, Mark.graded, Mark.best_score, Mark.solved_attempt,
            Mark.solved_at, Mark.first_view_at,
        )
        .join(Enrollment, _enrolled(assignment.course_id, Mark.user_id))
        .where(Mark.assignment_id == assignment.id)
    )
    students: dict[int, _Student] = defaultdict(_Student)
    for user_id, slot_id, graded, best, attempt, solved_at, viewed in rows:
        s = students[user_id]
        s.best[slot_id], s.graded[slot_id] = best, graded
        if attempt is not None and solved_at is not None:
            s.solved_attempt[slot_id] = attempt
            s.seconds_to_solve[slot_id] = max(0.0, (solved_at - viewed).total_seconds())
    return students


def slot_mistakes(assignment: Assignment) -> dict[int, dict[str, int]]:
    """Per slot id: each mistake's number of students (SQL: one row per slot and tag)."""
    rows = db.session.execute(
        select(MistakeMark.slot_id, MistakeMark.tag, func.count())
        .join(Enrollment, _enrolled(assignment.course_id, MistakeMark.user_id))
        .where(MistakeMark.assignment_id == assignment.id)
        .group_by(MistakeMark.slot_id, MistakeMark.tag)
    )
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for slot_id, tag, n in rows:
        counts[slot_id][tag] = n
    return counts


def assignment_stats(assignment: Assignment) -> AssignmentStats:
    """Per slot: attempted, mean best score, solved, attempts to solve, median time to
    solve, the discrimination indices against the assignment total, the mistakes made."""
    students = _students_marks(assignment)
    mistakes = slot_mistakes(assignment)
    points = {sl.id: sl.points for sl in assignment.slots}
    totals = {
        uid: sum(points.get(slot_id, 0.0) * best for slot_id, best in s.best.items())
        for uid, s in students.items()
    }
    slots = []
    for sl in assignment.slots:
        tried = [s for s in students.values() if sl.id in s.best]
        best = [s.best[sl.id] for s in tried]
        solved = [s for s in tried if sl.id in s.solved_attempt]
        # Every student of the assignment is ranked; one who never tried the slot scores 0.
        scored = [analytics.Scored(uid, totals[uid], s.best.get(sl.id, 0.0))
                  for uid, s in students.items()]
        slots.append(SlotStats(
            slot=sl,
            students=len(tried),
            submissions=sum(s.graded[sl.id] for s in tried),
            mean_best_score=analytics.mean(best),
            solved=len(solved),
            solved_fraction=analytics.fraction(len(solved), len(tried)),
            attempts_to_solve=analytics.distribution(s.solved_attempt[sl.id] for s in solved),
            median_seconds_to_solve=analytics.median(s.seconds_to_solve[sl.id] for s in solved),
            discrimination=analytics.upper_lower(scored) if tried else None,
            point_biserial=analytics.point_biserial(scored) if tried else None,
            mistakes=_by_count(mistakes.get(sl.id, {})),
        ))
    return AssignmentStats(assignment, len(students), slots)


# --- the course ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AssignmentSummary:
    assignment: Assignment
    points: float
    students: int  # students with a graded submission
    mean_points: float | None  # mean earned (after the late policy) over those students


@dataclass(frozen=True)
class RosterSummary:
    students: int
    tas: int
    instructors: int
    sections: list[tuple[str, int]]  # (section, students); "" is no section


@dataclass(frozen=True)
class Overview:
    assignments: list[AssignmentSummary]
    roster: RosterSummary
    top_mistakes: list[MistakeCount]


def assignment_means(course: Course) -> dict[int, tuple[int, float]]:
    """Per assignment id: (students with a mark, mean points earned), in SQL."""
    ids = [a.id for a in course.assignments]
    earned = (
        select(
            Mark.assignment_id.label("assignment_id"),
            func.sum(Mark.credit * Slot.points).label("points"),
        )
        .join(Slot, Slot.id == Mark.slot_id)
        .join(Enrollment, _enrolled(course.id, Mark.user_id))
        .where(Mark.assignment_id.in_(ids))
        .group_by(Mark.assignment_id, Mark.user_id)
        .subquery()
    )
    rows = db.session.execute(
        select(earned.c.assignment_id, func.count(), func.avg(earned.c.points))
        .group_by(earned.c.assignment_id)
    )
    return {aid: (n, float(avg)) for aid, n, avg in rows}


def roster_summary(course_id: int) -> RosterSummary:
    roles: dict[CourseRole, int] = dict(db.session.execute(
        select(Enrollment.role, func.count())
        .where(Enrollment.course_id == course_id)
        .group_by(Enrollment.role)
    ).all())
    sections = db.session.execute(
        select(Enrollment.section, func.count())
        .where(Enrollment.course_id == course_id, Enrollment.role == CourseRole.student)
        .group_by(Enrollment.section)
        .order_by(Enrollment.section)
    )
    return RosterSummary(
        students=roles.get(CourseRole.student, 0),
        tas=roles.get(CourseRole.ta, 0),
        instructors=roles.get(CourseRole.instructor, 0),
        sections=[(name, n) for name, n in sections],
    )


@dataclass(frozen=True)
class CourseMistake:
    """A mistake across the course: students who made it, in all and per assignment id."""

    mistake: MistakeCount
    per_assignment: dict[int, int]


def _course_students(course: Course) -> Any:
    return select(Enrollment.user_id).where(
        Enrollment.course_id == course.id, Enrollment.role == CourseRole.student
    )


def _course_mistake_marks(course: Course) -> list[ColumnElement[bool]]:
    return [
        MistakeMark.assignment_id.in_([a.id for a in course.assignments]),
        MistakeMark.user_id.in_(_course_students(course)),
    ]


def mistake_students(course: Course) -> list[MistakeCount]:
    """Each mistake made in the course and the students who made it, most first. The
    (mistake, student) pairs are few (students × mistakes): grouped in memory, then counted."""
    pairs = (
        select(MistakeMark.tag, MistakeMark.user_id)
        .where(*_course_mistake_marks(course))
        .group_by(MistakeMark.tag, MistakeMark.user_id)
        .subquery()
    )
    query = select(pairs.c.tag, func.count()).group_by(pairs.c.tag)
    return _by_count(dict(db.session.execute(query).all()))


def course_mistakes(course: Course) -> list[CourseMistake]:
    """Every mistake made in the course, most students first, with the students per
    assignment (SQL aggregates). The (assignment, mistake, student) triples are many; on
    PostgreSQL the index on exactly those columns hands them over in order, counted as
    they stream, with no sort or hash table to spill."""
    per: dict[str, dict[int, int]] = defaultdict(dict)
    split = (
        select(MistakeMark.assignment_id, MistakeMark.tag,
               func.count(distinct(MistakeMark.user_id)))
        .where(*_course_mistake_marks(course))
        .group_by(MistakeMark.assignment_id, MistakeMark.tag)
    )
    for aid, tag, n in db.session.execute(split):
        per[tag][aid] = n
    return [CourseMistake(m, per[m.tag]) for m in mistake_students(course)]


def overview(course: Course) -> Overview:
    means = assignment_means(course)
    return Overview(
        assignments=[
            AssignmentSummary(
                a, sum(sl.points for sl in a.slots), *means.get(a.id, (0, None))
            )
            for a in course.assignments
        ],
        roster=roster_summary(course.id),
        top_mistakes=mistake_students(course)[:TOP_MISTAKES],
    )


# --- one student ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StudentMistake:
    """A mistake one student made: how many of their submissions made it, and where."""

    mistake: MistakeCount  # students: 1
    times: int
    slots: list[tuple[Assignment, Slot]]


@dataclass(frozen=True)
class StudentSlot:
    slot: Slot
    mark: Mark | None
    submissions: list[Submission]  # by attempt


@dataclass(frozen=True)
class StudentAssignment:
    assignment: Assignment
    points: float
    earned: float
    slots: list[StudentSlot]


@dataclass(frozen=True)
class StudentReport:
    user: User
    enrollment: Enrollment
    assignments: list[StudentAssignment]
    mistakes: list[StudentMistake]


def member(course_id: int, user_id: int) -> Enrollment | None:
    """The user's enrolment in the course (any role), or None."""
    return db.session.scalar(
        select(Enrollment)
        .options(selectinload(Enrollment.user))
        .where(Enrollment.course_id == course_id, Enrollment.user_id == user_id)
    )


def student_report(enrollment: Enrollment, assignments: list[Assignment]) -> StudentReport:
    """The student's marks and submissions in these assignments, and the mistakes they
    made most (counted in submissions), with the slots they made them in."""
    user_id = enrollment.user_id
    ids = [a.id for a in assignments]
    marks = {
        m.slot_id: m for m in db.session.scalars(
            select(Mark).where(Mark.user_id == user_id, Mark.assignment_id.in_(ids))
        )
    }
    subs: dict[int, list[Submission]] = defaultdict(list)
    for sub, slot_id in db.session.execute(
        select(Submission, Problem.slot_id)
        .join(Problem, Problem.id == Submission.problem_id)
        .join(Slot, Slot.id == Problem.slot_id)
        .options(selectinload(Submission.result), selectinload(Submission.problem))
        .where(Submission.user_id == user_id, Slot.assignment_id.in_(ids))
        .order_by(Submission.attempt)
    ):
        if slot_id is not None:
            subs[slot_id].append(sub)
    report = [
        StudentAssignment(
            a,
            points=sum(sl.points for sl in a.slots),
            earned=sum(sl.points * marks[sl.id].credit for sl in a.slots if sl.id in marks),
            slots=[StudentSlot(sl, marks.get(sl.id), subs[sl.id]) for sl in a.slots],
        )
        for a in assignments
    ]
    return StudentReport(enrollment.user, enrollment, report, _student_mistakes(user_id, ids))


def _student_mistakes(user_id: int, assignment_ids: list[int]) -> list[StudentMistake]:
    rows = db.session.execute(
        select(MistakeMark.tag, MistakeMark.times, Slot)
        .join(Slot, Slot.id == MistakeMark.slot_id)
        .options(selectinload(Slot.assignment))
        .where(MistakeMark.user_id == user_id, MistakeMark.assignment_id.in_(assignment_ids))
        .order_by(MistakeMark.assignment_id, Slot.position)
    )
    times: dict[str, int] = defaultdict(int)
    where: dict[str, list[tuple[Assignment, Slot]]] = defaultdict(list)
    for tag, n, slot in rows:
        times[tag] += n
        where[tag].append((slot.assignment, slot))
    mistakes = [StudentMistake(MistakeCount(tag, 1), n, where[tag]) for tag, n in times.items()]
    return sorted(mistakes, key=lambda m: (-m.times, m.mistake.name))


def seconds_text(seconds: float | None) -> str:
    """A duration for a page: '45 s', '1 min 30 s', '3 h 5 min', '2 d 4 h'; '–' for none."""
    if seconds is None:
        return "–"
    whole = round(seconds)
    for big, small, size in (("d", "h", 86_400), ("h", "min", 3600), ("min", "s", 60)):
        if whole >= size:
            step = size // (24 if big == "d" else 60)
            count, rest = divmod(whole, size)
            rest //= step
            return f"{count} {big} {rest} {small}" if rest else f"{count} {big}"
    return f"{whole} s"
