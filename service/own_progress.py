"""A student's own progress as they may see it now: "My progress" and its API twin.

The model is ``service.learning``'s, folded from the answers whose feedback the student may
see now. An exam shows only its score until the student's own due date
(``service.feedback``); the evidence of its parts waits as long, or the page would name
the very mistakes the exam withholds.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from exercises import learning as model

from . import feedback, learning
from .db import db
from .models import Problem
from .policy import Person


def withheld(user: Person, history: Sequence[learning.Answered], now: datetime
             ) -> set[uuid.UUID]:
    """The submissions of ``history`` whose parts ``user`` may not see yet (an exam's)."""
    graded = {a.problem_id for a in history if a.course_id is not None}
    if not graded:
        return set()  # practice only: nothing is ever withheld
    problems = db.session.scalars(select(Problem).where(Problem.id.in_(graded)))
    hidden = {p.id for p in problems if feedback.score_only(user, p, now)}
    return {a.submission_id for a in history if a.problem_id in hidden}


def own_progress(user: Person, now: datetime,
                 p: model.Parameters = model.DEFAULT_PARAMETERS) -> learning.Progress:
    """The user's progress from every graded answer whose feedback they may see now."""
    full = learning.progress(user.id, p)
    hidden = withheld(user, full.history, now)
    if not hidden:
        return full
    # The fold of service.learning over the answers left (its own is private to it).
    history = [a for a in full.history if a.submission_id not in hidden]
    pairs = [(a.submission_id, a.evidence) for a in history]
    records = {tag: r for tag in model.MISCONCEPTIONS
               if (r := model.record(tag, pairs)) is not None}
    return learning.Progress(model.StudentModel.fold((a.evidence for a in history), p),
                             history, records)
