"""Pages for students (issue 4): log in and out, courses, assignments, problems, practice.

Log users in with ``auth.log_in`` and protect pages with ``flask_login.login_required``;
the login page's endpoint must be ``student.login`` (``auth.login_manager.login_view``).
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("student", __name__, template_folder="templates", static_folder="static")
