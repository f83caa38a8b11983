"""The course's LMS page (issue 15, items 4 and 5): the linked LMS course, "Sync roster
now", and the grade pushes failed first with "Resend"; its tab only on a linked course;
who may see and change it. Rows are written as launches, grading and the push task
would have; the sending itself is tested against a real platform in tests/lti.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from servicekit import Caller, csrf_token, make_course, sign_in
from sqlalchemy import select

from service.db import db
from service.models import (
    LtiContext,
    LtiLink,
    LtiPlatform,
    PushStatus,
    ScorePush,
    utcnow,
)

ASSIGNMENT = {"title": "Week <1>", "slots": [{"exercise_type": "weight-gradient", "points": 5}]}
TABS = ["Overview", "Roster", "Gradebook", "Misconceptions", "Your network"]


@dataclass
class Linked:
    cid: int
    other_cid: int
    teacher: Caller
    ta: Caller
    student: Caller
    failed: int
    pending: int
    sent: int
    elsewhere: int  # a push of the other course


def _push(link_id: int, user_id: int, status: PushStatus, **values: Any) -> ScorePush:
    return ScorePush(link_id=link_id, user_id=user_id, status=status, **values)


@pytest.fixture
def linked(app: Flask, make_caller: Callable[..., Caller]) -> Linked:
    teacher, ta, student = make_caller("instructor"), make_caller("student"), make_caller()
    cid, assignment = make_course(teacher, [student], ASSIGNMENT)
    teacher.post(f"/api/v1/courses/{cid}/roster", json={"email": ta.email, "role": "ta"})
    other_cid, other = make_course(teacher, [student], ASSIGNMENT, code="NN2")
    now = utcnow()
    with app.app_context():
        # No platform listens on port 9 (discard): a sync gets no answer, at once.
        platform = LtiPlatform(
            issuer="http://127.0.0.1:9",
            client_id="c",
            name="Moodle <U>",
            auth_login_url="http://127.0.0.1:9/auth",
            auth_token_url="http://127.0.0.1:9/token",
            jwks_url="http://127.0.0.1:9/jwks",
        )
        db.session.add(platform)
        db.session.flush()
        links = []
        for course_id, assignment_id, context_id in (
            (cid, assignment["id"], "c1"),
            (other_cid, other["id"], "c2"),
        ):
            context = LtiContext(
                platform_id=platform.id,
                deployment_id="d",
                context_id=context_id,
                course_id=course_id,
                title=f"Deep Learning {context_id}",
                memberships_url=f"http://127.0.0.1:9/{context_id}/members",
            )
            db.session.add(context)
            db.session.flush()
            link = LtiLink(
                context_id=context.id, resource_link_id="rl", assignment_id=assignment_id
            )
            db.session.add(link)
            db.session.flush()
            links.append(link.id)
        rows = [
            _push(
                links[0],
                student.user_id,
                PushStatus.sent,
                score_given=3.0,
                score_maximum=5.0,
                attempts=1,
                sent_at=now - timedelta(hours=1),
            ),
            _push(
                links[0],
                student.user_id,
                PushStatus.pending,
                attempts=1,
                last_error="score: timed out (ReadTimeout)",
                next_try_at=now + timedelta(minutes=2),
            ),
            _push(
                links[0],
                ta.user_id,
                PushStatus.failed,
                attempts=8,
                last_error="HTTP 503: score: <b>Service Unavailable</b>",
            ),
            _push(links[1], student.user_id, PushStatus.failed, attempts=8, last_error="x"),
        ]
        db.session.add_all(rows)
        db.session.commit()
        sent, pending, failed, elsewhere = (r.id for r in rows)
    return Linked(cid, other_cid, teacher, ta, student, failed, pending, sent, elsewhere)


def text_of(response: Any) -> str:
    return response.get_data(as_text=True)  # type: ignore[no-any-return]


def tabs(page: str) -> list[str]:
    nav = page.split('<nav class="tabs"', 1)[1].split("</nav>", 1)[0]
    return re.findall(r">([^<]+)</a>", nav)


def test_the_page_shows_the_link_and_the_pushes_failed_first(linked: Linked) -> None:
    page = text_of(sign_in(linked.teacher).get(f"/courses/{linked.cid}/lms"))
    assert "Moodle &lt;U&gt;" in page and "Deep Learning c1" in page
    assert "Sync roster now" in page
    body = page.split('class="data lms-pushes"', 1)[1]
    statuses = re.findall(r'<span class="badge [^"]+">(failed|waiting|sent)</span>', body)
    assert statuses == ["failed", "waiting", "sent"]
    assert "HTTP 503: score: &lt;b&gt;Service Unavailable&lt;/b&gt;" in body  # escaped
    assert "3 / 5" in body and "Week &lt;1&gt;" in body
    assert body.count(">Resend</button>") == 2  # failed and waiting, not sent
    assert "Deep Learning c2" not in page  # the other course's link and push stay there
    assert tabs(page) == [*TABS, "LMS"]


def test_resend_makes_a_failed_push_due_now_with_fresh_attempts(app: Flask, linked: Linked) -> None:
    browser = sign_in(linked.teacher)
    path = f"/courses/{linked.cid}/lms/pushes/{linked.failed}/resend"
    assert browser.post(path).status_code == 400  # no CSRF token
    token = csrf_token(browser, f"/courses/{linked.cid}/lms")
    done = browser.post(path, data={"csrf_token": token})
    assert done.status_code == 302
    assert done.headers["Location"].endswith(f"/courses/{linked.cid}/lms")
    with app.app_context():
        push = db.session.get(ScorePush, linked.failed)
        assert push is not None
        assert (push.status, push.attempts) == (PushStatus.pending, 0)
        assert push.next_try_at <= utcnow()
        sent = db.session.get(ScorePush, linked.sent)
        assert sent is not None
    # A sent push stays sent; another course's push is not found through this course.
    browser.post(
        f"/courses/{linked.cid}/lms/pushes/{linked.sent}/resend", data={"csrf_token": token}
    )
    with app.app_context():
        assert (
            db.session.scalar(select(ScorePush.status).where(ScorePush.id == linked.sent))
            == PushStatus.sent
        )
    elsewhere = browser.post(
        f"/courses/{linked.cid}/lms/pushes/{linked.elsewhere}/resend", data={"csrf_token": token}
    )
    assert elsewhere.status_code == 404


def test_sync_now_says_why_it_failed(linked: Linked) -> None:
    browser = sign_in(linked.teacher)
    token = csrf_token(browser, f"/courses/{linked.cid}/lms")
    done = browser.post(
        f"/courses/{linked.cid}/lms/sync", data={"csrf_token": token}, follow_redirects=True
    )
    assert done.status_code == 200
    assert "The roster sync failed: token request: no answer" in text_of(done)


def test_a_ta_sees_without_forms_and_may_not_change(linked: Linked) -> None:
    browser = sign_in(linked.ta)
    page = text_of(browser.get(f"/courses/{linked.cid}/lms"))
    assert "HTTP 503" in page
    assert "Sync roster now" not in page and ">Resend</button>" not in page
    token = csrf_token(browser, f"/courses/{linked.cid}/lms")
    for path in (
        f"/courses/{linked.cid}/lms/sync",
        f"/courses/{linked.cid}/lms/pushes/{linked.failed}/resend",
    ):
        assert browser.post(path, data={"csrf_token": token}).status_code == 403


def test_students_and_outsiders_get_404(linked: Linked, make_caller: Callable[..., Caller]) -> None:
    for caller in (linked.student, make_caller("instructor")):
        browser = sign_in(caller)
        assert browser.get(f"/courses/{linked.cid}/lms").status_code == 404
        api = caller.get(f"/api/v1/courses/{linked.cid}/lti")
        assert api.status_code == 404
        resend = caller.post(f"/api/v1/courses/{linked.cid}/lti/pushes/{linked.failed}/resend")
        assert resend.status_code == 404


def test_the_api_twin_lists_and_resends(linked: Linked) -> None:
    shown = linked.teacher.get(f"/api/v1/courses/{linked.cid}/lti").json
    assert [(p["status"], p["attempts"]) for p in shown["pushes"]] == [
        ("failed", 8),
        ("pending", 1),
        ("sent", 1),
    ]
    assert shown["links"][0]["platform"] == "Moodle <U>"
    path = f"/api/v1/courses/{linked.cid}/lti/pushes/{linked.pending}/resend"
    assert linked.ta.post(path).status_code == 403
    again = linked.teacher.post(path)
    assert again.status_code == 200 and (again.json["status"], again.json["attempts"]) == (
        "pending",
        0,
    )
    sent = linked.teacher.post(f"/api/v1/courses/{linked.cid}/lti/pushes/{linked.sent}/resend")
    assert sent.status_code == 409
    failed = linked.teacher.post(f"/api/v1/courses/{linked.cid}/lti/roster-sync")
    assert failed.status_code == 502 and failed.json["error"]["code"] == "lms_failed"


def test_the_lms_tab_shows_on_linked_courses_only(
    linked: Linked, make_caller: Callable[..., Caller]
) -> None:
    browser = sign_in(linked.teacher)
    assert tabs(text_of(browser.get(f"/courses/{linked.cid}"))) == [*TABS, "LMS"]
    plain, _ = make_course(linked.teacher, [], ASSIGNMENT, code="NN3")
    assert tabs(text_of(browser.get(f"/courses/{plain}"))) == TABS
    page = text_of(browser.get(f"/courses/{plain}/lms"))
    assert "not linked to an LMS course" in page
