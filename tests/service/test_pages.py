"""The student pages (issue 4) through Flask's test client: who may open what, CSRF on
every form, the problem page's accessible names, and escaping of prompt and feedback."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from servicekit import PASSWORD, Caller, csrf_token, grade_queued, log_in, make_course
from sqlalchemy import select

from service import auth
from service.db import db
from service.models import Problem, Result, Role, Status, Submission, utcnow


@pytest.fixture
def browser(student: Caller) -> FlaskClient:
    """A logged-in session (cookie, not bearer) for ``student``."""
    log_in(student.client, student.email)
    return student.client


def practice_problem(app: Flask, client: FlaskClient, type_: str = "weight-gradient",
                     seed: int = 7) -> uuid.UUID:
    assert client.get(f"/practice/{type_}?seed={seed}&difficulty=1").status_code == 200
    with app.app_context():
        return db.session.scalars(
            select(Problem.id).where(Problem.type == type_, Problem.seed == seed)
        ).one()



def submit(client: FlaskClient, problem_id: uuid.UUID, answers: dict[str, Any]) -> Any:
    """Post answers as the problem page does: session cookie plus the page's CSRF token."""
    token = csrf_token(client, f"/problems/{problem_id}")
    return client.post(
        f"/api/v1/problems/{problem_id}/submissions",
        json={"answers": answers},
        headers={"X-CSRFToken": token},
    )


def key_of(app: Flask, problem_id: uuid.UUID) -> dict[str, Any]:
    with app.app_context():
        return db.session.get(Problem, problem_id).variant["key"]


# --- logging in and out ----------------------------------------------------------------


PAGES = [
    "/courses",
    "/practice",
    "/practice/weight-gradient?seed=1&difficulty=1",
    f"/problems/{uuid.UUID(int=1)}",
    f"/problems/{uuid.UUID(int=2)}/preview?part=expr&text=x1",
    f"/submissions/{uuid.UUID(int=3)}",
    f"/submissions/{uuid.UUID(int=4)}/panel",
    "/courses/1/assignments/1",
    "/courses/1/assignments/1/problems/1",
]


@pytest.mark.parametrize("path", PAGES)
def test_pages_need_a_login(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_the_login_form_has_labelled_email_and_password(client: FlaskClient) -> None:
    html = client.get("/login").get_data(as_text=True)
    assert '<label for="email">Email</label>' in html and 'id="email"' in html
    assert '<label for="password">Password</label>' in html and 'id="password"' in html


def test_logging_in_without_the_csrf_token_is_refused(client: FlaskClient, student: Caller) -> None:
    response = client.post("/login", data={"email": student.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert client.get("/courses").status_code == 302  # still logged out


def test_log_in_and_out(client: FlaskClient, student: Caller) -> None:
    wrong = client.post(
        "/login",
        data={"email": student.email, "password": "nope-nope", "csrf_token": csrf_token(client)},
    )
    assert wrong.status_code == 401 and "do not match" in wrong.get_data(as_text=True)
    log_in(client, student.email)
    assert client.get("/courses").status_code == 200

    assert client.post("/logout").status_code == 400  # no CSRF token: still logged in
    assert client.get("/courses").status_code == 200
    token = csrf_token(client, "/courses")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/courses").status_code == 302


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "\\\\evil"])
def test_after_login_only_local_pages(client: FlaskClient, student: Caller, target: str) -> None:
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"email": student.email, "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert response.headers["Location"] == "/courses"


def test_after_login_back_to_the_page_asked_for(client: FlaskClient, student: Caller) -> None:
    response = client.post(
        "/login",
        query_string={"next": "/practice"},
        data={"email": student.email, "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert response.headers["Location"] == "/practice"


# --- practice and the problem page -------------------------------------------------------


def test_practice_without_a_seed_draws_one_at_a_stable_address(browser: FlaskClient) -> None:
    response = browser.get("/practice/weight-gradient?difficulty=2")
    assert response.status_code == 302
    assert re.fullmatch(
        r"/practice/weight-gradient\?seed=\d+&difficulty=2", response.headers["Location"]
    )


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/practice/no-such-type?seed=1", 404),
        ("/practice/weight-gradient?seed=1&difficulty=9", 400),
        ("/practice/weight-gradient?seed=-1", 400),
        ("/practice/weight-gradient?seed=abc", 400),
    ],
)
def test_bad_practice_addresses(browser: FlaskClient, path: str, status: int) -> None:
    assert browser.get(path).status_code == status


def test_the_same_practice_address_is_the_same_problem(app: Flask, browser: FlaskClient) -> None:
    first = practice_problem(app, browser, seed=11)
    assert practice_problem(app, browser, seed=11) == first


def test_the_problem_page_names_every_input(app: Flask, browser: FlaskClient) -> None:
    html = browser.get("/practice/weight-gradient?seed=7&difficulty=1").get_data(as_text=True)
    assert 'aria-label="dC_dW rows"' in html and 'aria-label="dC_dW columns"' in html
    # The grid starts at 1×1, whatever the key's shape (2×2 here): the shape is not given away.
    assert re.findall(r'aria-label="(dC_dW row \d+ column \d+)"', html) == ["dC_dW row 1 column 1"]
    assert re.search(r'<button type="submit"[^>]*>Submit</button>', html)
    assert 'role="status"' in html
    assert "<math" in html and "<svg" in html  # the prompt's maths and the network


@pytest.mark.parametrize(
    ("type_", "names"),
    [
        ("chain-rule", ['aria-label="dC_da"', 'aria-label="dC_dw"']),
        ("symbolic-gradient", ['aria-label="expr"', 'id="preview-expr"']),
        ("concept-check", ['role="radiogroup" aria-label="choice"', 'type="radio"']),
    ],
)
def test_other_kinds_of_part(browser: FlaskClient, type_: str, names: list[str]) -> None:
    html = browser.get(f"/practice/{type_}?seed=3&difficulty=1").get_data(as_text=True)
    for name in names:
        assert name in html
    assert ("<svg" in html) == (type_ != "concept-check")  # concept-check has no network


def test_pages_forbid_inline_scripts(browser: FlaskClient) -> None:
    response = browser.get("/practice")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


# --- whose problem, whose submission -------------------------------------------------------


def test_another_students_problem_and_submission_are_404(
    app: Flask, make_caller: Callable[..., Caller]
) -> None:
    owner, other = make_caller("student"), make_caller("student")
    log_in(owner.client, owner.email)
    log_in(other.client, other.email)
    problem_id = practice_problem(app, owner.client)
    accepted = submit(owner.client, problem_id, {"dC_dW": [["1"]]})
    assert accepted.status_code == 202, accepted.json
    sid = accepted.json["id"]
    pages = [
        f"/problems/{problem_id}",
        f"/problems/{problem_id}/preview?part=dC_dW&text=1",
        f"/submissions/{sid}",
        f"/submissions/{sid}/panel",
    ]
    for path in pages:
        assert other.client.get(path).status_code == 404, path
    for path in pages[:1] + pages[2:]:
        assert owner.client.get(path).status_code == 200, path


def _one_slot_course(
    teacher: Caller, student: Caller, code: str, title: str, attempts_allowed: int
) -> tuple[int, int]:
    """A course with the student enrolled and an assignment of one weight-gradient slot."""
    cid, assignment = make_course(
        teacher,
        [student],
        {"title": "HW", "attempts_allowed": attempts_allowed,
         "slots": [{"exercise_type": "weight-gradient"}]},
        code=code,
        title=title,
    )
    return cid, assignment["id"]


def test_an_instructor_sees_a_students_slot_problem_read_only(
    app: Flask, make_caller: Callable[..., Caller]
) -> None:
    teacher, student, outsider = (make_caller(r) for r in ("instructor", "student", "student"))
    cid, aid = _one_slot_course(teacher, student, "P1", "Pages", attempts_allowed=2)
    for caller in (teacher, student, outsider):
        log_in(caller.client, caller.email)

    opened = student.client.get(f"/courses/{cid}/assignments/{aid}/problems/1")
    assert opened.status_code == 302
    page = opened.headers["Location"]
    assert student.client.get(f"/courses/{cid}/assignments/{aid}/problems/1").headers[
        "Location"
    ] == page  # the same variant on every visit
    html = student.client.get(page).get_data(as_text=True)
    assert "<strong>2</strong> of 2 left" in html and 'id="submit">Submit' in html

    as_teacher = teacher.client.get(page).get_data(as_text=True)
    assert "Only the student this problem belongs to can answer it." in as_teacher
    assert outsider.client.get(page).status_code == 404
    assert outsider.client.get(f"/courses/{cid}/assignments/{aid}").status_code == 404
    assignment = student.client.get(f"/courses/{cid}/assignments/{aid}").get_data(as_text=True)
    assert "0 used, 2 left" in assignment
    courses = student.client.get("/courses").get_data(as_text=True)
    assert "Pages" in courses and "0 of 1 solved" in courses


# --- results ---------------------------------------------------------------------------


def test_the_result_panel_names_the_mistake_then_opens_the_solution(
    app: Flask, browser: FlaskClient
) -> None:
    problem_id = practice_problem(app, browser)
    key = key_of(app, problem_id)["dC_dW"]
    transposed = [list(col) for col in zip(*key, strict=True)]
    assert transposed != key

    sid = submit(browser, problem_id, {"dC_dW": transposed}).json["id"]
    grade_queued(app)
    panel = browser.get(f"/submissions/{sid}/panel").json
    assert panel["status"] == "graded"
    assert "0%" in panel["result"] and "Transposed gradient" in panel["result"]
    assert "x·δᵀ" in panel["result"]  # the tutor's explanation
    assert panel["solution"] is None and "Transposed gradient" in panel["history"]

    sid = submit(browser, problem_id, {"dC_dW": key}).json["id"]
    grade_queued(app)
    panel = browser.get(f"/submissions/{sid}/panel").json
    assert "100%" in panel["result"]
    assert "Show the worked solution" in panel["solution"]
    assert "<math" in panel["solution"]
    page = browser.get(f"/problems/{problem_id}").get_data(as_text=True)
    assert "Show the worked solution" in page
    assert "Attempts: <strong>2</strong> used" in page


def test_unreadable_answers_cost_no_attempt(app: Flask, browser: FlaskClient) -> None:
    problem_id = practice_problem(app, browser)
    refused = submit(browser, problem_id, {"dC_dW": [["1/"]]})
    assert refused.status_code == 422 and "dC_dW" in refused.json["error"]["parts"]
    page = browser.get(f"/problems/{problem_id}").get_data(as_text=True)
    assert "Attempts: <strong>0</strong> used" in page


def test_the_expression_preview(app: Flask, browser: FlaskClient) -> None:
    problem_id = practice_problem(app, browser, "symbolic-gradient", seed=3)
    url = f"/problems/{problem_id}/preview"
    read = browser.get(url, query_string={"part": "expr", "text": "(a2 - y2)*a2*(1-a2)*x1"}).json
    assert read["ok"] and read["mathml"].startswith("<math")
    refused = browser.get(url, query_string={"part": "expr", "text": "a1 +"}).json
    assert not refused["ok"] and refused["error"]
    hostile = browser.get(url, query_string={"part": "expr", "text": "<script>"}).json
    assert not hostile["ok"]
    too_long = browser.get(url, query_string={"part": "expr", "text": "a1+" * 200}).json
    assert not too_long["ok"] and "longer than" in too_long["error"]
    assert browser.get(url, query_string={"part": "nope", "text": "a1"}).status_code == 404


# --- escaping ----------------------------------------------------------------------------

HOSTILE = "<script>alert('x')</script>"


def test_prompt_labels_feedback_and_names_are_escaped(app: Flask) -> None:
    with app.app_context():
        user = auth.create_user("mallory@example.org", PASSWORD, Role.student, name=HOSTILE)
        db.session.commit()
    client = app.test_client()
    log_in(client, "mallory@example.org")
    problem_id = practice_problem(app, client)
    with app.app_context():
        problem = db.session.get(Problem, problem_id)
        variant = dict(problem.variant)
        variant["prompt"] = f"Look: {HOSTILE} $x < y$ and `{HOSTILE}` and $\\text{{{HOSTILE}}}$"
        variant["parts"] = [dict(variant["parts"][0], label="<img src=x onerror=alert(1)> $W$")]
        problem.variant = variant
        now = utcnow()
        submission = Submission(
            problem=problem, user_id=user.id, attempt=1, answers={"dC_dW": [[HOSTILE]]},
            status=Status.graded, received_at=now, queued_at=now, graded_at=now + timedelta(1),
        )
        db.session.add(submission)
        db.session.flush()
        db.session.add(Result(
            submission_id=submission.id, score=0.0, latency_seconds=0.1,
            parts={"dC_dW": {"score": 0.0, "correct": False, "misconceptions": [],
                             "feedback": f"Feedback {HOSTILE}"}},
        ))
        db.session.commit()
        sid = submission.id

    for path in (f"/problems/{problem_id}", f"/submissions/{sid}"):
        html = client.get(path).get_data(as_text=True)
        assert HOSTILE not in html, path
        assert "<img src=x" not in html, path
        assert "&lt;script&gt;alert(" in html, path
    panel = client.get(f"/submissions/{sid}/panel").json
    assert HOSTILE not in panel["result"] and "Feedback &lt;script&gt;" in panel["result"]


def test_the_page_submits_only_with_its_csrf_token(app: Flask, browser: FlaskClient) -> None:
    problem_id = practice_problem(app, browser)
    refused = browser.post(
        f"/api/v1/problems/{problem_id}/submissions", json={"answers": {"dC_dW": [["1"]]}}
    )
    assert refused.status_code == 400 and refused.json["error"]["code"] == "csrf_failed"
    assert submit(browser, problem_id, {"dC_dW": [["1"]]}).status_code == 202


def test_carried_forward_credit_is_marked(app: Flask, browser: FlaskClient) -> None:
    problem_id = practice_problem(app, browser, "chain-rule", seed=2)
    with app.app_context():
        problem = db.session.get(Problem, problem_id)
        now = utcnow()
        submission = Submission(
            problem=problem, user_id=problem.owner_id, attempt=1, answers={},
            status=Status.graded, received_at=now, queued_at=now, graded_at=now,
        )
        db.session.add(submission)
        db.session.flush()
        wrong = {"score": 0.0, "correct": False, "misconceptions": ["sign-flip"],
                 "feedback": "Sign flip: ..."}
        carried = {"score": 1.0, "correct": True, "misconceptions": [], "carried_forward": True,
                   "feedback": "Correct from your own earlier answers (carried forward)."}
        right = {"score": 1.0, "correct": True, "misconceptions": [], "feedback": "Correct."}
        db.session.add(Result(
            submission_id=submission.id, score=0.75, latency_seconds=0.1,
            parts={"dC_da": wrong, "da_dz": right, "dz_dw": right, "dC_dw": carried},
        ))
        db.session.commit()
        sid = submission.id
    result = browser.get(f"/submissions/{sid}/panel").json["result"]
    assert "75%" in result and "Sign flip" in result
    assert result.count("carried-forward credit") == 1
    assert "from your own earlier answers" in result


# --- Submit with JavaScript off (issue 12, item 7) -----------------------------------------


def form_post(client: FlaskClient, problem_id: uuid.UUID, fields: dict[str, str],
              page: str) -> Any:
    """Post the problem page's form as a browser without JavaScript does."""
    html = client.get(page).get_data(as_text=True)
    action = re.search(r'<form[^>]*id="answer-form"[^>]*>', html, re.DOTALL)
    assert action and 'method="post"' in action.group(0), "the form posts without a script"
    target = re.search(r'action="([^"]+)"', action.group(0)).group(1)
    return client.post(target, data={"csrf_token": csrf_token(client, page), **fields})


def grid_fields(name: str, rows: list[list[Any]]) -> dict[str, str]:
    fields = {f"{name}.rows": str(len(rows)), f"{name}.cols": str(len(rows[0]))}
    for i, row in enumerate(rows, start=1):
        for j, value in enumerate(row, start=1):
            fields[f"{name}.{i}.{j}"] = str(value)
    return fields


def test_submit_without_javascript_comes_back_to_the_practice_page_with_the_result(
    app: Flask, browser: FlaskClient
) -> None:
    page = "/practice/weight-gradient?seed=7&difficulty=1"
    problem_id = practice_problem(app, browser, seed=7)
    key = key_of(app, problem_id)["dC_dW"]
    response = form_post(browser, problem_id, grid_fields("dC_dW", key), page)
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith(page + "&submission="), location  # the same problem, same seed
    grade_queued(app)
    html = browser.get(location).get_data(as_text=True)
    start = html.index('id="status"')
    status = html[start:html.index("</form>", start)]
    assert "100%" in status
    assert 'http-equiv="refresh"' not in html  # graded: no more reloading
    assert html.count("cell-right") == 4 and "cell-wrong" not in html  # marks in the grid


def test_without_javascript_a_pending_result_reloads_until_graded(
    app: Flask, browser: FlaskClient
) -> None:
    page = "/practice/weight-gradient?seed=7&difficulty=1"
    problem_id = practice_problem(app, browser, seed=7)
    response = form_post(browser, problem_id, grid_fields("dC_dW", [[1, 2], [3, 4]]), page)
    html = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert 'http-equiv="refresh"' in html and "Grading" in html


def test_without_javascript_unreadable_answers_come_back_with_reasons_and_no_attempt(
    app: Flask, browser: FlaskClient
) -> None:
    page = "/practice/weight-gradient?seed=7&difficulty=1"
    problem_id = practice_problem(app, browser, seed=7)
    response = form_post(browser, problem_id, grid_fields("dC_dW", [["1/", 2], [3, 4]]), page)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "no attempt was used" in html and "row 1, column 1" in html
    assert 'value="1/"' in html  # the answer as typed stays in its cell
    with app.app_context():
        assert db.session.get(Problem, problem_id).attempts_used == 0


def test_without_javascript_a_new_grid_shape_reshapes_the_grid_and_grades_nothing(
    app: Flask, browser: FlaskClient
) -> None:
    page = "/practice/weight-gradient?seed=7&difficulty=1"
    problem_id = practice_problem(app, browser, seed=7)
    fields = {**grid_fields("dC_dW", [[5]]), "dC_dW.rows": "2", "dC_dW.cols": "3"}
    response = form_post(browser, problem_id, fields, page)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'aria-label="dC_dW row 2 column 3"' in html and "Nothing was graded" in html
    assert re.search(r'value="5"[^>]*aria-label="dC_dW row 1 column 1"', html)
    with app.app_context():
        assert db.session.get(Problem, problem_id).attempts_used == 0


def test_the_form_post_needs_its_csrf_token(app: Flask, browser: FlaskClient) -> None:
    problem_id = practice_problem(app, browser, seed=7)
    response = browser.post(f"/problems/{problem_id}/answers", data=grid_fields("dC_dW", [[1]]))
    assert response.status_code == 400


def test_without_javascript_an_assignment_problem_comes_back_to_its_page_until_no_attempt_left(
    app: Flask, make_caller: Callable[..., Caller]
) -> None:
    teacher, student = make_caller("instructor"), make_caller("student")
    cid, aid = _one_slot_course(teacher, student, "NJ", "No script", attempts_allowed=1)
    log_in(student.client, student.email)
    log_in(teacher.client, teacher.email)
    page = student.client.get(f"/courses/{cid}/assignments/{aid}/problems/1").headers["Location"]
    problem_id = uuid.UUID(page.rsplit("/", 1)[1])
    fields = grid_fields("dC_dW", [[1, 2], [3, 4]])

    # The teacher sees the page but may not answer for the student.
    assert form_post(teacher.client, problem_id, fields, page).status_code == 404

    response = form_post(student.client, problem_id, fields, page)
    assert response.status_code == 303
    assert response.headers["Location"].startswith(f"{page}?submission=")
    refused = form_post(student.client, problem_id, fields, page)
    assert refused.status_code == 409
    assert "Not sent" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Problem, problem_id).attempts_used == 1
