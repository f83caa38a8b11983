"""My progress (issue 17, the student side): the page and its API twins, from answers the real
grading task graded. A student who transposes the gradient twice sees that misconception as
likely, with the sentence and links to both answers; nobody else sees it; "Practise what I
need" (CSRF-checked) stores a practice problem on which transposing would show, checked on
the stored variant's own predictions, and a second press a different one."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from servicekit import Caller, csrf_token, grade_queued, make_course, sign_in
from sqlalchemy import func, select, update

from service.db import db
from service.models import Assignment, Problem, utcnow

TAG = "transposed-gradient"
SENTENCE = "Transposed gradient in 2 of your last 2 dC/dW answers"
# By hand (exercises/learning.py's formulas, default parameters): from the prior 0.1, each
# answer naming it alone multiplies the odds by (h + (1 − h)f)/f = (0.85 + 0.15·0.02)/0.02
# = 42.65, then a holder shown the mistake drops it with r = 0.2: 0.1 → 0.66058 → 0.79047.
BELIEF_AFTER_TWO = 0.79047
SEEDS = (11, 12)  # weight-gradient, difficulty 1: dC/dW is not square, so xδᵀ is wrong


# --- helpers ----------------------------------------------------------------------------


def record_of(app: Flask, problem_id: uuid.UUID | str) -> dict[str, Any]:
    """The stored variant record of a problem: the source of truth, key and predictions."""
    with app.app_context():
        problem = db.session.get(Problem, uuid.UUID(str(problem_id)))
        assert problem is not None
        return dict(problem.variant)


def transposed_answers(record: dict[str, Any]) -> dict[str, Any]:
    """The answers of a student who forms x·δᵀ: the stored variant's own prediction of it."""
    (wrong,) = [p["value"] for p in record["predictions"]["dC_dW"] if p["tags"] == [TAG]]
    return {"dC_dW": wrong}


def _number(v: Any) -> float:
    return float(Fraction(v)) if isinstance(v, str) else float(v)


def differs(prediction: Any, key: Any) -> bool:
    """Whether a predicted answer is not the key (shape, numbers within 1e-9, or choice)."""
    if isinstance(key, list):
        a = np.array([[_number(v) for v in row] for row in prediction])
        k = np.array([[_number(v) for v in row] for row in key])
        return a.shape != k.shape or not np.allclose(a, k, rtol=0, atol=1e-9)
    try:
        return abs(_number(prediction) - _number(key)) > 1e-9
    except (TypeError, ValueError):
        return bool(prediction != key)


def shows_transposing(record: dict[str, Any]) -> bool:
    """Some part's single transposed-gradient prediction differs from its key."""
    return any(
        p["tags"] == [TAG] and differs(p["value"], record["key"][part])
        for part, predictions in record["predictions"].items() for p in predictions
    )


def practise_transposed(app: Flask, student: Caller, seed: int) -> str:
    """A practice weight-gradient problem answered with x·δᵀ; the submission id."""
    made = student.post("/api/v1/problems",
                        json={"type": "weight-gradient", "seed": seed, "difficulty": 1})
    assert made.status_code == 201, made.json
    answers = transposed_answers(record_of(app, made.json["id"]))
    sent = student.post(f"/api/v1/problems/{made.json['id']}/submissions",
                        json={"answers": answers})
    assert sent.status_code == 202, sent.json
    return str(sent.json["id"])


def transposer(app: Flask, student: Caller) -> list[str]:
    """The student answers two problems with a transposed gradient, graded for real."""
    sids = [practise_transposed(app, student, seed) for seed in SEEDS]
    grade_queued(app)
    for sid in sids:
        graded = student.get(f"/api/v1/submissions/{sid}").json
        assert graded["status"] == "graded"
        assert TAG in graded["parts"]["dC_dW"]["misconceptions"]
    return sids


def page(client: FlaskClient) -> str:
    response = client.get("/progress")
    assert response.status_code == 200
    return str(response.get_data(as_text=True))


def likely_items(html: str) -> dict[str, str]:
    """tag -> the markup of its entry under "What you probably get wrong", in order."""
    start = html.find('<ul class="beliefs">')
    if start < 0:
        return {}
    listed = html[start:html.index('<details class="others">')]
    entries = listed.split('<li class="belief-item" data-mistake="')[1:]
    return {entry.split('"', 1)[0]: entry for entry in entries}


def other_rows(html: str) -> dict[str, tuple[str, str]]:
    """tag -> (state, markup) of its row in the table of the other misconceptions."""
    return {tag: (state, row) for tag, state, row in re.findall(
        r'<tr data-mistake="([^"]+)" data-state="([^"]+)">(.*?)</tr>', html, re.S)}


def shown(markup: str) -> float:
    """The probability an entry shows, as its meter or data element gives it to machines."""
    (value,) = re.findall(r'<(?:meter|data) [^>]*value="([0-9.]+)"', markup)
    return float(value)


def skill_rows(html: str) -> dict[str, tuple[float, int]]:
    """skill id -> (mastery, answers) as its row of the table gives them."""
    return {skill: (float(value), int(answers)) for skill, value, answers in re.findall(
        r'<tr data-skill="([^"]+)">.*?<meter [^>]*value="([0-9.]+)".*?<td class="num">(\d+)</td>',
        html, re.S)}


def submission_links(markup: str) -> list[str]:
    return re.findall(r'href="/submissions/([0-9a-f-]{36})"', markup)


def problems_of(app: Flask, user_id: int) -> list[tuple[str, int, int | None, uuid.UUID]]:
    with app.app_context():
        rows = db.session.execute(
            select(Problem.type, Problem.difficulty, Problem.seed, Problem.id)
            .where(Problem.owner_id == user_id).order_by(Problem.created_at)
        ).all()
        return [(t, d, s, i) for t, d, s, i in rows]


PRACTICE_URL = re.compile(r"^/practice/([a-z-]+)\?seed=(\d+)&difficulty=(\d)$")


def press(app: Flask, client: FlaskClient, user_id: int) -> tuple[str, dict[str, Any]]:
    """Press "Practise what I need" with the page's own CSRF token: the page it goes to and
    the stored problem behind it."""
    before = {row[3] for row in problems_of(app, user_id)}
    response = client.post("/progress/practise",
                           data={"csrf_token": csrf_token(client, "/progress")})
    assert response.status_code == 303
    location = response.headers["Location"]
    match = PRACTICE_URL.match(location)
    assert match, location
    type_id, seed, difficulty = match.group(1), int(match.group(2)), int(match.group(3))
    new = [row for row in problems_of(app, user_id) if row[3] not in before]
    assert [(t, s, d) for t, d, s, _ in new] == [(type_id, seed, difficulty)]
    assert client.get(location).status_code == 200  # its page: that same problem
    assert len(problems_of(app, user_id)) == len(before) + 1
    return location, record_of(app, new[0][3])


# --- the page -----------------------------------------------------------------------------


def test_the_page_needs_a_login(client: FlaskClient) -> None:
    response = client.get("/progress")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_a_new_student_sees_the_priors_and_nothing_likely(student: Caller) -> None:
    html = page(sign_in(student))
    assert "<h1>My progress</h1>" in html
    assert '<a href="/progress" aria-current="page">My progress</a>' in html  # in the nav
    assert "You have no graded answers yet" in html
    assert likely_items(html) == {}
    assert 'class="belief-item"' not in html
    rows = other_rows(html)
    assert TAG in rows and {state for state, _ in rows.values()} == {"untested"}
    assert "none tested yet" in html
    # Every step at its prior, 30%, from no answers; none mastered.
    skills = skill_rows(html)
    assert len(skills) == 11 and set(skills.values()) == {(0.3, 0)}
    assert html.count('<span class="mastery-value">30%</span>') == 11
    assert "badge-mastered" not in html
    # Labelled meters, tables with headers in scope.
    assert 'aria-label="Mastery of dC/dW"' in html
    assert '<th scope="row">dC/dW</th>' in html and '<th scope="col">Mastery</th>' in html
    # The button's form, CSRF-protected, and the sentence on how it picks.
    assert re.search(r'<form method="post" action="/progress/practise">\s*'
                     r'<input type="hidden" name="csrf_token" value="[^"]+">', html)
    assert "tell the most about the mistakes you probably make" in html


def test_two_transposed_gradients_make_it_likely_with_both_answers_linked(
        app: Flask, student: Caller) -> None:
    first, second = transposer(app, student)
    html = page(sign_in(student))
    items = likely_items(html)
    assert list(items) == [TAG]
    item = items[TAG]
    assert "<h3" in item and "Transposed gradient</h3>" in item
    assert f"{SENTENCE}:" in item
    assert submission_links(item) == [first, second]
    # The explanation of the mistake library, and the belief as a percentage.
    assert "The gradient must have the shape of W" in item
    belief = student.get("/api/v1/me/progress").json["misconceptions"]
    (transposing,) = [m for m in belief if m["tag"] == TAG]
    assert transposing["likely"] and transposing["belief"] > 0.5
    assert shown(item) == pytest.approx(transposing["belief"], abs=1e-4)
    assert f"<strong>{round(100 * transposing['belief'])}%</strong> likely" in item
    assert TAG not in other_rows(html)
    # dC/dW answered twice, wrong: its two answers counted, not mastered.
    assert skill_rows(html)["weight-gradient"][1] == 2
    # Each link is the submission's own page, which shows the mistake named.
    linked = student.client.get(f"/submissions/{first}")
    assert linked.status_code == 200 and "Transposed gradient" in linked.get_data(as_text=True)


def test_nobody_else_sees_it(app: Flask, make_caller: Callable[..., Caller]) -> None:
    ada, bob = make_caller(), make_caller()
    sids = transposer(app, ada)
    html = page(sign_in(bob))
    assert likely_items(html) == {}
    assert other_rows(html)[TAG][0] == "untested"
    assert not submission_links(html) and not any(s in html for s in sids)
    assert bob.get("/api/v1/me/progress").json["submissions"] == 0
    for sid in sids:
        assert bob.client.get(f"/submissions/{sid}").status_code == 404
        assert bob.get(f"/api/v1/submissions/{sid}").status_code == 404
    # No route of the progress takes anyone's id: each answers for its caller only.
    rules = [r for r in app.url_map.iter_rules()
             if r.endpoint in ("student.progress", "student.practise",
                               "api.MyProgress", "api.MyNextProblem")]
    assert len(rules) == 4 and all(not r.arguments for r in rules)


def test_practise_needs_the_csrf_token(app: Flask, student: Caller) -> None:
    client = sign_in(student)
    response = client.post("/progress/practise")
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    response = client.post("/progress/practise", data={"csrf_token": "forged"})
    assert response.status_code == 400
    assert problems_of(app, student.user_id) == []


def test_practise_what_i_need_asks_where_transposing_would_show(
        app: Flask, student: Caller) -> None:
    transposer(app, student)
    client = sign_in(student)
    first_url, first = press(app, client, student.user_id)
    assert shows_transposing(first), first["predictions"]
    second_url, second = press(app, client, student.user_id)
    assert shows_transposing(second)
    assert second_url != first_url
    assert (first["type"], first["seed"], first["difficulty"]) != (
        second["type"], second["seed"], second["difficulty"])


# --- the API twins ------------------------------------------------------------------------


def test_the_api_twins_need_a_token(client: FlaskClient) -> None:
    for method, path in (("GET", "/api/v1/me/progress"), ("POST", "/api/v1/me/next-problem")):
        response = client.open(path, method=method)
        assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"


def test_the_progress_twin_says_what_the_page_says(app: Flask, student: Caller) -> None:
    first, second = transposer(app, student)
    got = student.get("/api/v1/me/progress")
    assert got.status_code == 200
    data = got.json
    assert data["submissions"] == 2
    assert set(data["parameters"]) >= {"belief_prior", "consistency", "false_match"}
    beliefs = {m["tag"]: m for m in data["misconceptions"]}
    assert [t for t, m in beliefs.items() if m["likely"]] == [TAG]
    record = beliefs[TAG]["record"]
    assert record == {"sentence": SENTENCE, "skill": "weight-gradient",
                      "named": [first, second], "of": [first, second]}
    html = page(sign_in(student))
    assert shown(likely_items(html)[TAG]) == pytest.approx(beliefs[TAG]["belief"], abs=1e-4)
    others = other_rows(html)
    assert len(others) == len(beliefs) - 1
    for tag, (_, row) in others.items():
        assert shown(row) == pytest.approx(beliefs[tag]["belief"], abs=1e-4)
    skills = skill_rows(html)
    assert [s["id"] for s in data["skills"]] == list(skills)
    for skill in data["skills"]:
        value, answers = skills[skill["id"]]
        assert value == pytest.approx(skill["mastery"], abs=1e-4)
        assert answers == skill["opportunities"]


def test_the_next_problem_twin_draws_a_problem_without_its_key(
        app: Flask, student: Caller) -> None:
    transposer(app, student)
    made = [student.post("/api/v1/me/next-problem") for _ in range(2)]
    assert [m.status_code for m in made] == [201, 201]
    first, second = (m.json for m in made)
    assert first["id"] != second["id"]
    for problem in (first, second):
        assert "key" not in problem and "predictions" not in problem
        assert problem["attempts_allowed"] is None and problem["assignment_id"] is None
        assert student.get(f"/api/v1/problems/{problem['id']}").json == problem
        assert shows_transposing(record_of(app, problem["id"]))
    with app.app_context():
        owners = db.session.scalars(
            select(func.count()).select_from(Problem).where(Problem.owner_id == student.user_id))
        assert owners.one() == 2 + 2  # the two answered, the two drawn


def test_the_openapi_document_lists_the_twins(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert set(paths["/api/v1/me/progress"]) == {"get"}
    assert {"200", "401"} <= set(paths["/api/v1/me/progress"]["get"]["responses"])
    assert {"201", "401"} <= set(paths["/api/v1/me/next-problem"]["post"]["responses"])


# --- an exam's answers wait for the due date, as its feedback does ----------------------------


@pytest.fixture
def exam(make_caller: Callable[..., Caller]) -> tuple[Caller, str]:
    """A student of a course with an exam of two weight-gradient slots, due in an hour;
    the exam's path."""
    teacher, student = make_caller("instructor"), make_caller()
    cid, made = make_course(teacher, [student], {
        "title": "Exam", "mode": "exam", "attempts_allowed": 1,
        "due_at": (utcnow() + timedelta(hours=1)).isoformat(),
        "slots": [{"exercise_type": "weight-gradient"}, {"exercise_type": "weight-gradient"}],
    })
    return student, f"/api/v1/courses/{cid}/assignments/{made['id']}"


def test_an_exams_answers_count_once_its_feedback_opens(
        app: Flask, exam: tuple[Caller, str]) -> None:
    student, path = exam
    sids = []
    for position in (1, 2):
        problem = student.post(f"{path}/slots/{position}/problem")
        assert problem.status_code == 200, problem.json
        pid = problem.json["id"]
        answers = transposed_answers(record_of(app, pid))
        sent = student.post(f"/api/v1/problems/{pid}/submissions", json={"answers": answers})
        assert sent.status_code == 202, sent.json
        sids.append(str(sent.json["id"]))
    grade_queued(app)
    assert "parts" not in student.get(f"/api/v1/submissions/{sids[0]}").json  # withheld
    client = sign_in(student)
    html = page(client)
    assert likely_items(html) == {} and not submission_links(html)
    assert "You have no graded answers yet" in html
    assert student.get("/api/v1/me/progress").json["submissions"] == 0
    with app.app_context():
        db.session.execute(update(Assignment).values(due_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    html = page(client)
    assert submission_links(likely_items(html)[TAG]) == sids
    data = student.get("/api/v1/me/progress").json
    assert data["submissions"] == 2
    assert [m["record"]["named"] for m in data["misconceptions"] if m["tag"] == TAG] == [sids]
