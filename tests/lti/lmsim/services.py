"""The platform's LTI Advantage services, as the specifications describe them:

- the OAuth2 token endpoint (``POST /token``): client-credentials grant with a JWT client
  assertion (RFC 6749 §4.4, RFC 7523, 1EdTech Security Framework 1.0 §4.1), verified
  against the tool's JWKS fetched over HTTP from ``lms.tool["jwks"]``;
- Assignment and Grade Services 2.0: line items (``/contexts/<id>/lineitems``,
  ``/lineitems/<n>``) and the score publish service (``/lineitems/<n>/scores``);
- Names and Role Provisioning Services 2.0 (``/contexts/<id>/memberships``), paged with
  ``Link: <...>; rel="next"``.

A request with a token the platform did not issue, or that expired, is a 401; a token
without the scope the service needs, a 403 (RFC 6750 §3.1). While ``lms.down`` is set,
every one of these answers 503. Tests read ``lms.scores`` (every score accepted, in
order), ``lms.lineitems`` and ``lms.tokens_issued``.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import jwt
import requests
from flask import Blueprint, Response, current_app, request

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"
LINEITEM, LINEITEM_READ, RESULT_READ, SCORE = (
    AGS + "lineitem",
    AGS + "lineitem.readonly",
    AGS + "result.readonly",
    AGS + "score",
)
MEMBERSHIP = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
SCOPES = {LINEITEM, LINEITEM_READ, RESULT_READ, SCORE, MEMBERSHIP}
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
MEMBERSHIPS_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
ACTIVITY = {"Initialized", "Started", "InProgress", "Submitted", "Completed"}
GRADING = {"FullyGraded", "Pending", "PendingManual", "Failed", "NotReady"}
MAX_ASSERTION_SECONDS = 300  # an assertion may live 5 minutes at most
SKEW = 60

bp = Blueprint("lms_services", __name__)


@dataclass
class Token:
    scopes: set[str]
    expires_at: float


class Refused(Exception):
    """An error answer: the status and an OAuth2-style body."""

    def __init__(self, status: int, error: str, description: str = ""):
        super().__init__(f"{status} {error}: {description}")
        self.status = status
        self.error = error
        self.description = description


def _lms() -> Any:
    return current_app.extensions["lms"]


def _json(
    body: Any, status: int = 200, content_type: str = "application/json", **headers: str
) -> Response:
    response = Response(json.dumps(body), status=status, content_type=content_type)
    response.headers.update(headers)
    return response


@bp.errorhandler(Refused)
def _refused(exc: Refused) -> Response:
    headers = {}
    if exc.status == 401:
        headers["WWW-Authenticate"] = f'Bearer error="{exc.error}"'
    return _json({"error": exc.error, "error_description": exc.description}, exc.status, **headers)


@bp.before_request
def _up() -> None:
    if _lms().down:
        raise Refused(503, "temporarily_unavailable", "the platform is down")


# --- the token endpoint ---------------------------------------------------------------------


def _tool_key(kid: str) -> Any:
    """The tool's public key ``kid`` from its JWKS, fetched over HTTP (again on a miss)."""
    lms = _lms()
    keys: dict[str, Any] = lms.tool_keys
    if kid not in keys:
        document = requests.get(lms.tool["jwks"], timeout=10).json()
        for jwk in document.get("keys", []):
            keys[jwk["kid"]] = jwt.PyJWK(jwk).key
    if kid not in keys:
        raise Refused(400, "invalid_client", f"no key {kid!r} in the tool's JWKS")
    return keys[kid]


def _verify_assertion(assertion: str) -> None:
    lms = _lms()
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError as exc:
        raise Refused(400, "invalid_client", f"unreadable assertion: {exc}") from None
    if header.get("alg") != "RS256":
        raise Refused(400, "invalid_client", "the assertion must be signed RS256")
    if not isinstance(header.get("kid"), str):
        raise Refused(400, "invalid_client", "the assertion's header names no kid")
    try:
        claims = jwt.decode(
            assertion,
            _tool_key(header["kid"]),
            algorithms=["RS256"],
            audience=f"{lms.url}/token",
            issuer=lms.client_id,
            options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]},
            leeway=SKEW,
        )
    except jwt.PyJWTError as exc:
        raise Refused(400, "invalid_client", f"the assertion does not verify: {exc}") from None
    if claims["sub"] != lms.client_id:
        raise Refused(400, "invalid_client", "the assertion's sub is not the client id")
    if claims["exp"] > time.time() + MAX_ASSERTION_SECONDS + SKEW:
        raise Refused(400, "invalid_client", "the assertion lives longer than 5 minutes")
    with lms.lock:
        if claims["jti"] in lms.jtis_seen:
            raise Refused(400, "invalid_client", "the assertion's jti was used before")
        lms.jtis_seen.add(claims["jti"])


@bp.post("/token")
def token() -> Response:
    lms = _lms()
    form = request.form
    if form.get("grant_type") != "client_credentials":
        raise Refused(400, "unsupported_grant_type", "only client_credentials")
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        raise Refused(400, "invalid_request", "client_assertion_type must be jwt-bearer")
    assertion = form.get("client_assertion")
    if not assertion:
        raise Refused(400, "invalid_request", "no client_assertion")
    _verify_assertion(assertion)
    scopes = set(form.get("scope", "").split())
    if not scopes or not scopes <= SCOPES:
        raise Refused(400, "invalid_scope", f"unknown scopes: {sorted(scopes - SCOPES)}")
    issued = secrets.token_urlsafe(24)
    with lms.lock:
        lms.access_tokens[issued] = Token(scopes, time.time() + lms.token_lifetime)
        lms.tokens_issued += 1
    # RFC 6749 §5.1: a token response must not be cached.
    return _json(
        {
            "access_token": issued,
            "token_type": "Bearer",
            "expires_in": lms.token_lifetime,
            "scope": " ".join(sorted(scopes)),
        },
        **{"Cache-Control": "no-store"},
    )


def _authorized(*any_of: str) -> None:
    """The request's bearer token, if it holds one of ``any_of``; else 401 or 403."""
    lms = _lms()
    found = re.fullmatch(r"Bearer ([A-Za-z0-9._~+/=-]+)", request.headers.get("Authorization", ""))
    if found is None:
        raise Refused(401, "invalid_token", "no bearer token")
    with lms.lock:
        held = lms.access_tokens.get(found.group(1))
    if held is None or held.expires_at < time.time():
        raise Refused(401, "invalid_token", "unknown or expired token")
    if not held.scopes & set(any_of):
        raise Refused(403, "insufficient_scope", f"needs one of {sorted(any_of)}")


def _body(content_type: str) -> dict[str, Any]:
    if request.mimetype != content_type:
        raise Refused(415, "invalid_request", f"Content-Type must be {content_type}")
    try:
        body = json.loads(request.get_data(as_text=True))
    except ValueError:
        raise Refused(400, "invalid_request", "the body is not JSON") from None
    if not isinstance(body, dict):
        raise Refused(400, "invalid_request", "the body is not a JSON object")
    return body


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- AGS: line items and scores -------------------------------------------------------------


def _context(context_id: str) -> None:
    if _lms().roster(context_id) is None:
        raise Refused(404, "not_found", f"no context {context_id!r}")


def _checked_lineitem(body: dict[str, Any]) -> dict[str, Any]:
    """A line item's fields as AGS 2.0 §3.2 defines them."""
    label = body.get("label")
    if not isinstance(label, str) or not label.strip():
        raise Refused(400, "invalid_request", "label must be a non-empty string")
    maximum = body.get("scoreMaximum")
    if not _number(maximum) or maximum <= 0:
        raise Refused(400, "invalid_request", "scoreMaximum must be a number above 0")
    for name in ("resourceId", "resourceLinkId", "tag", "startDateTime", "endDateTime"):
        if name in body and not isinstance(body[name], str):
            raise Refused(400, "invalid_request", f"{name} must be a string")
    return {
        k: body[k]
        for k in (
            "label",
            "scoreMaximum",
            "resourceId",
            "resourceLinkId",
            "tag",
            "startDateTime",
            "endDateTime",
        )
        if k in body
    }


@bp.get("/contexts/<context_id>/lineitems")
def lineitems(context_id: str) -> Response:
    _authorized(LINEITEM, LINEITEM_READ)
    _context(context_id)
    lms = _lms()
    wanted = {
        "resourceLinkId": request.args.get("resource_link_id"),
        "resourceId": request.args.get("resource_id"),
        "tag": request.args.get("tag"),
    }
    with lms.lock:
        items = [
            item
            for item in lms.lineitems.values()
            if item["context_id"] == context_id
            and all(v is None or item.get(k) == v for k, v in wanted.items())
        ]
    return _json([_shown(i) for i in items], content_type=LINEITEMS_TYPE)


def _shown(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != "context_id"}


@bp.post("/contexts/<context_id>/lineitems")
def lineitem_new(context_id: str) -> Response:
    _authorized(LINEITEM)
    _context(context_id)
    lms = _lms()
    fields = _checked_lineitem(_body(LINEITEM_TYPE))
    with lms.lock:
        number = next(lms.lineitem_numbers)
        item = {"id": f"{lms.url}/lineitems/{number}", **fields, "context_id": context_id}
        lms.lineitems[number] = item
    return _json(_shown(item), 201, content_type=LINEITEM_TYPE)


def _item(number: int) -> dict[str, Any]:
    item: dict[str, Any] | None = _lms().lineitems.get(number)
    if item is None:
        raise Refused(404, "not_found", "no such line item")
    return item


@bp.get("/lineitems/<int:number>")
def lineitem(number: int) -> Response:
    _authorized(LINEITEM, LINEITEM_READ)
    return _json(_shown(_item(number)), content_type=LINEITEM_TYPE)


@bp.put("/lineitems/<int:number>")
def lineitem_put(number: int) -> Response:
    _authorized(LINEITEM)
    item = _item(number)
    body = _body(LINEITEM_TYPE)
    if "id" in body and body["id"] != item["id"]:
        raise Refused(400, "invalid_request", "the id cannot change")
    fields = _checked_lineitem(body)
    if fields.get("resourceLinkId", item.get("resourceLinkId")) != item.get("resourceLinkId"):
        raise Refused(400, "invalid_request", "resourceLinkId cannot change")
    with _lms().lock:
        item.update(fields)
    return _json(_shown(item), content_type=LINEITEM_TYPE)


@bp.delete("/lineitems/<int:number>")
def lineitem_delete(number: int) -> Response:
    _authorized(LINEITEM)
    _item(number)
    with _lms().lock:
        del _lms().lineitems[number]
    return Response(status=204)


def _timestamp(value: Any) -> datetime:
    """AGS 2.0 §3.4.6: ISO 8601 with sub-second precision and a time zone offset."""
    if not isinstance(value, str) or not re.search(r"T\d\d:\d\d:\d\d\.\d+", value):
        raise Refused(400, "invalid_request", "timestamp must be ISO 8601 with sub-seconds")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Refused(400, "invalid_request", "timestamp is not ISO 8601") from None
    if moment.tzinfo is None:
        raise Refused(400, "invalid_request", "timestamp needs a time zone offset")
    return moment


@bp.post("/lineitems/<int:number>/scores")
def scores(number: int) -> Response:
    _authorized(SCORE)
    lms = _lms()
    item = _item(number)
    body = _body(SCORE_TYPE)
    user = body.get("userId")
    if not isinstance(user, str) or not user:
        raise Refused(400, "invalid_request", "userId must be a non-empty string")
    given, maximum = body.get("scoreGiven"), body.get("scoreMaximum")
    if given is not None and (not _number(given) or given < 0):
        raise Refused(400, "invalid_request", "scoreGiven must be a number, 0 or more")
    if given is not None and maximum is None:
        raise Refused(400, "invalid_request", "scoreMaximum is required with scoreGiven")
    if maximum is not None and (not _number(maximum) or maximum <= 0):
        raise Refused(400, "invalid_request", "scoreMaximum must be a number above 0")
    if body.get("activityProgress") not in ACTIVITY:
        raise Refused(400, "invalid_request", f"activityProgress must be one of {sorted(ACTIVITY)}")
    if body.get("gradingProgress") not in GRADING:
        raise Refused(400, "invalid_request", f"gradingProgress must be one of {sorted(GRADING)}")
    if "comment" in body and not isinstance(body["comment"], str):
        raise Refused(400, "invalid_request", "comment must be a string")
    moment = _timestamp(body.get("timestamp"))
    gate = lms.score_gate
    if gate is not None:
        gate.wait(30)  # a test holds the answer while the tool's send is in flight
    members = lms.roster(item["context_id"]) or []
    if user not in {m.sub for m in members}:
        # As Canvas does: a score for someone not in the course is refused.
        raise Refused(422, "invalid_request", "userId is not a member of the line item's context")
    with lms.lock:
        key = (number, user)
        latest = lms.score_times.get(key)
        # §3.4.6: a score older than the one on record does not update the result.
        if latest is not None and moment < latest:
            lms.ignored_scores.append({"lineitem": item["id"], **body})
            return Response(status=204)
        lms.score_times[key] = moment
        lms.scores.append({"lineitem": item["id"], **body})
    return Response(status=204)


# --- NRPS -------------------------------------------------------------------------------------


@bp.get("/contexts/<context_id>/memberships")
def memberships(context_id: str) -> Response:
    _authorized(MEMBERSHIP)
    lms = _lms()
    members = lms.roster(context_id)
    if members is None:
        raise Refused(404, "not_found", f"no context {context_id!r}")
    accepted = request.accept_mimetypes
    if accepted and not (accepted.find(MEMBERSHIPS_TYPE) >= 0 or accepted.find("*/*") >= 0):
        raise Refused(406, "invalid_request", f"Accept must allow {MEMBERSHIPS_TYPE}")
    page = max(1, request.args.get("page", 1, type=int))
    # NRPS §2.4: the tool may ask for fewer per page with ``limit``; the platform decides.
    limit = request.args.get("limit", type=int)
    size = min(lms.page_size, limit) if limit and limit > 0 else lms.page_size
    chunk = members[(page - 1) * size : page * size]
    context = lms.context_of(context_id)
    body = {
        "id": request.url,
        "context": {"id": context.id, "label": context.label, "title": context.title},
        "members": [_member(m) for m in chunk],
    }
    headers = {}
    if page * size < len(members):
        query = {"page": page + 1, **({"limit": limit} if limit else {})}
        following = f"{lms.url}/contexts/{context_id}/memberships?{urlencode(query)}"
        headers["Link"] = f'<{following}>; rel="next"'
    return _json(body, content_type=MEMBERSHIPS_TYPE, **headers)


def _member(user: Any) -> dict[str, Any]:
    given, _, family = user.name.rpartition(" ")
    member = {
        "status": user.status,
        "name": user.name,
        "given_name": given or user.name,
        "family_name": family if given else "",
        "user_id": user.sub,
        "roles": list(user.roles),
    }
    if user.email:
        member["email"] = user.email
    return member


class Services:
    """Mixin of ``Lms``: the token endpoint, AGS and NRPS, with the state they keep."""

    app: Any
    context: Any
    members: list[Any]

    def setup(self) -> None:
        self.token_lifetime = 3600  # seconds an access token is good for
        self.access_tokens: dict[str, Token] = {}
        self.tokens_issued = 0
        self.jtis_seen: set[str] = set()
        self.tool_keys: dict[str, Any] = {}
        self.lineitems: dict[int, dict[str, Any]] = {}
        self.lineitem_numbers = itertools.count(1)
        self.scores: list[dict[str, Any]] = []  # every score accepted, with its "lineitem"
        self.ignored_scores: list[dict[str, Any]] = []  # older than the one on record
        self.score_times: dict[tuple[int, str], datetime] = {}
        self.page_size = 2  # NRPS members per page (small, so paging is exercised)
        self.score_gate: threading.Event | None = None  # while set up and not set, scores wait
        self.other_contexts: dict[str, tuple[Any, list[Any]]] = {}
        self.app.register_blueprint(bp)

    def add_context(self, context: Any, members: list[Any]) -> None:
        """Another course on the platform, with its own members (``lms.context`` has
        ``lms.members``)."""
        self.other_contexts[context.id] = (context, members)

    def roster(self, context_id: str) -> list[Any] | None:
        """The members of a context, or None for a context the platform does not have."""
        if context_id == self.context.id:
            return self.members
        found = self.other_contexts.get(context_id)
        return found[1] if found is not None else None

    def context_of(self, context_id: str) -> Any:
        return self.context if context_id == self.context.id else self.other_contexts[context_id][0]

    def revoke_tokens(self) -> None:
        """Forget every access token issued (as a platform restarting may): the next
        request with one is a 401."""
        with self.lock:  # type: ignore[attr-defined]
            self.access_tokens.clear()

    def scores_for(self, sub: str) -> list[dict[str, Any]]:
        """The scores accepted for one user, in order."""
        with self.lock:  # type: ignore[attr-defined]
            return [s for s in self.scores if s["userId"] == sub]
