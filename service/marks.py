"""Marks: each student's standing per assignment slot, kept as results are written.

Grading calls ``record`` in the transaction that writes the results, so a mark counts a
submission exactly when its result exists. Every update is a commutative upsert (counts
add, bests take the maximum, firsts the minimum): workers finishing in any order, at the
same time, agree. A change of policy (late rules, a due date, an override) calls
``rebuild`` for the assignment, which replays its results through the same code.

Gradebooks and statistics read these rows, one per student and slot, never every
submission.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from .models import (
    CURRENT_RESULT,
    Assignment,
    LatePolicy,
    Mark,
    MistakeMark,
    Override,
    Problem,
    Result,
    Slot,
    Submission,
)

DAY_SECONDS = 86_400

Db = Session | Connection


def credit(score: float, received_at: datetime, due_at: datetime | None,
           policy: LatePolicy, penalty: float) -> float:
    """What a score earns under the late policy: in full until the due date; after it,
    nothing (``closed``, ``no_credit``) or ``penalty`` less per started day, never below 0."""
    if due_at is None or received_at <= due_at:
        return score
    if policy != LatePolicy.penalty:
        return 0.0
    days = math.ceil((received_at - due_at).total_seconds() / DAY_SECONDS)
    return max(0.0, score * (1.0 - penalty * days))


@dataclass(frozen=True)
class Graded:
    """One written result, with what its marks need."""

    user_id: int
    slot_id: int
    assignment_id: int
    attempt: int
    received_at: datetime
    first_view_at: datetime
    score: float
    credit: float
    mistakes: frozenset[str]


_GRADED = (
    select(
        Submission.user_id, Problem.slot_id, Slot.assignment_id, Submission.attempt,
        Submission.received_at, Problem.created_at, Result.score, Result.parts,
        Assignment.due_at, Override.due_at, Assignment.late_policy, Assignment.late_penalty,
    )
    .join(Result, CURRENT_RESULT)
    .join(Problem, Problem.id == Submission.problem_id)
    .join(Slot, Slot.id == Problem.slot_id)
    .join(Assignment, Assignment.id == Slot.assignment_id)
    .outerjoin(
        Override,
        (Override.assignment_id == Assignment.id) & (Override.user_id == Submission.user_id),
    )
)


def _graded(rows: Iterable[Any]) -> list[Graded]:
    out = []
    for user, slot, assignment, attempt, received, viewed, score, parts, due, own_due, \
            policy, penalty in rows:
        out.append(Graded(
            user, slot, assignment, attempt, received, viewed, score,
            credit(score, received, own_due or due, policy, penalty),
            frozenset(t for part in parts.values() for t in part.get("misconceptions", ())),
        ))
    return out


def record(session: Db, submission_ids: Sequence[uuid.UUID]) -> None:
    """Fold these submissions' results into their marks (practice problems have none).
    Runs in the caller's transaction, which also wrote the results."""
    if submission_ids:
        _apply(session, _graded(session.execute(
            _GRADED.where(Submission.id.in_(bindparam("ids", expanding=True))),
            {"ids": list(submission_ids)},
        )))


def rebuild(session: Db, assignment_id: int, user_id: int | None = None) -> None:
    """Recompute the assignment's marks (one student's, if given) from its results, as
    after a change of policy; the caller commits."""
    for table in (Mark, MistakeMark):
        wipe = delete(table).where(table.assignment_id == assignment_id)
        if user_id is not None:
            wipe = wipe.where(table.user_id == user_id)
        session.execute(wipe)
    replay = _GRADED.where(Slot.assignment_id == assignment_id)
    if user_id is not None:
        replay = replay.where(Submission.user_id == user_id)
    batch: list[Any] = []
    for row in session.execute(replay.execution_options(yield_per=5000)):
        batch.append(row)
        if len(batch) == 5000:
            _apply(session, _graded(batch))
            batch = []
    _apply(session, _graded(batch))


def _apply(session: Db, graded: list[Graded]) -> None:
    if not graded:
        return
    bind = session if isinstance(session, Connection) else session.get_bind()
    insert = postgresql.insert if bind.dialect.name == "postgresql" else sqlite.insert
    marks, mistakes = _fold(graded)

    stmt = insert(Mark)
    new = stmt.excluded
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[Mark.user_id, Mark.slot_id],
            set_={
                "graded": Mark.graded + new.graded,
                "best_score": _greatest(insert, Mark.best_score, new.best_score),
                "credit": _greatest(insert, Mark.credit, new.credit),
                # The earliest full-marks attempt wins; a NULL on either side defers to the other.
                "solved_attempt": _least(insert, Mark.solved_attempt, new.solved_attempt),
                "solved_at": _least(insert, Mark.solved_at, new.solved_at),
                "last_at": _greatest(insert, Mark.last_at, new.last_at),
            },
        ),
        marks,
    )
    if mistakes:
        stmt = insert(MistakeMark)
        new = stmt.excluded
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=[MistakeMark.user_id, MistakeMark.slot_id, MistakeMark.tag],
                set_={
                    "times": MistakeMark.times + new.times,
                    "first_at": _least(insert, MistakeMark.first_at, new.first_at),
                    "last_at": _greatest(insert, MistakeMark.last_at, new.last_at),
                },
            ),
            mistakes,
        )


def _least(insert: Any, old: Any, new: Any) -> Any:
    pick = func.min if insert is sqlite.insert else func.least
    return func.coalesce(pick(old, new), old, new)


def _greatest(insert: Any, old: Any, new: Any) -> Any:
    pick = func.max if insert is sqlite.insert else func.greatest
    return func.coalesce(pick(old, new), old, new)


def _fold(graded: list[Graded]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One row per (student, slot) and per (student, slot, mistake): a batch may hold
    several attempts of one student, and one upsert may touch a row once only."""
    marks: dict[tuple[int, int], dict[str, Any]] = {}
    mistakes: dict[tuple[int, int, str], dict[str, Any]] = {}
    for g in graded:
        solved = g.score >= 1.0
        m = marks.get((g.user_id, g.slot_id))
        if m is None:
            m = marks[(g.user_id, g.slot_id)] = {
                "user_id": g.user_id, "slot_id": g.slot_id, "assignment_id": g.assignment_id,
                "graded": 0, "best_score": 0.0, "credit": 0.0, "solved_attempt": None,
                "solved_at": None, "first_view_at": g.first_view_at, "last_at": g.received_at,
            }
        m["graded"] += 1
        m["best_score"] = max(m["best_score"], g.score)
        m["credit"] = max(m["credit"], g.credit)
        m["last_at"] = max(m["last_at"], g.received_at)
        if solved and (m["solved_attempt"] is None or g.attempt < m["solved_attempt"]):
            m["solved_attempt"], m["solved_at"] = g.attempt, g.received_at
        for tag in g.mistakes:
            k = mistakes.get((g.user_id, g.slot_id, tag))
            if k is None:
                k = mistakes[(g.user_id, g.slot_id, tag)] = {
                    "user_id": g.user_id, "slot_id": g.slot_id, "tag": tag,
                    "assignment_id": g.assignment_id, "times": 0,
                    "first_at": g.received_at, "last_at": g.received_at,
                }
            k["times"] += 1
            k["first_at"] = min(k["first_at"], g.received_at)
            k["last_at"] = max(k["last_at"], g.received_at)
    return list(marks.values()), list(mistakes.values())
