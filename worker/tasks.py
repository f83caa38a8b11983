"""Celery tasks: thin shells over ``service.pipeline``; they take ids and are idempotent."""

from __future__ import annotations

import uuid

from celery import shared_task
from flask import current_app
from sqlalchemy.orm import Session

from service.db import db
from service.pipeline import grade_submission as grade

from .app import GRADE_TASK


@shared_task(name=GRADE_TASK)
def grade_submission(submission_id: str) -> str:
    """Grade one submission by id; a no-op if it is not queued (graded, or held elsewhere)."""
    settings = current_app.extensions["settings"]
    # One connection for the claim and the result: one pool checkout (and ping) per task.
    with db.engine.connect() as connection, Session(connection, expire_on_commit=False) as session:
        return grade(session, uuid.UUID(submission_id), settings.lease_seconds).value
