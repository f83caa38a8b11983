"""Engines and sessions: one engine per app, one session per request or task; and the
schema's migrations, run through Alembic's API."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config

SQLITE_BUSY_TIMEOUT = 30.0  # seconds a writer waits for SQLite's single write lock


def make_engine(url: str, durable_commits: bool = True, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and write-locking transactions.

    ``durable_commits=False`` lets PostgreSQL acknowledge a commit before its WAL reaches
    the disk. Only for writers whose every row can be rebuilt from a durably committed
    submission (the grading workers): after a database crash the sweeper grades it again.
    """
    if not url.startswith("sqlite"):
        if not durable_commits:
            kwargs["connect_args"] = {"options": "-c synchronous_commit=off"}
        return create_engine(url, pool_pre_ping=True, **kwargs)
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT, "check_same_thread": False},
        **kwargs,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, say when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A deferred transaction that reads and then writes fails at once with
        # SQLITE_BUSY when another writer got in between; IMMEDIATE waits its turn.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


# The Alembic scripts, found as files beside this package (installed or not): the core runs
# them without importing the ``migrations`` package, whose env.py imports the core.
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    """The Alembic config of the migrations, pointed at ``database_url``, from any cwd."""
    from alembic.config import Config

    if not (MIGRATIONS / "env.py").is_file():
        raise RuntimeError(f"the Alembic migrations are missing from {MIGRATIONS}")
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    # Passed beside the ini options, so a '%' in a password needs no escaping.
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Run the migrations on ``database_url`` up to ``revision``."""
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


def sessions_of(app: Flask) -> sessionmaker[Session]:
    """The session factory ``db.init_app`` bound to ``app`` (outside its app context)."""
    found: sessionmaker[Session] = app.extensions["db"]
    return found


class Database:
    """Flask extension, created unbound: ``db.session`` is the current app context's session."""

    def init_app(self, app: Flask, url: str, durable_commits: bool = True) -> None:
        engine = make_engine(url, durable_commits=durable_commits)
        app.extensions["db"] = sessionmaker(engine, expire_on_commit=False)
        app.teardown_appcontext(self._close)

    @property
    def sessionmaker(self) -> sessionmaker[Session]:
        return current_app.extensions["db"]

    @property
    def engine(self) -> Engine:
        return self.sessionmaker.kw["bind"]

    @property
    def session(self) -> Session:
        if "db_session" not in g:
            g.db_session = self.sessionmaker()
        return g.db_session

    @staticmethod
    def release() -> None:
        """End the request session's transaction and give back its connection, if any.

        For a request that goes on with a connection of its own: on SQLite an open
        session transaction holds the one write lock that connection would wait for.
        """
        session = g.get("db_session")
        if session is not None:
            session.close()

    @staticmethod
    def _close(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


db = Database()
