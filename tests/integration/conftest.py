"""Fixtures for the integration tests: a fresh PostgreSQL database migrated by
`backprop-quiz db upgrade`, a private redis-server, and the production shape as real
processes (`backprop-quiz serve` and two `backprop-quiz worker`)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from integrationkit import (
    BIN,
    Api,
    Process,
    RedisServer,
    Stack,
    base_env,
    cli,
    free_port,
    wait_for,
)
from sqlalchemy import make_url

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    """A new PostgreSQL database, migrated through the real CLI; dropped afterwards."""
    name = f"bpq_it_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    cli({**base_env(tmp_path), "DATABASE_URL": url}, "db", "upgrade")
    yield url
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def stack(postgres_url: str, redis_server: RedisServer, tmp_path: Path) -> Iterator[Stack]:
    env = {
        **base_env(tmp_path),
        "DATABASE_URL": postgres_url,
        "CELERY_BROKER_URL": redis_server.url,
    }
    port = free_port()
    web = Process(
        "web",
        [
            str(BIN),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
            "--threads",
            "8",
        ],
        env,
        tmp_path,
    )
    started = Stack(env, web, [], Api(f"http://127.0.0.1:{port}", ""), postgres_url, tmp_path)
    started.workers = [started.new_worker(f"worker-{i}").start() for i in (1, 2)]
    web.start()
    try:
        wait_for(started.api.healthy, 60, "the web app healthy")
        cli(
            env,
            "users",
            "create",
            "--email",
            "load@example.org",
            "--password",
            "load-test-pw",
            "--role",
            "student",
        )
        started.api.token = cli(env, "tokens", "create", "--email", "load@example.org")
        yield started
    finally:
        for process in (web, *started.workers):
            process.stop()
