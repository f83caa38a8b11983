"""Celery tasks: thin shells over ``service.pipeline``; they take ids and are idempotent."""

from __future__ import annotations

import random
import secrets
import uuid
from collections import Counter

from celery import Task, shared_task
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from service import pipeline

from .app import GRADE_TASK, GradingCelery

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
