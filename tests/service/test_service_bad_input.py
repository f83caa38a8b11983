"""Bad input is a 4xx in the one error shape (CONTRACT §7), never a 500 (issue 12, item 8).

Each case is a reproducer from the review: a body that is not JSON, JSON nested 10,000
deep, a 5,000-digit number, counts and points past what a column or a float holds, and
ids past a 32-bit integer in a URL.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from servicekit import Caller
from test_pages import log_in

JSON_ROUTES = [
    ("POST", "/api/v1/problems"),
    ("POST", "/api/v1/courses"),
    ("POST", "/api/v1/problems/00000000-0000-0000-0000-000000000000/submissions"),
]


def assert_error_shape(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    body = json.loads(response.get_data(as_text=True))  # strict: no NaN or Infinity
    assert set(body) == {"error"}
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
@pytest.mark.parametrize(
    "raw",
    [
        b"garbage",
        b"[" * 10_000 + b"]" * 10_000,
        b'{"answers": {"a": ' + b"[" * 10_000 + b"]" * 10_000 + b"}}",
        b'{"type": "loss", "seed": ' + b"7" * 5_000 + b"}",
        b'{"answers": {"C": ' + b"9" * 5_000 + b"}}",
        b'{"answers": {"C": 1e400}}',
        b'{"answers": {"C": NaN}}',
        b"\xff\xfe not utf-8",
    ],
    ids=[
        "garbage",
        "deep",
        "deep-inside",
        "long-int",
        "long-int-answer",
        "overflow",
        "nan",
        "bytes",
    ],
)
def test_a_body_that_is_not_reasonable_json_is_a_400(
    instructor: Caller, method: str, path: str, raw: bytes
) -> None:
    response = instructor._call(
        method, path, data=raw, headers={"Content-Type": "application/json"}
    )
    error = assert_error_shape(response, 400)
    assert error["code"] == "invalid_json"
    assert "JSON" in error["message"]


def _course(instructor: Caller) -> int:
    response = instructor.post("/api/v1/courses", json={"code": "BQ101", "title": "Backprop"})
    assert response.status_code == 201, response.json
    return response.json["id"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("attempts_allowed", 2**31),
        ("attempts_allowed", 10**6),
        ("points", 1e308),
        ("points", -1),
    ],
)
def test_numbers_a_user_sets_are_bounded(instructor: Caller, field: str, value: Any) -> None:
    course = _course(instructor)
    body: dict[str, Any] = {"title": "HW", "slots": [{"exercise_type": "loss"}]}
    if field == "points":
        body["slots"][0]["points"] = value
    else:
        body[field] = value
    response = instructor.post(f"/api/v1/courses/{course}/assignments", json=body)
    error = assert_error_shape(response, 422)
    assert field in json.dumps(error["fields"])


def test_points_in_range_still_work_and_stay_finite(instructor: Caller) -> None:
    course = _course(instructor)
    body = {
        "title": "HW",
        "attempts_allowed": 5,
        "slots": [{"exercise_type": "loss", "points": 2.5}],
    }
    response = instructor.post(f"/api/v1/courses/{course}/assignments", json=body)
    assert response.status_code == 201
    assert response.json["points"] == 2.5 and math.isfinite(response.json["score"])


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/courses/{big}",
        "/api/v1/courses/{big}/roster",
        "/api/v1/courses/{course}/assignments/{big}",
        "/api/v1/courses/{course}/assignments/{big}/stats",
        "/api/v1/courses/{big}/gradebook",
        "/api/v1/courses/{course}/roster/{big}",
    ],
)
@pytest.mark.parametrize("big", [2**31, 2**63, 10**30])
def test_ids_past_a_32_bit_integer_are_404(instructor: Caller, path: str, big: int) -> None:
    course = _course(instructor)
    url = path.format(big=big, course=course)
    method = "DELETE" if url.endswith(f"/roster/{big}") else "GET"
    assert_error_shape(instructor._call(method, url), 404)


def test_pages_with_huge_ids_are_404(instructor: Caller) -> None:
    log_in(instructor.client, instructor.email)  # a signed-in session, as a browser has
    course = _course(instructor)
    for path in (
        f"/courses/{2**31}/assignments/1",
        f"/courses/{course}/assignments/{2**40}",
        f"/courses/{course}/assignments/1/problems/{2**63}",
    ):
        assert instructor.client.get(path).status_code == 404, path
