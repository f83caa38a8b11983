"""What a launch that passed every check makes of its claims: the user
of (issuer, sub), the course of the context (made on its first launch), the member's role
in it, the resource link and its assignment, and the services' endpoints (AGS, NRPS).

Everything is added to the caller's session, which commits it as one transaction.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import identifiers
from ..lms import grades as lms_grades
from ..lms import people, platforms
from ..models import Course, CourseRole, LtiContext, LtiLink, LtiPlatform
from .validation import DEEP_LINKING_REQUEST, custom_assignment

MAX_CODE = 32  # Course.code
MAX_TITLE = 200  # Course.title
MAX_URL = 1000  # the URL columns


@dataclass(frozen=True)
class Placement:
    """Where a launch put its user, by id."""

    user_id: int
    course_id: int
    role: CourseRole | None
    context_pk: int  # LtiContext.id
    assignment_id: int | None  # the resource link's; None for deep linking or not yet chosen


def provision(
    session: Session,
    platform: LtiPlatform,
    claims: dict[str, Any],
    role: CourseRole | None,
    now: datetime,
) -> Placement:
    """Find or make the launch's user, course, enrolment and link (not committed). A staff
    launch asks the worker for a roster sync (``sync_requested_at``)."""
    email = claims.get("email")
    user = people.user_for(
        session,
        platform.issuer,
        claims["sub"],
        name=_name(claims),
        email=email if isinstance(email, str) else None,
        role=role,
    )
    context = _context(session, platform, claims)
    if role is not None:
        people.enroll(session, context.course_id, user, role)
        if role.is_staff:
            context.sync_requested_at = now
    assignment_id = None
    if claims.get(platforms.MESSAGE_TYPE) != DEEP_LINKING_REQUEST:
        assignment_id = _link(session, context, claims).assignment_id
    session.flush()
    return Placement(user.id, context.course_id, role, context.id, assignment_id)


def _context(session: Session, platform: LtiPlatform, claims: dict[str, Any]) -> LtiContext:
    """The context's row, and its course made from its label and title on first sight."""
    claim = claims[platforms.CONTEXT]
    label, title = _text(claim.get("label")), _text(claim.get("title"))
    context = session.scalars(
        select(LtiContext).where(
            LtiContext.platform_id == platform.id, LtiContext.context_id == claim["id"]
        )
    ).first()
    if context is None:
        course_title = title or label or f"Course from {platform.name or platform.issuer}"
        course = Course(code=_free_code(session, label or title), title=course_title[:MAX_TITLE])
        session.add(course)
        session.flush()
        context = LtiContext(platform_id=platform.id, context_id=claim["id"], course_id=course.id)
        session.add(context)
    context.deployment_id = claims[platforms.DEPLOYMENT_ID]
    context.title = (title or label)[:255]
    # The services' endpoints as this launch gives them; a launch without them keeps the last.
    ags = claims.get(platforms.AGS_ENDPOINT)
    if isinstance(ags, dict):
        if (lineitems := _url(ags.get("lineitems"))) is not None:
            context.lineitems_url = lineitems
        scope = ags.get("scope")
        if isinstance(scope, list):
            context.ags_scopes = [s for s in scope if isinstance(s, str) and len(s) <= MAX_URL]
    nrps = claims.get(platforms.NRPS)
    if isinstance(nrps, dict) and (memberships := _url(nrps.get("context_memberships_url"))):
        context.memberships_url = memberships
    session.flush()
    return context


def _link(session: Session, context: LtiContext, claims: dict[str, Any]) -> LtiLink:
    """The resource link's row; ``custom.assignment_id`` (checked to be the course's) and the
    AGS line item as this launch gives them."""
    resource_link_id = claims[platforms.RESOURCE_LINK]["id"]
    link = session.scalars(
        select(LtiLink).where(
            LtiLink.context_id == context.id, LtiLink.resource_link_id == resource_link_id
        )
    ).first()
    if link is None:
        link = LtiLink(context_id=context.id, resource_link_id=resource_link_id)
        session.add(link)
    before = (link.assignment_id, link.lineitem_url)
    wanted = custom_assignment(claims)
    if wanted is not None and wanted.isdigit():
        link.assignment_id = int(wanted)
    ags = claims.get(platforms.AGS_ENDPOINT)
    if isinstance(ags, dict) and (lineitem := _url(ags.get("lineitem"))) is not None:
        link.lineitem_url = lineitem
    session.flush()
    if link.assignment_id is not None and (link.assignment_id, link.lineitem_url) != before:
        # Totals earned before the link pointed here reach the new gradebook column too.
        lms_grades.record(session, link.assignment_id)
    return link


def _free_code(session: Session, label: str) -> str:
    """A course code not yet taken, from the context's label: its letters, digits and
    ``-_./`` (others become ``-``), then ``-2``, ``-3``... or a random suffix."""
    ascii_label = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    base = re.sub(r"[^A-Za-z0-9 ._/-]+", "-", ascii_label)
    base = " ".join(base.split())[:MAX_CODE].strip(" ._/-") or "LTI"
    candidates = [base] + [f"{base[: MAX_CODE - 3].rstrip(' ._/-')}-{n}" for n in range(2, 10)]
    for code in candidates:
        if (
            identifiers.COURSE_CODE.fullmatch(code)
            and session.scalar(select(Course.id).where(Course.code == code)) is None
        ):
            return code
    return f"{base[: MAX_CODE - 9].rstrip(' ._/-')}-{secrets.token_hex(4)}"


def _name(claims: dict[str, Any]) -> str | None:
    name = _text(claims.get("name"))
    if not name:
        name = " ".join(
            p for p in (_text(claims.get("given_name")), _text(claims.get("family_name"))) if p
        )
    return name or None


def _text(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    try:
        return identifiers.clean("text", value, max_length=10_000, required=False)
    except identifiers.IdentifierError:
        return ""


def _url(value: Any) -> str | None:
    """A service URL as a platform gives it, kept if it is an http(s) URL that fits."""
    if (
        isinstance(value, str)
        and value.startswith(("https://", "http://"))
        and (len(value) <= MAX_URL)
    ):
        return value
    return None
