"""LTI 1.3 Advantage (CONTRACT §10): an LMS adds backprop-quiz as an external tool.

- ``service.lms`` (no web framework; grading and the worker use it): the tool's RSA keys,
  the platforms as PyLTI1p3 sees them, grade pushes (AGS) and roster sync (NRPS);
- ``tool``: the tool's own absolute URLs;
- ``registering``: platforms by hand (CLI, the admin page), by Dynamic Registration
  (``/lti/register``), and Canvas's JSON configuration (``/lti/config``);
- ``launching``: OIDC login (``/lti/login``) and launch (``/lti/launch``), hardened beyond
  PyLTI1p3's checks; users, courses, roles and assignments from the launch's claims;
- ``deep_linking``: an instructor picks or builds an assignment for an LMS module;
- ``admin``: the site admin's page of platforms, keys and registration links.

The protocol routes take cross-site POSTs from platforms, so they carry no CSRF token:
each is authenticated by what it receives (a signed id_token with a one-time state and
nonce, a one-time ticket or registration code) instead.
"""

from __future__ import annotations

from flask import Blueprint, Response, g

from ..db import db
from ..lms import platforms

bp = Blueprint("lti", __name__)


@bp.after_request
def frame_headers(response: Response) -> Response:
    """LTI pages may be framed by, and post forms to, the registered platforms only, and
    the origins a view vouches for in ``g.lti_origins``: those a validated launch or ticket
    names (hosted Canvas frames from the school's domain, not from its issuer's), and the
    LMS a registration is running for."""
    vouched = g.get("lti_origins", ())
    origins = " ".join(sorted({*platforms.platform_origins(db.session), *vouched}))
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"object-src 'none'; base-uri 'none'; form-action 'self' {origins}; "
        f"frame-ancestors 'self' {origins}"
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


# The route modules register themselves on ``bp``.
from . import deep_linking, launching, registering  # noqa: E402

__all__ = ["bp", "deep_linking", "launching", "registering"]
