"""Passwords and tokens are stored hashed; bearer calls skip CSRF, session calls need it."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable

import flask_login
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from servicekit import PASSWORD, Caller, cli_env, create_user_command
from sqlalchemy import select
from werkzeug.security import check_password_hash

from service import auth
from service.cli import main
from service.config import Settings
from service.db import db
from service.models import ApiToken, Role, User


def test_password_is_stored_hashed(ctx: None) -> None:
    user = auth.create_user("Ada@Example.org ", PASSWORD, Role.student)
    db.session.commit()
    assert user.email == "ada@example.org"
    assert PASSWORD not in user.password_hash
    assert check_password_hash(user.password_hash, PASSWORD)
    assert auth.authenticate("ada@example.org", PASSWORD) == user
    assert auth.authenticate("ada@example.org", PASSWORD + "x") is None
    assert auth.authenticate("nobody@example.org", PASSWORD) is None


@pytest.mark.parametrize(
    ("email", "password", "reason"),
    [
        ("not-an-email", PASSWORD, "not an email"),
        ("a@example.org", "short", "at least 8"),
    ],
)
def test_create_user_refuses(ctx: None, email: str, password: str, reason: str) -> None:
    with pytest.raises(auth.UserError, match=reason):
        auth.create_user(email, password, Role.student)


def test_create_user_refuses_a_taken_email(ctx: None) -> None:
    auth.create_user("a@example.org", PASSWORD, Role.student)
    db.session.commit()
    with pytest.raises(auth.UserError, match="exists"):
        auth.create_user("A@example.org", PASSWORD, Role.admin)


def test_token_is_stored_hashed_and_authenticates(app: Flask, student: Caller) -> None:
    with app.app_context():
        stored = db.session.scalars(select(ApiToken.token_hash)).all()
    assert stored == [hashlib.sha256(student.token.encode()).hexdigest()]
    assert student.token not in stored
    me = student.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json["email"] == student.email and me.json["role"] == "student"


def test_a_deleted_token_stops_working_within_the_cache_time(app: Flask, student: Caller) -> None:
    now = [1000.0]
    app.extensions["token_cache"] = auth.token_cache(timer=lambda: now[0])
    assert student.get("/api/v1/me").status_code == 200  # looked up, and remembered
    with app.app_context():
        db.session.query(ApiToken).delete()
        db.session.commit()
    now[0] += auth.TOKEN_CACHE_SECONDS - 1
    assert student.get("/api/v1/me").status_code == 200  # still remembered
    now[0] += 2
    response = student.get("/api/v1/me")
    assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    "header", ["Bearer bpq_not-a-real-token", "Basic dXNlcjpwYXNz", "Bearer", "Token abc"]
)
def test_bad_authorization_header_is_401(client: FlaskClient, header: str) -> None:
    response = client.get("/api/v1/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_anonymous_caller_is_401(client: FlaskClient) -> None:
    for method, path in [
        ("GET", "/api/v1/me"),
        ("POST", "/api/v1/problems"),
        ("GET", "/api/v1/courses"),
    ]:
        response = client.open(path, method=method, json={"type": "weight-gradient"})
        assert response.status_code == 401, path
        assert response.json["error"]["code"] == "unauthorized"


def test_an_anonymous_submission_is_401_before_its_body_is_read(client: FlaskClient) -> None:
    # Nobody learns what the route accepts, nor whether the problem exists, without logging in.
    response = client.post(f"/api/v1/problems/{uuid.uuid4()}/submissions", json={"bogus": 1})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_bearer_writes_need_no_csrf(student: Caller) -> None:
    response = student.post("/api/v1/problems", json={"type": "weight-gradient", "seed": 1})
    assert response.status_code == 201


def test_a_bearer_request_neither_reads_nor_sets_a_session_cookie(
    app: Flask, student: Caller
) -> None:
    # A session cookie of another user rides along; the token alone decides who calls.
    other = _session_client(app, student.user_id + 1000)
    student.client.set_cookie("session", other.get_cookie("session").value)
    me = student.get("/api/v1/me")
    assert me.status_code == 200 and me.json["id"] == student.user_id
    assert "csrf_token" not in me.json  # no session to keep it in
    assert "Set-Cookie" not in me.headers
    accepted = student.post("/api/v1/problems", json={"type": "weight-gradient", "seed": 3})
    assert accepted.status_code == 201 and "Set-Cookie" not in accepted.headers


def _session_client(app: Flask, user_id: int) -> FlaskClient:
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = f"{user_id}.0"  # the user's first session epoch
        session["_fresh"] = True
    return client


def test_session_reads_work_and_writes_need_the_csrf_token(app: Flask, student: Caller) -> None:
    client = _session_client(app, student.user_id)
    me = client.get("/api/v1/me")
    assert me.status_code == 200 and me.json["id"] == student.user_id
    body = {"type": "weight-gradient", "seed": 2}
    refused = client.post("/api/v1/problems", json=body)
    assert refused.status_code == 400
    assert refused.json["error"]["code"] == "csrf_failed"
    accepted = client.post(
        "/api/v1/problems", json=body, headers={"X-CSRFToken": me.json["csrf_token"]}
    )
    assert accepted.status_code == 201


def test_log_in_starts_a_session(app: Flask, student: Caller) -> None:
    with app.test_request_context():
        assert auth.log_in(student.email, "wrong password") is None
        assert not flask_login.current_user.is_authenticated
        user = auth.log_in(student.email, PASSWORD)
        assert user is not None and flask_login.current_user.id == student.user_id
        auth.log_out()
        assert not flask_login.current_user.is_authenticated


def test_users_and_tokens_commands(
    app: Flask, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = cli_env(settings)
    runner = CliRunner()
    created = create_user_command(runner, env, "instructor")
    assert created.exit_code == 0, created.output
    again = create_user_command(runner, env, "student")
    assert again.exit_code != 0 and "exists" in again.output
    token = runner.invoke(main, ["tokens", "create", "--email", "t@example.org"], env=env)
    assert token.exit_code == 0
    header = {"Authorization": f"Bearer {token.output.strip()}"}
    me = app.test_client().get("/api/v1/me", headers=header)
    assert me.json["email"] == "t@example.org" and me.json["role"] == "instructor"
    unknown = runner.invoke(main, ["tokens", "create", "--email", "x@example.org"], env=env)
    assert unknown.exit_code != 0 and "no user" in unknown.output


def test_role_choice_is_checked(settings: Settings) -> None:
    result = CliRunner().invoke(
        main,
        ["users", "create", "--email", "a@example.org", "--password", PASSWORD, "--role", "root"],
        env={"DATABASE_URL": settings.database_url},
    )
    assert result.exit_code != 0


def test_users_are_flask_login_users(ctx: None, make_caller: Callable[..., Caller]) -> None:
    caller = make_caller("admin")
    user = db.session.get(User, caller.user_id)
    assert user.get_id() == f"{caller.user_id}.0" and user.is_authenticated
