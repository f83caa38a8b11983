"""Alembic migrations: the only way the schema is made, on SQLite and PostgreSQL alike.

They are run by ``service.db.upgrade`` (``backprop-quiz db upgrade``), which finds this
folder as files; the names below are kept for callers that import them from here.
"""

from __future__ import annotations

from service.db import MIGRATIONS as HERE
from service.db import alembic_config, upgrade

__all__ = ["HERE", "alembic_config", "upgrade"]
