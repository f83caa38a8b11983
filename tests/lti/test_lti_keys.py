"""The tool's keys after a rotation: both published, the new one signing, the old one gone
after the grace period."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import jwt
import requests
from ltikit import Tool
from pylti1p3.service_connector import ServiceConnector

from service.lms import keys, platforms, registry
from service.models import utcnow


def published_kids(tool: Tool) -> list[str]:
    return [k["kid"] for k in requests.get(f"{tool.url}/lti/jwks", timeout=10).json()["keys"]]


def test_rotation_publishes_both_keys_and_the_new_one_signs(tool: Tool) -> None:
    old = published_kids(tool)[0]  # the key made on first need
    with tool.db() as session:
        new = keys.rotate(session).kid
        session.commit()
    assert new != old
    assert published_kids(tool) == [new, old]

    # A client assertion (the client-credentials grant's JWT) as PyLTI1p3 signs it with the
    # platform's registration: under the new kid, verifiable with the published key.
    with tool.db() as session:
        platform = registry.add_platform(
            session,
            registry.PlatformSpec(
                issuer=f"https://lms-{uuid.uuid4().hex[:6]}.example.edu",
                client_id="c1",
                auth_login_url="https://lms.example.edu/auth",
                auth_token_url="https://lms.example.edu/token",
                jwks_url="https://lms.example.edu/jwks",
                deployment_ids=["d1"],
            ),
        )
        registration = platforms.registration(session, platform)
        session.rollback()
    now = int(time.time())
    claims = {
        "iss": "c1",
        "sub": "c1",
        "aud": "https://lms.example.edu/token",
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
    }
    kid = registration.get_kid()
    assert kid == new
    private = registration.get_tool_private_key()
    assert private is not None
    assertion = ServiceConnector(registration).encode_jwt(claims, private, {"kid": kid})
    header = jwt.get_unverified_header(assertion)
    jwks = requests.get(f"{tool.url}/lti/jwks", timeout=10).json()
    [public] = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    verified = jwt.decode(
        assertion,
        jwt.PyJWK(public, algorithm="RS256").key,
        algorithms=["RS256"],
        audience="https://lms.example.edu/token",
    )
    assert verified["iss"] == "c1"


def test_the_old_key_is_published_for_the_grace_period_only(tool: Tool) -> None:
    grace = tool.app.extensions["settings"].lti_key_grace_days
    with tool.db() as session:
        old = keys.signing_key(session).kid
        rotated_at = utcnow()
        new = keys.rotate(session, now=rotated_at).kid
        session.commit()
        within = keys.published(session, grace, now=rotated_at + timedelta(days=grace, seconds=-1))
        after = keys.published(session, grace, now=rotated_at + timedelta(days=grace, seconds=1))
        listed = {k.kid: k for k in registry.key_list(session, grace)}
    assert {old, new} <= {k["kid"] for k in within["keys"]}
    assert new in {k["kid"] for k in after["keys"]}
    assert old not in {k["kid"] for k in after["keys"]}
    assert listed[old].published_until == rotated_at + timedelta(days=grace)
    assert listed[new].signing and listed[new].published_until is None


def test_the_jwks_holds_public_halves_only(tool: Tool) -> None:
    for key in requests.get(f"{tool.url}/lti/jwks", timeout=10).json()["keys"]:
        assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
