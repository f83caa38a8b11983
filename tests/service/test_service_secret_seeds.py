"""Secret graded variants (CONTRACT §11, issue 12 item 1): a student's assignment variant
comes from a seed derived from the server's secret, which no page, route or error a
student can read shows, and which no seed a student may pass reproduces. Staff still see
it; practice keeps its public seed. A seed that is not a whole number is refused."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import random
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from servicekit import Caller, grade_queued, log_in, make_course
from sqlalchemy import delete

import exercises as ex
from service.db import db
from service.models import Problem

SECRET_KEY = "test-secret-key-0123456789"  # the conftest's settings
SLOTS = ("weight-gradient", "forward-pass", "delta")


# --- helpers --------------------------------------------------------------------------


def expected_seed(course_id: int, assignment_id: int, slot_id: int, student_id: int) -> int:
    """The documented derivation, written out here independently of service.problems."""
    ids = (course_id, assignment_id, slot_id, student_id)
    message = "\0".join(["backprop-quiz graded variant v1", *map(str, ids)])
    digest = hmac.new(SECRET_KEY.encode(), message.encode(), hashlib.sha256).digest()
    return 2**64 + int.from_bytes(digest[:16], "big")




def seed_keys(data: Any, path: str = "$") -> Iterator[str]:
    """Where a JSON document has a ``seed`` key."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "seed":
                yield f"{path}.seed"
            yield from seed_keys(value, f"{path}.{key}")
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from seed_keys(value, f"{path}[{i}]")


def leaks(body: str, secret_seed: int) -> list[str]:
    """What of the secret seed a response body shows: the decimal, or a ``seed`` key."""
    found = []
    if re.search(rf"(?<!\d){secret_seed}(?!\d)", body):
        found.append("the seed's decimal digits")
    # A page is not JSON: the decimal check above is the one that matters there.
    with contextlib.suppress(ValueError):
        found += list(seed_keys(json.loads(body)))
    return found


@pytest.fixture
def graded(app: Flask, make_caller: Callable[..., Caller]) -> dict[str, Any]:
    """A course, an assignment of three slots, and a student holding the variant of each."""
    teacher, student, other = make_caller("instructor"), make_caller(), make_caller()
    cid, created = make_course(
        teacher,
        [student, other],
        {
            "title": "Homework",
            "attempts_allowed": 3,
            "slots": [{"exercise_type": t, "difficulty": 2} for t in SLOTS],
        },
        title="Nets",
    )
    aid = created["id"]
    base = f"/api/v1/courses/{cid}/assignments/{aid}/slots"
    mine = [student.post(f"{base}/{i}/problem").json for i in range(1, len(SLOTS) + 1)]
    theirs = other.post(f"{base}/1/problem").json
    with app.app_context():
        rows = [db.session.get(Problem, uuid.UUID(p["id"])) for p in mine]
        seeds = [row.variant["seed"] for row in rows]
        slot_ids = [row.slot_id for row in rows]
        columns = [row.seed for row in rows]
    return {
        "course_id": cid, "assignment_id": aid, "teacher": teacher, "student": student,
        "other": other, "problems": mine, "theirs": theirs, "seeds": seeds,
        "slot_ids": slot_ids, "columns": columns,
    }


# --- 1. the seed is derived from the secret, and stored only inside the variant ---------


def test_a_graded_seed_is_the_hmac_of_the_secret_and_the_slot_and_student(
    app: Flask, graded: dict[str, Any]
) -> None:
    for seed, slot_id, problem in zip(
        graded["seeds"], graded["slot_ids"], graded["problems"], strict=True
    ):
        assert seed == expected_seed(
            graded["course_id"], graded["assignment_id"], slot_id, graded["student"].user_id
        )
        assert seed >= 2**64 > ex.SEED_MAX  # out of every public seed's reach
        # The stored variant is the one the derived seed generates.
        assert problem["network"] == ex.generate(problem["type"], seed, 2).network
    # The public column holds nothing for a graded problem (it could not hold the seed).
    assert graded["columns"] == [None] * len(SLOTS)


def test_the_same_student_and_slot_derive_the_same_variant_even_if_the_row_is_lost(
    app: Flask, graded: dict[str, Any]
) -> None:
    first = graded["problems"][0]
    with app.app_context():
        db.session.execute(delete(Problem).where(Problem.id == uuid.UUID(first["id"])))
        db.session.commit()
    path = (
        f"/api/v1/courses/{graded['course_id']}/assignments/{graded['assignment_id']}"
        "/slots/1/problem"
    )
    again = graded["student"].post(path).json
    assert again["id"] != first["id"] and again["network"] == first["network"]
    # Another student's variant of the same slot is another one.
    assert graded["theirs"]["network"] != first["network"]


# --- 2. no page, route or error a student reads shows it --------------------------------


def student_reads(app: Flask, graded: dict[str, Any], client: FlaskClient,
                  headers: dict[str, str]) -> dict[str, tuple[int, str]]:
    """Every page and route the student can reach around their graded problems, with
    submissions (graded, unreadable) in play: path -> (status, body)."""
    student, cid, aid = graded["student"], graded["course_id"], graded["assignment_id"]
    first = graded["problems"][0]
    pid = first["id"]
    seen: dict[str, tuple[int, str]] = {}

    def read(method: str, path: str, **kwargs: Any) -> Any:
        response = client.open(path, method=method, headers=headers, **kwargs)
        seen[f"{method} {path} {kwargs.get('json', '')}"] = (
            response.status_code, response.get_data(as_text=True)
        )
        return response

    # Before any attempt: the solution route refuses.
    assert read("GET", f"/api/v1/problems/{pid}/solution").status_code == 403
    # An unreadable answer (422), a wrong one and, graded, its result.
    assert read("POST", f"/api/v1/problems/{pid}/submissions",
                json={"answers": {"dC_dW": "[1 2"}}).status_code == 422
    assert read("POST", f"/api/v1/problems/{pid}/submissions",
                json={"answers": {"nope": 1}}).status_code == 422
    wrong = read("POST", f"/api/v1/problems/{pid}/submissions",
                 json={"answers": {"dC_dW": [[0]]}})
    assert wrong.status_code == 202, wrong.get_data(as_text=True)
    grade_queued(app)
    sid = wrong.json["id"]
    read("GET", f"/problems/{pid}")  # with one result in its history
    # Out of attempts (3), the worked solution opens: its route and the page with it.
    for _ in range(2):
        assert read("POST", f"/api/v1/problems/{pid}/submissions",
                    json={"answers": {"dC_dW": [[0]]}}).status_code == 202
    grade_queued(app)
    assert read("GET", f"/api/v1/problems/{pid}/solution").status_code == 200
    assert read("POST", f"/api/v1/problems/{pid}/submissions",
                json={"answers": {"dC_dW": [[0]]}}).status_code == 409
    # Another student's problem: 404.
    assert read("GET", f"/api/v1/problems/{graded['theirs']['id']}").status_code == 404
    read("GET", f"/problems/{graded['theirs']['id']}")  # 404 with a session; a token: login
    # Every GET route the OpenAPI document lists, with this student's ids filled in.
    spec = client.get("/api/v1/openapi.json").json
    ids = {"problem_id": pid, "submission_id": sid, "course_id": cid, "assignment_id": aid,
           "user_id": student.user_id, "position": 1, "regrade_id": 1}
    for template, operations in spec["paths"].items():
        if "get" not in operations:
            continue
        path = re.sub(r"{(\w+)}", lambda m: str(ids[m.group(1)]), template)
        read("GET", f"/api/v1{path}" if not path.startswith("/api/") else path)
    for problem in graded["problems"]:
        read("GET", f"/api/v1/problems/{problem['id']}")
        read("GET", f"/api/v1/problems/{problem['id']}/submissions")
        read("POST", f"/api/v1/courses/{cid}/assignments/{aid}/slots/1/problem")
    # The pages: courses, the assignment, each slot (a redirect to the problem), the
    # problem, the submission and its panel, the preview.
    for path in ("/courses", f"/courses/{cid}/assignments/{aid}", f"/problems/{pid}",
                 f"/submissions/{sid}", f"/submissions/{sid}/panel",
                 f"/problems/{pid}/preview", "/practice"):
        read("GET", path)
    for position in range(1, len(SLOTS) + 1):
        read("GET", f"/courses/{cid}/assignments/{aid}/problems/{position}",
             follow_redirects=True)
    return seen


def assert_no_leak(seen: dict[str, tuple[int, str]], seeds: list[int]) -> None:
    found = {
        where: leak
        for where, (_, body) in seen.items()
        for seed in seeds
        if (leak := leaks(body, seed))
    }
    assert found == {}
    # The reads did reach the pages and routes (not a wall of 401s).
    assert sum(status == 200 for status, _ in seen.values()) >= 15


def test_no_route_a_student_reads_with_a_token_shows_the_graded_seed(
    app: Flask, graded: dict[str, Any]
) -> None:
    student = graded["student"]
    seen = student_reads(app, graded, student.client,
                         {"Authorization": f"Bearer {student.token}"})
    assert_no_leak(seen, graded["seeds"])


def test_no_page_or_route_a_student_reads_with_a_session_shows_the_graded_seed(
    app: Flask, graded: dict[str, Any]
) -> None:
    student = graded["student"]
    client = app.test_client()
    log_in(client, student.email)
    token = client.get("/api/v1/me").json["csrf_token"]
    seen = student_reads(app, graded, client, {"X-CSRFToken": token})
    assert_no_leak(seen, graded["seeds"])


def test_the_openapi_schema_says_a_students_graded_problem_has_no_seed(client: Any) -> None:
    problem = client.get("/api/v1/openapi.json").json["components"]["schemas"]["Problem"]
    assert "seed" not in problem.get("required", [])
    assert "graded" in problem["properties"]["seed"]["description"]


# --- 3. staff still see it; practice keeps its seed -------------------------------------


def test_course_staff_see_the_seed_of_a_students_graded_problem(
    app: Flask, graded: dict[str, Any], make_caller: Callable[..., Caller]
) -> None:
    first, seed = graded["problems"][0], graded["seeds"][0]
    shown = graded["teacher"].get(f"/api/v1/problems/{first['id']}")
    assert shown.status_code == 200 and shown.json["seed"] == seed
    admin = make_caller("admin")
    assert admin.get(f"/api/v1/problems/{first['id']}").json["seed"] == seed
    page = app.test_client()
    log_in(page, graded["teacher"].email)
    assert str(seed) in page.get(f"/problems/{first['id']}").get_data(as_text=True)
    # An instructor of another course sees nothing of it.
    stranger = make_caller("instructor")
    assert stranger.get(f"/api/v1/problems/{first['id']}").status_code == 404


def test_practice_problems_keep_showing_their_seed(app: Flask, student: Caller) -> None:
    made = student.post("/api/v1/problems", json={"type": "weight-gradient", "seed": 1234567})
    assert made.status_code == 201 and made.json["seed"] == 1234567
    assert student.get(f"/api/v1/problems/{made.json['id']}").json["seed"] == 1234567
    client = app.test_client()
    log_in(client, student.email)
    page = client.get("/practice/weight-gradient?seed=1234567&difficulty=1")
    assert page.status_code == 200 and "seed 1234567" in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Problem, uuid.UUID(made.json["id"])).seed == 1234567


# --- 4. no public seed reproduces a graded variant --------------------------------------


def public_seeds_near(secret: int, rng: random.Random, randoms: int, below: int) -> list[int]:
    """Seeds a student could pass: 0..below-1, random ones in the public range, and the
    secret seed cut to fit it (low bits, high bits, each 16/32/63-bit piece)."""
    cut = {secret % 2**63, secret % 2**32, secret % 2**31, secret % 2**16,
           (secret - 2**64) % 2**63, (secret - 2**64) % 2**32}
    cut |= {(secret >> shift) % 2**63 for shift in range(1, secret.bit_length())}
    cut |= {int(str(secret)[:n]) for n in range(1, 19)}
    return sorted({*range(below), *(rng.randrange(2**63) for _ in range(randoms)), *cut})


@pytest.mark.parametrize(("type_id", "below", "randoms"), [
    ("forward-pass", 120, 30), ("weight-gradient", 40, 10), ("delta", 40, 10),
    pytest.param("forward-pass", 2001, 200, marks=pytest.mark.slow),
    pytest.param("weight-gradient", 300, 100, marks=pytest.mark.slow),
    pytest.param("delta", 300, 100, marks=pytest.mark.slow),
])
def test_no_public_seed_reproduces_a_graded_network(type_id: str, below: int,
                                                     randoms: int) -> None:
    rng = random.Random(type_id)
    for student_id in (1, 2):
        secret = expected_seed(1, 1, SLOTS.index(type_id) + 1, student_id)
        target = ex.generate(type_id, secret, 2).network
        for s in public_seeds_near(secret, rng, randoms, below):
            assert 0 <= s <= ex.SEED_MAX
            assert ex.generate(type_id, s, 2).network != target, s


def test_the_generator_takes_internal_seeds_beyond_the_public_range() -> None:
    big = expected_seed(1, 1, 1, 1)
    assert ex.generate("forward-pass", big, 1).to_json() == ex.generate(
        "forward-pass", big, 1).to_json()
    assert ex.generate("forward-pass", big, 1).seed == big


# --- 5. a seed that is not a whole number in the public range is refused ---------------


@pytest.mark.parametrize("seed", [7.5, "7.5", 7.0, "7", -1, 2**63, True])
def test_the_api_refuses_a_seed_that_is_not_a_public_whole_number(
    student: Caller, seed: Any
) -> None:
    response = student.post("/api/v1/problems", json={"type": "weight-gradient", "seed": seed})
    assert response.status_code == 422, response.json
    error = response.json["error"]
    assert "seed" in error["fields"] and "seed" in error["message"] + str(error["fields"])


@pytest.mark.parametrize("difficulty", [1.5, "2", True, 4])
def test_the_api_refuses_a_difficulty_that_is_not_1_2_or_3(
    student: Caller, difficulty: Any
) -> None:
    response = student.post("/api/v1/problems", json={"type": "weight-gradient", "seed": 7,
                                                       "difficulty": difficulty})
    assert response.status_code == 422, response.json
    assert "difficulty" in response.json["error"]["fields"]


@pytest.mark.parametrize(
    "seed", ["7.5", "-1", "1e3", "\u00b2", "9" * 5000, str(2**63), str(2**64 + 5)]
)
def test_the_practice_page_refuses_a_seed_that_is_not_a_public_whole_number(
    app: Flask, student: Caller, seed: str
) -> None:
    client = app.test_client()
    log_in(client, student.email)
    page = client.get(f"/practice/weight-gradient?seed={seed}")
    assert 400 <= page.status_code < 500
    assert "seed must be a whole number" in page.get_data(as_text=True)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("backprop-quiz")), *args],
        input="", capture_output=True, text=True, timeout=60, check=False,
    )


@pytest.mark.parametrize("seed", ["7.5", "-1", "\u00b2", "9" * 5000, str(2**63), str(2**64 + 5)])
@pytest.mark.parametrize("command", ["generate", "grade"])
def test_the_cli_refuses_a_seed_that_is_not_a_public_whole_number(
    command: str, seed: str
) -> None:
    extra = ["--answers", "-"] if command == "grade" else []
    done = run_cli(command, "weight-gradient", "--seed", seed, *extra)
    assert done.returncode == 2 and "--seed" in done.stderr, done.stderr
    assert done.stdout == ""

