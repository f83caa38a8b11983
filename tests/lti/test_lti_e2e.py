"""The whole story over HTTP, as a course lives it: an LMS registers the tool by Dynamic
Registration; its instructor builds an assignment by deep linking, which the LMS places
in the course with a gradebook column; the instructor's launch brings the LMS roster in;
a student launches the placed link, lands on the assignment signed in, and submits; the
real worker grades it and the score reaches the LMS's AGS endpoint, once, even when the
LMS was down at the first try; after both sides rotate their keys, launches, deep links
and pushes still work.

The platform is ``lmsim`` (built from the specifications), fresh for this module and
registered only by Dynamic Registration; nothing is written to the tool's database by
hand except the clock's passing (a push's back-off, a key set's refresh limit).
"""

from __future__ import annotations

import html
import re
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from lmsim import INSTRUCTOR, LEARNER, Context, Lms, LmsUser
from lmsim.core import DEEP_LINKING_REQUEST
from ltikit import Tool, browser, wait_for
from sqlalchemy import select, update

from service.lms import keys, registry
from service.models import (
    Assignment,
    Enrollment,
    LtiContext,
    LtiIdentity,
    LtiPlatform,
    Problem,
    PushStatus,
    ScorePush,
    utcnow,
)

POINTS = 4  # the built assignment's one slot
RETURN_FORM = re.compile(
    r'<form id="lti-return" method="post" action="([^"]+)">\s*'
    r'<input type="hidden" name="JWT" value="([^"]+)">'
)


@pytest.fixture(scope="module")
def lms(tool: Tool) -> Iterator[Lms]:
    """A platform the tool has never heard of, registered by Dynamic Registration."""
    platform = Lms().start()
    with tool.db() as session:
        code = registry.new_registration_code(session)
        session.commit()
    page = requests.get(
        platform.start_registration(f"{tool.url}/lti/register?code={code}"), timeout=30
    )
    assert page.status_code == 200, page.text
    assert "Registration complete" in page.text
    yield platform
    platform.stop()


def person(*roles: str, name: str) -> LmsUser:
    tag = uuid.uuid4().hex[:10]
    return LmsUser(sub=f"u-{tag}", name=name, email=f"{tag}@uni.example.edu", roles=list(roles))


def build_by_deep_linking(lms: Lms, teacher: LmsUser, context: Context, title: str) -> str:
    """The instructor's deep-linking launch builds a one-slot assignment from the
    catalogue; the LMS accepts the signed item and places it. The placed link's id."""
    picker = lms.launch(browser(), teacher, message_type=DEEP_LINKING_REQUEST, context=context)
    assert picker.status_code == 200 and "/lti/deep-link/" in picker.url, picker.text
    answer = requests.post(
        picker.url,
        data={
            "action": "build",
            "title": title,
            "exercise_type": "weight-gradient",
            "difficulty": "1",
            "points": str(POINTS),
        },
        timeout=30,
    )
    match = RETURN_FORM.search(answer.text)
    assert match, answer.text
    placed = len(lms.placed)
    accepted = requests.post(
        html.unescape(match.group(1)), data={"JWT": html.unescape(match.group(2))}, timeout=30
    )
    assert (accepted.status_code, accepted.text) == (200, "accepted")
    [(context_id, link_id)] = lms.placed[placed:]
    assert context_id == context.id
    return link_id


def submit_key(tool: Tool, http: requests.Session, course_id: int, assignment_id: int) -> None:
    """The signed-in student opens slot 1 and submits its key through the API, with the
    session and the page's CSRF token, as the page's script does."""
    page = http.get(
        f"{tool.url}/courses/{course_id}/assignments/{assignment_id}/problems/1", timeout=30
    )
    assert page.status_code == 200, page.text
    problem_id = re.search(r"/api/v1/problems/([0-9a-f-]{36})/submissions", page.text)
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert problem_id and csrf
    with tool.db() as session:
        problem = session.get(Problem, uuid.UUID(problem_id.group(1)))
        assert problem is not None
        key = problem.variant["key"]
    sent = http.post(
        f"{tool.url}/api/v1/problems/{problem_id.group(1)}/submissions",
        json={"answers": key},
        headers={"X-CSRFToken": csrf.group(1), "Referer": page.url},
        timeout=30,
    )
    assert sent.status_code == 202, sent.text


def course_of(tool: Tool, lms: Lms, context: Context) -> int:
    with tool.db() as session:
        return session.scalars(
            select(LtiContext.course_id)
            .join(LtiPlatform, LtiPlatform.id == LtiContext.platform_id)
            .where(LtiPlatform.issuer == lms.issuer, LtiContext.context_id == context.id)
        ).one()


def enrolled(tool: Tool, lms: Lms, course_id: int, who: LmsUser) -> bool:
    with tool.db() as session:
        return (
            session.scalar(
                select(Enrollment.id)
                .join(LtiIdentity, LtiIdentity.user_id == Enrollment.user_id)
                .where(
                    Enrollment.course_id == course_id,
                    LtiIdentity.issuer == lms.issuer,
                    LtiIdentity.sub == who.sub,
                )
            )
            is not None
        )


def backoff_over(tool: Tool) -> None:
    """Minutes pass: every waiting push is due now."""
    with tool.db() as session:
        session.execute(
            update(ScorePush)
            .where(ScorePush.status == PushStatus.pending)
            .values(next_try_at=utcnow())
        )
        session.commit()


def pushes(tool: Tool, lms: Lms, who: LmsUser) -> list[ScorePush]:
    with tool.db() as session:
        return list(
            session.scalars(
                select(ScorePush)
                .join(LtiIdentity, LtiIdentity.user_id == ScorePush.user_id)
                .where(LtiIdentity.issuer == lms.issuer, LtiIdentity.sub == who.sub)
            )
        )


@pytest.fixture(scope="module")
def course(tool: Tool, lms: Lms) -> dict[str, Any]:
    """The LMS course with an instructor and two learners; one learner never launches."""
    context = Context(id=f"c-{uuid.uuid4().hex[:8]}", label="ML-201", title="Machine learning")
    teacher = person(INSTRUCTOR, name="Geoffrey Hinton")
    ada = person(LEARNER, name="Ada Lovelace")
    bob = person(LEARNER, name="Bob Widrow")
    lms.add_context(context, [teacher, ada, bob])
    title = f"Backprop week 3 {uuid.uuid4().hex[:4]}"
    link_id = build_by_deep_linking(lms, teacher, context, title)
    course_id = course_of(tool, lms, context)
    with tool.db() as session:
        assignment_id = session.scalars(
            select(Assignment.id).where(
                Assignment.course_id == course_id, Assignment.title == title
            )
        ).one()
    return {
        "context": context,
        "teacher": teacher,
        "ada": ada,
        "bob": bob,
        "title": title,
        "link_id": link_id,
        "course_id": course_id,
        "assignment_id": assignment_id,
    }


def test_the_instructor_s_launch_brings_in_the_lms_roster(
    tool: Tool, lms: Lms, course: dict[str, Any]
) -> None:
    # Bob never launched: only the roster (NRPS), synced by the worker after the
    # instructor's deep-linking launch asked for it, can have enrolled him.
    wait_for(lambda: enrolled(tool, lms, course["course_id"], course["bob"]), "Bob enrolled")
    assert enrolled(tool, lms, course["course_id"], course["teacher"])


def test_a_student_launches_submits_and_the_lms_gets_the_grade(
    tool: Tool, lms: Lms, course: dict[str, Any]
) -> None:
    ada, http = course["ada"], browser()
    landed = lms.launch(http, ada, resource_link_id=course["link_id"], context=course["context"])

    assert landed.status_code == 200
    assert landed.url == (
        f"{tool.url}/courses/{course['course_id']}/assignments/{course['assignment_id']}"
    )
    assert course["title"] in html.unescape(landed.text)
    assert 'type="password"' not in landed.text
    [column] = [i for i in lms.lineitems.values() if i["resourceLinkId"] == course["link_id"]]
    assert column["scoreMaximum"] == POINTS

    submit_key(tool, http, course["course_id"], course["assignment_id"])

    [score] = wait_for(lambda: lms.scores_for(ada.sub), "Ada's score at the LMS")
    assert score["lineitem"] == column["id"]
    assert (score["scoreGiven"], score["scoreMaximum"]) == (POINTS, POINTS)  # the key: all
    assert (score["activityProgress"], score["gradingProgress"]) == ("Completed", "FullyGraded")
    assert score["userId"] == ada.sub and score["timestamp"]


def test_a_push_while_the_lms_is_down_arrives_once_it_is_back(
    tool: Tool, lms: Lms, course: dict[str, Any]
) -> None:
    cy = person(LEARNER, name="Cy Rosenblatt")
    lms.other_contexts[course["context"].id][1].append(cy)
    http = browser()
    lms.launch(http, cy, resource_link_id=course["link_id"], context=course["context"])
    lms.down = True
    try:
        submit_key(tool, http, course["course_id"], course["assignment_id"])
        wait_for(lambda: [p for p in pushes(tool, lms, cy) if p.attempts >= 1], "a failed try")
        [push] = pushes(tool, lms, cy)
        assert push.status == PushStatus.pending and push.last_error.startswith("HTTP 503")
        assert lms.scores_for(cy.sub) == []
    finally:
        lms.down = False
    backoff_over(tool)
    wait_for(lambda: pushes(tool, lms, cy)[0].status == PushStatus.sent, "sent once back")
    time.sleep(1.5)  # three more sweeps: nothing may arrive twice
    assert [s["scoreGiven"] for s in lms.scores_for(cy.sub)] == [POINTS]


def test_after_both_sides_rotate_their_keys_everything_still_works(
    tool: Tool, lms: Lms, course: dict[str, Any]
) -> None:
    with tool.db() as session:
        new_kid = keys.rotate(session).kid
        session.commit()
    lms.rotate_key()
    lms.revoke_tokens()  # the next push needs a new token, asked for with the new key
    with tool.db() as session:  # the tool's one-a-minute limit on fetching keys has passed
        session.execute(update(LtiPlatform).values(jwks_fetched_at=utcnow() - timedelta(minutes=2)))
        session.commit()

    # A launch signed by the platform's new key.
    dee = person(LEARNER, name="Dee Werbos")
    lms.other_contexts[course["context"].id][1].append(dee)
    http = browser()
    landed = lms.launch(http, dee, resource_link_id=course["link_id"], context=course["context"])
    assert landed.status_code == 200 and course["title"] in html.unescape(landed.text)
    # A deep-linking response signed by the tool's new key, which the LMS accepts.
    again = build_by_deep_linking(lms, course["teacher"], course["context"], "After rotation")
    assert again
    # A push whose token was asked for with the tool's new key.
    submit_key(tool, http, course["course_id"], course["assignment_id"])
    [score] = wait_for(lambda: lms.scores_for(dee.sub), "Dee's score at the LMS")
    assert score["scoreGiven"] == POINTS
    published = requests.get(f"{tool.url}/lti/jwks", timeout=30).json()
    assert new_kid in {k["kid"] for k in published["keys"]} and len(published["keys"]) == 2
