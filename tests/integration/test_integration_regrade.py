"""A regrade applied by a real worker on PostgreSQL and Redis, SIGKILLed mid-application:
a new worker's sweeper publishes it again, and it ends with every submission holding
exactly one current result, every item written once (none skipped), and the applied
results equal to the preview."""

from __future__ import annotations

import os
import secrets
import uuid
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from integrationkit import BIN, Process, RedisServer, base_env, wait_for
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

import exercises as ex
from service import pipeline, regrade
from service.config import load_settings
from service.db import make_engine
from service.models import (
    Assignment,
    Course,
    Problem,
    RegradeItem,
    Result,
    Role,
    Slot,
    Status,
    Submission,
    User,
)
from worker.app import REGRADE_TASK, make_celery

pytestmark = pytest.mark.integration

STUDENTS = 200
ATTEMPTS = 10  # per student: 2,000 submissions
BATCH = 20  # items per transaction: a hundred batches, so the kill lands mid-way


def answer(key: list[list[Any]], attempt: int) -> list[list[str]]:
    """Odd attempts: the largest entry 1% off (raised by a tolerance of 2%); even: 10%
    off (unchanged)."""
    values = [[Fraction(str(v)) for v in row] for row in key]
    _, i, j = max((abs(v), i, j) for i, row in enumerate(values) for j, v in enumerate(row))
    values[i][j] *= Fraction(101, 100) if attempt % 2 else Fraction(110, 100)
    return [[str(v) for v in row] for row in values]


def homework(session: Session) -> tuple[int, int]:
    """A course, an assignment of one slot, its students' submissions graded by the real
    pipeline; returns the assignment and slot ids."""
    course = Course(code="RG1", title="Regrades")
    session.add(course)
    session.flush()
    assignment = Assignment(course_id=course.id, title="HW", attempts_allowed=ATTEMPTS)
    session.add(assignment)
    session.flush()
    slot = Slot(assignment_id=assignment.id, position=1, exercise_type="weight-gradient",
                difficulty=1, points=1.0)
    session.add(slot)
    session.flush()
    now = datetime.now(UTC)
    ids = []
    for n in range(STUDENTS):
        user = User(email=f"s{n}@example.org", name=f"S{n}", password_hash="-",
                    role=Role.student)
        session.add(user)
        session.flush()
        variant = ex.generate("weight-gradient", 10_000 + n, 1)
        problem = Problem(type=variant.type, type_version=variant.type_version,
                          seed=10_000 + n, difficulty=1, variant=variant.to_record(),
                          owner_id=user.id, slot_id=slot.id, attempts_allowed=ATTEMPTS)
        session.add(problem)
        session.flush()
        key = variant.to_json(with_key=True)["key"]["dC_dW"]
        for attempt in range(1, ATTEMPTS + 1):
            sid = uuid.uuid4()
            ids.append(sid)
            session.add(Submission(id=sid, problem_id=problem.id, user_id=user.id,
                                   attempt=attempt, answers={"dC_dW": answer(key, attempt)},
                                   status=Status.queued, received_at=now, queued_at=now))
    session.commit()
    for start in range(0, len(ids), 100):
        outcomes = pipeline.grade_submissions(session, ids[start:start + 100], 60,
                                              token=secrets.token_hex(16))
        assert all(o.value == "graded" for o in outcomes.values()), outcomes
    session.commit()
    return assignment.id, slot.id


def test_a_worker_killed_mid_regrade_leaves_every_submission_one_current_result(
    postgres_url: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    env = {**base_env(tmp_path), "DATABASE_URL": postgres_url,
           "CELERY_BROKER_URL": redis_server.url,
           # The worker runs this checkout's code (a worktree before its merge too).
           **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {})}
    engine = make_engine(postgres_url)
    with Session(engine, expire_on_commit=False) as session:
        aid, slot_id = homework(session)
        session.execute(update(Slot).where(Slot.id == slot_id)
                        .values(grading_policy={"rtol": 0.02}))
        session.commit()
        shown = regrade.preview(session, regrade.Scope(aid), by=None, reason="2%")
        total = STUDENTS * ATTEMPTS
        assert shown.counts["items"] == total
        # Odd attempts are raised (but where the largest entry is so small that 1% of it
        # is within the absolute tolerance: right already), even ones unchanged.
        assert total // 2 - 20 < shown.counts["raised"] <= total // 2
        assert shown.counts["raised"] + shown.counts["unchanged"] == total
        regrade.start(session, shown.regrade_id, None)

    def status() -> str:
        with Session(engine) as s:
            return regrade.load(s, shown.regrade_id).status

    def done() -> int:
        with Session(engine) as s:
            return s.scalar(select(func.count()).select_from(RegradeItem).where(
                RegradeItem.regrade_id == shown.regrade_id, RegradeItem.done_at.is_not(None)
            )) or 0

    first = Process("worker-1", [str(BIN), "worker", "--concurrency", "1"], env, tmp_path)
    second = Process("worker-2", [str(BIN), "worker", "--concurrency", "1"], env, tmp_path)
    try:
        first.start()
        celery = make_celery(load_settings(env))
        celery.send_task(REGRADE_TASK, args=[shown.regrade_id, BATCH])
        wait_for(lambda: done() >= 5 * BATCH, 120, "the first batches written")
        first.kill()
        halfway = done()
        assert halfway < total, "the worker finished before it could be killed"
        # The killed worker's message waits for Redis's visibility timeout; the new
        # worker's sweeper publishes the stalled regrade well before that.
        second.start()
        wait_for(lambda: status() == "applied",
                 180, "the regrade applied after the kill", every=0.5)
    finally:
        for process in (first, second):
            process.stop()

    with Session(engine) as session:
        currents = dict(session.execute(
            select(Submission.id, func.count(Result.id))
            .outerjoin(Result, (Result.submission_id == Submission.id) & Result.current)
            .group_by(Submission.id)
        ).all())
        assert len(currents) == total and set(currents.values()) == {1}
        items = session.execute(
            select(RegradeItem.submission_id, RegradeItem.new_score, RegradeItem.new_parts,
                   RegradeItem.done_at, RegradeItem.skipped)
            .where(RegradeItem.regrade_id == shown.regrade_id)
        ).all()
        assert all(i.done_at is not None and not i.skipped for i in items)
        applied = {
            sid: (score, parts) for sid, score, parts in session.execute(
                select(Result.submission_id, Result.score, Result.parts)
                .where(Result.current.is_(True), Result.regrade_id == shown.regrade_id)
            )
        }
        assert applied == {i.submission_id: (i.new_score, i.new_parts) for i in items}
        # Each submission's first result kept, and one regraded result: written once.
        assert session.scalar(select(func.count()).select_from(Result)) == 2 * total
    engine.dispose()
