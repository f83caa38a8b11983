"""OIDC login initiation and the launch (CONTRACT §10). Stub: issue 15's launch helper fills it."""

from __future__ import annotations

from werkzeug.exceptions import NotImplemented as NotBuilt

from . import bp


@bp.route("/lti/login", methods=["GET", "POST"])
def login() -> str:
    raise NotBuilt()


@bp.route("/lti/launch", methods=["POST"])
def launch() -> str:
    raise NotBuilt()


@bp.get("/lti/enter/<token>")
def enter(token: str) -> str:
    raise NotBuilt()
