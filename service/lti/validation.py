"""The launch's checks: an ordered tuple of named checks, each refusing
with a code, that every posted launch passes before anything is provisioned.

PyJWT verifies the signature (RS256 only) and judges each time claim; PyLTI1p3's message
validators judge the shapes of the LTI claims. What they leave out is ours: PyLTI1p3 takes
an id_token with no ``exp``, looks at the first ``aud`` only and never uses a nonce up, so
``exp``, ``aud``/``azp`` and the one-time state and nonce are checks of their own here.
Each check refuses alone: the tests remove one at a time and watch its launch get through.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import jwt
import requests
from pylti1p3.exception import LtiException
from pylti1p3.message_validators import get_validators
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ..inputs import MAX_ID
from ..lms import people, platforms
from ..models import Assignment, CourseRole, LtiContext, LtiDeployment, LtiLogin, LtiPlatform

RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
MESSAGE_TYPES = (RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST)

CLOCK_SKEW = 60  # seconds: an exp just past or an iat just ahead is a clock, not an attack
LOGIN_LIFETIME = timedelta(minutes=10)  # from /lti/login to the launch's POST
JWKS_REFRESH_INTERVAL = timedelta(seconds=60)  # at most one fetch per platform in this time
MAX_ID_TOKEN = 32_768  # characters; platforms send a few kilobytes
MAX_JWKS_BYTES = 256 * 1024
MAX_COLUMN = 255  # the identifier columns (sub, context id, link id, deployment id)


class Refusal(Exception):
    """A launch (or login, or ticket) turned away: ``code`` names the check that failed,
    ``detail`` says how, for the log; 403 when the person may not, 400 otherwise."""

    def __init__(self, code: str, detail: str, status: int = 400) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.status = status


@dataclass
class Launch:
    """A posted launch as the checks read it: the form, what it parses to (None when it does
    not), the login its state names and that login's platform. Checks that pass fill in
    ``role``."""

    session: Session
    now: datetime
    id_token: str
    state: str
    login: LtiLogin | None
    platform: LtiPlatform | None
    header: dict[str, Any] | None
    payload: dict[str, Any] | None
    parse_error: str = ""
    role: CourseRole | None = None

    @classmethod
    def read(cls, session: Session, id_token: str, state: str, now: datetime) -> Launch:
        login = session.get(LtiLogin, state) if state and len(state) <= 64 else None
        platform = session.get(LtiPlatform, login.platform_id) if login is not None else None
        header = payload = None
        error = ""
        if not id_token:
            error = "no id_token was posted"
        elif len(id_token) > MAX_ID_TOKEN:
            error = f"the id_token is longer than {MAX_ID_TOKEN} characters"
        elif id_token.count(".") != 2:
            error = "the id_token is not a JWS in compact form (three dot-separated parts)"
        else:
            try:
                header = jwt.get_unverified_header(id_token)
                payload = jwt.decode(id_token, options={"verify_signature": False})
            except jwt.PyJWTError as exc:
                header = payload = None
                error = f"the id_token does not decode: {exc}"
        return cls(session, now, id_token, state, login, platform, header, payload, error)

    @property
    def claims(self) -> dict[str, Any]:
        """The token's claims, unverified until the signature check passed."""
        return self.payload or {}

    @property
    def message_type(self) -> Any:
        return self.claims.get(platforms.MESSAGE_TYPE)


@dataclass(frozen=True)
class Check:
    """One named check; ``run`` raises a Refusal or returns."""

    name: str
    run: Callable[[Launch], None]


def run(launch: Launch) -> None:
    """Run every check of ``CHECKS`` in order (read at call time, so a test may take one out)."""
    for check in CHECKS:
        check.run(launch)


# --- the checks, in their order ------------------------------------------------------------


def check_state(launch: Launch) -> None:
    """bad_state: the state names a login we began, unused, less than 10 minutes ago."""
    login = launch.login
    if login is None:
        raise Refusal("bad_state", "no login was begun with this state")
    if login.used_at is not None:
        raise Refusal("bad_state", "this login's state was used by a launch already")
    if login.created_at < launch.now - LOGIN_LIFETIME:
        raise Refusal("bad_state", "the login began more than 10 minutes ago")


def check_token(launch: Launch) -> None:
    """bad_token: the id_token is a JWS in compact form whose header and claims decode."""
    if launch.header is None or launch.payload is None:
        raise Refusal("bad_token", launch.parse_error or "the id_token does not decode")


def check_alg(launch: Launch) -> None:
    """bad_alg: the header says RS256, the one algorithm LTI 1.3 allows (never none, never
    HS256, whose key would be the platform's public key anyone can read)."""
    alg = (launch.header or {}).get("alg")
    if alg != "RS256":
        raise Refusal("bad_alg", f"the id_token's alg is {alg!r}, not RS256")


def check_issuer(launch: Launch) -> None:
    """unknown_issuer: ``iss`` is the issuer of the platform the login was begun for."""
    iss = launch.claims.get("iss")
    if launch.platform is None or iss != launch.platform.issuer:
        raise Refusal("unknown_issuer", f"iss {iss!r} is not the registered platform of this login")


def check_audience(launch: Launch) -> None:
    """bad_aud: ``aud`` (one string or a list) holds our client id at that platform, in
    whichever place (PyLTI1p3 reads the first only)."""
    client_id = launch.platform.client_id if launch.platform is not None else None
    try:
        _pyjwt_claims(launch, require=["aud"], verify_aud=True, audience=client_id)
    except jwt.PyJWTError as exc:
        raise Refusal(
            "bad_aud",
            f"aud {launch.claims.get('aud')!r} does not hold our client id {client_id!r} ({exc})",
        ) from None


def check_azp(launch: Launch) -> None:
    """bad_azp: a token for several audiences names us as its authorized party, and an
    ``azp`` that is present is our client id (OpenID Connect Core §3.1.3.7)."""
    aud = launch.claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    azp = launch.claims.get("azp")
    client_id = launch.platform.client_id if launch.platform is not None else None
    if len(audiences) > 1 and azp is None:
        raise Refusal("bad_azp", f"aud holds {len(audiences)} audiences and there is no azp")
    if azp is not None and azp != client_id:
        raise Refusal("bad_azp", f"azp {azp!r} is not our client id {client_id!r}")


def check_kid(launch: Launch) -> None:
    """unknown_kid: the header's ``kid`` is in the platform's key set, fetched again once if
    not (a platform that rotated its key), at most once a minute per platform."""
    kid = (launch.header or {}).get("kid")
    platform = launch.platform
    if not isinstance(kid, str) or not kid:
        raise Refusal("unknown_kid", "the id_token's header has no kid")
    if platform is None:
        raise Refusal("unknown_kid", "no platform to hold the key")
    if platform_key(platform, kid) is not None:
        return
    fetch = refresh_jwks(launch.session, platform, launch.now)
    if platform_key(platform, kid) is None:
        raise Refusal("unknown_kid", f"kid {kid!r} is not in the platform's key set ({fetch})")


def check_signature(launch: Launch) -> None:
    """bad_signature: the platform's key of that kid verifies the RS256 signature."""
    kid = (launch.header or {}).get("kid")
    key = platform_key(launch.platform, kid) if launch.platform is not None else None
    if key is None:
        raise Refusal("bad_signature", f"no key of the platform's with kid {kid!r} to verify with")
    try:
        # The claims are the other checks' business; this one is the signature alone.
        jwt.decode(
            launch.id_token,
            jwt.PyJWK(key, algorithm="RS256"),
            algorithms=["RS256"],
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "verify_aud": False,
                "verify_iss": False,
                "verify_sub": False,
                "verify_jti": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise Refusal("bad_signature", f"the signature does not verify: {exc}") from None


def check_exp(launch: Launch) -> None:
    """no_exp, expired: ``exp`` is present and not past (with the clock skew)."""
    try:
        _pyjwt_claims(launch, require=["exp"], verify_exp=True)
    except jwt.MissingRequiredClaimError:
        raise Refusal("no_exp", "the id_token has no exp") from None
    except jwt.ExpiredSignatureError:
        raise Refusal("expired", f"exp {launch.claims.get('exp')} is past") from None
    except jwt.PyJWTError as exc:
        raise Refusal("no_exp", f"the id_token's exp is not a time: {exc}") from None


def check_iat(launch: Launch) -> None:
    """future_iat: ``iat`` (and ``nbf`` when sent) is not ahead of our clock by more than
    the skew; missing_claim:iat when absent."""
    try:
        _pyjwt_claims(launch, require=["iat"], verify_iat=True, verify_nbf=True)
    except jwt.MissingRequiredClaimError:
        raise Refusal("missing_claim:iat", "the id_token has no iat") from None
    except jwt.ImmatureSignatureError as exc:
        raise Refusal(
            "future_iat",
            f"the id_token is issued in the future ({exc}; iat {launch.claims.get('iat')})",
        ) from None
    except jwt.PyJWTError as exc:
        raise Refusal("future_iat", f"the id_token's iat is not a time: {exc}") from None


def check_nonce(launch: Launch) -> None:
    """replayed_nonce: the nonce is the one this login sent, and the login is used up now,
    atomically, so a replayed id_token or a second POST of the form finds it spent."""
    login = launch.login
    nonce = launch.claims.get("nonce")
    if login is None or not isinstance(nonce, str) or nonce != login.nonce:
        raise Refusal("replayed_nonce", "the nonce is not the one this login sent")
    spent = launch.session.execute(
        update(LtiLogin)
        .where(LtiLogin.state == login.state, LtiLogin.used_at.is_(None))
        .values(used_at=launch.now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise Refusal("replayed_nonce", "this login was used by another launch")


def check_deployment(launch: Launch) -> None:
    """unknown_deployment: the deployment id is one registered for the platform."""
    deployment = launch.claims.get(platforms.DEPLOYMENT_ID)
    known = (
        launch.platform is not None
        and isinstance(deployment, str)
        and launch.session.scalar(
            select(LtiDeployment.id).where(
                LtiDeployment.platform_id == launch.platform.id,
                LtiDeployment.deployment_id == deployment,
            )
        )
        is not None
    )
    if not known:
        raise Refusal("unknown_deployment", f"deployment {deployment!r} is not registered")


def check_claims(launch: Launch) -> None:
    """missing_claim:<name> (absent) and bad_claim:<name> (unusable): sub, message_type
    (one we handle), version 1.3.0, roles, target_link_uri (the login's), the context, and
    resource_link.id or deep_linking_settings as the message type needs."""
    claims = launch.claims
    _identifier(claims.get("sub"), "sub")
    message_type = _present(claims, platforms.MESSAGE_TYPE, "message_type")
    if message_type not in MESSAGE_TYPES:
        raise Refusal("bad_claim:message_type", f"message type {message_type!r} is not handled")
    version = _present(claims, platforms.VERSION, "version")
    if version != "1.3.0":
        raise Refusal("bad_claim:version", f"version {version!r} is not 1.3.0")
    roles = _present(claims, platforms.ROLES, "roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise Refusal("bad_claim:roles", "roles is not a list of strings")
    target = _present(claims, platforms.TARGET_LINK_URI, "target_link_uri")
    # LTI core §5.4.1: the same target the platform named when it began the login.
    if launch.login is not None and target != launch.login.target_link_uri:
        raise Refusal("bad_claim:target_link_uri", f"target_link_uri {target!r} is not the login's")
    context = claims.get(platforms.CONTEXT)
    _identifier(context.get("id") if isinstance(context, dict) else None, "context.id")
    if message_type == RESOURCE_LINK_REQUEST:
        link = claims.get(platforms.RESOURCE_LINK)
        _identifier(link.get("id") if isinstance(link, dict) else None, "resource_link.id")
    else:
        settings = _present(claims, platforms.DEEP_LINKING_SETTINGS, "deep_linking_settings")
        if not isinstance(settings, dict) or not isinstance(
            settings.get("deep_link_return_url"), str
        ):
            raise Refusal("bad_claim:deep_linking_settings", "it has no deep_link_return_url")


def check_message(launch: Launch) -> None:
    """bad_message: PyLTI1p3's validator of the message type accepts the claims' shapes
    (for deep linking: an ltiResourceLink among accept_types, a presentation target)."""
    for validator in get_validators():
        if validator.can_validate(launch.claims):
            try:
                validator.validate(launch.claims)
            except LtiException as exc:
                raise Refusal("bad_message", str(exc)) from None


def check_role(launch: Launch) -> None:
    """no_role (403): the roles give a course role (learner, TA, instructor), and a deep
    linking request (adding content) comes from staff."""
    role = people.course_role(launch.claims.get(platforms.ROLES) or [])
    if role is None:
        raise Refusal(
            "no_role", "no learner, teaching assistant or instructor role in the context", 403
        )
    if launch.message_type == DEEP_LINKING_REQUEST and not role.is_staff:
        raise Refusal("no_role", "a learner may not add content (deep linking)", 403)
    launch.role = role


def check_assignment(launch: Launch) -> None:
    """bad_assignment: a resource link's ``custom.assignment_id`` (set when the content was
    picked by deep linking) is an assignment of the course this context maps to."""
    if launch.message_type == DEEP_LINKING_REQUEST:
        return
    raw = custom_assignment(launch.claims)
    if raw is None:
        return
    wanted = int(raw) if raw.isdigit() and int(raw) <= MAX_ID else None
    context = launch.claims.get(platforms.CONTEXT)
    course_id = (
        launch.session.scalar(
            select(LtiContext.course_id).where(
                LtiContext.platform_id == launch.platform.id,
                LtiContext.context_id == context.get("id"),
            )
        )
        if launch.platform is not None and isinstance(context, dict)
        else None
    )
    assignment = launch.session.get(Assignment, wanted) if wanted is not None else None
    if assignment is None or course_id is None or assignment.course_id != course_id:
        raise Refusal("bad_assignment", f"assignment {raw!r} is not one of this context's course")


CHECKS: tuple[Check, ...] = (
    Check("state", check_state),
    Check("token", check_token),
    Check("alg", check_alg),
    Check("issuer", check_issuer),
    Check("audience", check_audience),
    Check("azp", check_azp),
    Check("kid", check_kid),
    Check("signature", check_signature),
    Check("exp", check_exp),
    Check("iat", check_iat),
    Check("nonce", check_nonce),
    Check("deployment", check_deployment),
    Check("claims", check_claims),
    Check("message", check_message),
    Check("role", check_role),
    Check("assignment", check_assignment),
)


# --- what the checks share -----------------------------------------------------------------


def custom_assignment(claims: dict[str, Any]) -> str | None:
    """The ``assignment_id`` custom parameter as sent (a string, as LTI custom values are)."""
    custom = claims.get(platforms.CUSTOM)
    value = custom.get("assignment_id") if isinstance(custom, dict) else None
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None


def platform_key(platform: LtiPlatform, kid: Any) -> dict[str, Any] | None:
    """The platform's public JWK of ``kid`` from its cached key set, if there."""
    keys = (platform.jwks or {}).get("keys")
    for key in keys if isinstance(keys, list) else []:
        if isinstance(key, dict) and key.get("kid") == kid:
            return key
    return None


def refresh_jwks(session: Session, platform: LtiPlatform, now: datetime) -> str:
    """Fetch the platform's key set into its cache, unless it was fetched less than
    JWKS_REFRESH_INTERVAL ago: a flood of unknown kids costs the platform one request a
    minute. Says what happened, for the refusal's log line. Commits (before the request: on
    SQLite an open transaction holds the write lock); the launch has written nothing yet."""
    claimed = session.execute(
        update(LtiPlatform)
        .where(
            LtiPlatform.id == platform.id,
            or_(
                LtiPlatform.jwks_fetched_at.is_(None),
                LtiPlatform.jwks_fetched_at <= now - JWKS_REFRESH_INTERVAL,
            ),
        )
        .values(jwks_fetched_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    session.commit()
    if not claimed:
        session.refresh(platform)  # another launch's fetch may have brought the key
        return "key set fetched less than a minute ago, not again"
    try:
        document = fetch_jwks(platform.jwks_url)
    except (requests.RequestException, ValueError) as exc:
        return f"fetching the key set failed: {exc}"
    platform.jwks = document
    platform.jwks_fetched_at = now
    session.commit()
    return "after fetching the key set again"


def fetch_jwks(url: str) -> dict[str, Any]:
    """A key set from ``url`` (the platform's registered JWKS URL): no redirect followed, at
    most MAX_JWKS_BYTES, a JSON object with a list of keys; ValueError or RequestException."""
    with requests.get(
        url, timeout=platforms.HTTP_TIMEOUT, allow_redirects=False, stream=True
    ) as response:
        if response.status_code != 200:
            raise ValueError(f"GET {url} answered {response.status_code}")
        body = response.raw.read(MAX_JWKS_BYTES + 1, decode_content=True)
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError(f"the key set at {url} is larger than {MAX_JWKS_BYTES} bytes")
    document = json.loads(body)
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError(f"{url} is not a JWK set (no list of keys)")
    return {"keys": [k for k in document["keys"] if isinstance(k, dict)]}


def _pyjwt_claims(launch: Launch, *, audience: str | None = None, **options: Any) -> None:
    # PyJWT's judgement of the claims named by ``options``; the signature is its own check.
    checks = cast("jwt.types.Options", {"verify_signature": False, **options})
    jwt.decode(launch.id_token, options=checks, audience=audience, leeway=CLOCK_SKEW)


def _present(claims: dict[str, Any], claim: str, name: str) -> Any:
    value = claims.get(claim)
    if value is None or value == "":
        raise Refusal(f"missing_claim:{name}", f"the id_token has no {name} claim")
    return value


def _identifier(value: Any, name: str) -> None:
    if value is None or value == "":
        raise Refusal(f"missing_claim:{name}", f"the id_token has no {name}")
    if not isinstance(value, str) or len(value) > MAX_COLUMN:
        raise Refusal(
            f"bad_claim:{name}", f"{name} is not a string of at most {MAX_COLUMN} characters"
        )
