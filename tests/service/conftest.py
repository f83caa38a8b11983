"""Fixtures for the service's unit tests: an app on a migrated database, clients, users.

Every test that touches the database runs twice: on SQLite, and (marked ``integration``)
on the PostgreSQL at $TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres),
each time on a fresh database copied from one the Alembic migrations made (never create_all).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from servicekit import PASSWORD, Caller
from sqlalchemy import make_url

from service import auth
from service.config import Settings, load_settings
from service.db import db, upgrade
from service.models import Role
from service.wsgi import build_app

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _admin() -> psycopg.Connection:
    return psycopg.connect(ADMIN_URL, autocommit=True)


def _pg_url(name: str) -> str:
    return (
        make_url(ADMIN_URL)
        .set(drivername="postgresql+psycopg", database=name)
        .render_as_string(hide_password=False)
    )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite file to copy."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    return str(path)


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated PostgreSQL database to clone (CREATE DATABASE ... TEMPLATE)."""
    name = f"bpq_template_{uuid.uuid4().hex[:8]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    upgrade(_pg_url(name))
    yield name
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh migrated database for one test, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("postgres_template")
    name = f"bpq_test_{uuid.uuid4().hex[:12]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield _pg_url(name)
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        {
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret-key-0123456789",
            "GRADING_LEASE_SECONDS": "10",
            "GRADING_SOFT_TIME_LIMIT": "4",
            "GRADING_TIME_LIMIT": "5",
            "SWEEP_REQUEUE_AFTER_SECONDS": "30",
        }
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    """The web app as ``serve`` builds it: the worker's outbox bound, a Celery app in
    ``app.extensions["celery"]`` whose tasks run here on the app's engine."""
    app = build_app(settings)
    app.config["TESTING"] = True
    # The embedded broker's queues live as long as the process: drop what earlier tests
    # published and never graded, so this test's worker sees only this test's tasks.
    app.extensions["celery"].control.purge()
    yield app
    app.extensions["db"].kw["bind"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def ctx(app: Flask) -> Iterator[None]:
    """An app context for tests that use ``db.session`` directly."""
    with app.app_context():
        yield


@pytest.fixture
def make_caller(app: Flask) -> Callable[..., Caller]:
    """Create a user with a token; ``make_caller("instructor")``."""
    count = iter(range(1, 10_000))

    def make(role: str = "student", email: str | None = None) -> Caller:
        email = email or f"{role}{next(count)}@example.org"
        with app.app_context():
            user = auth.create_user(email, PASSWORD, Role(role), name=role.title())
            token = auth.issue_token(user)
            db.session.commit()
            user_id = user.id
        return Caller(user_id, email, token, app.test_client())

    return make


@pytest.fixture
def student(make_caller: Callable[..., Caller]) -> Caller:
    return make_caller("student")


@pytest.fixture
def instructor(make_caller: Callable[..., Caller]) -> Caller:
    return make_caller("instructor")
