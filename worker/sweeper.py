"""The sweeper: a loop thread that puts lost grading work back on the broker, and hands
the LMS work (grade pushes, roster syncs) to the workers.

An applying regrade whose batches stop (its worker died) is published again once it has
made no progress for ``regrade_stall_seconds``.

It runs inside each worker (and inside the demo). Its selections are atomic UPDATEs,
so any number of sweepers can run against one database without double-publishing.

A grade push is a row written by grading; nothing publishes it but the sweeper, so a
score reaches the LMS about one sweep interval (``SWEEP_INTERVAL_SECONDS``, 5 s) after
its grading commits, plus the send: for a gradebook that is soon enough, and the rows,
not messages, carry the work through any crash or outage.
"""

from __future__ import annotations

import logging
import math
import threading

from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from service import pipeline, regrade
from service.config import Settings
from service.lms import grades, roster

from .app import PUSH_TASK, QUEUE, SYNC_TASK, publish, publish_regrade, regrade_stall_seconds
from .tasks import PUSH_BATCH

log = logging.getLogger(__name__)

# Push tasks published per sweep at most, each claiming PUSH_BATCH rows: a backlog drains
# over a few sweeps without flooding the queue the grading tasks share.
MAX_PUSH_TASKS = 4


class Sweeper(threading.Thread):
    """Every ``settings.sweep_interval`` seconds, sweep the submissions table once."""

    def __init__(self, sessions: sessionmaker[Session], celery: Celery, settings: Settings):
        super().__init__(name="sweeper", daemon=True)
        self.sessions = sessions
        self.celery = celery
        self.settings = settings
        self._stopping = threading.Event()

    def sweep_once(self) -> pipeline.Sweep:
        """One sweep: requeue, publish, and remember what could not be published."""
        with self.sessions() as session:
            result = pipeline.sweep(session, self.settings.requeue_after)
            # A row whose lease ran out may be what killed its worker: alone in its task.
            unsent = publish(self.celery, result.requeued, batch=1)
            unsent += publish(self.celery, result.stale)
            pipeline.mark_unpublished(session, unsent)
        if result.publish or result.errored:
            log.info(
                "sweep: %d republished, %d unsent, %d errored",
                len(result.publish) - len(unsent),
                len(unsent),
                len(result.errored),
            )
        return result

    def sweep_lms(self) -> tuple[int, int]:
        """Publish a push task per batch of due grade pushes, and a sync task per LMS
        course whose roster sync was asked for; returns how many of each were published.

        Push tasks claim their rows themselves, so a task published twice finds nothing
        left the second time; a sync request is claimed here (a lease on its row) and
        given back at once if the broker refuses it.
        """
        with self.sessions() as session:
            due = grades.due_count(session, PUSH_BATCH * MAX_PUSH_TASKS)
            contexts = roster.claim(session)
            pushes = math.ceil(due / PUSH_BATCH)
            try:
                for _ in range(pushes):
                    self.celery.send_task(PUSH_TASK, queue=QUEUE)
            except Exception as exc:  # noqa: BLE001 -- the rows stay due for the next sweep
                log.warning("broker unavailable, grade pushes wait for the next sweep: %s", exc)
                pushes = 0
            unsent: list[int] = []
            for n, context_pk in enumerate(contexts):
                try:
                    self.celery.send_task(SYNC_TASK, args=[context_pk], queue=QUEUE)
                except Exception as exc:  # noqa: BLE001 -- asked again just below
                    log.warning("broker unavailable, roster syncs wait: %s", exc)
                    unsent = contexts[n:]
                    break
            roster.request(session, unsent)
        return pushes, len(contexts) - len(unsent)

    def sweep_regrades(self) -> list[int]:
        """Publish the task of each applying regrade with no batch written for
        ``regrade_stall_seconds`` (its worker died, or its message was lost); returns the
        ids published. A duplicate is harmless: the task claims items, not messages."""
        with self.sessions() as session:
            ids = regrade.claim_stalled(session, regrade_stall_seconds(self.settings))
        published = [rid for rid in ids if publish_regrade(self.celery, rid)]
        if published:
            log.info("sweep: %d stalled regrade(s) published again", len(published))
        return published

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.sweep_once()
            except Exception:  # a database outage must not end the loop
                log.exception("sweep failed; trying again in %.1f s", self.settings.sweep_interval)
            try:
                self.sweep_lms()
            except Exception:  # nor an LMS step that failed
                log.exception(
                    "LMS sweep failed; trying again in %.1f s", self.settings.sweep_interval
                )
            try:
                self.sweep_regrades()
            except Exception:  # nor a regrade's
                log.exception(
                    "regrade sweep failed; trying again in %.1f s", self.settings.sweep_interval
                )
            self._stopping.wait(self.settings.sweep_interval)

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self.is_alive():
            self.join(timeout)
