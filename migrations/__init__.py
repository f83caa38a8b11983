"""Alembic migrations: the only way the schema is made, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

HERE = Path(__file__).resolve().parent


def alembic_config(database_url: str) -> Config:
    """The Alembic config for this package, pointed at ``database_url``, from any cwd."""
    from alembic.config import Config

    config = Config(str(HERE / "alembic.ini"))
    config.set_main_option("script_location", str(HERE))
    # Passed beside the ini options, so a '%' in a password needs no escaping.
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Run the migrations on ``database_url`` up to ``revision``."""
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)
