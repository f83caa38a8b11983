"""Registering platforms: the registry, LTI Dynamic Registration over HTTP against the
test platform, Canvas's JSON configuration, and the site admin's page."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask.testing import FlaskClient
from lmsim import Lms
from ltikit import Tool
from sqlalchemy import func, select

from service import auth
from service.lms import registry
from service.models import (
    Course,
    LtiContext,
    LtiDeployment,
    LtiPlatform,
    LtiRegistration,
    Role,
    utcnow,
)

PASSWORD = "correct horse battery"
AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"
NRPS_READ = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"


def spec(**changes: object) -> registry.PlatformSpec:
    """A valid hand-made platform with a fresh issuer, changed as asked."""
    values: dict[str, object] = {
        "issuer": f"https://lms-{uuid.uuid4().hex[:8]}.example.edu",
        "client_id": "10000000000001",
        "auth_login_url": "https://lms.example.edu/api/lti/authorize_redirect",
        "auth_token_url": "https://lms.example.edu/login/oauth2/token",
        "jwks_url": "https://lms.example.edu/api/lti/security/jwks",
        "deployment_ids": ("1:abc",),
    }
    values.update(changes)
    return registry.PlatformSpec(**values)  # type: ignore[arg-type]


def platform_count(tool: Tool) -> int:
    with tool.db() as session:
        return session.scalar(select(func.count()).select_from(LtiPlatform)) or 0


def new_code(tool: Tool) -> str:
    with tool.db() as session:
        code = registry.new_registration_code(session)
        session.commit()
    return code


def register_url(tool: Tool, code: str) -> str:
    return f"{tool.url}/lti/register?code={code}"


def code_row(tool: Tool, code: str) -> LtiRegistration:
    with tool.db() as session:
        row = session.scalar(
            select(LtiRegistration).where(LtiRegistration.code_hash == registry.secret_hash(code))
        )
        assert row is not None
        session.expunge(row)
        return row


# -- the registry ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"issuer": "  "}, "issuer: must not be empty"),
        ({"client_id": ""}, "client id: must not be empty"),
        ({"auth_login_url": "ftp://lms.example.edu/auth"}, "auth login url"),
        ({"auth_token_url": "https:///token"}, "auth token url"),
        ({"jwks_url": "lms.example.edu/jwks"}, "jwks url"),
        ({"deployment_ids": ("ok", "two words")}, "deployment id"),
        ({"client_id": "abc\u200bdef"}, "client id: contains"),
    ],
)
def test_a_bad_platform_is_refused_naming_the_field(
    tool: Tool, changes: dict[str, object], named: str
) -> None:
    before = platform_count(tool)
    with tool.db() as session, pytest.raises(registry.RegistryError, match=re.escape(named)):
        registry.add_platform(session, spec(**changes))
    assert platform_count(tool) == before


def test_the_same_issuer_and_client_id_twice_is_refused(tool: Tool) -> None:
    first = spec()
    with tool.db() as session:
        registry.add_platform(session, first)
        session.commit()
        with pytest.raises(registry.RegistryError, match="already registered"):
            registry.add_platform(session, spec(issuer=first.issuer))
        session.rollback()
        # Another client id on the same platform is another registration.
        registry.add_platform(session, spec(issuer=first.issuer, client_id="10000000000002"))
        session.commit()
        ids = [p.client_id for p in registry.list_platforms(session) if p.issuer == first.issuer]
        assert ids == ["10000000000001", "10000000000002"]


def test_deployments_are_added_once(tool: Tool) -> None:
    with tool.db() as session:
        platform = registry.add_platform(session, spec(deployment_ids=("a", "b", "a")))
        assert [d.deployment_id for d in platform.deployments] == ["a", "b"]
        registry.add_deployment(session, platform, " c ")
        with pytest.raises(registry.RegistryError, match="already has deployment b"):
            registry.add_deployment(session, platform, "b")
        session.commit()
        ids = session.scalars(
            select(LtiDeployment.deployment_id)
            .where(LtiDeployment.platform_id == platform.id)
            .order_by(LtiDeployment.id)
        ).all()
        assert ids == ["a", "b", "c"]


def test_removing_a_platform_keeps_its_courses(tool: Tool) -> None:
    made = spec()
    with tool.db() as session:
        platform = registry.add_platform(session, made)
        course = Course(code=f"LTI-{uuid.uuid4().hex[:6]}", title="Kept")
        session.add(course)
        session.flush()
        session.add(
            LtiContext(
                platform_id=platform.id, deployment_id="1:abc", context_id="c1", course_id=course.id
            )
        )
        session.commit()
        course_id, platform_id = course.id, platform.id
    with tool.db() as session:
        registry.remove_platform(session, made.issuer, made.client_id)
        session.commit()
    with tool.db() as session:
        assert session.get(Course, course_id) is not None
        assert session.get(LtiPlatform, platform_id) is None
        assert (
            session.scalars(select(LtiContext).where(LtiContext.platform_id == platform_id)).all()
            == []
        )
        assert (
            session.scalars(
                select(LtiDeployment).where(LtiDeployment.platform_id == platform_id)
            ).all()
            == []
        )
        with pytest.raises(registry.RegistryError, match="no platform"):
            registry.remove_platform(session, made.issuer, made.client_id)


def test_a_registration_code_is_stored_hashed_lasts_a_day_and_is_used_once(tool: Tool) -> None:
    code = new_code(tool)
    row = code_row(tool, code)
    assert code not in row.code_hash and len(row.code_hash) == 64
    assert row.expires_at - row.created_at == timedelta(hours=24)
    with tool.db() as session:
        with pytest.raises(registry.RegistryError, match="expired"):
            registry.registration_code(session, code, now=utcnow() + timedelta(hours=24, seconds=1))
        with pytest.raises(registry.RegistryError, match="not one this tool issued"):
            registry.registration_code(session, code + "x")
        pending = registry.registration_code(session, code)
        platform = registry.add_platform(session, spec())
        registry.use_registration_code(session, pending, platform)
        session.commit()
        with pytest.raises(registry.RegistryError, match="used already"):
            registry.registration_code(session, code)
        with pytest.raises(registry.RegistryError, match="used already"):
            registry.use_registration_code(session, pending, platform)


# -- Dynamic Registration over HTTP ----------------------------------------------------


@pytest.fixture
def platform_reset(lms: Lms) -> Iterator[Lms]:
    """The platform as configured, whatever a test changed."""
    yield lms
    lms.refuse_registration = None
    lms.openid_issuer = None


def test_dynamic_registration_stores_the_platform_it_registered_with(tool: Tool, lms: Lms) -> None:
    code = new_code(tool)
    before = len(lms.registrations)
    page = requests.get(lms.start_registration(register_url(tool, code)), timeout=30)
    assert page.status_code == 200, page.text
    assert "Registration complete" in page.text
    assert 'id="lti-close"' in page.text and "/static/lti-close.js" in page.text
    assert "<script>" not in page.text  # no inline script (CSP script-src 'self')
    assert len(lms.registrations) == before + 1

    with tool.db() as session:
        platform = registry.find_platform(session, lms.issuer, lms.client_id)
        assert platform is not None
        assert [d.deployment_id for d in platform.deployments] == [lms.deployment_id]
        assert (platform.auth_login_url, platform.auth_token_url, platform.jwks_url) == (
            f"{lms.url}/auth",
            f"{lms.url}/token",
            f"{lms.url}/jwks",
        )
        assert platform.registered_by == "dynamic"
        platform_id = platform.id
    row = code_row(tool, code)
    assert row.used_at is not None and row.platform_id == platform_id
    # What the platform took from the tool's registration.
    assert lms.tool == {
        "login": f"{tool.url}/lti/login",
        "launch": f"{tool.url}/lti/launch",
        "jwks": f"{tool.url}/lti/jwks",
        "deep_link": f"{tool.url}/lti/launch",
    }


def test_the_client_registration_is_what_the_specification_asks(tool: Tool, lms: Lms) -> None:
    code = new_code(tool)
    requests.get(lms.start_registration(register_url(tool, code)), timeout=30)
    body = lms.registrations[-1]
    assert body["application_type"] == "web"
    assert body["response_types"] == ["id_token"]
    assert set(body["grant_types"]) == {"implicit", "client_credentials"}
    assert body["token_endpoint_auth_method"] == "private_key_jwt"
    assert set(body["scope"].split()) == {
        AGS + "lineitem",
        AGS + "score",
        AGS + "result.readonly",
        NRPS_READ,
    }
    config = body[TOOL_CONFIGURATION]
    assert config["domain"] == urlsplit(tool.url).netloc
    assert config["target_link_uri"] == f"{tool.url}/lti/launch"
    [message] = config["messages"]
    assert message["type"] == "LtiDeepLinkingRequest"
    assert {"link_selection", "assignment_selection"} <= set(message["placements"])


def test_registration_without_a_code_explains_how_to_get_one(tool: Tool, lms: Lms) -> None:
    before, asked = platform_count(tool), len(lms.registrations)
    page = requests.get(lms.start_registration(f"{tool.url}/lti/register"), timeout=30)
    assert page.status_code == 403
    assert "registration link is needed" in page.text and "lti registration-link" in page.text
    assert platform_count(tool) == before and len(lms.registrations) == asked


def test_a_used_code_is_refused(tool: Tool, lms: Lms) -> None:
    code = new_code(tool)
    first = requests.get(lms.start_registration(register_url(tool, code)), timeout=30)
    assert first.status_code == 200
    before, asked = platform_count(tool), len(lms.registrations)
    again = requests.get(lms.start_registration(register_url(tool, code)), timeout=30)
    assert again.status_code == 403
    assert "the registration code" in again.text and "used already" in again.text
    assert platform_count(tool) == before and len(lms.registrations) == asked


def test_a_configuration_whose_issuer_is_another_origin_is_refused(
    tool: Tool, platform_reset: Lms
) -> None:
    lms = platform_reset
    lms.openid_issuer = "https://lms.example.edu"
    code = new_code(tool)
    before, asked = platform_count(tool), len(lms.registrations)
    page = requests.get(lms.start_registration(register_url(tool, code)), timeout=30)
    assert page.status_code == 400
    assert "OpenID configuration" in page.text and "https://lms.example.edu" in page.text
    assert platform_count(tool) == before and len(lms.registrations) == asked
    assert code_row(tool, code).used_at is None  # nothing happened: the code still works


def test_an_unreachable_configuration_is_named(tool: Tool, lms: Lms) -> None:
    code = new_code(tool)
    before = platform_count(tool)
    url = f"{register_url(tool, code)}&openid_configuration=http://127.0.0.1:9/.well-known/x"
    page = requests.get(url, timeout=60)
    assert page.status_code == 502
    assert "could not be read from http://127.0.0.1:9/.well-known/x" in page.text
    assert platform_count(tool) == before and code_row(tool, code).used_at is None


def test_a_registration_the_platform_refuses_stores_nothing(
    tool: Tool, platform_reset: Lms
) -> None:
    lms = platform_reset
    lms.refuse_registration = "this platform takes no new tools today"
    code = new_code(tool)
    before = platform_count(tool)
    page = requests.get(lms.start_registration(register_url(tool, code)), timeout=30)
    assert page.status_code == 502
    assert "refused the registration (HTTP 400)" in page.text
    assert "this platform takes no new tools today" in page.text
    assert platform_count(tool) == before and code_row(tool, code).used_at is None


# -- Canvas's JSON configuration -------------------------------------------------------


def test_the_canvas_configuration_names_the_tools_urls_and_placements(tool: Tool) -> None:
    document = requests.get(f"{tool.url}/lti/config", timeout=10).json()
    assert document["oidc_initiation_url"] == f"{tool.url}/lti/login"
    assert document["target_link_uri"] == f"{tool.url}/lti/launch"
    assert document["public_jwk_url"] == f"{tool.url}/lti/jwks"
    assert document["title"] and document["description"]
    assert set(document["scopes"]) == {
        AGS + "lineitem",
        AGS + "score",
        AGS + "result.readonly",
        NRPS_READ,
    }
    [canvas] = document["extensions"]
    assert canvas["platform"] == "canvas.instructure.com"
    assert canvas["privacy_level"] == "public"
    placements = {p["placement"]: p for p in canvas["settings"]["placements"]}
    assert {k: p["message_type"] for k, p in placements.items()} == {
        "link_selection": "LtiDeepLinkingRequest",
        "assignment_selection": "LtiDeepLinkingRequest",
        "course_navigation": "LtiResourceLinkRequest",
    }
    assert all(p["target_link_uri"] == f"{tool.url}/lti/launch" for p in placements.values())
    assert isinstance(document["custom_fields"], dict)


# -- the site admin's page -------------------------------------------------------------

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def person(tool: Tool, role: Role) -> str:
    email = f"{role.value}-{uuid.uuid4().hex[:8]}@example.org"
    with tool.db() as session:
        auth.create_user(email, PASSWORD, role)
        session.commit()
    return email


def signed_in(tool: Tool, role: Role) -> FlaskClient:
    client = tool.app.test_client()
    token = CSRF_FIELD.search(client.get("/login").get_data(as_text=True))
    assert token
    answer = client.post(
        "/login",
        data={"email": person(tool, role), "password": PASSWORD, "csrf_token": token.group(1)},
    )
    assert answer.status_code == 302
    return client


def csrf(client: FlaskClient) -> str:
    page = client.get("/admin/lti")
    assert page.status_code == 200
    match = CSRF_FIELD.search(page.get_data(as_text=True))
    assert match
    return match.group(1)


def test_the_admin_page_is_for_site_admins_only(tool: Tool) -> None:
    anonymous = tool.app.test_client().get("/admin/lti")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert signed_in(tool, Role.instructor).get("/admin/lti").status_code == 404
    assert signed_in(tool, Role.student).get("/admin/lti").status_code == 404
    instructor = signed_in(tool, Role.instructor)
    token = CSRF_FIELD.search(instructor.get("/courses").get_data(as_text=True))
    assert token  # the log-out form's: a valid token of this session
    for path in ("/admin/lti/keys/rotate", "/admin/lti/registration-links", "/admin/lti/platforms"):
        assert instructor.post(path, data={"csrf_token": token.group(1)}).status_code == 404
    page = signed_in(tool, Role.admin).get("/admin/lti")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for path in ("/lti/login", "/lti/launch", "/lti/jwks", "/lti/config", "/lti/register"):
        assert f"http://localhost{path}" in text
    assert '<label for="platform-issuer">' in text


def test_the_admin_adds_and_removes_a_platform_by_hand(tool: Tool) -> None:
    admin = signed_in(tool, Role.admin)
    made = spec()
    form = {
        "name": "Canvas test",
        "issuer": made.issuer,
        "client_id": made.client_id,
        "deployment_ids": "1:abc\n2:def",
        "auth_login_url": made.auth_login_url,
        "auth_token_url": made.auth_token_url,
        "jwks_url": made.jwks_url,
    }
    assert admin.post("/admin/lti/platforms", data=form).status_code == 400  # no CSRF token
    bad = admin.post(
        "/admin/lti/platforms", data={**form, "jwks_url": "nope", "csrf_token": csrf(admin)}
    )
    assert bad.status_code == 422 and "jwks url: must be an https://" in bad.get_data(as_text=True)
    added = admin.post("/admin/lti/platforms", data={**form, "csrf_token": csrf(admin)})
    assert added.status_code == 303
    with tool.db() as session:
        platform = registry.find_platform(session, made.issuer, made.client_id)
        assert platform is not None and platform.registered_by == "admin"
        assert [d.deployment_id for d in platform.deployments] == ["1:abc", "2:def"]
        platform_id = platform.id

    more = admin.post(
        f"/admin/lti/platforms/{platform_id}/deployments",
        data={"deployment_id": "3:ghi", "csrf_token": csrf(admin)},
    )
    assert more.status_code == 303
    unconfirmed = admin.post(
        f"/admin/lti/platforms/{platform_id}/remove", data={"csrf_token": csrf(admin)}
    )
    assert unconfirmed.status_code == 422
    with tool.db() as session:
        kept = session.get(LtiPlatform, platform_id)
        assert kept is not None and len(kept.deployments) == 3
    removed = admin.post(
        f"/admin/lti/platforms/{platform_id}/remove",
        data={"confirm": "yes", "csrf_token": csrf(admin)},
    )
    assert removed.status_code == 303
    with tool.db() as session:
        assert session.get(LtiPlatform, platform_id) is None


def test_the_admin_makes_a_registration_link_that_works_once(tool: Tool, lms: Lms) -> None:
    admin = signed_in(tool, Role.admin)
    page = admin.post("/admin/lti/registration-links", data={"csrf_token": csrf(admin)})
    assert page.status_code == 200
    [link] = set(
        re.findall(
            r'value="(http://localhost/lti/register\?code=[^"]+)"', page.get_data(as_text=True)
        )
    )
    code = parse_qs(urlsplit(link.replace("&amp;", "&")).query)["code"][0]
    assert code not in admin.get("/admin/lti").get_data(as_text=True)  # shown once
    done = requests.get(lms.start_registration(register_url(tool, code)), timeout=30)
    assert done.status_code == 200 and "Registration complete" in done.text
    assert code_row(tool, code).created_by is not None


def test_the_admin_rotates_the_keys(tool: Tool) -> None:
    admin = signed_in(tool, Role.admin)
    before = {k["kid"] for k in requests.get(f"{tool.url}/lti/jwks", timeout=10).json()["keys"]}
    assert admin.post("/admin/lti/keys/rotate", data={"csrf_token": csrf(admin)}).status_code == 303
    after = {k["kid"] for k in requests.get(f"{tool.url}/lti/jwks", timeout=10).json()["keys"]}
    assert before < after and len(after - before) == 1
    [new] = after - before
    assert new in admin.get("/admin/lti").get_data(as_text=True)
