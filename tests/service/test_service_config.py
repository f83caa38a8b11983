"""Settings are parsed strictly; a bad value stops start-up with a message naming it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from service.cli import main
from service.config import ConfigError, load_settings


def test_defaults_are_embedded(tmp_path: Path) -> None:
    s = load_settings({"INSTANCE_PATH": str(tmp_path)})
    assert s.database_url == f"sqlite:///{tmp_path}/backprop-quiz.sqlite3"
    assert s.broker_url == "memory://localhost/" and s.embedded_broker
    assert s.secret_key is None
    assert s.hard_time_limit < s.lease_seconds


def test_default_instance_folder_is_flasks() -> None:
    from flask import Flask

    assert load_settings({}).instance_path == Path(Flask("service").instance_path)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/quiz", "postgresql+psycopg://u:p@db:5432/quiz"),
        ("postgresql://u@db/quiz", "postgresql+psycopg://u@db/quiz"),
        ("postgresql+psycopg://u@db/quiz", "postgresql+psycopg://u@db/quiz"),
        ("sqlite:////var/quiz.db", "sqlite:////var/quiz.db"),
    ],
)
def test_database_urls(given: str, expected: str) -> None:
    assert load_settings({"DATABASE_URL": given}).database_url == expected


def test_publish_interval_is_given_in_milliseconds() -> None:
    assert load_settings({}).publish_interval == 0.04
    assert load_settings({"PUBLISH_INTERVAL_MS": "0"}).publish_interval == 0
    assert load_settings({"PUBLISH_INTERVAL_MS": "250"}).publish_interval == 0.25


def test_broker_url_kept_as_given() -> None:
    s = load_settings({"CELERY_BROKER_URL": "redis://cache:6379/2"})
    assert s.broker_url == "redis://cache:6379/2" and not s.embedded_broker


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "quiz.db"),
        ("DATABASE_URL", "mysql://u@db/quiz"),
        ("DATABASE_URL", "sqlite:///relative.db"),
        ("CELERY_BROKER_URL", "http://broker"),
        ("CELERY_BROKER_URL", "redis://host:port/0"),
        ("SECRET_KEY", "short"),
        ("INSTANCE_PATH", "relative/dir"),
        ("GRADING_LEASE_SECONDS", "ten"),
        ("GRADING_LEASE_SECONDS", "1"),
        ("GRADING_TIME_LIMIT", "-5"),
        ("SWEEP_INTERVAL_SECONDS", "0"),
        ("SWEEP_REQUEUE_AFTER_SECONDS", "1.5"),
        ("MAX_CONTENT_LENGTH", "12"),
        ("PUBLISH_INTERVAL_MS", "-1"),
        ("PUBLISH_INTERVAL_MS", "0.5"),
        ("SESSION_COOKIE_SECURE", "maybe"),
        ("LOG_LEVEL", "LOUD"),
        ("LOGIN_FAILURES_PER_ACCOUNT", "0"),
        ("LOGIN_FAILURES_PER_ADDRESS", "many"),
        ("LOGIN_FAILURE_WINDOW_SECONDS", "-1"),
        ("METRICS_TOKEN", "short"),
        ("METRICS_TOKEN", "a token with spaces in it"),
        ("PROXY_HOPS", "one"),
    ],
)
def test_bad_value_names_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({variable: value})
    assert caught.value.variable == variable
    assert str(caught.value).startswith(f"{variable}: ")


def test_lease_must_outlive_the_hard_time_limit() -> None:
    with pytest.raises(ConfigError, match="GRADING_LEASE_SECONDS"):
        load_settings({"GRADING_TIME_LIMIT": "60", "GRADING_LEASE_SECONDS": "60"})
    with pytest.raises(ConfigError, match="GRADING_SOFT_TIME_LIMIT"):
        load_settings({"GRADING_SOFT_TIME_LIMIT": "30", "GRADING_TIME_LIMIT": "30"})


@pytest.mark.parametrize("command", [["db", "upgrade"], ["serve"], ["worker"], ["demo"]])
def test_cli_prints_the_variable_and_fails(command: list[str]) -> None:
    result = CliRunner().invoke(main, command, env={"CELERY_BROKER_URL": "http://nope"})
    assert result.exit_code != 0
    assert "CELERY_BROKER_URL" in result.output


def test_serve_refuses_a_missing_secret_key(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["serve"], env={"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": ""}
    )
    assert result.exit_code != 0
    assert "SECRET_KEY" in result.output


def test_worker_refuses_the_embedded_broker(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["worker"], env={"INSTANCE_PATH": str(tmp_path), "CELERY_BROKER_URL": ""}
    )
    assert result.exit_code != 0
    assert "CELERY_BROKER_URL" in result.output


def _served_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> Any:
    """The Flask app ``serve`` would hand gunicorn (gunicorn itself is not started)."""
    from gunicorn.app.base import BaseApplication

    built = []
    monkeypatch.setattr(BaseApplication, "run", lambda self: built.append(self.load()))
    monkeypatch.setattr("service.app.settle", lambda: None)  # no gc.freeze in tests
    base = {"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k" * 32}
    result = CliRunner().invoke(main, ["serve"], env={**base, **env})
    assert result.exit_code == 0, result.output
    return built[0]


def test_serve_sets_secure_http_only_same_site_cookies(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    app = _served_app(monkeypatch, tmp_path)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    cookie = app.test_client().get("/login", base_url="https://quiz.example").headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_serve_keeps_an_explicit_insecure_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    app = _served_app(monkeypatch, tmp_path, SESSION_COOKIE_SECURE="false")
    assert app.config["SESSION_COOKIE_SECURE"] is False


def test_the_demo_default_is_not_secure(tmp_path: Path) -> None:
    from service.app import create_app

    app = create_app(load_settings({"INSTANCE_PATH": str(tmp_path)}))
    assert app.config["SESSION_COOKIE_SECURE"] is False  # the demo runs on plain http
