"""Celery tasks: thin shells over ``service.pipeline`` and ``service.lms``; they take ids
(or claim their rows themselves) and are idempotent."""

from __future__ import annotations

import logging
import random
import secrets
import uuid
from collections import Counter

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from service import pipeline, regrade
from service.lms import grades, roster
from service.lms.services import ServiceError

from .app import GRADE_TASK, PUSH_TASK, REGRADE_TASK, SYNC_TASK, GradingCelery

log = logging.getLogger(__name__)

# A database error that a moment later may not recur: a dropped connection, a restart,
# a failover, a full pool. The task tries again itself, a few times with growing pauses,
# rather than leave its rows to the lease and the sweeper.
TRANSIENT = (OperationalError, InterfaceError, PoolTimeout)
MAX_RETRIES = 5
RETRY_BASE_SECONDS = 0.5  # the first pause is at most this; each later one at most doubles
RETRY_CAP_SECONDS = 10.0


def transient(exc: BaseException) -> bool:
    """True for database errors worth trying again soon (never for a bad statement)."""
    return isinstance(exc, TRANSIENT) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


def backoff(retries: int) -> float:
    """Seconds before retry number ``retries + 1``: full jitter over an exponential bound,
    so tasks failed by one outage do not all come back at the same instant."""
    return random.uniform(0, min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2**retries))


def _celery(task: Task) -> GradingCelery:
    celery = task.app
    if not isinstance(celery, GradingCelery):
        raise RuntimeError("our tasks run on worker.app.make_celery's app")
    return celery


@shared_task(name=GRADE_TASK, bind=True, max_retries=MAX_RETRIES)
def grade_submissions(
    self: Task, submission_ids: list[str], resume: str | None = None
) -> dict[str, int]:
    """Grade a batch of submissions by id; those not queued (graded, held elsewhere) are skipped.

    ``resume`` is the claim token of this task's previous try, which a transient database
    error cut short: the rows that try claimed are taken over at once (fenced by the
    token, so a row graded meanwhile stays graded) instead of waiting for their lease to
    run out. Returns how many ended each way (for the log; results are ignored).
    """
    celery = self.app
    if not isinstance(celery, GradingCelery):
        raise RuntimeError("grading tasks run on worker.app.make_celery's app")
    ids = [uuid.UUID(i) for i in submission_ids]
    token = secrets.token_hex(16)
    try:
        # One connection for the claim and the results: one pool checkout (and ping) per batch.
        with pipeline.connect(celery.engine) as connection:
            outcomes = pipeline.grade_submissions(
                connection, ids, celery.settings.lease_seconds, token=token, resume=resume
            )
    except (DBAPIError, PoolTimeout) as exc:
        if not transient(exc):
            raise
        # Called directly (not through a worker), retry() raises ``exc`` itself.
        raise self.retry(
            exc=exc,
            args=(submission_ids,),
            kwargs={"resume": token},
            countdown=backoff(self.request.retries),
        ) from exc
    return dict(Counter(o.value for o in outcomes.values()))


# --- LTI: grades back to the LMS, and its rosters ---------------------------------------

PUSH_BATCH = 20  # rows one push task claims
PUSH_BUDGET_SECONDS = 60.0  # no new send starts after this; the rest go back to the table
# A send makes at most six requests (token, line items, new line item, score, and a new
# token and the score again after a 401) of at most 20 s each: the limits leave room for
# the budget plus one send, and the lease (grades.LEASE_SECONDS) outlives them.
PUSH_SOFT_LIMIT = 240
PUSH_HARD_LIMIT = 270
# A failed push is tried again after a minute, then 2, 4, ... up to an hour, each pause
# drawn between half and all of that (equal jitter: never at once, never all together).
PUSH_RETRY_BASE_SECONDS = 60.0
PUSH_RETRY_CAP_SECONDS = 3600.0
SYNC_SOFT_LIMIT = 300  # roster.BUDGET_SECONDS to read the pages, then the writes
SYNC_HARD_LIMIT = 330


def push_backoff(attempts: int) -> float:
    """Seconds before a push that failed ``attempts`` times is tried again: as ``backoff``,
    an exponential bound with jitter, but never less than half the bound (a platform
    that is down gets a real pause)."""
    bound = min(PUSH_RETRY_CAP_SECONDS, PUSH_RETRY_BASE_SECONDS * 2 ** (attempts - 1))
    return random.uniform(bound / 2, bound)


@shared_task(name=PUSH_TASK, bind=True, soft_time_limit=PUSH_SOFT_LIMIT, time_limit=PUSH_HARD_LIMIT)
def push_scores(self: Task) -> dict[str, int]:
    """Claim up to PUSH_BATCH due grade pushes and send them (``grades.deliver``).

    The sweeper publishes this task while rows are due; rows, not messages, are the
    work, so a duplicate or lost message costs nothing: a duplicate finds nothing left to
    claim, and rows a lost task held are due again when their lease runs out.
    """
    celery = _celery(self)
    with Session(celery.engine, expire_on_commit=False) as session:
        claimed = grades.claim(session, PUSH_BATCH)
        if not claimed:
            return {}
        return grades.deliver(
            session,
            claimed,
            attempts_allowed=celery.settings.lti_push_attempts,
            backoff=push_backoff,
            budget_seconds=PUSH_BUDGET_SECONDS,
            interrupts=(SoftTimeLimitExceeded,),
        )


@shared_task(name=SYNC_TASK, bind=True, soft_time_limit=SYNC_SOFT_LIMIT, time_limit=SYNC_HARD_LIMIT)
def sync_roster(self: Task, context_pk: int) -> dict[str, int]:
    """Sync one LMS course's roster (``roster.sync``), claimed by the sweeper. A failure
    leaves the request claimed: it is tried again when the claim's lease runs out."""
    celery = _celery(self)
    with Session(celery.engine, expire_on_commit=False) as session:
        try:
            done = roster.sync(session, context_pk)
        except ServiceError as exc:
            session.rollback()
            log.warning("roster sync of LMS course %d failed: %s", context_pk, exc)
            return {"failed": 1}
    return {"listed": done.listed, "enrolled": done.enrolled, "left": done.left}


# --- regrades ------------------------------------------------------------------------------

# A regrade is applied in batches of regrade.APPLY_BATCH, each a transaction of well under a
# second; the limits bound one task, and what it leaves is published again by the sweeper.
REGRADE_SOFT_LIMIT = 600
REGRADE_HARD_LIMIT = 660


@shared_task(
    name=REGRADE_TASK,
    bind=True,
    max_retries=MAX_RETRIES,
    soft_time_limit=REGRADE_SOFT_LIMIT,
    time_limit=REGRADE_HARD_LIMIT,
)
def apply_regrade(self: Task, regrade_id: int, size: int | None = None) -> dict[str, int]:
    """Apply a started regrade's pending items, batch after batch of ``size`` (default
    ``regrade.APPLY_BATCH``) with ``regrade.run``.

    Idempotent: items are written once (each batch one transaction, fenced), so a
    duplicate message, or one for a regrade applied already, finds nothing left to do.
    A regrade not started (or discarded) is logged and left alone.
    """
    celery = _celery(self)
    try:
        with Session(celery.engine, expire_on_commit=False) as session:
            return regrade.run(session, regrade_id, size=size or regrade.APPLY_BATCH)
    except regrade.RegradeError as exc:
        log.warning("regrade %d not applied: %s", regrade_id, exc)
        return {}
    except (DBAPIError, PoolTimeout) as exc:
        if not transient(exc):
            raise
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc
