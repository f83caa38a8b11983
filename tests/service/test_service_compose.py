"""docker-compose.yml is valid, has the production services with health checks, and
every backprop-quiz command it runs exists with those options."""

from __future__ import annotations

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
