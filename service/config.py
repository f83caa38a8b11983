"""Settings read from the environment in one place, strictly.

Every knob is an environment variable; a bad value raises ``ConfigError`` naming it,
and the CLI prints that message and exits non-zero. Nothing here imports Flask,
SQLAlchemy or Celery, so the offline commands stay light.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

N = TypeVar("N", int, float)

EMBEDDED_BROKER = "embedded"
BROKER_SCHEMES = {"redis", "rediss", "amqp", "amqps", "pyamqp", "memory"}
MIN_SECRET_KEY_LENGTH = 16


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""

    def __init__(self, variable: str, reason: str):
        super().__init__(f"{variable}: {reason}")
        self.variable = variable
        self.reason = reason


@dataclass(frozen=True)
class Settings:
    """Everything the web app, the workers and the sweeper are configured with."""

    instance_path: Path
    database_url: str
    broker_url: str  # a kombu URL; "memory://localhost/" when the broker is embedded
    secret_key: str | None
    lease_seconds: int  # a claimed submission must be graded within this, or it is retried
    soft_time_limit: int  # seconds; the task is told to stop grading
    hard_time_limit: int  # seconds; the worker process is killed
    sweep_interval: float  # seconds between two sweeps
    requeue_after: int  # seconds a queued row may wait unstarted before it is re-published
    publish_interval: float  # seconds; a web process sends at most one grading task per interval
    visibility_timeout: int  # seconds before Redis hands an unacknowledged task to another worker
    max_content_length: int  # bytes in one request body
    # None: by command (Secure under `serve`, which is behind HTTPS; not for the demo).
    session_cookie_secure: bool | None
    log_level: str
    # Failed logins counted over a sliding window, per account and per client address.
    login_failures_per_account: int = 10
    login_failures_per_address: int = 100
    login_failure_window: int = 900  # seconds
    metrics_token: str | None = None  # bearer token for /metrics; None: /metrics is off
    # Proxies in front of the app whose X-Forwarded-For/-Proto to believe (0: none), so
    # that a client's address (login limits) is its own, not the proxy's.
    proxy_hops: int = 0
    # LTI 1.3: the tool's public address as platforms must reach it (None: the request's
    # own host, right behind no proxy or a ProxyFix'd one), how long a rotated-out key
    # stays published, and how many tries a grade push gets before it is marked failed.
    public_url: str | None = None
    lti_key_grace_days: int = 7
    lti_push_attempts: int = 8

    @property
    def embedded_broker(self) -> bool:
        """True when tasks travel through kombu's in-process memory transport."""
        return self.broker_url.startswith("memory://")


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Parse the settings from ``environ`` (default ``os.environ``); raise ConfigError."""
    env = os.environ if environ is None else environ
    instance = _path(env, "INSTANCE_PATH") or default_instance_path()
    settings = Settings(
        instance_path=instance,
        database_url=_database_url(env, instance),
        broker_url=_broker_url(env),
        secret_key=_secret_key(env),
        lease_seconds=_int(env, "GRADING_LEASE_SECONDS", 60, minimum=2),
        soft_time_limit=_int(env, "GRADING_SOFT_TIME_LIMIT", 20, minimum=1),
        hard_time_limit=_int(env, "GRADING_TIME_LIMIT", 30, minimum=1),
        sweep_interval=_float(env, "SWEEP_INTERVAL_SECONDS", 5.0, minimum=0.1),
        requeue_after=_int(env, "SWEEP_REQUEUE_AFTER_SECONDS", 60, minimum=1),
        publish_interval=_int(env, "PUBLISH_INTERVAL_MS", 40, minimum=0) / 1000,
        visibility_timeout=_int(env, "BROKER_VISIBILITY_TIMEOUT", 3600, minimum=1),
        max_content_length=_int(env, "MAX_CONTENT_LENGTH", 64 * 1024, minimum=1024),
        session_cookie_secure=_bool(env, "SESSION_COOKIE_SECURE", None),
        log_level=_choice(env, "LOG_LEVEL", "INFO", {"DEBUG", "INFO", "WARNING", "ERROR"}),
        login_failures_per_account=_int(env, "LOGIN_FAILURES_PER_ACCOUNT", 10, minimum=1),
        login_failures_per_address=_int(env, "LOGIN_FAILURES_PER_ADDRESS", 100, minimum=1),
        login_failure_window=_int(env, "LOGIN_FAILURE_WINDOW_SECONDS", 900, minimum=1),
        metrics_token=_token(env, "METRICS_TOKEN"),
        proxy_hops=_int(env, "PROXY_HOPS", 0, minimum=0),
        public_url=_public_url(env),
        lti_key_grace_days=_int(env, "LTI_KEY_GRACE_DAYS", 7, minimum=0),
        lti_push_attempts=_int(env, "LTI_PUSH_ATTEMPTS", 8, minimum=1),
    )
    # The lease must outlive the hard limit, or a slow but live grader loses its claim.
    if settings.soft_time_limit >= settings.hard_time_limit:
        raise ConfigError("GRADING_SOFT_TIME_LIMIT", "must be less than GRADING_TIME_LIMIT")
    if settings.lease_seconds <= settings.hard_time_limit:
        raise ConfigError("GRADING_LEASE_SECONDS", "must be greater than GRADING_TIME_LIMIT")
    return settings


def default_instance_path() -> Path:
    """Flask's instance folder for the ``service`` package (``instance/`` beside a checkout)."""
    from flask import Flask

    return Path(Flask("service").instance_path)


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return None if value is None or value.strip() == "" else value.strip()


def _path(env: Mapping[str, str], name: str) -> Path | None:
    value = _get(env, name)
    if value is None:
        return None
    path = Path(value).expanduser()
    if not path.is_absolute():
        raise ConfigError(name, f"must be an absolute path, got {value!r}")
    return path


def _database_url(env: Mapping[str, str], instance: Path) -> str:
    value = _get(env, "DATABASE_URL")
    if value is None:
        return f"sqlite:///{instance / 'backprop-quiz.sqlite3'}"
    scheme, sep, rest = value.partition("://")
    if not sep or not rest:
        raise ConfigError("DATABASE_URL", f"not a database URL: {value!r}")
    driver = scheme.split("+", 1)
    # psycopg (3) is the installed PostgreSQL driver; plain postgres URLs mean it.
    if driver[0] in ("postgres", "postgresql") and len(driver) == 1:
        return f"postgresql+psycopg://{rest}"
    if driver[0] == "postgresql" and driver[1] == "psycopg":
        return value
    if driver[0] == "sqlite" and len(driver) == 1:
        if not rest.startswith("//"):
            raise ConfigError("DATABASE_URL", "a SQLite URL needs a path: sqlite:////abs/file.db")
        return value
    raise ConfigError(
        "DATABASE_URL", f"unsupported database {scheme!r}; use postgresql://... or sqlite:///..."
    )


def _broker_url(env: Mapping[str, str]) -> str:
    value = _get(env, "CELERY_BROKER_URL") or EMBEDDED_BROKER
    if value == EMBEDDED_BROKER:
        return "memory://localhost/"
    parts = urlsplit(value)
    if parts.scheme not in BROKER_SCHEMES:
        raise ConfigError(
            "CELERY_BROKER_URL",
            f"unsupported broker {value!r}; use redis://host:port/db or {EMBEDDED_BROKER!r}",
        )
    try:
        parts.port  # noqa: B018 -- urlsplit checks the port lazily
    except ValueError as exc:
        raise ConfigError("CELERY_BROKER_URL", str(exc)) from None
    return value


def _secret_key(env: Mapping[str, str]) -> str | None:
    value = _get(env, "SECRET_KEY")
    if value is not None and len(value) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError("SECRET_KEY", f"must be at least {MIN_SECRET_KEY_LENGTH} characters")
    return value


def _public_url(env: Mapping[str, str]) -> str | None:
    value = _get(env, "PUBLIC_URL")
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError("PUBLIC_URL", "must be an absolute http(s) URL such as https://quiz.example.edu")
    return value.rstrip("/")


def _token(env: Mapping[str, str], name: str) -> str | None:
    value = _get(env, name)
    if value is not None and (
        len(value) < MIN_SECRET_KEY_LENGTH or not re.fullmatch(r"[\x21-\x7e]+", value)
    ):
        raise ConfigError(
            name, f"must be at least {MIN_SECRET_KEY_LENGTH} printable characters, no spaces"
        )
    return value


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    return _number(env, name, default, minimum, r"\d+", int, "a whole number")


def _float(env: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    return _number(env, name, default, minimum, r"\d+(\.\d+)?", float, "a number of seconds")


def _number(
    env: Mapping[str, str],
    name: str,
    default: N,
    minimum: N,
    pattern: str,
    parse: Callable[[str], N],
    kind: str,
) -> N:
    """A number written plainly (digits, no sign or exponent), at least ``minimum``."""
    value = _get(env, name)
    if value is None:
        return default
    if not re.fullmatch(pattern, value):
        raise ConfigError(name, f"must be {kind}, got {value!r}")
    number = parse(value)
    if number < minimum:
        raise ConfigError(name, f"must be at least {minimum}, got {number}")
    return number


def _bool(env: Mapping[str, str], name: str, default: bool | None) -> bool | None:
    value = _get(env, name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(name, f"must be true or false, got {value!r}")


def _choice(env: Mapping[str, str], name: str, default: str, choices: set[str]) -> str:
    value = _get(env, name)
    if value is None:
        return default
    if value.upper() not in choices:
        raise ConfigError(name, f"must be one of {', '.join(sorted(choices))}, got {value!r}")
    return value.upper()
