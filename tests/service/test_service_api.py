"""API v1 (CONTRACT §7): shapes, status codes, the one error shape, object-level
authorization on every route, and an OpenAPI document generated from the code."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from fractions import Fraction
from typing import Any

import pytest
from flask import Flask, jsonify, request
from flask.views import MethodView
from flask_smorest import Api, Blueprint
from servicekit import Caller, grade_queued, make_course
from sqlalchemy import select, update

import exercises as ex
from service import schemas
from service.api import common
from service.db import db
from service.models import Assignment, Problem, Status, Submission, utcnow


def key_of(app: Flask, problem_id: str) -> dict[str, Any]:
    with app.app_context():
        return db.session.get(Problem, uuid.UUID(problem_id)).variant["key"]


def submit_key(app: Flask, caller: Caller, problem: dict[str, Any]) -> Any:
    """The response to submitting the problem's key as the caller's answers."""
    return caller.post(
        f"/api/v1/problems/{problem['id']}/submissions",
        json={"answers": key_of(app, problem["id"])},
    )


def practice(caller: Caller, seed: int = 7, type_: str = "weight-gradient") -> dict[str, Any]:
    response = caller.post("/api/v1/problems", json={"type": type_, "seed": seed})
    assert response.status_code == 201, response.json
    return response.json


def transpose(matrix: list[list[Any]]) -> list[list[Any]]:
    return [list(column) for column in zip(*matrix, strict=True)]


# --- the catalogue and problems --------------------------------------------------------


def test_exercise_types_are_the_catalogue(client: Any) -> None:
    response = client.get("/api/v1/exercise-types")
    assert response.status_code == 200
    assert [t["id"] for t in response.json] == [t.id for t in ex.catalogue()]
    assert all({"id", "version", "title", "summary", "parts"} <= set(t) for t in response.json)


def test_problem_has_the_contract_shape_and_no_key(student: Caller) -> None:
    problem = practice(student, seed=7)
    expected = ex.generate("weight-gradient", 7, 1).to_json()
    assert {k: problem[k] for k in expected} == expected
    assert uuid.UUID(problem["id"])
    assert "key" not in problem and "predictions" not in problem
    assert (problem["attempts_used"], problem["attempts_allowed"]) == (0, None)
    assert student.get(f"/api/v1/problems/{problem['id']}").json == problem


def test_the_same_draw_is_the_same_problem(student: Caller) -> None:
    assert practice(student, seed=3)["id"] == practice(student, seed=3)["id"]
    assert practice(student, seed=3)["id"] != practice(student, seed=4)["id"]


def test_random_seed_when_left_out(student: Caller) -> None:
    response = student.post("/api/v1/problems", json={"type": "weight-gradient"})
    assert response.status_code == 201 and isinstance(response.json["seed"], int)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"type": "no-such-type"}, "unknown_exercise_type"),
        ({"type": "weight-gradient", "difficulty": 9}, "invalid_request"),
        ({"type": "weight-gradient", "seed": -1}, "invalid_request"),
        ({"seed": 1}, "invalid_request"),
    ],
)
def test_bad_problem_requests_are_422(student: Caller, body: dict[str, Any], code: str) -> None:
    response = student.post("/api/v1/problems", json=body)
    assert response.status_code == 422
    assert response.json["error"]["code"] == code


def test_another_students_problem_is_404(make_caller: Callable[..., Caller]) -> None:
    owner, other = make_caller(), make_caller()
    problem = practice(owner)
    for path in ("", "/submissions", "/solution"):
        response = other.get(f"/api/v1/problems/{problem['id']}{path}")
        assert response.status_code == 404, path
        assert response.json["error"]["code"] == "not_found"
    answers = {"answers": generated_key(problem)}
    assert (
        other.post(f"/api/v1/problems/{problem['id']}/submissions", json=answers).status_code == 404
    )


def generated_key(problem: dict[str, Any]) -> dict[str, Any]:
    return ex.generate(problem["type"], problem["seed"], problem["difficulty"]).key


# --- submissions and results -------------------------------------------------------------


def test_submission_is_accepted_queued_and_graded(app: Flask, student: Caller) -> None:
    problem = practice(student)
    key = key_of(app, problem["id"])
    accepted = student.post(f"/api/v1/problems/{problem['id']}/submissions", json={"answers": key})
    assert accepted.status_code == 202
    assert set(accepted.json) == {"id", "status"} and accepted.json["status"] == "queued"
    sid = accepted.json["id"]
    queued = student.get(f"/api/v1/submissions/{sid}").json
    assert queued["status"] == "queued" and "score" not in queued
    grade_queued(app)
    result = student.get(f"/api/v1/submissions/{sid}").json
    assert result["id"] == sid and result["status"] == "graded" and result["score"] == 1.0
    part = result["parts"]["dC_dW"]
    assert part["correct"] is True and part["misconceptions"] == []
    assert part["entries"] == [[True] * len(row) for row in key["dC_dW"]]
    assert result["attempt"] == 1 and result["answers"] == key


def test_a_transposed_gradient_is_named(app: Flask, student: Caller) -> None:
    seed = next(
        s
        for s in range(100)
        if (k := ex.generate("weight-gradient", s, 1).key["dC_dW"]) != transpose(k)
    )
    problem = practice(student, seed=seed)
    wrong = transpose(key_of(app, problem["id"])["dC_dW"])
    sid = student.post(
        f"/api/v1/problems/{problem['id']}/submissions", json={"answers": {"dC_dW": wrong}}
    ).json["id"]
    grade_queued(app)
    result = student.get(f"/api/v1/submissions/{sid}").json
    assert result["score"] < 1.0
    assert "transposed-gradient" in result["parts"]["dC_dW"]["misconceptions"]


def test_unreadable_answers_are_422_per_part_and_use_no_attempt(
    app: Flask, student: Caller
) -> None:
    problem = practice(student)
    response = student.post(
        f"/api/v1/problems/{problem['id']}/submissions", json={"answers": {"dC_dW": "1/"}}
    )
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "invalid_answer" and set(error["parts"]) == {"dC_dW"}
    assert student.get(f"/api/v1/problems/{problem['id']}").json["attempts_used"] == 0
    assert student.get(f"/api/v1/problems/{problem['id']}/submissions").json == []


def test_a_body_without_answers_is_422(student: Caller) -> None:
    problem = practice(student)
    response = student.post(f"/api/v1/problems/{problem['id']}/submissions", json={"dC_dW": 1})
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid_request"
    assert "answers" in response.json["error"]["fields"]


def test_history_lists_attempts_in_order(app: Flask, student: Caller) -> None:
    problem = practice(student)
    key = key_of(app, problem["id"])
    for _ in range(3):
        student.post(f"/api/v1/problems/{problem['id']}/submissions", json={"answers": key})
    history = student.get(f"/api/v1/problems/{problem['id']}/submissions").json
    assert [s["attempt"] for s in history] == [1, 2, 3]


def test_a_submission_is_read_by_its_owner_and_the_courses_instructors(
    app: Flask, course: dict[str, Any], make_caller: Callable[..., Caller]
) -> None:
    student, teacher = course["student"], course["instructor"]
    problem = slot_problem(student, course)
    sid = submit_key(app, student, problem).json["id"]
    assert teacher.get(f"/api/v1/submissions/{sid}").status_code == 200
    assert teacher.get(f"/api/v1/problems/{problem['id']}").status_code == 200
    outsider, other_teacher = make_caller(), make_caller("instructor")
    for caller in (outsider, other_teacher):
        assert caller.get(f"/api/v1/submissions/{sid}").status_code == 404
    assert make_caller("admin").get(f"/api/v1/submissions/{sid}").status_code == 200
    # Instructors read their students' work but do not answer for them.
    response = teacher.post(
        f"/api/v1/problems/{problem['id']}/submissions", json={"answers": {"x": 1}}
    )
    assert response.status_code == 404


def test_unknown_submission_is_404(student: Caller) -> None:
    response = student.get(f"/api/v1/submissions/{uuid.uuid4()}")
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_publish_failure_still_answers_202_and_leaves_the_row_for_the_sweeper(
    app: Flask, student: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionRefusedError("broker is down")

    monkeypatch.setattr(app.extensions["celery"], "send_task", broker_down)
    problem = practice(student)
    response = submit_key(app, student, problem)
    assert response.status_code == 202
    assert app.extensions["outbox"].flush()
    with app.app_context():
        submission = db.session.get(Submission, uuid.UUID(response.json["id"]))
        assert submission.status == Status.queued and submission.published_at is None


def test_request_size_is_limited(student: Caller, settings: Any) -> None:
    problem = practice(student)
    huge = {"answers": {"dC_dW": "1" * settings.max_content_length}}
    response = student.post(f"/api/v1/problems/{problem['id']}/submissions", json=huge)
    assert response.status_code == 413
    assert response.json["error"]["code"] == "request_entity_too_large"


# --- courses, assignments, slots -----------------------------------------------------------


@pytest.fixture
def course(make_caller: Callable[..., Caller]) -> dict[str, Any]:
    """A course taught by an instructor with one enrolled student and one assignment."""
    teacher, student = make_caller("instructor"), make_caller("student")
    cid, assignment = make_course(
        teacher,
        [student],
        {
            "title": "Homework 1",
            "attempts_allowed": 2,
            "slots": [
                {"exercise_type": "weight-gradient", "points": 2},
                {"exercise_type": "forward-pass", "difficulty": 1},
            ],
        },
    )
    return {"id": cid, "assignment": assignment, "instructor": teacher, "student": student}


def slot_problem(student: Caller, course: dict[str, Any], position: int = 1) -> dict[str, Any]:
    path = (
        f"/api/v1/courses/{course['id']}/assignments/{course['assignment']['id']}"
        f"/slots/{position}/problem"
    )
    response = student.post(path)
    assert response.status_code == 200, response.json
    return response.json


def test_courses_roster_and_assignments(course: dict[str, Any]) -> None:
    student, teacher = course["student"], course["instructor"]
    assert [c["role"] for c in student.get("/api/v1/courses").json] == ["student"]
    roster = teacher.get(f"/api/v1/courses/{course['id']}/roster").json
    assert sorted(r["role"] for r in roster) == ["instructor", "student"]
    listed = student.get(f"/api/v1/courses/{course['id']}/assignments").json
    assert [a["title"] for a in listed] == ["Homework 1"]
    assert [s["exercise_type"] for s in listed[0]["slots"]] == ["weight-gradient", "forward-pass"]
    assert listed[0]["points"] == 3.0 and listed[0]["score"] == 0.0


def test_a_slot_variant_is_fixed_per_student(
    course: dict[str, Any], make_caller: Callable[..., Caller]
) -> None:
    student = course["student"]
    first = slot_problem(student, course)
    assert slot_problem(student, course)["id"] == first["id"]
    assert first["attempts_allowed"] == 2 and first["slot"] == 1
    assert first["assignment_id"] == course["assignment"]["id"]
    other = make_caller()
    course["instructor"].post(f"/api/v1/courses/{course['id']}/roster", json={"email": other.email})
    assert slot_problem(other, course)["id"] != first["id"]


def test_no_attempt_left_is_409(app: Flask, course: dict[str, Any]) -> None:
    student = course["student"]
    problem = slot_problem(student, course)
    body = {"answers": key_of(app, problem["id"])}
    path = f"/api/v1/problems/{problem['id']}/submissions"
    assert [student.post(path, json=body).status_code for _ in range(2)] == [202, 202]
    refused = student.post(path, json=body)
    assert refused.status_code == 409 and refused.json["error"]["code"] == "no_attempts_left"


def test_past_due_is_409(app: Flask, course: dict[str, Any]) -> None:
    student = course["student"]
    problem = slot_problem(student, course)
    with app.app_context():
        db.session.execute(update(Assignment).values(due_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
    response = submit_key(app, student, problem)
    assert response.status_code == 409 and response.json["error"]["code"] == "past_due"


def test_courses_are_private(course: dict[str, Any], make_caller: Callable[..., Caller]) -> None:
    outsider = make_caller()
    cid, aid = course["id"], course["assignment"]["id"]
    for path in (
        f"/api/v1/courses/{cid}",
        f"/api/v1/courses/{cid}/assignments",
        f"/api/v1/courses/{cid}/assignments/{aid}",
        f"/api/v1/courses/{cid}/roster",
        f"/api/v1/courses/{cid}/gradebook",
        f"/api/v1/courses/{cid}/assignments/{aid}/stats",
        f"/api/v1/courses/{cid}/submissions",
    ):
        assert outsider.get(path).status_code == 404, path
    assert (
        outsider.post(f"/api/v1/courses/{cid}/assignments/{aid}/slots/1/problem").status_code == 404
    )
    student = course["student"]
    for path in (
        f"/api/v1/courses/{cid}/roster",
        f"/api/v1/courses/{cid}/gradebook",
        f"/api/v1/courses/{cid}/assignments/{aid}/stats",
        f"/api/v1/courses/{cid}/submissions",
    ):
        # A staff route does not exist for a student (CONTRACT §9): 404, as for outsiders.
        response = student.get(path)
        assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    assert student.post("/api/v1/courses", json={"code": "X", "title": "X"}).status_code == 403
    assignment = {"title": "T", "slots": [{"exercise_type": "loss"}]}
    assert student.post(f"/api/v1/courses/{cid}/assignments", json=assignment).status_code == 404


def test_an_assignment_of_another_course_is_404(course: dict[str, Any]) -> None:
    teacher = course["instructor"]
    other = teacher.post("/api/v1/courses", json={"code": "NN2", "title": "Other"}).json
    path = f"/api/v1/courses/{other['id']}/assignments/{course['assignment']['id']}"
    assert teacher.get(path).status_code == 404


def test_gradebook_and_stats(app: Flask, course: dict[str, Any]) -> None:
    student, teacher = course["student"], course["instructor"]
    problem = slot_problem(student, course)
    key = key_of(app, problem["id"])["dC_dW"]
    path = f"/api/v1/problems/{problem['id']}/submissions"
    wrong = [[str(-Fraction(str(v))) for v in row] for row in key]  # a sign flip
    student.post(path, json={"answers": {"dC_dW": wrong}})
    student.post(path, json={"answers": {"dC_dW": key}})
    grade_queued(app)
    book = teacher.get(f"/api/v1/courses/{course['id']}/gradebook").json
    assert [a["points"] for a in book["assignments"]] == [3.0]
    (row,) = book["students"]
    assert row["email"] == student.email
    assert row["scores"] == {str(course["assignment"]["id"]): 2.0} and row["total"] == 2.0
    stats = teacher.get(
        f"/api/v1/courses/{course['id']}/assignments/{course['assignment']['id']}/stats"
    ).json
    first = stats["slots"][0]
    assert (first["students"], first["submissions"], first["solved"]) == (1, 2, 1)
    assert first["mean_best_score"] == 1.0
    assert "sign-flip" in first["misconceptions"]
    mine = student.get(
        f"/api/v1/courses/{course['id']}/assignments/{course['assignment']['id']}"
    ).json
    assert mine["score"] == 2.0
    assert (mine["slots"][0]["best_score"], mine["slots"][0]["last_status"]) == (1.0, "graded")


def test_unknown_type_in_an_assignment_is_422(course: dict[str, Any]) -> None:
    response = course["instructor"].post(
        f"/api/v1/courses/{course['id']}/assignments",
        json={"title": "Bad", "slots": [{"exercise_type": "nope"}]},
    )
    assert response.status_code == 422
    assert response.json["error"]["code"] == "unknown_exercise_type"


def test_roster_changes(course: dict[str, Any], make_caller: Callable[..., Caller]) -> None:
    teacher, cid = course["instructor"], course["id"]
    again = teacher.post(f"/api/v1/courses/{cid}/roster", json={"email": course["student"].email})
    assert again.status_code == 409
    assert (
        teacher.post(
            f"/api/v1/courses/{cid}/roster", json={"email": "ghost@example.org"}
        ).status_code
        == 404
    )
    assistant = make_caller("instructor")
    added = teacher.post(
        f"/api/v1/courses/{cid}/roster", json={"email": assistant.email, "role": "instructor"}
    )
    assert added.status_code == 201
    assert assistant.get(f"/api/v1/courses/{cid}/gradebook").status_code == 200
    assert teacher.delete(f"/api/v1/courses/{cid}/roster/{assistant.user_id}").status_code == 204
    assert assistant.get(f"/api/v1/courses/{cid}/gradebook").status_code == 404


# --- worked solutions and retries ----------------------------------------------------------


def test_solution_opens_once_solved(app: Flask, student: Caller) -> None:
    problem = practice(student)
    path = f"/api/v1/problems/{problem['id']}/solution"
    locked = student.get(path)
    assert locked.status_code == 403 and locked.json["error"]["code"] == "solution_locked"
    submit_key(app, student, problem)
    grade_queued(app)
    opened = student.get(path)
    assert opened.status_code == 200 and opened.json["steps"]
    assert all({"title", "text"} <= set(step) for step in opened.json["steps"])


def test_solution_opens_when_out_of_attempts_and_always_for_instructors(
    app: Flask, course: dict[str, Any]
) -> None:
    student, teacher = course["student"], course["instructor"]
    problem = slot_problem(student, course)
    path = f"/api/v1/problems/{problem['id']}/solution"
    assert teacher.get(path).status_code == 200
    wrong = {"answers": {"dC_dW": [[0, 0], [0, 0]]}}
    student.post(f"/api/v1/problems/{problem['id']}/submissions", json=wrong)
    assert student.get(path).status_code == 403
    student.post(f"/api/v1/problems/{problem['id']}/submissions", json=wrong)
    assert student.get(path).status_code == 200


def test_exam_solutions_wait_for_the_due_date(app: Flask, course: dict[str, Any]) -> None:
    student, teacher = course["student"], course["instructor"]
    exam = teacher.post(
        f"/api/v1/courses/{course['id']}/assignments",
        json={
            "title": "Exam",
            "mode": "exam",
            "attempts_allowed": 1,
            "due_at": (utcnow() + timedelta(hours=1)).isoformat(),
            "slots": [{"exercise_type": "weight-gradient"}],
        },
    ).json
    problem = student.post(
        f"/api/v1/courses/{course['id']}/assignments/{exam['id']}/slots/1/problem"
    ).json
    submit_key(app, student, problem)
    grade_queued(app)
    path = f"/api/v1/problems/{problem['id']}/solution"
    assert student.get(path).status_code == 403
    with app.app_context():
        db.session.execute(
            update(Assignment)
            .where(Assignment.id == exam["id"])
            .values(due_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    assert student.get(path).status_code == 200


def test_instructor_retries_an_error(app: Flask, course: dict[str, Any]) -> None:
    student, teacher = course["student"], course["instructor"]
    problem = slot_problem(student, course)
    sid = submit_key(app, student, problem).json["id"]
    with app.app_context():
        db.session.execute(update(Submission).values(status=Status.error, tries=3, reason="boom"))
        db.session.commit()
    errored = teacher.get(f"/api/v1/courses/{course['id']}/submissions?status=error").json
    assert [s["id"] for s in errored] == [sid] and errored[0]["reason"] == "boom"
    assert student.post(f"/api/v1/submissions/{sid}/retry").status_code == 403
    retried = teacher.post(f"/api/v1/submissions/{sid}/retry")
    assert retried.status_code == 202 and retried.json == {"id": sid, "status": "queued"}
    assert teacher.post(f"/api/v1/submissions/{sid}/retry").status_code == 409
    grade_queued(app)
    assert student.get(f"/api/v1/submissions/{sid}").json["status"] == "graded"


# --- errors and the OpenAPI document ----------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/nothing-here", 404),
        ("DELETE", "/api/v1/exercise-types", 405),
        ("GET", "/api/v1/problems/not-a-uuid", 404),
    ],
)
def test_errors_have_one_shape(student: Caller, method: str, path: str, status: int) -> None:
    response = student._call(method, path)
    assert response.status_code == status
    assert response.is_json and set(response.json) == {"error"}
    assert {"code", "message"} <= set(response.json["error"])


def test_openapi_document_covers_every_api_route(app: Flask, client: Any) -> None:
    doc = client.get("/api/v1/openapi.json")
    assert doc.status_code == 200
    spec = doc.json
    assert spec["openapi"].startswith("3.")
    documented = {
        (path, method.upper())
        for path, ops in spec["paths"].items()
        for method in ops
        if method != "parameters"
    }
    served = {
        (_openapi_path(rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.endpoint.startswith("api.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert served == documented
    for route in (
        ("/api/v1/exercise-types", "GET"),
        ("/api/v1/problems", "POST"),
        ("/api/v1/problems/{problem_id}", "GET"),
        ("/api/v1/problems/{problem_id}/submissions", "POST"),
        ("/api/v1/submissions/{submission_id}", "GET"),
        ("/api/v1/problems/{problem_id}/solution", "GET"),
    ):
        assert route in documented
    assert {"bearer", "session"} <= set(spec["components"]["securitySchemes"])
    submit = spec["paths"]["/api/v1/problems/{problem_id}/submissions"]["post"]["responses"]
    assert {"202", "409", "422"} <= set(submit)


def _openapi_path(rule: str) -> str:
    import re

    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def test_problem_status_reads_back_exact_strings(app: Flask, student: Caller) -> None:
    problem = practice(student)
    key = key_of(app, problem["id"])["dC_dW"]
    as_text = [[str(v) for v in row] for row in key]
    sid = student.post(
        f"/api/v1/problems/{problem['id']}/submissions", json={"answers": {"dC_dW": as_text}}
    ).json["id"]
    grade_queued(app)
    assert student.get(f"/api/v1/submissions/{sid}").json["score"] == 1.0
    with app.app_context():
        stored = db.session.scalar(
            select(Submission.answers).where(Submission.id == uuid.UUID(sid))
        )
    assert stored == {"dC_dW": as_text}


# --- documented(): bare views only on flask-smorest releases it was verified against -------


@pytest.mark.parametrize(
    "version, bare", [("0.47.0", True), ("0.47.9", True), ("0.46.2", False), ("0.48.0", False),
                      ("1.0", False), ("not a version", False)],
)
def test_bare_views_only_on_verified_flask_smorest(version: str, bare: bool) -> None:
    assert common.bare_views_supported(version) is bare


@pytest.mark.parametrize("bare", [True, False])
def test_a_documented_view_answers_and_is_documented_either_way(
    monkeypatch: pytest.MonkeyPatch, bare: bool
) -> None:
    monkeypatch.setattr(common, "BARE_VIEWS", bare)
    app = Flask("documented")
    app.config.update(API_TITLE="t", API_VERSION="v1", OPENAPI_VERSION="3.0.3")
    api = Api(app)
    blueprint = Blueprint("t", "documented", url_prefix="/t")
    body = schemas.SubmissionCreate()

    @blueprint.route("/<int:item>")
    class Item(MethodView):
        @common.documented(
            blueprint.arguments(body), blueprint.response(202, schemas.SubmissionAccepted)
        )
        def post(self, *_parsed: Any, item: int) -> Any:
            answers = blueprint.ARGUMENTS_PARSER.parse(body, request, location="json")
            return jsonify(item=item, answers=answers["answers"]), 202

    api.register_blueprint(blueprint)
    client = app.test_client()
    answered = client.post("/t/3", json={"answers": {"a": 1}})
    assert answered.status_code == 202 and answered.json == {"item": 3, "answers": {"a": 1}}
    operation = api.spec.to_dict()["paths"]["/t/{item}"]["post"]
    assert "requestBody" in operation and "202" in operation["responses"]
    assert hasattr(Item.post, "__wrapped__") is not bare  # bare: the view itself runs
