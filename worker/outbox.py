"""The web side's hand-over of committed submissions to the broker, batched.

A request commits its submission row, puts the id here and answers 202 at once. One
thread per process sends the ids as grading tasks, at most one task per ``interval``:
an id arriving after a quiet spell goes out at once and alone; under load the ids that
arrive within an interval share one task. A Celery task costs a worker a few
milliseconds whatever it carries (broker bookkeeping, the hand-over to the pool, one
claim and one commit), so at hundreds of submissions a second batching is what keeps
the workers ahead, for at most ``interval`` of extra latency.

Two signals of load make a batch wait longer than an interval, up to ``max_hold``:
- the CPUs short (``contention``, Linux's pressure stall information): while runnable
  tasks wait for a CPU most of the time, a batch keeps gathering until it is full. The
  web app and the workers then share a saturated CPU, which a task per interval would
  spend on Celery's per-task costs (a backlog drained in full batches costs the workers
  a quarter to a third of the CPU per submission that batches of 15 do); a machine that keeps
  up, as at a steady 200 submissions a second, waits only the interval.
- the workers behind: where the broker's queue can be read cheaply (``backlog``), the
  outbox clocks itself on the workers, as Nagle's algorithm does on a link: while tasks
  already sent still wait for a worker or run, new ids wait here and join one batch.

Nothing here is needed for safety: the rows are committed and ``queued`` before their
ids arrive, so ids the broker refuses are marked unpublished for the next sweep, and ids
a dying process still held are republished by the sweeper after ``requeue_after``.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from celery import Celery
from flask import Flask

from service import dispatch, pipeline
from service.db import sessions_of

from .app import MAX_BATCH, publish, publish_regrade

log = logging.getLogger(__name__)

IDLE_EXIT_SECONDS = 30.0  # an idle thread ends; the next put starts another
MAX_HOLD_SECONDS = 0.25  # the longest load holds ids back beyond the interval
# CPU contention (share of wall time some task waited for a CPU, smoothed over a second)
# above which batches fill: a saturated machine reads about 0.8 to 1, one that keeps up
# (a steady 200 submissions a second) below 0.5, even on a slow spell.
CONTENDED = 0.7
BACKLOG_RECHECK_SECONDS = 0.01  # while holding, how often the backlog is read again


class Clock(Protocol):
    """The outbox's time: what it reads, and how it waits (tests drive their own)."""

    def now(self) -> float:
        """Seconds, monotonic."""

    def wait(
        self, condition: threading.Condition, predicate: Callable[[], object], timeout: float
    ) -> bool:
        """With ``condition`` held: wait until ``predicate()`` is true or ``timeout`` seconds of
        this clock have passed (notified through ``condition``); the predicate's last value."""


class MonotonicClock:
    """Real time: ``time.monotonic`` and ``Condition.wait_for``."""

    def now(self) -> float:
        return time.monotonic()

    def wait(
        self, condition: threading.Condition, predicate: Callable[[], object], timeout: float
    ) -> bool:
        return bool(condition.wait_for(predicate, timeout=timeout))


def _unbound(ids: Sequence[uuid.UUID]) -> None:
    raise RuntimeError("Outbox.init_app(app) was not called: nowhere to mark ids unsent")


class Outbox:
    """Publish committed submission ids from a background thread, many to a task.

    Created unbound, then bound to a web app with ``init_app``: it becomes the app's
    ``service.dispatch.Dispatcher``, and marks what the broker refuses in the app's database.
    """

    def __init__(
        self,
        celery: Celery,
        on_unsent: Callable[[Sequence[uuid.UUID]], None] = _unbound,
        interval: float = 0.04,
        max_batch: int = MAX_BATCH,
        backlog: Callable[[], int] | None = None,
        max_hold: float = MAX_HOLD_SECONDS,
        contention: Callable[[], float] | None = None,
        clock: Clock | None = None,
    ):
        self.celery = celery
        self.on_unsent = on_unsent
        self.interval = interval
        self.max_batch = max_batch
        self.backlog = backlog  # tasks sent and not finished (waiting or running), if readable
        self.max_hold = max_hold
        self.contention = contention  # CPU contention, 0 to 1, if readable
        self.clock: Clock = clock or MonotonicClock()
        self._last_send = float("-inf")  # clock.now() of the last send
        self._pending: deque[uuid.UUID] = deque()
        self._sending = 0  # ids taken from _pending whose send has not returned yet
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._hurry = 0  # callers waiting in flush(): send without waiting for the interval
        self._exit_hook = False

    def init_app(self, app: Flask) -> None:
        """Be ``app``'s dispatcher; ids the broker refuses are marked in its database.

        Also registered as ``app.extensions["outbox"]``, and its Celery app as
        ``app.extensions["celery"]`` (the Flask/Celery convention), for tests and tools.
        """
        sessions = sessions_of(app)

        def unsent(ids: Sequence[uuid.UUID]) -> None:
            with sessions() as session:
                pipeline.mark_unpublished(session, ids)

        self.on_unsent = unsent
        dispatch.init_app(app, self)
        app.extensions["outbox"] = self
        app.extensions["celery"] = self.celery

    def broker_state(self) -> str:
        """"ok" if the broker takes a connection within 2 s, else "down: <error type>"."""
        try:
            with self.celery.connection_for_write() as connection:
                connection.ensure_connection(max_retries=0, timeout=2)
        except Exception as exc:  # noqa: BLE001 -- any failure is the state to report
            return f"down: {type(exc).__name__}"
        return "ok"

    def regrade(self, regrade_id: int) -> bool:
        """Publish the task that applies a started regrade, at once
        (``service.dispatch.Dispatcher.regrade``)."""
        return publish_regrade(self.celery, regrade_id)

    def notify(self, ids: Iterable[uuid.UUID]) -> None:
        """Queue these ids (their rows committed) for publishing; returns at once
        (``service.dispatch.Dispatcher.notify``)."""
        ids = list(ids)
        with self._changed:
            closed = self._closed
            if not closed:
                # Wake the thread only for what it waits on, a first id or a full batch:
                # a wake-up per request would cost each request a thread switch.
                if not self._pending or len(self._pending) + len(ids) >= self.max_batch:
                    self._changed.notify()
                self._pending.extend(ids)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
                self._thread.start()
                if not self._exit_hook:
                    # Send what is left when the process exits normally (gunicorn, demo).
                    atexit.register(self.close)
                    self._exit_hook = True
        if closed:  # shutting down: send in the caller's thread
            self._send(ids)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every id put so far was handed to the broker (or marked unsent)."""
        with self._changed:
            self._hurry += 1
            self._changed.notify_all()
            try:
                return self._changed.wait_for(
                    lambda: not self._pending and not self._sending, timeout=timeout
                )
            finally:
                self._hurry -= 1

    def close(self, timeout: float = 10.0) -> None:
        """Send what is pending, then stop the thread."""
        self.flush(timeout)
        with self._changed:
            self._closed = True
            self._changed.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _take(self) -> list[uuid.UUID] | None:
        """The next batch, waiting for one; None when the thread should end."""
        with self._changed:
            if not self.clock.wait(
                self._changed, lambda: self._pending or self._closed, IDLE_EXIT_SECONDS
            ) or (self._closed and not self._pending):
                self._thread = None
                self._changed.notify_all()
                return None
        # Gather what arrives until an interval has passed since the last send, and then
        # for as long as load holds it (a full batch, a flush or a close goes at once).
        started = self.clock.now()
        wait = self._last_send + self.interval - started
        while True:
            with self._changed:
                if self.clock.wait(self._changed, self._urgent, wait):
                    break
            held = self.clock.now() - started
            if held >= self.max_hold:
                break
            if self._contended():
                wait = self.max_hold - held  # the CPUs are short: let the batch fill
            elif self.backlog is not None and self._behind():
                wait = BACKLOG_RECHECK_SECONDS  # look again soon: a worker is about to be free
            else:
                break
        with self._changed:
            batch = [
                self._pending.popleft() for _ in range(min(self.max_batch, len(self._pending)))
            ]
            self._sending = len(batch)
            self._last_send = self.clock.now()
            return batch

    def _contended(self) -> bool:
        """True while the CPUs are saturated (never raises)."""
        if self.contention is None:
            return False
        try:
            return self.contention() >= CONTENDED
        except Exception:  # a reading is an optimisation: without one, send
            log.exception("could not read the CPU pressure")
            return False

    def _behind(self) -> bool:
        """True while tasks already sent wait for a worker or run (never raises)."""
        assert self.backlog is not None
        try:
            return self.backlog() > 0
        except Exception:  # a reading is an optimisation: without one, send
            log.exception("could not read the broker's backlog")
            return False

    def _urgent(self) -> bool:
        return len(self._pending) >= self.max_batch or bool(self._hurry) or self._closed

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            try:
                self._send(batch)
            finally:
                with self._changed:
                    self._sending = 0
                    self._changed.notify_all()

    def _send(self, ids: Sequence[uuid.UUID]) -> None:
        try:
            unsent = publish(self.celery, ids, self.max_batch)
            if unsent:
                self.on_unsent(unsent)
        except Exception:  # the rows stay queued; the sweeper sends them
            log.exception("could not hand %d submission(s) to the broker", len(ids))
