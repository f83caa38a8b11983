"""Deep linking: the picker a deep-linking ticket opens, and the signed response the
platform verifies over HTTP against the tool's published keys."""

from __future__ import annotations

import hashlib
import html
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt
import pytest
import requests
from lmsim import Lms
from ltikit import Tool
from sqlalchemy import select

from service import assignments
from service.lms import keys
from service.models import (
    Assignment,
    Course,
    CourseRole,
    Enrollment,
    LtiContext,
    LtiPlatform,
    LtiTicket,
    Role,
    User,
    utcnow,
)

FORM = re.compile(
    r'<form id="lti-return" method="post" action="([^"]+)">\s*'
    r'<input type="hidden" name="JWT" value="([^"]+)">'
)


@dataclass
class Setting:
    """A course linked to the platform's context, with one member of its staff."""

    course_id: int
    context_pk: int
    user_id: int
    assignment_id: int  # worth 2.5 + 1.5 points


def make_course(
    tool: Tool, lms: Lms, platform: LtiPlatform, role: CourseRole = CourseRole.instructor
) -> Setting:
    tag = uuid.uuid4().hex[:8]
    with tool.db() as session:
        course = Course(code=f"DL-{tag}", title=f"Deep Learning {tag}")
        user = User(
            email=f"staff-{tag}@example.org",
            name="Staff",
            password_hash="!",
            role=Role.instructor if role != CourseRole.student else Role.student,
        )
        session.add_all([course, user])
        session.flush()
        session.add(Enrollment(course_id=course.id, user_id=user.id, role=role))
        context = LtiContext(
            platform_id=platform.id,
            deployment_id=lms.deployment_id,
            context_id=f"ctx-{tag}",
            course_id=course.id,
            title=course.title,
        )
        session.add(context)
        session.commit()
        made = assignments.create(
            course,
            assignments.Settings(title="Chain rule warm-up"),
            [
                assignments.SlotSettings("weight-gradient", 1, 2.5),
                assignments.SlotSettings("weight-gradient", 2, 1.5),
            ],
            published=True,
        )
        return Setting(course.id, context.id, user.id, made.id)


def ticket(
    tool: Tool,
    lms: Lms,
    platform: LtiPlatform,
    setting: Setting,
    *,
    kind: str = "deep_link",
    expires_in: timedelta = timedelta(minutes=30),
    **settings_changes: object,
) -> str:
    """A deep-linking ticket as the launch issues one; its token."""
    token = secrets.token_urlsafe(32)
    with tool.db() as session:
        session.add(
            LtiTicket(
                token_hash=hashlib.sha256(token.encode()).hexdigest(),
                kind=kind,
                user_id=setting.user_id,
                course_id=setting.course_id,
                platform_id=platform.id,
                claims={
                    "deep_linking_settings": lms.deep_linking_settings(**settings_changes),
                    "deployment_id": lms.deployment_id,
                    "context_pk": setting.context_pk,
                },
                expires_at=utcnow() + expires_in,
            )
        )
        session.commit()
    return token


def returned(page: requests.Response) -> tuple[str, str]:
    """The auto-submitting form's action and JWT."""
    assert page.status_code == 200, page.text
    match = FORM.search(page.text)
    assert match, page.text
    return html.unescape(match.group(1)), html.unescape(match.group(2))


@pytest.fixture(scope="module")
def setting(tool: Tool, lms: Lms, registered: LtiPlatform) -> Setting:
    return make_course(tool, lms, registered)


def test_the_picker_lists_the_courses_assignments(
    tool: Tool, lms: Lms, registered: LtiPlatform, setting: Setting
) -> None:
    page = requests.get(
        f"{tool.url}/lti/deep-link/{ticket(tool, lms, registered, setting)}", timeout=30
    )
    assert page.status_code == 200
    assert f'name="assignment_id" value="{setting.assignment_id}"' in page.text
    assert "Chain rule warm-up" in page.text and "4 points" in page.text
    assert 'name="exercise_type"' in page.text  # the instructor may build one
    assert "<script>" not in page.text


def test_a_picked_assignment_goes_back_signed_and_the_platform_accepts_it(
    tool: Tool, lms: Lms, registered: LtiPlatform, setting: Setting
) -> None:
    token = ticket(tool, lms, registered, setting)
    page = requests.post(
        f"{tool.url}/lti/deep-link/{token}",
        data={"action": "pick", "assignment_id": str(setting.assignment_id)},
        timeout=30,
    )
    action, signed = returned(page)
    assert action == f"{lms.url}/deep_links/return"
    before = len(lms.deep_link_items)
    answer = requests.post(action, data={"JWT": signed}, timeout=30)
    assert (answer.status_code, answer.text) == (200, "accepted")
    [item] = lms.deep_link_items[before:]
    assert item["type"] == "ltiResourceLink"
    assert item["title"] == "Chain rule warm-up"
    assert item["url"] == f"{tool.url}/lti/launch"
    assert item["custom"] == {"assignment_id": str(setting.assignment_id)}
    # The slots are worth 2.5 and 1.5 points.
    assert item["lineItem"] == {
        "label": "Chain rule warm-up",
        "scoreMaximum": 4.0,
        "resourceId": str(setting.assignment_id),
    }
    with tool.db() as session:
        used = session.scalar(
            select(LtiTicket.used_at).where(
                LtiTicket.token_hash == hashlib.sha256(token.encode()).hexdigest()
            )
        )
        assert used is not None


def test_a_ticket_serves_once(
    tool: Tool, lms: Lms, registered: LtiPlatform, setting: Setting
) -> None:
    token = ticket(tool, lms, registered, setting)
    choice = {"action": "pick", "assignment_id": str(setting.assignment_id)}
    first = requests.post(f"{tool.url}/lti/deep-link/{token}", data=choice, timeout=30)
    returned(first)
    again = requests.post(f"{tool.url}/lti/deep-link/{token}", data=choice, timeout=30)
    assert again.status_code == 410 and "used already" in again.text
    assert 'name="JWT"' not in again.text
    assert requests.get(f"{tool.url}/lti/deep-link/{token}", timeout=30).status_code == 410


def test_a_platform_refuses_a_replayed_response(
    tool: Tool, lms: Lms, registered: LtiPlatform, setting: Setting
) -> None:
    token = ticket(tool, lms, registered, setting)
    action, signed = returned(
        requests.post(
            f"{tool.url}/lti/deep-link/{token}",
            data={"action": "pick", "assignment_id": str(setting.assignment_id)},
            timeout=30,
        )
    )
    assert requests.post(action, data={"JWT": signed}, timeout=30).status_code == 200
    replay = requests.post(action, data={"JWT": signed}, timeout=30)
    assert replay.status_code == 400 and "nonce" in replay.text


def test_building_from_the_catalogue_creates_the_assignment(
    tool: Tool, lms: Lms, registered: LtiPlatform, setting: Setting
) -> None:
    token = ticket(tool, lms, registered, setting)
    title = f"Built {uuid.uuid4().hex[:6]}"
    bad = requests.post(
        f"{tool.url}/lti/deep-link/{token}",
        data={
            "action": "build",
            "title": title,
            "exercise_type": "no-such-type",
            "difficulty": "1",
            "points": "3",
        },
        timeout=30,
    )
    assert bad.status_code == 422 and "unknown exercise type" in bad.text
    page = requests.post(
        f"{tool.url}/lti/deep-link/{token}",
        data={
            "action": "build",
            "title": title,
            "exercise_type": "weight-gradient",
            "difficulty": "2",
            "points": "3",
        },
        timeout=30,
    )
    action, signed = returned(page)
    with tool.db() as session:
        made = session.scalar(select(Assignment).where(Assignment.title == title))
        assert made is not None and made.course_id == setting.course_id and made.published
        assert [(s.exercise_type, s.difficulty, s.points) for s in made.slots] == [
            ("weight-gradient", 2, 3.0)
        ]
        made_id = made.id
    before = len(lms.deep_link_items)
    assert requests.post(action, data={"JWT": signed}, timeout=30).text == "accepted"
    [item] = lms.deep_link_items[before:]
    assert item["custom"] == {"assignment_id": str(made_id)}
    assert item["lineItem"]["scoreMaximum"] == 3.0


def test_an_assignment_of_another_course_is_refused(
    tool: Tool, lms: Lms, registered: LtiPlatform, setting: Setting
) -> None:
    other = make_course(tool, lms, registered)
    token = ticket(tool, lms, registered, setting)
    page = requests.post(
        f"{tool.url}/lti/deep-link/{token}",
        data={"action": "pick", "assignment_id": str(other.assignment_id)},
        timeout=30,
    )
    assert page.status_code == 422 and "choose one of this course" in page.text
    assert 'name="JWT"' not in page.text


def test_a_students_ticket_is_refused(tool: Tool, lms: Lms, registered: LtiPlatform) -> None:
    student = make_course(tool, lms, registered, CourseRole.student)
    token = ticket(tool, lms, registered, student)
    assert requests.get(f"{tool.url}/lti/deep-link/{token}", timeout=30).status_code == 403
    post = requests.post(
        f"{tool.url}/lti/deep-link/{token}",
        data={"action": "pick", "assignment_id": str(student.assignment_id)},
        timeout=30,
    )
    assert post.status_code == 403 and 'name="JWT"' not in post.text


def test_an_expired_or_other_kind_of_ticket_is_refused(
    tool: Tool, lms: Lms, registered: LtiPlatform, setting: Setting
) -> None:
    expired = ticket(tool, lms, registered, setting, expires_in=timedelta(seconds=-1))
    assert requests.get(f"{tool.url}/lti/deep-link/{expired}", timeout=30).status_code == 410
    enter = ticket(tool, lms, registered, setting, kind="enter")
    assert requests.get(f"{tool.url}/lti/deep-link/{enter}", timeout=30).status_code == 404
    assert requests.get(f"{tool.url}/lti/deep-link/not-a-token", timeout=30).status_code == 404


def test_after_rotation_the_new_key_signs_and_the_platform_still_accepts(
    tool: Tool, lms: Lms, registered: LtiPlatform, setting: Setting
) -> None:
    with tool.db() as session:
        new = keys.rotate(session)
        session.commit()
        new_kid = new.kid
    token = ticket(tool, lms, registered, setting)
    action, signed = returned(
        requests.post(
            f"{tool.url}/lti/deep-link/{token}",
            data={"action": "pick", "assignment_id": str(setting.assignment_id)},
            timeout=30,
        )
    )
    assert jwt.get_unverified_header(signed)["kid"] == new_kid
    assert requests.post(action, data={"JWT": signed}, timeout=30).text == "accepted"
