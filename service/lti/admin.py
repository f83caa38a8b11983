"""The site admin's LTI page (``/admin/lti``): the URLs an LMS admin needs, the registered
platforms and their deployments (add by hand, remove), the tool's keys (rotate), and
one-time Dynamic Registration links.

Site admins only: anyone else signed in gets the same 404 as a missing page, and a visitor
the login form. The forms carry the usual CSRF token (this blueprint is not the LTI one).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response

from ..db import db
from ..lms import keys, registry
from ..models import LtiPlatform, Role
from ..student import base as student_base
from ..student.base import login_required, no_such, signed_in
from .tool import tool_url

admin_bp = Blueprint(
    "lti_admin",
    __name__,
    template_folder="templates",
    root_path=str(Path(__file__).resolve().parent.parent),
)
admin_bp.after_request(student_base.secure_headers)
admin_bp.register_error_handler(CSRFError, student_base.csrf_failed)
for _status in (400, 403, 404):
    admin_bp.register_error_handler(_status, student_base.http_error)

# The hand-made platform's fields as the form names and labels them.
FIELDS = (
    ("name", "Name (for you)"),
    ("issuer", "Issuer"),
    ("client_id", "Client id"),
    ("deployment_ids", "Deployment ids (one a line)"),
    ("auth_login_url", "OIDC authorization (login) URL"),
    ("auth_token_url", "OAuth2 token URL"),
    ("auth_audience", "Token audience (if not the token URL)"),
    ("jwks_url", "Platform JWKS URL"),
)


def _admin() -> None:
    """Site admins pass; everyone else gets the 404 of a page that is not there."""
    if signed_in().role != Role.admin:
        raise no_such("page")


def tool_urls() -> list[tuple[str, str]]:
    """What an LMS admin types into the LMS, labelled."""
    return [
        ("OIDC login (initiation) URL", tool_url("lti.login")),
        ("Launch / redirect URL (target link URI)", tool_url("lti.launch")),
        ("Public keys (JWKS) URL", tool_url("lti.jwks")),
        ("Canvas JSON configuration URL", tool_url("lti.config")),
        ("Dynamic Registration URL (with a code from below)", tool_url("lti.register")),
    ]


def _page(
    values: dict[str, str] | None = None,
    errors: str | None = None,
    registration_link: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    grace = current_app.extensions["settings"].lti_key_grace_days
    return render_template(
        "lti/admin.html",
        urls=tool_urls(),
        platforms=registry.list_platforms(db.session),
        keys=registry.key_list(db.session, grace),
        grace_days=grace,
        fields=FIELDS,
        values=values or {},
        errors=errors,
        registration_link=registration_link,
    ), status


@admin_bp.get("/admin/lti")
@login_required
def platforms() -> tuple[str, int]:
    _admin()
    return _page()


@admin_bp.post("/admin/lti/platforms")
@login_required
def add_platform() -> Response | tuple[str, int]:
    """Register a platform by hand; a bad field re-shows the form with what is wrong."""
    _admin()
    form = request.form
    spec = registry.PlatformSpec(
        issuer=form.get("issuer", ""),
        client_id=form.get("client_id", ""),
        name=form.get("name", ""),
        auth_login_url=form.get("auth_login_url", ""),
        auth_token_url=form.get("auth_token_url", ""),
        auth_audience=form.get("auth_audience", "").strip() or None,
        jwks_url=form.get("jwks_url", ""),
        deployment_ids=form.get("deployment_ids", "").split(),
    )
    try:
        platform = registry.add_platform(db.session, spec, registered_by="admin")
    except registry.RegistryError as exc:
        db.session.rollback()
        return _page(values=form.to_dict(), errors=str(exc), status=422)
    db.session.commit()
    flash(f"Registered {platform.issuer} (client {platform.client_id}).")
    return redirect(url_for("lti_admin.platforms"), 303)


def _platform(platform_id: int) -> LtiPlatform:
    platform = db.session.get(LtiPlatform, platform_id)
    if platform is None:
        raise no_such("platform")
    return platform


@admin_bp.post("/admin/lti/platforms/<int:platform_id>/remove")
@login_required
def remove_platform(platform_id: int) -> Response | tuple[str, int]:
    """Remove a platform once the admin ticked the confirmation; courses and work stay."""
    _admin()
    platform = _platform(platform_id)
    if request.form.get("confirm") != "yes":
        return _page(errors=f"Tick the confirmation to remove {platform.issuer}.", status=422)
    registry.remove_platform(db.session, platform.issuer, platform.client_id)
    db.session.commit()
    flash(f"Removed {platform.issuer} (client {platform.client_id}). Its courses stay.")
    return redirect(url_for("lti_admin.platforms"), 303)


@admin_bp.post("/admin/lti/platforms/<int:platform_id>/deployments")
@login_required
def add_deployment(platform_id: int) -> Response | tuple[str, int]:
    _admin()
    platform = _platform(platform_id)
    try:
        registry.add_deployment(db.session, platform, request.form.get("deployment_id", ""))
    except registry.RegistryError as exc:
        db.session.rollback()
        return _page(errors=str(exc), status=422)
    db.session.commit()
    flash(f"Added the deployment to {platform.issuer}.")
    return redirect(url_for("lti_admin.platforms"), 303)


@admin_bp.post("/admin/lti/keys/rotate")
@login_required
def rotate_keys() -> Response:
    _admin()
    key = keys.rotate(db.session)
    db.session.commit()
    grace = current_app.extensions["settings"].lti_key_grace_days
    flash(f"New signing key {key.kid}; the old one stays published for {grace} days.")
    return redirect(url_for("lti_admin.platforms"), 303)


@admin_bp.post("/admin/lti/registration-links")
@login_required
def registration_link() -> tuple[str, int]:
    """A one-time Dynamic Registration link, shown on this answer only (never stored)."""
    _admin()
    code = registry.new_registration_code(db.session, created_by=signed_in().id)
    db.session.commit()
    return _page(registration_link=tool_url("lti.register", code=code))
