"""Alembic migrations: the only way the schema is made, on SQLite and PostgreSQL alike.

They are run by ``service.db.upgrade`` (``backprop-quiz db upgrade``), which finds this
folder as files: nothing imports this package.
"""
