"""Signing in and out: the login form, throttled per email and address, and where to go
after it (only ever a path on this site)."""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from .. import auth, throttle
from ..db import db
from ..models import utcnow
from .base import bp, current_user


@bp.get("/")
def index() -> Response:
    home = "student.courses" if current_user.is_authenticated else "student.login"
    return redirect(url_for(home))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int, dict[str, str]] | str:
    """The login form (fields labelled Email and Password); CSRF-checked like every form."""
    if request.method == "GET" and current_user.is_authenticated:
        return redirect(_next_page())
    email = request.form.get("email", "")
    if request.method == "POST":
        return _log_in(email, request.form.get("password", ""))
    return render_template("login.html", email=email, failed=False)


def _log_in(email: str, password: str) -> Response | tuple[str, int, dict[str, str]]:
    """Check the credentials unless too many failures came first (429, not checked)."""
    settings = current_app.extensions["settings"]
    address, now = request.remote_addr or "unknown", utcnow()
    limited = throttle.limited(db.session, settings, email, address, now)
    if limited is not None:
        db.session.rollback()
        page = render_template("login.html", email=email, failed=False, limited=limited)
        return page, 429, {"Retry-After": str(limited.retry_after)}
    if auth.log_in(email, password) is not None:
        throttle.succeeded(db.session, email)
        db.session.commit()
        return redirect(_next_page())
    throttle.failed(db.session, settings, email, address, now)
    db.session.commit()
    return render_template("login.html", email=email, failed=True), 401, {}


def _next_page() -> str:
    """Where to go after logging in: a path on this site from ``next``, else my courses."""
    return safe_next(request.values.get("next", "")) or url_for("student.courses")


def safe_next(target: str) -> str | None:
    """``target`` as a path on this site, or None when it could lead anywhere else.

    Browsers drop tabs and newlines from a URL and read a backslash as a slash, so
    ``/%09/evil.com`` (a tab) becomes ``//evil.com``, another site. Those characters are
    removed first (with every other control, format or space character); what is left
    must be a plain absolute path, with no scheme or host.
    """
    cleaned = "".join(
        ch for ch in target if not unicodedata.category(ch).startswith(("C", "Z"))
    )
    parts = urlsplit(cleaned)
    if (
        not cleaned.startswith("/")
        or cleaned.startswith("//")
        or "\\" in cleaned
        or parts.scheme
        or parts.netloc
    ):
        return None
    return cleaned


@bp.post("/logout")
def logout() -> Response:
    auth.log_out()
    flash("You are logged out.", "info")
    return redirect(url_for("student.login"))
