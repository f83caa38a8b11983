"""The outbox's reading of the broker against a real redis-server: Celery's own messages
waiting in the queue, and the ones a consumer took and has not acknowledged, count."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from integrationkit import RedisServer, free_port
from kombu import Queue

from service.config import load_settings
from worker.app import QUEUE, broker_backlog, make_celery, publish

pytestmark = pytest.mark.integration


def settings_for(broker_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    return load_settings(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
            "CELERY_BROKER_URL": broker_url,
        }
    )


def test_waiting_and_running_tasks_are_the_backlog(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    settings = settings_for(redis_server.url, tmp_path)
    celery = make_celery(settings)
    backlog = broker_backlog(settings)
    assert backlog is not None and backlog() == 0
    assert publish(celery, [uuid.uuid4() for _ in range(5)], batch=2) == []
    assert backlog() == 3  # three tasks (2 + 2 + 1 ids) wait for a worker

    with celery.connection_for_read() as connection:
        queue = Queue(QUEUE)(connection.default_channel)
        taken = queue.get(no_ack=False)  # as a worker with acks_late: delivered, running
        assert taken is not None and taken.headers["task"] == "backprop_quiz.grade_submissions"
        assert backlog() == 3  # two waiting, one running
        taken.ack()  # the task finished
        assert backlog() == 2


def test_an_unreachable_broker_reads_as_no_backlog(tmp_path: Path) -> None:
    settings = settings_for(f"redis://127.0.0.1:{free_port()}/0", tmp_path)
    backlog = broker_backlog(settings)
    assert backlog is not None and backlog() == 0  # the ids go out and the sweeper has the rest


def test_the_memory_broker_has_no_reading(tmp_path: Path) -> None:
    assert broker_backlog(load_settings({"INSTANCE_PATH": str(tmp_path)})) is None
