"""Grading policies, accepted answers, regrades and overrides as the staff pages and their
API twins (``service.api.regrades``) both use them: reading and saving a policy, accepting
an answer, handing a started regrade to the worker, and the reads the pages show.

Who may do what (CONTRACT §9, "a TA may see and grade but not change a course's policy"):
changing a policy and accepting an answer change how every submission is graded, so they
are the instructors'; previewing a regrade, applying a preview and setting or clearing an
override are grading, so any of the course's staff may.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

import exercises as ex
from exercises import policy as rule

from .. import regrade, rules
from ..db import db
from ..models import (
    CURRENT_RESULT,
    Assignment,
    Problem,
    Regrade,
    RegradeItem,
    RegradeStatus,
    Result,
    ResultKind,
    Slot,
    Submission,
    User,
)
from ..unexplained import unexplained_answers

log = logging.getLogger(__name__)

MAX_REASON = rule.MAX_REASON


class Refused(ValueError):
    """A change that cannot be made; ``field`` names the form field (or "policy")."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def error_field(exc: rule.PolicyError) -> str:
    """The field a ``PolicyError`` names ("rtol: must be ..." → "rtol")."""
    head = str(exc).split(":", 1)[0]
    for prefix in ("assignment policy", "slot policy"):
        if head == prefix:
            head = str(exc).split(":", 2)[1].strip()
    return head.split("[", 1)[0].split(".", 1)[0].strip() or "policy"


def check_assignment_policy(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    """The assignment's policy doc as stored (canonical), or ``PolicyError``; the slots'
    docs must still merge with it (a slot names the field that no longer fits)."""
    return rule.GradingPolicy.from_json(doc or None).to_json() or None


def save_assignment_policy(a: Assignment, doc: dict[str, Any] | None) -> None:
    """Set the assignment's policy (``PolicyError``, nothing saved); commits. New gradings
    use it at once; existing results change only by an applied regrade."""
    stored = check_assignment_policy(doc)
    for slot in a.slots:
        rule.merge(stored, slot.grading_policy)
    a.grading_policy = stored
    db.session.commit()


def save_slot_policy(slot: Slot, doc: dict[str, Any] | None, *,
                     keep_accepted: bool = True) -> None:
    """Set the fields the slot changes (``PolicyError``, nothing saved); commits. The
    slot's accepted answers stay unless ``doc`` gives its own list (``keep_accepted``)."""
    doc = dict(doc or {})
    old = slot.grading_policy or {}
    if keep_accepted and "accepted" not in doc and "accepted" in old:
        doc["accepted"] = old["accepted"]
    rule.merge(slot.assignment.grading_policy, doc or None)
    slot.grading_policy = doc or None
    db.session.commit()


def accept(submission: Submission, part: str, credit: float, reason: str) -> rule.Accepted:
    """Accept the submission's unexplained answer to ``part`` in its slot's policy: by its
    relation to the key, else by its value (``Refused`` or ``PolicyError``); commits."""
    slot = submission.problem.slot
    if slot is None:
        raise Refused("submission", "a practice problem has no grading policy")
    found = next((u for u in unexplained_answers(submission) if u.part == part), None)
    if found is None:
        raise Refused("part", "that part of this submission is not an unexplained wrong answer")
    accepted = (rule.Accepted(part=part, relation=found.relation, credit=credit, reason=reason)
                if found.relation is not None else
                rule.Accepted(part=part, value=found.value, credit=credit, reason=reason))
    doc = dict(slot.grading_policy or {})
    entries = [e for e in doc.get("accepted", [])
               if not (e.get("part") == part and e.get("relation") == accepted.relation
                       and (accepted.relation is not None or e.get("value") == found.value))]
    doc["accepted"] = [*entries, accepted.to_json()]
    save_slot_policy(slot, doc, keep_accepted=False)
    return accepted


@dataclass(frozen=True)
class SlotVersion:
    """A slot's grader version and how many current results another version made."""

    slot: Slot
    title: str
    version: str
    policy: list[str]  # ``describe`` of the slot's policy
    stale: int
    error: str = ""  # a stored policy that no longer reads


def slot_versions(a: Assignment) -> list[SlotVersion]:
    out = []
    for slot in a.slots:
        try:
            title = ex.get_type(slot.exercise_type).title
        except ex.UnknownExerciseType:
            title = slot.exercise_type
        try:
            version = rules.slot_version(slot)
            described = rule.describe(rules.slot_policy(slot))
            error = ""
        except rule.PolicyError as exc:
            version, described, error = "", [], str(exc)
        stale = db.session.scalar(
            select(func.count()).select_from(Submission)
            .join(Result, CURRENT_RESULT)
            .join(Problem, Problem.id == Submission.problem_id)
            .where(Problem.slot_id == slot.id, Result.grader_version != version,
                   Result.kind != ResultKind.override)
        ) or 0
        out.append(SlotVersion(slot, title, version, described, stale, error))
    return out


@dataclass(frozen=True)
class AuditRow:
    """A regrade as the audit log shows it."""

    id: int
    status: str
    scope: str
    reason: str
    requested_by: str
    created_at: datetime
    applied_by: str
    applied_at: datetime | None
    versions: dict[str, Any]
    counts: dict[str, Any]


def email_of(user_id: int | None) -> str:
    user = db.session.get(User, user_id) if user_id is not None else None
    return user.email if user is not None else ""


def scope_text(r: Regrade) -> str:
    if r.submission_id is not None:
        return "one submission"
    if r.slot_id is not None:
        slot = db.session.get(Slot, r.slot_id)
        return f"slot {slot.position}" if slot is not None else "a slot"
    return "the whole assignment"


def audit(a: Assignment) -> list[AuditRow]:
    """The assignment's regrades, newest first (discarded previews left out)."""
    found = db.session.scalars(
        select(Regrade).where(Regrade.assignment_id == a.id,
                              Regrade.status != RegradeStatus.discarded)
        .order_by(Regrade.created_at.desc(), Regrade.id.desc())
    )
    return [AuditRow(r.id, r.status.value, scope_text(r), r.reason, email_of(r.requested_by),
                     r.created_at, email_of(r.applied_by), r.applied_at, dict(r.versions or {}),
                     dict(r.counts or {})) for r in found]


@dataclass(frozen=True)
class ScoreOverride:
    """A submission whose current score was set by hand."""

    submission_id: uuid.UUID
    user_id: int
    student: str
    email: str
    position: int
    attempt: int
    score: float
    reason: str
    by: str
    at: datetime


def score_overrides(a: Assignment) -> list[ScoreOverride]:
    rows = db.session.execute(
        select(Submission.id, Submission.user_id, User.name, User.email, Slot.position,
               Submission.attempt, Result.score, Result.reason, Result.created_by,
               Result.created_at)
        .join(Result, CURRENT_RESULT)
        .join(Problem, Problem.id == Submission.problem_id)
        .join(Slot, Slot.id == Problem.slot_id)
        .join(User, User.id == Submission.user_id)
        .where(Slot.assignment_id == a.id, Result.kind == ResultKind.override)
        .order_by(User.name, User.email, Slot.position, Submission.attempt)
    ).all()
    return [ScoreOverride(sid, uid, name or email, email, pos, attempt, score, reason,
                          email_of(by), at)
            for sid, uid, name, email, pos, attempt, score, reason, by, at in rows]


@dataclass(frozen=True)
class Progress:
    done: int
    total: int


def progress(regrade_id: int) -> Progress:
    """Items written (or skipped) of a regrade's items to write (the unchanged ones too)."""
    done, total = db.session.execute(
        select(func.count(RegradeItem.done_at), func.count())
        .where(RegradeItem.regrade_id == regrade_id)
    ).one()
    return Progress(int(done), int(total))


def preview_of(assignment: Assignment, regrade_id: int) -> tuple[regrade.Preview, Regrade]:
    """The stored preview and its row, if it is this assignment's; LookupError otherwise."""
    row = db.session.get(Regrade, regrade_id)
    if row is None or row.assignment_id != assignment.id:
        raise LookupError(regrade_id)
    return regrade.load(db.session, regrade_id), row


def preview_json(p: regrade.Preview, row: Regrade) -> dict[str, Any]:
    """A preview (or an applied regrade) in the API's ``Regrade`` shape."""
    return {
        "id": p.regrade_id,
        "assignment_id": p.scope.assignment_id,
        "slot_id": p.scope.slot_id,
        "submission_id": p.scope.submission_id,
        "status": row.status.value,
        "never_lower": p.never_lower,
        "reason": p.reason,
        "created_at": p.created_at,
        "requested_by": email_of(row.requested_by) or None,
        "applied_by": email_of(row.applied_by) or None,
        "applied_at": row.applied_at,
        "versions": dict(row.versions or {}),
        "counts": dict(p.counts),
        "overrides": p.overrides,
        "rows": [
            {"submission_id": r.submission_id, "user_id": r.user_id, "student": r.student,
             "email": r.email, "slot": r.position, "attempt": r.attempt,
             "old_score": r.old_score, "new_score": r.new_score,
             "old_mistakes": list(r.old_tags), "new_mistakes": list(r.new_tags),
             "change": r.change.value}
            for r in p.rows
        ],
        "effects": [
            {"user_id": e.user_id, "student": e.student, "email": e.email,
             "old_total": e.old_total, "new_total": e.new_total}
            for e in p.effects
        ],
    }
