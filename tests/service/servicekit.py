"""Helpers shared by the service tests (a module of its own, so tests can import it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

import exercises as ex
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
    """Run the real grading task (through its Flask context) for every queued row, as a
    worker would."""
    celery = app.extensions["celery"]
    celery.loader.import_default_modules()
    with app.app_context():
        ids = list(
            db.session.scalars(select(Submission.id).where(Submission.status == Status.queued))
        )
        db.session.commit()  # SQLite: release the write lock the task will need
    if ids:
        celery.tasks[GRADE_TASK]([str(sid) for sid in ids])
