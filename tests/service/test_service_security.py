"""Security reproducers of issue 12, item 8: each failed on the code before the fix.

Open redirect after login, login guessing without a limit, a session cookie that
outlives its logout, 500s while the database is down, a retried submission using up an
attempt, and /metrics open to anyone.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from conftest import _admin, _pg_url
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from servicekit import PASSWORD, Caller, practice_problem, statements_run
from sqlalchemy import func, select
from test_pages import csrf_token, log_in

from service import auth, pipeline
from service.app import create_app
from service.config import Settings, load_settings
from service.db import db
from service.models import LoginFailure, Problem, Result, Status, Submission, User, utcnow

# --- open redirect -------------------------------------------------------------------------


def _login(client: FlaskClient, email: str, password: str = PASSWORD, query: str = "") -> Any:
    return client.post(
        "/login" + query,
        data={"email": email, "password": password, "csrf_token": csrf_token(client)},
    )


@pytest.mark.parametrize(
    "target",
    [
        "/%09/evil.com",  # the reproducer: a tab the browser drops, leaving //evil.com
        "/%0a/evil.com",
        "/%0d%0a/evil.com",
        "%20//evil.com",
        "//evil.com",
        "/\\evil.com",
        "/%5Cevil.com",
        "https://evil.com/",
        "javascript:alert(1)",
        "/%E2%80%8B/evil.com",  # a zero-width space
    ],
)
def test_login_never_redirects_off_site(student: Caller, target: str) -> None:
    response = _login(student.client, student.email, query=f"?next={target}")
    assert response.status_code == 302
    assert response.headers["Location"] == "/courses"


def test_login_follows_a_same_site_path(student: Caller) -> None:
    response = _login(student.client, student.email, query="?next=/practice/loss%3Fseed%3D3")
    assert response.status_code == 302
    assert response.headers["Location"] == "/practice/loss?seed=3"


# --- sessions end on the server ------------------------------------------------------------


def _copied_session(app: Flask, client: FlaskClient) -> FlaskClient:
    copy = app.test_client()
    copy.set_cookie("session", client.get_cookie("session").value)
    return copy


def test_a_cookie_copied_before_logout_is_dead_after_it(app: Flask, student: Caller) -> None:
    browser = student.client
    log_in(browser, student.email)
    thief = _copied_session(app, browser)
    assert thief.get("/api/v1/me").status_code == 200  # the copy works while logged in
    token = csrf_token(browser, "/courses")
    assert browser.post("/logout", data={"csrf_token": token}).status_code == 302
    assert thief.get("/api/v1/me").status_code == 401
    assert thief.get("/courses").status_code == 302  # to the login page
    log_in(browser, student.email)  # the owner logs in again as usual
    assert browser.get("/api/v1/me").status_code == 200
    assert thief.get("/api/v1/me").status_code == 401


def test_a_new_password_ends_other_sessions(app: Flask, student: Caller) -> None:
    log_in(student.client, student.email)
    assert student.client.get("/api/v1/me").status_code == 200
    with app.app_context():
        auth.set_password(db.session.get(User, student.user_id), "a new long password")
        db.session.commit()
    assert student.client.get("/api/v1/me").status_code == 401


# --- login rate limit ----------------------------------------------------------------------


@pytest.fixture
def limited(settings: Settings) -> Flask:
    """An app whose limits are small enough to reach in a test."""
    app = create_app(replace(settings, login_failures_per_account=3, login_failures_per_address=5))
    app.config["TESTING"] = True
    with app.app_context():
        auth.create_user("owner@example.org", PASSWORD, auth.Role.student)
        db.session.commit()
    return app


def _attempt(app: Flask, email: str, password: str, address: str = "203.0.113.7") -> Any:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return _login(client, email, password)


def _age_failures(app: Flask, seconds: int) -> None:
    with app.app_context():
        for failure in db.session.scalars(select(LoginFailure)):
            failure.failed_at -= timedelta(seconds=seconds)
        db.session.commit()


def test_guessing_an_accounts_password_is_stopped(limited: Flask) -> None:
    for _ in range(3):
        assert _attempt(limited, "owner@example.org", "wrong password").status_code == 401
    # The reproducer: before, the right password worked after 200 wrong ones.
    for password in ("wrong password", PASSWORD):
        refused = _attempt(limited, "Owner@Example.org ", password, address="198.51.100.1")
        assert refused.status_code == 429
        retry_after = int(refused.headers["Retry-After"])
        assert 0 < retry_after <= 900
        assert "Too many failed logins" in refused.get_data(as_text=True)


def test_the_owner_is_not_locked_out_for_long(limited: Flask) -> None:
    for _ in range(3):
        _attempt(limited, "owner@example.org", "wrong password")
    assert _attempt(limited, "owner@example.org", PASSWORD).status_code == 429
    _age_failures(limited, 901)  # the window has passed
    assert _attempt(limited, "owner@example.org", PASSWORD).status_code == 302


def test_a_successful_login_clears_the_accounts_count(limited: Flask) -> None:
    for _ in range(2):
        _attempt(limited, "owner@example.org", "wrong password")
    assert _attempt(limited, "owner@example.org", PASSWORD).status_code == 302
    for _ in range(2):
        assert _attempt(limited, "owner@example.org", "wrong password").status_code == 401
    with limited.app_context():
        assert db.session.scalar(select(func.count()).select_from(LoginFailure)) == 2


def test_one_address_trying_many_accounts_is_stopped(limited: Flask) -> None:
    for n in range(5):
        assert _attempt(limited, f"guess{n}@example.org", "wrong password").status_code == 401
    assert _attempt(limited, "owner@example.org", PASSWORD).status_code == 429
    # Another address is not held back by this one.
    assert _attempt(limited, "owner@example.org", PASSWORD, address="192.0.2.9").status_code == 302


# --- the database down ---------------------------------------------------------------------


def test_api_answers_503_with_retry_after_while_the_database_is_down(
    settings: Settings, app: Flask, student: Caller
) -> None:
    problem = student.post("/api/v1/problems", json={"type": "loss", "seed": 3}).json
    if settings.database_url.startswith("sqlite"):
        down_url = f"sqlite:///{settings.instance_path}"  # a directory: cannot be opened
    else:
        down_url = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"  # nothing listens
    down = create_app(replace(settings, database_url=down_url)).test_client()
    headers = {"Authorization": f"Bearer {student.token}"}
    for method, path, body in [
        ("GET", "/api/v1/me", None),
        ("POST", f"/api/v1/problems/{problem['id']}/submissions", {"answers": {"C": 1}}),
        ("GET", f"/api/v1/problems/{problem['id']}", None),
    ]:
        response = down.open(path, method=method, json=body, headers=headers)
        assert response.status_code == 503, (path, response.get_data(as_text=True))
        assert response.json["error"]["code"] == "unavailable"
        assert int(response.headers["Retry-After"]) > 0
    page = down.get("/login")
    login = down.post("/login", data={"email": "a@example.org", "password": "x"})
    assert page.status_code == 200 and login.status_code in (400, 503)


@pytest.mark.integration
def test_a_database_dropped_mid_test_gives_503(
    postgres_template: str, tmp_path: Any, make_caller: Any
) -> None:
    """PostgreSQL only (the fixtures above run on both): the database goes away under a
    running app."""
    name = f"bpq_test_{uuid.uuid4().hex[:12]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
    try:
        settings = load_settings(
            {"INSTANCE_PATH": str(tmp_path / "instance"), "DATABASE_URL": _pg_url(name)}
        )
        app = create_app(settings)
        client = app.test_client()
        with app.app_context():
            user = auth.create_user("ada@example.org", PASSWORD, auth.Role.student)
            token = auth.issue_token(user)
            db.session.commit()
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/v1/me", headers=headers).status_code == 200
        with _admin() as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        app.extensions["token_cache"] = auth.token_cache()  # forget the caller's token
        response = client.get("/api/v1/me", headers=headers)
        assert response.status_code == 503 and response.json["error"]["code"] == "unavailable"
        assert int(response.headers["Retry-After"]) > 0
        app.extensions["db"].kw["bind"].dispose()
    finally:
        with _admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- Idempotency-Key -----------------------------------------------------------------------


def _problem(app: Flask, owner: Caller) -> tuple[uuid.UUID, dict[str, Any]]:
    with app.app_context():
        problem = practice_problem(5, owner_id=owner.user_id)
        db.session.add(problem)
        db.session.commit()
        return problem.id, problem.variant["key"]


def _submit(caller: Caller, problem_id: uuid.UUID, answers: Any, key: str | None) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return caller.post(
        f"/api/v1/problems/{problem_id}/submissions", json={"answers": answers}, headers=headers
    )


def _attempts(app: Flask, problem_id: uuid.UUID) -> tuple[int, int]:
    with app.app_context():
        used = db.session.get(Problem, problem_id).attempts_used
        rows = db.session.scalar(
            select(func.count()).select_from(Submission).where(Submission.problem_id == problem_id)
        )
        return used, rows


def test_a_retry_with_the_same_key_uses_no_attempt(app: Flask, student: Caller) -> None:
    problem_id, key = _problem(app, student)
    first = _submit(student, problem_id, key, "retry-1")
    again = _submit(student, problem_id, key, "retry-1")
    assert first.status_code == again.status_code == 202
    assert again.json["id"] == first.json["id"]
    assert _attempts(app, problem_id) == (1, 1)
    other = _submit(student, problem_id, key, "retry-2")  # a new key is a new attempt
    assert other.status_code == 202 and other.json["id"] != first.json["id"]
    assert _attempts(app, problem_id) == (2, 2)


def test_without_a_key_each_post_is_an_attempt(app: Flask, student: Caller) -> None:
    problem_id, key = _problem(app, student)
    ids = {_submit(student, problem_id, key, None).json["id"] for _ in range(2)}
    assert len(ids) == 2 and _attempts(app, problem_id) == (2, 2)


def test_a_key_reused_with_other_answers_is_refused(app: Flask, student: Caller) -> None:
    problem_id, key = _problem(app, student)
    assert _submit(student, problem_id, key, "k").status_code == 202
    changed = dict.fromkeys(key, 0)
    refused = _submit(student, problem_id, changed, "k")
    assert refused.status_code == 422
    assert refused.json["error"]["code"] == "idempotency_key_reused"
    assert "Idempotency-Key" in refused.json["error"]["message"]
    other_id, _ = _problem(app, student)
    elsewhere = _submit(student, other_id, key, "k")
    assert elsewhere.status_code == 422 and "Idempotency-Key" in elsewhere.json["error"]["message"]
    assert _attempts(app, problem_id) == (1, 1) and _attempts(app, other_id) == (0, 0)


def test_keys_are_per_user(app: Flask, make_caller: Any) -> None:
    ada, bob = make_caller(), make_caller()
    problem_a, key_a = _problem(app, ada)
    problem_b, key_b = _problem(app, bob)
    assert _submit(ada, problem_a, key_a, "same").status_code == 202
    assert _submit(bob, problem_b, key_b, "same").status_code == 202


@pytest.mark.parametrize("bad", ["x" * 129, "", "tab\there", "é"])
def test_a_malformed_key_is_refused_naming_the_header(
    app: Flask, student: Caller, bad: str
) -> None:
    problem_id, key = _problem(app, student)
    response = student.post(
        f"/api/v1/problems/{problem_id}/submissions",
        json={"answers": key},
        headers={"Idempotency-Key": bad.encode("utf-8").decode("latin-1")},
    )
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_idempotency_key"
    assert "Idempotency-Key" in response.json["error"]["message"]
    assert _attempts(app, problem_id) == (0, 0)


def test_two_racing_retries_make_one_submission(
    app: Flask, student: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second retry looked before the first wrote: the unique index catches it."""
    problem_id, key = _problem(app, student)
    first = _submit(student, problem_id, key, "race")
    real = pipeline.keyed_submission
    calls = []

    def missed_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return None if len(calls) == 1 else real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "keyed_submission", missed_once)
    second = _submit(student, problem_id, key, "race")
    assert len(calls) == 2  # looked, collided on insert, looked again
    assert second.status_code == 202 and second.json["id"] == first.json["id"]
    assert _attempts(app, problem_id) == (1, 1)


def test_concurrent_retries_make_one_submission(app: Flask, make_caller: Any) -> None:
    caller = make_caller()
    problem_id, key = _problem(app, caller)
    results: list[Any] = []

    def post() -> None:
        client = app.test_client()
        results.append(
            client.post(
                f"/api/v1/problems/{problem_id}/submissions",
                json={"answers": key},
                headers={"Authorization": f"Bearer {caller.token}", "Idempotency-Key": "c"},
            )
        )

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in results] == [202] * 4
    assert len({r.json["id"] for r in results}) == 1
    assert _attempts(app, problem_id) == (1, 1)


# --- /metrics ------------------------------------------------------------------------------


def test_metrics_need_the_token(settings: Settings) -> None:
    closed = create_app(settings).test_client()
    assert closed.get("/metrics").status_code == 404  # no token configured: not served
    app = create_app(replace(settings, metrics_token="m" * 32))
    client = app.test_client()
    anonymous = client.get("/metrics")
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"] == "Bearer"
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    served = client.get("/metrics", headers={"Authorization": "Bearer " + "m" * 32})
    assert served.status_code == 200 and b"backprop_quiz_submissions" in served.data


def test_a_scrape_reads_only_results_it_has_not_counted(
    settings: Settings, student: Caller
) -> None:
    app = create_app(replace(settings, metrics_token="m" * 32))
    client = app.test_client()
    headers = {"Authorization": "Bearer " + "m" * 32}
    assert client.get("/metrics", headers=headers).status_code == 200  # counts what is there
    with statements_run(app) as statements:
        assert client.get("/metrics", headers=headers).status_code == 200
    on_results = [s for s in statements if "results" in s]
    assert on_results, statements
    assert all("results.id >" in s for s in on_results), on_results


def test_running_totals_count_each_result_once(settings: Settings, student: Caller) -> None:
    """Results settled and fresh, across scrapes: each counted once, with its latency."""
    app = create_app(replace(settings, metrics_token="m" * 32))
    client = app.test_client()
    headers = {"Authorization": "Bearer " + "m" * 32}
    problem_id, key = _problem(app, student)

    def graded(latency: float, age_seconds: float) -> None:
        with app.app_context():
            target = pipeline.target(db.session, problem_id)
            sid = pipeline.submit(db.session, target, student.user_id, key, utcnow())
            submission = db.session.get(Submission, sid)
            submission.status, submission.graded_at = Status.graded, utcnow()
            db.session.add(
                Result(
                    submission=submission,
                    score=1.0,
                    parts={},
                    latency_seconds=latency,
                    created_at=utcnow() - timedelta(seconds=age_seconds),
                )
            )
            db.session.commit()

    def scrape() -> tuple[float, float, float]:
        text = client.get("/metrics", headers=headers).get_data(as_text=True)
        samples = {
            (s.name, s.labels.get("le")): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }
        return (
            samples[("backprop_quiz_grading_latency_seconds_count", None)],
            samples[("backprop_quiz_grading_latency_seconds_bucket", "0.1")],
            samples[("backprop_quiz_grading_latency_seconds_sum", None)],
        )

    graded(0.05, age_seconds=3600)  # settled
    graded(2.0, age_seconds=0)  # fresh: read again on every scrape until it settles
    assert scrape() == (2, 1, pytest.approx(2.05))
    assert scrape() == (2, 1, pytest.approx(2.05))
    with app.app_context():  # the fresh one settles; one more arrives, already settled
        for result in db.session.scalars(select(Result)):
            result.created_at -= timedelta(hours=1)
        db.session.commit()
    graded(0.08, age_seconds=7200)
    graded(400.0, age_seconds=0)
    assert scrape() == (4, 2, pytest.approx(402.13))
    assert scrape() == (4, 2, pytest.approx(402.13))


def test_without_a_key_submit_makes_no_extra_round_trip(app: Flask, student: Caller) -> None:
    """One statement on PostgreSQL (a data-modifying CTE), two on SQLite, as before."""
    problem_id, key = _problem(app, student)
    assert _submit(student, problem_id, key, None).status_code == 202  # caches warm
    with statements_run(app) as statements:
        assert _submit(student, problem_id, key, None).status_code == 202
    with app.app_context():
        dialect = db.engine.dialect.name
    writes = [s for s in statements if not s.startswith("BEGIN")]
    assert len(writes) == (1 if dialect == "postgresql" else 2), writes
    assert not any(s.lstrip().startswith("SELECT") for s in writes)


def test_behind_a_proxy_the_limit_counts_the_clients_address(settings: Settings) -> None:
    """With PROXY_HOPS=1 the address is X-Forwarded-For's; without it the header is ignored."""
    for hops, counted in ((1, "198.51.100.5"), (0, "127.0.0.1")):
        app = create_app(replace(settings, proxy_hops=hops))
        app.config["TESTING"] = True
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = "127.0.0.1"  # the proxy
        response = client.post(
            "/login",
            data={"email": "x@example.org", "password": "nope", "csrf_token": csrf_token(client)},
            headers={"X-Forwarded-For": "198.51.100.5"},
        )
        assert response.status_code == 401
        with app.app_context():
            addresses = db.session.scalars(
                select(LoginFailure.address).order_by(LoginFailure.id)
            ).all()
            assert addresses[-1] == counted
        app.extensions["db"].kw["bind"].dispose()
