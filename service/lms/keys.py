"""The tool's RSA signing keys (CONTRACT §10): made on first need, rotated by
``backprop-quiz lti keys rotate``, published at ``/lti/jwks``.

The newest unretired key signs everything the tool sends (deep-linking responses, the
client assertions of grade and roster requests). Rotation retires the keys before it but
keeps them published for ``settings.lti_key_grace_days``, so a platform that cached the old
key set, or a message signed a moment before, still verifies.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ..models import LtiKey, utcnow

KEY_BITS = 2048  # what LTI platforms expect for RS256


def _new_key(now: datetime) -> LtiKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    # The kid is the key's RFC 7638 thumbprint, as PyLTI1p3 derives it when it signs.
    public = JWK.from_pem(pem.encode()).export_public(as_dict=True)
    public.update(alg="RS256", use="sig")
    return LtiKey(kid=public["kid"], private_pem=pem, public_jwk=public, created_at=now)


def signing_key(session: Session) -> LtiKey:
    """The key that signs now; made (and flushed) if the tool has none yet."""
    key = session.scalars(
        select(LtiKey).where(LtiKey.retired_at.is_(None)).order_by(LtiKey.id.desc()).limit(1)
    ).first()
    if key is None:
        key = _new_key(utcnow())
        session.add(key)
        session.flush()
    return key


def rotate(session: Session, now: datetime | None = None) -> LtiKey:
    """Retire every signing key and add a new one that signs from now on; the caller commits."""
    now = now or utcnow()
    session.execute(update(LtiKey).where(LtiKey.retired_at.is_(None)).values(retired_at=now))
    key = _new_key(now)
    session.add(key)
    session.flush()
    return key


def published(session: Session, grace_days: int, now: datetime | None = None) -> dict[str, Any]:
    """The JWKS: the signing key and every key retired less than ``grace_days`` ago."""
    now = now or utcnow()
    signing_key(session)
    keys = session.scalars(
        select(LtiKey)
        .where(or_(LtiKey.retired_at.is_(None),
                   LtiKey.retired_at > now - timedelta(days=grace_days)))
        .order_by(LtiKey.id.desc())
    )
    return {"keys": [dict(k.public_jwk) for k in keys]}


def public_pem(key: LtiKey) -> str:
    """The key's public half as PEM (what PyLTI1p3's Registration takes)."""
    return JWK(**key.public_jwk).export_to_pem().decode()
