"""Helpers shared by the service tests (a module of its own, so tests can import it)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select

import exercises as ex
from service.cli import main
from service.config import Settings
from service.db import db
from service.models import Problem, Status, Submission
from worker.app import GRADE_TASK

PASSWORD = "correct horse battery"


@dataclass
class Caller:
    """A user and an API client speaking for them with a bearer token."""

    user_id: int
    email: str
    token: str
    client: FlaskClient

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self._call("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self._call("POST", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self._call("DELETE", path, **kwargs)


def make_course(
    teacher: Caller, students: list[Caller], assignment: dict[str, Any],
    code: str = "NN1", title: str = "Neural nets",
) -> tuple[int, dict[str, Any]]:
    """A course the teacher creates and teaches, the students enrolled, and one assignment
    (its create body); returns the course id and the assignment as created."""
    created = teacher.post("/api/v1/courses", json={"code": code, "title": title})
    assert created.status_code == 201 and created.json["role"] == "instructor"
    cid: int = created.json["id"]
    for student in students:
        enrolled = teacher.post(f"/api/v1/courses/{cid}/roster", json={"email": student.email})
        assert enrolled.status_code == 201
    made = teacher.post(f"/api/v1/courses/{cid}/assignments", json=assignment)
    assert made.status_code == 201, made.json
    return cid, made.json


@contextmanager
def statements_run(app: Flask) -> Iterator[list[str]]:
    """The SQL statements the app's engine sends while the block runs, in order."""
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def cli_env(settings: Settings) -> dict[str, str]:
    """The environment a CLI command needs to reach the test's instance and database."""
    return {"INSTANCE_PATH": str(settings.instance_path), "DATABASE_URL": settings.database_url}


def create_user_command(
    runner: CliRunner, env: dict[str, str], role: str, *options: str,
    email: str = "t@example.org",
) -> Result:
    """``users create`` with the shared test password, as the CLI is invoked."""
    return runner.invoke(
        main,
        ["users", "create", "--email", email, "--password", PASSWORD, "--role", role, *options],
        env=env,
    )


def practice_problem(seed: int, **owner: Any) -> Problem:
    """A new (unsaved) practice problem: a weight-gradient variant, unlimited attempts.

    ``owner`` is ``owner_id=...`` or ``owner=<User>``, and any other column to set.
    """
    variant = ex.generate("weight-gradient", seed, 1)
    return Problem(
        type=variant.type,
        type_version=variant.type_version,
        seed=seed,
        difficulty=1,
        variant=variant.to_record(),
        attempts_allowed=None,
        **owner,
    )


def grade_queued(app: Flask) -> None:
    """Run the real grading task, in this process on the app's engine, for every queued
    row, as a worker would."""
    celery = app.extensions["celery"]
    celery.loader.import_default_modules()
    with app.app_context():
        ids = list(
            db.session.scalars(select(Submission.id).where(Submission.status == Status.queued))
        )
        db.session.commit()  # SQLite: release the write lock the task will need
    if ids:
        celery.tasks[GRADE_TASK]([str(sid) for sid in ids])


CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the form on ``path``, as a browser would post it back."""
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    match = CSRF_FIELD.search(page.get_data(as_text=True))
    assert match, f"no CSRF field on {path}"
    return match.group(1)


def log_in(client: FlaskClient, email: str) -> FlaskClient:
    """The client with a session cookie for the pages, made by the login form."""
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def sign_in(caller: Caller) -> FlaskClient:
    """The caller's client with a session cookie (pages), besides its bearer token (API)."""
    return log_in(caller.client, caller.email)

