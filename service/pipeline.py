"""The grading pipeline over the database, which is its source of truth.

submit  -> the answers are read now (unreadable: AnswerFormatError, no attempt used),
           an attempt is taken and the row is added as ``queued``; the caller commits
           and only then publishes the id (an outbox: no task for an uncommitted row).
claim   -> one atomic conditional UPDATE moves a batch of queued rows to ``grading``
           under one lease; only one worker can win a row.
finish  -> each result is written once: a fenced UPDATE (same claim token) and a unique
           constraint on ``results.submission_id``, a whole batch in one transaction.
sweep   -> rows whose lease ran out go back to ``queued`` (or to ``error`` after
           MAX_TRIES claims); queued rows never published, or waiting too long, are
           handed back to be published again.

Every function takes a Session or a plain Connection (``Db``) and commits where its
contract says so; none of them knows about Flask or Celery.
"""

from __future__ import annotations

import enum
import logging
import os
import secrets
import socket
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from cachetools import LRUCache
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Float,
    Integer,
    String,
    Table,
    Uuid,
    and_,
    bindparam,
    column,
    extract,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import exercises as ex

from .caches import Locked
from .models import (
    UNGRADED,
    Assignment,
    Problem,
    Result,
    Slot,
    Status,
    Submission,
    UTCDateTime,
    utcnow,
)

MAX_TRIES = 3
SWEEP_BATCH = 1000  # rows per step of one sweep, so a huge backlog cannot stall a sweeper

log = logging.getLogger(__name__)

# The hot paths (submit, and everything a grading task does) run on a plain Connection:
# a Session's bookkeeping costs about as much as the statements. Both commit alike.
Db = Session | Connection


@contextmanager
def connect(engine: Engine) -> Iterator[Connection]:
    """A connection for the hot paths, committed at the end of the block (rolled back on error).

    On PostgreSQL it is in autocommit: each write of submit, claim and finish is a single
    statement there, hence a transaction of its own, and BEGIN and COMMIT would be two
    more round trips each. SQLite has no data-modifying CTEs, so there submit's two
    statements share the block's transaction.
    """
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection
        connection.commit()


VARIANT_CACHE_SIZE = 4096  # problems per process whose parsed variant is kept
_VARIANTS: Locked[uuid.UUID, ex.Variant] = Locked(LRUCache(VARIANT_CACHE_SIZE))


def parsed_variant(problem_id: uuid.UUID, record: dict[str, Any]) -> ex.Variant:
    """The problem's stored variant, parsed once per process.

    A problem's variant never changes once stored, and parsing a record (every mistake
    prediction into arrays or expressions) costs more than grading with it; the parsed
    variant also keeps the grader's per-variant caches warm.
    """
    variant = _VARIANTS.get(problem_id)
    if variant is None:
        variant = ex.Variant.from_record(record)
        _VARIANTS.put(problem_id, variant)
    return variant


class Refused(Exception):
    """The submission cannot be taken (no attempt is used)."""


class NoAttemptsLeft(Refused):
    """Every attempt the problem allows is used."""


class PastDue(Refused):
    """The problem's assignment was due."""


class ProblemGone(Refused):
    """The problem was deleted."""


@dataclass(frozen=True)
class Target:
    """What taking a submission needs to know of its problem; none of it ever changes."""

    id: uuid.UUID
    owner_id: int
    attempts_allowed: int | None
    variant: ex.Variant


_TARGETS: Locked[uuid.UUID, Target] = Locked(LRUCache(VARIANT_CACHE_SIZE))

# The hot paths speak Core, with statements built once: the ORM's unit of work, and
# building and keying a statement on every call, would cost more than the database does.
_problems = cast(Table, Problem.__table__)
_submissions = cast(Table, Submission.__table__)
_results = cast(Table, Result.__table__)

_TARGET = select(Problem.owner_id, Problem.attempts_allowed, Problem.variant).where(
    Problem.id == bindparam("problem_id")
)
_DUE = (
    select(Assignment.due_at)
    .join(Slot, Slot.assignment_id == Assignment.id)
    .where(Slot.id == _problems.c.slot_id)
    .scalar_subquery()
)
# One conditional UPDATE checks the attempt limit and the due date and numbers the
# attempt; the row lock it takes orders concurrent submissions to the same problem.
_TAKE_ATTEMPT = (
    update(_problems)
    .where(
        _problems.c.id == bindparam("problem_id"),
        or_(
            _problems.c.attempts_allowed.is_(None),
            _problems.c.attempts_used < _problems.c.attempts_allowed,
        ),
        func.coalesce(_DUE, bindparam("now", type_=UTCDateTime())) >= bindparam("now"),
    )
    .values(attempts_used=_problems.c.attempts_used + 1)
    .returning(_problems.c.attempts_used)
)
_REFUSAL = (
    select(Assignment.due_at)
    .select_from(Problem)
    .outerjoin(Slot, Slot.id == Problem.slot_id)
    .outerjoin(Assignment, Assignment.id == Slot.assignment_id)
    .where(Problem.id == bindparam("problem_id"))
)
# The new row's columns but its attempt. (No parameter is named like a column of the
# table it writes: SQLAlchemy would take it as one more column to set.)
_QUEUED_ROW = {
    "id": bindparam("submission_id", type_=Uuid()),
    "problem_id": bindparam("problem_id", type_=Uuid()),
    "user_id": bindparam("submitter", type_=Integer()),
    "answers": bindparam("raw_answers", type_=_submissions.c.answers.type),
    "status": literal(Status.queued, _submissions.c.status.type),
    "tries": literal(0),
    "received_at": bindparam("now", type_=UTCDateTime()),
    "queued_at": bindparam("queued", type_=UTCDateTime()),
    "published_at": bindparam("queued", type_=UTCDateTime()),
    "idempotency_key": bindparam("client_key", type_=String()),
}
# On PostgreSQL, taking the attempt and adding the row are one statement (a data-modifying
# CTE; SQLite has none): one round trip, and the row exists only if the attempt was taken.
_ATTEMPT = _TAKE_ATTEMPT.cte("attempt")
_SUBMIT = (
    insert(_submissions)
    .from_select([*_QUEUED_ROW, "attempt"], select(*_QUEUED_ROW.values(), _ATTEMPT.c.attempts_used))
    .returning(_submissions.c.attempt)
)
_ADD_SUBMISSION = insert(_submissions).from_select(  # the same row, where the attempt is known
    [*_QUEUED_ROW, "attempt"], select(*_QUEUED_ROW.values(), bindparam("attempt", type_=Integer()))
)


def target(session: Db, problem_id: uuid.UUID) -> Target | None:
    """The problem to submit to, or None; read once per process, as it never changes."""
    found = _TARGETS.get(problem_id)
    if found is not None:
        return found
    row = session.execute(_TARGET, {"problem_id": problem_id}).one_or_none()
    if row is None:
        return None
    owner_id, attempts_allowed, record = row
    found = Target(problem_id, owner_id, attempts_allowed, parsed_variant(problem_id, record))
    _TARGETS.put(problem_id, found)
    return found


def submit(
    session: Db,
    problem: Target,
    user_id: int,
    raw: Any,
    received_at: datetime,
    idempotency_key: str | None = None,
) -> uuid.UUID:
    """Read ``raw`` answers, use an attempt and add a queued row (not committed); its id.

    Raises AnswerFormatError before anything is written, and a Refused: NoAttemptsLeft,
    PastDue or ProblemGone. With an ``idempotency_key`` the row carries it, and a second
    row with the same user and key is an IntegrityError (see ``submit_once``).
    """
    ex.parse_answers(problem.variant, raw)
    row = {
        "submission_id": uuid.uuid4(),
        "problem_id": problem.id,
        "submitter": user_id,
        "raw_answers": raw,
        "now": received_at,
        "queued": utcnow(),
        "client_key": idempotency_key,
    }
    if _dialect(session) == "postgresql":
        attempt = session.execute(_SUBMIT, row).scalar()
    else:
        attempt = session.execute(
            _TAKE_ATTEMPT, {"problem_id": problem.id, "now": received_at}
        ).scalar()
        if attempt is not None:
            session.execute(_ADD_SUBMISSION, {**row, "attempt": attempt})
    if attempt is None:
        raise _refusal(session, problem, received_at)
    return row["submission_id"]


class KeyReused(Exception):
    """The Idempotency-Key names a submission of other answers, or to another problem."""


@dataclass(frozen=True)
class Accepted:
    """A submission taken under an Idempotency-Key: new, or the one the key already names."""

    id: uuid.UUID
    status: Status
    replayed: bool  # True: taken before, nothing written now


_KEYED = select(
    _submissions.c.id, _submissions.c.problem_id, _submissions.c.answers, _submissions.c.status
).where(
    _submissions.c.user_id == bindparam("submitter"),
    _submissions.c.idempotency_key == bindparam("client_key"),
)


def keyed_submission(session: Db, user_id: int, key: str) -> Any:
    """The user's submission under this key (id, problem_id, answers, status), or None."""
    return session.execute(_KEYED, {"submitter": user_id, "client_key": key}).one_or_none()


def submit_once(
    session: Db, problem: Target, user_id: int, raw: Any, received_at: datetime, key: str
) -> Accepted:
    """``submit`` under a client's Idempotency-Key: a retry gets the first row back.

    The same key from the same user, on the same problem with the same answers, returns
    the submission taken first and uses no attempt; the key on anything else raises
    KeyReused. Two retries racing past the look-up meet at the unique index on
    (user_id, idempotency_key): the loser's statement fails whole (on PostgreSQL the
    attempt it took is part of that statement; on SQLite its transaction is rolled
    back) and it answers with the winner's row.
    """
    found = _replayed(session, problem, user_id, raw, key)
    if found is not None:
        return found
    try:
        submission_id = submit(session, problem, user_id, raw, received_at, key)
        return Accepted(submission_id, Status.queued, replayed=False)
    except IntegrityError:
        session.rollback()
        found = _replayed(session, problem, user_id, raw, key)
        if found is None:
            raise
        return found


def _replayed(session: Db, problem: Target, user_id: int, raw: Any, key: str) -> Accepted | None:
    row = keyed_submission(session, user_id, key)
    if row is None:
        return None
    if row.problem_id != problem.id or row.answers != raw:
        raise KeyReused(
            "this Idempotency-Key was used for another submission (other answers or "
            "another problem); use a new key for new answers"
        )
    return Accepted(row.id, Status(row.status), replayed=True)


def _refusal(session: Db, problem: Target, now: datetime) -> Refused:
    """Why the attempt was not taken (a rare path: one more query to say which)."""
    row = session.execute(_REFUSAL, {"problem_id": problem.id}).one_or_none()
    if row is None:
        return ProblemGone("no such problem")
    (due_at,) = row
    if due_at is not None and now > due_at:
        return PastDue("the assignment was due; no more submissions")
    return NoAttemptsLeft(f"all {problem.attempts_allowed} attempts are used")


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


_QUEUED = and_(
    _submissions.c.id.in_(bindparam("ids", expanding=True)),
    _submissions.c.status == Status.queued,
)
# What a graded row no longer holds.
_RELEASED: dict[str, Any] = {"claim_token": None, "lease_expires_at": None, "reason": None}

# The rows are locked in a subquery joined once (UPDATE ... FROM), not tested with
# ``id IN (subquery)``: PostgreSQL plans that as a semi-join that runs the locking
# subquery again for every row: a claim of 100 rows took 15 ms, now 2.5 ms.
_LOCKED = (
    select(_submissions.c.id).where(_QUEUED).with_for_update(skip_locked=True).subquery("locked")
)
_CLAIM = (
    update(_submissions)
    .where(
        _submissions.c.id == _LOCKED.c.id,
        _submissions.c.status == Status.queued,  # re-checked on the locked row
    )
    .values(
        status=Status.grading,
        tries=_submissions.c.tries + 1,
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


def claim(session: Db, ids: Sequence[uuid.UUID], lease_seconds: int) -> list[Claim]:
    """Move the queued rows among ``ids`` to grading under one lease and commit.

    Rows that are not queued (graded, errored, held by another worker) are left alone;
    rows another claim is locking right now are skipped rather than waited for.
    """
    if not ids:
        return []
    now = utcnow()
    token = secrets.token_hex(16)
    rows = session.execute(
        _CLAIM,
        {
            "ids": list(ids),
            "token": token,
            "claimed_by": f"{socket.gethostname()}:{os.getpid()}",
            "lease_expires_at": now + timedelta(seconds=lease_seconds),
            "now": now,
        },
    ).all()
    session.commit()
    return [Claim(sid, token, *rest) for sid, *rest in rows]


_VARIANTS_OF = select(Problem.id, Problem.variant).where(
    Problem.id.in_(bindparam("ids", expanding=True))
)


def variants(session: Db, problem_ids: set[uuid.UUID]) -> dict[uuid.UUID, ex.Variant]:
    """The parsed variants of these problems; only those not parsed yet are read."""
    out = {pid: v for pid in problem_ids if (v := _VARIANTS.get(pid)) is not None}
    missing = problem_ids - out.keys()
    if missing:
        for pid, record in session.execute(_VARIANTS_OF, {"ids": list(missing)}):
            out[pid] = parsed_variant(pid, record)
    return out


def finish(session: Db, graded: Sequence[tuple[Claim, dict[str, Any]]]) -> list[uuid.UUID]:
    """Write each result and mark its row graded, once; return the ids written.

    A row is written only while its claim still holds (same token, still grading); the
    unique constraint on ``results.submission_id`` is the last guard.
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
    .returning(_submissions.c.id, _submissions.c.received_at, _BATCH.c.score, _BATCH.c.parts)
    .cte("graded")
)
_FINISH_BATCH = (
    insert(_results)
    .from_select(
        ["submission_id", "score", "parts", "latency_seconds", "created_at"],
        select(
            _GRADED.c.id,
            _GRADED.c.score,
            _GRADED.c.parts,
            extract("epoch", _NOW - _GRADED.c.received_at),
            _NOW,
        ),
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
            }
            for won, grade in graded
        ]
        written = list(session.scalars(_FINISH_BATCH, {"batch": batch, "now": now}))
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
                "latency_seconds": (now - by_id[sid][0].received_at).total_seconds(),
                "created_at": now,
            }
            for sid in written
        ],
    )
    session.commit()
    return written


def _dialect(session: Db) -> str:
    bind = session if isinstance(session, Connection) else session.get_bind()
    return bind.dialect.name


def fail(session: Db, claim: Claim, reason: str) -> Status | None:
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


def grade_submissions(
    session: Db, ids: Sequence[uuid.UUID], lease_seconds: int
) -> dict[uuid.UUID, Outcome]:
    """Claim, grade with the engine and write the results; safe to run any number of times.

    One claim, one read of the variants not parsed yet and one write of all results, so
    the database work of a batch costs about what one submission's did. A submission the
    grader fails on is recorded and retried alone; it does not hold back the others.
    """
    outcomes = dict.fromkeys(ids, Outcome.skipped)
    claims = claim(session, ids, lease_seconds)
    if not claims:
        return outcomes
    parsed = variants(session, {c.problem_id for c in claims})
    graded = []
    for won in claims:
        try:
            variant = parsed[won.problem_id]
            graded.append(
                (won, ex.grade(variant, ex.parse_answers(variant, won.answers)).to_json())
            )
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


@dataclass(frozen=True)
class Sweep:
    """What one sweep did, and the ids to hand to the broker now.

    ``requeued`` rows lost their lease: a worker died or timed out on their batch, so
    they go out one to a task, where a row that kills its grader takes only itself down.
    ``stale`` rows were never published, or waited too long; they go out in batches.
    """

    requeued: list[uuid.UUID]
    stale: list[uuid.UUID]
    errored: list[uuid.UUID]

    @property
    def publish(self) -> list[uuid.UUID]:
        return self.requeued + self.stale


def sweep(session: Session, requeue_after: float) -> Sweep:
    """Requeue expired leases (error after MAX_TRIES) and pick queued rows to republish; commits.

    Each step is one UPDATE whose WHERE re-checks the row, so sweepers running at the
    same time never pick the same row twice.
    """
    now = utcnow()
    # Every step names UNGRADED: it is what lets them read the few rows still in play
    # from their partial index rather than scan the table.
    expired = and_(UNGRADED, Submission.status == Status.grading, Submission.lease_expires_at < now)
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
            UNGRADED,
            Submission.status == Status.queued,
            or_(
                Submission.published_at.is_(None),
                Submission.published_at < now - timedelta(seconds=requeue_after),
            ),
        ),
        published_at=now,
    )
    session.commit()
    return Sweep(requeued=requeued, stale=stale, errored=errored)


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
