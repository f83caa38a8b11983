"""docker-compose.yml is valid, has the production services with health checks, and
every backprop-quiz command it runs exists with those options; its secrets come from the
environment, and it refuses to start without them."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from service.cli import main

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
LONG_RUNNING = ("web", "worker", "redis", "postgres")


def test_the_production_services_are_there() -> None:
    assert {"web", "worker", "redis", "postgres", "migrate"} <= set(SERVICES)


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_each_long_running_service_has_a_health_check(name: str) -> None:
    check = SERVICES[name]["healthcheck"]
    assert check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) > 1


def test_migrate_runs_once_and_gates_the_app() -> None:
    assert SERVICES["migrate"]["restart"] == "no"
    for name in ("web", "worker"):
        assert SERVICES[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }


def test_redis_keeps_an_append_only_file_and_postgres_a_volume() -> None:
    redis = SERVICES["redis"]["command"]
    assert redis[redis.index("--appendonly") + 1] == "yes"
    assert SERVICES["redis"]["volumes"] and SERVICES["postgres"]["volumes"]
    volumes = {v.split(":")[0] for v in SERVICES["postgres"]["volumes"]}
    assert volumes <= set(COMPOSE["volumes"])


def test_the_app_is_configured_for_postgres_and_redis() -> None:
    for name in ("web", "worker", "migrate"):
        env = SERVICES[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://")
        assert env["CELERY_BROKER_URL"].startswith("redis://")
        assert "SECRET_KEY" in env


SECRETS = ("SECRET_KEY", "POSTGRES_PASSWORD", "REDIS_PASSWORD")
GIVEN = {"SECRET_KEY": "s" * 64, "POSTGRES_PASSWORD": "pg-secret", "REDIS_PASSWORD": "rd-secret"}
_VARIABLE = re.compile(r"\$\{(\w+)(?:(:\?|:-)([^}]*))?\}")


def interpolate(text: str, env: dict[str, str]) -> dict[str, Any]:
    """docker compose's ${VAR}, ${VAR:-default} and ${VAR:?error} (what this file uses)."""

    def value(match: re.Match[str]) -> str:
        name, kind, rest = match.groups()
        if env.get(name):
            return env[name]
        if kind == ":?":
            raise LookupError(f"{name}: {rest}")
        return rest if kind == ":-" else ""

    return yaml.safe_load(_VARIABLE.sub(value, text))


def test_no_secret_is_written_in_the_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert "quiz:quiz@" not in text and "POSTGRES_PASSWORD: quiz" not in text
    services = interpolate(text, GIVEN)["services"]
    for name in ("web", "worker", "migrate"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"] == "postgresql://quiz:pg-secret@postgres:5432/quiz"
        assert env["CELERY_BROKER_URL"] == "redis://:rd-secret@redis:6379/0"
        assert env["SECRET_KEY"] == GIVEN["SECRET_KEY"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "pg-secret"


@pytest.mark.parametrize("missing", SECRETS)
def test_compose_refuses_to_start_without_each_secret(missing: str) -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    env = {k: v for k, v in GIVEN.items() if k != missing}
    with pytest.raises(LookupError, match=missing):
        interpolate(text, env)
    with pytest.raises(LookupError, match=missing):
        interpolate(text, {**env, missing: ""})  # set but empty is refused too


def test_redis_requires_the_password_and_its_health_check_sends_it() -> None:
    redis = interpolate((ROOT / "docker-compose.yml").read_text(), GIVEN)["services"]["redis"]
    command = redis["command"]
    assert command[command.index("--requirepass") + 1] == "rd-secret"
    # redis-cli reads REDISCLI_AUTH, so the check's command line holds no password.
    assert redis["environment"]["REDISCLI_AUTH"] == "rd-secret"
    assert "rd-secret" not in " ".join(redis["healthcheck"]["test"])


def _commands() -> list[tuple[str, list[str]]]:
    found = []
    for name, service in SERVICES.items():
        command = service.get("command")
        if isinstance(command, str):
            command = shlex.split(command)
        if command and command[0] == "backprop-quiz":
            found.append((name, command[1:]))
        test = service.get("healthcheck", {}).get("test", [])
        if test[:2] == ["CMD", "backprop-quiz"]:
            found.append((f"{name} healthcheck", test[2:]))
    return found


def test_every_app_service_runs_backprop_quiz() -> None:
    assert {name for name, _ in _commands()} >= {"web", "worker", "migrate"}


@pytest.mark.parametrize(("service", "args"), _commands(), ids=[n for n, _ in _commands()])
def test_each_command_is_a_real_subcommand(service: str, args: list[str]) -> None:
    command: Any = main
    names = list(args)
    while isinstance(command, click.Group):
        assert names and names[0] in command.commands, f"{service}: no command {names[:1]}"
        command = command.commands[names.pop(0)]
    # Parsing (not running) checks every option and its value against the command.
    with command.make_context(command.name, names) as ctx:
        assert ctx.command is command
