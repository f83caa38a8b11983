"""Every refusal of ISSUE 15 item 6, each its own test over HTTP from the test platform: the
status, what the page says, the one log line, and that nothing was created (no user,
identity, course, enrolment, context, link, ticket or session cookie). Then each crafted
launch again with its check taken out of ``validation.CHECKS``: no longer refused with that
code, which proves the check is what refuses it."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
import requests
from jwcrypto.jwk import JWK
from lmsim import INSTRUCTOR, LEARNER, Context, Lms, LmsUser
from lmsim.core import DEEP_LINKING_SETTINGS, LTI, Forgery
from ltikit import Tool
from sqlalchemy import func, select, update

from service import assignments
from service.lti import validation
from service.models import (
    Course,
    Enrollment,
    LtiContext,
    LtiIdentity,
    LtiLink,
    LtiLogin,
    LtiPlatform,
    LtiTicket,
    User,
    utcnow,
)

pytestmark = pytest.mark.usefixtures("registered")

MENTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"
CENSUS = (User, LtiIdentity, Course, Enrollment, LtiContext, LtiLink, LtiTicket)


@dataclass
class Env:
    """One refusal's world: the tool, the platform, a fresh user, course and browser."""

    tool: Tool
    lms: Lms
    user: LmsUser
    context: Context
    http: requests.Session = field(default_factory=requests.Session)

    def launch(self, **options: Any) -> requests.Response:
        return self.lms.launch(self.http, self.user, context=self.context, follow=False, **options)


# A crafted launch: prepares what it needs, then returns the request that is refused.
Craft = Callable[[Env], Callable[[], requests.Response]]


@dataclass(frozen=True)
class Case:
    code: str  # the refusal
    check: str  # the check of validation.CHECKS that refuses it
    says: str  # what the page tells the person
    craft: Craft
    then: str | None = None  # its refusal once that check is gone (None: it gets through)
    status: int = 400
    roles: tuple[str, ...] = (LEARNER,)


def tampered(change: Callable[[Forgery], None], **options: Any) -> Craft:
    return lambda env: lambda: env.launch(tamper=change, **options)


def claim_set(name: str, value: Any) -> Callable[[Forgery], None]:
    def change(forgery: Forgery) -> None:
        forgery.claims[name] = value

    return change


def claim_dropped(*path: str) -> Callable[[Forgery], None]:
    def change(forgery: Forgery) -> None:
        holder = forgery.claims
        for name in path[:-1]:
            holder = holder[name]
        del holder[path[-1]]

    return change


def times(exp: int, iat: int) -> Callable[[Forgery], None]:
    def change(forgery: Forgery) -> None:
        now = int(time.time())
        forgery.claims.update(exp=now + exp, iat=now + iat)

    return change


def alg_none(forgery: Forgery) -> None:
    forgery.header["alg"] = "none"
    forgery.key = None


def alg_hs256(forgery: Forgery) -> None:
    """The classic confusion: HS256 keyed with the platform's public key (PEM), which anyone
    can read, for a verifier that takes the key it has for whatever alg the header says."""
    assert isinstance(forgery.key, JWK)
    forgery.header["alg"] = "HS256"
    forgery.key = forgery.key.export_to_pem()  # the public half


def unknown_kid(forgery: Forgery) -> None:
    forgery.header["kid"] = f"kid-nobody-published-{uuid.uuid4().hex[:6]}"
    forgery.key = JWK.generate(kty="RSA", size=2048)


def other_audience(forgery: Forgery) -> None:
    forgery.claims["aud"] = "another-tool"
    del forgery.claims["azp"]


def several_audiences(azp: str | None) -> Callable[[Forgery], None]:
    def change(forgery: Forgery) -> None:
        forgery.claims["aud"] = [forgery.claims["aud"], "another-tool"]
        forgery.claims.pop("azp")
        if azp is not None:
            forgery.claims["azp"] = azp

    return change


def aged_state(tool: Tool) -> Callable[[Forgery], None]:
    # Runs in the platform's /auth, after the tool stored the login and before the post.
    def change(forgery: Forgery) -> None:
        with tool.db() as session:
            session.execute(
                update(LtiLogin)
                .where(LtiLogin.state == forgery.state)
                .values(created_at=utcnow() - timedelta(minutes=11))
            )
            session.commit()

    return change


def replayed_token(env: Env) -> Callable[[], requests.Response]:
    """A new login (its own state and nonce) with the id_token of an earlier launch."""
    assert env.launch().status_code == 303
    earlier = env.lms.forms[-1]["id_token"]

    def replay(forgery: Forgery) -> None:
        forgery.id_token = earlier

    return lambda: env.launch(tamper=replay)


def reposted_form(env: Env) -> Callable[[], requests.Response]:
    """The very form of an earlier launch, posted again."""
    assert env.launch().status_code == 303
    form = dict(env.lms.forms[-1])
    return lambda: env.http.post(
        env.lms.tool["launch"], data=form, allow_redirects=False, timeout=30
    )


def foreign_assignment(env: Env) -> Callable[[], requests.Response]:
    """A link whose custom assignment_id is an assignment of another course."""
    with env.tool.db() as session:
        other = Course(code=f"OTHER-{uuid.uuid4().hex[:8]}", title="Someone else's course")
        session.add(other)
        session.commit()
        theirs = assignments.create(
            other,
            assignments.Settings(title="Not yours"),
            [assignments.SlotSettings(exercise_type="forward-pass")],
            published=True,
        )
    return lambda: env.launch(custom={"assignment_id": str(theirs.id)})


def bad_deep_linking_settings(forgery: Forgery) -> None:
    forgery.claims[DEEP_LINKING_SETTINGS]["accept_types"] = ["file"]


def as_sent(forgery: Forgery) -> None:
    """No change: the platform's message as it is (the user is what is refused)."""


def wrong_state(forgery: Forgery) -> None:
    forgery.state = "a-state-this-tool-never-issued"


def wrong_key(forgery: Forgery) -> None:
    forgery.key = JWK.generate(kty="RSA", size=2048)


DEEP = {"message_type": "LtiDeepLinkingRequest"}
AGAIN = "open the activity again"

CASES: dict[str, Case] = {
    "state_mismatch": Case(
        "bad_state", "state", AGAIN, tampered(wrong_state), then="unknown_issuer"
    ),
    "state_reused": Case(
        "bad_state", "state", "was already used", reposted_form, then="replayed_nonce"
    ),
    "state_expired": Case(
        "bad_state",
        "state",
        "longer than ten minutes",
        lambda env: lambda: env.launch(tamper=aged_state(env.tool)),
    ),
    "not_a_jwt": Case(
        "bad_token",
        "token",
        "could not be read",
        tampered(lambda f: setattr(f, "id_token", "not-a-jwt")),
        then="bad_alg",
    ),
    "alg_none": Case("bad_alg", "alg", "RS256", tampered(alg_none), then="bad_signature"),
    "alg_hs256": Case("bad_alg", "alg", "RS256", tampered(alg_hs256), then="bad_signature"),
    "unregistered_issuer": Case(
        "unknown_issuer",
        "issuer",
        "not registered here",
        tampered(claim_set("iss", "https://lms.evil.example")),
    ),
    "aud_without_client_id": Case(
        "bad_aud", "audience", "meant for another tool", tampered(other_audience)
    ),
    "several_aud_no_azp": Case(
        "bad_azp", "azp", "meant for another tool", tampered(several_audiences(None))
    ),
    "several_aud_wrong_azp": Case(
        "bad_azp", "azp", "meant for another tool", tampered(several_audiences("another-tool"))
    ),
    "bad_signature": Case("bad_signature", "signature", "does not verify", tampered(wrong_key)),
    "unknown_kid": Case(
        "unknown_kid",
        "kid",
        "key the LMS does not publish",
        tampered(unknown_kid),
        then="bad_signature",
    ),
    "no_exp": Case("no_exp", "exp", "no expiry time", tampered(claim_dropped("exp"))),
    "expired": Case("expired", "exp", "has expired", tampered(times(exp=-120, iat=-420))),
    "future_iat": Case(
        "future_iat", "iat", "dated in the future", tampered(times(exp=600, iat=300))
    ),
    "replayed_nonce": Case("replayed_nonce", "nonce", "was used already", replayed_token),
    "unregistered_deployment": Case(
        "unknown_deployment",
        "deployment",
        "register its deployment ID",
        tampered(claim_set(LTI + "deployment_id", "deployment-nobody-registered")),
    ),
    "missing_message_type": Case(
        "missing_claim:message_type",
        "claims",
        "left out",
        tampered(claim_dropped(LTI + "message_type")),
    ),
    "missing_version": Case(
        "missing_claim:version",
        "claims",
        "left out",
        tampered(claim_dropped(LTI + "version")),
        then="bad_message",
    ),
    "missing_roles": Case(
        "missing_claim:roles",
        "claims",
        "left out",
        tampered(claim_dropped(LTI + "roles")),
        then="bad_message",
    ),
    "missing_resource_link_id": Case(
        "missing_claim:resource_link.id",
        "claims",
        "left out",
        tampered(claim_dropped(LTI + "resource_link", "id")),
        then="bad_message",
    ),
    "missing_target_link_uri": Case(
        "missing_claim:target_link_uri",
        "claims",
        "left out",
        tampered(claim_dropped(LTI + "target_link_uri")),
    ),
    "missing_deep_linking_settings": Case(
        "missing_claim:deep_linking_settings",
        "claims",
        "left out",
        tampered(claim_dropped(DEEP_LINKING_SETTINGS), **DEEP),
        then="bad_message",
        roles=(INSTRUCTOR,),
    ),
    "deep_linking_without_resource_links": Case(
        "bad_message",
        "message",
        "cannot handle",
        tampered(bad_deep_linking_settings, **DEEP),
        roles=(INSTRUCTOR,),
    ),
    "no_course_role": Case(
        "no_role", "role", "does not let you", tampered(as_sent), status=403, roles=(MENTOR,)
    ),
    "student_deep_linking": Case(
        "no_role", "role", "does not let you", tampered(as_sent, **DEEP), status=403
    ),
    "foreign_assignment": Case(
        "bad_assignment", "assignment", "another course", foreign_assignment
    ),
}


@pytest.fixture
def env(tool: Tool, lms: Lms, request: pytest.FixtureRequest) -> Env:
    case: Case = request.param
    tag = uuid.uuid4().hex[:10]
    user = LmsUser(
        sub=f"user-{tag}",
        name="Eve Crafted",
        email=f"{tag}@school.example.edu",
        roles=list(case.roles),
    )
    return Env(tool, lms, user, Context(id=f"ctx-{tag}", label=f"R {tag}", title="Refusals"))


def census(tool: Tool) -> dict[str, int]:
    with tool.db() as session:
        return {
            model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in CENSUS
        }


def refusal_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if " refused: " in r.getMessage()]


def assert_refused(
    env: Env, caplog: pytest.LogCaptureFixture, case: Case, launch: Callable[[], requests.Response]
) -> None:
    caplog.set_level(logging.WARNING)
    before = census(env.tool)
    caplog.clear()

    answer = launch()

    assert answer.status_code == case.status, answer.text[:2000]
    page = unescape(answer.text)
    assert "could not open this activity" in page
    assert case.says in page
    assert f"<code>{case.code}</code>" in answer.text
    assert "Set-Cookie" not in answer.headers
    assert "session" not in env.http.cookies
    [line] = refusal_lines(caplog)
    assert line.startswith(f"lti launch refused: {case.code}: ")
    assert line.endswith(f"(iss={env.lms.issuer}, client_id={env.lms.client_id})")
    assert census(env.tool) == before


def refusal_test(name: str) -> Callable[..., None]:
    case = CASES[name]

    @pytest.mark.parametrize("env", [case], indirect=True, ids=[name])
    def test(env: Env, caplog: pytest.LogCaptureFixture) -> None:
        assert_refused(env, caplog, case, case.craft(env))

    test.__name__ = f"test_refused_{name}"
    test.__doc__ = f"{case.code} is refused by the {case.check!r} check."
    return test


test_refused_state_mismatch = refusal_test("state_mismatch")
test_refused_state_reused = refusal_test("state_reused")
test_refused_state_expired = refusal_test("state_expired")
test_refused_not_a_jwt = refusal_test("not_a_jwt")
test_refused_alg_none = refusal_test("alg_none")
test_refused_alg_hs256 = refusal_test("alg_hs256")
test_refused_unregistered_issuer = refusal_test("unregistered_issuer")
test_refused_aud_without_client_id = refusal_test("aud_without_client_id")
test_refused_several_aud_no_azp = refusal_test("several_aud_no_azp")
test_refused_several_aud_wrong_azp = refusal_test("several_aud_wrong_azp")
test_refused_bad_signature = refusal_test("bad_signature")
test_refused_no_exp = refusal_test("no_exp")
test_refused_expired = refusal_test("expired")
test_refused_future_iat = refusal_test("future_iat")
test_refused_replayed_nonce = refusal_test("replayed_nonce")
test_refused_unregistered_deployment = refusal_test("unregistered_deployment")
test_refused_missing_message_type = refusal_test("missing_message_type")
test_refused_missing_version = refusal_test("missing_version")
test_refused_missing_roles = refusal_test("missing_roles")
test_refused_missing_resource_link_id = refusal_test("missing_resource_link_id")
test_refused_missing_target_link_uri = refusal_test("missing_target_link_uri")
test_refused_missing_deep_linking_settings = refusal_test("missing_deep_linking_settings")
test_refused_deep_linking_without_resource_links = refusal_test(
    "deep_linking_without_resource_links"
)
test_refused_no_course_role = refusal_test("no_course_role")
test_refused_student_deep_linking = refusal_test("student_deep_linking")
test_refused_foreign_assignment = refusal_test("foreign_assignment")


@pytest.mark.parametrize("env", [CASES["unknown_kid"]], indirect=True, ids=["unknown_kid"])
def test_refused_unknown_kid_after_one_fetch_of_the_key_set(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    case = CASES["unknown_kid"]
    with env.tool.db() as session:  # the last fetch was long enough ago to allow one
        session.execute(
            update(LtiPlatform)
            .where(LtiPlatform.issuer == env.lms.issuer)
            .values(jwks_fetched_at=utcnow() - timedelta(minutes=2))
        )
        session.commit()
    fetches = env.lms.requests.count(("GET", "/jwks"))

    assert_refused(env, caplog, case, case.craft(env))
    assert env.lms.requests.count(("GET", "/jwks")) == fetches + 1
    assert_refused(env, caplog, case, case.craft(env))  # within the minute: no fetch
    assert env.lms.requests.count(("GET", "/jwks")) == fetches + 1


def test_the_login_refuses_an_unregistered_issuer(
    tool: Tool, lms: Lms, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    before = census(tool)
    http = requests.Session()
    answer = http.post(
        lms.tool["login"],
        data={
            "iss": "https://lms.evil.example",
            "login_hint": "someone",
            "target_link_uri": lms.tool["launch"],
            "client_id": lms.client_id,
        },
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 400
    assert "not registered here" in unescape(answer.text)
    assert refusal_lines(caplog) == [
        "lti login refused: unknown_issuer: no platform is registered with iss "
        f"'https://lms.evil.example' and client_id '{lms.client_id}' "
        f"(iss=https://lms.evil.example, client_id={lms.client_id})"
    ]
    assert "session" not in http.cookies
    assert census(tool) == before


def test_the_login_refuses_a_target_that_is_not_the_tool_s(
    tool: Tool, lms: Lms, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with tool.db() as session:
        logins = session.scalar(select(func.count()).select_from(LtiLogin))
    answer = requests.get(
        lms.tool["login"],
        params={
            "iss": lms.issuer,
            "login_hint": "someone",
            "client_id": lms.client_id,
            "target_link_uri": "https://phish.example/lti/launch",
        },
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 400
    assert "not backprop-quiz's" in unescape(answer.text)
    [line] = refusal_lines(caplog)
    assert line.startswith("lti login refused: bad_target: ")
    with tool.db() as session:
        assert session.scalar(select(func.count()).select_from(LtiLogin)) == logins


def test_every_check_has_a_refusal_case() -> None:
    assert {case.check for case in CASES.values()} == {c.name for c in validation.CHECKS}


@pytest.mark.parametrize(
    "env",
    list(CASES.values()),
    indirect=True,
    ids=[f"without-{c.check}-{n}" for n, c in CASES.items()],
)
def test_each_refusal_needs_its_check(
    env: Env,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    """Without its check, the same crafted launch is not refused with that code: it gets
    through, or (where a later check overlaps) is refused by that one, named in ``then``."""
    case: Case = request.node.callspec.params["env"]
    launch = case.craft(env)
    monkeypatch.setattr(
        validation, "CHECKS", tuple(c for c in validation.CHECKS if c.name != case.check)
    )
    caplog.set_level(logging.WARNING)
    caplog.clear()

    answer = launch()

    codes = [line.split(": ")[1] for line in refusal_lines(caplog)]
    assert case.code not in codes
    if case.then is None:
        assert answer.status_code == 303, answer.text[:2000]
        assert answer.headers["Location"].startswith(("/lti/enter/", "/lti/deep-link/"))
        assert codes == []
    else:
        assert answer.status_code == 400
        assert codes == [case.then]


def test_the_login_refuses_an_unregistered_deployment(
    tool: Tool, lms: Lms, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    answer = requests.post(
        lms.tool["login"],
        data={
            "iss": lms.issuer,
            "login_hint": "someone",
            "client_id": lms.client_id,
            "target_link_uri": lms.tool["launch"],
            "lti_deployment_id": "deployment-nobody-registered",
        },
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 400
    assert "register its deployment ID" in unescape(answer.text)
    [line] = refusal_lines(caplog)
    assert line.startswith("lti login refused: unknown_deployment: ")


def test_one_form_posted_twice_at_once_launches_once(tool: Tool, lms: Lms) -> None:
    """The login is used up by one atomic UPDATE: of two racing posts, one gets through."""
    held: dict[str, str] = {}

    def hold_back(forgery: Forgery) -> None:
        held["state"], forgery.state = forgery.state, "a-state-this-tool-never-issued"

    user = LmsUser(sub=f"user-{uuid.uuid4().hex[:10]}", name="Twice", email=None, roles=[LEARNER])
    assert lms.launch(requests.Session(), user, tamper=hold_back, follow=False).status_code == 400
    form = {"id_token": lms.forms[-1]["id_token"], "state": held["state"]}
    start = threading.Barrier(2)

    def post() -> int:
        start.wait()
        return requests.post(
            lms.tool["launch"], data=form, allow_redirects=False, timeout=60
        ).status_code

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(lambda _: post(), range(2)))
    assert statuses == [303, 400]
    with tool.db() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(LtiIdentity).where(LtiIdentity.sub == user.sub)
            )
            == 1
        )
