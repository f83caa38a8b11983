"""A Celery worker on threads of the current process, for the demo's in-memory broker.

kombu's memory transport lives in one process, so the demo runs its worker beside the
web server. The durable state is still the database: a killed demo loses queued
messages, and the sweeper publishes their rows again on the next start.
"""

from __future__ import annotations

import os
import socket
import threading

from .app import GradingCelery


class EmbeddedWorker:
    """Start and stop a thread-pool Celery worker inside this process."""

    def __init__(self, celery: GradingCelery, concurrency: int = 2, loglevel: str = "WARNING"):
        celery.engine  # noqa: B018 -- raises now, not in a task, if no engine is bound
        self._ready = threading.Event()
        self.controller = celery.WorkController(
            hostname=f"embedded.{os.getpid()}@{socket.gethostname()}",
            pool="threads",
            concurrency=concurrency,
            loglevel=loglevel,
            ready_callback=lambda *_: self._ready.set(),
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
        )
        self.thread = threading.Thread(target=self.controller.start, name="worker", daemon=True)

    def start(self, timeout: float = 30.0) -> None:
        """Start consuming; return once the worker is ready."""
        self.thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"the embedded worker was not ready within {timeout} s")

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the running tasks (warm shutdown) and stop."""
        self.controller.stop()
        self.thread.join(timeout)
