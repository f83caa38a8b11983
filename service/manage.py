"""The service commands of ``backprop-quiz``: demo, serve, worker, db, users, tokens, lti,
regrade, learning.

``service.cli`` calls ``register(main)``. Flask, SQLAlchemy, Celery and gunicorn are
imported inside the commands, so the offline commands stay light. A composition root:
it may join the web app and the worker (the demo runs both in one process).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from .config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from flask import Flask

ROLES = ("student", "instructor", "admin")


def _fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        _fail(str(exc))


@contextmanager
def _app_context(settings: Settings) -> Iterator[Flask]:
    """An app context whose database errors end the command with a readable message."""
    from sqlalchemy.exc import SQLAlchemyError

    from .app import create_app

    app = create_app(settings)
    try:
        with app.app_context():
            yield app
    except SQLAlchemyError as exc:
        _fail(f"database: {getattr(exc, 'orig', None) or exc} (has `db upgrade` been run?)")


def register(main: click.Group) -> None:
    """Add the service commands to the ``backprop-quiz`` group."""
    main.add_command(demo)
    main.add_command(serve)
    main.add_command(worker)
    main.add_command(db)
    main.add_command(users)
    main.add_command(tokens)
    main.add_command(lti)
    main.add_command(regrade)
    main.add_command(learning_group)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=5000, show_default=True)
@click.option("--grading-threads", type=click.IntRange(1, 64), default=2, show_default=True)
def demo(host: str, port: int, grading_threads: int) -> None:
    """The whole product on one machine: web app, grading worker, database file, demo course."""
    from werkzeug.serving import make_server

    from worker.app import make_celery
    from worker.embedded import EmbeddedWorker
    from worker.sweeper import Sweeper

    from . import demo as seed
    from . import invites
    from .app import settle
    from .db import sessions_of
    from .db import upgrade as run_upgrade
    from .wsgi import build_app

    settings = _settings()
    _log_to_stderr(settings)
    settings = replace(settings, secret_key=settings.secret_key or _demo_secret(settings))
    run_upgrade(settings.database_url)
    celery = make_celery(settings)
    app = build_app(settings, celery)
    app.config[invites.PRINT_LINKS] = True  # no mail server: new set-password links go here
    with app.app_context():
        logins = seed.seed()
    grader = EmbeddedWorker(celery, concurrency=grading_threads)
    grader.start()
    sweeper = Sweeper(sessions_of(app), celery, settings)
    sweeper.start()
    server = make_server(host, port, app, threaded=True)
    settle()
    click.echo(f"backprop-quiz demo: http://{host}:{server.port}/")
    click.echo(f"  database: {settings.database_url}")
    for login in logins:
        click.echo(f"  log in as the {login.role}: {login.email} / {login.password}")
    click.echo("  API token: backprop-quiz tokens create --email " + logins[0].email)
    click.echo("Press Ctrl-C to stop.")
    sys.stdout.flush()

    def stop(_signum: int, _frame: object) -> None:
        # shutdown() waits for serve_forever() to return, so it runs on another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        sweeper.stop()
        grader.stop()


def _log_to_stderr(settings: Settings) -> None:
    import logging

    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Alembic announces each of its plugins at INFO on every start; the migration itself
    # is still logged when one runs.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def _demo_secret(settings: Settings) -> str:
    """The demo's session key, kept in the instance folder so logins survive a restart."""
    path = Path(settings.instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


@click.command()
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    envvar="WEB_CONCURRENCY",
    default=2 * (os.cpu_count() or 1),
    show_default=True,
    help="Processes ($WEB_CONCURRENCY).",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Threads per process.",
)
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """The web app alone, for production (gunicorn), configured from the environment."""
    from gunicorn.app.base import BaseApplication

    settings = _settings()
    if settings.secret_key is None:
        _fail("SECRET_KEY: must be set to serve in production (sessions are signed with it)")
    if settings.session_cookie_secure is None:
        # Production is served over HTTPS: cookies never travel in clear text.
        settings = replace(settings, session_cookie_secure=True)
    _log_to_stderr(settings)

    class Gunicorn(BaseApplication):
        def load_config(self) -> None:
            options: dict[str, Any] = {
                "bind": f"{host}:{port}",
                "workers": workers,
                "threads": threads,
                "worker_class": "gthread" if threads > 1 else "sync",
                "preload_app": False,  # each worker builds its app (and engine) after the fork
                "keepalive": 5,
                "graceful_timeout": 20,
                "loglevel": settings.log_level.lower(),
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            from .app import settle
            from .wsgi import build_app

            app = build_app(settings)
            settle()
            return app

    Gunicorn().run()


@click.command()
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    envvar="WORKER_CONCURRENCY",
    default=os.cpu_count() or 1,
    show_default=True,
    help="Grading processes ($WORKER_CONCURRENCY).",
)
@click.option(
    "--loglevel",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default=None,
    help="Default: $LOG_LEVEL or INFO.",
)
@click.option("--hostname", default=None, help="Celery node name. Default: grader.<pid>@<host>.")
def worker(concurrency: int, loglevel: str | None, hostname: str | None) -> None:
    """A Celery grading worker (with the sweeper), configured from the environment."""
    from worker.main import run_worker

    settings = _settings()
    if settings.embedded_broker:
        _fail(
            "CELERY_BROKER_URL: a separate worker needs a real broker such as "
            "redis://host:6379/0 (the embedded broker lives inside `backprop-quiz demo`)"
        )
    hostname = hostname or f"grader.{os.getpid()}@%h"
    run_worker(settings, concurrency, (loglevel or settings.log_level).upper(), hostname)


@click.group()
def db() -> None:
    """The database schema."""


@db.command()
@click.option("--revision", default="head", show_default=True)
def upgrade(revision: str) -> None:
    """Run the Alembic migrations (to head)."""
    from sqlalchemy.exc import SQLAlchemyError

    from .db import upgrade as run_upgrade

    settings = _settings()
    try:
        run_upgrade(settings.database_url, revision)
    except SQLAlchemyError as exc:
        _fail(f"database: {getattr(exc, 'orig', None) or exc}")
    click.echo(f"database upgraded to {revision}")


@click.group()
def users() -> None:
    """User accounts."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--name", default="", help="Display name.")
def create_user(email: str, password: str, role: str, name: str) -> None:
    """Create a user."""
    from . import auth
    from .db import db as database
    from .models import Role

    with _app_context(_settings()):
        try:
            user = auth.create_user(email, password, Role(role), name=name)
        except auth.UserError as exc:
            _fail(str(exc))
        database.session.commit()
        click.echo(f"created {role} {user.email} (id {user.id})")


@click.group()
def tokens() -> None:
    """API tokens."""


@tokens.command("create")
@click.option("--email", required=True)
def create_token(email: str) -> None:
    """Print a new API token for the user (shown once; only its hash is stored)."""
    from . import auth
    from .db import db as database

    with _app_context(_settings()):
        user = auth.find_user(email)
        if user is None:
            _fail(f"no user with email {email}")
        token = auth.issue_token(user)
        database.session.commit()
        click.echo(token)


@click.group()
def lti() -> None:
    """LMS integration (LTI 1.3): platforms, the tool's keys, registration links."""


@lti.group("platforms")
def lti_platforms() -> None:
    """The LMS platforms registered with the tool."""


@lti_platforms.command("add")
@click.option(
    "--issuer",
    required=True,
    help="The platform's issuer (iss), e.g. https://canvas.instructure.com.",
)
@click.option("--client-id", required=True, help="The tool's client id on the platform.")
@click.option(
    "--deployment-id",
    "deployment_ids",
    multiple=True,
    required=True,
    help="A deployment id (repeat for several).",
)
@click.option("--auth-login-url", required=True, help="The platform's OIDC authorization URL.")
@click.option("--auth-token-url", required=True, help="The platform's OAuth2 token URL.")
@click.option("--jwks-url", required=True, help="The platform's public key set (JWKS) URL.")
@click.option(
    "--auth-audience", default=None, help="The token request's audience, if not the token URL."
)
@click.option("--name", default="", help="A name for people.")
def lti_platforms_add(
    issuer: str,
    client_id: str,
    deployment_ids: tuple[str, ...],
    auth_login_url: str,
    auth_token_url: str,
    jwks_url: str,
    auth_audience: str | None,
    name: str,
) -> None:
    """Register a platform by hand, with its deployments."""
    from .db import db as database
    from .lms import registry

    spec = registry.PlatformSpec(
        issuer=issuer,
        client_id=client_id,
        deployment_ids=deployment_ids,
        auth_login_url=auth_login_url,
        auth_token_url=auth_token_url,
        jwks_url=jwks_url,
        auth_audience=auth_audience,
        name=name,
    )
    with _app_context(_settings()):
        try:
            platform = registry.add_platform(database.session, spec, registered_by="cli")
        except registry.RegistryError as exc:
            _fail(str(exc))
        database.session.commit()
        deployments = ", ".join(d.deployment_id for d in platform.deployments)
        click.echo(
            f"registered {platform.issuer} client {platform.client_id} (deployments: {deployments})"
        )


@lti_platforms.command("add-deployment")
@click.option("--issuer", required=True)
@click.option("--client-id", required=True)
@click.option("--deployment-id", required=True)
def lti_platforms_add_deployment(issuer: str, client_id: str, deployment_id: str) -> None:
    """Add a deployment id to a registered platform."""
    from .db import db as database
    from .lms import registry

    with _app_context(_settings()):
        platform = registry.find_platform(database.session, issuer, client_id)
        if platform is None:
            _fail(f"no platform with issuer {issuer} and client id {client_id}")
        try:
            registry.add_deployment(database.session, platform, deployment_id)
        except registry.RegistryError as exc:
            _fail(str(exc))
        database.session.commit()
        click.echo(f"added deployment {deployment_id.strip()} to {issuer}")


@lti_platforms.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def lti_platforms_list(as_json: bool) -> None:
    """The registered platforms and their deployments."""
    import json

    from .db import db as database
    from .lms import registry

    with _app_context(_settings()):
        rows: list[dict[str, Any]] = [
            {
                "issuer": p.issuer,
                "client_id": p.client_id,
                "name": p.name,
                "deployment_ids": [d.deployment_id for d in p.deployments],
                "auth_login_url": p.auth_login_url,
                "auth_token_url": p.auth_token_url,
                "auth_audience": p.auth_audience,
                "jwks_url": p.jwks_url,
                "registered_by": p.registered_by,
                "created_at": p.created_at.isoformat(),
            }
            for p in registry.list_platforms(database.session)
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no platforms registered")
    for row in rows:
        click.echo(
            f"{row['issuer']}  client {row['client_id']}  "
            f"deployments {', '.join(row['deployment_ids']) or '(none)'}  "
            f"[{row['registered_by']}]"
        )


@lti_platforms.command("remove")
@click.option("--issuer", required=True)
@click.option("--client-id", required=True)
def lti_platforms_remove(issuer: str, client_id: str) -> None:
    """Remove a platform; the courses and work it brought stay."""
    from .db import db as database
    from .lms import registry

    with _app_context(_settings()):
        try:
            registry.remove_platform(database.session, issuer, client_id)
        except registry.RegistryError as exc:
            _fail(str(exc))
        database.session.commit()
        click.echo(f"removed {issuer} client {client_id}")


@lti.group("keys")
def lti_keys() -> None:
    """The tool's RSA signing keys (published at /lti/jwks)."""


def _echo_keys(rows: list[Any]) -> None:
    for k in rows:
        until = k.published_until.isoformat() if k.published_until else "-"
        retired = k.retired_at.isoformat() if k.retired_at else "signing"
        click.echo(
            f"{k.kid}  created {k.created_at.isoformat()}  retired {retired}  "
            f"published until {until}"
        )


@lti_keys.command("rotate")
def lti_keys_rotate() -> None:
    """A new signing key; the old one stays published for LTI_KEY_GRACE_DAYS."""
    from .db import db as database
    from .lms import keys, registry

    settings = _settings()
    with _app_context(settings):
        key = keys.rotate(database.session)
        database.session.commit()
        click.echo(f"new signing key {key.kid}")
        _echo_keys(registry.key_list(database.session, settings.lti_key_grace_days))


@lti_keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def lti_keys_list(as_json: bool) -> None:
    """Every key: kid, created, retired, published until."""
    import json

    from .db import db as database
    from .lms import registry

    settings = _settings()
    with _app_context(settings):
        rows = registry.key_list(database.session, settings.lti_key_grace_days)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "kid": k.kid,
                        "created_at": k.created_at.isoformat(),
                        "retired_at": k.retired_at.isoformat() if k.retired_at else None,
                        "published_until": k.published_until.isoformat()
                        if k.published_until
                        else None,
                    }
                    for k in rows
                ],
                indent=2,
            )
        )
    elif not rows:
        click.echo("no keys yet (one is made on first need)")
    else:
        _echo_keys(rows)


@lti.command("registration-link")
@click.option(
    "--base-url",
    default=None,
    help="The tool's public URL (default: $PUBLIC_URL), e.g. https://quiz.example.edu.",
)
def lti_registration_link(base_url: str | None) -> None:
    """Print a one-time Dynamic Registration link (24 hours) to paste into an LMS."""
    from flask import url_for

    from .db import db as database
    from .lms import registry

    settings = _settings()
    base = (base_url or settings.public_url or "").rstrip("/")
    if not base.startswith(("https://", "http://")):
        _fail("the tool's public URL is unknown: set PUBLIC_URL or pass --base-url https://...")
    with _app_context(settings) as app:
        code = registry.new_registration_code(database.session)
        database.session.commit()
        with app.test_request_context():
            path = url_for("lti.register", code=code)
    click.echo(base + path)


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.4g}%"


def _mistakes(tags: tuple[str, ...]) -> str:
    return ", ".join(tags) or "-"


@click.command()
@click.option("--assignment", "assignment_id", type=int, required=True, help="Assignment id.")
@click.option("--slot", "slot_id", type=int, default=None, help="Only this slot (its id).")
@click.option("--reason", default="", help="Why: recorded, and shown to the students.")
@click.option("--allow-lower", is_flag=True,
              help="Let the regrade lower a score (by default a lower score is kept).")
@click.option("--dry-run", is_flag=True, help="Print the preview; change nothing.")
def regrade(assignment_id: int, slot_id: int | None, reason: str, allow_lower: bool,
            dry_run: bool) -> None:
    """Grade an assignment's submissions again under its current grading policy and
    grader version: print what would change, then apply it (not with --dry-run)."""
    from . import regrade as regrading
    from .db import db as database

    with _app_context(_settings()):
        session = database.session
        try:
            shown = regrading.preview(
                session, regrading.Scope(assignment_id, slot_id), by=None, reason=reason,
                never_lower=not allow_lower, keep=not dry_run,
            )
        except regrading.RegradeError as exc:
            _fail(str(exc))
        counts = shown.counts
        click.echo(
            f"{'dry run: regrade' if dry_run else f'regrade {shown.regrade_id}'} "
            f"of assignment {assignment_id}"
            f"{f' slot {slot_id}' if slot_id is not None else ''}: "
            f"{counts.get('raised', 0)} raised, {counts.get('lowered', 0)} lowered, "
            f"{counts.get('unchanged', 0)} unchanged, {counts.get('kept', 0)} kept "
            f"(never lowered), {shown.overrides} override(s) left alone"
        )
        for row in shown.rows:
            click.echo(
                f"  {row.student} <{row.email}>  slot {row.position}  attempt {row.attempt}  "
                f"{_percent(row.old_score)} -> {_percent(row.new_score)}  "
                f"mistakes {_mistakes(row.old_tags)} -> {_mistakes(row.new_tags)}  "
                f"{row.change.value}"
            )
        if shown.effects:
            click.echo("assignment scores that change:")
            for effect in shown.effects:
                click.echo(
                    f"  {effect.student} <{effect.email}>  "
                    f"{_percent(effect.old_total)} -> {_percent(effect.new_total)}"
                )
        if dry_run:
            click.echo("dry run: nothing written")
            return
        total = counts.get("items", 0)
        regrading.start(session, shown.regrade_id, None)
        done = regrading.run(
            session, shown.regrade_id,
            on_batch=lambda n: click.echo(f"applied {n}/{total}"),
        )
        click.echo(
            f"regrade {shown.regrade_id} applied: {done.get('applied', 0)} result(s) written, "
            f"{done.get('skipped', 0)} skipped (their result changed meanwhile), "
            f"{counts.get('kept', 0)} kept"
        )


@click.group("learning")
def learning_group() -> None:
    """The student model of the learning loop."""


@learning_group.command("fit")
@click.option("--course", "course_id", type=int, help="Fit to this course's students only.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def learning_fit(course_id: int | None, as_json: bool) -> None:
    """Fit knowledge tracing's parameters (L0, T, S, G) to the graded answers, and print
    them beside the parameters in use, each with its log-likelihood."""
    from exercises import learning as model

    from . import learning

    with _app_context(_settings()):
        fitted = learning.fit(course_id)
    if fitted is None:
        _fail("no graded answers to fit" + (f" in course {course_id}" if course_id else ""))
    if as_json:
        click.echo(json.dumps(fitted.to_json(), indent=2))
        return
    used = model.DEFAULT_PARAMETERS
    click.echo(f"{fitted.answers} answers in {fitted.sequences} sequences (student × skill)")
    click.echo(f"{'':>14} {'L0':>6} {'T':>6} {'S':>6} {'G':>6} {'log-likelihood':>15}")
    click.echo(f"{'in use':>14} {used.mastery_prior:6.3f} {used.learn:6.3f} {used.slip:6.3f} "
               f"{used.guess:6.3f} {fitted.current_log_likelihood:15.1f}")
    click.echo(f"{'fitted':>14} {fitted.mastery_prior:6.3f} {fitted.learn:6.3f} "
               f"{fitted.slip:6.3f} {fitted.guess:6.3f} {fitted.log_likelihood:15.1f}")
