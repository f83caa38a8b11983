"""The live view and the unexplained wrong answers (issue 14, items 5 and 6), through the
API and the pages: submissions graded by the real task, windows, authorisation, escaping."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from servicekit import Caller, grade_queued, log_in, make_course
from sqlalchemy import select, update

from service.db import db
from service.models import Problem, Submission, User, utcnow


def variant_of(student: Caller, cid: int, aid: int) -> str:
    """The student's problem of slot 1 (drawn on first ask)."""
    made = student.post(f"/api/v1/courses/{cid}/assignments/{aid}/slots/1/problem")
    assert made.status_code == 200, made.json
    problem_id: str = made.json["id"]
    return problem_id


def key_of(app: Flask, problem_id: str) -> list[list[float]]:
    """The stored key of dC_dW as floats (keys are exact: "p/q" strings or numbers)."""
    from fractions import Fraction

    with app.app_context():
        record = db.session.get(Problem, uuid.UUID(problem_id)).variant
    return [[float(Fraction(str(v))) for v in row] for row in record["key"]["dC_dW"]]


def submit(student: Caller, problem_id: str, answer: Any) -> Any:
    return student.post(f"/api/v1/problems/{problem_id}/submissions",
                        json={"answers": {"dC_dW": answer}})


@pytest.fixture
def lecture(app: Flask, make_caller: Callable[..., Caller]) -> dict[str, Any]:
    """A course with one weight-gradient slot; Ann answers 3 × the key (no mistake is
    that), Bob a transposed gradient, then the key."""
    teacher, ann, bob, outsider = (make_caller(r) for r in
                                   ("instructor", "student", "student", "instructor"))
    cid, assignment = make_course(teacher, [ann, bob], {
        "title": "HW", "attempts_allowed": 3, "slots": [{"exercise_type": "weight-gradient"}]})
    aid = assignment["id"]
    ann_problem, bob_problem = variant_of(ann, cid, aid), variant_of(bob, cid, aid)
    tripled = [[3 * v for v in row] for row in key_of(app, ann_problem)]
    bob_key = key_of(app, bob_problem)
    transposed = [list(col) for col in zip(*bob_key, strict=True)]
    ids = {}
    for who, problem, answer in (("ann", ann_problem, tripled), ("bob_t", bob_problem, transposed),
                                 ("bob_key", bob_problem, bob_key)):
        response = submit(ann if who == "ann" else bob, problem, answer)
        assert response.status_code == 202, response.json
        ids[who] = response.json["id"]
    grade_queued(app)
    return {"cid": cid, "aid": aid, "teacher": teacher, "ann": ann, "bob": bob,
            "outsider": outsider, "ids": ids, "tripled": tripled}


def test_a_tripled_answer_is_named_by_no_mistake_and_grouped_as_a_multiple(
    lecture: dict[str, Any]
) -> None:
    teacher, ann, ids = lecture["teacher"], lecture["ann"], lecture["ids"]
    part = ann.get(f"/api/v1/submissions/{ids['ann']}").json["parts"]["dC_dW"]
    assert part["misconceptions"] == [] and part["score"] < 1

    base = f"/api/v1/courses/{lecture['cid']}/assignments/{lecture['aid']}"
    found = teacher.get(f"{base}/unexplained")
    assert found.status_code == 200, found.json
    groups = found.json["groups"]
    # Bob's transposed gradient is a named mistake and his key is right: only Ann's answer.
    assert [(g["position"], g["part"], g["kind"], g["count"], g["students"]) for g in groups] \
        == [(1, "dC_dW", "multiple", 1, 1)]
    example = groups[0]["examples"][0]
    assert example["submission_id"] == ids["ann"] and example["label"] == "3 × the key"
    assert [v for row in example["answer"] for v in row] == pytest.approx(
        [v for row in lecture["tripled"] for v in row])

    log_in(teacher.client, teacher.email)
    page = teacher.client.get(f"/courses/{lecture['cid']}/assignments/{lecture['aid']}/unexplained")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "A constant multiple of the key" in html and "3 × the key" in html
    assert f'href="/submissions/{ids["ann"]}"' in html
    assert "docs/guide-author.md" in html
    assert html.count('<mtable class="bmatrix">') == 2  # the answer beside the key, as MathML
    assert teacher.client.get(f"/submissions/{ids['ann']}").status_code == 200


def test_live_counts_the_window_only(app: Flask, lecture: dict[str, Any]) -> None:
    teacher, ids = lecture["teacher"], lecture["ids"]
    base = f"/api/v1/courses/{lecture['cid']}/assignments/{lecture['aid']}/live"
    now = teacher.get(base).json
    assert (now["minutes"], now["submitted"], now["graded"], now["right"]) == (15, 3, 3, 1)
    assert now["mistakes"] == [
        {"tag": "transposed-gradient", "name": "Transposed gradient", "students": 1}]
    assert now["latest"][0]["submission_id"] == ids["bob_key"]

    with app.app_context():  # Bob's right answer came 20 minutes ago
        db.session.execute(update(Submission).where(Submission.id == uuid.UUID(ids["bob_key"]))
                           .values(received_at=utcnow() - timedelta(minutes=20)))
        db.session.commit()
    now = teacher.get(base).json
    assert (now["submitted"], now["graded"], now["right"]) == (2, 2, 0)
    wide = teacher.get(f"{base}?minutes=60").json
    assert (wide["submitted"], wide["right"]) == (3, 1)
    assert teacher.get(f"{base}?minutes=7").status_code == 422


def test_the_live_page_refreshes_by_script_and_escapes_names(
    app: Flask, lecture: dict[str, Any]
) -> None:
    teacher, ann = lecture["teacher"], lecture["ann"]
    with app.app_context():
        db.session.execute(update(User).where(User.id == ann.user_id)
                           .values(name="<b onmouseover=x>Ann</b>"))
        db.session.commit()
    log_in(teacher.client, teacher.email)
    path = f"/courses/{lecture['cid']}/assignments/{lecture['aid']}/live"
    page = teacher.client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<script src="/static/live.js" defer></script>' in html
    assert "<script>" not in html  # no inline script (CSP script-src 'self')
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert 'aria-live="polite"' in html and "Pause updates" in html
    assert "Transposed gradient" in html and 'id="live-mistakes"' in html
    assert "&lt;b onmouseover=x&gt;Ann&lt;/b&gt;" in html and "<b onmouseover" not in html

    fragment = teacher.client.get(f"{path}/fragment?minutes=5").json
    assert (fragment["submitted"], fragment["graded"], fragment["right"]) == (3, 3, 1)
    assert "&lt;b onmouseover=x&gt;Ann&lt;/b&gt;" in fragment["html"]
    assert "<b onmouseover" not in fragment["html"]
    unexplained = teacher.client.get(
        f"/courses/{lecture['cid']}/assignments/{lecture['aid']}/unexplained")
    assert "&lt;b onmouseover=x&gt;Ann&lt;/b&gt;" in unexplained.get_data(as_text=True)


def test_markup_typed_as_an_answer_never_reaches_the_page(
    app: Flask, lecture: dict[str, Any]
) -> None:
    """Answers are read before they are stored: markup is refused (422) and not kept, and
    the page shows answers as the numbers they were read as."""
    ann = lecture["ann"]
    with app.app_context():
        problem_id = db.session.scalars(
            select(Problem.id).where(Problem.owner_id == ann.user_id)).one()
    refused = submit(ann, str(problem_id), "<script>alert(1)</script>")
    assert refused.status_code == 422
    teacher = lecture["teacher"]
    log_in(teacher.client, teacher.email)
    html = teacher.client.get(
        f"/courses/{lecture['cid']}/assignments/{lecture['aid']}/unexplained").get_data(as_text=True)
    assert "alert(1)" not in html


def test_students_and_outsiders_get_404(lecture: dict[str, Any]) -> None:
    cid, aid = lecture["cid"], lecture["aid"]
    pages = [f"/courses/{cid}/assignments/{aid}/{p}" for p in ("live", "live/fragment",
                                                              "unexplained")]
    routes = [f"/api/v1/courses/{cid}/assignments/{aid}/{p}" for p in ("live", "unexplained")]
    for who in (lecture["ann"], lecture["outsider"]):
        log_in(who.client, who.email)
        for path in pages:
            assert who.client.get(path).status_code == 404, path
        for path in routes:
            assert who.get(path).status_code == 404, path
    teacher = lecture["teacher"]
    assert teacher.get(f"/api/v1/courses/{cid}/assignments/{aid + 1000}/live").status_code == 404
    log_in(teacher.client, teacher.email)
    assert teacher.client.get(f"/courses/{cid}/assignments/{aid + 1000}/live").status_code == 404
