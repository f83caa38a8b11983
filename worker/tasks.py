"""Celery tasks: thin shells over ``service.pipeline``; they take ids and are idempotent."""

from __future__ import annotations

import uuid
from collections import Counter

from celery import shared_task
from flask import current_app

from service import pipeline
from service.db import db

from .app import GRADE_TASK


@shared_task(name=GRADE_TASK)
def grade_submissions(submission_ids: list[str]) -> dict[str, int]:
    """Grade a batch of submissions by id; those not queued (graded, held elsewhere) are skipped.

    Returns how many ended each way (for the log; results are ignored).
    """
    settings = current_app.extensions["settings"]
    ids = [uuid.UUID(i) for i in submission_ids]
    # One connection for the claim and the results: one pool checkout (and ping) per batch.
    with pipeline.connect(db.engine) as connection:
        outcomes = pipeline.grade_submissions(connection, ids, settings.lease_seconds)
    return dict(Counter(o.value for o in outcomes.values()))
