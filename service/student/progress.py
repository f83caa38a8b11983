"""My progress: what the learning model says about the signed-in student (mastery per step
of the chain rule, belief per misconception with the answers behind it), and "Practise what
I need", which stores the problem that tells most and sends the student to it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from flask import redirect, render_template, url_for
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.wrappers import Response

import exercises as ex
from exercises import learning as model

from .. import learning, mathml
from ..db import db
from ..learning import own_progress
from ..models import Submission, utcnow
from .base import bp, login_required, signed_in

# The page's one sentence on how "Practise what I need" picks (exercises.learning.choose).
CHOICE_RULE = (
    "It picks a practice problem you have not seen, the one whose answer would tell the "
    "most about the mistakes you probably make and the steps you have not mastered yet; "
    "while a mistake is likely, one where that mistake would show."
)


@dataclass(frozen=True)
class SkillRow:
    """One step of the chain rule: mastery (0..1) and the answers it was estimated from."""

    id: str
    name: str
    mastery: float
    answers: int
    mastered: bool


@dataclass(frozen=True)
class AnswerLink:
    """An answer behind a misconception's record, linked to its submission's page."""

    submission_id: uuid.UUID
    title: str
    attempt: int
    received_at: datetime


@dataclass(frozen=True)
class MisconceptionRow:
    """One misconception: the belief that the student holds it, in which of four states
    (``likely``, ``possible``, ``unlikely``, ``untested``), its explanation, and the
    record of recent answers where it could show, with links to the ones that named it."""

    tag: str
    name: str
    explanation: Markup
    belief: float
    state: str
    sentence: str | None
    named: list[AnswerLink]


STATES = {"likely": "Likely", "possible": "Possible", "unlikely": "Unlikely",
          "untested": "Not tested yet"}


@bp.app_template_filter("chance")
def chance(p: float) -> str:
    """A probability as a whole percentage; never 0% or 100%, which the model never is."""
    if p < 0.005:
        return "under 1%"
    if p > 0.995:
        return "over 99%"
    return f"{round(p * 100)}%"


def _state(m: model.StudentModel, tag: str) -> str:
    belief = m.beliefs[tag]
    if belief >= model.LIKELY:
        return "likely"
    if not m.tested.get(tag):
        return "untested"
    return "possible" if belief >= m.parameters.belief_prior else "unlikely"


def _links(progress: learning.Progress) -> dict[uuid.UUID, AnswerLink]:
    """Every submission a record names, as a link: its exercise, attempt and time."""
    named = {sid for r in progress.records.values() for sid in r.named}
    if not named:
        return {}
    attempts: dict[uuid.UUID, int] = dict(db.session.execute(
        select(Submission.id, Submission.attempt).where(Submission.id.in_(named))).all())
    return {a.submission_id: AnswerLink(a.submission_id, ex.get_type(a.evidence.type).title,
                                        attempts[a.submission_id], a.received_at)
            for a in progress.history if a.submission_id in named}


def skill_rows(progress: learning.Progress) -> list[SkillRow]:
    m = progress.model
    return [SkillRow(s.id, s.name, m.mastery[s.id], m.opportunities.get(s.id, 0),
                     m.mastery[s.id] >= model.MASTERED) for s in model.SKILLS]


def misconception_rows(progress: learning.Progress) -> list[MisconceptionRow]:
    """Every misconception tracked: the likely ones first, likeliest first; then the rest
    by belief, the untested last (their belief is still the prior)."""
    m, links = progress.model, _links(progress)
    rows = []
    for tag in model.MISCONCEPTIONS:
        mistake, record = ex.MISTAKES[tag], progress.records.get(tag)
        rows.append(MisconceptionRow(
            tag, mistake.name, mathml.text(mistake.explanation), m.beliefs[tag], _state(m, tag),
            record.sentence() if record is not None else None,
            [links[sid] for sid in record.named] if record is not None else []))
    order = {"likely": 0, "possible": 1, "unlikely": 1, "untested": 2}
    return sorted(rows, key=lambda r: (order[r.state], -r.belief))


@bp.get("/progress")
@login_required
def progress() -> str:
    """My progress: mastery per skill, what I probably get wrong and why the model thinks
    so, and the button to practise what I need. Only ever the signed-in user's own."""
    mine = own_progress(signed_in(), utcnow())
    rows = misconception_rows(mine)
    return render_template(
        "progress.html",
        answered=mine.model.submissions,
        skills=skill_rows(mine),
        likely=[r for r in rows if r.state == "likely"],
        others=[r for r in rows if r.state != "likely"],
        states=STATES,
        mastered=model.MASTERED,
        threshold=model.LIKELY,
        prior=mine.model.parameters.belief_prior,
        choice_rule=CHOICE_RULE,
    )


@bp.post("/progress/practise")
@login_required
def practise() -> Response:
    """"Practise what I need": store the problem ``service.learning.next_practice`` chooses
    and go (303) to its page, the practice address of CONTRACT §8."""
    problem = learning.next_practice(signed_in())
    if problem.seed is None:  # never for practice; the problem's own page then
        return redirect(url_for("student.problem", problem_id=problem.id), 303)
    return redirect(url_for("student.practice", type_id=problem.type, seed=problem.seed,
                            difficulty=problem.difficulty), 303)
