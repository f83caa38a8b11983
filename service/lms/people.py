"""People from a platform: our user for an LTI identity, and their course role from the
LTI roles a launch or a roster (NRPS) gives.

A user is found by (issuer, sub) only, never by the email a platform sends: any
registered platform may claim any email, and matching on it would hand that platform
the account of whoever owns the address here. The email is stored when it is free.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import identifiers
from ..models import CourseRole, Enrollment, LtiIdentity, Role, User

# No password: an LTI user signs in through the LMS (a set-password link may add one).
NO_PASSWORD = "!lti"
MAX_EMAIL = 254  # User.email
MAX_NAME = 120  # User.name


CONTEXT_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership"


def course_role(roles: Iterable[object]) -> CourseRole | None:
    """Our course role for the LTI roles of a launch or a roster entry. Only context roles
    count (LIS membership URIs and the short names LTI allows for them): an institution
    or system role (``.../institution/person#Instructor``) says what someone is elsewhere,
    not in this course. A teaching assistant is a TA even when also listed as Instructor;
    Instructor, Administrator and ContentDeveloper teach; Learner studies; anything else
    (Mentor, Guest) has no role here."""
    names = set()
    for role in roles:
        if not isinstance(role, str):
            continue
        if role.startswith(CONTEXT_ROLE):
            names.add(role.rsplit("#", 1)[-1])
        elif "/" not in role and "#" not in role:
            names.add(role)
    if "TeachingAssistant" in names:
        return CourseRole.ta
    if names & {"Instructor", "Administrator", "ContentDeveloper"}:
        return CourseRole.instructor
    if "Learner" in names:
        return CourseRole.student
    return None


def _clean(field: str, value: str | None, max_length: int) -> str:
    try:
        return identifiers.clean(field, value or "", max_length=max_length, required=False)
    except identifiers.IdentifierError:
        return ""


def user_for(
    session: Session, issuer: str, sub: str, *, name: str | None, email: str | None,
    role: CourseRole | None,
) -> User:
    """The user of (issuer, sub), made on first sight; their name follows the platform's.
    A teaching role makes a student account an instructor account, never the reverse."""
    user = session.scalars(
        select(User).join(LtiIdentity, LtiIdentity.user_id == User.id)
        .where(LtiIdentity.issuer == issuer, LtiIdentity.sub == sub)
    ).first()
    teaches = role in (CourseRole.instructor, CourseRole.ta)
    clean_name = _clean("name", name, MAX_NAME)
    if user is None:
        address = _clean("email", email, MAX_EMAIL).lower()
        if not identifiers.EMAIL.fullmatch(address) or session.scalar(
            select(User.id).where(User.email == address)
        ) is not None:
            digest = hashlib.sha256(f"{issuer}\n{sub}".encode()).hexdigest()[:24]
            address = f"lti-{digest}@lti.invalid"  # RFC 2606: never a real mailbox
        user = User(email=address, name=clean_name, password_hash=NO_PASSWORD,
                    role=Role.instructor if teaches else Role.student)
        session.add(user)
        session.flush()
        session.add(LtiIdentity(issuer=issuer, sub=sub, user_id=user.id))
        session.flush()
        return user
    if clean_name:
        user.name = clean_name
    if teaches and user.role == Role.student:
        user.role = Role.instructor
    return user


def enroll(session: Session, course_id: int, user: User, role: CourseRole) -> Enrollment:
    """Put the user in the course with the platform's role (a member who left is back)."""
    enrollment = session.scalars(
        select(Enrollment).where(Enrollment.course_id == course_id, Enrollment.user_id == user.id)
    ).first()
    if enrollment is None:
        enrollment = Enrollment(course_id=course_id, user_id=user.id, role=role)
        session.add(enrollment)
    else:
        enrollment.role = role
        enrollment.left_at = None
    session.flush()
    return enrollment
