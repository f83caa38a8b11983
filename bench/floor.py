"""The floor for the load benchmark: a bare Flask endpoint that inserts one row.

Served by gunicorn with the same settings as ``backprop-quiz serve``:
    DATABASE_URL=... gunicorn -k gthread --chdir bench 'floor:create_app()'
"""

from __future__ import annotations

import os

from flask import Flask, jsonify, request
from sqlalchemy import text

from service.app import settle
from service.config import load_settings
from service.db import make_engine

TABLE = "bench_floor"
CREATE = f"CREATE TABLE IF NOT EXISTS {TABLE} (id BIGSERIAL PRIMARY KEY, body JSONB NOT NULL)"


def create_app() -> Flask:
    app = Flask(__name__)
    engine = make_engine(load_settings({"DATABASE_URL": os.environ["DATABASE_URL"]}).database_url)

    @app.post("/floor")
    def insert() -> tuple[object, int]:
        # One statement in autocommit, as the pipeline's own writes on PostgreSQL: no
        # BEGIN and COMMIT round trips on either side of the comparison.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            row_id = connection.execute(
                text(f"INSERT INTO {TABLE} (body) VALUES (CAST(:body AS JSONB)) RETURNING id"),
                {"body": request.get_data(as_text=True)},
            ).scalar_one()
        return jsonify({"id": row_id}), 201

    settle()  # as `backprop-quiz serve` does once its app is built
    return app
