"""The tool's keys and configuration for platforms, and Dynamic Registration. Stub but for
the JWKS."""

from __future__ import annotations

from flask import current_app, jsonify
from werkzeug.exceptions import NotImplemented as NotBuilt
from werkzeug.wrappers import Response

from ..db import db
from ..lms import keys
from . import bp


@bp.get("/lti/jwks")
def jwks() -> Response:
    grace = current_app.extensions["settings"].lti_key_grace_days
    document = keys.published(db.session, grace)
    db.session.commit()  # a key made on first need is kept
    return jsonify(document)


@bp.get("/lti/config")
def config() -> str:
    raise NotBuilt()


@bp.route("/lti/register", methods=["GET", "POST"])
def register() -> str:
    raise NotBuilt()
