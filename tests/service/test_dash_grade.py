"""The gradebook (issue 14, item 4): its page, API twin and CSV exports (CONTRACT §9), on a
class of three worked by hand.

Two assignments: "Week 1 <i>" of two slots (3 points and 1 point: 4), "Week 2" of one slot
(2 points); 6 points in all. Credits per slot (a mark's late-adjusted best score):

| student (section)             | W1 s1 (3) | W1 s2 (1) | W2 s1 (2) | W1  | W2  | total |
| Ada Lovelace (A)              | 1 graded  | 0.5       | –         | 3.5 | –   | 3.5   |
| Hopper, Grace "<Amazing>" (B) | –         | 1         | 0.5       | 1   | 1   | 2     |
| =1+2 (A)                      | –         | –         | 0.75      | –   | 1.5 | 1.5   |

Ada's 1 comes from real submissions (a wrong answer, then the key) graded by the real
task; the other marks are written as grading would have.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from servicekit import Caller, grade_queued, log_in, make_course
from sqlalchemy import select, update

from service import gradebook as gb
from service.db import db
from service.models import CourseRole, Enrollment, Mark, Problem, Slot, User, utcnow

HOPPER = 'Hopper, Grace "<Amazing>"'



@dataclass
class Class:
    cid: int
    week1: int
    week2: int
    teacher: Caller
    ada: Caller
    grace: Caller
    formula: Caller


def _mark(user_id: int, slot_id: int, assignment_id: int, credit: float) -> Mark:
    now = utcnow()
    return Mark(user_id=user_id, slot_id=slot_id, assignment_id=assignment_id, graded=1,
                best_score=credit, credit=credit, first_view_at=now - timedelta(hours=1),
                last_at=now)


@pytest.fixture
def klass(app: Flask, make_caller: Callable[..., Caller]) -> Class:
    teacher = make_caller("instructor")
    ada = make_caller("student", "ada@example.org")
    grace = make_caller("student", "grace@example.org")
    formula = make_caller("student", "formula@example.org")
    cid, week1 = make_course(teacher, [ada, grace, formula], {
        "title": "Week 1 <i>", "attempts_allowed": 2,
        "slots": [{"exercise_type": "weight-gradient", "points": 3},
                  {"exercise_type": "forward-pass", "points": 1}],
    })
    week2 = teacher.post(f"/api/v1/courses/{cid}/assignments", json={
        "title": "Week 2", "slots": [{"exercise_type": "forward-pass", "points": 2}],
    }).json
    # Ada: a sign flip, then the key, graded by the real task: slot 1's credit is 1.
    problem = ada.post(
        f"/api/v1/courses/{cid}/assignments/{week1['id']}/slots/1/problem"
    ).json
    with app.app_context():
        key = db.session.get(Problem, uuid.UUID(problem["id"])).variant["key"]["dC_dW"]
    path = f"/api/v1/problems/{problem['id']}/submissions"
    wrong = [[str(-Fraction(str(v))) for v in row] for row in key]
    assert ada.post(path, json={"answers": {"dC_dW": wrong}}).status_code == 202
    assert ada.post(path, json={"answers": {"dC_dW": key}}).status_code == 202
    grade_queued(app)
    with app.app_context():
        slots = {(sl.assignment_id, sl.position): sl.id for sl in db.session.scalars(select(Slot))}
        w1s2, w2s1 = slots[(week1["id"], 2)], slots[(week2["id"], 1)]
        db.session.add_all([
            _mark(ada.user_id, w1s2, week1["id"], 0.5),
            _mark(grace.user_id, w1s2, week1["id"], 1.0),
            _mark(grace.user_id, w2s1, week2["id"], 0.5),
            _mark(formula.user_id, w2s1, week2["id"], 0.75),
        ])
        for caller, name, section in ((ada, "Ada Lovelace", "A"), (grace, HOPPER, "B"),
                                      (formula, "=1+2", "A")):
            db.session.execute(update(User).where(User.id == caller.user_id).values(name=name))
            db.session.execute(
                update(Enrollment)
                .where(Enrollment.user_id == caller.user_id, Enrollment.course_id == cid)
                .values(section=section)
            )
        db.session.commit()
    return Class(cid, week1["id"], week2["id"], teacher, ada, grace, formula)


def _book(klass: Class, **params: Any) -> dict[str, Any]:
    response = klass.teacher.get(f"/api/v1/courses/{klass.cid}/gradebook", query_string=params)
    assert response.status_code == 200, response.json
    book: dict[str, Any] = response.json
    return book


def _csv(response: Any) -> list[list[str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_cells_totals_and_empty_cells_worked_by_hand(klass: Class) -> None:
    book = _book(klass)
    w1, w2 = str(klass.week1), str(klass.week2)
    assert book["assignments"] == [
        {"id": klass.week1, "title": "Week 1 <i>", "points": 4.0},
        {"id": klass.week2, "title": "Week 2", "points": 2.0},
    ]
    rows = {r["email"]: r for r in book["students"]}
    assert set(rows) == {"ada@example.org", "grace@example.org", "formula@example.org"}
    assert rows["ada@example.org"]["scores"] == {w1: 3.5, w2: None}
    assert rows["grace@example.org"]["scores"] == {w1: 1.0, w2: 1.0}
    assert rows["formula@example.org"]["scores"] == {w1: None, w2: 1.5}
    assert [rows[e]["total"] for e in ("ada@example.org", "grace@example.org",
                                       "formula@example.org")] == [3.5, 2.0, 1.5]
    assert rows["grace@example.org"]["section"] == "B"
    assert (book["total_students"], book["page"], book["pages"]) == (3, 1, 1)


def test_only_students_are_rows(klass: Class, make_caller: Callable[..., Caller],
                                app: Flask) -> None:
    assistant = make_caller("student", "ta@example.org")
    with app.app_context():
        db.session.add(Enrollment(course_id=klass.cid, user_id=assistant.user_id,
                                  role=CourseRole.ta, section="A"))
        db.session.commit()
    assert len(_book(klass)["students"]) == 3


def test_sorting_filtering_and_pages(klass: Class) -> None:
    def emails(**params: Any) -> list[str]:
        return [r["email"].split("@")[0] for r in _book(klass, **params)["students"]]

    assert emails(sort="total") == ["formula", "grace", "ada"]
    assert emails(sort="total", order="desc") == ["ada", "grace", "formula"]
    # An empty cell sorts below any score, either way round.
    assert emails(sort=f"a{klass.week2}") == ["ada", "grace", "formula"]
    assert emails(sort=f"a{klass.week2}", order="desc") == ["formula", "grace", "ada"]
    assert emails(sort=f"a{klass.week1}", order="desc") == ["ada", "grace", "formula"]
    assert emails(sort="email") == ["ada", "formula", "grace"]
    assert emails(sort="section", order="desc")[0] == "grace"
    assert emails(section="A", sort="total") == ["formula", "ada"]
    assert emails(section="C") == []
    first = _book(klass, sort="total", per_page=2)
    second = _book(klass, sort="total", per_page=2, page=2)
    assert (first["pages"], first["total_students"]) == (2, 3)
    assert [r["email"] for r in first["students"] + second["students"]] == [
        "formula@example.org", "grace@example.org", "ada@example.org"]
    bad = klass.teacher.get(f"/api/v1/courses/{klass.cid}/gradebook?sort=a999999")
    assert bad.status_code == 422 and bad.json["error"]["code"] == "invalid_request"
    assert klass.teacher.get(
        f"/api/v1/courses/{klass.cid}/gradebook?sort=bogus").status_code == 422


def test_our_csv_matches_contract(klass: Class) -> None:
    response = klass.teacher.get(f"/courses/{klass.cid}/gradebook.csv")
    assert response.status_code == 302  # the pages want a session
    log_in(klass.teacher.client, klass.teacher.email)
    response = klass.teacher.client.get(f"/courses/{klass.cid}/gradebook.csv")
    assert response.headers["Content-Disposition"] == 'attachment; filename="NN1-gradebook.csv"'
    assert response.is_streamed
    assert _csv(response) == [
        ["email", "name", "section", "Week 1 <i>", "Week 2", "total"],
        # By name: "=1+2" first. Fractions of 1; total 2/6 and 3.5/6 to 4 decimals.
        ["formula@example.org", "'=1+2", "A", "", "0.75", "0.25"],
        ["ada@example.org", "Ada Lovelace", "A", "0.875", "", "0.5833"],
        ["grace@example.org", HOPPER, "B", "0.25", "0.5", "0.3333"],
    ]
    # The API twin gives the same file; a section keeps its students.
    twin = klass.teacher.get(f"/api/v1/courses/{klass.cid}/gradebook.csv")
    assert twin.get_data(as_text=True) == response.get_data(as_text=True)
    only_b = _csv(klass.teacher.get(f"/api/v1/courses/{klass.cid}/gradebook.csv?section=B"))
    assert [r[0] for r in only_b] == ["email", "grace@example.org"]


def test_canvas_csv_matches_contract(klass: Class) -> None:
    response = klass.teacher.get(f"/api/v1/courses/{klass.cid}/gradebook.csv?format=canvas")
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="NN1-gradebook-canvas.csv"'
    )
    text = response.get_data(as_text=True)
    # The comma and the quotes of a name are quoted as RFC 4180 says.
    assert '"Hopper, Grace ""<Amazing>"""' in text
    assert _csv(response) == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
         f"Week 1 <i> ({klass.week1})", f"Week 2 ({klass.week2})"],
        ["Points Possible", "", "", "", "", "4", "2"],
        ["'=1+2", "", "", "formula@example.org", "A", "", "1.5"],
        ["Lovelace, Ada", "", "", "ada@example.org", "A", "3.5", ""],
        [HOPPER, "", "", "grace@example.org", "B", "1", "1"],
    ]
    log_in(klass.teacher.client, klass.teacher.email)
    page = klass.teacher.client.get(f"/courses/{klass.cid}/gradebook.csv?format=canvas")
    assert page.get_data(as_text=True) == text
    bad = klass.teacher.get(f"/api/v1/courses/{klass.cid}/gradebook.csv?format=excel")
    assert bad.status_code == 422


def test_csv_helpers() -> None:
    assert [gb.decimal(v) for v in (0.5, 1.0, 0.0, 2 / 3, 1 / 3, 12.25, 0.00004)] == [
        "0.5", "1", "0", "0.6667", "0.3333", "12.25", "0"]
    assert gb.last_first("Ada King  Lovelace") == "Lovelace, Ada King"
    assert gb.last_first("Plato") == "Plato"
    assert gb.last_first("Lovelace, Ada") == "Lovelace, Ada"
    for risky in ("=A1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert gb.text(risky) == "'" + risky
    assert gb.text("Ada") == "Ada" and gb.text("a=b") == "a=b"
    assert gb.filename("CS 101/α", gb.Format.ours) == "CS-101-gradebook.csv"


def test_page_shows_the_gradebook_escaped_with_links(klass: Class) -> None:
    client = log_in(klass.teacher.client, klass.teacher.email)
    response = client.get(f"/courses/{klass.cid}/gradebook")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<caption" in html and ">Gradebook</caption>" in html
    assert "Week 1 &lt;i&gt;" in html and "Week 1 <i>" not in html
    assert "&lt;Amazing&gt;" in html and "<Amazing>" not in html
    assert ">Total</a>" in html and 'scope="col"' in html
    assert "Download CSV" in html and "Download for Canvas" in html
    assert '<label for="grade-section">Section</label>' in html and ">Filter</button>" in html
    # Each cell links to the student's work on that assignment.
    for caller in (klass.ada, klass.grace, klass.formula):
        for aid in (klass.week1, klass.week2):
            assert (f'href="/courses/{klass.cid}/students/{caller.user_id}?assignment={aid}"'
                    in html)
    ada_row = html[html.index("ada@example.org"):].split("</tr>")[0]
    assert re.findall(r'assignment=\d+">([^<]*)<', ada_row) == ["3.5", ""]  # then "–"
    assert ">3.5</td>" in ada_row and "not submitted" in ada_row
    filtered = client.get(f"/courses/{klass.cid}/gradebook?section=B").get_data(as_text=True)
    assert "grace@example.org" in filtered and "ada@example.org" not in filtered
    assert '<option value="B" selected>B</option>' in filtered
    by_total = client.get(f"/courses/{klass.cid}/gradebook?sort=total&order=desc")
    body = by_total.get_data(as_text=True)
    assert body.index("ada@example.org") < body.index("grace@example.org") < body.index(
        "formula@example.org")
    assert 'aria-sort="descending"' in body


def test_who_may_see_the_gradebook(klass: Class, make_caller: Callable[..., Caller],
                                   app: Flask) -> None:
    outsider = make_caller("instructor")
    assistant = make_caller("student", "ta@example.org")
    with app.app_context():
        db.session.add(Enrollment(course_id=klass.cid, user_id=assistant.user_id,
                                  role=CourseRole.ta))
        db.session.commit()
    cid = klass.cid
    pages = (f"/courses/{cid}/gradebook", f"/courses/{cid}/gradebook.csv",
             f"/courses/{cid}/gradebook.csv?format=canvas")
    routes = (f"/api/v1/courses/{cid}/gradebook", f"/api/v1/courses/{cid}/gradebook.csv")
    for caller in (klass.ada, outsider):
        for path in routes:
            response = caller.get(path)
            assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
        client = log_in(caller.client, caller.email)
        for path in pages:
            assert client.get(path).status_code == 404, path
    for path in routes:
        assert assistant.get(path).status_code == 200
    client = log_in(assistant.client, assistant.email)
    for path in pages:
        assert client.get(path).status_code == 200
    assert klass.teacher.get("/api/v1/courses/999999/gradebook").status_code == 404


def test_openapi_documents_the_gradebook(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert "/api/v1/courses/{course_id}/gradebook" in paths
    csv_route = paths["/api/v1/courses/{course_id}/gradebook.csv"]["get"]
    assert "text/csv" in csv_route["responses"]["200"]["content"]
    assert {p["name"] for p in csv_route["parameters"]} >= {"format", "section"}
