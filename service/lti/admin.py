"""The site admin's LTI page: platforms, keys, registration links. Stub."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint
from werkzeug.exceptions import NotImplemented as NotBuilt

admin_bp = Blueprint(
    "lti_admin", __name__, template_folder="templates",
    root_path=str(Path(__file__).resolve().parent.parent),
)


@admin_bp.get("/admin/lti")
def platforms() -> str:
    raise NotBuilt()
