"""What the LTI parts share: the claim names, a platform as PyLTI1p3 sees it, and the
origins allowed to frame the tool.

PyLTI1p3 speaks the protocol (message shapes, the services' requests); the platforms, keys
and every check it leaves out are ours (CONTRACT §10).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pylti1p3.registration import Registration
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import LtiPlatform
from . import keys

# The LTI 1.3 claim names used across the package.
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
MESSAGE_TYPE = CLAIM + "message_type"
VERSION = CLAIM + "version"
DEPLOYMENT_ID = CLAIM + "deployment_id"
TARGET_LINK_URI = CLAIM + "target_link_uri"
RESOURCE_LINK = CLAIM + "resource_link"
ROLES = CLAIM + "roles"
CONTEXT = CLAIM + "context"
CUSTOM = CLAIM + "custom"
LAUNCH_PRESENTATION = CLAIM + "launch_presentation"
AGS_ENDPOINT = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DEEP_LINKING_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"

# Every request to a platform: seconds to connect, to read. A platform that hangs must not
# hold a web request or a worker for long.
HTTP_TIMEOUT = (5, 15)

AGS_SCOPES = (
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
)
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


def registration(session: Session, platform: LtiPlatform) -> Registration:
    """The platform with the tool's current signing key, as PyLTI1p3's services take it."""
    key = keys.signing_key(session)
    reg = (
        Registration()
        .set_issuer(platform.issuer)
        .set_client_id(platform.client_id)
        .set_auth_login_url(platform.auth_login_url)
        .set_auth_token_url(platform.auth_token_url)
        .set_key_set_url(platform.jwks_url)
        .set_tool_private_key(key.private_pem)
        .set_tool_public_key(keys.public_pem(key))
    )
    if platform.auth_audience:
        reg.set_auth_audience(platform.auth_audience)
    return reg


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def platform_origins(session: Session) -> list[str]:
    """Every registered platform's web origins (its issuer's and its login page's): the
    only pages allowed to frame the tool's LTI pages or receive their forms."""
    found: set[str] = set()
    for issuer, login in session.execute(select(LtiPlatform.issuer, LtiPlatform.auth_login_url)):
        for url in (issuer, login):
            if url.startswith(("https://", "http://")):
                found.add(origin(url))
    return sorted(found)
