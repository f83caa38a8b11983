"""The grading pipeline on the database: claims are exclusive, results are written once,
failures are retried three times, and the sweeper recovers whatever was lost."""

from __future__ import annotations

import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from servicekit import Caller, practice_problem
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import OperationalError

import exercises as ex
from service import pipeline
from service.db import db
from service.models import Problem, Result, Status, Submission, utcnow
from worker.app import GRADE_TASK

LEASE = 10


@pytest.fixture
def problem(ctx: None, student: Caller) -> Problem:
    problem = practice_problem(7, owner_id=student.user_id)
    db.session.add(problem)
    db.session.commit()
    return problem


@pytest.fixture
def submit(problem: Problem) -> Callable[..., uuid.UUID]:
    """Add a committed queued submission with the key (or given) answers; return its id."""

    def make(answers: dict[str, Any] | None = None) -> uuid.UUID:
        raw = answers if answers is not None else problem.variant["key"]
        target = pipeline.target(db.session, problem.id)
        assert target is not None
        submission_id = pipeline.submit(db.session, target, problem.owner_id, raw, utcnow())
        db.session.commit()
        return submission_id

    return make


def row(submission_id: uuid.UUID) -> Submission:
    db.session.expire_all()
    return db.session.get(Submission, submission_id)


def results_of(submission_id: uuid.UUID) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Result).where(Result.submission_id == submission_id)
    )


def test_submit_adds_a_queued_row_and_numbers_attempts(submit: Callable[..., uuid.UUID]) -> None:
    first, second = submit(), submit()
    assert (row(first).status, row(first).attempt) == (Status.queued, 1)
    assert row(second).attempt == 2
    assert row(first).published_at is not None and row(first).tries == 0


def test_unreadable_answers_write_nothing(
    problem: Problem, submit: Callable[..., uuid.UUID]
) -> None:
    with pytest.raises(ex.AnswerFormatError) as caught:
        submit({"dC_dW": "1/"})
    assert "dC_dW" in caught.value.parts
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 0
    assert db.session.get(Problem, problem.id).attempts_used == 0


def test_attempts_run_out(problem: Problem, submit: Callable[..., uuid.UUID]) -> None:
    problem.attempts_allowed = 2
    db.session.commit()
    submit(), submit()
    with pytest.raises(pipeline.NoAttemptsLeft):
        submit()


def claim_one(sid: uuid.UUID) -> pipeline.Claim | None:
    claims = pipeline.claim(db.session, [sid], LEASE)
    assert len(claims) <= 1
    return claims[0] if claims else None


def grade_one(sid: uuid.UUID) -> pipeline.Outcome:
    return pipeline.grade_submissions(db.session, [sid], LEASE)[sid]


def test_claim_is_exclusive(submit: Callable[..., uuid.UUID]) -> None:
    sid = submit()
    won = claim_one(sid)
    assert won is not None and won.tries == 1
    assert claim_one(sid) is None
    claimed = row(sid)
    assert claimed.status == Status.grading and claimed.claim_token == won.token
    assert claimed.lease_expires_at > claimed.started_at
    assert claimed.claimed_by == f"{socket.gethostname()}:{os.getpid()}"


def test_concurrent_claims_of_one_batch_win_each_row_once(
    submit: Callable[..., uuid.UUID],
) -> None:
    ids = [submit() for _ in range(60)]
    db.release()
    engine, claimers = db.engine, 6
    start = threading.Barrier(claimers)

    def claim_all(shuffled: list[uuid.UUID]) -> list[pipeline.Claim]:
        with pipeline.connect(engine) as connection:
            start.wait()
            return pipeline.claim(connection, shuffled, LEASE)

    orders = [random.Random(i).sample(ids, len(ids)) for i in range(claimers)]
    with ThreadPoolExecutor(claimers) as pool:
        won = [c for claims in pool.map(claim_all, orders) for c in claims]
    assert sorted(c.submission_id for c in won) == sorted(ids)  # every row, by one claim
    tokens = {c.submission_id: c.token for c in won}
    assert all(row(sid).claim_token == tokens[sid] for sid in ids)


@pytest.mark.integration
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_claims_are_heap_only_updates_on_postgresql(submit: Callable[..., uuid.UUID]) -> None:
    """No index covers what a claim sets, so PostgreSQL rewrites no index entry for it
    (an index on status, say, would make every claim write one to each index)."""
    ids = [submit() for _ in range(10)]  # one page, with room for ten new row versions

    def hot_updates() -> int:
        db.session.execute(text("SELECT pg_stat_clear_snapshot()"))
        hot = db.session.scalar(
            text("SELECT n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'submissions'")
        )
        db.session.commit()
        return hot

    before = hot_updates()
    with pipeline.connect(db.engine) as connection:
        assert len(pipeline.claim(connection, ids, LEASE)) == 10
        # Statistics reach the views when a backend goes idle, at most once a second
        # unless forced: this makes the claimer's arrive as soon as it is idle.
        connection.execute(text("SELECT pg_stat_force_next_flush()"))
    deadline = time.monotonic() + 10
    while (after := hot_updates()) < before + 10 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert after - before == 10


def test_grading_twice_writes_one_result(submit: Callable[..., uuid.UUID]) -> None:
    sid = submit()
    assert grade_one(sid) == pipeline.Outcome.graded
    assert grade_one(sid) == pipeline.Outcome.skipped
    graded = row(sid)
    assert graded.status == Status.graded and graded.graded_at is not None
    assert graded.result.score == 1.0 and results_of(sid) == 1
    assert graded.result.latency_seconds >= 0


def test_a_claim_taken_over_cannot_write(submit: Callable[..., uuid.UUID]) -> None:
    sid = submit()
    stale = claim_one(sid)
    assert stale is not None
    _expire_lease(sid)
    assert pipeline.sweep(db.session, requeue_after=60).publish == [sid]
    fresh = claim_one(sid)
    assert fresh is not None and fresh.tries == 2
    grade = {"score": 0.0, "parts": {}, "grader_version": "test"}
    assert pipeline.finish(db.session, [(stale, grade)]) == []
    right = {"score": 1.0, "parts": {}, "grader_version": "test"}
    assert pipeline.finish(db.session, [(fresh, right)]) == [sid]
    assert pipeline.finish(db.session, [(fresh, grade)]) == []
    assert results_of(sid) == 1 and row(sid).result.score == 1.0


def test_the_unique_constraint_backs_the_fence(submit: Callable[..., uuid.UUID]) -> None:
    from sqlalchemy.exc import IntegrityError

    sid = submit()
    db.session.add(Result(submission_id=sid, score=1.0, parts={}, latency_seconds=0.0))
    db.session.commit()
    db.session.add(Result(submission_id=sid, score=0.0, parts={}, latency_seconds=0.0))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


@pytest.fixture
def broken_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def explode(variant: ex.Variant, answers: ex.Answers, *policy: object) -> ex.Grade:
        raise ArithmeticError("the engine fell over")

    monkeypatch.setattr(ex, "grade", explode)
    yield


def test_failed_tries_are_retried_then_become_an_error(
    submit: Callable[..., uuid.UUID], broken_engine: None
) -> None:
    sid = submit()
    for attempt in range(1, pipeline.MAX_TRIES + 1):
        assert grade_one(sid) == pipeline.Outcome.failed
        failed = row(sid)
        assert failed.tries == attempt
        assert failed.reason == "ArithmeticError: the engine fell over"
        if attempt < pipeline.MAX_TRIES:
            assert failed.status == Status.queued
    assert row(sid).status == Status.error
    assert grade_one(sid) == pipeline.Outcome.skipped


def test_retry_requeues_an_error_with_fresh_tries(
    submit: Callable[..., uuid.UUID], broken_engine: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = submit()
    for _ in range(pipeline.MAX_TRIES):
        grade_one(sid)
    assert pipeline.retry(db.session, row(sid))
    again = row(sid)
    assert (again.status, again.tries, again.reason) == (Status.queued, 0, None)
    assert not pipeline.retry(db.session, again)
    monkeypatch.undo()
    assert grade_one(sid) == pipeline.Outcome.graded


def _expire_lease(sid: uuid.UUID) -> None:
    db.session.execute(
        update(Submission)
        .where(Submission.id == sid)
        .values(lease_expires_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


def _age_publication(sid: uuid.UUID, seconds: float) -> None:
    db.session.execute(
        update(Submission)
        .where(Submission.id == sid)
        .values(published_at=utcnow() - timedelta(seconds=seconds))
    )
    db.session.commit()


def test_sweep_requeues_expired_leases_and_errors_the_third(
    submit: Callable[..., uuid.UUID],
) -> None:
    sid = submit()
    for tries in range(1, pipeline.MAX_TRIES + 1):
        assert claim_one(sid) is not None
        _expire_lease(sid)
        swept = pipeline.sweep(db.session, requeue_after=60)
        if tries < pipeline.MAX_TRIES:
            assert swept.publish == [sid] and row(sid).status == Status.queued
            assert "lease ran out" in row(sid).reason
    assert swept.errored == [sid] and swept.publish == []
    errored = row(sid)
    assert errored.status == Status.error and "3 times" in errored.reason


def test_sweep_leaves_live_leases_alone(submit: Callable[..., uuid.UUID]) -> None:
    sid = submit()
    claim_one(sid)
    assert pipeline.sweep(db.session, requeue_after=0.001) == pipeline.Sweep([], [], [])
    assert row(sid).status == Status.grading


def test_sweep_republishes_stale_and_unpublished_rows_once(
    submit: Callable[..., uuid.UUID],
) -> None:
    fresh, stale, unsent = submit(), submit(), submit()
    _age_publication(stale, 120)
    pipeline.mark_unpublished(db.session, [unsent])
    assert row(unsent).published_at is None
    swept = pipeline.sweep(db.session, requeue_after=60)
    assert sorted(swept.publish) == sorted([stale, unsent])
    # A second sweeper right after finds nothing: the first one's UPDATE moved the rows on.
    assert pipeline.sweep(db.session, requeue_after=60).publish == []
    assert row(fresh).status == Status.queued


def test_the_celery_task_grades_on_the_engine_bound_to_its_app(
    app: Flask, submit: Callable[..., uuid.UUID]
) -> None:
    sid = submit()
    celery = app.extensions["celery"]
    celery.loader.import_default_modules()
    task = celery.tasks[GRADE_TASK]
    assert task([str(sid)]) == {"graded": 1}
    assert task([str(sid)]) == {"skipped": 1}
    assert row(sid).status == Status.graded


def test_engines_durable_for_the_web_and_relaxed_for_graders(database_url: str) -> None:
    from sqlalchemy import text

    from service.db import make_engine

    durable, relaxed = make_engine(database_url), make_engine(database_url, durable_commits=False)
    with durable.connect() as a, relaxed.connect() as b:
        if database_url.startswith("sqlite"):
            assert a.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert a.execute(text("PRAGMA foreign_keys")).scalar() == 1
        else:
            assert a.execute(text("SHOW synchronous_commit")).scalar() == "on"
            assert b.execute(text("SHOW synchronous_commit")).scalar() == "off"
    durable.dispose()
    relaxed.dispose()


# --- batches -----------------------------------------------------------------------------


def test_a_batch_is_claimed_graded_and_written_together(
    submit: Callable[..., uuid.UUID],
) -> None:
    done, *batch = [submit() for _ in range(6)]
    assert grade_one(done) == pipeline.Outcome.graded
    outcomes = pipeline.grade_submissions(db.session, [done, *batch], LEASE)
    assert outcomes == {done: pipeline.Outcome.skipped} | dict.fromkeys(
        batch, pipeline.Outcome.graded
    )
    assert all(row(sid).status == Status.graded and results_of(sid) == 1 for sid in batch)
    # One claim: every row of the batch was started under the same lease.
    assert len({row(sid).started_at for sid in batch}) == 1


def test_a_submission_the_grader_fails_on_does_not_hold_back_its_batch(
    problem: Problem, submit: Callable[..., uuid.UUID], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = problem.variant["key"]
    poison = {**key, "dC_dW": [[0, 0], [0, 0]]}
    good, bad, also_good = submit(), submit(poison), submit()
    parse = ex.parse_answers

    def fragile(variant: ex.Variant, raw: Any) -> ex.Answers:
        if raw == poison:
            raise ArithmeticError("the engine fell over")
        return parse(variant, raw)

    monkeypatch.setattr(ex, "parse_answers", fragile)
    outcomes = pipeline.grade_submissions(db.session, [good, bad, also_good], LEASE)
    assert outcomes == {
        good: pipeline.Outcome.graded,
        bad: pipeline.Outcome.failed,
        also_good: pipeline.Outcome.graded,
    }
    assert row(bad).status == Status.queued and "fell over" in row(bad).reason
    assert row(good).result.score == 1.0 and row(also_good).result.score == 1.0


def test_a_batch_writes_only_the_rows_its_claim_still_holds(
    submit: Callable[..., uuid.UUID],
) -> None:
    kept, lost = submit(), submit()
    claims = pipeline.claim(db.session, [kept, lost], LEASE)
    assert {c.submission_id for c in claims} == {kept, lost}
    _expire_lease(lost)
    pipeline.sweep(db.session, requeue_after=60)  # the lost row goes back to queued
    assert claim_one(lost) is not None  # and another worker takes it
    grade = {"score": 0.5, "parts": {}, "grader_version": "test"}
    assert pipeline.finish(db.session, [(c, grade) for c in claims]) == [kept]
    assert results_of(kept) == 1 and results_of(lost) == 0
    assert row(lost).status == Status.grading


def test_the_sweep_tells_lost_leases_from_stale_rows(submit: Callable[..., uuid.UUID]) -> None:
    held, stale = submit(), submit()
    claim_one(held)
    _expire_lease(held)
    _age_publication(stale, 120)
    swept = pipeline.sweep(db.session, requeue_after=60)
    assert (swept.requeued, swept.stale, swept.errored) == ([held], [stale], [])


def test_the_sweeper_sends_lost_leases_one_to_a_task(
    app: Flask, settings: Any, submit: Callable[..., uuid.UUID], monkeypatch: pytest.MonkeyPatch
) -> None:
    from worker.sweeper import Sweeper

    lost = [submit() for _ in range(3)]
    stale = [submit() for _ in range(3)]
    claimed = pipeline.claim(db.session, lost, LEASE)
    assert len(claimed) == 3
    for sid in lost:
        _expire_lease(sid)
    for sid in stale:
        _age_publication(sid, 120)
    sent: list[list[str]] = []
    celery = app.extensions["celery"]
    monkeypatch.setattr(celery, "send_task", lambda name, args, queue: sent.append(args[0]))
    Sweeper(app.extensions["db"], celery, settings).sweep_once()
    assert sorted(len(batch) for batch in sent) == [1, 1, 1, 3]
    assert {i for batch in sent if len(batch) == 1 for i in batch} == set(map(str, lost))
    assert {i for batch in sent if len(batch) == 3 for i in batch} == set(map(str, stale))


def test_a_problem_deleted_after_it_was_read_is_gone_not_out_of_attempts(
    problem: Problem,
) -> None:
    target = pipeline.target(db.session, problem.id)  # read (and kept) before the delete
    assert target is not None
    db.session.delete(problem)
    db.session.commit()
    with pytest.raises(pipeline.ProblemGone):
        pipeline.submit(db.session, target, target.owner_id, target.variant.key, utcnow())
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 0


def test_on_a_plain_connection_as_the_task_runs_it_failures_are_recorded_too(
    submit: Callable[..., uuid.UUID], broken_engine: None
) -> None:
    good = submit()
    db.session.commit()  # SQLite: release the write lock the connection will need
    with db.engine.connect() as connection:
        outcomes = pipeline.grade_submissions(connection, [good], LEASE)
    assert outcomes == {good: pipeline.Outcome.failed}
    failed = row(good)
    assert (failed.status, failed.tries) == (Status.queued, 1)
    assert failed.reason == "ArithmeticError: the engine fell over"


# --- transient database errors: the task tries again itself ----------------------------


def _dropped() -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))


def test_a_resumed_claim_takes_back_only_its_own_rows(submit: Callable[..., uuid.UUID]) -> None:
    ours, theirs, graded = submit(), submit(), submit()
    first_try = pipeline.claim(db.session, [ours], LEASE)[0]  # then the connection dropped
    assert claim_one(theirs) is not None  # another worker's claim
    assert grade_one(graded) == pipeline.Outcome.graded
    outcomes = pipeline.grade_submissions(
        db.session, [ours, theirs, graded], LEASE, resume=first_try.token
    )
    assert outcomes == {
        ours: pipeline.Outcome.graded,
        theirs: pipeline.Outcome.skipped,
        graded: pipeline.Outcome.skipped,
    }
    assert row(ours).tries == 1  # a database error is not a grading try
    assert results_of(ours) == results_of(graded) == 1 and results_of(theirs) == 0


@pytest.mark.parametrize("stage", ["connect", "variants", "finish"])
def test_the_task_retries_a_dropped_connection_itself(
    app: Flask, student: Caller, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    """A real (embedded) worker: the first try fails at ``stage``; the task's own retry
    grades the row, once. No sweeper runs, so nothing else could have graded it."""
    from service.pipeline import grading
    from worker import tasks
    from worker.embedded import EmbeddedWorker

    monkeypatch.setattr(tasks, "RETRY_BASE_SECONDS", 0.01)
    owner = {"connect": pipeline, "variants": grading, "finish": grading}[stage]
    real = getattr(owner, stage)
    calls = []

    def fails_once(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is threading.main_thread():
            return real(*args, **kwargs)  # the web request's submit, not the task
        calls.append(stage)
        if len(calls) == 1:
            raise _dropped()
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, stage, fails_once)
    with app.app_context():
        problem = practice_problem(7, owner_id=student.user_id)
        db.session.add(problem)
        db.session.commit()
        problem_id, key = problem.id, problem.variant["key"]
    grader = EmbeddedWorker(app.extensions["celery"], concurrency=1)
    grader.start()
    try:
        started = time.monotonic()
        response = student.post(
            f"/api/v1/problems/{problem_id}/submissions", json={"answers": key}
        )
        sid = uuid.UUID(response.json["id"])
        deadline = started + 60  # a bound for a loaded machine, not a speed claim

        def status() -> Status:
            with app.app_context():  # a session per look: SQLite's write lock is not held
                return row(sid).status

        while status() != Status.graded and time.monotonic() < deadline:
            time.sleep(0.02)
        with app.app_context():
            assert row(sid).status == Status.graded, row(sid).reason
            assert row(sid).tries == 1 and results_of(sid) == 1
    finally:
        grader.stop()
    assert len(calls) == 2


def test_a_task_called_directly_raises_the_transient_error(
    app: Flask, submit: Callable[..., uuid.UUID], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside a worker there is nothing to retry through: the error is the caller's, and
    the row keeps its lease for the sweeper."""
    from service.pipeline import grading

    sid = submit()
    real = grading.finish

    def dropped(*args: Any, **kwargs: Any) -> Any:
        raise _dropped()

    monkeypatch.setattr(grading, "finish", dropped)
    celery = app.extensions["celery"]
    celery.loader.import_default_modules()
    with pytest.raises(OperationalError):
        celery.tasks[GRADE_TASK]([str(sid)])
    assert row(sid).status == Status.grading
    monkeypatch.setattr(grading, "finish", real)
