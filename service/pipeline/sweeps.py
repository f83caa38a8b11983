"""The sweep: leases that ran out, rows never published or waiting too long; and the
explicit retry of an errored submission."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from ..models import (
    UNGRADED,
    Status,
    Submission,
    utcnow,
)
from .grading import MAX_TRIES
from .store import rowcount as _rowcount

log = logging.getLogger(__name__)

SWEEP_BATCH = 1000  # rows per step of one sweep, so a huge backlog cannot stall a sweeper



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
    updated = _rowcount(
        session.execute(
            update(Submission)
            .where(Submission.id == submission.id, Submission.status == Status.error)
            .values(status=Status.queued, tries=0, reason=None, queued_at=now, published_at=now)
            .execution_options(synchronize_session=False)
        )
    )
    session.commit()
    session.refresh(submission)
    return updated == 1
