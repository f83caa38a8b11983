"""API v1 twins of the gradebook pages: the gradebook as JSON (sorted, filtered, paged as
the page is) and its CSV exports (CONTRACT §9)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from .. import gradebook as gb
from ..errors import APIError
from .common import bp, responds
from .courses import taught_course

__all__ = ["bp"]


class GradebookQuery(Schema):
    sort = fields.String(
        load_default="name", validate=validate.Regexp(gb.SORT_PATTERN),
        metadata={"description": "name, email, section, total, or a<assignment id>"},
    )
    order = fields.String(load_default="asc", validate=validate.OneOf(["asc", "desc"]))
    section = fields.String(
        load_default=None, metadata={"description": "only this section's students"}
    )
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(
        load_default=gb.PER_PAGE, validate=validate.Range(min=1, max=gb.MAX_PER_PAGE)
    )


class GradebookColumn(Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    points = fields.Float(required=True, metadata={"description": "the sum of its slots' points"})


class GradebookRow(Schema):
    user_id = fields.Integer(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    section = fields.String(required=True)
    scores = fields.Dict(
        keys=fields.String(),
        values=fields.Float(allow_none=True),
        metadata={"description": "assignment id -> points earned after the late policy "
                                 "(best attempt per slot); null: nothing graded yet"},
    )
    total = fields.Float(required=True)
    overrides = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "assignment id -> the reasons of scores set by hand "
                                 "(\"slot n: reason\"); absent: none"},
    )


class Gradebook(Schema):
    assignments = fields.List(fields.Nested(GradebookColumn), required=True)
    students = fields.List(fields.Nested(GradebookRow), required=True)
    sort = fields.String(required=True)
    order = fields.String(required=True)
    section = fields.String(allow_none=True)
    page = fields.Integer(required=True)
    pages = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total_students = fields.Integer(
        required=True, metadata={"description": "students matching the filter, every page"}
    )


class ExportQuery(Schema):
    format = fields.String(
        load_default="ours", validate=validate.OneOf([f.value for f in gb.Format]),
        metadata={"description": "ours (fractions of 1) or canvas (points, Canvas's import)"},
    )
    section = fields.String(load_default=None)


@bp.route("/courses/<int:course_id>/gradebook")
class GradebookView(MethodView):
    @bp.arguments(GradebookQuery(), location="query")
    @bp.response(200, Gradebook)
    @responds(401, 404, 422)
    def get(self, query: dict[str, Any], course_id: int) -> dict[str, Any]:
        """Points per student per assignment, with totals (course staff)."""
        course = taught_course(course_id)
        book = gb.book(course.id, gb.Query(
            query["sort"], query["order"] == "desc", query["section"] or None,
            query["page"], query["per_page"],
        ))
        if book.query.sort != query["sort"]:
            raise APIError(422, "invalid_request", f"no column {query['sort']} to sort by")
        return {
            "assignments": [
                {"id": c.id, "title": c.title, "points": c.points} for c in book.columns
            ],
            "students": [
                {
                    "user_id": r.user_id, "email": r.email, "name": r.name, "section": r.section,
                    "scores": {str(aid): v for aid, v in r.cells.items()}, "total": r.total,
                    "overrides": {str(aid): reasons for aid, reasons
                                  in book.overrides.get(r.user_id, {}).items()},
                }
                for r in book.rows
            ],
            "sort": book.query.sort,
            "order": "desc" if book.query.desc else "asc",
            "section": book.query.section,
            "page": book.query.page,
            "pages": book.pages,
            "per_page": book.query.per_page,
            "total_students": book.students,
        }


@bp.route("/courses/<int:course_id>/gradebook.csv")
class GradebookCsv(MethodView):
    @bp.arguments(ExportQuery(), location="query")
    @bp.response(200, {"type": "string"}, content_type="text/csv",
                 description="CONTRACT §9's gradebook CSV, streamed as an attachment")
    @responds(401, 404, 422)
    def get(self, query: dict[str, Any], course_id: int) -> Response:
        """The gradebook as CSV: ours, or Canvas's with ``format=canvas`` (course staff)."""
        course = taught_course(course_id)
        return gb.csv_response(course, gb.Format(query["format"]), query["section"] or None)
