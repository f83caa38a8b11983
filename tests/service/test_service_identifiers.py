"""Identifiers (names, emails, course codes, titles) are NFKC-normalised and refuse
invisible characters, at the API and at ``users create`` (issue 12, item 8)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from servicekit import PASSWORD, Caller, cli_env, create_user_command

from service import auth
from service.config import Settings
from service.models import Role

INVISIBLE = {
    "zero-width space": "\u200b",
    "right-to-left override": "\u202e",
    "right-to-left mark": "\u200f",
    "first-strong isolate": "\u2068",
    "byte order mark": "\ufeff",
    "line separator": "\u2028",
    "paragraph separator": "\u2029",
    "NUL": "\x00",
    "tab": "\t",
    "escape": "\x1b",
}


@pytest.mark.parametrize("char", INVISIBLE.values(), ids=INVISIBLE.keys())
@pytest.mark.parametrize("field", ["code", "title"])
def test_a_course_with_an_invisible_character_is_refused(
    instructor: Caller, field: str, char: str
) -> None:
    body = {"code": "BP101", "title": "Backprop"}
    body[field] = body[field][:2] + char + body[field][2:]
    response = instructor.post("/api/v1/courses", json=body)
    assert response.status_code == 422, response.json
    error = response.json["error"]
    assert error["code"] == "invalid_request"
    assert field in error["fields"] and f"U+{ord(char):04X}" in error["fields"][field]
    assert instructor.get("/api/v1/courses").json == []


def test_look_alike_course_codes_are_refused_or_made_one(instructor: Caller) -> None:
    first = instructor.post("/api/v1/courses", json={"code": "CS101", "title": "A"})
    assert first.status_code == 201
    # Full-width letters and digits are the same code after NFKC: a conflict, not a twin.
    twin = instructor.post("/api/v1/courses", json={"code": "ＣＳ１０１", "title": "B"})
    assert twin.status_code == 409
    # A Cyrillic С looks the same and NFKC keeps it: course codes are plain ASCII.
    cyrillic = instructor.post("/api/v1/courses", json={"code": "\u0421S101", "title": "C"})
    assert cyrillic.status_code == 422
    assert "code" in cyrillic.json["error"]["fields"]


def test_names_are_normalised(instructor: Caller) -> None:
    response = instructor.post(
        "/api/v1/courses", json={"code": " bp-201 ", "title": "Ｂackprop\u3000２"}
    )
    assert response.status_code == 201
    assert response.json["code"] == "bp-201" and response.json["title"] == "Backprop 2"


def test_an_assignment_title_with_a_bidi_override_is_refused(instructor: Caller) -> None:
    course = instructor.post("/api/v1/courses", json={"code": "BP1", "title": "B"}).json["id"]
    response = instructor.post(
        f"/api/v1/courses/{course}/assignments",
        json={"title": "HW\u202e1", "slots": [{"exercise_type": "loss"}]},
    )
    assert response.status_code == 422 and "title" in response.json["error"]["fields"]


@pytest.mark.parametrize(
    ("email", "name", "field"),
    [
        ("ada\u200b@example.org", "Ada", "email"),
        ("ada@example.org", "Ada\u202eecalevol", "name"),
        ("ada@example.org", "Ada\u00adLovelace", "name"),  # a soft hyphen (Cf)
    ],
)
def test_create_user_refuses_invisible_characters(
    ctx: None, email: str, name: str, field: str
) -> None:
    with pytest.raises(auth.UserError, match=rf"^{field}: .*U\+"):
        auth.create_user(email, PASSWORD, Role.student, name=name)


def test_create_user_normalises(ctx: None) -> None:
    user = auth.create_user("ＡＤＡ@example.org", PASSWORD, Role.student, name=" Ada  Lovelace ")
    assert user.email == "ada@example.org" and user.name == "Ada Lovelace"


def test_users_create_command_names_the_field(settings: Settings) -> None:
    result = create_user_command(
        CliRunner(), cli_env(settings), "instructor", "--name", "Eve\u200bAdmin"
    )
    assert result.exit_code != 0
    assert "name:" in result.output and "U+200B" in result.output
