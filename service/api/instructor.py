"""API v1 for a course's staff: the course's submissions (to find and retry those in
error). The roster is in ``api.people``, the gradebook in ``api.gradebook``, statistics
in ``api.stats``."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from .. import queries
from .. import schemas as s
from ..models import Status
from .common import bp, responds, result_json
from .courses import taught_course


@bp.route("/courses/<int:course_id>/submissions")
class CourseSubmissions(MethodView):
    @bp.arguments(s.SubmissionListQuery(), location="query")
    @bp.response(200, s.SubmissionResult(many=True))
    @responds(401, 404)
    def get(self, query: dict[str, Any], course_id: int) -> list[dict[str, Any]]:
        """The course's submissions, newest first, optionally by status (e.g. error, to retry)."""
        course = taught_course(course_id)
        status = Status(query["status"]) if "status" in query else None
        return [result_json(sub) for sub in queries.course_submissions(course.id, status)]
