"""The course roster from the LMS (LTI Names and Role Provisioning Services 2.0).

``sync`` reads every page of the context's membership list and makes our roster follow
it: each member with a course role (``people.course_role``) is found or made by their
LTI user id (``people.user_for``) and enrolled; a member listed as Inactive or Deleted,
or no longer listed at all, is marked as having left (``Enrollment.left_at``), never
removed: their submissions and marks stay, and one who comes back is enrolled again.
Only members the LMS brought (an ``LtiIdentity`` of its issuer) can leave this way; people
added by hand stay as they are.

An instructor's launch asks for a sync (``LtiContext.sync_requested_at``); the sweeper
``claim``s those requests and a worker task runs ``sync``; "Sync roster now" on the
course's LMS page runs it in the request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..models import Enrollment, LtiContext, LtiIdentity, LtiLink, LtiPlatform, utcnow
from . import people
from .platforms import NRPS_SCOPE
from .services import Platform, ServiceError, call, json_of, same_origin

MEMBERSHIPS_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
MAX_PAGES = 200  # a runaway chain of next links ends here
MAX_MEMBERS = 20_000
BUDGET_SECONDS = 240.0  # a sync that has not read every page by then gives up
LEASE_SECONDS = 600  # a claimed request is due again after this: its task died
LEFT = ("Inactive", "Deleted")  # NRPS member statuses of someone no longer in the course


@dataclass(frozen=True)
class Synced:
    """What a sync did."""

    listed: int  # members the LMS listed
    enrolled: int  # with a course role and active: on our roster now
    left: int  # marked as having left by this sync
    skipped: int  # no user id, or no role we map (Mentor, Guest, ...)


@dataclass(frozen=True)
class _Context:
    id: int
    course_id: int
    memberships_url: str | None
    platform: Platform


def _members(session: Session, context: _Context) -> list[dict[str, Any]]:
    """Every member on every page (``Link: <...>; rel="next"``); commits before each page."""
    if not context.memberships_url:
        raise ServiceError(
            "the LMS gave no roster URL for this course (an instructor's "
            "launch from the LMS gives it)",
            permanent=True,
        )
    url: str | None = context.memberships_url
    members: list[dict[str, Any]] = []
    deadline = time.monotonic() + BUDGET_SECONDS
    for _ in range(MAX_PAGES):
        if url is None:
            return members
        if time.monotonic() > deadline:
            raise ServiceError(f"roster: not read within {BUDGET_SECONDS:.0f} s")
        response = call(
            session,
            context.platform,
            [NRPS_SCOPE],
            "GET",
            url,
            accept=MEMBERSHIPS_TYPE,
            what="roster",
        )
        page = json_of(response, "roster")
        listed = page.get("members") if isinstance(page, dict) else None
        if not isinstance(listed, list):
            raise ServiceError(
                "roster: the answer holds no members list", response.status_code, permanent=True
            )
        members += [m for m in listed if isinstance(m, dict)]
        if len(members) > MAX_MEMBERS:
            raise ServiceError(f"roster: more than {MAX_MEMBERS} members", permanent=True)
        following = response.links.get("next", {}).get("url")
        if following is not None and not same_origin(following, context.memberships_url):
            raise ServiceError("roster: the next page is off the roster's origin", permanent=True)
        url = following
    raise ServiceError(f"roster: more than {MAX_PAGES} pages", permanent=True)


def _name(member: dict[str, Any]) -> str | None:
    name = member.get("name")
    if isinstance(name, str) and name.strip():
        return name
    parts = [member.get("given_name"), member.get("family_name")]
    joined = " ".join(p for p in parts if isinstance(p, str) and p.strip())
    return joined or None


def sync(session: Session, context_pk: int) -> Synced:
    """Make the course's roster follow the LMS's membership list; commits (and ends the
    caller's transaction before the first request). Raises ServiceError, with the roster
    unchanged, when the list cannot be read whole."""
    row = session.execute(
        select(LtiContext, LtiPlatform)
        .join(LtiPlatform, LtiPlatform.id == LtiContext.platform_id)
        .where(LtiContext.id == context_pk)
    ).first()
    if row is None:
        raise ServiceError("no such LMS course", permanent=True)
    found, platform = row
    context = _Context(found.id, found.course_id, found.memberships_url, Platform.of(platform))
    members = _members(session, context)  # every page before any change
    now = utcnow()
    issuer = context.platform.issuer
    present: set[int] = set()
    enrolled = skipped = 0
    for member in members:
        sub = member.get("user_id")
        roles = member.get("roles")
        role = (
            people.course_role(r for r in roles if isinstance(r, str))
            if isinstance(roles, list)
            else None
        )
        if not isinstance(sub, str) or not sub or role is None:
            skipped += 1
            continue
        if member.get("status") in LEFT:
            continue  # not present: marked as left below if on our roster
        email = member.get("email")
        user = people.user_for(
            session,
            issuer,
            sub,
            name=_name(member),
            email=email if isinstance(email, str) else None,
            role=role,
        )
        people.enroll(session, context.course_id, user, role)
        present.add(user.id)
        enrolled += 1
    # Who came from this LMS, is on the roster, and is not listed as active now.
    from_lms = select(LtiIdentity.user_id).where(LtiIdentity.issuer == issuer)
    gone_ids = [
        enrollment
        for enrollment, user in session.execute(
            select(Enrollment.id, Enrollment.user_id).where(
                Enrollment.course_id == context.course_id,
                Enrollment.left_at.is_(None),
                Enrollment.user_id.in_(from_lms),
            )
        )
        if user not in present
    ]
    if gone_ids:
        session.execute(
            update(Enrollment)
            .where(Enrollment.id.in_(gone_ids))
            .values(left_at=now)
            .execution_options(synchronize_session=False)
        )
    session.execute(
        update(LtiContext)
        .where(LtiContext.id == context.id)
        .values(synced_at=now, sync_requested_at=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return Synced(len(members), enrolled, len(gone_ids), skipped)


def claim(session: Session, lease_seconds: int = LEASE_SECONDS) -> list[int]:
    """The contexts whose sync was requested and is due, each taken by moving its
    ``sync_requested_at`` past the lease (one UPDATE: two sweepers never take one);
    ``sync`` clears it, and a sync that failed is tried again after the lease. Commits."""
    now = utcnow()
    due = LtiContext.sync_requested_at.is_not(None) & (LtiContext.sync_requested_at <= now)
    ids = list(
        session.scalars(
            update(LtiContext)
            .where(due)
            .values(sync_requested_at=now + timedelta(seconds=lease_seconds))
            .returning(LtiContext.id)
            .execution_options(synchronize_session=False)
        )
    )
    session.commit()
    return sorted(ids)


def request(session: Session, context_pks: list[int], at: datetime | None = None) -> None:
    """Ask for a sync of these contexts (due at ``at``, default now); commits."""
    if context_pks:
        session.execute(
            update(LtiContext)
            .where(LtiContext.id.in_(context_pks))
            .values(sync_requested_at=at or utcnow())
            .execution_options(synchronize_session=False)
        )
    session.commit()


@dataclass(frozen=True)
class LinkView:
    """A course's link to an LMS course, as its LMS page shows it."""

    id: int
    platform: str
    issuer: str
    context_id: str
    title: str
    can_sync: bool  # the LMS gave a roster URL
    synced_at: datetime | None
    sync_requested_at: datetime | None
    links: int  # resource links placed in the LMS


def links(session: Session, course_id: int) -> list[LinkView]:
    """The LMS courses linked to this course (one, nearly always)."""
    rows = session.execute(
        select(LtiContext, LtiPlatform)
        .join(LtiPlatform, LtiPlatform.id == LtiContext.platform_id)
        .where(LtiContext.course_id == course_id)
        .order_by(LtiContext.id)
    ).all()
    counts: dict[int, int] = dict(
        session.execute(
            select(LtiLink.context_id, func.count())
            .where(LtiLink.context_id.in_([c.id for c, _ in rows]))
            .group_by(LtiLink.context_id)
        ).all()
    )
    return [
        LinkView(
            c.id,
            p.name or p.issuer,
            p.issuer,
            c.context_id,
            c.title,
            bool(c.memberships_url),
            c.synced_at,
            c.sync_requested_at,
            counts.get(c.id, 0),
        )
        for c, p in rows
    ]


def linked(session: Session, course_id: int) -> bool:
    """Whether the course is linked to an LMS course."""
    return (
        session.scalar(select(LtiContext.id).where(LtiContext.course_id == course_id).limit(1))
        is not None
    )


def sync_course(session: Session, course_id: int) -> list[tuple[int, Synced]]:
    """Sync every LMS course linked to this course that gave a roster URL, in turn, as
    "Sync roster now" asks; returns (context id, what it did) for each. Raises
    ServiceError at the first that fails (those before it stay synced)."""
    contexts = session.scalars(
        select(LtiContext.id)
        .where(LtiContext.course_id == course_id, LtiContext.memberships_url.is_not(None))
        .order_by(LtiContext.id)
    ).all()
    return [(context_pk, sync(session, context_pk)) for context_pk in contexts]
