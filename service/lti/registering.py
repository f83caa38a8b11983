"""What platforms read of the tool, and LTI Dynamic Registration (CONTRACT §10).

- ``/lti/jwks``: the tool's public keys;
- ``/lti/config``: the tool's configuration as a Canvas developer key imports it (JSON);
- ``/lti/register``: LTI Dynamic Registration 1.0 (1EdTech; Moodle 4.1+, Canvas). The LMS
  opens this URL with ``openid_configuration`` and ``registration_token``; the tool reads
  the platform's OpenID configuration, posts its client registration to the platform's
  ``registration_endpoint`` and stores the platform with the client id and deployment the
  platform answers. The URL must also carry ``code``, a one-time code a site admin made
  (``lti registration-link``, the admin page): the URL is pasted into an LMS by hand, and an
  open registration would let anyone who finds it add a platform, then courses and users.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import current_app, g, jsonify, render_template, request
from werkzeug.wrappers import Response

from ..db import db
from ..lms import keys, registry
from ..lms.platforms import AGS_SCOPES, HTTP_TIMEOUT, NRPS_SCOPE, origin
from . import bp
from .tool import tool_url

log = logging.getLogger(__name__)

TITLE = "backprop-quiz"
DESCRIPTION = (
    "Backpropagation exercises: each student computes gradients by hand on their own "
    "variant of a network, graded at once with named mistakes."
)
SCOPES = (*AGS_SCOPES, NRPS_SCOPE)
CANVAS = "canvas.instructure.com"
# Where Canvas offers the tool: the deep-linking placements let an instructor pick or build
# an assignment; course navigation opens the course's dashboard.
DEEP_LINKING_PLACEMENTS = ("link_selection", "assignment_selection")
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
MAX_DOCUMENT = 1 << 20  # a platform's JSON answer larger than 1 MiB is refused


@bp.get("/lti/jwks")
def jwks() -> Response:
    grace = current_app.extensions["settings"].lti_key_grace_days
    document = keys.published(db.session, grace)
    db.session.commit()  # a key made on first need is kept
    return jsonify(document)


def _domain() -> str:
    return urlsplit(tool_url("lti.launch")).netloc


@bp.get("/lti/config")
def config() -> Response:
    """The Canvas developer key's JSON configuration ("Paste JSON" or "Enter URL")."""
    launch = tool_url("lti.launch")
    placement = {"target_link_uri": launch, "text": TITLE}
    return jsonify(
        {
            "title": TITLE,
            "description": DESCRIPTION,
            "oidc_initiation_url": tool_url("lti.login"),
            "target_link_uri": launch,
            "redirect_uris": [launch],
            "public_jwk_url": tool_url("lti.jwks"),
            "scopes": list(SCOPES),
            "extensions": [
                {
                    "platform": CANVAS,
                    "domain": _domain(),
                    "tool_id": TITLE,
                    "privacy_level": "public",  # names and emails: our users are people
                    "settings": {
                        "text": TITLE,
                        "placements": [
                            *(
                                {
                                    **placement,
                                    "placement": p,
                                    "message_type": "LtiDeepLinkingRequest",
                                }
                                for p in DEEP_LINKING_PLACEMENTS
                            ),
                            {
                                **placement,
                                "placement": "course_navigation",
                                "message_type": "LtiResourceLinkRequest",
                            },
                        ],
                    },
                }
            ],
            # The tool needs none: a link's assignment travels in its content item's custom.
            "custom_fields": {},
        }
    )


class RegistrationFailed(Exception):
    """Dynamic Registration stopped: ``what`` failed, ``detail`` says how; nothing stored."""

    def __init__(self, what: str, detail: str, status: int = 400):
        super().__init__(f"{what}: {detail}")
        self.what = what
        self.detail = detail
        self.status = status


@dataclass(frozen=True)
class PlatformConfiguration:
    """What the tool keeps of a platform's OpenID configuration."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    registration_endpoint: str
    product: str


def _document(response: requests.Response, what: str) -> dict[str, Any]:
    """The JSON object of a platform's answer, read up to MAX_DOCUMENT bytes."""
    body = response.raw.read(MAX_DOCUMENT + 1, decode_content=True)
    if len(body) > MAX_DOCUMENT:
        raise RegistrationFailed(what, f"the answer is larger than {MAX_DOCUMENT} bytes")
    try:
        document = json.loads(body)
    except ValueError:
        raise RegistrationFailed(what, "the answer is not JSON") from None
    if not isinstance(document, dict):
        raise RegistrationFailed(what, "the answer is not a JSON object")
    return document


def _url_field(document: dict[str, Any], name: str, what: str) -> str:
    value = document.get(name)
    try:
        return registry.check_url(name, value if isinstance(value, str) else "")
    except registry.RegistryError as exc:
        raise RegistrationFailed(what, str(exc)) from None


def read_configuration(url: str, token: str) -> PlatformConfiguration:
    """The platform's OpenID configuration at ``url``; RegistrationFailed naming the fault."""
    what = "the platform's OpenID configuration"
    try:
        url = registry.check_url("openid_configuration", url)
    except registry.RegistryError as exc:
        raise RegistrationFailed(what, str(exc)) from None
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"  # Canvas asks for it here too
    try:
        # No redirects: the issuer must be the origin we were given (below).
        response = requests.get(
            url, headers=headers, timeout=HTTP_TIMEOUT, stream=True, allow_redirects=False
        )
    except requests.RequestException as exc:
        raise RegistrationFailed(what, f"could not be read from {url}: {exc}", 502) from None
    with response:
        if response.status_code != 200:
            raise RegistrationFailed(what, f"{url} answered HTTP {response.status_code}", 502)
        document = _document(response, what)
    issuer = document.get("issuer")
    if not isinstance(issuer, str) or not issuer:
        raise RegistrationFailed(what, "it names no issuer")
    # LTI-DR 1.0 §3.5.1: a configuration may only speak for its own origin; else any page
    # could register itself under another platform's issuer.
    if origin(issuer) != origin(url):
        raise RegistrationFailed(
            what, f"its issuer {issuer} is not on the origin it was read from ({origin(url)})"
        )
    platform = document.get(PLATFORM_CONFIGURATION)
    if not isinstance(platform, dict):
        raise RegistrationFailed(
            what, f"it has no {PLATFORM_CONFIGURATION} claim: not an LTI platform"
        )
    product = platform.get("product_family_code")
    return PlatformConfiguration(
        issuer=issuer,
        authorization_endpoint=_url_field(document, "authorization_endpoint", what),
        token_endpoint=_url_field(document, "token_endpoint", what),
        jwks_uri=_url_field(document, "jwks_uri", what),
        # The registration token is the platform's own, for this endpoint of its choice:
        # posting it there tells nobody anything the platform did not mean to.
        registration_endpoint=_url_field(document, "registration_endpoint", what),
        product=product if isinstance(product, str) else "",
    )


def client_registration() -> dict[str, Any]:
    """The tool's client registration (LTI-DR 1.0 §3.4, OpenID Connect Dynamic Client
    Registration with the LTI tool configuration)."""
    launch = tool_url("lti.launch")
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": tool_url("lti.login"),
        "redirect_uris": [launch],
        "client_name": TITLE,
        "jwks_uri": tool_url("lti.jwks"),
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(SCOPES),
        TOOL_CONFIGURATION: {
            "domain": _domain(),
            "target_link_uri": launch,
            "description": DESCRIPTION,
            "claims": ["iss", "sub", "name", "given_name", "family_name", "email"],
            "messages": [
                {
                    "type": "LtiDeepLinkingRequest",
                    "target_link_uri": launch,
                    "label": "backprop-quiz assignment",
                    "placements": list(DEEP_LINKING_PLACEMENTS),
                }
            ],
            "https://canvas.instructure.com/lti/privacy_level": "public",
        },
    }


def post_registration(configuration: PlatformConfiguration, token: str) -> tuple[str, str | None]:
    """Register the tool with the platform: (client id, deployment id or None)."""
    what = "the platform's registration endpoint"
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = requests.post(
            configuration.registration_endpoint,
            json=client_registration(),
            headers=headers,
            timeout=HTTP_TIMEOUT,
            stream=True,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise RegistrationFailed(what, f"could not be reached: {exc}", 502) from None
    with response:
        if response.status_code not in (200, 201):
            reason = response.raw.read(500, decode_content=True).decode("utf-8", "replace")
            raise RegistrationFailed(
                what,
                f"the platform refused the registration (HTTP {response.status_code}): "
                f"{reason.strip() or 'no reason given'}",
                502,
            )
        document = _document(response, what)
    client_id = document.get("client_id")
    if not isinstance(client_id, str | int) or not str(client_id).strip():
        raise RegistrationFailed(what, "its answer has no client_id")
    tool = document.get(TOOL_CONFIGURATION)
    deployment = tool.get("deployment_id") if isinstance(tool, dict) else None
    return str(client_id), (str(deployment) if deployment not in (None, "") else None)


def _failed(what: str, detail: str, status: int) -> tuple[str, int]:
    log.warning("lti registration failed: %s: %s", what, detail)
    return render_template("lti/register_failed.html", what=what, detail=detail), status


@bp.route("/lti/register", methods=["GET", "POST"])
def register() -> str | tuple[str, int]:
    """Dynamic Registration with an admin's one-time code; every failure is a page naming
    what failed, and stores nothing."""
    code = request.values.get("code", "")
    config_url = request.values.get("openid_configuration", "")
    token = request.values.get("registration_token", "")
    if urlsplit(config_url).scheme in ("https", "http") and urlsplit(config_url).hostname:
        # The registering LMS frames this page before it is a registered platform: its
        # origin may frame it (read by the blueprint's frame_headers).
        g.lti_origins = [origin(config_url)]
    if not code:
        return render_template("lti/register_failed.html", what=None, detail=None), 403
    try:
        pending = registry.registration_code(db.session, code)
    except registry.RegistryError as exc:
        return _failed("the registration code", str(exc), 403)
    if not config_url:
        return _failed(
            "the request",
            "the LMS sent no openid_configuration: open this link "
            "from the LMS's dynamic registration (tool URL) field",
            400,
        )
    try:
        configuration = read_configuration(config_url, token)
        client_id, deployment_id = post_registration(configuration, token)
        platform = registry.add_platform(
            db.session,
            registry.PlatformSpec(
                issuer=configuration.issuer,
                client_id=client_id,
                name=configuration.product or urlsplit(configuration.issuer).netloc,
                auth_login_url=configuration.authorization_endpoint,
                auth_token_url=configuration.token_endpoint,
                jwks_url=configuration.jwks_uri,
                deployment_ids=[deployment_id] if deployment_id else [],
            ),
            registered_by="dynamic",
        )
        registry.use_registration_code(db.session, pending, platform)
    except RegistrationFailed as exc:
        db.session.rollback()
        return _failed(exc.what, exc.detail, exc.status)
    except registry.RegistryError as exc:
        db.session.rollback()
        return _failed("storing the platform", str(exc), 409)
    db.session.commit()
    log.info(
        "lti platform registered: iss=%s client_id=%s deployment_id=%s",
        platform.issuer,
        platform.client_id,
        deployment_id,
    )
    return render_template("lti/register_done.html", platform=platform, deployment_id=deployment_id)
