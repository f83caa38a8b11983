"""Requests to a platform's LTI Advantage services (AGS, NRPS) as the tool.

Each request carries an OAuth2 access token the platform issued for the client-credentials
grant with a JWT client assertion (RFC 7523; 1EdTech Security Framework §4.1): signed RS256
by the tool's current key (``keys.signing_key``, its ``kid`` in the header), with
iss = sub = our client id, aud = the platform's ``auth_audience`` or its token URL, a
fresh ``jti``, and a one-minute life. Tokens are kept in ``LtiAccessToken`` per
(platform, sorted scopes) until ``expires_in`` minus a margin, so many pushes share one;
a 401 from a service drops the kept token and the request is tried once more with a new one.

PyLTI1p3's ``ServiceConnector`` builds the same assertion, but it posts without a
timeout, keeps tokens per instance with no expiry, drops ``expires_in``, follows any
redirect and lower-cases the paging URLs it parses, so the request is made here with
``requests`` (``platforms.HTTP_TIMEOUT``; no redirects).

No transaction is held across a request to a platform: each call ends the session's
transaction first (on SQLite every transaction holds the write lock, and a platform may
take 15 s to answer), so callers must have nothing pending they would not commit.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import jwt
import requests
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..models import LtiAccessToken, LtiPlatform, utcnow
from . import keys
from .platforms import HTTP_TIMEOUT

log = logging.getLogger(__name__)

ASSERTION_SECONDS = 60  # the client assertion's life; the framework allows up to 5 minutes
TOKEN_MARGIN_SECONDS = 60  # a kept token is dropped this long before the platform's expiry
DEFAULT_EXPIRES_IN = 3600  # when a token response names no lifetime (RFC 6749 §5.1)
MAX_REASON = 200  # characters of a platform's error kept in a reason
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class ServiceError(Exception):
    """A request to a platform's service that did not succeed: the HTTP status (None when
    no answer came, or nothing was sent) and a short reason. ``permanent`` errors would
    fail the same way if tried again (our request is wrong, or cannot be made)."""

    def __init__(self, reason: str, status: int | None = None, *, permanent: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.permanent = permanent

    def __str__(self) -> str:
        if self.status is None:
            return self.reason
        return f"HTTP {self.status}: {self.reason}"


def _failed(response: requests.Response, what: str) -> ServiceError:
    """The error for a platform's non-2xx answer: its status, and its reason phrase or the
    start of an OAuth2 ``error`` / ``error_description`` it sent."""
    reason = response.reason or "error"
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        said = body.get("error_description") or body.get("error") or body.get("message")
        if isinstance(said, str) and said:
            reason = f"{reason} ({said})"
    status = response.status_code
    # A 4xx says our request is wrong; except an expired token, a timeout or a rate limit.
    permanent = 400 <= status < 500 and status not in (401, 408, 425, 429)
    return ServiceError(f"{what}: {reason}"[:MAX_REASON], status, permanent=permanent)


def _unanswered(exc: requests.RequestException, what: str) -> ServiceError:
    kind = "timed out" if isinstance(exc, requests.Timeout) else "no answer"
    return ServiceError(f"{what}: {kind} ({type(exc).__name__})"[:MAX_REASON])


def same_origin(url: str, of: str) -> bool:
    """Whether ``url`` is an http(s) URL on the same origin (scheme, host, port) as ``of``.

    The tool sends its bearer token to the service URLs a platform put in its signed
    launch (the AGS and NRPS claims); a URL the platform gives later, in a response (a
    line item's id, a next page), is followed only on the origin of the URL it answered,
    so a response cannot lead the token to another host.
    """
    a, b = urlsplit(url), urlsplit(of)
    return a.scheme in ("http", "https") and (a.scheme, a.netloc) == (b.scheme, b.netloc)


@dataclass(frozen=True)
class Platform:
    """What a request to a platform needs from its row (read once, used across commits)."""

    id: int
    issuer: str
    client_id: str
    token_url: str
    audience: str

    @classmethod
    def of(cls, row: LtiPlatform) -> Platform:
        return cls(
            row.id,
            row.issuer,
            row.client_id,
            row.auth_token_url,
            row.auth_audience or row.auth_token_url,
        )


def client_assertion(session: Session, platform: Platform) -> str:
    """A signed JWT that authenticates the tool at the platform's token endpoint."""
    key = keys.signing_key(session)
    now = int(time.time())
    claims = {
        "iss": platform.client_id,
        "sub": platform.client_id,
        "aud": platform.audience,
        "iat": now,
        "exp": now + ASSERTION_SECONDS,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key.private_pem, algorithm="RS256", headers={"kid": key.kid})


def _scope_key(scopes: Iterable[str]) -> str:
    return " ".join(sorted(set(scopes)))


def _kept(session: Session, platform: Platform, scope: str) -> str | None:
    return session.scalar(
        select(LtiAccessToken.token).where(
            LtiAccessToken.platform_id == platform.id,
            LtiAccessToken.scopes == scope,
            LtiAccessToken.expires_at > utcnow(),
        )
    )


def _keep(session: Session, platform: Platform, scope: str, token: str, seconds: int) -> None:
    """Store the token for (platform, scopes), replacing any, and commit."""
    bind = session.get_bind()
    insert = postgresql.insert if bind.dialect.name == "postgresql" else sqlite.insert
    expires_at = utcnow() + timedelta(seconds=max(0, seconds - TOKEN_MARGIN_SECONDS))
    stmt = insert(LtiAccessToken).values(
        platform_id=platform.id, scopes=scope, token=token, expires_at=expires_at
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[LtiAccessToken.platform_id, LtiAccessToken.scopes],
            set_={"token": stmt.excluded.token, "expires_at": stmt.excluded.expires_at},
        )
    )
    session.commit()


def drop_token(session: Session, platform: Platform, scopes: Iterable[str], token: str) -> None:
    """Forget a token the platform refused (not one another worker has fetched since); commits."""
    session.execute(
        delete(LtiAccessToken).where(
            LtiAccessToken.platform_id == platform.id,
            LtiAccessToken.scopes == _scope_key(scopes),
            LtiAccessToken.token == token,
        )
    )
    session.commit()


def access_token(session: Session, platform: Platform, scopes: Iterable[str]) -> str:
    """A bearer token for ``scopes``: the kept one while it lasts, else a new one from the
    platform's token endpoint (kept). Commits; raises ServiceError."""
    scope = _scope_key(scopes)
    token = _kept(session, platform, scope)
    if token is not None:
        session.commit()
        return token
    assertion = client_assertion(session, platform)
    session.commit()  # nothing held while the platform answers
    what = "token request"
    try:
        response = requests.post(
            platform.token_url,
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion,
                "scope": scope,
            },
            headers={"Accept": "application/json"},
            timeout=HTTP_TIMEOUT,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise _unanswered(exc, what) from None
    if not response.ok:
        raise _failed(response, what)
    try:
        body = response.json()
        token = body["access_token"]
        expires_in = int(body.get("expires_in", DEFAULT_EXPIRES_IN))
    except (ValueError, KeyError, TypeError):
        raise ServiceError(
            f"{what}: the answer holds no access_token", response.status_code, permanent=True
        ) from None
    if not isinstance(token, str) or not token:
        raise ServiceError(
            f"{what}: the access_token is not a string", response.status_code, permanent=True
        )
    _keep(session, platform, scope, token, expires_in)
    return token


def json_of(response: requests.Response, what: str) -> Any:
    """A service's answer as JSON, or a ServiceError saying ``what`` was not JSON."""
    try:
        return response.json()
    except ValueError:
        raise ServiceError(f"{what}: the answer is not JSON", response.status_code) from None


def call(
    session: Session,
    platform: Platform,
    scopes: Iterable[str],
    method: str,
    url: str,
    *,
    accept: str,
    what: str,
    json: Any = None,
    content_type: str | None = None,
    params: dict[str, str] | None = None,
) -> requests.Response:
    """One request to a service with a bearer token for ``scopes``; a 401 drops the token
    and tries once more with a new one. Commits the session first; raises ServiceError
    for anything but a 2xx answer."""
    scopes = sorted(set(scopes))
    for retry in (False, True):
        token = access_token(session, platform, scopes)
        headers = {"Authorization": f"Bearer {token}", "Accept": accept}
        if content_type is not None:
            headers["Content-Type"] = content_type
        try:
            response = requests.request(
                method,
                url,
                headers=headers,
                json=json,
                params=params,
                timeout=HTTP_TIMEOUT,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise _unanswered(exc, what) from None
        if response.status_code == 401 and not retry:
            log.info(
                "platform %s refused its access token for %s: fetching a new one",
                platform.issuer,
                what,
            )
            drop_token(session, platform, scopes, token)
            continue
        if not 200 <= response.status_code < 300:
            raise _failed(response, what)
        return response
    raise AssertionError("unreachable")  # pragma: no cover -- the loop returns or raises
