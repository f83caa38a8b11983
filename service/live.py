"""The live view of an assignment for a lecture: the last minutes of its submissions.

Read by the page, its refreshing fragment and its JSON twin alike. Every statement
reaches the window through the assignment's slots and problems (the unique indexes
``(slot_id, owner_id)`` of problems and ``(problem_id, attempt)`` of submissions) and
filters ``received_at`` there; an index on submissions ``(problem_id, received_at)`` would
let PostgreSQL skip the older rows of each problem too.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select

import exercises as ex

from .db import db
from .models import CURRENT_RESULT, Problem, Result, Slot, Status, Submission, User, utcnow

WINDOWS = (5, 15, 60)  # minutes one may choose
DEFAULT_WINDOW = 15
LATEST = 20  # submissions listed
TOP_MISTAKES = 8
MISTAKE_ROWS = 5_000  # the newest graded submissions of the window whose mistakes count


@dataclass(frozen=True)
class MistakeCount:
    """How many students made a named mistake in the window (each counted once)."""

    tag: str
    name: str
    students: int


@dataclass(frozen=True)
class Latest:
    """One recent submission, as the live table lists it."""

    submission_id: uuid.UUID
    student: str
    position: int
    exercise_type: str
    received_at: datetime
    status: str
    score: float | None
    mistakes: list[str]  # names


@dataclass(frozen=True)
class Live:
    minutes: int
    since: datetime
    submitted: int
    graded: int
    right: int
    mistakes: list[MistakeCount]
    latest: list[Latest]

    def to_json(self) -> dict[str, Any]:
        return {
            "minutes": self.minutes, "since": self.since, "submitted": self.submitted,
            "graded": self.graded, "right": self.right,
            "mistakes": [vars(m) for m in self.mistakes],
            "latest": [vars(s) for s in self.latest],
        }


def window(minutes: object) -> int:
    """The window asked for if it is one on offer, else the default."""
    try:
        asked = int(str(minutes))
    except ValueError:
        return DEFAULT_WINDOW
    return asked if asked in WINDOWS else DEFAULT_WINDOW


def live(assignment_id: int, minutes: int, now: datetime | None = None) -> Live:
    """The assignment's submissions received in the last ``minutes``."""
    since = (now or utcnow()) - timedelta(minutes=minutes)
    in_window = (Slot.assignment_id == assignment_id, Submission.received_at >= since)
    counts = db.session.execute(
        select(func.count(Submission.id), func.count(Result.id),
               func.coalesce(func.sum(case((Result.score >= 1, 1), else_=0)), 0))
        .select_from(Submission)
        .join(Problem, Problem.id == Submission.problem_id)
        .join(Slot, Slot.id == Problem.slot_id)
        .outerjoin(Result, CURRENT_RESULT)
        .where(*in_window)
    ).one()
    return Live(minutes, since, int(counts[0]), int(counts[1]), int(counts[2]),
                _mistakes(in_window), _latest(in_window))


def _mistakes(in_window: tuple[Any, ...]) -> list[MistakeCount]:
    """The named mistakes of the window, by students who made them, most first."""
    rows = db.session.execute(
        select(Submission.user_id, Result.parts)
        .join(Result, CURRENT_RESULT)
        .join(Problem, Problem.id == Submission.problem_id)
        .join(Slot, Slot.id == Problem.slot_id)
        .where(*in_window, Result.score < 1)
        .order_by(Submission.received_at.desc())
        .limit(MISTAKE_ROWS)
    )
    students: dict[str, set[int]] = defaultdict(set)
    for user_id, parts in rows:
        for tag in _tags(parts):
            students[tag].add(user_id)
    ranked = sorted(students.items(), key=lambda item: (-len(item[1]), item[0]))
    return [MistakeCount(tag, _name(tag), len(who)) for tag, who in ranked[:TOP_MISTAKES]]


def _latest(in_window: tuple[Any, ...]) -> list[Latest]:
    rows = db.session.execute(
        select(Submission.id, Submission.received_at, Submission.status, Result.score,
               Result.parts, Slot.position, Slot.exercise_type, User.name, User.email)
        .join(Problem, Problem.id == Submission.problem_id)
        .join(Slot, Slot.id == Problem.slot_id)
        .join(User, User.id == Submission.user_id)
        .outerjoin(Result, CURRENT_RESULT)
        .where(*in_window)
        .order_by(Submission.received_at.desc(), Submission.id)
        .limit(LATEST)
    )
    return [
        Latest(r.id, r.name or r.email, r.position, r.exercise_type, r.received_at,
               Status(r.status).value, r.score, [_name(t) for t in _tags(r.parts or {})])
        for r in rows
    ]


def _tags(parts: dict[str, Any]) -> list[str]:
    """The mistakes a result names, each once, in part order."""
    return list(dict.fromkeys(t for p in parts.values() for t in p.get("misconceptions", ())))


def _name(tag: str) -> str:
    mistake = ex.MISTAKES.get(tag)
    return mistake.name if mistake is not None else tag
