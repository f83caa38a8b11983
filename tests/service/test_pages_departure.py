"""The worked solution marks where the latest wrong answer departs from it (issue 12, item 3),
rendered through Flask's test client with the real grading task."""

from __future__ import annotations

import re
import uuid
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from servicekit import PASSWORD, Caller
from sqlalchemy import select

from service.db import db
from service.models import Problem, Status, Submission
from worker.app import GRADE_TASK

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def _csrf(client: FlaskClient, path: str) -> str:
    match = CSRF_FIELD.search(client.get(path).get_data(as_text=True))
    assert match, path
    return match.group(1)


def _practice_with_one_attempt(app: Flask, client: FlaskClient, student: Caller) -> uuid.UUID:
    """Weight-gradient, seed 7, difficulty 1 (key [3 −1; 21/100 −7/100]), one attempt
    allowed, so the solution opens after a wrong answer."""
    response = client.post("/login", data={"email": student.email, "password": PASSWORD,
                                           "csrf_token": _csrf(client, "/login")})
    assert response.status_code == 302
    assert client.get("/practice/weight-gradient?seed=7&difficulty=1").status_code == 200
    with app.app_context():
        problem = db.session.scalars(select(Problem).where(
            Problem.type == "weight-gradient", Problem.seed == 7)).one()
        problem.attempts_allowed = 1
        db.session.commit()
        return problem.id


def _submit_and_grade(app: Flask, client: FlaskClient, problem_id: uuid.UUID,
                      answers: dict[str, Any]) -> str:
    token = _csrf(client, f"/problems/{problem_id}")
    response = client.post(f"/api/v1/problems/{problem_id}/submissions",
                           json={"answers": answers}, headers={"X-CSRFToken": token})
    assert response.status_code == 202, response.get_data(as_text=True)
    celery = app.extensions["celery"]
    celery.loader.import_default_modules()
    with app.app_context():
        ids = list(db.session.scalars(select(Submission.id).where(
            Submission.status == Status.queued)))
        db.session.commit()
    celery.tasks[GRADE_TASK]([str(i) for i in ids])
    return response.json["id"]


def _steps(html: str) -> list[str]:
    return re.findall(r'<li class="step[^"]*".*?</li>', html, flags=re.DOTALL)


def test_a_named_mistake_is_shown_at_its_step_as_done_and_as_right(
        app: Flask, client: FlaskClient, student: Caller) -> None:
    problem_id = _practice_with_one_attempt(app, client, student)
    # x·δᵀ instead of δ·xᵀ: the key [3 −1; 21/100 −7/100] transposed.
    sid = _submit_and_grade(app, client, problem_id,
                            {"dC_dW": [[3, "21/100"], [-1, "-7/100"]]})
    page = client.get(f"/problems/{problem_id}").get_data(as_text=True)
    steps = _steps(page)
    marked = [s for s in steps if "departed" in s.split(">", 1)[0]]
    assert len(marked) == 1
    step = marked[0]
    assert "Weight gradient" in step and "Your answer departs here" in step
    assert "Transposed gradient" in step
    # Side by side, with the variant's numbers: the student's matrix and the right one.
    yours = step.split('class="yours"', 1)[1].split('class="right"', 1)[0]
    right = step.split('class="right"', 1)[1]
    assert "As you did it" in yours and "Right" in right

    def numbers(html: str) -> list[str]:
        return re.findall(r"<mn>([^<]+)</mn>", html)

    assert numbers(yours)[-4:] == ["3", "0.21", "1", "0.07"]  # [3 0.21; −1 −0.07], minus an <mo>
    assert numbers(right)[-4:] == ["3", "1", "0.21", "0.07"]  # [3 −1; 0.21 −0.07]
    # Steps before it are not marked; the panel's solution carries the same mark.
    assert steps.index(step) > 0 and all("departed" not in s.split(">", 1)[0]
                                          for s in steps[:steps.index(step)])
    panel = client.get(f"/submissions/{sid}/panel").json
    assert panel["solution"].count('id="departed"') == 1


def test_an_unexplained_answer_marks_its_part_without_a_comparison(
        app: Flask, client: FlaskClient, student: Caller) -> None:
    problem_id = _practice_with_one_attempt(app, client, student)
    _submit_and_grade(app, client, problem_id, {"dC_dW": [[3, 50], ["21/100", 99]]})
    page = client.get(f"/problems/{problem_id}").get_data(as_text=True)
    marked = [s for s in _steps(page) if "departed" in s.split(">", 1)[0]]
    assert len(marked) == 1
    assert "Weight gradient" in marked[0] and "does not match" in marked[0]
    assert 'class="yours"' not in marked[0]


def test_the_problem_page_states_how_it_is_graded(
        app: Flask, client: FlaskClient, student: Caller) -> None:
    import exercises as ex

    problem_id = _practice_with_one_attempt(app, client, student)
    page = client.get(f"/problems/{problem_id}").get_data(as_text=True)
    assert "How this is graded" in page
    assert ex.SCORING_RULE.split(":")[0] in page
