"""Regrades: preview what a new grading policy or grader version would change, then apply
it; and overrides, a score set by hand.

A preview grades, under the slot's current policy and the current grader version, every
graded submission in scope (an assignment, a slot, one submission) whose current result
was made by another version and is not an override, and stores each as a ``RegradeItem``
(its old and new score and named mistakes); nothing a student sees changes. Applying
writes the items in batches, each one transaction: the new result becomes current, the
old one stays as history, the item is marked done. When no item is left, the
assignment's marks are rebuilt and the LMS scores that changed are queued, in the
transaction that marks the regrade applied: students' totals move once, at the end. A
batch killed halfway leaves nothing behind, so an application resumes where it stopped
(the sweeper restarts one that stalls) and applying twice writes nothing twice. "Never
lower" (on by default) keeps a result the regrade would lower (``kept``).

An ``unchanged`` item is written too (same score, the new version and feedback), so a
later preview does not find it again; a ``kept`` one is not, so a later preview lists it
again as kept, still changing nothing.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    String,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session

import exercises as ex

from . import marks, rules
from .lms import grades as lms_grades
from .models import (
    CURRENT_RESULT,
    Assignment,
    LtiLink,
    Override,
    Problem,
    Regrade,
    RegradeChange,
    RegradeItem,
    RegradeStatus,
    Result,
    ResultKind,
    Slot,
    Submission,
    User,
    UTCDateTime,
    utcnow,
)
from .pipeline.store import RESULTS, dialect, parsed_variant, rowcount

APPLY_BATCH = 500  # items written per transaction
PREVIEW_CHUNK = 2000  # submissions read, graded and stored at a time
ROUND = 6  # decimals of a total compared (a float sum's last bits vary with order)

ITEMS = cast(Table, RegradeItem.__table__)


class RegradeError(ValueError):
    """A regrade or an override that cannot be done; the message says why."""


@dataclass(frozen=True)
class Scope:
    """What a regrade covers: an assignment, one of its slots, or one submission."""

    assignment_id: int
    slot_id: int | None = None
    submission_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Row:
    """One submission the regrade changes (or keeps), old → new."""

    submission_id: uuid.UUID
    user_id: int
    student: str  # the name, else the email
    email: str
    position: int  # the slot's position in the assignment (1-based)
    attempt: int
    old_score: float
    new_score: float
    old_tags: tuple[str, ...]
    new_tags: tuple[str, ...]
    change: RegradeChange


@dataclass(frozen=True)
class Effect:
    """A student's assignment score (a fraction of the assignment's points) before and after."""

    user_id: int
    student: str
    email: str
    old_total: float
    new_total: float


@dataclass
class Preview:
    """A stored preview: the rows that change, the counts, each student's total."""

    regrade_id: int
    scope: Scope
    status: str  # RegradeStatus
    never_lower: bool
    reason: str
    created_at: datetime
    # Raised, lowered and kept submissions, and unchanged scores whose mistakes change.
    rows: list[Row] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # raised, lowered, unchanged, kept
    overrides: int = 0  # submissions in scope left alone as overrides
    effects: list[Effect] = field(default_factory=list)  # students whose total changes
    # Who asked, who applied and when (None until applied); what is left to write.
    requested_by: int | None = None
    applied_by: int | None = None
    applied_at: datetime | None = None
    finished_at: datetime | None = None
    pending: int = 0


# --- preview ------------------------------------------------------------------------------


def _tags(parts: Mapping[str, Any]) -> list[str]:
    """The named mistakes of a result: the union of its parts' misconceptions, sorted."""
    return sorted({t for part in parts.values() for t in part.get("misconceptions", ())})


def _change(old: float, new: float, never_lower: bool) -> RegradeChange:
    if new > old:
        return RegradeChange.raised
    if new < old:
        return RegradeChange.kept if never_lower else RegradeChange.lowered
    return RegradeChange.unchanged


def _slots(session: Session, scope: Scope) -> list[Slot]:
    assignment = session.get(Assignment, scope.assignment_id)
    if assignment is None:
        raise RegradeError(f"no assignment {scope.assignment_id}")
    slots = sorted(assignment.slots, key=lambda s: s.position)
    if scope.slot_id is not None:
        slots = [s for s in slots if s.id == scope.slot_id]
        if not slots:
            raise RegradeError(f"assignment {scope.assignment_id} has no slot {scope.slot_id}")
    return slots


def _in_scope(scope: Scope, slot_ids: Collection[int]) -> Any:
    where: Any = Problem.slot_id.in_(list(slot_ids))
    if scope.submission_id is not None:
        where = and_(where, Submission.id == scope.submission_id)
    return where


def preview(session: Session, scope: Scope, *, by: int | None, reason: str = "",
            never_lower: bool = True, keep: bool = True) -> Preview:
    """Grade the scope's stale submissions again and store the preview; commits. An earlier
    preview of the same assignment that was never applied is discarded. With ``keep``
    false (a dry run) everything is rolled back instead: nothing is written, and the
    preview returned has no id (0).

    Raises ``RegradeError`` for an unknown assignment or slot, a submission outside the
    assignment, or while another regrade of the assignment is being applied (its items
    were read against the results it is replacing).
    """
    slots = _slots(session, scope)
    if session.scalar(
        select(Regrade.id).where(Regrade.assignment_id == scope.assignment_id,
                                 Regrade.status == RegradeStatus.applying).limit(1)
    ) is not None:
        raise RegradeError("a regrade of this assignment is being applied; wait for it to finish")
    if scope.submission_id is not None and session.scalar(
        select(Problem.slot_id).join(Submission, Submission.problem_id == Problem.id)
        .where(Submission.id == scope.submission_id)
    ) not in {s.id for s in slots}:
        raise RegradeError(f"submission {scope.submission_id} is not in this scope")
    policies = {s.id: rules.slot_policy(s) for s in slots}
    versions = {s.id: rules.slot_version(s) for s in slots}

    # Earlier previews can no longer be applied: their items go (nothing was written).
    stale = list(session.scalars(
        select(Regrade.id).where(Regrade.assignment_id == scope.assignment_id,
                                 Regrade.status == RegradeStatus.previewed)
    ))
    if stale:
        session.execute(delete(RegradeItem).where(RegradeItem.regrade_id.in_(stale)))
        session.execute(
            update(Regrade).where(Regrade.id.in_(stale))
            .values(status=RegradeStatus.discarded, finished_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    regrade = Regrade(
        assignment_id=scope.assignment_id, slot_id=scope.slot_id,
        submission_id=scope.submission_id, status=RegradeStatus.previewed,
        never_lower=never_lower, reason=reason.strip(),
        versions={str(k): v for k, v in versions.items()}, counts={}, requested_by=by,
    )
    session.add(regrade)
    session.flush()
    rid = regrade.id

    in_scope = _in_scope(scope, policies)
    overrides = session.scalar(
        select(func.count()).select_from(Submission)
        .join(Result, CURRENT_RESULT).join(Problem, Problem.id == Submission.problem_id)
        .where(in_scope, Result.kind == ResultKind.override)
    ) or 0
    stale_version = or_(*(
        and_(Problem.slot_id == sid, Result.grader_version != version)
        for sid, version in versions.items()
    ))
    stream = (
        select(Submission.id, Submission.user_id, Submission.problem_id, Submission.answers,
               Problem.slot_id, Result.id, Result.score, Result.parts)
        .join(Result, CURRENT_RESULT)
        .join(Problem, Problem.id == Submission.problem_id)
        .where(in_scope, Result.kind != ResultKind.override, stale_version)
        # A problem's submissions together: its variant is parsed once.
        .order_by(Submission.problem_id, Submission.id)
        .execution_options(yield_per=PREVIEW_CHUNK)
    )
    counts = dict.fromkeys(RegradeChange, 0)
    rows = session.execute(stream)
    for chunk in rows.partitions():
        items = _grade_chunk(session, rid, chunk, policies, versions, never_lower)
        for item in items:
            counts[item["change"]] += 1
        session.execute(insert(ITEMS), items)
    regrade.counts = {
        **{c.value: n for c, n in counts.items()}, "overrides": overrides,
        "items": sum(counts.values()),
    }
    if not keep:
        session.flush()
        shown = load(session, rid)
        session.rollback()
        shown.regrade_id = 0
        return shown
    session.commit()
    return load(session, rid)


def _grade_chunk(session: Session, rid: int, chunk: Sequence[Any],
                 policies: Mapping[int, rules.GradingPolicy], versions: Mapping[int, str],
                 never_lower: bool) -> list[dict[str, Any]]:
    """Grade one chunk of stale submissions; the rows of their items."""
    needed = {problem_id for _, _, problem_id, *_ in chunk}
    variants = {
        pid: parsed_variant(pid, record)
        for pid, record in session.execute(
            select(Problem.id, Problem.variant).where(Problem.id.in_(needed))
        )
    }
    items = []
    for sid, user_id, problem_id, answers, slot_id, result_id, old_score, old_parts in chunk:
        variant = variants[problem_id]
        grade = ex.grade(variant, ex.parse_answers(variant, answers), policies[slot_id]).to_json()
        change = _change(old_score, grade["score"], never_lower)
        items.append({
            "regrade_id": rid, "submission_id": sid, "user_id": user_id, "slot_id": slot_id,
            "old_result_id": result_id, "old_score": old_score, "new_score": grade["score"],
            "old_tags": _tags(old_parts), "new_tags": _tags(grade["parts"]),
            "new_parts": grade["parts"], "grader_version": versions[slot_id],
            "change": change.value, "done_at": None, "skipped": False,
        })
    return items


# --- reading a stored regrade -------------------------------------------------------------


def load(session: Session, regrade_id: int) -> Preview:
    """A stored preview (or applied regrade) as it was computed: rows in order of student,
    slot and attempt; effects in order of student."""
    regrade = session.get(Regrade, regrade_id)
    if regrade is None:
        raise RegradeError(f"no regrade {regrade_id}")
    counts = {k: int(v) for k, v in (regrade.counts or {}).items()}
    out = Preview(
        regrade_id=regrade.id,
        scope=Scope(regrade.assignment_id, regrade.slot_id, regrade.submission_id),
        status=RegradeStatus(regrade.status).value, never_lower=regrade.never_lower,
        reason=regrade.reason, created_at=regrade.created_at, counts=counts,
        overrides=counts.get("overrides", 0), requested_by=regrade.requested_by,
        applied_by=regrade.applied_by, applied_at=regrade.applied_at,
        finished_at=regrade.finished_at,
    )
    out.pending = session.scalar(
        select(func.count()).select_from(RegradeItem)
        .where(RegradeItem.regrade_id == regrade_id, RegradeItem.done_at.is_(None))
    ) or 0
    out.rows = _rows(session, regrade_id)
    out.effects = _effects(session, regrade)
    return out


def _rows(session: Session, regrade_id: int) -> list[Row]:
    """The items whose score or named mistakes change (kept ones too)."""
    stmt = (
        select(RegradeItem.submission_id, RegradeItem.user_id, User.name, User.email,
               Slot.position, Submission.attempt, RegradeItem.old_score, RegradeItem.new_score,
               RegradeItem.old_tags, RegradeItem.new_tags, RegradeItem.change)
        .join(User, User.id == RegradeItem.user_id)
        .join(Slot, Slot.id == RegradeItem.slot_id)
        .join(Submission, Submission.id == RegradeItem.submission_id)
        .where(RegradeItem.regrade_id == regrade_id)
        .order_by(User.name, User.email, Slot.position, Submission.attempt)
    )
    out = []
    for sid, uid, name, email, position, attempt, old, new, old_tags, new_tags, change in (
        session.execute(stmt)
    ):
        if change == RegradeChange.unchanged and list(old_tags) == list(new_tags):
            continue
        out.append(Row(sid, uid, name or email, email, position, attempt, old, new,
                       tuple(old_tags), tuple(new_tags), RegradeChange(change)))
    return out


def _effects(session: Session, regrade: Regrade) -> list[Effect]:
    """Each student's assignment total before and after, for the students a raised or
    lowered item belongs to, where it changes: per slot the best late-adjusted credit
    (``marks.credit``) times the slot's points, over the assignment's points, as the
    gradebook sums marks. Scores come from the items where there is one (old and new),
    else from the current result."""
    points = dict(session.execute(
        select(Slot.id, Slot.points).where(Slot.assignment_id == regrade.assignment_id)
    ).all())
    worth = sum(points.values())
    moved = (
        select(RegradeItem.user_id).distinct()
        .where(RegradeItem.regrade_id == regrade.id,
               RegradeItem.change.in_([RegradeChange.raised, RegradeChange.lowered]))
    )
    stmt = (
        select(Submission.user_id, Problem.slot_id, Submission.received_at, Result.score,
               RegradeItem.old_score, RegradeItem.new_score, RegradeItem.change,
               Assignment.due_at, Override.due_at, Assignment.late_policy,
               Assignment.late_penalty)
        .join(Result, CURRENT_RESULT)
        .join(Problem, Problem.id == Submission.problem_id)
        .join(Slot, Slot.id == Problem.slot_id)
        .join(Assignment, Assignment.id == Slot.assignment_id)
        .outerjoin(Override, (Override.assignment_id == Assignment.id)
                   & (Override.user_id == Submission.user_id))
        .outerjoin(RegradeItem, (RegradeItem.regrade_id == regrade.id)
                   & (RegradeItem.submission_id == Submission.id))
        .where(Slot.assignment_id == regrade.assignment_id, Submission.user_id.in_(moved))
    )
    best: dict[int, dict[int, list[float]]] = {}
    for uid, slot_id, received, current, old, new, change, due, own_due, policy, penalty in (
        session.execute(stmt)
    ):
        before = current if old is None else old
        after = new if change in (RegradeChange.raised, RegradeChange.lowered) else before
        assert slot_id is not None  # joined to a slot
        cell = best.setdefault(uid, {}).setdefault(slot_id, [0.0, 0.0])
        cell[0] = max(cell[0], marks.credit(before, received, own_due or due, policy, penalty))
        cell[1] = max(cell[1], marks.credit(after, received, own_due or due, policy, penalty))
    if not best:
        return []
    people = {
        uid: (name or email, email)
        for uid, name, email in session.execute(
            select(User.id, User.name, User.email).where(User.id.in_(list(best)))
        )
    }
    out = []
    for uid, cells in best.items():
        old_total = sum(c[0] * points[s] for s, c in cells.items()) / worth if worth else 0.0
        new_total = sum(c[1] * points[s] for s, c in cells.items()) / worth if worth else 0.0
        if round(old_total, ROUND) != round(new_total, ROUND):
            name, email = people[uid]
            out.append(Effect(uid, name, email, round(old_total, ROUND), round(new_total, ROUND)))
    return sorted(out, key=lambda e: (e.student, e.email, e.user_id))


# --- applying -----------------------------------------------------------------------------


def start(session: Session, regrade_id: int, by: int | None) -> None:
    """Mark a previewed regrade as applying (by whom, when); commits. The caller then runs
    ``run`` (the CLI) or publishes the worker's task (``worker.app.publish_regrade``).

    Starting one that is applying already does nothing; an applied or discarded one
    raises ``RegradeError``."""
    now = utcnow()
    started = rowcount(session.execute(
        update(Regrade)
        .where(Regrade.id == regrade_id, Regrade.status == RegradeStatus.previewed)
        .values(status=RegradeStatus.applying, applied_by=by, applied_at=now,
                progressed_at=now)
        .execution_options(synchronize_session=False)
    ))
    if not started:
        status = session.scalar(select(Regrade.status).where(Regrade.id == regrade_id))
        if status is None:
            raise RegradeError(f"no regrade {regrade_id}")
        if status != RegradeStatus.applying:
            raise RegradeError(f"regrade {regrade_id} is {RegradeStatus(status).value}: "
                               "only a previewed regrade can be applied")
    session.commit()


_NOW = bindparam("now", type_=UTCDateTime())


def _new_results(regrade: Regrade, now: datetime) -> Any:
    """INSERT ... SELECT of the new results of the given items, from the items and the
    results they replace (whose latency they keep)."""
    old = RESULTS.alias("old")
    return insert(RESULTS).from_select(
        ["submission_id", "current", "kind", "grader_version", "score", "parts",
         "latency_seconds", "created_at", "created_by", "reason", "regrade_id"],
        select(
            ITEMS.c.submission_id,
            true(),
            literal(ResultKind.regraded.value, String()),
            ITEMS.c.grader_version,
            ITEMS.c.new_score,
            ITEMS.c.new_parts,
            old.c.latency_seconds,
            literal(now, UTCDateTime()),
            literal(regrade.applied_by, RESULTS.c.created_by.type),
            literal(regrade.reason, RESULTS.c.reason.type),
            literal(regrade.id, RESULTS.c.regrade_id.type),
        )
        .join_from(ITEMS, old, old.c.id == ITEMS.c.old_result_id)
        .where(ITEMS.c.id.in_(bindparam("ids", expanding=True))),
    )


def apply_batch(session: Session, regrade_id: int, size: int = APPLY_BATCH) -> int:
    """Write up to ``size`` pending items in one transaction; returns how many were done
    (0 when none is left, which marks the regrade applied).

    Each item is fenced by its ``old_result_id``: written only if that result is still
    the submission's current one, else marked ``skipped``. A regrade that is applied
    already returns 0; one that was never started raises ``RegradeError``."""
    pg = dialect(session) == "postgresql"
    now = utcnow()
    if not pg:
        # SQLite has one writer: take the write lock first, so two batches never read
        # the same pending items.
        session.execute(
            update(Regrade)
            .where(Regrade.id == regrade_id, Regrade.status == RegradeStatus.applying)
            .values(progressed_at=now).execution_options(synchronize_session=False)
        )
    regrade = session.get(Regrade, regrade_id, populate_existing=True)
    if regrade is None:
        raise RegradeError(f"no regrade {regrade_id}")
    if regrade.status == RegradeStatus.applied:
        session.rollback()
        return 0
    if regrade.status != RegradeStatus.applying:
        session.rollback()
        raise RegradeError(f"regrade {regrade_id} is {RegradeStatus(regrade.status).value}, "
                           "not applying")
    claim = (
        select(ITEMS.c.id, ITEMS.c.submission_id, ITEMS.c.user_id, ITEMS.c.old_result_id,
               ITEMS.c.change)
        .where(ITEMS.c.regrade_id == regrade_id, ITEMS.c.done_at.is_(None))
        .order_by(ITEMS.c.id)
        .limit(size)
    )
    if pg:
        # Two workers on one regrade take different items.
        claim = claim.with_for_update(skip_locked=True)
    claimed = session.execute(claim).all()
    if not claimed:
        _finish(session, regrade, now)
        return 0
    written = [c for c in claimed if c.change != RegradeChange.kept]
    won_ids: list[int] = []
    if written:
        # The fence: only a result still current is replaced.
        retired = set(session.scalars(
            update(RESULTS)
            .where(RESULTS.c.id.in_([c.old_result_id for c in written]),
                   RESULTS.c.current.is_(True))
            .values(current=False)
            .returning(RESULTS.c.id)
        ))
        won_ids = [c.id for c in written if c.old_result_id in retired]
        if won_ids:
            session.execute(_new_results(regrade, now), {"ids": won_ids})
    won = set(won_ids)
    skipped = [c.id for c in written if c.id not in won]
    session.execute(
        update(ITEMS).where(ITEMS.c.id.in_([c.id for c in claimed])).values(done_at=now)
    )
    if skipped:
        session.execute(update(ITEMS).where(ITEMS.c.id.in_(skipped)).values(skipped=True))
    regrade.progressed_at = now
    session.commit()
    return len(claimed)


def _finish(session: Session, regrade: Regrade, now: datetime) -> None:
    """Mark the regrade applied if no item is pending (another worker may still hold a
    batch: then it finishes), with its final counts; commits."""
    pending = session.scalar(
        select(func.count()).select_from(RegradeItem)
        .where(RegradeItem.regrade_id == regrade.id, RegradeItem.done_at.is_(None))
    )
    if pending:
        session.rollback()
        return
    applied = session.scalar(
        select(func.count()).select_from(Result).where(Result.regrade_id == regrade.id)
    ) or 0
    skipped = session.scalar(
        select(func.count()).select_from(RegradeItem)
        .where(RegradeItem.regrade_id == regrade.id, RegradeItem.skipped.is_(True))
    ) or 0
    finished = rowcount(session.execute(
        update(Regrade).where(Regrade.id == regrade.id, Regrade.status == RegradeStatus.applying)
        .values(status=RegradeStatus.applied, finished_at=now, progressed_at=now,
                counts={**(regrade.counts or {}), "applied": applied, "skipped": skipped})
        .execution_options(synchronize_session=False)
    ))
    if finished and applied:
        # The students' totals move once, here, when every new result is in: a rebuild
        # of the whole assignment replays each result once, where rebuilding the
        # students of each batch would replay every result of theirs for every batch.
        _rebuild(session, regrade.assignment_id, None)
    session.commit()


def _rebuild(session: Session, assignment_id: int, user: int | None) -> None:
    """Rebuild the assignment's marks (one student's, if given) from the current results,
    then queue the LMS scores that changed."""
    marks.rebuild(session, assignment_id, user)
    linked = session.scalar(
        select(LtiLink.id).where(LtiLink.assignment_id == assignment_id).limit(1)
    )
    if linked is not None:
        lms_grades.record(session, assignment_id, user)


def run(session: Session, regrade_id: int, *, size: int = APPLY_BATCH,
        on_batch: Any = None) -> dict[str, int]:
    """Apply every pending item, batch after batch (the worker's task and the CLI);
    ``on_batch(done_so_far)`` is called after each batch. Returns the regrade's counts."""
    done = 0
    while True:
        n = apply_batch(session, regrade_id, size)
        if n == 0:
            break
        done += n
        if on_batch is not None:
            on_batch(done)
    regrade = session.get(Regrade, regrade_id, populate_existing=True)
    session.commit()
    return {k: int(v) for k, v in ((regrade.counts if regrade else None) or {}).items()}


def claim_stalled(session: Session, older_than_seconds: float) -> list[int]:
    """The regrades applying with no batch written for ``older_than_seconds``, taken:
    their ``progressed_at`` moves to now in the same UPDATE, so the sweeper publishes a
    regrade once per stall however many sweepers run; commits."""
    now = utcnow()
    since = now - timedelta(seconds=older_than_seconds)
    ids = list(session.scalars(
        update(Regrade)
        .where(Regrade.status == RegradeStatus.applying,
               func.coalesce(Regrade.progressed_at, Regrade.applied_at) < since)
        .values(progressed_at=now)
        .returning(Regrade.id)
        .execution_options(synchronize_session=False)
    ))
    session.commit()
    return sorted(ids)


# --- overrides ----------------------------------------------------------------------------


def _current(session: Session, submission_id: uuid.UUID) -> tuple[Submission, Result, Slot]:
    submission = session.get(Submission, submission_id)
    if submission is None:
        raise RegradeError(f"no submission {submission_id}")
    current = session.scalar(
        select(Result).where(Result.submission_id == submission_id, Result.current.is_(True))
    )
    if current is None:
        raise RegradeError(f"submission {submission_id} is not graded")
    slot = submission.problem.slot
    if slot is None:
        raise RegradeError(f"submission {submission_id} is practice, not part of an assignment")
    return submission, current, slot


def _replace(session: Session, current: Result, new: Result) -> None:
    """Make ``new`` the current result in place of ``current`` (fenced: it must still be
    current), rebuild the student's marks and queue the LMS push; commits."""
    retired = rowcount(session.execute(
        update(RESULTS).where(RESULTS.c.id == current.id, RESULTS.c.current.is_(True))
        .values(current=False)
    ))
    if not retired:
        session.rollback()
        raise RegradeError("the submission's result changed meanwhile; try again")
    session.expire(current)
    session.add(new)
    session.flush()
    submission = new.submission
    slot = submission.problem.slot
    assert slot is not None
    _rebuild(session, slot.assignment_id, submission.user_id)
    session.commit()


def override(session: Session, submission_id: uuid.UUID, score: float, reason: str,
             by: int) -> Result:
    """Set the submission's score by hand (0..1) with a reason: a new current result that
    keeps the parts of the one it replaces; rebuilds marks, queues the LMS push; commits."""
    if isinstance(score, bool) or not isinstance(score, (int, float)) \
            or not math.isfinite(score) or not 0.0 <= score <= 1.0:
        raise RegradeError(f"a score must be a number from 0 to 1, got {score!r}")
    if not reason or not reason.strip():
        raise RegradeError("an override needs a reason")
    _, current, _ = _current(session, submission_id)
    new = Result(
        submission_id=submission_id, current=True, kind=ResultKind.override,
        grader_version=current.grader_version, score=float(score), parts=current.parts,
        latency_seconds=current.latency_seconds, created_at=utcnow(), created_by=by,
        reason=reason.strip(),
    )
    _replace(session, current, new)
    return new


def clear_override(session: Session, submission_id: uuid.UUID, reason: str, by: int) -> Result:
    """Grade the submission again under its slot's current policy, ending an override."""
    if not reason or not reason.strip():
        raise RegradeError("clearing an override needs a reason")
    submission, current, slot = _current(session, submission_id)
    if current.kind != ResultKind.override:
        raise RegradeError(f"submission {submission_id} has no override to clear")
    problem = submission.problem
    variant = parsed_variant(problem.id, problem.variant)
    grade = ex.grade(variant, ex.parse_answers(variant, submission.answers),
                     rules.slot_policy(slot)).to_json()
    new = Result(
        submission_id=submission_id, current=True, kind=ResultKind.regraded,
        grader_version=rules.slot_version(slot), score=grade["score"], parts=grade["parts"],
        latency_seconds=current.latency_seconds, created_at=utcnow(), created_by=by,
        reason=reason.strip(),
    )
    _replace(session, current, new)
    return new


def history(session: Session, submission_id: uuid.UUID) -> list[Result]:
    """Every result of the submission, oldest first (the current one is flagged)."""
    return list(session.scalars(
        select(Result).where(Result.submission_id == submission_id).order_by(Result.id)
    ))


__all__ = [
    "APPLY_BATCH", "Effect", "Preview", "RegradeError", "Row", "Scope", "apply_batch",
    "claim_stalled", "clear_override", "history", "load", "override", "preview", "run",
    "start",
]

