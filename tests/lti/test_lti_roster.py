"""The roster from the LMS (issue 15, item 5): NRPS over HTTP from the test platform,
paged two members a page, run on demand (the API's "sync now") and by the worker when
an instructor's launch asked for one (``LtiContext.sync_requested_at``).

Each test links a course of its own to a platform course of its own, with rows written
as a launch would.
"""

from __future__ import annotations

import itertools
import re
import uuid
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import pytest
from flask.testing import FlaskClient
from lmsim import INSTRUCTOR, LEARNER, TEACHING_ASSISTANT, Context, Lms, LmsUser
from ltikit import Tool, wait_for
from sqlalchemy import select

from service import auth
from service.models import (
    CourseRole,
    Enrollment,
    LtiContext,
    LtiIdentity,
    LtiPlatform,
    Problem,
    Role,
    Submission,
    User,
    utcnow,
)

PASSWORD = "correct horse battery"
MENTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"
numbers = itertools.count(1)


@dataclass
class Course:
    id: int
    assignment_id: int
    context_pk: int
    context: Context
    members: list[LmsUser]  # the platform's roster of the course (a test changes it)
    teacher_token: str
    client: FlaskClient

    def call(self, method: str, path: str, token: str | None = None, json: Any = None) -> Any:
        return self.client.open(
            path,
            method=method,
            json=json,
            headers={"Authorization": f"Bearer {token or self.teacher_token}"},
        )


@pytest.fixture
def course(tool: Tool, lms: Lms, registered: LtiPlatform) -> Course:
    """A course its teacher made by hand (no LTI identity), linked to a platform course
    of five: an instructor, a TA, two learners and a mentor (no role here)."""
    n = next(numbers)
    with tool.db() as session:
        teacher = auth.create_user(f"roster-teacher{n}@example.org", PASSWORD, Role.instructor)
        token = auth.issue_token(teacher)
        session.commit()
    client = tool.app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    cid = client.post(
        "/api/v1/courses", json={"code": f"RS{n}", "title": "Roster"}, headers=headers
    ).json["id"]
    assignment = client.post(
        f"/api/v1/courses/{cid}/assignments",
        headers=headers,
        json={"title": "Week 1", "slots": [{"exercise_type": "weight-gradient", "points": 1}]},
    ).json
    context = Context(id=f"roster-{n}", label=f"RS{n}", title=f"Roster {n}")
    members = [
        LmsUser(f"r{n}-prof", "Prof Ada", f"prof{n}@uni.example", [INSTRUCTOR]),
        LmsUser(f"r{n}-ta", "Tim Assistant", f"ta{n}@uni.example", [TEACHING_ASSISTANT]),
        LmsUser(f"r{n}-grace", "Grace Hopper", f"grace{n}@uni.example", [LEARNER]),
        LmsUser(f"r{n}-alan", "Alan Turing", None, [LEARNER]),
        LmsUser(f"r{n}-mentor", "Mo Mentor", f"mo{n}@uni.example", [MENTOR]),
    ]
    lms.add_context(context, members)
    with tool.db() as session:
        row = LtiContext(
            platform_id=registered.id,
            deployment_id=lms.deployment_id,
            context_id=context.id,
            course_id=cid,
            title=context.title,
            memberships_url=f"{lms.url}/contexts/{context.id}/memberships",
        )
        session.add(row)
        session.commit()
        context_pk = row.id
    return Course(cid, assignment["id"], context_pk, context, members, token, client)


def roster_of(tool: Tool, course: Course, issuer: str) -> dict[str, tuple[CourseRole, bool]]:
    """Each LMS member on our roster: their LTI sub → (role, left?)."""
    with tool.db() as session:
        rows = session.execute(
            select(LtiIdentity.sub, Enrollment.role, Enrollment.left_at)
            .join(Enrollment, Enrollment.user_id == LtiIdentity.user_id)
            .where(Enrollment.course_id == course.id, LtiIdentity.issuer == issuer)
        ).all()
        session.commit()
    return {sub: (role, left is not None) for sub, role, left in rows}


def sync_now(course: Course) -> dict[str, Any]:
    done = course.call("POST", f"/api/v1/courses/{course.id}/lti/roster-sync")
    assert done.status_code == 200, done.json
    return done.json  # type: ignore[no-any-return]


def test_a_sync_enrolls_the_members_with_their_roles(tool: Tool, lms: Lms, course: Course) -> None:
    done = sync_now(course)
    n = course.context.id.split("-")[1]
    assert done["synced"] == [
        {"context": course.context_pk, "listed": 5, "enrolled": 4, "left": 0, "skipped": 1}
    ]  # three pages of two, one mentor
    assert roster_of(tool, course, lms.issuer) == {
        f"r{n}-prof": (CourseRole.instructor, False),
        f"r{n}-ta": (CourseRole.ta, False),
        f"r{n}-grace": (CourseRole.student, False),
        f"r{n}-alan": (CourseRole.student, False),
    }
    with tool.db() as session:
        grace = session.scalar(
            select(User).join(LtiIdentity).where(LtiIdentity.sub == f"r{n}-grace")
        )
        assert grace is not None
        assert (grace.name, grace.email, grace.role) == (
            "Grace Hopper",
            f"grace{n}@uni.example",
            Role.student,
        )
        context = session.get(LtiContext, course.context_pk)
        assert context is not None and context.synced_at is not None
        session.commit()
    pages = [p for m, p in lms.requests if p == f"/contexts/{course.context.id}/memberships"]
    assert len(pages) == 3


def test_a_member_who_left_is_marked_keeps_their_work_and_may_come_back(
    tool: Tool, lms: Lms, course: Course
) -> None:
    sync_now(course)
    n = course.context.id.split("-")[1]
    # Grace submits through the API as herself.
    with tool.db() as session:
        grace = session.scalar(
            select(User).join(LtiIdentity).where(LtiIdentity.sub == f"r{n}-grace")
        )
        assert grace is not None
        token = auth.issue_token(grace)
        session.commit()
        grace_id = grace.id
    problem = course.call(
        "POST",
        f"/api/v1/courses/{course.id}/assignments/{course.assignment_id}/slots/1/problem",
        token,
    ).json
    with tool.db() as session:
        key = session.get(Problem, uuid.UUID(problem["id"])).variant["key"]["dC_dW"]  # type: ignore[union-attr]
        session.commit()
    wrong = [[str(-Fraction(str(v))) for v in row] for row in key]
    posted = course.call(
        "POST",
        f"/api/v1/problems/{problem['id']}/submissions",
        token,
        {"answers": {"dC_dW": wrong}},
    )
    assert posted.status_code == 202

    # Grace leaves the LMS course; Alan is made inactive there.
    course.members[:] = [m for m in course.members if m.sub != f"r{n}-grace"]
    next(m for m in course.members if m.sub == f"r{n}-alan").status = "Inactive"
    done = sync_now(course)
    assert done["synced"][0]["left"] == 2
    roster = roster_of(tool, course, lms.issuer)
    assert roster[f"r{n}-grace"] == (CourseRole.student, True)
    assert roster[f"r{n}-alan"] == (CourseRole.student, True)
    assert roster[f"r{n}-prof"] == (CourseRole.instructor, False)
    with tool.db() as session:
        # Her submission stays; the teacher who made the course by hand is not touched.
        assert (
            session.scalar(select(Submission.id).where(Submission.user_id == grace_id)) is not None
        )
        own = session.scalar(
            select(Enrollment)
            .join(User)
            .where(Enrollment.course_id == course.id, User.email.like("roster-teacher%"))
        )
        assert own is not None and own.left_at is None
        session.commit()

    # Back in the LMS course: back on the roster.
    course.members.append(LmsUser(f"r{n}-grace", "Grace Hopper", None, [LEARNER]))
    sync_now(course)
    assert roster_of(tool, course, lms.issuer)[f"r{n}-grace"] == (CourseRole.student, False)


def test_an_instructor_launch_asks_and_the_worker_syncs(
    tool: Tool, lms: Lms, course: Course
) -> None:
    with tool.db() as session:
        context = session.get(LtiContext, course.context_pk)
        assert context is not None
        context.sync_requested_at = utcnow()  # as an instructor's launch does
        session.commit()

    def synced() -> bool:
        with tool.db() as session:
            row = session.get(LtiContext, course.context_pk)
            assert row is not None
            session.refresh(row)
            done = row.synced_at is not None and row.sync_requested_at is None
            session.commit()
        return done

    wait_for(synced, "the sweeper's task syncs the roster")
    assert len(roster_of(tool, course, lms.issuer)) == 4


def test_a_sync_while_the_platform_is_down_changes_nothing_and_says_why(
    tool: Tool, lms: Lms, course: Course
) -> None:
    lms.down = True
    try:
        failed = course.call("POST", f"/api/v1/courses/{course.id}/lti/roster-sync")
    finally:
        lms.down = False
    assert failed.status_code == 502
    assert failed.json["error"]["code"] == "lms_failed"
    assert "HTTP 503" in failed.json["error"]["message"]
    assert roster_of(tool, course, lms.issuer) == {}


def test_who_may_see_and_sync(tool: Tool, lms: Lms, course: Course) -> None:
    sync_now(course)
    n = course.context.id.split("-")[1]
    tokens = {}
    with tool.db() as session:
        for who in ("ta", "grace"):
            user = session.scalar(
                select(User).join(LtiIdentity).where(LtiIdentity.sub == f"r{n}-{who}")
            )
            assert user is not None
            tokens[who] = auth.issue_token(user)
        outsider = auth.create_user(f"outsider{n}@example.org", PASSWORD, Role.instructor)
        tokens["outsider"] = auth.issue_token(outsider)
        session.commit()
    lti = f"/api/v1/courses/{course.id}/lti"
    sync = f"{lti}/roster-sync"
    assert course.call("GET", lti, tokens["ta"]).status_code == 200
    assert course.call("POST", sync, tokens["ta"]).status_code == 403
    for who in ("grace", "outsider"):
        assert course.call("GET", lti, tokens[who]).status_code == 404
        assert course.call("POST", sync, tokens[who]).status_code == 404
    shown = course.call("GET", lti).json
    assert [(link["title"], link["can_sync"]) for link in shown["links"]] == [
        (course.context.title, True)
    ]


def test_the_roster_page_shows_who_left(tool: Tool, lms: Lms, course: Course) -> None:
    sync_now(course)
    n = course.context.id.split("-")[1]
    course.members[:] = [m for m in course.members if m.sub != f"r{n}-alan"]
    sync_now(course)
    client = tool.app.test_client()
    login = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login)
    assert csrf is not None
    signed = client.post(
        "/login",
        data={
            "email": f"roster-teacher{n}@example.org",
            "password": PASSWORD,
            "csrf_token": csrf.group(1),
        },
    )
    assert signed.status_code == 302
    page = client.get(f"/courses/{course.id}/roster").get_data(as_text=True)
    [left] = [row for row in page.split("<tr>") if "left the LMS course" in row]
    assert "Alan Turing" in left  # marked, still listed
    assert sum("Grace Hopper" in row for row in page.split("<tr>")) == 1
