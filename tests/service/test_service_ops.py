"""/healthz and /metrics, the embedded worker with the sweeper, and the demo seed."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from servicekit import Caller, practice_problem
from sqlalchemy import select, update

import exercises as ex
from service import demo, pipeline
from service.app import create_app
from service.config import Settings
from service.db import db
from service.models import Course, Problem, Result, Status, Submission, utcnow
from service.wsgi import build_app
from worker.embedded import EmbeddedWorker
from worker.sweeper import Sweeper


def test_healthz_reports_database_and_broker(client: object) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_with_the_broker_down_is_still_up(settings: Settings) -> None:
    app = build_app(replace(settings, broker_url="redis://127.0.0.1:1/0"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json["database"] == "ok" and response.json["broker"].startswith("down")


def test_healthz_of_an_app_without_a_grading_back_end_says_so(settings: Settings) -> None:
    response = create_app(settings).test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json["database"] == "ok" and response.json["broker"].startswith("none")


def test_healthz_with_the_database_down_is_503(settings: Settings, tmp_path: Path) -> None:
    unreachable = tmp_path / "a-directory"
    unreachable.mkdir()
    app = create_app(replace(settings, database_url=f"sqlite:///{unreachable}"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["status"] == "failing" and response.json["database"].startswith("down")


METRICS_TOKEN = "metrics-token-0123456789"


def _metrics(app: Flask) -> dict[str, dict[tuple, float]]:
    app.extensions["settings"] = replace(app.extensions["settings"], metrics_token=METRICS_TOKEN)
    response = app.test_client().get(
        "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def _add_problem(owner_id: int) -> Problem:
    problem = practice_problem(5, owner_id=owner_id)
    db.session.add(problem)
    db.session.commit()
    return problem


def _submit(problem: Problem) -> uuid.UUID:
    """A queued submission of the key, through the pipeline (not committed)."""
    target = pipeline.target(db.session, problem.id)
    assert target is not None
    return pipeline.submit(db.session, target, problem.owner_id, problem.variant["key"], utcnow())


def test_metrics_count_statuses_latency_and_queue_age(app: Flask, student: Caller) -> None:
    with app.app_context():
        problem = _add_problem(student.user_id)
        for _ in range(3):
            _submit(problem)
        db.session.commit()
        db.session.execute(update(Submission).values(queued_at=utcnow() - timedelta(seconds=42)))
        first = db.session.scalars(select(Submission).order_by(Submission.attempt)).first()
        first.status, first.graded_at = Status.graded, utcnow()
        db.session.add(Result(submission=first, score=1.0, parts={}, latency_seconds=0.07))
        db.session.commit()
    m = _metrics(app)
    by_status = {dict(k)["status"]: v for k, v in m["backprop_quiz_submissions"].items()}
    assert by_status == {"queued": 2, "grading": 0, "graded": 1, "error": 0}
    assert 42 <= m["backprop_quiz_oldest_queued_age_seconds"][()] < 100
    buckets = {
        dict(k)["le"]: v for k, v in m["backprop_quiz_grading_latency_seconds_bucket"].items()
    }
    assert buckets["0.05"] == 0 and buckets["0.1"] == 1 and buckets["+Inf"] == 1
    assert m["backprop_quiz_grading_latency_seconds_count"][()] == 1
    assert m["backprop_quiz_grading_latency_seconds_sum"][()] == pytest.approx(0.07)


def test_embedded_worker_grades_what_the_api_accepts(app: Flask, student: Caller) -> None:
    grader = EmbeddedWorker(app.extensions["celery"], concurrency=2)
    grader.start()
    try:
        ids = []
        for seed in range(4):
            problem = student.post(
                "/api/v1/problems", json={"type": "weight-gradient", "seed": seed}
            ).json
            key = ex.generate("weight-gradient", seed, 1).key
            ids.append(
                student.post(
                    f"/api/v1/problems/{problem['id']}/submissions", json={"answers": key}
                ).json["id"]
            )
        results = _wait_graded(student, ids)
    finally:
        grader.stop()
    assert [r["score"] for r in results] == [1.0] * 4


def _wait_graded(caller: Caller, ids: list[str], timeout: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        results = [caller.get(f"/api/v1/submissions/{sid}").json for sid in ids]
        if all(r["status"] == "graded" for r in results) or time.monotonic() > deadline:
            return results
        time.sleep(0.05)


def _never_published(app: Flask, student: Caller) -> uuid.UUID:
    """A submission committed but never published: the web process died in between."""
    with app.app_context():
        row_id = _submit(_add_problem(student.user_id))
        db.session.execute(update(Submission).values(published_at=None))
        db.session.commit()
    return row_id


def test_the_sweeper_publishes_what_the_broker_never_got(
    app: Flask, settings: Settings, student: Caller
) -> None:
    lost_id = _never_published(app, student)
    celery = app.extensions["celery"]
    grader = EmbeddedWorker(celery)
    grader.start()
    sweeper = Sweeper(app.extensions["db"], celery, replace(settings, sweep_interval=0.2))
    sweeper.start()
    try:
        results = _wait_graded(student, [str(lost_id)])
    finally:
        sweeper.stop()
        grader.stop()
    assert results[0]["status"] == "graded" and results[0]["score"] == 1.0


def test_sweep_once_remembers_what_it_could_not_publish(
    app: Flask, settings: Settings, student: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    row_id = _never_published(app, student)
    celery = app.extensions["celery"]

    def broker_down(*args: object, **kwargs: object) -> None:
        raise ConnectionRefusedError("down")

    monkeypatch.setattr(celery, "send_task", broker_down)
    swept = Sweeper(app.extensions["db"], celery, settings).sweep_once()
    assert swept.publish == [row_id]
    with app.app_context():
        assert db.session.get(Submission, row_id).published_at is None


def test_demo_seed_is_idempotent(app: Flask) -> None:
    with app.app_context():
        logins = demo.seed()
        assert demo.seed() == logins
        courses = db.session.scalars(select(Course)).all()
        assert [c.code for c in courses] == [demo.COURSE_CODE]
        types = {slot.exercise_type for a in courses[0].assignments for slot in a.slots}
        assert len(types) >= 3 and types <= {t.id for t in ex.catalogue()}
    assert {login.role for login in logins} == {"student", "instructor"}


def test_demo_logins_work(app: Flask) -> None:
    from service import auth

    with app.app_context():
        logins = demo.seed()
        for login in logins:
            assert auth.authenticate(login.email, login.password) is not None
