"""API v1 twins of the live pages: the last minutes of an assignment's submissions, and its
wrong answers no mistake explains (course staff only; 404 for everyone else)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from ..live import DEFAULT_WINDOW, WINDOWS, live
from ..unexplained import unexplained
from .common import bp, responds
from .courses import staff_assignment

__all__ = ["bp"]


class LiveQuery(Schema):
    minutes = fields.Integer(load_default=DEFAULT_WINDOW, validate=validate.OneOf(WINDOWS),
                             metadata={"description": "the window, in minutes"})


class LiveMistake(Schema):
    tag = fields.String(required=True)
    name = fields.String(required=True)
    students = fields.Integer(required=True, metadata={"description": "each counted once"})


class LiveSubmission(Schema):
    submission_id = fields.UUID(required=True)
    student = fields.String(required=True)
    position = fields.Integer(required=True, metadata={"description": "the slot"})
    exercise_type = fields.String(required=True)
    received_at = fields.AwareDateTime(required=True)
    status = fields.String(required=True)
    score = fields.Float(allow_none=True, required=True)
    mistakes = fields.List(fields.String(), required=True)


class LiveNow(Schema):
    minutes = fields.Integer(required=True)
    since = fields.AwareDateTime(required=True)
    submitted = fields.Integer(required=True)
    graded = fields.Integer(required=True)
    right = fields.Integer(required=True, metadata={"description": "graded with full marks"})
    mistakes = fields.List(fields.Nested(LiveMistake), required=True)
    latest = fields.List(fields.Nested(LiveSubmission), required=True,
                         metadata={"description": "newest first"})


class UnexplainedExample(Schema):
    submission_id = fields.UUID(required=True)
    student = fields.String(required=True)
    received_at = fields.AwareDateTime(required=True)
    label = fields.String(required=True, metadata={"description": "e.g. '3 × the key'"})
    answer = fields.List(fields.List(fields.Float()), required=True)
    key = fields.List(fields.List(fields.Float()), required=True)


class UnexplainedGroup(Schema):
    position = fields.Integer(required=True, metadata={"description": "the slot"})
    exercise_type = fields.String(required=True)
    part = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "the relation's stable id"})
    title = fields.String(required=True)
    count = fields.Integer(required=True)
    students = fields.Integer(required=True)
    examples = fields.List(fields.Nested(UnexplainedExample), required=True)


class UnexplainedAnswers(Schema):
    submissions_read = fields.Integer(required=True)
    limit = fields.Integer(required=True, metadata={"description": "newest graded submissions "
                                                    "with a wrong part that are read"})
    groups = fields.List(fields.Nested(UnexplainedGroup), required=True)


@bp.route("/courses/<int:course_id>/assignments/<int:assignment_id>/live")
class LiveView(MethodView):
    @bp.arguments(LiveQuery(), location="query")
    @bp.response(200, LiveNow)
    @responds(401, 404, 422)
    def get(self, query: dict[str, Any], course_id: int, assignment_id: int) -> dict[str, Any]:
        """The assignment's submissions of the last minutes: counts, the top named mistakes
        (students each counted once) and the latest submissions."""
        assignment = staff_assignment(course_id, assignment_id)
        return live(assignment.id, query["minutes"]).to_json()


@bp.route("/courses/<int:course_id>/assignments/<int:assignment_id>/unexplained")
class UnexplainedView(MethodView):
    @bp.response(200, UnexplainedAnswers)
    @responds(401, 404)
    def get(self, course_id: int, assignment_id: int) -> dict[str, Any]:
        """Wrong answers no mistake explains, grouped by slot, part and how they relate to
        the key, with up to 3 example submissions each."""
        found = unexplained(staff_assignment(course_id, assignment_id).id)
        return {
            "submissions_read": found.submissions_read, "limit": found.limit,
            "groups": [{"position": g.position, "exercise_type": g.exercise_type,
                        "part": g.part, "kind": g.kind, "title": g.title, "count": g.count,
                        "students": len(g.students), "examples": [vars(e) for e in g.examples]}
                       for g in found.groups],
        }
