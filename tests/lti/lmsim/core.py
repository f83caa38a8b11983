"""The platform's core: its RSA keys and JWKS, the OIDC authorization endpoint, and the
driver that launches the tool as a browser would.

The flow is the 1EdTech Security Framework's §5.1 (OpenID Connect third-party initiated
login, implicit flow with ``form_post``) carrying an LTI 1.3 core message (§5.3, §5.4):

1. the platform sends the browser to the tool's login initiation URL with ``iss``,
   ``login_hint``, ``target_link_uri``, ``lti_message_hint``, ``client_id``,
   ``lti_deployment_id``;
2. the tool redirects it to ``/auth`` here with an OIDC authentication request;
3. ``/auth`` checks that request, signs an id_token (RS256, its current key) with the
   launch's claims, and answers a page that form-posts ``id_token`` and ``state`` to the
   tool's ``redirect_uri``;
4. the browser posts them; the tool answers.

``lti_message_hint`` is the platform's own opaque reference to the launch a user asked
for (Canvas and Moodle use it that way): the driver files the launch under it, ``/auth``
builds the message from it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urljoin

import requests
from flask import Blueprint, current_app, jsonify, render_template_string, request
from flask.typing import ResponseReturnValue
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS

if TYPE_CHECKING:
    from . import Context, LmsUser

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_ENDPOINT = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DEEP_LINKING_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
AGS_SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
]
COURSE_OFFERING = "http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"
RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
ID_TOKEN_LIFETIME = 300  # seconds
TIMEOUT = 30  # seconds, for each request the driver makes

Tamper = Callable[["Forgery"], None]


@dataclass
class Forgery:
    """The id_token ``/auth`` is about to sign and the state it will post back, handed to a
    test's ``tamper`` to change. ``key`` signs by the header's ``alg``: a private JWK for
    RS256, bytes for HS256, nothing for ``none``. A set ``id_token`` is posted as it is."""

    header: dict[str, Any]
    claims: dict[str, Any]
    key: JWK | bytes | None
    state: str
    id_token: str | None = None


@dataclass
class PlacedLink:
    """A resource link placed in a course (by hand or by deep linking): what its launches
    carry besides the user's claims."""

    title: str = ""
    custom: dict[str, str] | None = None
    lineitem: str | None = None  # the AGS line item bound to the link


@dataclass
class _Pending:
    """A launch the driver asked for, filed under its ``lti_message_hint``."""

    user: LmsUser
    message_type: str
    resource_link_id: str
    context: Context
    target_link_uri: str
    custom: dict[str, str] | None
    lineitem: str | None
    data: str
    framed: bool
    tamper: Tamper | None


class LaunchError(AssertionError):
    """The platform would not launch: the tool's authentication request was refused here, or
    the tool sent the browser somewhere unexpected."""


bp = Blueprint("lms_core", __name__)


class Core:
    """Mixin of ``Lms``: keys, JWKS, OIDC authorization, the launch driver."""

    app: Any
    url: str
    client_id: str
    deployment_id: str
    context: Context
    members: list[LmsUser]
    tool: dict[str, Any]
    lock: Any

    @property
    def issuer(self) -> str:
        raise NotImplementedError

    def setup(self) -> None:
        self.keys: list[JWK] = []  # published at /jwks; the last one signs
        self.rotate_key()
        self.links: dict[tuple[str, str], PlacedLink] = {}  # (context id, resource link id)
        self.forms: list[dict[str, str]] = []  # every id_token form /auth answered
        self._pending: dict[str, _Pending] = {}
        # course pages: (title, frame src, course)
        self.pages: dict[str, tuple[str, str, Context]] = {}
        self.app.register_blueprint(bp)

    # --- keys ---------------------------------------------------------------------------

    def rotate_key(self) -> str:
        """Add a new RSA key that signs from now on (the old ones stay published); its kid."""
        key = JWK.generate(kty="RSA", size=2048, kid=secrets.token_hex(8), alg="RS256", use="sig")
        self.keys.append(key)
        return str(key["kid"])

    @property
    def signing_key(self) -> JWK:
        return self.keys[-1]

    def public_pem(self) -> bytes:
        """The signing key's public half as PEM: what anyone can read, hence what an HS256
        forgery would use as its HMAC secret."""
        return bytes(self.signing_key.export_to_pem())

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.export_public(as_dict=True) for key in self.keys]}

    # --- links ---------------------------------------------------------------------------

    def place(
        self,
        resource_link_id: str,
        *,
        context: Context | None = None,
        title: str = "",
        custom: dict[str, str] | None = None,
        lineitem: str | None = None,
    ) -> PlacedLink:
        """Place a resource link in a course; its launches carry this title, custom
        parameters and line item (unless the launch gives its own)."""
        context_id = (context or self.context).id
        link = PlacedLink(title=title, custom=custom, lineitem=lineitem)
        with self.lock:
            self.links[(context_id, resource_link_id)] = link
        return link

    # --- the driver ----------------------------------------------------------------------

    def _begin(
        self,
        user: LmsUser,
        *,
        message_type: str = RESOURCE_LINK_REQUEST,
        resource_link_id: str = "link-1",
        custom: dict[str, str] | None = None,
        context: Context | None = None,
        lineitem: str | None = None,
        deep_linking_data: str | None = None,
        target_link_uri: str | None = None,
        framed: bool = False,
        tamper: Tamper | None = None,
    ) -> tuple[str, dict[str, str]]:
        """File a launch under a new ``lti_message_hint``; the login initiation's parameters."""
        if not self.tool:
            raise LaunchError("no tool is registered with this platform (lms.tool is empty)")
        with self.lock:
            if all(member.sub != user.sub for member in self.members):
                self.members.append(user)
        deep = message_type == DEEP_LINKING_REQUEST
        target = target_link_uri or self.tool["deep_link" if deep else "launch"]
        hint = secrets.token_urlsafe(16)
        with self.lock:
            self._pending[hint] = _Pending(
                user=user,
                message_type=message_type,
                resource_link_id=resource_link_id,
                context=context or self.context,
                target_link_uri=target,
                custom=custom,
                lineitem=lineitem,
                data=deep_linking_data or secrets.token_urlsafe(8),
                framed=framed,
                tamper=tamper,
            )
        initiation = {
            "iss": self.issuer,
            "login_hint": user.sub,
            "target_link_uri": target,
            "lti_message_hint": hint,
            "client_id": self.client_id,
            "lti_deployment_id": self.deployment_id,
        }
        return hint, initiation

    def course_page(
        self,
        user: LmsUser,
        resource_link_id: str,
        *,
        title: str = "",
        custom: dict[str, str] | None = None,
        context: Context | None = None,
    ) -> str:
        """The URL of this platform's page of a course activity as ``user`` sees it: the
        LMS's own header and navigation around an iframe that launches the tool, as Canvas
        and Moodle frame an external tool (the login initiation by GET in the frame)."""
        _, initiation = self._begin(
            user, resource_link_id=resource_link_id, custom=custom, context=context, framed=True
        )
        page = secrets.token_urlsafe(8)
        with self.lock:
            self.pages[page] = (
                title or resource_link_id,
                f"{self.tool['login']}?{urlencode(initiation)}",
            )
        return f"{self.url}/pages/{page}"

    def launch(
        self,
        http: requests.Session,
        user: LmsUser,
        *,
        message_type: str = RESOURCE_LINK_REQUEST,
        resource_link_id: str = "link-1",
        custom: dict[str, str] | None = None,
        context: Context | None = None,
        lineitem: str | None = None,
        deep_linking_data: str | None = None,
        target_link_uri: str | None = None,
        framed: bool = False,
        login_method: str = "POST",
        tamper: Tamper | None = None,
        follow: bool = True,
    ) -> requests.Response:
        """Launch the tool for ``user`` as their browser would and return the tool's answer
        to the id_token's form post (its redirects followed unless ``follow`` is False), or
        its answer to the login initiation when that is not a redirect.

        ``user`` joins ``members`` if not there (one launches from a course one is in).
        ``framed`` sends ``Sec-Fetch-Dest: iframe``, as a browser does inside the LMS's
        page; ``tamper`` may change the id_token's header, claims, signing key or state
        before ``/auth`` signs and posts them. Raises LaunchError when ``/auth`` refuses
        the tool's authentication request.
        """
        hint, initiation = self._begin(
            user,
            message_type=message_type,
            resource_link_id=resource_link_id,
            custom=custom,
            context=context,
            lineitem=lineitem,
            deep_linking_data=deep_linking_data,
            target_link_uri=target_link_uri,
            framed=framed,
            tamper=tamper,
        )
        browser = {
            "Sec-Fetch-Dest": "iframe" if framed else "document",
            "Sec-Fetch-Mode": "navigate",
            "Sec-Fetch-Site": "cross-site",
        }
        if login_method == "GET":
            started = http.get(
                self.tool["login"],
                params=initiation,
                headers=browser,
                allow_redirects=False,
                timeout=TIMEOUT,
            )
        else:
            started = http.post(
                self.tool["login"],
                data=initiation,
                headers={**browser, "Origin": self.url},
                allow_redirects=False,
                timeout=TIMEOUT,
            )
        if started.status_code not in (302, 303):
            with self.lock:
                self._pending.pop(hint, None)
            return started
        auth_url = urljoin(started.url, started.headers["Location"])
        if not auth_url.startswith(f"{self.url}/auth?"):
            raise LaunchError(f"the tool sent the browser to {auth_url}, not to {self.url}/auth")
        page = http.get(auth_url, headers=browser, allow_redirects=False, timeout=TIMEOUT)
        if page.status_code != 200:
            raise LaunchError(f"/auth answered {page.status_code}: {page.text[:500]}")
        form = _Form.parse(page.text)
        if "error" in form.fields:
            raise LaunchError(
                f"/auth refused the tool's request: {form.fields['error']}: "
                f"{form.fields.get('error_description', '')}"
            )
        return http.post(
            form.action,
            data=form.fields,
            headers={**browser, "Origin": self.url},
            allow_redirects=follow,
            timeout=TIMEOUT,
        )

    # --- the authorization endpoint ---------------------------------------------------------

    def authorize(self, params: Any) -> ResponseReturnValue:
        """Answer an OIDC authentication request (OIDC Core §3.2.2, as LTI restricts it):
        a form post of the signed id_token and the state, or of an error."""
        redirect_uri = params.get("redirect_uri")
        # With an unknown client or redirect URI there is nowhere safe to answer: a page.
        if params.get("client_id") != self.client_id:
            return f"unknown client_id {params.get('client_id')!r}", 400
        if redirect_uri != self.tool.get("launch"):
            return f"redirect_uri {redirect_uri!r} is not the tool's registered one", 400
        state = params.get("state", "")

        def fail(error: str, description: str) -> ResponseReturnValue:
            fields = {"error": error, "error_description": description, "state": state}
            return render_template_string(FORM_POST, action=redirect_uri, fields=fields)

        if "openid" not in params.get("scope", "").split():
            return fail("invalid_scope", "scope must be openid")
        if params.get("response_type") != "id_token":
            return fail("unsupported_response_type", "response_type must be id_token")
        if params.get("response_mode") != "form_post":
            return fail("invalid_request", "response_mode must be form_post")
        if params.get("prompt") != "none":
            return fail("invalid_request", "prompt must be none")
        if not params.get("nonce"):
            return fail("invalid_request", "a nonce is required")
        if not state:
            return fail("invalid_request", "a state is required")
        user = next((m for m in self.members if m.sub == params.get("login_hint")), None)
        if user is None:
            return fail("login_required", "login_hint is not a user of this platform")
        with self.lock:
            pending = self._pending.pop(params.get("lti_message_hint", ""), None)
        if pending is None or pending.user.sub != user.sub:
            return fail("invalid_request", "lti_message_hint names no launch of this user")
        forgery = Forgery(
            header={"typ": "JWT", "alg": "RS256", "kid": self.signing_key["kid"]},
            claims=self.claims(pending, params["nonce"]),
            key=self.signing_key,
            state=state,
        )
        if pending.tamper is not None:
            pending.tamper(forgery)
        id_token = forgery.id_token or sign(forgery.header, forgery.claims, forgery.key)
        fields = {"id_token": id_token, "state": forgery.state}
        with self.lock:
            self.forms.append(fields)
        return render_template_string(FORM_POST, action=redirect_uri, fields=fields)

    def claims(self, pending: _Pending, nonce: str) -> dict[str, Any]:
        """The id_token's claims for a launch: OIDC's and LTI 1.3 core's, the AGS and NRPS
        endpoints, and the deep linking settings for a deep linking request."""
        now = int(time.time())
        user, context = pending.user, pending.context
        given, _, family = user.name.partition(" ")
        services = f"{self.url}/contexts/{quote(context.id, safe='')}"
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "azp": self.client_id,
            "sub": user.sub,
            "exp": now + ID_TOKEN_LIFETIME,
            "iat": now,
            "nonce": nonce,
            "name": user.name,
            "given_name": given,
            "family_name": family,
            LTI + "message_type": pending.message_type,
            LTI + "version": "1.3.0",
            LTI + "deployment_id": self.deployment_id,
            LTI + "target_link_uri": pending.target_link_uri,
            LTI + "roles": list(user.roles),
            LTI + "context": {
                "id": context.id,
                "label": context.label,
                "title": context.title,
                "type": [COURSE_OFFERING],
            },
            LTI + "tool_platform": {
                "guid": f"{self.issuer}/lmsim",
                "name": "lmsim",
                "product_family_code": "lmsim",
                "version": "1.0",
            },
            LTI + "launch_presentation": {
                "document_target": "iframe" if pending.framed else "window",
                "locale": "en",
            },
            AGS_ENDPOINT: {"scope": list(AGS_SCOPES), "lineitems": f"{services}/lineitems"},
            NRPS: {
                "context_memberships_url": f"{services}/memberships",
                "service_versions": ["2.0"],
            },
        }
        if user.email:
            claims["email"] = user.email
        custom = pending.custom
        if pending.message_type == DEEP_LINKING_REQUEST:
            claims[DEEP_LINKING_SETTINGS] = self.deep_linking_settings(  # type: ignore[attr-defined]
                title=context.title, auto_create=True, data=pending.data, context_id=context.id
            )
        else:
            placed = self.links.get((context.id, pending.resource_link_id), PlacedLink())
            claims[LTI + "resource_link"] = {
                "id": pending.resource_link_id,
                "title": placed.title or pending.resource_link_id,
            }
            custom = custom if custom is not None else placed.custom
            lineitem = pending.lineitem or placed.lineitem
            if lineitem:
                claims[AGS_ENDPOINT]["lineitem"] = lineitem
        if custom:
            claims[LTI + "custom"] = dict(custom)
        return claims


@bp.get("/jwks")
def jwks() -> ResponseReturnValue:
    return jsonify(current_app.extensions["lms"].jwks())


@bp.route("/auth", methods=["GET", "POST"])
def auth() -> ResponseReturnValue:
    platform: Core = current_app.extensions["lms"]
    return platform.authorize(request.values)


@bp.get("/pages/<page>")
def course_page(page: str) -> ResponseReturnValue:
    platform: Core = current_app.extensions["lms"]
    found = platform.pages.get(page)
    if found is None:
        return "no such page", 404
    title, src = found
    return render_template_string(
        COURSE_PAGE,
        title=title,
        src=src,
        course=platform.context,  # type: ignore[attr-defined]
    )


COURSE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }} · {{ course.label }}</title>
<style>
body { margin: 0; font: 15px system-ui, sans-serif; color: #2d3b45; }
header { background: #394b58; color: #fff; padding: .8rem 1.5rem; font-weight: 600; }
.layout { display: grid; grid-template-columns: 12rem 1fr; min-height: calc(100vh - 3rem); }
nav { border-right: 1px solid #c7cdd1; padding: 1rem 1.5rem; line-height: 2; }
nav a { color: #0374b5; text-decoration: none; display: block; }
main { padding: 1rem 1.5rem; }
.crumbs { color: #6b7780; margin: 0 0 .8rem; }
iframe { width: 100%; height: 620px; border: 1px solid #c7cdd1; }
</style></head>
<body><header>Test LMS · {{ course.label }} {{ course.title }}</header>
<div class="layout"><nav aria-label="Course"><a href="#">Home</a><a href="#">Modules</a>
<a href="#">Assignments</a><a href="#">Grades</a><a href="#">People</a></nav>
<main><p class="crumbs">{{ course.label }} › Modules › {{ title }}</p>
<iframe title="{{ title }}" name="tool" src="{{ src }}"
 sandbox="allow-scripts allow-forms allow-same-origin allow-popups
 allow-popups-to-escape-sandbox"></iframe>
</main></div></body></html>
"""


# What a platform answers the browser: a form that posts itself (the script is the page's
# only one; a browser without scripts shows the button).
FORM_POST = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Launching</title></head>
<body onload="document.forms[0].submit()">
<form method="post" action="{{ action }}">
{% for name, value in fields.items() %}<input type="hidden" name="{{ name }}" value="{{ value }}">
{% endfor %}<noscript><button type="submit">Continue</button></noscript>
</form></body></html>
"""


def sign(header: dict[str, Any], claims: dict[str, Any], key: JWK | bytes | None) -> str:
    """A compact JWS of ``claims`` under ``header``, signed as its ``alg`` says: RS256 by
    jwcrypto with a private JWK, HS256 with bytes as the HMAC secret, ``none`` unsigned."""
    payload = json.dumps(claims).encode()
    alg = header.get("alg")
    if alg == "RS256" and isinstance(key, JWK):
        jws = JWS(payload)
        jws.add_signature(key, alg=None, protected=json.dumps(header))
        return str(jws.serialize(compact=True))
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(payload)}"
    if alg == "HS256" and isinstance(key, bytes):
        signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    elif alg == "none":
        signature = b""
    else:
        raise ValueError(f"cannot sign alg {alg!r} with {type(key).__name__}")
    return f"{signing_input}.{_b64(signature)}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class _Form(HTMLParser):
    """The first form of a page: its action and its inputs' names and values."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    @classmethod
    def parse(cls, page: str) -> _Form:
        form = cls()
        form.feed(page)
        if not form.action:
            raise LaunchError(f"the platform's page has no form: {page[:500]}")
        return form

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form" and not self.action:
            self.action = values.get("action") or ""
        elif tag == "input" and values.get("name"):
            self.fields[str(values["name"])] = values.get("value") or ""
