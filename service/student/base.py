"""What every student page shares: the blueprint, its security headers, the template filters,
the error pages and the 404 that does not tell missing from forbidden."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

from flask import Blueprint, Response, render_template
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from werkzeug.exceptions import HTTPException, NotFound

from .. import mathml
from ..models import User

__all__ = [
    "bp",
    "current_user",
    "due_text",
    "login_required",
    "no_such",
    "percent",
    "signed_in",
]

# The templates and static files are the service's (service/templates, service/static).
bp = Blueprint(
    "student",
    "service.student",
    template_folder="templates",
    static_folder="static",
    root_path=str(Path(__file__).resolve().parent.parent),
)

# Inline <math> and <svg> need no exception; scripts and styles come from our own files only.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@bp.after_request
def secure_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.app_template_filter("math")
def _math_filter(source: str | None) -> Markup:
    return mathml.text(source or "")


@bp.app_template_filter("when")
def _when(moment: datetime | None) -> str:
    return moment.strftime("%-d %b %Y, %H:%M UTC") if moment is not None else ""


@bp.app_template_filter("percent")
def percent(score: float | None) -> str:
    """A score as a whole percentage; only full marks read as 100%."""
    if score is None:
        return "–"
    if score >= 1.0:
        return "100%"
    return f"{min(round(score * 100), 99)}%"


def due_text(due: datetime | None, now: datetime) -> str:
    """'due in 3 days', 'due in 5 hours', 'was due 2 days ago', or 'no due date'."""
    if due is None:
        return "no due date"
    seconds = (due - now).total_seconds()
    hours = abs(seconds) / 3600
    count, unit = (math.floor(hours / 24), "day") if hours >= 48 else (max(1, round(hours)), "hour")
    span = f"{count} {unit}{'' if count == 1 else 's'}"
    return f"due in {span}" if seconds >= 0 else f"was due {span} ago"


@bp.errorhandler(CSRFError)
def csrf_failed(error: CSRFError) -> tuple[str, int]:
    return render_template(
        "error.html",
        status=400,
        title="This form has expired",
        message="The page was open too long or came from elsewhere. Reload it and try again.",
    ), 400


@bp.errorhandler(400)
@bp.errorhandler(403)
@bp.errorhandler(404)
def http_error(error: HTTPException) -> tuple[str, int]:
    status = error.code or 404
    titles = {400: "That address is not quite right", 403: "Not yours to see"}
    title = titles.get(status, "Not found")
    return render_template(
        "error.html", status=status, title=title, message=error.description
    ), status


def no_such(what: str) -> NotFound:
    """The page's 404 for a missing object and for one not the caller's alike, as in the
    API: ids cannot be probed."""
    return NotFound(f"There is no such {what}, or it is not yours to see.")


def signed_in() -> User:
    """The logged-in user (pages that call this are ``login_required``)."""
    logged_in: User = current_user._get_current_object()
    return logged_in
