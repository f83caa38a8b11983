"""Grading: claim a batch of queued rows under one lease, grade them with the engine,
and write each result once, fenced by the claim's token."""

from __future__ import annotations

import enum
import logging
import os
import secrets
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    String,
    Uuid,
    and_,
    bindparam,
    case,
    column,
    extract,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError

import exercises as ex
from exercises import learning

from .. import marks, rules
from ..lms import grades as lms_grades
from ..models import (
    Problem,
    Status,
    Submission,
    UTCDateTime,
    utcnow,
)
from .store import RESULTS as _results
from .store import SUBMISSIONS as _submissions
from .store import VARIANTS, Db, parsed_variant
from .store import dialect as _dialect
from .store import rowcount as _rowcount

log = logging.getLogger(__name__)

MAX_TRIES = 3


@dataclass(frozen=True)
class Claim:
    """A won claim on a submission: what to grade and the token that fences the result.

    The rows of one claim share its token (one UPDATE claimed them together).
    """

    submission_id: uuid.UUID
    token: str
    tries: int
    answers: Any
    problem_id: uuid.UUID
    received_at: datetime


_IDS = _submissions.c.id.in_(bindparam("ids", expanding=True))
_IS_QUEUED = _submissions.c.status == Status.queued
# A row the previous try of the same task claimed, before a database error cut it short.
_OURS = and_(
    _submissions.c.status == Status.grading, _submissions.c.claim_token == bindparam("resume")
)
# What a graded row no longer holds.
_RELEASED: dict[str, Any] = {"claim_token": None, "lease_expires_at": None, "reason": None}


def _claim_statement(claimable: ColumnElement[bool]) -> Any:
    """The UPDATE that claims the rows among ``ids`` that are ``claimable``.

    The rows are locked in a subquery joined once (UPDATE ... FROM), not tested with
    ``id IN (subquery)``: PostgreSQL plans that as a semi-join that runs the locking
    subquery again for every row. A row taken over from our own previous try keeps its
    count of tries: a database error is not a grading failure.
    """
    locked = (
        select(_submissions.c.id)
        .where(_IDS, claimable)
        .with_for_update(skip_locked=True)
        .subquery("locked")
    )
    return (
        update(_submissions)
        .where(_submissions.c.id == locked.c.id, claimable)  # re-checked on the locked row
        .values(
            status=Status.grading,
            tries=_submissions.c.tries + case((_IS_QUEUED, 1), else_=0),
            claim_token=bindparam("token"),
            claimed_by=bindparam("claimed_by"),
            lease_expires_at=bindparam("lease_expires_at"),
            started_at=bindparam("now"),
        )
        .returning(
            _submissions.c.id,
            _submissions.c.tries,
            _submissions.c.answers,
            _submissions.c.problem_id,
            _submissions.c.received_at,
        )
    )


_CLAIM = _claim_statement(_IS_QUEUED)
_RESUME = _claim_statement(or_(_IS_QUEUED, _OURS))


def claim(
    session: Db,
    ids: Sequence[uuid.UUID],
    lease_seconds: int,
    token: str | None = None,
    resume: str | None = None,
) -> list[Claim]:
    """Move the queued rows among ``ids`` to grading under one lease and commit.

    Rows that are not queued (graded, errored, held by another worker) are left alone;
    rows another claim is locking right now are skipped rather than waited for. The
    claim's ``token`` is new unless given; with ``resume``, the rows still grading under
    that token (a previous try of the same task) are claimed again as well.
    """
    if not ids:
        return []
    now = utcnow()
    token = token or secrets.token_hex(16)
    params = {
        "ids": list(ids),
        "token": token,
        "claimed_by": f"{socket.gethostname()}:{os.getpid()}",
        "lease_expires_at": now + timedelta(seconds=lease_seconds),
        "now": now,
    }
    if resume is None:
        rows = session.execute(_CLAIM, params).all()
    else:
        rows = session.execute(_RESUME, {**params, "resume": resume}).all()
    session.commit()
    return [Claim(sid, token, *rest) for sid, *rest in rows]



_VARIANTS_OF = select(Problem.id, Problem.variant).where(
    Problem.id.in_(bindparam("ids", expanding=True))
)


def variants(session: Db, problem_ids: set[uuid.UUID]) -> dict[uuid.UUID, ex.Variant]:
    """The parsed variants of these problems; only those not parsed yet are read."""
    out = {pid: v for pid in problem_ids if (v := VARIANTS.get(pid)) is not None}
    missing = problem_ids - out.keys()
    if missing:
        for pid, record in session.execute(_VARIANTS_OF, {"ids": list(missing)}):
            out[pid] = parsed_variant(pid, record)
    return out


def finish(session: Db, graded: Sequence[tuple[Claim, dict[str, Any]]]) -> list[uuid.UUID]:
    """Write each result and mark its row graded, once; return the ids written.

    A row is written only while its claim still holds (same token, still grading); the
    unique index of current results (one per submission) is the last guard. A grade's
    ``evidence`` (for the student model) is optional: a read derives what is missing.
    """
    if not graded:
        return []
    try:
        return _finish(session, graded)
    except IntegrityError:
        # A result exists for some row (a fence failed?): keep the others, one by one.
        session.rollback()
        log.warning("a result of this batch exists already; writing the rest one by one")
        written: list[uuid.UUID] = []
        for item in graded:
            try:
                written += _finish(session, [item])
            except IntegrityError:
                session.rollback()
        return written


_FINISH = (
    update(_submissions)
    .where(
        _submissions.c.id.in_(bindparam("ids", expanding=True)),
        _submissions.c.status == Status.grading,
        _submissions.c.claim_token == bindparam("token"),
    )
    .values(status=Status.graded, graded_at=bindparam("now"), **_RELEASED)
    .returning(_submissions.c.id)
)
_ADD_RESULTS = insert(_results)

# On PostgreSQL the whole batch is one statement: the rows still held (fenced by their
# token) are marked graded and their results inserted, from one JSON parameter.
_BATCH = (
    func.jsonb_to_recordset(bindparam("batch", type_=JSONB))
    .table_valued(
        column("submission_id", Uuid),
        column("token", String),
        column("score", Float),
        column("parts", JSONB),
        column("grader_version", String),
        column("evidence", JSONB),
    )
    .render_derived(name="batch", with_types=True)
)
_NOW = bindparam("now", type_=UTCDateTime())
_GRADED = (
    update(_submissions)
    .where(
        _submissions.c.id == _BATCH.c.submission_id,
        _submissions.c.status == Status.grading,
        _submissions.c.claim_token == _BATCH.c.token,
    )
    .values(status=Status.graded, graded_at=_NOW, **_RELEASED)
    .returning(
        _submissions.c.id,
        _submissions.c.received_at,
        _BATCH.c.score,
        _BATCH.c.parts,
        _BATCH.c.grader_version,
        _BATCH.c.evidence,
    )
    .cte("graded")
)
_FINISH_BATCH = (
    insert(_results)
    .from_select(
        ["submission_id", "score", "parts", "grader_version", "evidence", "latency_seconds",
         "created_at"],
        select(
            _GRADED.c.id,
            _GRADED.c.score,
            _GRADED.c.parts,
            _GRADED.c.grader_version,
            _GRADED.c.evidence,
            extract("epoch", _NOW - _GRADED.c.received_at),
            _NOW,
        ),
        # The columns left out take the table's server defaults: a current grading.
        include_defaults=False,
    )
    .returning(_results.c.submission_id)
)


def _finish(session: Db, graded: Sequence[tuple[Claim, dict[str, Any]]]) -> list[uuid.UUID]:
    now = utcnow()
    if _dialect(session) == "postgresql":
        batch = [
            {
                "submission_id": str(won.submission_id),
                "token": won.token,
                "score": grade["score"],
                "parts": grade["parts"],
                "grader_version": grade["grader_version"],
                "evidence": grade.get("evidence"),
            }
            for won, grade in graded
        ]
        written = list(session.scalars(_FINISH_BATCH, {"batch": batch, "now": now}))
        marks.record(session, written)
        lms_grades.enqueue(session, written)
        session.commit()
        return written
    by_id = {won.submission_id: (won, grade) for won, grade in graded}
    by_token: dict[str, list[uuid.UUID]] = {}
    for won, _ in graded:
        by_token.setdefault(won.token, []).append(won.submission_id)
    written = []
    for token, ids in by_token.items():
        written += session.scalars(_FINISH, {"ids": ids, "token": token, "now": now}).all()
    if not written:
        session.rollback()
        return []
    session.execute(
        _ADD_RESULTS,
        [
            {
                "submission_id": sid,
                "score": by_id[sid][1]["score"],
                "parts": by_id[sid][1]["parts"],
                "grader_version": by_id[sid][1]["grader_version"],
                "evidence": by_id[sid][1].get("evidence"),
                "latency_seconds": (now - by_id[sid][0].received_at).total_seconds(),
                "created_at": now,
            }
            for sid in written
        ],
    )
    marks.record(session, written)
    lms_grades.enqueue(session, written)
    session.commit()
    return written


def fail(session: Db, claim: Claim, reason: str) -> Status | None:
    """Record a failed try: back to queued, or error after MAX_TRIES; commits."""
    status = Status.error if claim.tries >= MAX_TRIES else Status.queued
    updated = _rowcount(
        session.execute(
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
        )
    )
    session.commit()
    return status if updated == 1 else None


class Outcome(enum.StrEnum):
    graded = "graded"
    skipped = "skipped"  # not queued: graded already, or another worker holds it
    failed = "failed"  # the grader raised; the row records why
    lost = "lost"  # the lease ran out and someone else took the row over


def grade_submissions(
    session: Db,
    ids: Sequence[uuid.UUID],
    lease_seconds: int,
    token: str | None = None,
    resume: str | None = None,
) -> dict[uuid.UUID, Outcome]:
    """Claim, grade with the engine and write the results; safe to run any number of times.

    One claim, one read of the variants not parsed yet and one write of all results, so
    a batch costs the database about what one submission would alone. A submission the
    grader fails on is recorded and retried alone; it does not hold back the others.
    ``token`` and ``resume`` are passed to ``claim``.
    """
    outcomes = dict.fromkeys(ids, Outcome.skipped)
    claims = claim(session, ids, lease_seconds, token, resume)
    if not claims:
        return outcomes
    problem_ids = {c.problem_id for c in claims}
    parsed = variants(session, problem_ids)
    policies = rules.problem_policies(session, problem_ids)
    graded = []
    for won in claims:
        try:
            variant, policy = parsed[won.problem_id], policies[won.problem_id]
            grade = ex.grade(variant, ex.parse_answers(variant, won.answers), policy).to_json()
            grade["grader_version"] = rules.version(variant.type, policy)
            # The student model's evidence is written with the result, in one statement.
            grade["evidence"] = learning.observe(variant, grade["parts"]).to_json()
            graded.append((won, grade))
        except Exception as exc:  # any failure is kept on the row and retried
            log.exception("grading submission %s failed (try %d)", won.submission_id, won.tries)
            fail(session, won, f"{type(exc).__name__}: {exc}"[:2000])
            outcomes[won.submission_id] = Outcome.failed
    written = set(finish(session, graded))
    for won, _ in graded:
        outcomes[won.submission_id] = (
            Outcome.graded if won.submission_id in written else Outcome.lost
        )
    return outcomes


def _held(claim: Claim) -> ColumnElement[bool]:
    return and_(
        Submission.id == claim.submission_id,
        Submission.status == Status.grading,
        Submission.claim_token == claim.token,
    )

