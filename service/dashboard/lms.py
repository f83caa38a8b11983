"""The course's LMS page: its LTI link, the roster sync and the grade pushes. Stub."""

from __future__ import annotations

from werkzeug.exceptions import NotImplemented as NotBuilt

from .base import bp, login_required


@bp.get("/courses/<int:course_id>/lms")
@login_required
def lms(course_id: int) -> str:
    raise NotBuilt()
