"""Assignments on the dashboard (issue 14, item 2): the form and its messages, publish and
opening dates as students meet them, duplicate, overrides, the late policy's credit, exam
feedback, preview as a student, and who may do what; the pages and their API twins."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from servicekit import Caller, csrf_token, grade_queued, make_course, sign_in
from sqlalchemy import func, select, update

import exercises as ex
from service.db import db
from service.models import (
    Assignment,
    CourseRole,
    Enrollment,
    LatePolicy,
    Mark,
    Override,
    Problem,
    Slot,
    utcnow,
)

NETWORK = {"layers": [2, 2], "note": "an instructor's own network"}




def post_form(client: FlaskClient, page: str, action: str, data: dict[str, str]) -> Any:
    """Post a form of ``page`` to ``action`` with the page's CSRF token."""
    return client.post(action, data={**data, "csrf_token": csrf_token(client, page)})


def text_of(response: Any) -> str:
    """The page's text, tags dropped and entities read, spaces collapsed."""
    plain = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(html.unescape(plain).split())


def labelled(page: str) -> dict[str, str]:
    """Each label's text -> the id of the control it names (checked to exist)."""
    found = {}
    for target, text in re.findall(r'<label[^>]*for="([^"]+)"[^>]*>([^<]+)</label>', page):
        assert f'id="{target}"' in page, target
        found[html.unescape(text.strip())] = target
    return found


def local(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


HOMEWORK = {
    "title": "Homework 1",
    "attempts_allowed": 2,
    "slots": [{"exercise_type": "weight-gradient", "points": 2}],
}


@pytest.fixture
def course(make_caller: Callable[..., Caller]) -> dict[str, Any]:
    """An instructor, a student and a published homework of one weight-gradient slot."""
    teacher, student = make_caller("instructor"), make_caller("student")
    cid, assignment = make_course(teacher, [student], HOMEWORK)
    return {"id": cid, "aid": assignment["id"], "teacher": teacher, "student": student}


def new_assignment(course: dict[str, Any], **fields: Any) -> int:
    body = {**HOMEWORK, **fields}
    made = course["teacher"].post(f"/api/v1/courses/{course['id']}/assignments", json=body)
    assert made.status_code == 201, made.json
    aid: int = made.json["id"]
    return aid


def draw(course: dict[str, Any], aid: int, who: Caller | None = None) -> dict[str, Any]:
    who = who or course["student"]
    drawn = who.post(f"/api/v1/courses/{course['id']}/assignments/{aid}/slots/1/problem")
    assert drawn.status_code == 200, drawn.json
    problem: dict[str, Any] = drawn.json
    return problem


def key_of(app: Flask, problem_id: str) -> Any:
    with app.app_context():
        return db.session.get(Problem, uuid.UUID(problem_id)).variant["key"]


def submit(caller: Caller, problem_id: str, answers: Any) -> Any:
    return caller.post(f"/api/v1/problems/{problem_id}/submissions", json={"answers": answers})


def set_columns(app: Flask, aid: int, **values: Any) -> None:
    with app.app_context():
        db.session.execute(update(Assignment).where(Assignment.id == aid).values(**values))
        db.session.commit()


def manage_path(course: dict[str, Any], aid: int) -> str:
    return f"/courses/{course['id']}/assignments/{aid}/manage"


# --- creating one with the form ----------------------------------------------------------


def test_the_form_creates_an_unpublished_assignment(app: Flask, course: dict[str, Any]) -> None:
    client, cid = sign_in(course["teacher"]), course["id"]
    page = client.get(f"/courses/{cid}/assignments/new").get_data(as_text=True)
    labels = labelled(page)
    for name in ("Title", "Feedback mode", "Attempts per problem", "Opens at (UTC)",
                 "Due at (UTC)", "Late submissions", "Penalty per day (%)",
                 "Slot 1 exercise type", "Slot 1 difficulty", "Slot 1 points",
                 "Slot 6 exercise type", "Slot 6 points"):
        assert name in labels, name
    for option in ("Practice feedback", "Exam", "Not accepted", "Accepted for no credit",
                   "Accepted with a penalty", "(none)"):
        assert f">{option}</option>" in page, option
    assert ">Create assignment</button>" in page
    form = {
        "title": "Backprop week 2", "mode": "exam", "attempts_allowed": "4",
        "opens_at": "2030-01-10T09:00", "due_at": "2030-01-17T23:30",
        "late_policy": "penalty", "late_penalty": "10",
        "slot-1-type": "weight-gradient", "slot-1-difficulty": "2", "slot-1-points": "3",
        "slot-2-type": "", "slot-2-difficulty": "1", "slot-2-points": "1",
        "slot-3-type": "forward-pass", "slot-3-difficulty": "1", "slot-3-points": "1.5",
    }
    made = post_form(client, f"/courses/{cid}/assignments/new",
                     f"/courses/{cid}/assignments/new", form)
    assert made.status_code == 303
    match = re.fullmatch(rf"/courses/{cid}/assignments/(\d+)/manage", made.location)
    assert match, made.location
    aid = int(match.group(1))
    with app.app_context():
        a = db.session.get(Assignment, aid)
        assert (a.title, a.mode.value, a.attempts_allowed, a.published) == (
            "Backprop week 2", "exam", 4, False)
        # datetime-local values are read as UTC.
        assert a.opens_at.isoformat() == "2030-01-10T09:00:00+00:00"
        assert a.due_at.isoformat() == "2030-01-17T23:30:00+00:00"
        assert (a.late_policy, a.late_penalty) == (LatePolicy.penalty, 0.1)
        assert [(s.position, s.exercise_type, s.difficulty, s.points) for s in a.slots] == [
            (1, "weight-gradient", 2, 3.0), (2, "forward-pass", 1, 1.5)]
    manage = client.get(made.location)
    shown = text_of(manage)
    for words in ("Publish", "Duplicate", "Preview as a student", "Statistics", "Live view",
                  "Unexplained answers", "Save settings", "Grant override",
                  "Late submissions lose 10 % of their score per started day late."):
        assert words in shown, words
    assert "Title" in labelled(manage.get_data(as_text=True))


def test_the_form_names_each_bad_field(app: Flask, course: dict[str, Any]) -> None:
    client, cid = sign_in(course["teacher"]), course["id"]
    path = f"/courses/{cid}/assignments/new"
    bad = {
        "title": "  ", "mode": "homework", "attempts_allowed": "0",
        "opens_at": "2030-01-10T09:00", "due_at": "2030-01-09T09:00",
        "late_policy": "penalty", "late_penalty": "150",
    }
    refused = post_form(client, path, path, bad)
    assert refused.status_code == 422
    shown = text_of(refused)
    assert "Nothing was saved" in shown
    for message in (
        "Title: must not be empty",
        "Attempts per problem: must be a whole number from 1 to 100",
        "Due at (UTC): the due date must come after the opening date",
        "Penalty per day (%): must be a number from 0 to 100",
        "Slots: an assignment needs at least one slot",
    ):
        assert message in shown, message
    assert 'aria-invalid="true" aria-describedby="error-title"' in refused.get_data(as_text=True)
    unknown = post_form(client, path, path, {
        "title": "T" * 201, "attempts_allowed": "1", "slot-1-type": "no-such-type",
        "slot-1-difficulty": "9", "slot-1-points": "1",
    })
    assert unknown.status_code == 422
    shown = text_of(unknown)
    assert "Title: must have at most 200 characters" in shown
    assert "Slot 1 exercise type: unknown exercise type 'no-such-type'" in shown
    assert "Slot 1 difficulty: must be a whole number from 1 to" in shown
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Assignment)) == 1
    # The API says the same, by field.
    api = course["teacher"].post(f"/api/v1/courses/{cid}/assignments", json={
        **HOMEWORK, "attempts_allowed": 101,
        "opens_at": "2030-01-10T09:00:00Z", "due_at": "2030-01-09T09:00:00Z",
    })
    assert api.status_code == 422
    assert set(api.json["error"]["fields"]) == {"attempts_allowed", "due_at"}


# --- publishing and opening ----------------------------------------------------------------


def student_sees(course: dict[str, Any], aid: int) -> bool:
    """Whether the student meets the assignment, checked on every way in (all agree)."""
    student, cid = course["student"], course["id"]
    listed = aid in [a["id"] for a in student.get(f"/api/v1/courses/{cid}/assignments").json]
    codes = {
        student.get(f"/api/v1/courses/{cid}/assignments/{aid}").status_code,
        student.post(f"/api/v1/courses/{cid}/assignments/{aid}/slots/1/problem").status_code,
        student.client.get(f"/courses/{cid}/assignments/{aid}").status_code,
    }
    on_page = f"/courses/{cid}/assignments/{aid}\"" in student.client.get("/courses").get_data(
        as_text=True)
    assert codes in ({200}, {404}) and {listed, on_page} in ({True}, {False}), (codes, listed)
    return listed


def test_students_see_published_opened_assignments_only(
    app: Flask, course: dict[str, Any]
) -> None:
    sign_in(course["student"])
    teacher, cid = course["teacher"], course["id"]
    aid = new_assignment(course, title="Draft", published=False)
    assert not student_sees(course, aid)
    assert teacher.get(f"/api/v1/courses/{cid}/assignments/{aid}").status_code == 200
    client = sign_in(teacher)
    published = post_form(client, manage_path(course, aid),
                          f"/courses/{cid}/assignments/{aid}/publish", {})
    assert published.status_code == 303
    assert student_sees(course, aid)
    later = (utcnow() + timedelta(days=2)).isoformat()
    patched = teacher.client.open(f"/api/v1/courses/{cid}/assignments/{aid}/manage",
                                  method="PATCH", json={"opens_at": later},
                                  headers={"Authorization": f"Bearer {teacher.token}"})
    assert patched.status_code == 200 and patched.json["published"] is True
    assert not student_sees(course, aid)
    set_columns(app, aid, opens_at=utcnow() - timedelta(minutes=1))
    assert student_sees(course, aid)
    assert "Unpublish" in text_of(client.get(manage_path(course, aid)))
    assert teacher.post(f"/api/v1/courses/{cid}/assignments/{aid}/unpublish").json[
        "published"] is False
    assert not student_sees(course, aid)


def test_unpublishing_hides_a_problem_drawn_before(app: Flask, course: dict[str, Any]) -> None:
    student, cid, aid = course["student"], course["id"], course["aid"]
    problem = draw(course, aid)
    course["teacher"].post(f"/api/v1/courses/{cid}/assignments/{aid}/unpublish")
    assert student.get(f"/api/v1/problems/{problem['id']}").status_code == 404
    refused = submit(student, problem["id"], key_of(app, problem["id"]))
    assert refused.status_code == 404, refused.json
    with app.app_context():
        used = db.session.get(Problem, uuid.UUID(problem["id"])).attempts_used
    assert used == 0
    course["teacher"].post(f"/api/v1/courses/{cid}/assignments/{aid}/publish")
    assert submit(student, problem["id"], key_of(app, problem["id"])).status_code == 202


def test_preview_as_a_student(app: Flask, course: dict[str, Any]) -> None:
    aid = new_assignment(course, title="Draft", published=False)
    client, cid = sign_in(course["teacher"]), course["id"]
    manage = client.get(manage_path(course, aid)).get_data(as_text=True)
    preview = f"/courses/{cid}/assignments/{aid}"
    assert f'href="{preview}">Preview as a student</a>' in manage
    page = client.get(preview)
    assert page.status_code == 200
    assert "Preview: you see this as a student would" in text_of(page)
    # The staff member's own variant, drawn and graded as a student's is.
    drawn = client.get(f"{preview}/problems/1")
    assert drawn.status_code == 302
    problem = draw(course, aid, course["teacher"])
    assert submit(course["teacher"], problem["id"], key_of(app, problem["id"])).status_code == 202
    grade_queued(app)
    mine = course["teacher"].get(f"/api/v1/courses/{cid}/assignments/{aid}").json
    assert mine["score"] == 2.0
    own = sign_in(course["student"]).get(f"/courses/{cid}/assignments/{course['aid']}")
    assert "Preview:" not in text_of(own)


# --- duplicate -----------------------------------------------------------------------------


def test_duplicate_copies_settings_and_slots(app: Flask, course: dict[str, Any]) -> None:
    cid, aid = course["id"], course["aid"]
    with app.app_context():
        db.session.add(Slot(assignment_id=aid, position=2, exercise_type="forward-pass",
                            difficulty=2, points=0.5, network=NETWORK))
        db.session.execute(update(Assignment).where(Assignment.id == aid).values(
            late_policy=LatePolicy.penalty, late_penalty=0.25))
        db.session.commit()
    client = sign_in(course["teacher"])
    made = post_form(client, manage_path(course, aid),
                     f"/courses/{cid}/assignments/{aid}/duplicate", {})
    assert made.status_code == 303
    copy_id = int(made.location.split("/")[-2])
    assert copy_id != aid
    assert "Copy of Homework 1" in text_of(client.get(made.location))
    with app.app_context():
        copy = db.session.get(Assignment, copy_id)
        assert (copy.title, copy.published, copy.attempts_allowed) == (
            "Copy of Homework 1", False, 2)
        assert (copy.late_policy, copy.late_penalty) == (LatePolicy.penalty, 0.25)
        assert [(s.position, s.exercise_type, s.difficulty, s.points, s.network)
                for s in copy.slots] == [
            (1, "weight-gradient", 1, 2.0, None), (2, "forward-pass", 2, 0.5, NETWORK)]
    again = course["teacher"].post(f"/api/v1/courses/{cid}/assignments/{aid}/duplicate")
    assert again.status_code == 201
    assert (again.json["title"], again.json["published"]) == ("Copy of Homework 1", False)
    assert [s["network"] for s in again.json["slots"]] == [None, NETWORK]


# --- overrides -----------------------------------------------------------------------------


def test_an_extended_due_date_lets_a_late_submission_in(
    app: Flask, course: dict[str, Any]
) -> None:
    teacher, student, cid, aid = (course["teacher"], course["student"], course["id"],
                                  course["aid"])
    problem = draw(course, aid)
    set_columns(app, aid, due_at=utcnow() - timedelta(hours=1))  # closed: late work refused
    refused = submit(student, problem["id"], key_of(app, problem["id"]))
    assert refused.status_code == 409 and refused.json["error"]["code"] == "past_due"
    client = sign_in(teacher)
    overrides = f"/courses/{cid}/assignments/{aid}/overrides"
    empty = post_form(client, manage_path(course, aid), overrides, {
        "student": str(student.user_id), "due_at": "", "extra_attempts": "0", "reason": ""})
    assert empty.status_code == 422
    assert ("Extended due date (UTC): give an extended due date or extra attempts (or both)"
            in text_of(empty))
    stranger = post_form(client, manage_path(course, aid), overrides, {
        "student": str(teacher.user_id), "due_at": "", "extra_attempts": "1", "reason": ""})
    assert "Student: choose a student of this course" in text_of(stranger)
    extended = utcnow() + timedelta(days=1)
    granted = post_form(client, manage_path(course, aid),
                        f"/courses/{cid}/assignments/{aid}/overrides", {
                            "student": str(student.user_id), "due_at": local(extended),
                            "extra_attempts": "0", "reason": "Ill with a note <b>",
                        })
    assert granted.status_code == 303
    assert submit(student, problem["id"], key_of(app, problem["id"])).status_code == 202
    page = client.get(manage_path(course, aid))
    shown = text_of(page)
    assert student.email in shown and teacher.email in shown
    assert "Ill with a note <b>" in shown
    assert "Ill with a note &lt;b&gt;" in page.get_data(as_text=True)
    listed = teacher.get(f"/api/v1/courses/{cid}/assignments/{aid}/overrides").json
    assert [(o["email"], o["reason"], o["granted_by"]) for o in listed] == [
        (student.email, "Ill with a note <b>", teacher.email)]
    assert listed[0]["due_at"].startswith(local(extended))
    mine = sign_in(student).get(f"/courses/{cid}/assignments/{aid}")
    assert "your due date was extended" in text_of(mine)
    assert student.get(f"/api/v1/courses/{cid}/assignments/{aid}").json["your_due_at"] == (
        listed[0]["due_at"])
    # Removing it closes the assignment for the student again.
    assert teacher.delete(f"/api/v1/courses/{cid}/assignments/{aid}/overrides/"
                          f"{student.user_id}").status_code == 204
    again = submit(student, problem["id"], key_of(app, problem["id"]))
    assert again.status_code == 409 and again.json["error"]["code"] == "past_due"


def test_extra_attempts_and_edited_attempts_reach_drawn_problems(
    app: Flask, course: dict[str, Any]
) -> None:
    teacher, student, cid, aid = (course["teacher"], course["student"], course["id"],
                                  course["aid"])
    problem = draw(course, aid)
    assert problem["attempts_allowed"] == 2
    path = f"/api/v1/courses/{cid}/assignments/{aid}/overrides/{student.user_id}"
    put = teacher.client.open(path, method="PUT", json={"extra_attempts": 3, "reason": "DSP"},
                              headers={"Authorization": f"Bearer {teacher.token}"})
    assert put.status_code == 200 and put.json["extra_attempts"] == 3
    assert student.get(f"/api/v1/problems/{problem['id']}").json["attempts_allowed"] == 5
    answers = key_of(app, problem["id"])
    assert [submit(student, problem["id"], answers).status_code for _ in range(6)] == [
        202] * 5 + [409]
    client = sign_in(teacher)
    saved = post_form(client, manage_path(course, aid),
                      f"/courses/{cid}/assignments/{aid}/settings", {
                          "title": "Homework 1", "mode": "homework", "attempts_allowed": "4",
                          "opens_at": "", "due_at": "", "late_policy": "closed",
                          "late_penalty": "0",
                      })
    assert saved.status_code == 303
    assert student.get(f"/api/v1/problems/{problem['id']}").json["attempts_allowed"] == 7
    assert teacher.delete(path).status_code == 204
    assert student.get(f"/api/v1/problems/{problem['id']}").json["attempts_allowed"] == 4
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Override)) == 0


# --- the late policy's credit ------------------------------------------------------------


def credit_of(app: Flask, aid: int, user_id: int) -> float:
    with app.app_context():
        credit: float = db.session.scalar(select(Mark.credit).where(
            Mark.assignment_id == aid, Mark.user_id == user_id))
        return credit


def test_late_credit_follows_the_policy(app: Flask, course: dict[str, Any]) -> None:
    teacher, student, cid, aid = (course["teacher"], course["student"], course["id"],
                                  course["aid"])
    problem = draw(course, aid)
    # Due a day and a half ago, 10 % off per started day: two days late -> 1 - 0.2 = 0.8.
    due = utcnow() - timedelta(days=1, hours=12)
    set_columns(app, aid, due_at=due, late_policy=LatePolicy.penalty, late_penalty=0.1)
    assert submit(student, problem["id"], key_of(app, problem["id"])).status_code == 202
    grade_queued(app)
    assert credit_of(app, aid, student.user_id) == pytest.approx(0.8)
    mine = student.get(f"/api/v1/courses/{cid}/assignments/{aid}").json
    assert mine["score"] == pytest.approx(1.6)  # 0.8 of the slot's 2 points
    assert mine["slots"][0]["best_score"] == 1.0 and mine["late_policy"] == "penalty"

    def patch(body: dict[str, Any]) -> Any:
        return teacher.client.open(f"/api/v1/courses/{cid}/assignments/{aid}/manage",
                                   method="PATCH", json=body,
                                   headers={"Authorization": f"Bearer {teacher.token}"})

    assert patch({"late_policy": "no_credit"}).status_code == 200
    assert credit_of(app, aid, student.user_id) == 0.0
    assert student.get(f"/api/v1/courses/{cid}/assignments/{aid}").json["score"] == 0.0
    # The student's own later due date makes the same submission on time.
    put = teacher.client.open(
        f"/api/v1/courses/{cid}/assignments/{aid}/overrides/{student.user_id}", method="PUT",
        json={"due_at": (utcnow() + timedelta(days=1)).isoformat(), "reason": "excused"},
        headers={"Authorization": f"Bearer {teacher.token}"})
    assert put.status_code == 200
    assert credit_of(app, aid, student.user_id) == 1.0
    bad = patch({"late_penalty": 1.5, "attempts_allowed": 0})
    assert bad.status_code == 422
    assert set(bad.json["error"]["fields"]) == {"late_penalty", "attempts_allowed"}


def test_late_work_is_taken_for_no_credit(app: Flask, course: dict[str, Any]) -> None:
    student, aid = course["student"], course["aid"]
    problem = draw(course, aid)
    set_columns(app, aid, due_at=utcnow() - timedelta(hours=2),
                late_policy=LatePolicy.no_credit)
    assert submit(student, problem["id"], key_of(app, problem["id"])).status_code == 202
    grade_queued(app)
    assert credit_of(app, aid, student.user_id) == 0.0
    page = sign_in(student).get(f"/courses/{course['id']}/assignments/{aid}")
    assert "Late submissions are accepted and graded, but earn no credit." in text_of(page)


# --- exam feedback -----------------------------------------------------------------------


def test_an_exam_shows_the_score_only_until_the_due_date(
    app: Flask, course: dict[str, Any]
) -> None:
    teacher, student = course["teacher"], course["student"]
    aid = new_assignment(course, title="Exam", mode="exam",
                         due_at=(utcnow() + timedelta(hours=1)).isoformat())
    problem = draw(course, aid)
    key = key_of(app, problem["id"])["dC_dW"]
    wrong = [[str(-Fraction(str(v))) for v in row] for row in key]
    sid = submit(student, problem["id"], {"dC_dW": wrong}).json["id"]
    grade_queued(app)
    sign_flip = ex.MISTAKES["sign-flip"].name
    result_path, page_path = f"/api/v1/submissions/{sid}", f"/submissions/{sid}"
    before = student.get(result_path).json
    assert before["status"] == "graded" and before["score"] < 1 and "parts" not in before
    assert all("parts" not in r for r in
               student.get(f"/api/v1/problems/{problem['id']}/submissions").json)
    client = sign_in(student)
    for path in (page_path, f"/problems/{problem['id']}?submission={sid}"):
        shown = text_of(client.get(path))
        assert sign_flip not in shown and "only the score is shown" in shown, path
    assert "sign-flip" in str(teacher.get(result_path).json["parts"])
    set_columns(app, aid, due_at=utcnow() - timedelta(seconds=1))
    after = student.get(result_path).json
    assert "sign-flip" in after["parts"]["dC_dW"]["misconceptions"]
    assert sign_flip in text_of(client.get(page_path))
    # A student whose own due date is later still waits for it.
    with app.app_context():
        db.session.add(Override(assignment_id=aid, user_id=student.user_id,
                                due_at=utcnow() + timedelta(hours=1), reason="extension"))
        db.session.commit()
    assert "parts" not in student.get(result_path).json
    assert student.get(f"/api/v1/problems/{problem['id']}/solution").status_code == 403


# --- who may do what -----------------------------------------------------------------------


def test_students_tas_and_other_courses(
    app: Flask, course: dict[str, Any], make_caller: Callable[..., Caller]
) -> None:
    cid, aid, student = course["id"], course["aid"], course["student"]
    ta, stranger = make_caller("instructor"), make_caller("instructor")
    with app.app_context():
        db.session.add(Enrollment(course_id=cid, user_id=ta.user_id, role=CourseRole.ta))
        db.session.commit()
    other = stranger.post("/api/v1/courses", json={"code": "ZZ9", "title": "Other"}).json["id"]
    api = f"/api/v1/courses/{cid}/assignments/{aid}"
    actions = ["publish", "unpublish", "duplicate", "settings", "overrides"]

    pupil = sign_in(student)
    for path in (manage_path(course, aid), f"/courses/{cid}/assignments/new"):
        assert pupil.get(path).status_code == 404, path
    token = csrf_token(pupil, "/courses")
    for action in actions:
        assert pupil.post(f"/courses/{cid}/assignments/{aid}/{action}",
                          data={"csrf_token": token}).status_code == 404, action
    assert student.get(f"{api}/manage").status_code == 404
    assert student.post(f"{api}/publish").status_code == 404
    assert student.get(f"{api}/overrides").status_code == 404

    helper = sign_in(ta)
    seen = helper.get(manage_path(course, aid))
    assert seen.status_code == 200
    shown = text_of(seen)
    assert "Homework 1" in shown and "Statistics" in shown
    for hidden in ("Save settings", "Duplicate", "Grant override"):
        assert hidden not in shown, hidden
    assert helper.get(f"/courses/{cid}/assignments/new").status_code == 403
    token = csrf_token(helper, manage_path(course, aid))
    for action in actions:
        assert helper.post(f"/courses/{cid}/assignments/{aid}/{action}",
                           data={"csrf_token": token}).status_code == 403, action
    assert ta.get(f"{api}/manage").status_code == 200
    assert ta.post(f"{api}/publish").status_code == 403
    assert ta.post(f"{api}/duplicate").status_code == 403
    assert ta.client.open(f"{api}/overrides/{student.user_id}", method="PUT", json={
        "extra_attempts": 1}, headers={"Authorization": f"Bearer {ta.token}"}).status_code == 403

    outsider = sign_in(stranger)
    assert outsider.get(manage_path(course, aid)).status_code == 404
    assert outsider.get(f"/courses/{other}/assignments/{aid}/manage").status_code == 404
    assert stranger.get(f"{api}/manage").status_code == 404
    assert stranger.get(f"/api/v1/courses/{other}/assignments/{aid}/manage").status_code == 404
    assert stranger.post(f"/api/v1/courses/{other}/assignments/{aid}/publish").status_code == 404
    with app.app_context():
        assert db.session.get(Assignment, aid).published is True


def test_the_twins_are_in_the_openapi_document(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    base = "/api/v1/courses/{course_id}/assignments/{assignment_id}"
    assert {"get", "patch"} <= set(paths[f"{base}/manage"])
    for action in ("publish", "unpublish", "duplicate"):
        assert "post" in paths[f"{base}/{action}"], action
    assert "get" in paths[f"{base}/overrides"]
    assert {"put", "delete"} <= set(paths[f"{base}/overrides/{{user_id}}"])
