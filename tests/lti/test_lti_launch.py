"""Launches from the test platform over HTTP, as a browser makes them: who the user becomes,
which course and role, where they land, the framed page and its one-time sign-in."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from lmsim import INSTRUCTOR, LEARNER, TEACHING_ASSISTANT, Context, Lms
from lmsim.core import LTI, Forgery
from ltikit import (
    Tool,
    browser,
    context_row,
    course_context,
    course_with_assignment,
    person,
    user_of,
)
from sqlalchemy import func, select, update

from service.models import (
    Course,
    CourseRole,
    Enrollment,
    LtiContext,
    LtiIdentity,
    LtiLink,
    LtiLogin,
    LtiPlatform,
    LtiTicket,
    Role,
    utcnow,
)

pytestmark = pytest.mark.usefixtures("registered")

INSTITUTION_INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Instructor"


def role_in(tool: Tool, user_id: int, course_id: int) -> CourseRole:
    with tool.db() as session:
        return session.scalars(
            select(Enrollment.role).where(
                Enrollment.user_id == user_id, Enrollment.course_id == course_id
            )
        ).one()


def test_a_student_lands_on_the_assignment_signed_in_with_no_login_form(
    tool: Tool, lms: Lms
) -> None:
    context = course_context()
    course_id, assignment_id, title = course_with_assignment(tool, lms, context)
    student = person(LEARNER, name="Grace Hopper")
    http = browser()

    page = lms.launch(
        http,
        student,
        context=context,
        resource_link_id="link-student",
        custom={"assignment_id": str(assignment_id)},
    )

    assert page.status_code == 200
    assert page.url == f"{tool.url}/courses/{course_id}/assignments/{assignment_id}"
    assert title in unescape(page.text)
    assert 'type="password"' not in page.text
    assert "session" in http.cookies  # signed in, in this browser
    user = user_of(tool, lms, student)
    assert user is not None
    assert (user.name, user.email, user.role) == ("Grace Hopper", student.email, Role.student)
    assert role_in(tool, user.id, course_id) == CourseRole.student
    with tool.db() as session:
        link = session.scalars(
            select(LtiLink).where(LtiLink.resource_link_id == "link-student")
        ).one()
        assert link.assignment_id == assignment_id
    row = context_row(tool, lms, context)
    assert row.memberships_url == f"{lms.url}/contexts/{context.id}/memberships"
    assert row.lineitems_url == f"{lms.url}/contexts/{context.id}/lineitems"
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in (row.ags_scopes or [])


def test_a_link_s_line_item_is_kept(tool: Tool, lms: Lms) -> None:
    context = course_context()
    lineitem = f"{lms.url}/contexts/{context.id}/lineitems/7"
    lms.place("link-graded", context=context, lineitem=lineitem)
    assert (
        lms.launch(
            browser(), person(LEARNER), context=context, resource_link_id="link-graded"
        ).status_code
        == 200
    )
    with tool.db() as session:
        link = session.scalars(
            select(LtiLink).where(LtiLink.context_id == context_row(tool, lms, context).id)
        ).one()
        assert link.lineitem_url == lineitem


def test_an_instructor_lands_on_the_dashboard_and_asks_for_a_roster_sync(
    tool: Tool, lms: Lms
) -> None:
    context = course_context()
    course_id, assignment_id, _ = course_with_assignment(tool, lms, context)
    teacher = person(INSTRUCTOR)

    page = lms.launch(
        browser(),
        teacher,
        context=context,
        resource_link_id="link-t",
        custom={"assignment_id": str(assignment_id)},
    )
    bare = lms.launch(browser(), teacher, context=context, resource_link_id="link-unset")

    assert page.url == f"{tool.url}/courses/{course_id}/assignments/{assignment_id}/manage"
    assert bare.url == f"{tool.url}/courses/{course_id}"
    assert page.status_code == bare.status_code == 200
    assert context_row(tool, lms, context).sync_requested_at is not None


def test_a_second_launch_finds_the_same_user(tool: Tool, lms: Lms) -> None:
    student = person(LEARNER, name="Ada Lovelace")
    lms.launch(browser(), student)
    first = user_of(tool, lms, student)
    student.name = "Ada King"
    lms.launch(browser(), student)
    again = user_of(tool, lms, student)

    assert first is not None and again is not None
    assert again.id == first.id
    assert again.name == "Ada King"
    with tool.db() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(LtiIdentity).where(LtiIdentity.sub == student.sub)
            )
            == 1
        )


@pytest.mark.parametrize(
    ("roles", "course_role", "account"),
    [
        ([LEARNER], CourseRole.student, Role.student),
        ([INSTRUCTOR], CourseRole.instructor, Role.instructor),
        ([INSTRUCTOR, TEACHING_ASSISTANT], CourseRole.ta, Role.instructor),
        ([TEACHING_ASSISTANT], CourseRole.ta, Role.instructor),
        # An instructor elsewhere in the institution is a learner in this course.
        ([LEARNER, INSTITUTION_INSTRUCTOR], CourseRole.student, Role.student),
    ],
    ids=["learner", "instructor", "ta-sub-role", "ta-alone", "institution-role"],
)
def test_lti_roles_map_to_course_roles(
    tool: Tool, lms: Lms, roles: list[str], course_role: CourseRole, account: Role
) -> None:
    context = course_context()
    who = person(*roles)
    assert lms.launch(browser(), who, context=context).status_code == 200
    user = user_of(tool, lms, who)
    assert user is not None
    assert user.role == account
    assert role_in(tool, user.id, context_row(tool, lms, context).course_id) == course_role


def test_a_framed_launch_offers_a_new_window_whose_link_signs_in(tool: Tool, lms: Lms) -> None:
    context = course_context()
    course_id, assignment_id, title = course_with_assignment(tool, lms, context)
    student = person(LEARNER)
    frame = browser()

    page = lms.launch(
        frame,
        student,
        context=context,
        resource_link_id="link-framed",
        custom={"assignment_id": str(assignment_id)},
        framed=True,
    )

    assert page.status_code == 200
    assert "Open in a new window" in page.text
    assert 'type="password"' not in page.text
    csp = page.headers["Content-Security-Policy"]
    ancestors = re.search(r"frame-ancestors ([^;]*)", csp)
    assert ancestors is not None and lms.url in ancestors.group(1).split()
    assert "Set-Cookie" not in page.headers  # a frame gets no session it could not keep
    link = re.search(r'<a[^>]*href="([^"]+)"[^>]*target="_blank"', page.text)
    assert link is not None
    enter_url = unescape(link.group(1))
    assert enter_url.startswith(f"{tool.url}/lti/enter/")

    window = browser()
    landed = window.get(enter_url, timeout=30)
    assert landed.url == f"{tool.url}/courses/{course_id}/assignments/{assignment_id}"
    assert title in unescape(landed.text)
    assert "session" in window.cookies


def test_a_hosted_lms_may_frame_the_launch_from_the_school_s_domain(tool: Tool, lms: Lms) -> None:
    """Hosted Canvas signs as canvas.instructure.com but frames from the school's domain:
    the origin a launch names for its return and services may frame that launch's page."""
    school = "https://school.example.edu"

    def hosted(forgery: Forgery) -> None:
        forgery.claims[LTI + "launch_presentation"] = {
            "document_target": "iframe",
            "return_url": f"{school}/courses/7/modules",
        }

    page = lms.launch(browser(), person(LEARNER), framed=True, tamper=hosted)

    assert page.status_code == 200
    ancestors = re.search(r"frame-ancestors ([^;]*)", page.headers["Content-Security-Policy"])
    assert ancestors is not None
    assert {"'self'", lms.url, school} <= set(ancestors.group(1).split())
    plain = lms.launch(browser(), person(LEARNER), framed=True)
    assert school not in plain.headers["Content-Security-Policy"]  # named by that launch only


def test_the_ticket_signs_in_once_only(tool: Tool, lms: Lms) -> None:
    launched = lms.launch(browser(), person(LEARNER), follow=False)
    assert launched.status_code == 303
    enter_url = f"{tool.url}{launched.headers['Location']}"
    assert "/lti/enter/" in enter_url

    first = browser()
    assert first.get(enter_url, allow_redirects=False, timeout=30).status_code == 303
    assert "session" in first.cookies
    thief = browser()
    again = thief.get(enter_url, allow_redirects=False, timeout=30)

    assert again.status_code == 400
    assert "already used or has expired" in unescape(again.text)
    assert "session" not in thief.cookies


def test_an_expired_ticket_does_not_sign_in(tool: Tool, lms: Lms) -> None:
    launched = lms.launch(browser(), person(LEARNER), follow=False)
    token = launched.headers["Location"].rsplit("/", 1)[1]
    with tool.db() as session:
        session.execute(
            update(LtiTicket)
            .where(LtiTicket.kind == "enter", LtiTicket.used_at.is_(None))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        session.commit()
    late = browser()
    answer = late.get(f"{tool.url}/lti/enter/{token}", allow_redirects=False, timeout=30)
    assert answer.status_code == 400
    assert "session" not in late.cookies


def test_a_context_makes_one_course(tool: Tool, lms: Lms) -> None:
    context = course_context()
    for who in (person(INSTRUCTOR), person(LEARNER), person(LEARNER)):
        assert lms.launch(browser(), who, context=context).status_code == 200
    twin = Context(id=f"{context.id}-twin", label=context.label, title="Another offering")
    assert lms.launch(browser(), person(LEARNER), context=twin).status_code == 200

    with tool.db() as session:
        rows = session.scalars(
            select(LtiContext)
            .where(LtiContext.context_id.in_([context.id, twin.id]))
            .order_by(LtiContext.id)
        ).all()
        courses = [session.get(Course, row.course_id) for row in rows]
        members = session.scalar(
            select(func.count())
            .select_from(Enrollment)
            .where(Enrollment.course_id == rows[0].course_id)
        )
    assert [row.context_id for row in rows] == [context.id, twin.id]
    assert [(c.code, c.title) for c in courses if c is not None] == [
        (context.label, context.title),
        (f"{context.label}-2", "Another offering"),
    ]
    assert members == 3


def test_the_login_works_by_get_and_keeps_one_state_per_launch(tool: Tool, lms: Lms) -> None:
    with tool.db() as session:
        before = session.scalar(select(func.count()).select_from(LtiLogin))
    page = lms.launch(browser(), person(LEARNER), login_method="GET")
    assert page.status_code == 200
    with tool.db() as session:
        login = session.scalars(select(LtiLogin).order_by(LtiLogin.created_at.desc())).first()
        after = session.scalar(select(func.count()).select_from(LtiLogin))
    assert login is not None and login.used_at is not None
    assert login.target_link_uri == f"{tool.url}/lti/launch"
    assert after == (before or 0) + 1


def test_an_instructor_s_deep_linking_request_gets_a_picker_ticket(tool: Tool, lms: Lms) -> None:
    context = course_context()
    answer = lms.launch(
        browser(),
        person(INSTRUCTOR),
        context=context,
        message_type="LtiDeepLinkingRequest",
        deep_linking_data="opaque-42",
        follow=False,
    )

    assert answer.status_code == 303
    assert answer.headers["Location"].startswith("/lti/deep-link/")
    row = context_row(tool, lms, context)
    with tool.db() as session:
        ticket = session.scalars(
            select(LtiTicket).where(LtiTicket.kind == "deep_link").order_by(LtiTicket.id.desc())
        ).first()
    assert ticket is not None and ticket.claims is not None
    assert ticket.course_id == row.course_id
    assert ticket.claims["context_pk"] == row.id
    assert ticket.claims["deployment_id"] == lms.deployment_id
    settings = ticket.claims["deep_linking_settings"]
    assert settings["deep_link_return_url"] == f"{lms.url}/deep_links/return"
    assert settings["data"] == "opaque-42"
    assert ticket.expires_at - ticket.created_at == timedelta(minutes=30)


def test_a_platform_s_new_key_is_fetched_and_trusted(tool: Tool, lms: Lms) -> None:
    with tool.db() as session:
        session.execute(
            update(LtiPlatform)
            .where(LtiPlatform.issuer == lms.issuer)
            .values(jwks_fetched_at=utcnow() - timedelta(minutes=2))
        )
        session.commit()
    fetched = lms.requests.count(("GET", "/jwks"))
    lms.rotate_key()

    assert lms.launch(browser(), person(LEARNER)).status_code == 200
    assert lms.launch(browser(), person(LEARNER)).status_code == 200
    assert lms.requests.count(("GET", "/jwks")) == fetched + 1
