"""The platform's registration part: LTI Dynamic Registration 1.0 and the deep-linking
return (LTI Deep Linking 2.0 §4), as a platform implements them.

- ``GET /.well-known/openid-configuration``: the platform's OpenID configuration with its
  LTI platform configuration claim;
- ``POST /register``: a tool's client registration, with the bearer registration token
  this platform issued (``start_registration``); checked field by field against the
  specification, answered with the client id and a deployment id;
- ``POST /deep_links/return``: a tool's ``LtiDeepLinkingResponse``, verified over HTTP
  against the tool's JWKS, its content items kept in ``deep_link_items``.

Written from the specifications with PyJWT, never with the tool's code.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
import requests
from flask import Blueprint, Flask, current_app, jsonify, request

LTI_PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
LTI_TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/"
SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
]

bp = Blueprint("lms_registration", __name__)


class Refused(Exception):
    """A request the platform refuses, with the reason it answers (400 unless told)."""

    def __init__(self, reason: str, status: int = 400):
        super().__init__(reason)
        self.reason = reason
        self.status = status


def _lms() -> Any:
    return current_app.extensions["lms"]


def _url(value: Any, name: str) -> str:
    if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https"):
        raise Refused(f"invalid_client_metadata: {name} must be an http(s) URL")
    if not urlsplit(value).hostname:
        raise Refused(f"invalid_client_metadata: {name} has no host")
    return value


class Registration:
    """Mixin of ``Lms``: Dynamic Registration and the deep-linking return."""

    app: Flask
    url: str
    issuer: str
    client_id: str
    deployment_id: str
    tool: dict[str, Any]
    lock: threading.Lock

    def setup(self) -> None:
        self.registration_tokens: dict[str, bool] = {}  # issued token -> used
        self.registrations: list[dict[str, Any]] = []  # the tool registrations accepted
        self.refuse_registration: str | None = None  # set: /register answers 400 with it
        self.openid_issuer: str | None = None  # set: the configuration names this issuer
        # The `data` of each deep-linking request sent, and the course it was sent from.
        self.deep_link_data: dict[str, str] = {}
        self.placed: list[tuple[str, str]] = []  # (context id, resource link id) placed
        self.deep_link_items: list[dict[str, Any]] = []  # content items accepted
        self.deep_link_nonces: set[str] = set()
        self.app.register_blueprint(bp)

    # -- what a test drives ---------------------------------------------------------------

    def start_registration(self, tool_register_url: str) -> str:
        """The URL this platform opens (in its registration frame) to register the tool
        whose Dynamic Registration URL is ``tool_register_url``."""
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.registration_tokens[token] = False
        query = urlencode(
            {
                "openid_configuration": f"{self.url}/.well-known/openid-configuration",
                "registration_token": token,
            }
        )
        return f"{tool_register_url}{'&' if '?' in tool_register_url else '?'}{query}"

    def deep_linking_settings(self, **changes: Any) -> dict[str, Any]:
        """The deep_linking_settings claim of a request this platform sends, with a fresh
        opaque ``data`` the tool must echo."""
        data = changes.pop("data", None) or secrets.token_urlsafe(12)
        context_id = changes.pop("context_id", None) or self.context.id  # type: ignore[attr-defined]
        with self.lock:
            self.deep_link_data[data] = context_id
        settings = {
            "deep_link_return_url": f"{self.url}/deep_links/return",
            "accept_types": ["ltiResourceLink"],
            "accept_presentation_document_targets": ["iframe", "window"],
            "accept_multiple": False,
            "accept_lineitem": True,
            "title": "Add an activity",
            "data": data,
        }
        settings.update(changes)
        return settings

    # -- the checks -----------------------------------------------------------------------

    def check_client_registration(self, body: Any) -> dict[str, Any]:
        """The tool's client registration, checked per LTI-DR 1.0 §3.4 and OIDC DCR; the
        tool's URLs as this platform keeps them."""
        if not isinstance(body, dict):
            raise Refused("invalid_client_metadata: the body is not a JSON object")
        login, redirects, jwks = _check_client_fields(body)
        config = body.get(LTI_TOOL_CONFIGURATION)
        if not isinstance(config, dict):
            raise Refused(f"invalid_client_metadata: {LTI_TOOL_CONFIGURATION} is required")
        target, deep_link = _check_tool_configuration(config)
        # The tool's URLs must be on its declared domain (LTI-DR 1.0 §3.4.1).
        named = [("initiate_login_uri", login), ("jwks_uri", jwks), ("target_link_uri", target)]
        for name, uri in [*named, *(("redirect_uris", r) for r in redirects)]:
            if urlsplit(uri).netloc != config["domain"]:
                raise Refused(f"invalid_client_metadata: {name} is not on {config['domain']}")
        return {"login": login, "launch": redirects[0], "jwks": jwks, "deep_link": deep_link}

    def check_deep_linking_response(self, token: str) -> tuple[str, list[dict[str, Any]]]:
        """The tool's LtiDeepLinkingResponse verified (LTI DL 2.0 §4.2, Security 1.0 §5.2):
        signed by a key the tool publishes, for us, from our client, once; the course the
        request came from, and the items."""
        claims = self._verified(token)
        with self.lock:
            if claims["nonce"] in self.deep_link_nonces:
                raise Refused("the nonce was used before")
            self.deep_link_nonces.add(claims["nonce"])
        if claims.get(CLAIM + "message_type") != "LtiDeepLinkingResponse":
            raise Refused("message_type must be LtiDeepLinkingResponse")
        if claims.get(CLAIM + "version") != "1.3.0":
            raise Refused("version must be 1.3.0")
        if claims.get(CLAIM + "deployment_id") != self.deployment_id:
            raise Refused(f"deployment_id must be {self.deployment_id}")
        data = claims.get(DL_CLAIM + "data")
        with self.lock:
            if data not in self.deep_link_data:
                raise Refused("data is not the value of a request this platform sent")
            context_id = self.deep_link_data.pop(data)
        items = claims.get(DL_CLAIM + "content_items", [])
        if not isinstance(items, list):
            raise Refused("content_items must be a list")
        for item in items:
            _check_item(item)
        return context_id, items

    def place_items(self, context_id: str, items: list[dict[str, Any]]) -> None:
        """Put accepted resource links in the course, as an LMS does: a new resource link
        each, with its custom parameters, and a gradebook column (line item) for each that
        asks for one, bound to the link (AGS 2.0 §3.2.5)."""
        from . import Context  # the package imports this module first

        try:
            context = self.context_of(context_id)  # type: ignore[attr-defined]
        except KeyError:  # a course the platform knows only from launches
            context = Context(id=context_id)
        for item in items:
            if item.get("type") != "ltiResourceLink":
                continue
            with self.lock:
                link_id = f"dl-{len(self.placed) + 1}"
                self.placed.append((context_id, link_id))
            lineitem = None
            wanted = item.get("lineItem")
            if isinstance(wanted, dict):
                with self.lock:
                    number = next(self.lineitem_numbers)  # type: ignore[attr-defined]
                    lineitem = f"{self.url}/lineitems/{number}"  # type: ignore[attr-defined]
                    self.lineitems[number] = {  # type: ignore[attr-defined]
                        "id": lineitem,
                        "label": wanted.get("label") or item.get("title", ""),
                        "scoreMaximum": wanted["scoreMaximum"],
                        "resourceLinkId": link_id,
                        **({"resourceId": wanted["resourceId"]} if "resourceId" in wanted else {}),
                        "context_id": context_id,
                    }
            self.place(  # type: ignore[attr-defined]
                link_id,
                context=context,
                title=item.get("title", ""),
                custom=item.get("custom"),
                lineitem=lineitem,
            )

    def _verified(self, token: str) -> dict[str, Any]:
        """The JWT's claims once its RS256 signature verifies with the tool's published key
        of its kid (fetched over HTTP), for this issuer, from our client, unexpired."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Refused(f"not a JWT: {exc}") from None
        if header.get("alg") != "RS256":
            raise Refused(f"alg must be RS256, got {header.get('alg')}")
        if not header.get("kid"):
            raise Refused("the JWT header has no kid")
        keyset = requests.get(self.tool["jwks"], timeout=10)
        if keyset.status_code != 200:
            raise Refused(f"the tool's JWKS answered {keyset.status_code}")
        known = {k.get("kid"): k for k in keyset.json().get("keys", [])}
        if header["kid"] not in known:
            raise Refused(f"unknown kid {header['kid']}: not in the tool's JWKS")
        try:
            return jwt.decode(
                token,
                jwt.PyJWK(known[header["kid"]], algorithm="RS256").key,
                algorithms=["RS256"],
                audience=self.issuer,
                issuer=self.client_id,
                options={"require": ["exp", "iat", "iss", "aud", "nonce"]},
                leeway=5,
            )
        except jwt.PyJWTError as exc:
            raise Refused(f"the JWT does not verify: {exc}") from None


def _check_client_fields(body: dict[str, Any]) -> tuple[str, list[str], str]:
    """The OpenID Connect client fields LTI fixes: (login, redirect URIs, JWKS URI)."""
    fixed = {
        "application_type": body.get("application_type") == "web",
        "response_types": "id_token" in (body.get("response_types") or []),
        "grant_types": {"implicit", "client_credentials"} <= set(body.get("grant_types") or []),
        "token_endpoint_auth_method": body.get("token_endpoint_auth_method") == "private_key_jwt",
        "client_name": isinstance(body.get("client_name"), str) and bool(body["client_name"]),
    }
    for name, good in fixed.items():
        if not good:
            raise Refused(f"invalid_client_metadata: {name} is missing or not as LTI requires")
    redirects = body.get("redirect_uris")
    if not isinstance(redirects, list) or not redirects:
        raise Refused("invalid_redirect_uri: redirect_uris must be a non-empty list")
    scopes = set(str(body.get("scope", "")).split())
    if not scopes <= set(SCOPES):
        raise Refused(f"invalid_client_metadata: unsupported scopes {sorted(scopes - set(SCOPES))}")
    return (
        _url(body.get("initiate_login_uri"), "initiate_login_uri"),
        [_url(uri, "redirect_uris") for uri in redirects],
        _url(body.get("jwks_uri"), "jwks_uri"),
    )


def _check_tool_configuration(config: dict[str, Any]) -> tuple[str, str | None]:
    """The LTI tool configuration: (target link URI, the deep-linking message's URI)."""
    if not isinstance(config.get("domain"), str) or not config["domain"]:
        raise Refused("invalid_client_metadata: the tool configuration needs a domain")
    target = _url(config.get("target_link_uri"), "target_link_uri")
    if not isinstance(config.get("claims"), list) or "sub" not in config["claims"]:
        raise Refused("invalid_client_metadata: claims must be a list holding sub")
    messages = config.get("messages")
    if not isinstance(messages, list):
        raise Refused("invalid_client_metadata: messages must be a list")
    deep_link = None
    for message in messages:
        if not isinstance(message, dict) or message.get("type") not in (
            "LtiResourceLinkRequest",
            "LtiDeepLinkingRequest",
        ):
            raise Refused("invalid_client_metadata: a message of an unsupported type")
        if not isinstance(message.get("placements", []), list):
            raise Refused("invalid_client_metadata: placements must be a list")
        uri = _url(message.get("target_link_uri", target), "messages.target_link_uri")
        if message["type"] == "LtiDeepLinkingRequest":
            deep_link = uri
    return target, deep_link


def _check_item(item: Any) -> None:
    if not isinstance(item, dict) or item.get("type") != "ltiResourceLink":
        raise Refused("only ltiResourceLink items are accepted here")
    line_item = item.get("lineItem")
    if line_item is None:
        return
    maximum = line_item.get("scoreMaximum") if isinstance(line_item, dict) else None
    if not isinstance(maximum, int | float) or maximum <= 0:
        raise Refused("lineItem.scoreMaximum must be a positive number")


@bp.errorhandler(Refused)
def _refused(error: Refused) -> tuple[str, int]:
    return error.reason, error.status


@bp.get("/.well-known/openid-configuration")
def openid_configuration() -> Any:
    lms = _lms()
    return jsonify(
        {
            "issuer": lms.openid_issuer or lms.issuer,
            "authorization_endpoint": f"{lms.url}/auth",
            "token_endpoint": f"{lms.url}/token",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "jwks_uri": f"{lms.url}/jwks",
            "registration_endpoint": f"{lms.url}/register",
            "scopes_supported": ["openid", *SCOPES],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email"],
            LTI_PLATFORM_CONFIGURATION: {
                "product_family_code": "lmsim",
                "version": "1.0",
                "messages_supported": [
                    {"type": "LtiResourceLinkRequest"},
                    {"type": "LtiDeepLinkingRequest", "placements": ["link_selection"]},
                ],
                "variables": ["Context.id", "ResourceLink.id", "User.id"],
            },
        }
    )


@bp.post("/register")
def register() -> Any:
    lms = _lms()
    auth = request.headers.get("Authorization", "")
    token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else ""
    with lms.lock:
        if lms.registration_tokens.get(token) is not False:
            raise Refused(
                "invalid_token: not a registration token this platform issued, or one used already",
                401,
            )
        lms.registration_tokens[token] = True
    if lms.refuse_registration:
        raise Refused(f"invalid_client_metadata: {lms.refuse_registration}")
    body = request.get_json(silent=True)
    urls = lms.check_client_registration(body)
    client_id = f"client-{secrets.token_hex(6)}"
    deployment_id = f"deployment-{secrets.token_hex(4)}"
    with lms.lock:
        lms.client_id = client_id
        lms.deployment_id = deployment_id
        lms.tool = urls
        lms.registrations.append(body)
    answer = dict(body)
    answer["client_id"] = client_id
    answer["client_id_issued_at"] = int(time.time())
    configuration = {**body[LTI_TOOL_CONFIGURATION], "deployment_id": deployment_id}
    answer[LTI_TOOL_CONFIGURATION] = configuration
    return jsonify(answer), 201


@bp.post("/deep_links/return")
def deep_link_return() -> tuple[str, int]:
    lms = _lms()
    token = request.form.get("JWT", "")
    if not token:
        raise Refused("no JWT in the form")
    context_id, items = lms.check_deep_linking_response(token)
    with lms.lock:
        lms.deep_link_items.extend(items)
    lms.place_items(context_id, items)
    return "accepted", 200
