"""Deep linking (LTI Deep Linking 2.0): inside the LMS's frame, an
instructor picks one of the course's assignments or builds one from the catalogue, and
the tool answers the platform with one signed ``ltiResourceLink`` content item.

The launch issues a one-time ``LtiTicket`` (kind "deep_link") and redirects here; the
ticket, not a cookie (the frame is cross-site), authenticates the page and its form. It
is consumed when the response is made, so the response can be made once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlsplit

from flask import g, render_template, request
from pylti1p3.deep_link import DeepLink, TDeepLinkData
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.lineitem import LineItem
from sqlalchemy import select, update

import exercises as ex

from .. import assignments, policy
from ..db import db
from ..lms import platforms
from ..lms.registry import secret_hash
from ..models import (
    Assignment,
    Course,
    CourseRole,
    LtiPlatform,
    LtiTicket,
    Mode,
    User,
    utcnow,
)
from . import bp
from .tool import tool_url

LINK_TYPE = "ltiResourceLink"


class Refusal(Exception):
    """The ticket or the request cannot be served; the page says why."""

    def __init__(self, title: str, message: str, status: int):
        super().__init__(message)
        self.title = title
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Picker:
    """A deep-linking ticket, checked: who picks, for which course and platform."""

    ticket: LtiTicket
    user: User
    role: CourseRole
    course: Course
    platform: LtiPlatform
    settings: dict[str, Any]
    deployment_id: str


def _ticket(token: str, now: datetime) -> Picker:
    """The ticket of ``token`` if it is a deep-linking ticket, unused, unexpired, for a
    user still on the course's staff; Refusal otherwise."""
    ticket = (
        db.session.scalar(select(LtiTicket).where(LtiTicket.token_hash == secret_hash(token)))
        if 0 < len(token) <= 200
        else None
    )
    if ticket is None or ticket.kind != "deep_link":
        raise Refusal("This link is not valid", "Start again from your LMS.", 404)
    if ticket.used_at is not None:
        raise Refusal(
            "This link was used already",
            "A selection was sent to your LMS with it. Start again from your LMS to add another.",
            410,
        )
    if ticket.expires_at <= now:
        raise Refusal(
            "This link expired",
            "A selection must be made within 30 minutes. Start again from your LMS.",
            410,
        )
    user = db.session.get(User, ticket.user_id)
    course = db.session.get(Course, ticket.course_id) if ticket.course_id is not None else None
    role = policy.course_role(user, course.id) if user is not None and course else None
    if user is None or course is None or role is None or not role.is_staff:
        raise Refusal(
            "Only the course's staff can add backprop-quiz content",
            "You are no longer an instructor or teaching assistant of this course.",
            403,
        )
    claims = ticket.claims or {}
    settings = claims.get("deep_linking_settings")
    deployment_id = claims.get("deployment_id")
    platform = db.session.get(LtiPlatform, ticket.platform_id)
    if not isinstance(settings, dict) or not isinstance(deployment_id, str) or platform is None:
        raise Refusal("This link is not valid", "Start again from your LMS.", 400)
    if deployment_id not in {d.deployment_id for d in platform.deployments}:
        raise Refusal(
            "This deployment is no longer registered",
            "Ask a backprop-quiz admin to add it again.",
            403,
        )
    return_url = settings.get("deep_link_return_url")
    if not isinstance(return_url, str) or urlsplit(return_url).scheme not in ("https", "http"):
        raise Refusal(
            "Your LMS sent no return address",
            "It gave no http(s) deep_link_return_url to send the selection to.",
            400,
        )
    if LINK_TYPE not in (settings.get("accept_types") or []):
        raise Refusal(
            "This place in your LMS takes no tool links",
            "It does not accept LTI resource links; add backprop-quiz from an "
            "assignment or a module instead.",
            400,
        )
    return Picker(ticket, user, role, course, platform, settings, deployment_id)


def _assignments(course: Course) -> list[Assignment]:
    return list(
        db.session.scalars(
            select(Assignment).where(Assignment.course_id == course.id).order_by(Assignment.id)
        )
    )


def _picker_page(
    token: str,
    picker: Picker,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    return render_template(
        "lti/deep_link.html",
        token=token,
        course=picker.course,
        assignments=[(a, sum(s.points for s in a.slots)) for a in _assignments(picker.course)],
        may_build=picker.role == CourseRole.instructor,
        types=ex.catalogue(),
        difficulties=ex.DIFFICULTIES,
        values=values or {"points": "1"},
        errors=errors or {},
        title=picker.settings.get("title") or "",
    ), status


def _refused(refusal: Refusal) -> tuple[str, int]:
    return render_template(
        "error.html", status=refusal.status, title=refusal.title, message=refusal.message
    ), refusal.status


def _built(
    picker: Picker, form: Any, errors: dict[str, str]
) -> tuple[assignments.Settings, list[assignments.SlotSettings]]:
    """The catalogue form read and checked (errors by field)."""
    if picker.role != CourseRole.instructor:
        errors["build"] = "only the course's instructors can create assignments"
    settings = assignments.Settings(title=form.get("title", ""), mode=Mode.homework)
    points_text = (form.get("points", "") or "1").strip()
    try:
        points = float(points_text)
    except ValueError:
        points = float("nan")
    difficulty_text = form.get("difficulty", "").strip()
    difficulty = (
        int(difficulty_text) if difficulty_text.isdigit() and len(difficulty_text) < 3 else 0
    )
    slots = [
        assignments.SlotSettings(
            form.get("exercise_type", ""), difficulty, points if points == points else -1.0
        )
    ]
    try:
        assignments.check(settings, slots)
    except assignments.SettingsError as exc:
        for key, message in exc.errors.items():
            errors.setdefault(key.removeprefix("slot 1 ").replace(" ", "_"), message)
    return settings, slots


def response_jwt(picker: Picker, assignment: Assignment) -> str:
    """The signed LtiDeepLinkingResponse carrying ``assignment`` as one resource link with
    its line item (scoreMaximum: the assignment's points), under our current key."""
    total = sum(s.points for s in assignment.slots)
    resource = (
        DeepLinkResource()
        .set_type(LINK_TYPE)
        .set_title(assignment.title)
        .set_url(tool_url("lti.launch"))
        .set_custom_params({"assignment_id": str(assignment.id)})
    )
    if total > 0:  # AGS: a line item's scoreMaximum must be positive
        resource.set_lineitem(
            LineItem()
            .set_label(assignment.title)
            .set_score_maximum(total)
            .set_resource_id(str(assignment.id))
        )
    settings = cast("TDeepLinkData", picker.settings)  # checked in _ticket
    link = DeepLink(
        platforms.registration(db.session, picker.platform), picker.deployment_id, settings
    )
    message = link.get_message_jwt([resource])
    data_claim = "https://purl.imsglobal.org/spec/lti-dl/claim/data"
    if message.get(data_claim) is None:
        message.pop(data_claim)  # echoed only when the request had one
    return str(link.encode_jwt(message))


@bp.route("/lti/deep-link/<token>", methods=["GET", "POST"])
def deep_link(token: str) -> tuple[str, int]:
    """GET: the picker. POST: the chosen (or newly built) assignment goes back to the LMS."""
    now = utcnow()
    try:
        picker = _ticket(token, now)
    except Refusal as refusal:
        return _refused(refusal)
    # The return URL may be on another origin of the platform than its issuer's (Canvas:
    # the school's domain): the response form may post there (frame_headers reads this).
    g.lti_origins = [platforms.origin(picker.settings["deep_link_return_url"])]
    if request.method == "GET":
        return _picker_page(token, picker)

    errors: dict[str, str] = {}
    chosen: Assignment | None = None
    if request.form.get("action") == "build":
        settings, slots = _built(picker, request.form, errors)
    else:
        raw = request.form.get("assignment_id", "")
        chosen = db.session.get(Assignment, int(raw)) if raw.isdigit() and len(raw) < 12 else None
        if chosen is None or chosen.course_id != picker.course.id:
            errors["assignment_id"] = "choose one of this course's assignments"
    if errors:
        return _picker_page(token, picker, request.form.to_dict(), errors, 422)

    # Consume the ticket before anything is made: of two posts racing, one wins.
    used = db.session.execute(
        update(LtiTicket)
        .where(LtiTicket.id == picker.ticket.id, LtiTicket.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        return _refused(
            Refusal("This link was used already", "A selection was sent to your LMS with it.", 410)
        )
    if chosen is None:
        # Published at once: the instructor is placing it in front of the students.
        chosen = assignments.create(picker.course, settings, slots, published=True)
    jwt = response_jwt(picker, chosen)
    db.session.commit()  # the ticket's use (and a key made on first need)
    return render_template(
        "lti/deep_link_return.html",
        return_url=picker.settings["deep_link_return_url"],
        jwt=jwt,
        assignment=chosen,
    ), 200
