"""Courses and people (issue 14, item 1): the roster CSV and its import plan, set-password
links, the roster and course pages, who may do what, and the API twins."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from servicekit import Caller, csrf_token, grade_queued, make_course, sign_in
from sqlalchemy import func, select, update

from service import auth, queries
from service import roster as people
from service.db import db
from service.models import (
    CourseRole,
    Enrollment,
    Invite,
    Mark,
    Problem,
    Role,
    Submission,
    User,
    utcnow,
)

LINK = re.compile(r'<a href="(http://localhost/invite/[^"]+)">')
HEADER = "email,name,role,section\n"
ASSIGNMENT = {"title": "HW", "slots": [{"exercise_type": "weight-gradient"}]}




def post_form(client: FlaskClient, page: str, target: str, **data: Any) -> Any:
    return client.post(target, data={"csrf_token": csrf_token(client, page), **data})


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


# --- reading a roster file (no database) ---------------------------------------------------


def test_a_file_with_a_bom_and_blank_lines_is_read_with_file_line_numbers() -> None:
    data = "\ufeffemail,name,role,section\r\nada@x.org,Ada,,A\r\n\r\nbob@x.org,Bob,ta,\r\n"
    lines = people.parse(people.decode(data.encode()))
    assert [(ln.line, ln.email, ln.name, ln.role, ln.section) for ln in lines] == [
        (2, "ada@x.org", "Ada", "", "A"),
        (4, "bob@x.org", "Bob", "ta", ""),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty: its first line must be the header email,name,role,section."),
        (b"email,name,role\nada@x.org,Ada,student\n",
         "The header has no column “section”: it must be email,name,role,section."),
        (b"email,name,role,section,phone\n",
         "The header has an unknown column “phone”: it must be email,name,role,section."),
        (b"name,email,role,section\n",
         "The header's columns are in another order: it must be email,name,role,section."),
        (b"email,name,role,section,email\n",
         "The header has the column “email” twice: it must be email,name,role,section."),
        (b"ada@x.org,Ada,student,A\n",
         "The header has an unknown column “ada@x.org”: it must be email,name,role,section."),
        (b"email,name,role,section\nl\xe9a@x.org,L\xe9a,,\n",
         "The file is not UTF-8 text (byte 26 cannot be read): save it as “CSV UTF-8”."),
    ],
)
def test_a_file_that_cannot_be_read_says_why(content: bytes, message: str) -> None:
    with pytest.raises(people.RosterFileError) as caught:
        people.parse(people.decode(content))
    assert str(caught.value) == message


def test_size_and_row_limits() -> None:
    with pytest.raises(people.RosterFileError) as big:
        people.decode(b"x" * 1_000_001)
    assert str(big.value) == "The file is larger than 1 MB: split it into smaller files."
    many = HEADER + "".join(f"s{i}@x.org,,,\n" for i in range(5001))
    with pytest.raises(people.RosterFileError) as rows:
        people.parse(many)
    assert str(rows.value) == "The file has more than 5000 rows: split it into smaller files."
    assert len(people.parse(HEADER + "".join(f"s{i}@x.org,,,\n" for i in range(5000)))) == 5000


def test_the_header_is_read_without_case_or_spaces() -> None:
    assert people.parse("Email, Name ,ROLE,section\nada@x.org,Ada,,\n")[0].email == "ada@x.org"


ACCOUNTS = {
    "old@x.org": people.Account("Old Name", Role.student),
    "nameless@x.org": people.Account("", Role.student),
    "stu@x.org": people.Account("Stu", Role.student),
    "teach@x.org": people.Account("Teach", Role.instructor),
}
MEMBERS = {
    "old@x.org": people.Member(CourseRole.student, "A"),
    "nameless@x.org": people.Member(CourseRole.student, "A"),
    "teach@x.org": people.Member(CourseRole.instructor, ""),
}


def plan_of(body: str) -> list[tuple[str, str, str]]:
    rows = people.plan(people.parse(HEADER + body), ACCOUNTS, MEMBERS).rows
    return [(r.email, r.change.value, r.reason) for r in rows]


def test_every_rejection_reason_word_for_word() -> None:
    body = (
        "not-an-email,Nobody,,\n"
        "new@x.org,New,,A\n"
        "NEW@x.org,New again,,B\n"
        "role@x.org,Role,teacher,\n"
        f"long@x.org,{'n' * 121},,\n"
        f"sec@x.org,Sec,,{'s' * 65}\n"
        "stu@x.org,Stu,instructor,\n"
        "few@x.org,Few\n"
        "many@x.org,Many,,,extra\n"
        "bidi@x.org,Ev\u202eil,,\n"
        "colleague@x.org,Col,instructor,\n"
    )
    assert plan_of(body) == [
        ("not-an-email", "Rejected", "not an email address: “not-an-email”"),
        ("new@x.org", "New", "new account, with a set-password link"),
        ("new@x.org", "Rejected", "the same email is on line 3"),
        ("role@x.org", "Rejected", "unknown role “teacher”: use student, ta or instructor"),
        ("long@x.org", "Rejected", "name: must have at most 120 characters"),
        ("sec@x.org", "Rejected", "section: must have at most 64 characters"),
        ("stu@x.org", "Rejected", "a student account cannot be an instructor (it may be a ta)"),
        ("few@x.org", "Rejected", "2 fields where the header has 4 (email,name,role,section)"),
        ("many@x.org", "Rejected", "5 fields where the header has 4 (email,name,role,section)"),
        ("bidi@x.org", "Rejected", "name: contains an invisible or control character U+202E "
                                   "(RIGHT-TO-LEFT OVERRIDE)"),
        ("colleague@x.org", "Rejected",
         "no account has this email, and an instructor needs one made by an admin"),
    ]


def test_new_updated_and_unchanged_rows() -> None:
    body = (
        "old@x.org,Another Name,student,A\n"  # the account keeps its name
        "nameless@x.org,Now Named,ta,B\n"
        "stu@x.org,,ta,\n"  # an existing student account may be a TA
        "teach@x.org,,instructor,\n"
        "fresh@x.org,,,\n"
    )
    assert plan_of(body) == [
        ("old@x.org", "Unchanged", "the account keeps its name “Old Name”"),
        ("nameless@x.org", "Updated", "role student → ta; section “A” → “B”; name filled in"),
        ("stu@x.org", "New", "existing account, added to the course"),
        ("teach@x.org", "Unchanged", ""),
        ("fresh@x.org", "New", "new account, with a set-password link"),
    ]


def test_a_file_may_not_leave_the_course_without_an_instructor() -> None:
    assert plan_of("teach@x.org,,student,\n") == [
        ("teach@x.org", "Rejected", "the course would be left without an instructor"),
    ]
    promoted = plan_of("teach@x.org,,ta,\nold@x.org,,instructor,A\n")
    assert [change for _, change, _ in promoted] == ["Rejected", "Rejected"]  # old is a student
    ACCOUNTS_WITH = {**ACCOUNTS, "co@x.org": people.Account("Co", Role.instructor)}
    rows = people.plan(
        people.parse(HEADER + "teach@x.org,,ta,\nco@x.org,,instructor,\n"), ACCOUNTS_WITH, MEMBERS
    ).rows
    assert [r.change.value for r in rows] == ["Updated", "New"]


def test_no_password_matches_an_invited_account() -> None:
    from werkzeug.security import check_password_hash

    assert not check_password_hash(auth.UNUSABLE_PASSWORD, "")
    assert not check_password_hash(auth.UNUSABLE_PASSWORD, auth.UNUSABLE_PASSWORD)


# --- the API twins --------------------------------------------------------------------------


@pytest.fixture
def course(instructor: Caller, student: Caller) -> dict[str, Any]:
    cid, assignment = make_course(instructor, [student], ASSIGNMENT)
    return {"id": cid, "assignment": assignment, "instructor": instructor, "student": student}


def counts(app: Flask) -> tuple[int, int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(User)) or 0,
            db.session.scalar(select(func.count()).select_from(Enrollment)) or 0,
            db.session.scalar(select(func.count()).select_from(Invite)) or 0,
        )


GOOD = HEADER + "ada@x.org,Ada Lovelace,student,A\nbab@x.org,Charles Babbage,ta,\n"
BAD = GOOD + "oops,Nobody,student,A\n"


def test_preview_changes_nothing(app: Flask, course: dict[str, Any]) -> None:
    teacher, cid = course["instructor"], course["id"]
    before = counts(app)
    response = teacher.post(f"/api/v1/courses/{cid}/roster/import/preview", json={"csv": BAD})
    assert response.status_code == 200
    assert response.json["ok"] is False
    assert [(r["line"], r["change"], r["reason"]) for r in response.json["rows"]] == [
        (2, "New", "new account, with a set-password link"),
        (3, "New", "new account, with a set-password link"),
        (4, "Rejected", "not an email address: “oops”"),
    ]
    assert counts(app) == before


def test_a_file_with_a_rejected_row_applies_nothing(app: Flask, course: dict[str, Any]) -> None:
    teacher, cid = course["instructor"], course["id"]
    before = counts(app)
    refused = teacher.post(f"/api/v1/courses/{cid}/roster/import", json={"csv": BAD})
    assert refused.status_code == 422
    assert refused.json["error"]["code"] == "rejected_rows"
    assert refused.json["error"]["rows"][2]["reason"] == "not an email address: “oops”"
    assert counts(app) == before


def test_a_good_file_creates_accounts_and_enrolments(app: Flask, course: dict[str, Any]) -> None:
    teacher, cid = course["instructor"], course["id"]
    body = GOOD + f"{course['student'].email},,,B\n"
    done = teacher.post(f"/api/v1/courses/{cid}/roster/import", json={"csv": body})
    assert done.status_code == 200, done.json
    assert [r["change"] for r in done.json["rows"]] == ["New", "New", "Updated"]
    links = done.json["set_password_links"]
    assert [link["email"] for link in links] == ["ada@x.org", "bab@x.org"]
    assert all(link["link"].startswith("http://localhost/invite/") for link in links)
    roster = teacher.get(f"/api/v1/courses/{cid}/roster").json
    assert [(m["email"], m["role"], m["section"], m["pending"]) for m in roster] == [
        (teacher.email, "instructor", "", False),
        ("bab@x.org", "ta", "", True),
        ("ada@x.org", "student", "A", True),
        (course["student"].email, "student", "B", False),
    ]
    assert teacher.get(f"/api/v1/courses/{cid}/roster?section=A").json[0]["name"] == "Ada Lovelace"
    assert teacher.get(f"/api/v1/courses/{cid}/sections").json == [
        {"section": "A", "students": 1}, {"section": "B", "students": 1},
    ]
    with app.app_context():
        ada = auth.find_user("ada@x.org")
        assert ada is not None and ada.role == Role.student
        assert auth.authenticate("ada@x.org", "") is None
        stored = db.session.scalars(select(Invite.token_hash)).all()
    token = links[0]["link"].rsplit("/", 1)[1]
    assert auth.hash_token(token) in stored and token not in stored  # only the SHA-256


def test_a_bad_file_is_422_naming_the_column(course: dict[str, Any]) -> None:
    response = course["instructor"].post(
        f"/api/v1/courses/{course['id']}/roster/import/preview", json={"csv": "email,name\n"}
    )
    assert response.status_code == 422
    assert response.json["error"] == {
        "code": "invalid_roster_file",
        "message": "The header has no column “role”: it must be email,name,role,section.",
    }


def test_add_one_member(course: dict[str, Any], make_caller: Callable[..., Caller]) -> None:
    teacher, cid = course["instructor"], course["id"]
    path = f"/api/v1/courses/{cid}/roster"
    assert teacher.post(path, json={"email": "ghost@x.org"}).status_code == 404
    made = teacher.post(path, json={"email": "Ghost@X.org", "name": "Ghost", "section": "C",
                                    "create_account": True})
    assert made.status_code == 201
    assert (made.json["email"], made.json["role"], made.json["section"]) == (
        "ghost@x.org", "student", "C"
    )
    assert made.json["set_password_link"]["link"].startswith("http://localhost/invite/")
    other = make_caller("student")
    ta = teacher.post(path, json={"email": other.email, "role": "ta"})
    assert ta.status_code == 201 and ta.json["set_password_link"] is None
    refused = teacher.post(path, json={"email": make_caller().email, "role": "instructor"})
    assert refused.status_code == 422
    assert refused.json["error"]["message"] == people.STUDENT_NOT_INSTRUCTOR
    no_account = teacher.post(path, json={"email": "prof@x.org", "role": "instructor",
                                          "create_account": True})
    assert no_account.status_code == 422
    assert no_account.json["error"]["message"] == people.NO_INSTRUCTOR_ACCOUNT
    assert teacher.post(path, json={"email": other.email}).status_code == 409


def test_a_new_link_only_for_student_accounts(app: Flask, course: dict[str, Any],
                                              make_caller: Callable[..., Caller]) -> None:
    teacher, cid = course["instructor"], course["id"]
    student = course["student"]
    link = teacher.post(f"/api/v1/courses/{cid}/roster/{student.user_id}/set-password-link")
    assert link.status_code == 201 and link.json["email"] == student.email
    colleague = make_caller("instructor")
    teacher.post(f"/api/v1/courses/{cid}/roster", json={"email": colleague.email, "role": "ta"})
    refused = teacher.post(f"/api/v1/courses/{cid}/roster/{colleague.user_id}/set-password-link")
    assert refused.status_code == 403
    assert teacher.post(f"/api/v1/courses/{cid}/roster/999/set-password-link").status_code == 404


def test_removing_a_student_keeps_their_submissions(app: Flask, course: dict[str, Any]) -> None:
    teacher, student, cid = course["instructor"], course["student"], course["id"]
    aid = course["assignment"]["id"]
    problem = student.post(f"/api/v1/courses/{cid}/assignments/{aid}/slots/1/problem").json
    with app.app_context():
        key = db.session.get(Problem, uuid.UUID(problem["id"])).variant["key"]
    student.post(f"/api/v1/problems/{problem['id']}/submissions", json={"answers": key})
    grade_queued(app)
    assert teacher.delete(f"/api/v1/courses/{cid}/roster/{student.user_id}").status_code == 204
    assert student.get(f"/api/v1/courses/{cid}").status_code == 404
    with app.app_context():
        kept = db.session.scalars(select(Submission).where(Submission.user_id == student.user_id))
        assert len(kept.all()) == 1
        assert db.session.scalar(select(func.count()).select_from(Mark)) == 1
        assert db.session.get(User, student.user_id) is not None
    # Back on the roster, the same variant and its mark are there again.
    teacher.post(f"/api/v1/courses/{cid}/roster", json={"email": student.email})
    again = student.post(f"/api/v1/courses/{cid}/assignments/{aid}/slots/1/problem").json
    assert again["id"] == problem["id"]


def test_the_last_instructor_cannot_leave(course: dict[str, Any],
                                          make_caller: Callable[..., Caller]) -> None:
    teacher, cid = course["instructor"], course["id"]
    refused = teacher.delete(f"/api/v1/courses/{cid}/roster/{teacher.user_id}")
    assert refused.status_code == 409 and refused.json["error"]["code"] == "last_instructor"
    colleague = make_caller("instructor")
    teacher.post(f"/api/v1/courses/{cid}/roster", json={"email": colleague.email,
                                                        "role": "instructor"})
    assert teacher.delete(f"/api/v1/courses/{cid}/roster/{teacher.user_id}").status_code == 204


def test_course_edit(course: dict[str, Any], make_caller: Callable[..., Caller]) -> None:
    teacher, cid = course["instructor"], course["id"]
    edited = teacher._call("PATCH", f"/api/v1/courses/{cid}", json={"title": "Deep nets"})
    assert edited.status_code == 200
    assert (edited.json["code"], edited.json["title"]) == ("NN1", "Deep nets")
    teacher.post("/api/v1/courses", json={"code": "NN2", "title": "Other"})
    taken = teacher._call("PATCH", f"/api/v1/courses/{cid}", json={"code": "NN2"})
    assert taken.status_code == 409
    ta = make_caller("student")
    teacher.post(f"/api/v1/courses/{cid}/roster", json={"email": ta.email, "role": "ta"})
    assert ta._call("PATCH", f"/api/v1/courses/{cid}", json={"title": "x"}).status_code == 403
    assert teacher.get(f"/api/v1/courses/{cid}").json["title"] == "Deep nets"


def test_ta_sees_but_changes_nothing(course: dict[str, Any],
                                     make_caller: Callable[..., Caller]) -> None:
    teacher, cid, student = course["instructor"], course["id"], course["student"]
    ta = make_caller("student")
    teacher.post(f"/api/v1/courses/{cid}/roster", json={"email": ta.email, "role": "ta"})
    assert ta.get(f"/api/v1/courses/{cid}/roster").status_code == 200
    assert ta.get(f"/api/v1/courses/{cid}/sections").status_code == 200
    for method, path, body in [
        ("POST", f"/api/v1/courses/{cid}/roster", {"email": "z@x.org", "create_account": True}),
        ("DELETE", f"/api/v1/courses/{cid}/roster/{student.user_id}", None),
        ("POST", f"/api/v1/courses/{cid}/roster/{student.user_id}/set-password-link", None),
        ("POST", f"/api/v1/courses/{cid}/roster/import/preview", {"csv": GOOD}),
        ("POST", f"/api/v1/courses/{cid}/roster/import", {"csv": GOOD}),
    ]:
        assert ta._call(method, path, json=body).status_code == 403, path


PEOPLE_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/courses/{cid}/roster", None),
    ("POST", "/api/v1/courses/{cid}/roster", {"email": "q@x.org", "create_account": True}),
    ("DELETE", "/api/v1/courses/{cid}/roster/{uid}", None),
    ("POST", "/api/v1/courses/{cid}/roster/{uid}/set-password-link", None),
    ("POST", "/api/v1/courses/{cid}/roster/import/preview", {"csv": GOOD}),
    ("POST", "/api/v1/courses/{cid}/roster/import", {"csv": GOOD}),
    ("GET", "/api/v1/courses/{cid}/sections", None),
    ("PATCH", "/api/v1/courses/{cid}", {"title": "Mine now"}),
]


def test_outsiders_students_and_other_courses_get_404(
    course: dict[str, Any], make_caller: Callable[..., Caller]
) -> None:
    cid, student = course["id"], course["student"]
    outsider = make_caller("instructor")
    other_cid, _ = make_course(outsider, [], ASSIGNMENT, code="OTHER")
    for method, path, body in PEOPLE_ROUTES:
        url = path.format(cid=cid, uid=student.user_id)
        assert outsider._call(method, url, json=body).status_code == 404, url
        assert student._call(method, url, json=body).status_code == 404, url
        other = path.format(cid=other_cid, uid=student.user_id)
        assert course["instructor"]._call(method, other, json=body).status_code == 404, other


def test_the_openapi_document_lists_the_twins(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for method, path, _body in PEOPLE_ROUTES:
        documented = path.replace("{cid}", "{course_id}").replace("{uid}", "{user_id}")
        assert method.lower() in paths[documented], (method, documented)
    assert "get" in paths["/api/v1/courses/{course_id}"]  # the members' GET is still there
    post = paths["/api/v1/courses/{course_id}/roster/import"]["post"]
    assert {"200", "403", "409", "422"} <= set(post["responses"])


# --- the pages ------------------------------------------------------------------------------


def test_the_roster_page_lists_members_and_escapes_names(
    app: Flask, course: dict[str, Any]
) -> None:
    teacher, cid = course["instructor"], course["id"]
    teacher.post(f"/api/v1/courses/{cid}/roster", json={
        "email": "evil@x.org", "name": "<script>alert(1)</script>", "section": "<b>S</b>",
        "create_account": True,
    })
    browser = sign_in(teacher)
    page = text(browser.get(f"/courses/{cid}/roster"))
    assert "<script>alert(1)</script>" not in page and "<b>S</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'aria-label="Remove evil@x.org"' in page
    assert 'aria-label="New set-password link for evil@x.org"' in page
    for label in ("Email", "Name", "Role", "Section", "Roster CSV file"):
        assert f">{label}</label>" in page
    assert ">Add to roster</button>" in page and ">Preview import</button>" in page
    assert "<caption>Members of NN1</caption>" in page
    response = browser.get(f"/courses/{cid}/roster")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_import_through_the_pages(app: Flask, course: dict[str, Any]) -> None:
    teacher, cid = course["instructor"], course["id"]
    browser = sign_in(teacher)
    roster_page = f"/courses/{cid}/roster"
    before = counts(app)

    def upload(content: str) -> Any:
        from io import BytesIO

        return browser.post(f"/courses/{cid}/roster/import", data={
            "csrf_token": csrf_token(browser, roster_page),
            "file": (BytesIO(content.encode("utf-8-sig")), "roster.csv"),
        }, content_type="multipart/form-data")

    bad = upload(BAD)
    page = text(bad)
    assert bad.status_code == 200 and "<caption>Import preview</caption>" in page
    assert "Nothing was applied" in page and "Apply import" not in page
    assert "not an email address: “oops”" in page
    assert counts(app) == before

    good = text(upload(GOOD))
    assert "Nothing was applied" not in good and ">Apply import</button>" in good
    assert counts(app) == before  # a preview only
    fields = dict(re.findall(r'name="(csv|signature)" value="([^"]*)"', good))
    import html

    form = {k: html.unescape(v) for k, v in fields.items()}
    tampered = browser.post(f"/courses/{cid}/roster/import/apply", data={
        "csrf_token": csrf_token(browser, roster_page), "csv": form["csv"] + "eve@x.org,,,\n",
        "signature": form["signature"],
    })
    assert tampered.status_code == 400 and counts(app) == before
    applied = browser.post(f"/courses/{cid}/roster/import/apply", data={
        "csrf_token": csrf_token(browser, roster_page), **form,
    })
    done = text(applied)
    assert applied.status_code == 200 and "<caption>Set-password links</caption>" in done
    links = LINK.findall(done)
    assert len(links) == 2 and all(f">{link}</a>" in done for link in links)
    assert counts(app) == (before[0] + 2, before[1] + 2, before[2] + 2)


def test_add_and_remove_through_the_pages(app: Flask, course: dict[str, Any]) -> None:
    teacher, cid, student = course["instructor"], course["id"], course["student"]
    browser = sign_in(teacher)
    page = f"/courses/{cid}/roster"
    added = post_form(browser, page, f"/courses/{cid}/roster/add",
                      email="new@x.org", name="New", role="student", section="A")
    assert added.status_code == 200 and len(LINK.findall(text(added))) == 1
    again = post_form(browser, page, f"/courses/{cid}/roster/add",
                      email="new@x.org", name="", role="student", section="")
    assert again.status_code == 409 and "already on the roster" in text(again)
    bad = post_form(browser, page, f"/courses/{cid}/roster/add",
                    email="nope", name="", role="student", section="")
    assert bad.status_code == 400 and "not an email address" in text(bad)
    link = post_form(browser, page, f"/courses/{cid}/roster/{student.user_id}/link")
    assert link.status_code == 200 and "<caption>Set-password links</caption>" in text(link)
    removed = post_form(browser, page, f"/courses/{cid}/roster/{student.user_id}/remove")
    assert removed.status_code == 302
    last = post_form(browser, page, f"/courses/{cid}/roster/{course['instructor'].user_id}/remove")
    assert last.status_code == 409 and "last instructor" in text(last)
    assert post_form(browser, page, f"/courses/{cid}/roster/99999/remove").status_code == 404


def test_a_form_post_without_its_csrf_token_is_refused(app: Flask, course: dict[str, Any]) -> None:
    browser = sign_in(course["instructor"])
    before = counts(app)
    response = browser.post(f"/courses/{course['id']}/roster/add",
                            data={"email": "x@x.org", "role": "student"})
    assert response.status_code == 400 and "expired" in text(response)
    assert counts(app) == before
    assert browser.post("/courses/new", data={"code": "Z1", "title": "Z"}).status_code == 400


def test_ta_sees_the_roster_without_its_forms(course: dict[str, Any],
                                              make_caller: Callable[..., Caller]) -> None:
    teacher, cid, student = course["instructor"], course["id"], course["student"]
    ta = make_caller("student")
    teacher.post(f"/api/v1/courses/{cid}/roster", json={"email": ta.email, "role": "ta"})
    browser = sign_in(ta)
    page = text(browser.get(f"/courses/{cid}/roster"))
    assert student.email in page
    assert "Add to roster" not in page and "Preview import" not in page and "Remove" not in page
    page_url = f"/courses/{cid}/roster"
    for target in (f"/courses/{cid}/roster/add", f"/courses/{cid}/roster/import",
                   f"/courses/{cid}/roster/import/apply",
                   f"/courses/{cid}/roster/{student.user_id}/remove",
                   f"/courses/{cid}/roster/{student.user_id}/link", f"/courses/{cid}/edit"):
        assert post_form(browser, page_url, target, email="z@x.org").status_code == 403, target
    assert browser.get(f"/courses/{cid}/edit").status_code == 403


def test_pages_are_404_for_students_outsiders_and_other_courses(
    course: dict[str, Any], make_caller: Callable[..., Caller]
) -> None:
    cid, student = course["id"], course["student"]
    outsider = make_caller("instructor")
    other_cid, _ = make_course(outsider, [], ASSIGNMENT, code="OTHER")
    pages = ["/courses/{cid}/roster", "/courses/{cid}/edit"]
    posts = ["/courses/{cid}/roster/add", "/courses/{cid}/roster/import",
             "/courses/{cid}/roster/{uid}/remove", "/courses/{cid}/roster/{uid}/link"]
    for caller, cid_seen in ((sign_in(student), cid), (sign_in(outsider), cid),
                             (sign_in(course["instructor"]), other_cid)):
        for path in pages:
            assert caller.get(path.format(cid=cid_seen)).status_code == 404, path
        for path in posts:
            url = path.format(cid=cid_seen, uid=student.user_id)
            assert post_form(caller, "/courses", url).status_code == 404, url
    assert student.client.get("/courses/new").status_code == 404


def test_create_and_edit_a_course_through_the_pages(app: Flask, instructor: Caller) -> None:
    browser = sign_in(instructor)
    form = text(browser.get("/courses/new"))
    assert '<label for="course-code">Course code</label>' in form
    assert '<label for="course-title">Title</label>' in form and ">Create course</button>" in form
    made = post_form(browser, "/courses/new", "/courses/new", code="ML 101", title="<i>ML</i>")
    assert made.status_code == 302
    cid = int(made.headers["Location"].rsplit("/", 1)[1])
    assert made.headers["Location"] == f"/courses/{cid}"
    with app.app_context():
        role = db.session.scalar(select(Enrollment.role).where(Enrollment.course_id == cid))
    assert role == CourseRole.instructor
    taken = post_form(browser, "/courses/new", "/courses/new", code="ML 101", title="Again")
    assert taken.status_code == 409 and "a course with code ML 101 exists" in text(taken)
    bad = post_form(browser, "/courses/new", "/courses/new", code="ML\u200b1", title="X")
    assert bad.status_code == 400 and "invisible" in text(bad)
    edit_page = f"/courses/{cid}/edit"
    edit = text(browser.get(edit_page))
    assert "&lt;i&gt;ML&lt;/i&gt;" in edit and "<i>ML</i>" not in edit
    saved = post_form(browser, edit_page, edit_page, code="ML 102", title="Machine learning")
    assert saved.status_code == 302
    assert instructor.get(f"/api/v1/courses/{cid}").json["code"] == "ML 102"


# --- set-password links ---------------------------------------------------------------------


def invite_link(course: dict[str, Any], email: str = "newbie@x.org") -> str:
    made = course["instructor"].post(f"/api/v1/courses/{course['id']}/roster", json={
        "email": email, "name": "Newbie", "create_account": True,
    })
    link: str = made.json["set_password_link"]["link"]
    return link.removeprefix("http://localhost")


def set_password(client: FlaskClient, path: str, password: str, repeated: str | None = None
                 ) -> Any:
    return client.post(path, data={"csrf_token": csrf_token(client, path), "password": password,
                                   "repeated": password if repeated is None else repeated})


def test_a_link_sets_the_password_once(app: Flask, course: dict[str, Any]) -> None:
    path = invite_link(course)
    client = app.test_client()
    form = client.get(path)
    page = text(form)
    assert form.status_code == 200 and "Content-Security-Policy" in form.headers
    assert '<label for="password">New password</label>' in page
    assert '<label for="repeated">Repeat the password</label>' in page
    assert ">Set password</button>" in page
    mismatch = set_password(client, path, "long enough 1", "long enough 2")
    assert mismatch.status_code == 400 and "The two passwords are not the same." in text(mismatch)
    short = set_password(client, path, "short")
    assert short.status_code == 400 and "at least 8 characters" in text(short)
    done = set_password(client, path, "a new password")
    assert done.status_code == 302 and done.headers["Location"] == "/courses"
    assert "newbie@x.org" in text(client.get("/courses"))  # signed in
    with app.app_context():
        assert auth.authenticate("newbie@x.org", "a new password") is not None
    again = app.test_client().get(path)
    assert again.status_code == 410 and "has been used already" in text(again)
    other = app.test_client()
    replay = other.post(path, data={"csrf_token": csrf_token(other, "/login"),
                                    "password": "taken over!", "repeated": "taken over!"})
    assert replay.status_code == 410
    with app.app_context():
        assert auth.authenticate("newbie@x.org", "taken over!") is None


def test_an_expired_or_replaced_link_opens_nothing(app: Flask, course: dict[str, Any]) -> None:
    path = invite_link(course)
    with app.app_context():
        db.session.execute(update(Invite).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    expired = app.test_client().get(path)
    assert expired.status_code == 410 and "This link has expired." in text(expired)
    with app.app_context():
        uid = auth.find_user("newbie@x.org").id  # type: ignore[union-attr]
    newer = course["instructor"].post(
        f"/api/v1/courses/{course['id']}/roster/{uid}/set-password-link"
    ).json["link"].removeprefix("http://localhost")
    gone = app.test_client().get(path)
    assert gone.status_code == 410 and "This link is not valid" in text(gone)
    assert app.test_client().get(newer).status_code == 200
    assert app.test_client().get("/invite/not-a-token").status_code == 410


def test_the_invite_form_needs_its_csrf_token(app: Flask, course: dict[str, Any]) -> None:
    path = invite_link(course)
    client = app.test_client()
    refused = client.post(path, data={"password": "a new password", "repeated": "a new password"})
    assert refused.status_code == 400
    assert client.get(path).status_code == 200  # still unused


def test_a_file_too_large_for_a_request_says_so(app: Flask, course: dict[str, Any]) -> None:
    from io import BytesIO

    browser = sign_in(course["instructor"])
    cid = course["id"]
    token = csrf_token(browser, f"/courses/{cid}/roster")
    big = HEADER + "".join(f"student{i}@example.org,Student {i},,A\n" for i in range(3000))
    response = browser.post(f"/courses/{cid}/roster/import", data={
        "csrf_token": token, "file": (BytesIO(big.encode()), "big.csv"),
    }, content_type="multipart/form-data")
    assert response.status_code == 413
    assert "A form can send at most 64 KB here" in text(response)
    assert "Content-Security-Policy" in response.headers


def test_a_large_file_applies_whole(app: Flask, course: dict[str, Any]) -> None:
    body = HEADER + "".join(f"s{i:04d}@x.org,Student {i},,S{i % 7}\n" for i in range(1200))
    with app.app_context():
        from service.models import Course

        the_course = db.session.get(Course, course["id"])
        plan = people.preview(the_course, body)
        assert plan.ok and plan.count(people.Change.new) == 1200
        done = people.apply(the_course, plan, auth.Principal(
            course["instructor"].user_id, course["instructor"].email, "", Role.instructor))
        assert len(done.accounts) == 1200
        assert sum(n for _, n in queries.sections(course["id"])) == 1201  # and the fixture's
        again = people.preview(the_course, body)
        assert again.count(people.Change.unchanged) == 1200


def test_an_instructor_who_leaves_goes_to_their_courses(
    course: dict[str, Any], make_caller: Callable[..., Caller]
) -> None:
    teacher, cid = course["instructor"], course["id"]
    colleague = make_caller("instructor")
    teacher.post(f"/api/v1/courses/{cid}/roster", json={"email": colleague.email,
                                                        "role": "instructor"})
    browser = sign_in(teacher)
    page = f"/courses/{cid}/roster"
    left = post_form(browser, page, f"{page}/{teacher.user_id}/remove")
    assert left.status_code == 302 and left.headers["Location"] == "/courses"
    assert browser.get(f"/courses/{cid}/roster").status_code == 404
