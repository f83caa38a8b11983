"""Each student's learning model, read from the evidence their current results hold.

The model (``exercises.learning``) is a fold over a student's evidence in the order they
answered, so nothing here stores it: grading writes each result's evidence in the same
statement as the result, and a read folds the current results. A regrade or an override
changes which results are current, and the next read follows; a result without evidence
(older ones, regrades, overrides) has it derived from its problem's stored variant.

Who may ask is the caller's business (``policy``), as in ``queries``.
"""

from __future__ import annotations

import secrets
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select

from exercises import learning

from . import feedback, problems
from .db import db
from .models import CURRENT_RESULT, Assignment, Problem, Result, Slot, Submission, utcnow
from .pipeline.store import parsed_variant
from .policy import Person
from .queries import students


@dataclass(frozen=True)
class Answered:
    """One graded submission of the student, with its evidence."""

    submission_id: uuid.UUID
    problem_id: uuid.UUID
    received_at: datetime
    course_id: int | None  # None for practice
    evidence: learning.Evidence


@dataclass(frozen=True)
class Progress:
    """A student's model and the record behind each misconception."""

    model: learning.StudentModel
    history: list[Answered]
    records: dict[str, learning.Record]  # per tag that could show; refs are submission ids

    def to_json(self) -> dict[str, Any]:
        out = self.model.to_json()
        for m in out["misconceptions"]:
            r = self.records.get(m["tag"])
            m["record"] = None if r is None else {
                "sentence": r.sentence(), "skill": r.skill,
                "named": [str(s) for s in r.named], "of": [str(s) for s in r.of]}
        out["parameters"] = self.model.parameters.to_json()
        return out


def _histories(user_ids: Sequence[int]) -> dict[int, list[Answered]]:
    """Each user's graded submissions with their evidence, oldest first."""
    rows = db.session.execute(
        select(Submission.user_id, Submission.id, Submission.problem_id,
               Submission.received_at, Assignment.course_id, Result.id, Result.evidence)
        .join(Result, CURRENT_RESULT)
        .join(Problem, Problem.id == Submission.problem_id)
        .outerjoin(Slot, Slot.id == Problem.slot_id)
        .outerjoin(Assignment, Assignment.id == Slot.assignment_id)
        .where(Submission.user_id.in_(user_ids))
        .order_by(Submission.received_at, Submission.id)
    ).all()
    missing = [r for r in rows if r.evidence is None]
    derived = _derive([r[5] for r in missing]) if missing else {}
    out: dict[int, list[Answered]] = defaultdict(list)
    for user_id, sid, pid, received_at, course_id, result_id, evidence in rows:
        e = (learning.Evidence.from_json(evidence) if evidence is not None
             else derived[result_id])
        out[user_id].append(Answered(sid, pid, received_at, course_id, e))
    return out


def _derive(result_ids: list[int]) -> dict[int, learning.Evidence]:
    """The evidence of results written without it, from their problems' variants."""
    rows = db.session.execute(
        select(Result.id, Result.parts, Problem.id, Problem.variant)
        .join(Submission, Submission.id == Result.submission_id)
        .join(Problem, Problem.id == Submission.problem_id)
        .where(Result.id.in_(result_ids))
    ).all()
    return {rid: learning.observe(parsed_variant(pid, record), parts)
            for rid, parts, pid, record in rows}


def _progress(history: list[Answered], p: learning.Parameters) -> Progress:
    model = learning.StudentModel.fold((a.evidence for a in history), p)
    records = learning.records([(a.submission_id, a.evidence) for a in history])
    return Progress(model, history, {m: records[m] for m in learning.MISCONCEPTIONS
                                     if m in records})


def progress(user_id: int, p: learning.Parameters = learning.DEFAULT_PARAMETERS) -> Progress:
    """The student's model from everything they have had graded (what the staff see)."""
    return _progress(_histories([user_id]).get(user_id, []), p)


def own_progress(user: Person, now: datetime,
                 p: learning.Parameters = learning.DEFAULT_PARAMETERS) -> Progress:
    """The student's model as they may see it now: from every graded answer whose feedback
    they may see. An exam shows only its score until the student's own due date
    (``service.feedback``); its evidence waits as long, or "My progress" (and the problem
    chosen for them) would name the very mistakes the exam withholds."""
    history = _histories([user.id]).get(user.id, [])
    hidden = _withheld(user, history, now)
    return _progress([a for a in history if a.submission_id not in hidden], p)


def _withheld(user: Person, history: Sequence[Answered], now: datetime) -> set[uuid.UUID]:
    """The submissions of ``history`` whose parts ``user`` may not see yet (an exam's)."""
    graded = {a.problem_id for a in history if a.course_id is not None}
    if not graded:
        return set()  # practice only: nothing is ever withheld
    shown = db.session.scalars(select(Problem).where(Problem.id.in_(graded)))
    hidden = {p.id for p in shown if feedback.score_only(user, p, now)}
    return {a.submission_id for a in history if a.problem_id in hidden}


def course_progress(course_id: int, p: learning.Parameters = learning.DEFAULT_PARAMETERS
                    ) -> list[tuple[Any, Progress]]:
    """(student, progress) for every student of the course, in roster order. Each model is
    the student's own, from all their graded work (practice included)."""
    people = list(students(course_id))
    histories = _histories([u.id for u in people]) if people else {}
    return [(u, _progress(histories.get(u.id, []), p)) for u in people]


def seen(user_id: int) -> set[tuple[str, int, int]]:
    """(type, difficulty, seed) of every practice variant the user has been given."""
    rows = db.session.execute(
        select(Problem.type, Problem.difficulty, Problem.seed)
        .where(Problem.owner_id == user_id, Problem.seed.is_not(None))
    ).all()
    return {(t, d, s) for t, d, s in rows if s is not None}


def next_practice(user: Person) -> Problem:
    """"Practise what I need": the practice problem ``exercises.learning.next_problem``
    chooses for this student, stored as their practice problem (never one seen before)."""
    model = own_progress(user, utcnow()).model
    rng = np.random.default_rng(secrets.randbits(64))
    variant = learning.next_problem(model, seen(user.id), rng)
    return problems.practice(user, variant.type, variant.seed, variant.difficulty)


def fit(course_id: int | None = None) -> learning.Fit | None:
    """Knowledge-tracing parameters fitted to the answers of a course's students, or of
    every user with graded work; None where there is no answer to fit."""
    if course_id is not None:
        user_ids = [u.id for u in students(course_id)]
    else:
        user_ids = list(db.session.scalars(select(Submission.user_id).distinct()))
    histories = _histories(user_ids) if user_ids else {}
    data = [seq for history in histories.values()
            for seq in learning.sequences(a.evidence for a in history).values()]
    return learning.fit_knowledge_tracing(data)
