"""The instructor's view of the learning loop: the misconceptions page's heatmap and its
"most in need of help" list, the student page's learning model, and their JSON twins, over
real submissions graded by the real task. Beliefs and mastery are worked out by hand here
from the formulas of ``exercises.learning``'s docstring and its default parameters."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from servicekit import (
    Caller,
    grade_queued,
    log_in,
    make_course,
    practice_problem,
    statements_run,
)
from sqlalchemy import select

from service.class_learning import NEED_RULE
from service.db import db
from service.models import CourseRole, Enrollment, Problem, Submission

# Hand-computed, default parameters: prior belief 0.1, h = 0.85, f = 0.02, r = 0.2;
# mastery L0 = 0.3, S = 0.1, G = 0.02 (a computed answer), T = 0.1.
#
# Bob transposes the gradient twice, and only a transposed gradient explains a 3×2 answer
# to a 2×3 key (f' = f). Named: LR = (h + (1-h)f)/f = 0.853/0.02 = 42.65.
#   1st: odds 1/9 · 42.65 = 4.7389, b = 0.82575; shown to him: b·(1-r) = 0.66060.
#   2nd: odds 0.66060/0.33940 · 42.65 = 83.013, b = 0.98809; · 0.8 = 0.79047.
BOB_TRANSPOSED = 0.79047
# Every other misconception his part could reveal: clean twice (another mistake named),
# LR = 1-h = 0.15 each: odds 1/9 · 0.0225 = 0.0025, b = 0.0024938 ("0%").
BOB_CLEAN = 0.0024938
# Ann answers right once: every revealable misconception clean once: odds 1/9 · 0.15,
# b = 0.016393 ("2%").
ANN_CLEAN = 0.016393
# dC/dW mastery. Ann right: 0.3·0.9 / (0.27 + 0.7·0.02) = 0.950704; + 0.049296·0.1
# = 0.955634. Bob wrong: 0.03/(0.03 + 0.7·0.98) = 0.041899; + 0.958101·0.1 = 0.137709;
# wrong again: 0.0137709/(0.0137709 + 0.862291·0.98) = 0.016035; + 0.983965·0.1 = 0.114431.
ANN_MASTERY = 0.955634
BOB_MASTERY = 0.114431


def transpose(matrix: list[list[Any]]) -> list[list[Any]]:
    return [list(column) for column in zip(*matrix, strict=True)]


def key_of(app: Flask, problem_id: str) -> list[list[str]]:
    with app.app_context():
        problem = db.session.get(Problem, uuid.UUID(problem_id))
        assert problem is not None
        key: list[list[str]] = problem.variant["key"]["dC_dW"]
        return key


def submit(caller: Caller, problem_id: str, matrix: list[list[Any]]) -> None:
    response = caller.post(
        f"/api/v1/problems/{problem_id}/submissions", json={"answers": {"dC_dW": matrix}}
    )
    assert response.status_code == 202, response.json


def answer(app: Flask, caller: Caller, cid: int, aid: int, answers: list[str]) -> None:
    """Draw the caller's slot-1 problem and submit each answer ("key" or "transposed")."""
    drawn = caller.post(f"/api/v1/courses/{cid}/assignments/{aid}/slots/1/problem")
    assert drawn.status_code == 200, drawn.json
    key = key_of(app, drawn.json["id"])
    for a in answers:
        submit(caller, drawn.json["id"], transpose(key) if a == "transposed" else key)


@pytest.fixture
def klass(app: Flask, make_caller: Callable[..., Caller]) -> dict[str, Any]:
    """A course of three students on one weight-gradient slot (difficulty 3: W is 2×3),
    graded: Ann answers right, Bob transposes the gradient twice, Cat sends nothing. In
    roster order (by email) they are Ann, Bob, Cat; by need, Bob, Ann, Cat."""
    teacher = make_caller("instructor")
    ann, bob, cat = (make_caller("student") for _ in range(3))
    cid, assignment = make_course(teacher, [ann, bob, cat], {
        "title": "Homework 1", "attempts_allowed": 3,
        "slots": [{"exercise_type": "weight-gradient", "difficulty": 3}],
    })
    aid = assignment["id"]
    answer(app, ann, cid, aid, ["key"])
    answer(app, bob, cid, aid, ["transposed", "transposed"])
    grade_queued(app)
    assert ann.email < bob.email < cat.email
    return {"cid": cid, "aid": aid, "teacher": teacher, "ann": ann, "bob": bob, "cat": cat,
            "make_caller": make_caller}


def page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return str(response.get_data(as_text=True))


def pct(p: float) -> str:
    """A probability as the pages print it: a whole percentage, never 100% short of 1."""
    return f"{min(round(p * 100), 99)}%"


# A cell none of the student's answers could show: a dash, "not tested" for screen readers.
_untested = '<span aria-hidden="true">–</span><span class="visually-hidden">not tested</span>'
Heatmap = list[tuple[int, int, dict[str, tuple[str, str]]]]


def heatmap(html: str) -> tuple[list[str], Heatmap]:
    """The heatmap's column tags, and per row (student id, rank, tag -> (classes, text))."""
    match = re.search(r'<table class="data heatmap" id="learning-heatmap">(.*?)</table>',
                      html, re.S)
    assert match, "no heatmap"
    body = match.group(1)
    columns = re.findall(r'<th scope="col" class="num" data-tag="([^"]+)">', body)
    rows = []
    for sid, rank, cells in re.findall(
        r'<tr data-student="(\d+)" data-rank="(\d+)">(.*?)</tr>', body, re.S
    ):
        found = re.findall(r'<td class="num heat ([^"]*)" data-tag="([^"]+)">(.*?)</td>', cells)
        rows.append((int(sid), int(rank), {tag: (cls, text) for cls, tag, text in found}))
    return columns, rows


# --- the course: heatmap, need list, JSON twin ------------------------------------------


def test_the_heatmap_orders_students_by_need(klass: dict[str, Any]) -> None:
    teacher, cid = klass["teacher"], klass["cid"]
    ann, bob, cat = klass["ann"], klass["bob"], klass["cat"]
    html = page(log_in(teacher.client, teacher.email), f"/courses/{cid}/misconceptions")
    columns, rows = heatmap(html)
    assert "<caption id=\"heatmap-caption\">Belief per misconception and student</caption>" in html
    # Bob probably holds one misconception, Ann none, Cat has no graded work: last.
    assert [(sid, rank) for sid, rank, _ in rows] == [(bob.user_id, 1), (ann.user_id, 2),
                                                      (cat.user_id, 3)]
    # The one misconception likely for someone comes first.
    assert columns[0] == "transposed-gradient"
    (_, _, bob_cells), (_, _, ann_cells), (_, _, cat_cells) = rows
    assert bob_cells["transposed-gradient"] == ("heat-8 heat-likely", pct(BOB_TRANSPOSED))
    assert ann_cells["transposed-gradient"] == ("heat-0", pct(ANN_CLEAN))
    # Every other column is some misconception one of their parts could reveal: clean.
    for tag in columns[1:]:
        assert bob_cells[tag] in {("heat-0", pct(BOB_CLEAN)), ("heat-none", _untested)}
        assert ann_cells[tag] in {("heat-0", pct(ANN_CLEAN)), ("heat-none", _untested)}
    # Cat could show nothing: a dash, and "not tested" for a screen reader; no colour.
    assert set(cat_cells.values()) == {("heat-none", _untested)}
    # Names link to the student pages.
    for student in (ann, bob, cat):
        assert f'href="/courses/{cid}/students/{student.user_id}">' in html
    assert 'role="region" aria-labelledby="heatmap-caption"' in html


def test_students_most_in_need_of_help(klass: dict[str, Any]) -> None:
    teacher, cid, bob = klass["teacher"], klass["cid"], klass["bob"]
    html = page(log_in(teacher.client, teacher.email), f"/courses/{cid}/misconceptions")
    assert NEED_RULE in html  # the rule, in one sentence on the page
    match = re.search(r'<ol class="need-list" id="students-in-need">(.*?)</ol>', html, re.S)
    assert match
    items = re.findall(r'<li data-student="(\d+)">(.*?)</li>', match.group(1), re.S)
    # Only Bob probably holds a misconception: Ann and Cat are not "in need".
    assert [int(sid) for sid, _ in items] == [bob.user_id]
    text = " ".join(items[0][1].split())
    assert f'href="/courses/{cid}/students/{bob.user_id}">Student</a>' in text
    assert f"probably holds <strong>Transposed gradient</strong> ({pct(BOB_TRANSPOSED)})" in text
    assert f"Weakest skills: dC/dW ({pct(BOB_MASTERY)})." in text


def test_the_json_twin_agrees_with_the_page(klass: dict[str, Any]) -> None:
    teacher, cid = klass["teacher"], klass["cid"]
    ann, bob, cat = klass["ann"], klass["bob"], klass["cat"]
    body = teacher.get(f"/api/v1/courses/{cid}/learning").json
    assert body["course_id"] == cid and body["rule"] == NEED_RULE
    students = body["students"]
    assert [(s["id"], s["need_rank"], s["in_need"]) for s in students] == [
        (bob.user_id, 1, True), (ann.user_id, 2, False), (cat.user_id, 3, False)]
    b, a, c = students
    assert (b["email"], b["submissions"], a["submissions"], c["submissions"]) == (
        bob.email, 2, 1, 0)
    assert b["likely"] == ["transposed-gradient"] and a["likely"] == c["likely"] == []
    assert b["beliefs"]["transposed-gradient"] == pytest.approx(BOB_TRANSPOSED, abs=1e-4)
    assert a["beliefs"]["transposed-gradient"] == pytest.approx(ANN_CLEAN, abs=1e-5)
    assert c["beliefs"]["transposed-gradient"] == pytest.approx(0.1)  # the prior
    assert b["mastery"]["weight-gradient"] == pytest.approx(BOB_MASTERY, abs=1e-5)
    assert a["mastery"]["weight-gradient"] == pytest.approx(ANN_MASTERY, abs=1e-5)
    assert a["mean_mastery"] == pytest.approx(ANN_MASTERY, abs=1e-5)
    assert c["mean_mastery"] is None and c["tested"] == [] and c["weakest"] == []
    assert b["weakest"] == ["weight-gradient"] and a["weakest"] == []  # 95.6% is mastered

    # The page shows the same: columns, order, and every cell's percentage.
    html = page(log_in(teacher.client, teacher.email), f"/courses/{cid}/misconceptions")
    columns, rows = heatmap(html)
    assert columns == [m["tag"] for m in body["misconceptions"]]
    assert [sid for sid, _, _ in rows] == [s["id"] for s in students]
    for (_, _, cells), s in zip(rows, students, strict=True):
        for tag in columns:
            text = cells[tag][1]
            assert text == (pct(s["beliefs"][tag]) if tag in s["tested"] else _untested), tag
    # Columns: exactly the misconceptions likely for someone or tested for someone.
    assert set(columns) == {t for s in students for t in s["tested"]} | {"transposed-gradient"}


def test_the_model_read_makes_no_query_per_student(
    klass: dict[str, Any], app: Flask
) -> None:
    teacher, cid, aid = klass["teacher"], klass["cid"], klass["aid"]
    path = f"/api/v1/courses/{cid}/learning"
    with statements_run(app) as before:
        assert teacher.get(path).status_code == 200
    more = [klass["make_caller"]("student") for _ in range(2)]
    for s in more:
        assert teacher.post(f"/api/v1/courses/{cid}/roster",
                            json={"email": s.email}).status_code == 201
        answer(app, s, cid, aid, ["transposed"])
    grade_queued(app)
    with statements_run(app) as after:
        body = teacher.get(path).json
    assert len(body["students"]) == 5
    assert len(after) == len(before)


def test_an_empty_course_has_no_heatmap(make_caller: Callable[..., Caller]) -> None:
    teacher = make_caller("instructor")
    cid, _ = make_course(teacher, [make_caller("student")],
                         {"title": "Nothing yet", "slots": [{"exercise_type": "loss"}]})
    html = page(log_in(teacher.client, teacher.email), f"/courses/{cid}/misconceptions")
    assert "No student probably holds a misconception yet." in html
    assert 'id="learning-heatmap"' not in html and "No graded work yet." in html
    body = teacher.get(f"/api/v1/courses/{cid}/learning").json
    assert body["misconceptions"] == [] and body["students"][0]["need_rank"] == 1


# --- who may see ------------------------------------------------------------------------


def test_a_teaching_assistant_sees_the_heatmap(klass: dict[str, Any], app: Flask) -> None:
    ta = klass["make_caller"]("instructor")
    with app.app_context():
        db.session.add(Enrollment(course_id=klass["cid"], user_id=ta.user_id, role=CourseRole.ta))
        db.session.commit()
    cid, bob = klass["cid"], klass["bob"]
    _, rows = heatmap(page(log_in(ta.client, ta.email), f"/courses/{cid}/misconceptions"))
    assert rows[0][0] == bob.user_id
    assert ta.get(f"/api/v1/courses/{cid}/learning").json["students"][0]["id"] == bob.user_id
    assert 'id="student-held"' in page(ta.client, f"/courses/{cid}/students/{bob.user_id}")


def test_students_and_outsiders_get_404(klass: dict[str, Any]) -> None:
    cid, bob = klass["cid"], klass["bob"]
    outsider = klass["make_caller"]("instructor")
    for caller in (klass["ann"], bob, outsider):
        browser = log_in(caller.client, caller.email)
        for path in (f"/courses/{cid}/misconceptions", f"/courses/{cid}/students/{bob.user_id}"):
            assert browser.get(path).status_code == 404, (caller.email, path)
        for path in (f"/api/v1/courses/{cid}/learning",
                     f"/api/v1/courses/{cid}/students/{bob.user_id}"):
            assert caller.get(path).status_code == 404, (caller.email, path)


# --- one student --------------------------------------------------------------------------


def test_the_student_page_links_only_this_courses_submissions(
    klass: dict[str, Any], app: Flask
) -> None:
    teacher, cid, bob = klass["teacher"], klass["cid"], klass["bob"]
    # Bob also transposes a practice gradient: it counts in his model, but it is not the
    # course's, so the course's staff get no link to it.
    with app.app_context():
        problem = practice_problem(5, owner_id=bob.user_id)
        db.session.add(problem)
        db.session.commit()
        practice_id = str(problem.id)
    submit(bob, practice_id, transpose(key_of(app, practice_id)))
    grade_queued(app)
    with app.app_context():
        subs = db.session.execute(
            select(Submission.id, Submission.problem_id).where(Submission.user_id == bob.user_id)
        ).all()
    practice = [str(sid) for sid, pid in subs if str(pid) == practice_id]
    course = {str(sid) for sid, pid in subs if str(pid) != practice_id}
    assert len(practice) == 1 and len(course) == 2
    graded = bob.get(f"/api/v1/submissions/{practice[0]}").json
    assert "transposed-gradient" in graded["parts"]["dC_dW"]["misconceptions"]

    client = log_in(teacher.client, teacher.email)
    html = page(client, f"/courses/{cid}/students/{bob.user_id}")
    match = re.search(r'<ul class="held-list" id="student-held">(.*?)</ul>', html, re.S)
    assert match
    held = " ".join(match.group(1).split())
    assert '<li data-mistake="transposed-gradient"><strong>Transposed gradient</strong>' in held
    assert "Transposed gradient in 3 of their last 3 dC/dW answers" in held
    assert set(re.findall(r'href="/submissions/([0-9a-f-]+)"', held)) == course
    assert practice[0] not in html
    assert "1 more outside this course (practice or another course), not linked." in held
    # The skills: dC/dW practised three times, wrong each time; the rest not practised.
    skills = re.search(r'<table class="data" id="student-skills">(.*?)</table>', html, re.S)
    assert skills
    row = re.search(r'<tr data-skill="weight-gradient">(.*?)</tr>', skills.group(1), re.S)
    assert row and '<td class="num">3</td>' in row.group(1) and "not yet" in row.group(1)
    assert skills.group(1).count("not practised") == 10

    # The JSON twin lists the same two submissions, and counts the practice one.
    body = teacher.get(f"/api/v1/courses/{cid}/students/{bob.user_id}").json["learning"]
    assert body["submissions"] == 3
    (likely,) = body["likely"]
    assert (likely["tag"], set(likely["submissions"]), likely["elsewhere"]) == (
        "transposed-gradient", course, 1)
    assert likely["sentence"] == "Transposed gradient in 3 of their last 3 dC/dW answers"
    # Why not link it: a TA of the course may not open a student's practice.
    ta = klass["make_caller"]("instructor")
    with app.app_context():
        db.session.add(Enrollment(course_id=cid, user_id=ta.user_id, role=CourseRole.ta))
        db.session.commit()
    ta_browser = log_in(ta.client, ta.email)
    assert ta_browser.get(f"/submissions/{practice[0]}").status_code == 404
    assert ta_browser.get(f"/submissions/{sorted(course)[0]}").status_code == 200


def test_a_student_without_graded_work(klass: dict[str, Any]) -> None:
    teacher, cid, cat = klass["teacher"], klass["cid"], klass["cat"]
    html = page(log_in(teacher.client, teacher.email), f"/courses/{cid}/students/{cat.user_id}")
    assert "From 0 graded submissions of" in html and "None likely." in html
    body = teacher.get(f"/api/v1/courses/{cid}/students/{cat.user_id}").json["learning"]
    assert body["likely"] == [] and all(s["opportunities"] == 0 for s in body["skills"])
