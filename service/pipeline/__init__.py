"""The grading pipeline over the database, which is its source of truth.

submit  -> the answers are read now (unreadable: AnswerFormatError, no attempt used),
           an attempt is taken and the row is added as ``queued``; the caller commits
           and only then publishes the id (an outbox: no task for an uncommitted row).
claim   -> one atomic conditional UPDATE moves a batch of queued rows to ``grading``
           under one lease; only one worker can win a row.
finish  -> each result is written once: a fenced UPDATE (same claim token) and the unique
           index of current results (one per submission), a whole batch in one transaction.
sweep   -> rows whose lease ran out go back to ``queued`` (or to ``error`` after
           MAX_TRIES claims); queued rows never published, or waiting too long, are
           handed back to be published again.

Every function takes a Session or a plain Connection (``Db``) and commits where its
contract says so; none of them knows about Flask or Celery.

The stages live in this package's modules: ``store`` (what they share), this module
(the intake: submit), ``grading`` (claim, grade, finish, fail) and ``sweeps``; callers
import them all from here (``from service import pipeline``).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cachetools import LRUCache
from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    Uuid,
    bindparam,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

import exercises as ex

from ..caches import Locked
from ..models import (
    Assignment,
    CourseRole,
    Enrollment,
    LatePolicy,
    Override,
    Problem,
    Role,
    Slot,
    Status,
    User,
    UTCDateTime,
    utcnow,
)
from .grading import (
    MAX_TRIES,
    Claim,
    Outcome,
    claim,
    fail,
    finish,
    grade_submissions,
    variants,
)
from .store import PROBLEMS as _problems
from .store import SUBMISSIONS as _submissions
from .store import VARIANT_CACHE_SIZE, Db, connect, parsed_variant
from .store import dialect as _dialect
from .sweeps import SWEEP_BATCH, Sweep, mark_unpublished, retry, sweep

__all__ = [
    "MAX_TRIES",
    "SWEEP_BATCH",
    "VARIANT_CACHE_SIZE",
    "Accepted",
    "Claim",
    "Db",
    "KeyReused",
    "NoAttemptsLeft",
    "NotOpen",
    "Outcome",
    "PastDue",
    "ProblemGone",
    "Refused",
    "Sweep",
    "Target",
    "claim",
    "connect",
    "fail",
    "finish",
    "grade_submissions",
    "keyed_submission",
    "mark_unpublished",
    "parsed_variant",
    "retry",
    "submit",
    "submit_once",
    "sweep",
    "target",
    "variants",
]

log = logging.getLogger(__name__)

class Refused(Exception):
    """The submission cannot be taken (no attempt is used)."""


class NoAttemptsLeft(Refused):
    """Every attempt the problem allows is used."""


class PastDue(Refused):
    """The problem's assignment was due."""


class NotOpen(Refused):
    """The problem's assignment is unpublished or not open yet: to its students, it is not
    there."""


class ProblemGone(Refused):
    """The problem was deleted."""


@dataclass(frozen=True)
class Target:
    """What taking a submission needs to know of its problem, read once per process.

    ``attempts_allowed`` may since have grown (an override, a policy edit): the intake's
    UPDATE reads the column, never this copy."""

    id: uuid.UUID
    owner_id: int
    attempts_allowed: int | None
    variant: ex.Variant


_TARGETS: Locked[uuid.UUID, Target] = Locked(LRUCache(VARIANT_CACHE_SIZE))

_TARGET = select(Problem.owner_id, Problem.attempts_allowed, Problem.variant).where(
    Problem.id == bindparam("problem_id")
)
# The owner's due date where it closes the assignment: their override's, else the
# assignment's, and only under the ``closed`` late policy (other policies take late work
# and let ``marks.credit`` price it); NULL, no limit.
_DUE = (
    select(func.coalesce(Override.due_at, Assignment.due_at))
    .select_from(Slot)
    .join(Assignment, Assignment.id == Slot.assignment_id)
    .outerjoin(
        Override,
        (Override.assignment_id == Assignment.id) & (Override.user_id == _problems.c.owner_id),
    )
    .where(Slot.id == _problems.c.slot_id, Assignment.late_policy == LatePolicy.closed)
    .scalar_subquery()
)
# An assignment students cannot see yet (unpublished, or before it opens) takes nothing
# from them, even on a problem drawn while it was visible; its staff, previewing it as a
# student would, may still submit.
_OWNER_IS_STAFF = or_(
    exists(
        select(Enrollment.id).where(
            Enrollment.course_id == Assignment.course_id,
            Enrollment.user_id == _problems.c.owner_id,
            Enrollment.role != CourseRole.student,
        )
    ),
    exists(select(User.id).where(User.id == _problems.c.owner_id, User.role == Role.admin)),
)
_HIDDEN = exists(
    select(Assignment.id)
    .join(Slot, Slot.assignment_id == Assignment.id)
    .where(
        Slot.id == _problems.c.slot_id,
        or_(
            Assignment.published.is_(False),
            func.coalesce(Assignment.opens_at, bindparam("now", type_=UTCDateTime()))
            > bindparam("now"),
        ),
        ~_OWNER_IS_STAFF,
    )
)
# One conditional UPDATE checks the attempt limit, the due date and that the assignment
# is open, and numbers the attempt; the row lock it takes orders concurrent submissions
# to the same problem.
_TAKE_ATTEMPT = (
    update(_problems)
    .where(
        _problems.c.id == bindparam("problem_id"),
        or_(
            _problems.c.attempts_allowed.is_(None),
            _problems.c.attempts_used < _problems.c.attempts_allowed,
        ),
        func.coalesce(_DUE, bindparam("now", type_=UTCDateTime())) >= bindparam("now"),
        ~_HIDDEN,
    )
    .values(attempts_used=_problems.c.attempts_used + 1)
    .returning(_problems.c.attempts_used)
)
_REFUSAL = (
    select(
        Problem.attempts_allowed,
        func.coalesce(Override.due_at, Assignment.due_at),
        Assignment.late_policy,
        Assignment.published,
        Assignment.opens_at,
    )
    .select_from(Problem)
    .outerjoin(Slot, Slot.id == Problem.slot_id)
    .outerjoin(Assignment, Assignment.id == Slot.assignment_id)
    .outerjoin(
        Override,
        (Override.assignment_id == Assignment.id) & (Override.user_id == Problem.owner_id),
    )
    .where(Problem.id == bindparam("problem_id"))
)
# The new row's columns but its attempt. (No parameter is named like a column of the
# table it writes: SQLAlchemy would take it as one more column to set.)
_QUEUED_ROW: dict[str, ColumnElement[Any]] = {
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
    attempts_allowed, due_at, late_policy, published, opens_at = row
    if published is False or (opens_at is not None and now < opens_at):
        return NotOpen("no such problem")
    if late_policy == LatePolicy.closed and due_at is not None and now > due_at:
        return PastDue("the assignment was due; no more submissions")
    return NoAttemptsLeft(f"all {attempts_allowed} attempts are used")
