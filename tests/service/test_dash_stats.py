"""The statistics, course overview, misconceptions and student pages and their JSON twins,
over real submissions graded by the real task; numbers worked out by hand here."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from servicekit import Caller, grade_queued, log_in, make_course
from sqlalchemy import select, update

from service.db import db
from service.models import CourseRole, Enrollment, Problem, Submission, User

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NASTY_NAME = '<b>Bob</b> & "co"'



def transpose(matrix: list[list[Any]]) -> list[list[Any]]:
    return [list(column) for column in zip(*matrix, strict=True)]


def draw(caller: Caller, cid: int, aid: int, position: int = 1) -> str:
    response = caller.post(f"/api/v1/courses/{cid}/assignments/{aid}/slots/{position}/problem")
    assert response.status_code == 200, response.json
    problem_id: str = response.json["id"]
    return problem_id


def key_of(app: Flask, problem_id: str) -> list[list[str]]:
    with app.app_context():
        key: list[list[str]] = db.session.get(Problem, uuid.UUID(problem_id)).variant["key"][
            "dC_dW"
        ]
        return key


def submit(caller: Caller, problem_id: str, matrix: list[list[Any]]) -> None:
    response = caller.post(
        f"/api/v1/problems/{problem_id}/submissions", json={"answers": {"dC_dW": matrix}}
    )
    assert response.status_code == 202, response.json


@pytest.fixture
def graded(app: Flask, make_caller: Callable[..., Caller]) -> dict[str, Any]:
    """A course of three students on a two-slot assignment, graded:

    - Ann: a transposed gradient, then the key (solved on attempt 2, 120 s after first view);
    - Bob: a transposed gradient twice (one student, however often);
    - Cat: the key (solved on attempt 1, 60 s after first view);
    - the teacher, previewing, also submits a transposed gradient: staff do not count.

    Slot 1 is a weight gradient at difficulty 3 (W is 2×3): its transposed key is 3×2 and
    earns 0. Nobody opens slot 2. Ann and Bob are in section L01, Cat in none.
    """
    teacher = make_caller("instructor")
    ann, bob, cat = (make_caller("student") for _ in range(3))
    cid, assignment = make_course(teacher, [ann, bob, cat], {
        "title": "Homework <1>",
        "attempts_allowed": 3,
        "slots": [
            {"exercise_type": "weight-gradient", "difficulty": 3},
            {"exercise_type": "forward-pass", "difficulty": 1},
        ],
    })
    aid = assignment["id"]
    problems = {c.email: draw(c, cid, aid) for c in (ann, bob, cat, teacher)}
    for who, answers in (
        (ann, ["transposed", "key"]),
        (bob, ["transposed", "transposed"]),
        (cat, ["key"]),
        (teacher, ["transposed"]),
    ):
        key = key_of(app, problems[who.email])
        for answer in answers:
            submit(who, problems[who.email], transpose(key) if answer == "transposed" else key)
    with app.app_context():
        # Fixed times: every variant first seen at T0, attempt k sent at T0 + 60·k seconds
        # (Ann solves on attempt 2: 120 s; Cat on attempt 1: 60 s).
        db.session.execute(update(Problem).values(created_at=T0))
        for sub in db.session.scalars(select(Submission)):
            sub.received_at = T0 + timedelta(seconds=60 * sub.attempt)
        db.session.execute(update(User).where(User.id == bob.user_id).values(name=NASTY_NAME))
        db.session.execute(
            update(Enrollment)
            .where(Enrollment.course_id == cid, Enrollment.user_id.in_([ann.user_id, bob.user_id]))
            .values(section="L01")
        )
        db.session.commit()
    grade_queued(app)
    return {"cid": cid, "aid": aid, "teacher": teacher, "ann": ann, "bob": bob, "cat": cat,
            "make_caller": make_caller}


def page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return str(response.get_data(as_text=True))


def table(html: str, table_id: str) -> str:
    match = re.search(rf'<table class="data" id="{table_id}">(.*?)</table>', html, re.S)
    assert match, table_id
    return match.group(1)


def row_counts(table_html: str) -> dict[str, int]:
    """A table's rows as (row header → the first number cell)."""
    rows = re.findall(r'<th scope="row">([^<]*)</th>\s*<td class="num">(\d+)</td>', table_html)
    return {name: int(n) for name, n in rows}


# --- an assignment's statistics ---------------------------------------------------------


def test_stats_json_numbers_by_hand(graded: dict[str, Any]) -> None:
    teacher, cid, aid = graded["teacher"], graded["cid"], graded["aid"]
    body = teacher.get(f"/api/v1/courses/{cid}/assignments/{aid}/stats").json
    assert body["assignment_id"] == aid and body["students"] == 3  # the teacher is not counted
    first, second = body["slots"]
    # Submissions: Ann 2 + Bob 2 + Cat 1 = 5. Best scores 1, 0, 1: mean 2/3, 2 solved.
    assert (first["students"], first["submissions"], first["solved"]) == (3, 5, 2)
    assert first["mean_best_score"] == pytest.approx(2 / 3)
    assert first["solved_fraction"] == pytest.approx(2 / 3)
    # Cat solved on attempt 1, Ann on attempt 2; median of 60 s and 120 s is 90 s.
    assert first["attempts_to_solve"] == [
        {"attempt": 1, "students": 1}, {"attempt": 2, "students": 1},
    ]
    assert first["median_seconds_to_solve"] == 90.0
    # Totals (slot 1 worth 1 point): Ann 1, Bob 0, Cat 1. N = 3, n_g = round(0.81) = 1:
    # upper = Ann (the tie with Cat goes to the lower user id), item 1; lower = Bob, item 0.
    # D = 1 - 0 = 1.
    assert first["discrimination"] == {
        "index": 1.0, "group_size": 1, "p_upper": 1.0, "p_lower": 0.0,
    }
    # M1 = 1 (Ann, Cat), M0 = 0 (Bob); mean 2/3, s_n = sqrt((1/9 + 1/9 + 4/9) / 3) = √2/3;
    # p = 2/3, q = 1/3, sqrt(p q) = √2/3: r_pb = (1 - 0) / (√2/3) · √2/3 = 1.
    assert first["point_biserial"] == pytest.approx(1.0)
    # Bob's two transposed submissions count him once; the teacher's not at all.
    assert first["misconceptions"] == {"transposed-gradient": 2}
    assert first["mistakes"][0]["name"] == "Transposed gradient"
    assert second["students"] == 0 and second["mean_best_score"] is None
    assert second["discrimination"] is None and second["misconceptions"] == {}


def test_stats_page_shows_the_misconception_chart_and_table(graded: dict[str, Any]) -> None:
    client = log_in(graded["teacher"].client, graded["teacher"].email)
    html = page(client, f"/courses/{graded['cid']}/assignments/{graded['aid']}/stats")
    assert "Slot 1: Weight gradient</h2>" in html and "Slot 2: Forward pass</h2>" in html
    mistakes = table(html, "mistakes-slot-1")
    assert "<caption>Mistakes in slot 1</caption>" in mistakes
    assert row_counts(mistakes) == {"Transposed gradient": 2}
    assert "You formed x·δᵀ" in mistakes  # the explanation, one click away in a <details>
    # The chart of the same numbers: an SVG image named for the slot's mistakes.
    assert re.search(r'<svg role="img"[^>]*aria-label="Mistakes in slot 1: students', html)
    attempts = table(html, "attempts-slot-1")
    assert row_counts(attempts) == {"1": 1, "2": 1, "Not solved": 1}
    assert "round(0.27·<var>N</var>)" in html and "√(<var>p</var>·<var>q</var>)" in html
    assert "1 min 30 s" in html  # median time to solve: 90 s
    assert "Homework &lt;1&gt;" in html and "Homework <1>" not in html


# --- the course ------------------------------------------------------------------------


def test_overview_json_and_page(graded: dict[str, Any]) -> None:
    teacher, cid, aid = graded["teacher"], graded["cid"], graded["aid"]
    body = teacher.get(f"/api/v1/courses/{cid}/overview").json
    (row,) = body["assignments"]
    # Earned points: Ann 1, Bob 0, Cat 1 (slot 1 is worth 1): mean 2/3 of 2 points.
    assert (row["id"], row["slots"], row["points"], row["students"]) == (aid, 2, 2.0, 3)
    assert row["mean_points"] == pytest.approx(2 / 3)
    assert body["roster"] == {
        "students": 3, "tas": 0, "instructors": 1,
        "sections": [{"section": "", "students": 1}, {"section": "L01", "students": 2}],
    }
    assert [(m["tag"], m["students"]) for m in body["top_mistakes"]] == [
        ("transposed-gradient", 2)
    ]
    client = log_in(teacher.client, teacher.email)
    html = page(client, f"/courses/{cid}")
    assert ">Edit course</a>" in html
    assert f'href="/courses/{cid}/assignments/{aid}/manage">Homework &lt;1&gt;</a>' in html
    assert f'href="/courses/{cid}/assignments/{aid}/stats"' in html
    assert "0.67 / 2" in html
    assert row_counts(table(html, "top-mistakes")) == {"Transposed gradient": 2}


def test_course_misconceptions(graded: dict[str, Any]) -> None:
    teacher, cid, aid = graded["teacher"], graded["cid"], graded["aid"]
    body = teacher.get(f"/api/v1/courses/{cid}/misconceptions").json
    assert body["students"] == 3
    (mistake,) = body["mistakes"]
    assert (mistake["tag"], mistake["students"]) == ("transposed-gradient", 2)
    assert mistake["per_assignment"] == {str(aid): 2}
    html = page(log_in(teacher.client, teacher.email), f"/courses/{cid}/misconceptions")
    assert "<caption>Mistakes across the course</caption>" in html
    assert row_counts(table(html, "course-mistakes")) == {"Transposed gradient": 2}
    assert 'aria-label="Mistakes across the course: students who made each"' in html


# --- one student ------------------------------------------------------------------------


def test_student_json(graded: dict[str, Any]) -> None:
    teacher, cid, aid, bob = graded["teacher"], graded["cid"], graded["aid"], graded["bob"]
    body = teacher.get(f"/api/v1/courses/{cid}/students/{bob.user_id}").json
    assert (body["name"], body["role"], body["section"]) == (NASTY_NAME, "student", "L01")
    (work,) = body["assignments"]
    first = work["slots"][0]
    assert (first["graded"], first["best_score"], first["solved_attempt"]) == (2, 0.0, None)
    assert [s["attempt"] for s in first["submissions"]] == [1, 2]
    assert first["submissions"][0]["parts"]["dC_dW"]["misconceptions"] == ["transposed-gradient"]
    # Bob made it in two submissions, both in slot 1.
    assert [(m["tag"], m["times"], m["slots"]) for m in body["mistakes"]] == [
        ("transposed-gradient", 2, [{"assignment_id": aid, "position": 1}])
    ]
    one = teacher.get(f"/api/v1/courses/{cid}/students/{bob.user_id}?assignment={aid}").json
    assert [a["id"] for a in one["assignments"]] == [aid]


def test_student_page(graded: dict[str, Any], app: Flask) -> None:
    teacher, cid, aid, bob = graded["teacher"], graded["cid"], graded["aid"], graded["bob"]
    client = log_in(teacher.client, teacher.email)
    html = page(client, f"/courses/{cid}/students/{bob.user_id}?assignment={aid}")
    assert "&lt;b&gt;Bob&lt;/b&gt; &amp; &#34;co&#34;" in html and "<b>Bob</b>" not in html
    mistakes = table(html, "student-mistakes")
    assert row_counts(mistakes) == {"Transposed gradient": 2}
    assert "Homework &lt;1&gt;, slot 1" in mistakes
    with app.app_context():
        ids = db.session.scalars(
            select(Submission.id).where(Submission.user_id == bob.user_id)
            .order_by(Submission.attempt)
        ).all()
    for sid in ids:  # each submission linked, its marks and named mistakes on the page
        assert f'href="/submissions/{sid}">Attempt' in html
        assert f'data-submission="{sid}"' in html
    assert html.count('data-mistake="transposed-gradient"') >= 3  # the table + 2 results
    # Staff may open the student's own submission page from here.
    assert client.get(f"/submissions/{ids[0]}").status_code == 200


def test_student_page_filter_must_be_of_the_course(graded: dict[str, Any]) -> None:
    teacher, cid, bob = graded["teacher"], graded["cid"], graded["bob"]
    other_cid, other = make_course(teacher, [], {
        "title": "Elsewhere", "slots": [{"exercise_type": "loss"}],
    }, code="NN2")
    client = log_in(teacher.client, teacher.email)
    for query in (f"?assignment={other['id']}", "?assignment=abc", "?assignment=99999"):
        path = f"/courses/{cid}/students/{bob.user_id}{query}"
        assert client.get(path).status_code == 404, query
    api = f"/api/v1/courses/{cid}/students/{bob.user_id}?assignment={other['id']}"
    assert teacher.get(api).status_code == 404
    # Bob is no member of the other course: 404 for his page there.
    assert client.get(f"/courses/{other_cid}/students/{bob.user_id}").status_code == 404
    assert teacher.get(f"/api/v1/courses/{other_cid}/students/{bob.user_id}").status_code == 404


# --- who may see ------------------------------------------------------------------------


def paths(graded: dict[str, Any]) -> list[str]:
    cid, aid, bob = graded["cid"], graded["aid"], graded["bob"]
    return [
        f"/courses/{cid}",
        f"/courses/{cid}/misconceptions",
        f"/courses/{cid}/students/{bob.user_id}",
        f"/courses/{cid}/assignments/{aid}/stats",
        f"/api/v1/courses/{cid}/overview",
        f"/api/v1/courses/{cid}/misconceptions",
        f"/api/v1/courses/{cid}/students/{bob.user_id}",
        f"/api/v1/courses/{cid}/assignments/{aid}/stats",
    ]


def test_students_and_outsiders_get_404(graded: dict[str, Any]) -> None:
    student = graded["ann"]
    outsider = graded["make_caller"]("instructor")
    for caller in (student, outsider):
        browser = log_in(caller.client, caller.email)
        for path in paths(graded):
            if path.startswith("/api/"):
                assert caller.get(path).status_code == 404, (caller.email, path)
            else:
                assert browser.get(path).status_code == 404, (caller.email, path)


def test_a_teaching_assistant_sees_them(graded: dict[str, Any], app: Flask) -> None:
    ta = graded["make_caller"]("instructor")
    with app.app_context():
        db.session.add(Enrollment(course_id=graded["cid"], user_id=ta.user_id, role=CourseRole.ta))
        db.session.commit()
    browser = log_in(ta.client, ta.email)
    for path in paths(graded):
        client_get = ta.get if path.startswith("/api/") else browser.get
        assert client_get(path).status_code == 200, path


def test_a_user_of_another_course_has_no_student_page(graded: dict[str, Any]) -> None:
    teacher = graded["teacher"]
    stranger = graded["make_caller"]("student")
    other_cid, _ = make_course(
        teacher, [stranger], {"title": "B", "slots": [{"exercise_type": "loss"}]}, code="NN3"
    )
    browser = log_in(teacher.client, teacher.email)
    cid = graded["cid"]
    assert browser.get(f"/courses/{cid}/students/{stranger.user_id}").status_code == 404
    assert teacher.get(f"/api/v1/courses/{cid}/students/{stranger.user_id}").status_code == 404
    assert browser.get(f"/courses/{other_cid}/students/{stranger.user_id}").status_code == 200


def test_stats_of_another_courses_assignment_is_404(graded: dict[str, Any]) -> None:
    teacher = graded["teacher"]
    other_cid, _ = make_course(
        teacher, [], {"title": "B", "slots": [{"exercise_type": "loss"}]}, code="NN4"
    )
    browser = log_in(teacher.client, teacher.email)
    path = f"/courses/{other_cid}/assignments/{graded['aid']}/stats"
    assert browser.get(path).status_code == 404
    assert teacher.get(f"/api/v1{path}").status_code == 404


def test_empty_course_pages_render(make_caller: Callable[..., Caller]) -> None:
    teacher = make_caller("instructor")
    cid, assignment = make_course(
        teacher, [], {"title": "Nothing yet", "slots": [{"exercise_type": "loss"}]}
    )
    browser = log_in(teacher.client, teacher.email)
    assert "No named mistakes yet." in page(browser, f"/courses/{cid}")
    assert "No named mistakes yet." in page(browser, f"/courses/{cid}/misconceptions")
    stats = page(browser, f"/courses/{cid}/assignments/{assignment['id']}/stats")
    assert "<caption>Mistakes in slot 1</caption>" in stats
    me = page(browser, f"/courses/{cid}/students/{teacher.user_id}")
    assert "No submissions." in me


@pytest.mark.parametrize("big", [2**31, 2**63, 10**30])
def test_ids_past_a_32_bit_integer_are_404(graded: dict[str, Any], big: int) -> None:
    teacher, cid, aid = graded["teacher"], graded["cid"], graded["aid"]
    browser = log_in(teacher.client, teacher.email)
    for path in (
        f"/courses/{cid}/students/{big}",
        f"/courses/{cid}/assignments/{big}/stats",
        f"/courses/{big}/misconceptions",
        f"/courses/{cid}/students/{teacher.user_id}?assignment={big}",
    ):
        assert browser.get(path).status_code == 404, path
        assert teacher.get(f"/api/v1{path}").status_code == 404, path
    assert teacher.get(f"/api/v1/courses/{big}/overview").status_code == 404
    assert browser.get(f"/courses/{cid}/assignments/{aid}/stats").status_code == 200
