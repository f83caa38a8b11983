"""The registered platforms (CONTRACT §10): add, list and remove them with their
deployments, and the one-time codes of Dynamic Registration.

The CLI (``backprop-quiz lti platforms ...``), the admin page and ``/lti/register`` all
come here. Functions flush and leave the commit to the caller. Removing a platform
removes what only it gave (deployments, contexts, links, logins, tickets, tokens; the
foreign keys cascade) but never a course, an assignment or anyone's work: a context row
points at a course, the course does not point back.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from ..models import LtiDeployment, LtiKey, LtiPlatform, LtiRegistration, utcnow

REGISTERED_BY = ("cli", "admin", "dynamic")
CODE_LIFETIME = timedelta(hours=24)
MAX_ID = 255  # issuer, client id, deployment id: the columns' length
MAX_URL = 1000
MAX_NAME = 200


class RegistryError(ValueError):
    """A platform, deployment or code that cannot be taken; the message names what is wrong."""


@dataclass(frozen=True)
class PlatformSpec:
    """A platform as an LMS's admin gives it to us: its issuer, our client id there, its
    endpoints and our deployments."""

    issuer: str
    client_id: str
    auth_login_url: str
    auth_token_url: str
    jwks_url: str
    deployment_ids: Sequence[str] = field(default_factory=tuple)
    name: str = ""
    auth_audience: str | None = None


def secret_hash(secret: str) -> str:
    """What is stored of a one-time secret (a registration code, an LTI ticket): its SHA-256."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _text(name: str, value: str, max_length: int = MAX_ID) -> str:
    """An identifier compared byte for byte with what platforms send: trimmed, never empty,
    no space or invisible character inside."""
    text = (value or "").strip()
    if not text:
        raise RegistryError(f"{name}: must not be empty")
    if len(text) > max_length:
        raise RegistryError(f"{name}: must have at most {max_length} characters")
    for ch in text:
        if ch.isspace() or unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn"}:
            raise RegistryError(
                f"{name}: contains a space or an invisible character U+{ord(ch):04X}"
            )
    return text


def check_url(name: str, value: str) -> str:
    """An http(s) URL with a host; RegistryError naming the field otherwise."""
    url = _text(name, value, MAX_URL)
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise RegistryError(
            f"{name}: must be an https:// (or http://) URL with a host, got {url!r}"
        )
    return url


def _deployment_ids(values: Sequence[str]) -> list[str]:
    found: list[str] = []
    for value in values:
        deployment_id = _text("deployment id", value)
        if deployment_id not in found:
            found.append(deployment_id)
    return found


def find_platform(session: Session, issuer: str, client_id: str) -> LtiPlatform | None:
    return session.scalar(
        select(LtiPlatform).where(LtiPlatform.issuer == issuer, LtiPlatform.client_id == client_id)
    )


def add_platform(session: Session, spec: PlatformSpec, registered_by: str = "cli") -> LtiPlatform:
    """Register a platform with its deployments (checked, flushed); RegistryError naming
    the bad field, or the (issuer, client id) already registered."""
    if registered_by not in REGISTERED_BY:
        raise RegistryError(f"registered_by: one of {', '.join(REGISTERED_BY)}")
    issuer = _text("issuer", spec.issuer)
    client_id = _text("client id", spec.client_id)
    platform = LtiPlatform(
        issuer=issuer,
        client_id=client_id,
        name=" ".join((spec.name or "").split())[:MAX_NAME],
        auth_login_url=check_url("auth login url", spec.auth_login_url),
        auth_token_url=check_url("auth token url", spec.auth_token_url),
        auth_audience=(
            _text("auth audience", spec.auth_audience, MAX_URL) if spec.auth_audience else None
        ),
        jwks_url=check_url("jwks url", spec.jwks_url),
        registered_by=registered_by,
        deployments=[LtiDeployment(deployment_id=d) for d in _deployment_ids(spec.deployment_ids)],
    )
    if find_platform(session, issuer, client_id) is not None:
        raise RegistryError(
            f"a platform with issuer {issuer} and client id {client_id} is already registered "
            "(remove it first, or add a deployment to it)"
        )
    session.add(platform)
    session.flush()
    return platform


def list_platforms(session: Session) -> list[LtiPlatform]:
    """Every platform with its deployments, by issuer then client id."""
    return list(
        session.scalars(
            select(LtiPlatform)
            .options(selectinload(LtiPlatform.deployments))
            .order_by(LtiPlatform.issuer, LtiPlatform.client_id)
        )
    )


def remove_platform(session: Session, issuer: str, client_id: str) -> LtiPlatform:
    """Remove the platform (courses and work stay); RegistryError if it is not registered."""
    platform = find_platform(session, issuer.strip(), client_id.strip())
    if platform is None:
        raise RegistryError(f"no platform with issuer {issuer} and client id {client_id}")
    session.delete(platform)
    session.flush()
    return platform


def add_deployment(session: Session, platform: LtiPlatform, deployment_id: str) -> LtiDeployment:
    """Add a deployment id to a registered platform; RegistryError if it has it already."""
    deployment_id = _text("deployment id", deployment_id)
    if any(d.deployment_id == deployment_id for d in platform.deployments):
        raise RegistryError(f"the platform already has deployment {deployment_id}")
    deployment = LtiDeployment(deployment_id=deployment_id)
    platform.deployments.append(deployment)
    session.flush()
    return deployment


def new_registration_code(
    session: Session, created_by: int | None = None, now: datetime | None = None
) -> str:
    """A one-time Dynamic Registration code, good for 24 hours; only its hash is stored."""
    now = now or utcnow()
    code = secrets.token_urlsafe(32)
    session.add(
        LtiRegistration(
            code_hash=secret_hash(code),
            created_by=created_by,
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        )
    )
    session.flush()
    return code


def registration_code(session: Session, code: str, now: datetime | None = None) -> LtiRegistration:
    """The unused, unexpired registration of ``code`` (not consumed yet: the caller does,
    with ``use_registration_code``, once the platform is stored); RegistryError otherwise."""
    now = now or utcnow()
    row = (
        session.scalar(
            select(LtiRegistration).where(LtiRegistration.code_hash == secret_hash(code))
        )
        if code and len(code) <= 200
        else None
    )
    if row is None:
        raise RegistryError("the registration code is not one this tool issued")
    if row.used_at is not None:
        raise RegistryError("the registration code was used already; make a new one")
    if row.expires_at <= now:
        raise RegistryError("the registration code expired (codes last 24 hours); make a new one")
    return row


def use_registration_code(
    session: Session, row: LtiRegistration, platform: LtiPlatform, now: datetime | None = None
) -> None:
    """Mark the code used by ``platform``, atomically: RegistryError if another request
    used it in the meantime."""
    done = session.execute(
        update(LtiRegistration)
        .where(LtiRegistration.id == row.id, LtiRegistration.used_at.is_(None))
        .values(used_at=now or utcnow(), platform_id=platform.id)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise RegistryError("the registration code was used already; make a new one")
    session.expire(row)  # the row as stored now


@dataclass(frozen=True)
class KeyInfo:
    """One of the tool's keys as an admin reads it; ``published_until`` None: it signs."""

    kid: str
    created_at: datetime
    retired_at: datetime | None
    published_until: datetime | None

    @property
    def signing(self) -> bool:
        return self.retired_at is None


def key_list(session: Session, grace_days: int) -> list[KeyInfo]:
    """Every key of the tool, newest first, with how long /lti/jwks publishes it."""
    return [
        KeyInfo(
            k.kid,
            k.created_at,
            k.retired_at,
            k.retired_at + timedelta(days=grace_days) if k.retired_at is not None else None,
        )
        for k in session.scalars(select(LtiKey).order_by(LtiKey.id.desc()))
    ]
