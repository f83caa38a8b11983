"""The Celery app: configured for no loss; its tasks use the database engine bound to it.

The broker only carries submission ids; the database row is the truth, so every
setting here trades duplicates (harmless: tasks are idempotent) for never losing one.
"""

from __future__ import annotations

import functools
import logging
import re
import time
import uuid
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

import redis
from celery import Celery
from sqlalchemy import Engine

from service.config import Settings

GRADE_TASK = "backprop_quiz.grade_submissions"
# LTI: send due grade pushes to the LMSs; sync one LMS course's roster (service.lms).
PUSH_TASK = "backprop_quiz.push_scores"
SYNC_TASK = "backprop_quiz.sync_roster"
REGRADE_TASK = "backprop_quiz.apply_regrade"
QUEUE = "grading"
# Ids per task at most: big enough that a busy pipeline pays Celery's and the database's
# per-task costs once per batch, small enough that a batch grades in milliseconds.
MAX_BATCH = 100

log = logging.getLogger(__name__)


class GradingCelery(Celery):
    """A Celery app with our settings and the database engine its tasks use in this process.

    The engine is bound by whoever runs tasks here, after any fork: each worker process
    makes its own (``worker.main``); the demo and tests share their web app's.
    """

    def __init__(self, settings: Settings, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.settings = settings
        self._engine: Engine | None = None

    def bind_engine(self, engine: Engine) -> None:
        """Run this process's tasks on ``engine``."""
        self._engine = engine

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("no database engine bound to this Celery app in this process")
        return self._engine


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings derived from ours."""
    return {
        "broker_url": settings.broker_url,
        # JSON only: a message is an id, never a pickle.
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        # The row is the result; nothing is stored in a result backend.
        "task_ignore_result": True,
        "result_backend": None,
        # Acknowledge after the task ran, and put the message back if the worker died,
        # so a message is never dropped with a crashed process.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": settings.soft_time_limit,
        "task_time_limit": settings.hard_time_limit,
        "task_default_queue": QUEUE,
        "task_create_missing_queues": True,
        # Redis re-delivers an unacknowledged message after this (read by kombu from here).
        "broker_transport_options": {
            "visibility_timeout": settings.visibility_timeout,
            "socket_connect_timeout": 2,
            "socket_timeout": 10,
            # The memory transport polls; at its 1 s default a full prefetch window waits
            # up to a second after each ack, capping the demo at a few tasks a second.
            **({"polling_interval": 0.01} if settings.embedded_broker else {}),
        },
        # Reconnect forever, with kombu's back-off (2 s, 4 s, ... up to 30 s).
        "broker_connection_retry": True,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "broker_connection_timeout": 2,
        # A publish that fails is not retried in the web request: the row stays queued
        # and the sweeper publishes it; a short retry covers a stale pooled connection.
        "task_publish_retry": True,
        "task_publish_retry_policy": {
            "max_retries": 1,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.2,
        },
        # A task running while the broker connection drops finishes; its ack is lost and
        # the message comes back, which the claim makes a no-op.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
    }


def make_celery(settings: Settings) -> GradingCelery:
    """A configured Celery app; ``worker.tasks`` is imported by the workers that run it."""
    celery = GradingCelery(settings, "backprop_quiz", include=["worker.tasks"])
    celery.conf.update(celery_config(settings))
    # Make it the default app: the worker's thread pool traces tasks through it.
    celery.set_default()
    return celery


def publish(celery: Celery, ids: Sequence[uuid.UUID], batch: int = MAX_BATCH) -> list[uuid.UUID]:
    """Send grading tasks for ``ids``, ``batch`` to a task; return the ids not sent (logged)."""
    for start in range(0, len(ids), batch):
        chunk = [str(i) for i in ids[start : start + batch]]
        try:
            celery.send_task(GRADE_TASK, args=[chunk], queue=QUEUE)
        except Exception as exc:  # noqa: BLE001 -- any broker failure: the sweeper sends later
            log.warning(
                "broker unavailable, %d submission(s) left queued: %s", len(ids) - start, exc
            )
            return list(ids[start:])
    return []


def publish_regrade(celery: Celery, regrade_id: int) -> bool:
    """Send the task that applies a started regrade; False if the broker refused it (the
    sweeper sends it once the regrade counts as stalled: ``regrade_stall_seconds``)."""
    try:
        celery.send_task(REGRADE_TASK, args=[regrade_id], queue=QUEUE)
    except Exception as exc:  # noqa: BLE001 -- any broker failure: the sweeper sends later
        log.warning("broker unavailable, regrade %d waits for the sweeper: %s", regrade_id, exc)
        return False
    return True


def regrade_stall_seconds(settings: Settings) -> float:
    """How long an applying regrade may go without a batch written before the sweeper
    publishes it again: twice the grading lease (a batch takes well under a second, and a
    task that died holding one lets it go when its transaction is rolled back)."""
    return 2.0 * settings.lease_seconds


# A task a worker took this long ago and has not acknowledged is taken as lost, not busy
# (kombu gives it back only after the visibility timeout).
RUNNING_WINDOW_SECONDS = 5.0


# The kombu releases whose Redis transport was checked to keep the unacknowledged
# deliveries in a sorted set of this name, scored by delivery time (a private detail).
UNACKED_INDEX = "unacked_index"
KOMBU_TESTED = ((5, 4), (5, 8))  # from 5.4 up to, not including, 5.8


@functools.cache
def kombu_tested() -> bool:
    """True if the installed kombu is one whose private queue layout we read (logs once)."""
    version = metadata.version("kombu")
    found = re.match(r"(\d+)\.(\d+)", version)
    low, high = KOMBU_TESTED
    if found is not None and low <= (int(found[1]), int(found[2])) < high:
        return True
    log.warning(
        "kombu %s is outside the versions whose Redis queue layout the outbox reads "
        "(%d.%d to %d.%d): it sends without reading the workers' backlog",
        version,
        *low,
        *high,
    )
    return False


def broker_backlog(settings: Settings) -> Callable[[], int] | None:
    """A cheap reading of the grading tasks sent and not finished: waiting or running.

    On Redis, kombu keeps a queue's waiting messages (of the default priority) in a list
    named after the queue, and the ones delivered to a worker and not acknowledged yet
    (``task_acks_late``: still running) in a sorted set scored by delivery time. One
    round trip of LLEN and ZCOUNT on a client of our own reads both, for a fraction of a
    millisecond of CPU (kombu's passive ``queue_declare`` costs several times that, and
    counts only the waiting ones). That layout is kombu's private detail, so it is read
    only on the kombu versions it was checked on (``KOMBU_TESTED``). None for the other
    brokers (the in-process memory broker, AMQP) and other kombu versions: the outbox
    then sends without waiting for the workers. A failed reading is 0: the ids go out,
    and whatever the broker refuses is left for the sweeper as always.
    """
    if urlsplit(settings.broker_url).scheme not in ("redis", "rediss") or not kombu_tested():
        return None
    client = redis.Redis.from_url(settings.broker_url, socket_connect_timeout=1, socket_timeout=1)
    running = UNACKED_INDEX

    def backlog() -> int:
        try:
            with client.pipeline(transaction=False) as pipe:
                pipe.llen(QUEUE)
                pipe.zcount(running, time.time() - RUNNING_WINDOW_SECONDS, "+inf")
                return sum(pipe.execute())
        except redis.RedisError:
            return 0

    return backlog
