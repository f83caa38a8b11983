"""One-time set-password links: the way in for accounts an instructor created.

A link carries 256 random bits (``secrets``); only their SHA-256 is stored (``Invite``), so
the database alone opens no account. A link works once and for INVITE_DAYS; a new link
for the same person ends the older ones. There is no mail server: the instructor is shown
the link and passes it on; the demo also prints it on its console (``link``).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask import current_app, url_for
from sqlalchemy import delete, select, update

from . import auth
from .db import db
from .models import Invite, User, utcnow

INVITE_DAYS = 14
# App config key: print each new link on the console as well (the demo's stand-in for mail).
PRINT_LINKS = "PRINT_INVITE_LINKS"


def link(email: str, token: str) -> str:
    """The link's full URL, for the page or the API to show to whoever made it."""
    url = url_for("dashboard.invite", token=token, _external=True)
    if current_app.config.get(PRINT_LINKS):
        print(f"set-password link for {email}: {url}", flush=True)
    return url


class InviteError(Exception):
    """A link that opens nothing; the message says why, for the person holding it."""


def issue(
    user: User, course_id: int | None, by: int | None, *, replaces: bool = True
) -> tuple[str, Invite]:
    """A new link token for ``user`` (which has an id) and its row (added, not
    committed); the user's older unused links are deleted, so only the newest works
    (``replaces=False`` skips that, for an account made in this transaction)."""
    if replaces:
        db.session.execute(
            delete(Invite).where(Invite.user_id == user.id, Invite.used_at.is_(None))
        )
    token = secrets.token_urlsafe(32)
    invite = Invite(
        user_id=user.id,
        token_hash=auth.hash_token(token),
        course_id=course_id,
        created_by=by,
        expires_at=utcnow() + timedelta(days=INVITE_DAYS),
    )
    db.session.add(invite)
    return token, invite


def pending(token: str, now: datetime | None = None) -> Invite:
    """The invite of a link that still works; InviteError saying why it does not."""
    invite = db.session.scalar(select(Invite).where(Invite.token_hash == auth.hash_token(token)))
    if invite is None:
        raise InviteError(
            "This link is not valid: it may have been replaced by a newer one. "
            "Ask your instructor for a new set-password link."
        )
    if invite.used_at is not None:
        raise InviteError(
            "This link has been used already: log in with the password you set, or ask "
            "your instructor for a new set-password link."
        )
    if (now or utcnow()) >= invite.expires_at:
        raise InviteError(
            "This link has expired. Ask your instructor for a new set-password link."
        )
    return invite


def accept(token: str, password: str, repeated: str) -> User:
    """Set the password of the link's user and use the link up (commits). InviteError for
    a link that no longer works, auth.UserError for a password that will not do."""
    invite = pending(token)
    if password != repeated:
        raise auth.UserError("the two passwords are not the same")
    user = invite.user
    auth.set_password(user, password)  # checks the length; ends any older session
    # Used once only, even by two requests at the same moment: the second updates no row.
    used = db.session.execute(
        update(Invite).where(Invite.id == invite.id, Invite.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        raise InviteError("This link has been used already.")
    db.session.commit()
    return user
