"""The sweeper: a loop thread that puts lost grading work back on the broker.

It runs inside each worker (and inside the demo). Its selections are atomic UPDATEs,
so any number of sweepers can run against one database without double-publishing.
"""

from __future__ import annotations

import logging
import threading

from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from service import pipeline
from service.config import Settings

from .app import publish

log = logging.getLogger(__name__)


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

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.sweep_once()
            except Exception:  # a database outage must not end the loop
                log.exception("sweep failed; trying again in %.1f s", self.settings.sweep_interval)
            self._stopping.wait(self.settings.sweep_interval)

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self.is_alive():
            self.join(timeout)
