"""Marks: the late rule worked by hand, and the rows grading keeps equal to a recount of
the results (incrementally, in one batch, and rebuilt from scratch)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
from alembic import command
from flask import Flask
from servicekit import Caller, grade_queued, make_course
from sqlalchemy import select, update

from service import marks
from service.db import alembic_config, db, upgrade
from service.models import Assignment, LatePolicy, Mark, MistakeMark, Problem, Submission

DUE = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("received", "policy", "penalty", "expected"),
    [
        (DUE, LatePolicy.penalty, 0.1, 0.9),  # on the dot is on time
        (DUE - timedelta(days=3), LatePolicy.closed, 0.0, 0.9),
        (DUE + timedelta(seconds=1), LatePolicy.penalty, 0.1, 0.9 * 0.9),  # 1 started day
        (DUE + timedelta(days=1, hours=12), LatePolicy.penalty, 0.1, 0.9 * 0.8),  # 2 days
        (DUE + timedelta(days=2), LatePolicy.penalty, 0.1, 0.9 * 0.8),  # exactly 2 days
        (DUE + timedelta(days=9), LatePolicy.penalty, 0.25, 0.0),  # never below nothing
        (DUE + timedelta(minutes=1), LatePolicy.no_credit, 0.0, 0.0),
        (DUE + timedelta(minutes=1), LatePolicy.closed, 0.0, 0.0),
    ],
)
def test_credit_by_hand(received: datetime, policy: LatePolicy, penalty: float,
                        expected: float) -> None:
    assert marks.credit(0.9, received, DUE, policy, penalty) == pytest.approx(expected)


def test_no_due_date_means_full_credit() -> None:
    assert marks.credit(0.5, DUE + timedelta(days=400), None, LatePolicy.no_credit, 0.0) == 0.5


def negated(key: list[list[str]]) -> list[list[str]]:
    return [[str(-Fraction(str(v))) for v in row] for row in key]


@pytest.fixture
def homework(make_caller: Callable[..., Caller]) -> dict[str, Any]:
    teacher, ada, bob = make_caller("instructor"), make_caller(), make_caller()
    cid, assignment = make_course(
        teacher, [ada, bob],
        {"title": "HW", "attempts_allowed": 5, "slots": [{"exercise_type": "weight-gradient"}]},
    )
    return {"id": cid, "assignment": assignment, "students": (ada, bob)}


def draw(student: Caller, homework: dict[str, Any]) -> str:
    path = f"/api/v1/courses/{homework['id']}/assignments/{homework['assignment']['id']}"
    problem_id: str = student.post(f"{path}/slots/1/problem").json["id"]
    return problem_id


def submit(student: Caller, problem_id: str, answer: Any) -> None:
    response = student.post(f"/api/v1/problems/{problem_id}/submissions",
                            json={"answers": {"dC_dW": answer}})
    assert response.status_code == 202, response.json


def key(app: Flask, problem_id: str) -> list[list[str]]:
    with app.app_context():
        record = db.session.get(Problem, uuid.UUID(problem_id))
        assert record is not None
        answer: list[list[str]] = record.variant["key"]["dC_dW"]
        return answer


def snapshot(app: Flask) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with app.app_context():
        rows = db.session.execute(
            select(Mark.user_id, Mark.graded, Mark.best_score, Mark.credit, Mark.solved_attempt,
                   Mark.solved_at, Mark.last_at).order_by(Mark.user_id)
        ).all()
        tags = db.session.execute(
            select(MistakeMark.user_id, MistakeMark.tag, MistakeMark.times,
                   MistakeMark.first_at, MistakeMark.last_at)
            .order_by(MistakeMark.user_id, MistakeMark.tag)
        ).all()
        return [tuple(r) for r in rows], [tuple(r) for r in tags]


def received(app: Flask, problem_id: str) -> list[datetime]:
    with app.app_context():
        return list(db.session.scalars(
            select(Submission.received_at)
            .where(Submission.problem_id == uuid.UUID(problem_id))
            .order_by(Submission.attempt)
        ))


def test_grading_keeps_marks_equal_to_a_recount(app: Flask, homework: dict[str, Any]) -> None:
    ada, bob = homework["students"]
    pa, pb = draw(ada, homework), draw(bob, homework)
    # Ada: a sign flip twice, then the key (graded in one batch); Bob: a sign flip only,
    # graded alone, then nothing.
    submit(ada, pa, negated(key(app, pa)))
    submit(ada, pa, negated(key(app, pa)))
    submit(ada, pa, key(app, pa))
    grade_queued(app)
    submit(bob, pb, negated(key(app, pb)))
    grade_queued(app)

    rows, tags = snapshot(app)
    ta, tb = received(app, pa), received(app, pb)
    assert rows == [
        (ada.user_id, 3, 1.0, 1.0, 3, ta[2], ta[2]),
        (bob.user_id, 1, 0.0, 0.0, None, None, tb[0]),
    ]
    assert tags == [
        (ada.user_id, "sign-flip", 2, ta[0], ta[1]),
        (bob.user_id, "sign-flip", 1, tb[0], tb[0]),
    ]
    # Rebuilding from the results gives the same rows.
    with app.app_context():
        marks.rebuild(db.session, homework["assignment"]["id"])
        db.session.commit()
    assert snapshot(app) == (rows, tags)


def test_a_late_policy_change_is_applied_by_rebuild(app: Flask, homework: dict[str, Any]) -> None:
    ada, _ = homework["students"]
    pa = draw(ada, homework)
    submit(ada, pa, key(app, pa))
    grade_queued(app)
    (when,) = received(app, pa)
    aid = homework["assignment"]["id"]
    with app.app_context():
        # Due 30 hours before the answer came in, 10% off per started day: 2 days, 0.8.
        db.session.execute(
            update(Assignment).where(Assignment.id == aid).values(
                due_at=when - timedelta(hours=30), late_policy=LatePolicy.penalty,
                late_penalty=0.1,
            )
        )
        marks.rebuild(db.session, aid)
        db.session.commit()
    (row,), _ = snapshot(app)
    assert (row[2], row[3]) == (1.0, pytest.approx(0.8))


def test_0005_fills_marks_from_the_results_already_written(
    app: Flask, homework: dict[str, Any], database_url: str
) -> None:
    ada, bob = homework["students"]
    pa, pb = draw(ada, homework), draw(bob, homework)
    submit(ada, pa, negated(key(app, pa)))
    submit(ada, pa, key(app, pa))
    submit(bob, pb, negated(key(app, pb)))
    grade_queued(app)
    kept = snapshot(app)
    with app.app_context():
        db.engine.dispose()  # SQLite: no connection of ours may hold the file during DDL
    command.downgrade(alembic_config(database_url), "0004")
    upgrade(database_url)
    assert snapshot(app) == kept
