"""OIDC login initiation (``/lti/login``), the launch (``/lti/launch``) and the one-time
sign-in it hands over (``/lti/enter/<token>``): CONTRACT §10.

The login remembers a state and nonce server-side (``LtiLogin``), each good for one
launch. A launch runs every check of ``validation.CHECKS``; only when all pass does it
provision (``provision``) and issue a ticket, in one transaction. A refusal renders
``lti/refused.html``, logs one line and creates nothing.

The LMS frames the launch cross-site, where our Lax session cookie is neither sent nor
set; so the launch hands the user a one-time ticket. Framed, the page offers to open the
tool in a new window (where the cookie works); at the top level it redirects at once.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import flask_login
from flask import g, redirect, render_template, request, session, url_for
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from ..db import db
from ..lms import platforms, registry
from ..models import (
    CourseRole,
    LtiDeployment,
    LtiLogin,
    LtiPlatform,
    LtiTicket,
    User,
    utcnow,
)
from . import bp, validation
from .provision import Placement, provision
from .tool import tool_url
from .validation import DEEP_LINKING_REQUEST, Refusal

log = logging.getLogger(__name__)

ENTER_LIFETIME = timedelta(minutes=2)
DEEP_LINK_LIFETIME = timedelta(minutes=30)
LOGIN_KEPT = timedelta(hours=1)  # used and expired logins are deleted after this
MAX_HINT = 4096  # login_hint, lti_message_hint: opaque to us, a few hundred characters in use
MAX_PARAM = 1000
PROVISION_TRIES = 3  # concurrent first launches of one user or context meet on a unique key

# What a refusal tells the person, by code family: what failed, and what they can do.
AGAIN = "Go back to your course in the LMS and open the activity again."
CHECK_REGISTRATION = (
    "ask your LMS administrator to check backprop-quiz's registration there and here "
    "(issuer, client ID, deployment ID, key set URL)."
)
ADMIN = CHECK_REGISTRATION[0].upper() + CHECK_REGISTRATION[1:]
AGAIN_THEN_ADMIN = f"{AGAIN} If it keeps happening, {CHECK_REGISTRATION}"
REASONS: dict[str, tuple[str, str]] = {
    "bad_state": (
        "This launch was not started here, was already used, or took longer than ten minutes.",
        AGAIN,
    ),
    "bad_token": ("The LMS's launch message could not be read.", AGAIN_THEN_ADMIN),
    "bad_alg": ("The LMS's launch message is not signed the way LTI 1.3 requires (RS256).", ADMIN),
    "unknown_issuer": ("The launch message comes from an LMS that is not registered here.", ADMIN),
    "bad_aud": ("The launch message is meant for another tool.", ADMIN),
    "bad_azp": ("The launch message is meant for another tool.", ADMIN),
    "unknown_kid": (
        "The launch message is signed with a key the LMS does not publish.",
        f"Wait a minute, then open the activity again. If it keeps happening, {CHECK_REGISTRATION}",
    ),
    "bad_signature": ("The launch message's signature does not verify.", AGAIN_THEN_ADMIN),
    "no_exp": ("The launch message has no expiry time.", ADMIN),
    "expired": (
        "The launch message has expired.",
        f"{AGAIN} If it keeps happening, a clock (yours or the LMS's) may be wrong.",
    ),
    "future_iat": (
        "The launch message is dated in the future.",
        f"{AGAIN} If it keeps happening, the LMS's clock may be wrong.",
    ),
    "replayed_nonce": ("This launch message was used already.", AGAIN),
    "unknown_deployment": (
        "This placement of backprop-quiz in the LMS is not registered here.",
        "Ask your LMS administrator to register its deployment ID.",
    ),
    "missing_claim": ("The LMS left out information a launch needs.", ADMIN),
    "bad_claim": ("The LMS sent information a launch cannot use.", ADMIN),
    "bad_message": ("The LMS sent a kind of launch backprop-quiz cannot handle.", ADMIN),
    "no_role": (
        "Your role in this course does not let you do this here.",
        "Ask your instructor if you think you should have access.",
    ),
    "bad_assignment": (
        "This link points to an assignment of another course.",
        "Ask your instructor to choose the assignment for this link again.",
    ),
    "bad_request": ("The LMS's request to start the launch is incomplete.", ADMIN),
    "bad_target": ("The LMS asked to open a page that is not backprop-quiz's.", ADMIN),
    "bad_ticket": (
        "This sign-in link was already used or has expired (it works once, for two minutes).",
        AGAIN,
    ),
}


@bp.route("/lti/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int]:
    """OIDC third-party initiated login (LTI 1.3 core §5.1.1 with the Security Framework
    §5.1.1.1): remember a state and nonce, and send the browser to the platform's
    authorization endpoint with them."""
    values = request.values
    iss, client_id = values.get("iss", ""), values.get("client_id") or None
    try:
        platform = _login_platform(iss, client_id)
        hint = _param(values, "login_hint", MAX_HINT)
        target = _param(values, "target_link_uri", MAX_PARAM)
        if platforms.origin(target) != platforms.origin(tool_url("lti.launch")):
            raise Refusal("bad_target", f"target_link_uri {target!r} is not this tool's")
        deployment = values.get("lti_deployment_id")
        if (
            deployment is not None
            and db.session.scalar(
                select(LtiDeployment.id).where(
                    LtiDeployment.platform_id == platform.id,
                    LtiDeployment.deployment_id == deployment,
                )
            )
            is None
        ):
            raise Refusal("unknown_deployment", f"deployment {deployment!r} is not registered")
        message_hint = values.get("lti_message_hint")
        if message_hint is not None and len(message_hint) > MAX_HINT:
            raise Refusal("bad_request", f"lti_message_hint is longer than {MAX_HINT} characters")
    except Refusal as refusal:
        return _refused("login", refusal, iss, client_id)
    now = utcnow()
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    db.session.execute(delete(LtiLogin).where(LtiLogin.created_at < now - LOGIN_KEPT))
    db.session.add(
        LtiLogin(
            state=state,
            nonce=nonce,
            platform_id=platform.id,
            target_link_uri=target,
            created_at=now,
        )
    )
    db.session.commit()
    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": tool_url("lti.launch"),
        "login_hint": hint,
        "state": state,
        "nonce": nonce,
    }
    if message_hint is not None:
        query["lti_message_hint"] = message_hint
    return redirect(_with_query(platform.auth_login_url, query), 302)


@bp.route("/lti/launch", methods=["POST"])
def launch() -> Response | tuple[str, int]:
    """The platform's form post of an id_token and our state: every check, then the user's
    course, role and link, then a ticket."""
    now = utcnow()
    checked = validation.Launch.read(
        db.session, request.form.get("id_token", ""), request.form.get("state", ""), now
    )
    try:
        validation.run(checked)
    except Refusal as refusal:
        db.session.commit()  # what the checks spent stays spent: the state, a key set fetch
        claims = checked.claims
        platform = checked.platform
        return _refused(
            "launch",
            refusal,
            platform.issuer if platform is not None else claims.get("iss"),
            platform.client_id if platform is not None else claims.get("aud"),
        )
    db.session.commit()
    platform, claims = checked.platform, checked.claims
    assert platform is not None  # the state check found the login's platform
    token = _hand_over(platform, claims, checked.role, now)
    if claims.get(platforms.MESSAGE_TYPE) == DEEP_LINKING_REQUEST:
        return redirect(url_for("lti.deep_link", token=token), 303)
    enter_url = url_for("lti.enter", token=token)
    if request.headers.get("Sec-Fetch-Dest") == "iframe":
        g.lti_origins = _framing_origins(claims)
        return _quiet_page("lti/open.html", 200, enter_url=tool_url("lti.enter", token=token))
    return redirect(enter_url, 303)


def _framing_origins(claims: dict[str, Any]) -> list[str]:
    """The web origins a validated launch names for its platform: where it returns to and
    where its services live. A hosted LMS frames the tool from the school's domain, not
    from its issuer's (Canvas: canvas.instructure.com issues, school.instructure.com frames)."""
    places = (
        (platforms.LAUNCH_PRESENTATION, "return_url"),
        (platforms.AGS_ENDPOINT, "lineitems"),
        (platforms.NRPS, "context_memberships_url"),
    )
    named = [
        claim.get(key) for claim, key in ((claims.get(name), key) for name, key in places)
        if isinstance(claim, dict)
    ]
    return sorted({
        platforms.origin(url) for url in named
        if isinstance(url, str) and url.startswith(("https://", "http://"))
    })


@bp.get("/lti/enter/<token>")
def enter(token: str) -> Response | tuple[str, int]:
    """Use an "enter" ticket up (once, within two minutes), sign its user in, and go to the
    page the launch chose."""
    now = utcnow()
    digest = registry.secret_hash(token)
    taken = db.session.execute(
        update(LtiTicket)
        .where(
            LtiTicket.token_hash == digest,
            LtiTicket.kind == "enter",
            LtiTicket.used_at.is_(None),
            LtiTicket.expires_at > now,
        )
        .values(used_at=now)
    ).rowcount  # type: ignore[attr-defined]
    ticket = db.session.scalars(select(LtiTicket).where(LtiTicket.token_hash == digest)).first()
    user = db.session.get(User, ticket.user_id) if taken and ticket is not None else None
    if ticket is None or user is None:
        db.session.rollback()
        return _refused(
            "enter", Refusal("bad_ticket", "the ticket is unknown, used or expired"), None, None
        )
    db.session.commit()
    session.clear()  # whoever was signed in in this browser before, it is this user now
    flask_login.login_user(user)
    return redirect(ticket.target, 303)


def _hand_over(
    platform: LtiPlatform, claims: dict[str, Any], role: CourseRole | None, now: datetime
) -> str:
    """Provision the launch and issue its ticket, in one transaction (committed); the
    ticket's token."""
    for attempt in range(1, PROVISION_TRIES + 1):
        try:
            placed = provision(db.session, platform, claims, role, now)
            if claims.get(platforms.MESSAGE_TYPE) == DEEP_LINKING_REQUEST:
                deep_linking = {
                    "deep_linking_settings": claims[platforms.DEEP_LINKING_SETTINGS],
                    "deployment_id": claims[platforms.DEPLOYMENT_ID],
                    "context_pk": placed.context_pk,
                }
                token = issue_ticket(
                    "deep_link", placed, platform, now, DEEP_LINK_LIFETIME, claims=deep_linking
                )
            else:
                token = issue_ticket(
                    "enter", placed, platform, now, ENTER_LIFETIME, target=_landing(placed)
                )
            db.session.commit()
            return token
        except IntegrityError:
            # Another launch of the same user, context or course code committed first;
            # the next try finds its rows.
            db.session.rollback()
            if attempt == PROVISION_TRIES:
                raise
    raise AssertionError("unreachable: the last try returns or raises")


def issue_ticket(
    kind: str,
    placed: Placement,
    platform: LtiPlatform,
    now: datetime,
    lifetime: timedelta,
    *,
    target: str = "",
    claims: dict[str, Any] | None = None,
) -> str:
    """A one-time ticket of ``kind`` for the placed user, good for ``lifetime`` (added, not
    committed); returns the token, of which only ``registry.secret_hash(token)`` is stored."""
    token = secrets.token_urlsafe(32)
    db.session.add(
        LtiTicket(
            token_hash=registry.secret_hash(token),
            kind=kind,
            user_id=placed.user_id,
            course_id=placed.course_id,
            platform_id=platform.id,
            target=target,
            claims=claims,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    return token


def _landing(placed: Placement) -> str:
    """Where the launch leads: a student to the assignment, staff to its
    dashboard page, or the course's when the link has no assignment yet."""
    staff = placed.role is not None and placed.role.is_staff
    if placed.assignment_id is not None:
        endpoint = "dashboard.assignment" if staff else "student.assignment"
        return url_for(endpoint, course_id=placed.course_id, assignment_id=placed.assignment_id)
    if staff:
        return url_for("dashboard.course", course_id=placed.course_id)
    return url_for("student.courses")


def _login_platform(iss: str, client_id: str | None) -> LtiPlatform:
    """The registration a login names: by issuer and client id, or by issuer alone when only
    one registration has it."""
    if not iss:
        raise Refusal("bad_request", "the login has no iss")
    query = select(LtiPlatform).where(LtiPlatform.issuer == iss)
    if client_id is not None:
        query = query.where(LtiPlatform.client_id == client_id)
    found = db.session.scalars(query.limit(2)).all()
    if len(found) == 1:
        return found[0]
    if found:
        raise Refusal(
            "unknown_issuer",
            f"several registrations have iss {iss!r} and the login named no client_id",
        )
    raise Refusal(
        "unknown_issuer",
        f"no platform is registered with iss {iss!r}"
        + (f" and client_id {client_id!r}" if client_id else ""),
    )


def _param(values: Any, name: str, limit: int) -> str:
    value = values.get(name, "")
    if not value:
        raise Refusal("bad_request", f"the login has no {name}")
    if len(value) > limit:
        raise Refusal("bad_request", f"{name} is longer than {limit} characters")
    return str(value)


def _with_query(url: str, extra: dict[str, str]) -> str:
    """``url`` with ``extra`` added to the query it may have already."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(extra.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def _refused(stage: str, refusal: Refusal, iss: Any, client_id: Any) -> tuple[str, int]:
    """The refusal page, and its one log line."""
    log.warning(
        "lti %s refused: %s: %s (iss=%s, client_id=%s)",
        stage,
        refusal.code,
        _printable(refusal.detail),
        _printable(iss),
        _printable(client_id),
    )
    what, todo = REASONS[refusal.code.partition(":")[0]]
    return _quiet_page(
        "lti/refused.html",
        refusal.status,
        code=refusal.code,
        what=what,
        todo=todo,
        claim=refusal.code.partition(":")[2],
    )


def _quiet_page(template: str, status: int, **context: Any) -> tuple[str, int]:
    """A page that starts no session: base.html asks for a CSRF token, which would put one
    in a new session cookie; a browser that brought no session gets none back."""
    fresh = not session
    page = render_template(template, **context)
    if fresh:
        session.clear()
        session.modified = False
    return page, status


def _printable(value: Any, limit: int = 300) -> str:
    # Log lines hold what an attacker sent: no line breaks or control characters, bounded.
    text = "-" if value is None else str(value)
    return "".join(ch if ch.isprintable() else "?" for ch in text[:limit])
