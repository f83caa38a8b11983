"""``backprop-quiz lti ...`` as an admin runs it: the console script in a subprocess, on a
migrated SQLite file, with the flags of CONTRACT §10."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from service.db import upgrade

CLI = str(Path(sys.executable).parent / "backprop-quiz")
ROOT = Path(__file__).resolve().parent.parent
ISSUER = "https://canvas.example.edu"
ADD = [
    "lti", "platforms", "add",
    "--issuer", ISSUER,
    "--client-id", "10000000000042",
    "--deployment-id", "1:abc",
    "--auth-login-url", "https://sso.example.edu/api/lti/authorize_redirect",
    "--auth-token-url", "https://sso.example.edu/login/oauth2/token",
    "--jwks-url", "https://sso.example.edu/api/lti/security/jwks",
]  # fmt: skip


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-lti") / "quiz.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


def run(database: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),  # this checkout's code, whatever the venv points at
        "DATABASE_URL": f"sqlite:///{database}",
        "INSTANCE_PATH": str(database.parent),
        **env,
    }
    if "PUBLIC_URL" not in env:
        environment.pop("PUBLIC_URL", None)
    return subprocess.run(
        [CLI, *args], capture_output=True, text=True, timeout=120, env=environment, check=False
    )


def listed(database: Path) -> list[dict[str, object]]:
    out = run(database, "lti", "platforms", "list", "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_platforms_add_list_remove(database: Path) -> None:
    added = run(database, *ADD, "--deployment-id", "2:def", "--name", "Canvas")
    assert added.returncode == 0, added.stderr
    assert ISSUER in added.stdout and "1:abc, 2:def" in added.stdout
    [platform] = [p for p in listed(database) if p["issuer"] == ISSUER]
    assert platform["client_id"] == "10000000000042"
    assert platform["deployment_ids"] == ["1:abc", "2:def"]
    assert platform["auth_login_url"] == "https://sso.example.edu/api/lti/authorize_redirect"
    assert platform["auth_token_url"] == "https://sso.example.edu/login/oauth2/token"
    assert platform["jwks_url"] == "https://sso.example.edu/api/lti/security/jwks"
    assert platform["name"] == "Canvas" and platform["registered_by"] == "cli"
    text = run(database, "lti", "platforms", "list")
    assert ISSUER in text.stdout and "10000000000042" in text.stdout

    again = run(database, *ADD)
    assert again.returncode != 0 and "already registered" in again.stderr

    removed = run(
        database, "lti", "platforms", "remove", "--issuer", ISSUER, "--client-id", "10000000000042"
    )
    assert removed.returncode == 0, removed.stderr
    assert [p for p in listed(database) if p["issuer"] == ISSUER] == []
    gone = run(
        database, "lti", "platforms", "remove", "--issuer", ISSUER, "--client-id", "10000000000042"
    )
    assert gone.returncode != 0 and "no platform with issuer" in gone.stderr


def test_a_bad_url_or_a_missing_flag_is_named(database: Path) -> None:
    bad = run(
        database,
        *[
            a if a != "https://sso.example.edu/api/lti/security/jwks" else "sso.example.edu/jwks"
            for a in ADD
        ],
    )
    assert bad.returncode != 0 and "jwks url: must be an https://" in bad.stderr
    missing = run(database, *ADD[:-2])
    assert missing.returncode != 0 and "--jwks-url" in missing.stderr
    assert [p for p in listed(database) if p["issuer"] == ISSUER] == []


def test_keys_rotate_and_list(database: Path) -> None:
    first = run(database, "lti", "keys", "rotate")
    assert first.returncode == 0, first.stderr
    second = run(database, "lti", "keys", "rotate", LTI_KEY_GRACE_DAYS="3")
    assert second.returncode == 0, second.stderr
    new_kid = second.stdout.split("new signing key ")[1].split()[0]
    out = run(database, "lti", "keys", "list", "--json", LTI_KEY_GRACE_DAYS="3")
    assert out.returncode == 0, out.stderr
    keys = json.loads(out.stdout)
    assert keys[0]["kid"] == new_kid and keys[0]["retired_at"] is None
    assert keys[0]["published_until"] is None
    retired = keys[1]
    assert datetime.fromisoformat(retired["published_until"]) - datetime.fromisoformat(
        retired["retired_at"]
    ) == timedelta(days=3)
    assert new_kid in run(database, "lti", "keys", "list").stdout


def test_registration_link_prints_a_one_time_link(database: Path) -> None:
    out = run(database, "lti", "registration-link", PUBLIC_URL="https://quiz.example.edu")
    assert out.returncode == 0, out.stderr
    link = out.stdout.strip()
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc) == ("https", "quiz.example.edu")
    assert parts.path == "/lti/register"
    code = parse_qs(parts.query)["code"][0]
    with sqlite3.connect(database) as conn:
        stored = [row[0] for row in conn.execute("SELECT code_hash FROM lti_registrations")]
    assert hashlib.sha256(code.encode()).hexdigest() in stored
    assert code not in stored

    unknown = run(database, "lti", "registration-link")
    assert unknown.returncode != 0 and "PUBLIC_URL" in unknown.stderr
    given = run(database, "lti", "registration-link", "--base-url", "http://127.0.0.1:8000")
    assert given.stdout.startswith("http://127.0.0.1:8000/lti/register?code=")
