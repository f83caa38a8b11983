"""Fixtures for the LTI tests: the real tool and a real platform talking over HTTP.

``tool`` is the product as ``backprop-quiz demo`` composes it (the web app with the
worker's outbox, a real Celery worker on threads of this process, the sweeper), served by
werkzeug on 127.0.0.1, on a migrated SQLite file and (marked ``integration``) on a
PostgreSQL database. ``lms`` is the platform of ``lmsim``. Both live for a test module;
a test makes its own users, contexts and links so the tests of a module do not meet.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from lmsim import Lms
from ltikit import Tool, tell
from sqlalchemy import make_url
from werkzeug.serving import BaseWSGIServer, make_server

from service.config import load_settings
from service.db import sessions_of, upgrade
from service.models import LtiDeployment, LtiPlatform
from service.wsgi import build_app
from worker.app import make_celery
from worker.embedded import EmbeddedWorker
from worker.sweeper import Sweeper

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
)
def tool_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A freshly migrated database for one module's tool."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('lti') / 'tool.sqlite3'}"
        upgrade(url)
        yield url
        return
    name = f"bpq_lti_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(ADMIN_URL).set(drivername="postgresql+psycopg", database=name)
    rendered = url.render_as_string(hide_password=False)
    upgrade(rendered)
    yield rendered
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def tool(tool_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tool]:
    settings = load_settings(
        {
            "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance")),
            "DATABASE_URL": tool_database,
            "CELERY_BROKER_URL": "embedded",
            "SECRET_KEY": "lti-test-secret-key-0123456789",
            "SWEEP_INTERVAL_SECONDS": "0.5",
            "LTI_PUSH_ATTEMPTS": "4",
        }
    )
    celery = make_celery(settings)
    celery.control.purge()  # the embedded broker outlives a module: start empty
    app = build_app(settings, celery)
    grader = EmbeddedWorker(celery, concurrency=2)
    grader.start()
    sweeper = Sweeper(sessions_of(app), celery, settings)
    sweeper.start()
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Tool(app, celery, f"http://127.0.0.1:{server.port}")
    server.shutdown()
    server.server_close()
    sweeper.stop()
    grader.stop()
    sessions_of(app).kw["bind"].dispose()


@pytest.fixture(scope="module")
def lms() -> Iterator[Lms]:
    platform = Lms().start()
    yield platform
    platform.stop()


@pytest.fixture(scope="module")
def registered(tool: Tool, lms: Lms) -> LtiPlatform:
    """The platform registered with the tool by hand (as ``lti platforms add`` does), and
    the tool's URLs told to the platform."""
    with tool.db() as session:
        platform = LtiPlatform(
            issuer=lms.issuer,
            client_id=lms.client_id,
            name="Test LMS",
            auth_login_url=f"{lms.url}/auth",
            auth_token_url=f"{lms.url}/token",
            jwks_url=f"{lms.url}/jwks",
            deployments=[LtiDeployment(deployment_id=lms.deployment_id)],
        )
        session.add(platform)
        session.commit()
        session.refresh(platform)
        session.expunge(platform)
    tell(lms, tool)
    return platform
