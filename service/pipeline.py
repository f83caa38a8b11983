"""The grading pipeline over the database, which is its source of truth.

submit  -> the answers are read now (unreadable: AnswerFormatError, no attempt used),
           an attempt is taken and the row is added as ``queued``; the caller commits
           and only then publishes the id (an outbox: no task for an uncommitted row).
claim   -> one atomic conditional UPDATE moves the row to ``grading`` with a lease;
           only one worker can win it.
finish  -> the result is written once: a fenced UPDATE (same claim token) and a unique
           constraint on ``results.submission_id``.
sweep   -> rows whose lease ran out go back to ``queued`` (or to ``error`` after
           MAX_TRIES claims); queued rows never published, or waiting too long, are
           handed back to be published again.

Every function takes the session and commits where its contract says so; none of
them knows about Flask or Celery.
"""

from __future__ import annotations

import enum
import logging
import os
import secrets
import socket
import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import exercises as ex

from .models import Problem, Result, Status, Submission, User, utcnow

MAX_TRIES = 3
SWEEP_BATCH = 1000  # rows per step of one sweep, so a huge backlog cannot stall a sweeper

log = logging.getLogger(__name__)


_VARIANTS: OrderedDict[uuid.UUID, ex.Variant] = OrderedDict()
_VARIANTS_LOCK = threading.Lock()
VARIANT_CACHE_SIZE = 4096


def parsed_variant(problem_id: uuid.UUID, record: dict[str, Any]) -> ex.Variant:
    """The problem's stored variant, parsed once per process.

    A problem's variant never changes once stored, and parsing a record (every mistake
    prediction into arrays or expressions) costs more than grading with it; the parsed
    variant also keeps the grader's per-variant caches warm.
    """
    with _VARIANTS_LOCK:
        variant = _VARIANTS.get(problem_id)
        if variant is not None:
            _VARIANTS.move_to_end(problem_id)
            return variant
    variant = ex.Variant.from_record(record)
    with _VARIANTS_LOCK:
        _VARIANTS[problem_id] = variant
        if len(_VARIANTS) > VARIANT_CACHE_SIZE:
            _VARIANTS.popitem(last=False)
    return variant


class NoAttemptsLeft(Exception):
    """Every attempt the problem allows is used."""


def submit(
    session: Session, problem: Problem, user: User, raw: Any, received_at: datetime
) -> Submission:
    """Read ``raw`` answers, use an attempt and add a queued row (not committed).

    Raises AnswerFormatError before anything is written, and NoAttemptsLeft.
    """
    ex.parse_answers(parsed_variant(problem.id, problem.variant), raw)
    # One conditional UPDATE both checks the limit and numbers the attempt; the row
    # lock it takes orders concurrent submissions to the same problem.
    attempt = session.scalar(
        update(Problem)
        .where(
            Problem.id == problem.id,
            or_(
                Problem.attempts_allowed.is_(None),
                Problem.attempts_used < Problem.attempts_allowed,
            ),
        )
        .values(attempts_used=Problem.attempts_used + 1)
        .returning(Problem.attempts_used)
        .execution_options(synchronize_session=False)
    )
    if attempt is None:
        raise NoAttemptsLeft(f"all {problem.attempts_allowed} attempts are used")
    problem.attempts_used = attempt
    now = utcnow()
    submission = Submission(
        problem=problem,
        user_id=user.id,
        attempt=attempt,
        answers=raw,
        status=Status.queued,
        received_at=received_at,
        queued_at=now,
        published_at=now,
    )
    session.add(submission)
    return submission


@dataclass(frozen=True)
class Claim:
    """A won claim on a submission: what to grade and the token that fences the result."""

    submission_id: uuid.UUID
    token: str
    tries: int
    answers: Any
    problem_id: uuid.UUID
    variant: dict[str, Any]
    received_at: datetime


def claim(session: Session, submission_id: uuid.UUID, lease_seconds: int) -> Claim | None:
    """Move a queued row to grading with a lease and commit; None if it is not queued."""
    now = utcnow()
    token = secrets.token_hex(16)
    row = session.execute(
        update(Submission)
        .where(Submission.id == submission_id, Submission.status == Status.queued)
        .values(
            status=Status.grading,
            tries=Submission.tries + 1,
            claim_token=token,
            claimed_by=f"{socket.gethostname()}:{os.getpid()}",
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            started_at=now,
        )
        .returning(
            Submission.tries,
            Submission.answers,
            Submission.received_at,
            Submission.problem_id,
            select(Problem.variant).where(Problem.id == Submission.problem_id).scalar_subquery(),
        )
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if row is None:
        session.rollback()
        return None
    session.commit()
    tries, answers, received_at, problem_id, variant = row
    return Claim(submission_id, token, tries, answers, problem_id, variant, received_at)


def finish(session: Session, claim: Claim, grade: dict[str, Any]) -> bool:
    """Write the result and mark the row graded, once; False if the claim was lost."""
    now = utcnow()
    won = session.execute(
        update(Submission)
        .where(_held(claim))
        .values(
            status=Status.graded,
            graded_at=now,
            claim_token=None,
            lease_expires_at=None,
            reason=None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if won != 1:
        session.rollback()
        return False
    session.add(
        Result(
            submission_id=claim.submission_id,
            score=grade["score"],
            parts=grade["parts"],
            latency_seconds=(now - claim.received_at).total_seconds(),
        )
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


def fail(session: Session, claim: Claim, reason: str) -> Status | None:
    """Record a failed try: back to queued, or error after MAX_TRIES; commits."""
    status = Status.error if claim.tries >= MAX_TRIES else Status.queued
    updated = session.execute(
        update(Submission)
        .where(_held(claim))
        .values(
            status=status,
            reason=reason,
            claim_token=None,
            lease_expires_at=None,
            # The sweeper publishes it again once it has waited requeue_after.
            published_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return status if updated == 1 else None


class Outcome(enum.StrEnum):
    graded = "graded"
    skipped = "skipped"  # not queued: graded already, or another worker holds it
    failed = "failed"  # the grader raised; the row records why
    lost = "lost"  # the lease ran out and someone else took the row over


def grade_submission(session: Session, submission_id: uuid.UUID, lease_seconds: int) -> Outcome:
    """Claim, grade with the engine and write the result; safe to run any number of times."""
    won = claim(session, submission_id, lease_seconds)
    if won is None:
        return Outcome.skipped
    try:
        variant = parsed_variant(won.problem_id, won.variant)
        grade = ex.grade(variant, ex.parse_answers(variant, won.answers)).to_json()
    except Exception as exc:  # any failure is kept on the row and retried
        log.exception("grading submission %s failed (try %d)", submission_id, won.tries)
        fail(session, won, f"{type(exc).__name__}: {exc}"[:2000])
        return Outcome.failed
    return Outcome.graded if finish(session, won, grade) else Outcome.lost


def _held(claim: Claim) -> ColumnElement[bool]:
    return and_(
        Submission.id == claim.submission_id,
        Submission.status == Status.grading,
        Submission.claim_token == claim.token,
    )


@dataclass(frozen=True)
class Sweep:
    """What one sweep did; ``publish`` are the ids to hand to the broker now."""

    publish: list[uuid.UUID]
    errored: list[uuid.UUID]


def sweep(session: Session, requeue_after: float) -> Sweep:
    """Requeue expired leases (error after MAX_TRIES) and pick queued rows to republish; commits.

    Each step is one UPDATE whose WHERE re-checks the row, so sweepers running at the
    same time never pick the same row twice.
    """
    now = utcnow()
    expired = and_(Submission.status == Status.grading, Submission.lease_expires_at < now)
    errored = _mark(
        session,
        and_(expired, Submission.tries >= MAX_TRIES),
        status=Status.error,
        reason=f"grading did not finish within its lease {MAX_TRIES} times "
        "(the worker was lost or timed out)",
        claim_token=None,
        lease_expires_at=None,
    )
    requeued = _mark(
        session,
        and_(expired, Submission.tries < MAX_TRIES),
        status=Status.queued,
        reason="the lease ran out (the worker was lost or timed out)",
        claim_token=None,
        lease_expires_at=None,
        published_at=now,
    )
    stale = _mark(
        session,
        and_(
            Submission.status == Status.queued,
            or_(
                Submission.published_at.is_(None),
                Submission.published_at < now - timedelta(seconds=requeue_after),
            ),
        ),
        published_at=now,
    )
    session.commit()
    return Sweep(publish=requeued + stale, errored=errored)


def _mark(session: Session, where: ColumnElement[bool], **values: Any) -> list[uuid.UUID]:
    batch = select(Submission.id).where(where).limit(SWEEP_BATCH)
    return list(
        session.scalars(
            update(Submission)
            .where(Submission.id.in_(batch), where)
            .values(**values)
            .returning(Submission.id)
            .execution_options(synchronize_session=False)
        )
    )


def mark_unpublished(session: Session, ids: Sequence[uuid.UUID]) -> None:
    """Note that these queued rows never reached the broker, so the next sweep sends them."""
    if ids:
        session.execute(
            update(Submission)
            .where(Submission.id.in_(ids), Submission.status == Status.queued)
            .values(published_at=None)
            .execution_options(synchronize_session=False)
        )
        session.commit()


def retry(session: Session, submission: Submission) -> bool:
    """Queue an errored submission again with fresh tries; commits. False if not in error."""
    now = utcnow()
    updated = session.execute(
        update(Submission)
        .where(Submission.id == submission.id, Submission.status == Status.error)
        .values(status=Status.queued, tries=0, reason=None, queued_at=now, published_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    session.refresh(submission)
    return updated == 1
