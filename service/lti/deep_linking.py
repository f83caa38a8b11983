"""Deep linking: an instructor picks or builds an assignment for an LMS module. Stub."""

from __future__ import annotations

from werkzeug.exceptions import NotImplemented as NotBuilt

from . import bp


@bp.route("/lti/deep-link/<token>", methods=["GET", "POST"])
def deep_link(token: str) -> str:
    raise NotBuilt()
