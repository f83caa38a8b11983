"""An assignment's policy as its staff set it: settings checked field by field, create,
edit, publish, duplicate, per-student overrides; and what the policy means for one student
(can they see it, when is it due for them, what does late earn).

The pages and API v1 both come here. Marks hold the late-adjusted credit
(``service.marks``), so every change of a due date, the late policy or an override's due
date rebuilds them (and records a push of each total that moved to the LMS, for a
linked assignment); a change of attempts reaches every problem already drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update

import exercises as ex

from . import identifiers, marks
from .db import db
from .lms import grades as lms_grades
from .models import Assignment, Course, LatePolicy, Mode, Override, Problem, Slot, User, utcnow

MAX_TITLE = 200
MAX_ATTEMPTS = 100
MAX_POINTS = 1000.0
MAX_SLOTS = 50
MAX_REASON = 500


class SettingsError(ValueError):
    """Settings that cannot be taken: what is wrong with each field, by field name."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class SlotSettings:
    exercise_type: str
    difficulty: int = 1
    points: float = 1.0
    network: dict[str, Any] | None = None


@dataclass(frozen=True)
class Settings:
    """What an instructor sets on an assignment (its slots apart); penalty is a fraction."""

    title: str
    mode: Mode = Mode.homework
    attempts_allowed: int = 3
    opens_at: datetime | None = None
    due_at: datetime | None = None
    late_policy: LatePolicy = LatePolicy.closed
    late_penalty: float = 0.0


@dataclass
class FieldErrors:
    """Collects field errors while settings are read."""

    errors: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def raise_any(self) -> None:
        if self.errors:
            raise SettingsError(self.errors)


def check(settings: Settings, slots: list[SlotSettings] | None,
          found: FieldErrors | None = None) -> None:
    """Raise SettingsError naming each bad field (``slots`` None: slots not being set)."""
    found = found or FieldErrors()
    try:
        identifiers.clean("title", settings.title, max_length=MAX_TITLE)
    except identifiers.IdentifierError as exc:
        found.add("title", exc.reason)
    if not 1 <= settings.attempts_allowed <= MAX_ATTEMPTS:
        found.add("attempts_allowed", f"must be a whole number from 1 to {MAX_ATTEMPTS}")
    if (settings.opens_at is not None and settings.due_at is not None
            and settings.due_at <= settings.opens_at):
        found.add("due_at", "the due date must come after the opening date")
    if not 0.0 <= settings.late_penalty <= 1.0:
        found.add("late_penalty", "the penalty per day must be from 0 to 100 %")
    if slots is not None:
        check_slots(slots, found)
    found.raise_any()


def check_slots(slots: list[SlotSettings], found: FieldErrors) -> None:
    if not slots:
        found.add("slots", "an assignment needs at least one slot (an exercise type)")
    if len(slots) > MAX_SLOTS:
        found.add("slots", f"at most {MAX_SLOTS} slots")
    for i, slot in enumerate(slots, start=1):
        try:
            t = ex.get_type(slot.exercise_type)
        except ex.UnknownExerciseType:
            found.add(f"slot {i} exercise type", f"unknown exercise type {slot.exercise_type!r}")
            continue
        if slot.difficulty not in ex.DIFFICULTIES:
            found.add(f"slot {i} difficulty",
                      f"{t.title} has difficulties {', '.join(map(str, ex.DIFFICULTIES))}")
        if not 0.0 <= slot.points <= MAX_POINTS:
            found.add(f"slot {i} points", f"must be from 0 to {MAX_POINTS:g}")


def create(course: Course, settings: Settings, slots: list[SlotSettings], *,
           published: bool) -> Assignment:
    """A new assignment of ``slots``, checked and committed."""
    check(settings, slots)
    assignment = Assignment(
        course=course, published=published,
        slots=[Slot(position=i, exercise_type=s.exercise_type, difficulty=s.difficulty,
                    points=s.points, network=s.network)
               for i, s in enumerate(slots, start=1)],
        **_columns(settings),
    )
    db.session.add(assignment)
    db.session.commit()
    return assignment


def settings_of(assignment: Assignment) -> Settings:
    return Settings(
        title=assignment.title, mode=assignment.mode,
        attempts_allowed=assignment.attempts_allowed, opens_at=assignment.opens_at,
        due_at=assignment.due_at, late_policy=assignment.late_policy,
        late_penalty=assignment.late_penalty,
    )


def update_settings(assignment: Assignment, settings: Settings) -> None:
    """Apply new settings (slots unchanged) and commit; marks are rebuilt when what late
    earns changed, and drawn problems get the new number of attempts."""
    check(settings, None)
    before = settings_of(assignment)
    for name, value in _columns(settings).items():
        setattr(assignment, name, value)
    db.session.flush()
    if before.attempts_allowed != settings.attempts_allowed:
        sync_attempts(assignment)
    if (before.due_at, before.late_policy, before.late_penalty) != (
            settings.due_at, settings.late_policy, settings.late_penalty):
        marks.rebuild(db.session, assignment.id)
        lms_grades.record(db.session, assignment.id)  # totals may have moved either way
    db.session.commit()


def _columns(settings: Settings) -> dict[str, Any]:
    return {
        "title": identifiers.clean("title", settings.title, max_length=MAX_TITLE),
        "mode": settings.mode, "attempts_allowed": settings.attempts_allowed,
        "opens_at": settings.opens_at, "due_at": settings.due_at,
        "late_policy": settings.late_policy, "late_penalty": settings.late_penalty,
    }


def publish(assignment: Assignment, published: bool = True) -> None:
    assignment.published = published
    db.session.commit()


def duplicate(assignment: Assignment) -> Assignment:
    """A copy with the same settings and slots (networks included), unpublished, titled
    "Copy of …"; overrides stay with the original."""
    title = f"Copy of {assignment.title}"[:MAX_TITLE]
    copy = Assignment(
        course_id=assignment.course_id, published=False,
        slots=[Slot(position=s.position, exercise_type=s.exercise_type,
                    difficulty=s.difficulty, points=s.points, network=s.network)
               for s in assignment.slots],
        **(_columns(settings_of(assignment)) | {"title": title}),
    )
    db.session.add(copy)
    db.session.commit()
    return copy


# --- overrides ---------------------------------------------------------------------------


def overrides(assignment: Assignment) -> list[Override]:
    """The assignment's overrides, by student email."""
    return list(db.session.scalars(
        select(Override).join(User, User.id == Override.user_id)
        .where(Override.assignment_id == assignment.id).order_by(User.email)
    ))


def override_of(assignment_id: int, user_id: int) -> Override | None:
    return db.session.scalar(select(Override).where(
        Override.assignment_id == assignment_id, Override.user_id == user_id))


def grant(assignment: Assignment, user_id: int, *, due_at: datetime | None,
          extra_attempts: int, reason: str, granted_by: int) -> Override:
    """Set one student's override (replacing any), with who granted it, when and why;
    their drawn problems get the extra attempts and their marks are rebuilt if the due
    date moved. Raises SettingsError."""
    found = FieldErrors()
    if not 0 <= extra_attempts <= MAX_ATTEMPTS:
        found.add("extra_attempts", f"must be a whole number from 0 to {MAX_ATTEMPTS}")
    if len(reason) > MAX_REASON:
        found.add("reason", f"at most {MAX_REASON} characters")
    if due_at is None and extra_attempts == 0:
        found.add("due_at", "give an extended due date or extra attempts (or both)")
    found.raise_any()
    own = override_of(assignment.id, user_id)
    old_due = own.due_at if own is not None else None
    if own is None:
        own = Override(assignment_id=assignment.id, user_id=user_id)
        db.session.add(own)
    own.due_at, own.extra_attempts, own.reason = due_at, extra_attempts, reason.strip()
    own.granted_by, own.granted_at = granted_by, utcnow()
    db.session.flush()
    sync_attempts(assignment, user_id)
    if old_due != due_at:
        marks.rebuild(db.session, assignment.id, user_id)
        lms_grades.record(db.session, assignment.id, user_id)
    db.session.commit()
    return own


def revoke(assignment: Assignment, user_id: int) -> bool:
    """Remove a student's override; False if there was none."""
    own = override_of(assignment.id, user_id)
    if own is None:
        return False
    moved = own.due_at is not None
    db.session.execute(delete(Override).where(Override.id == own.id))
    db.session.flush()
    sync_attempts(assignment, user_id)
    if moved:
        marks.rebuild(db.session, assignment.id, user_id)
        lms_grades.record(db.session, assignment.id, user_id)
    db.session.commit()
    return True


def sync_attempts(assignment: Assignment, user_id: int | None = None) -> None:
    """Set the attempts of the assignment's drawn problems (one student's, if given) to the
    assignment's plus the student's extra ones; the caller commits."""
    extra = (
        select(Override.extra_attempts)
        .where(Override.assignment_id == assignment.id, Override.user_id == Problem.owner_id)
        .scalar_subquery()
    )
    stmt = (
        update(Problem)
        .where(Problem.slot_id.in_(select(Slot.id).where(Slot.assignment_id == assignment.id)))
        .values(attempts_allowed=assignment.attempts_allowed + func.coalesce(extra, 0))
        .execution_options(synchronize_session=False)
    )
    if user_id is not None:
        stmt = stmt.where(Problem.owner_id == user_id)
    db.session.execute(stmt)


# --- what the policy means for one student ------------------------------------------------


def due_for(assignment: Assignment, user_id: int) -> datetime | None:
    """The student's due date: their override's, else the assignment's."""
    own = override_of(assignment.id, user_id)
    return own.due_at if own is not None and own.due_at is not None else assignment.due_at


def late_rule(assignment: Assignment) -> str:
    """The late policy in words."""
    if assignment.late_policy == LatePolicy.no_credit:
        return "Late submissions are accepted and graded, but earn no credit."
    if assignment.late_policy == LatePolicy.penalty:
        return (f"Late submissions lose {assignment.late_penalty * 100:g} % of their score "
                "per started day late.")
    return "Late submissions are not accepted."
