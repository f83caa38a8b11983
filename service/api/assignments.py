"""API v1 twins of the assignment pages, for a course's staff: the staff view of an
assignment (settings, slots, overrides), its settings changed, published or not,
duplicated, and per-student overrides. Creating one is ``POST /courses/<id>/assignments``
(``api.courses``). Staff see (TAs too); changing anything is for instructors (403 for a
TA); students and outsiders get 404.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

import exercises as ex

from .. import assignments, queries
from ..db import db
from ..errors import APIError
from ..models import Assignment, CourseRole, LatePolicy, Mode, Override, User
from .common import bp, caller, responds
from .courses import settings_error, staff_assignment

__all__ = ["bp"]


class AssignmentSlotForStaff(Schema):
    position = fields.Integer(required=True)
    exercise_type = fields.String(required=True)
    title = fields.String(required=True)
    difficulty = fields.Integer(required=True)
    points = fields.Float(required=True)
    network = fields.Dict(
        allow_none=True, metadata={"description": "an instructor's own network; null: drawn"}
    )


class AssignmentOverride(Schema):
    user_id = fields.Integer(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    due_at = fields.DateTime(allow_none=True, metadata={"description": "the student's due date"})
    extra_attempts = fields.Integer(required=True)
    reason = fields.String(required=True)
    granted_by = fields.String(
        allow_none=True, metadata={"description": "email of who granted it"}
    )
    granted_at = fields.DateTime(required=True)


class AssignmentOverrideSet(Schema):
    due_at = fields.AwareDateTime(load_default=None, allow_none=True)
    extra_attempts = fields.Integer(
        load_default=0, strict=True, validate=validate.Range(0, assignments.MAX_ATTEMPTS)
    )
    reason = fields.String(load_default="", validate=validate.Length(max=assignments.MAX_REASON))


class AssignmentForStaff(Schema):
    id = fields.Integer(required=True)
    course_id = fields.Integer(required=True)
    title = fields.String(required=True)
    mode = fields.String(required=True, metadata={"description": "homework (practice) or exam"})
    attempts_allowed = fields.Integer(required=True)
    opens_at = fields.DateTime(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    published = fields.Boolean(required=True)
    late_policy = fields.String(required=True)
    late_penalty = fields.Float(required=True, metadata={"description": "fraction per day"})
    late_rule = fields.String(required=True, metadata={"description": "the policy in words"})
    slots = fields.List(fields.Nested(AssignmentSlotForStaff), required=True)
    overrides = fields.List(fields.Nested(AssignmentOverride), required=True)


class AssignmentSettingsPatch(Schema):
    """Any of the settings; what is left out stays."""

    title = fields.String()
    mode = fields.String(validate=validate.OneOf([m.value for m in Mode]))
    attempts_allowed = fields.Integer(strict=True)
    opens_at = fields.AwareDateTime(allow_none=True)
    due_at = fields.AwareDateTime(allow_none=True)
    late_policy = fields.String(validate=validate.OneOf([p.value for p in LatePolicy]))
    late_penalty = fields.Float(allow_nan=False)


def override_json(o: Override) -> dict[str, Any]:
    granter = db.session.get(User, o.granted_by) if o.granted_by is not None else None
    return {
        "user_id": o.user_id, "email": o.user.email, "name": o.user.name, "due_at": o.due_at,
        "extra_attempts": o.extra_attempts, "reason": o.reason,
        "granted_by": granter.email if granter is not None else None,
        "granted_at": o.granted_at,
    }


def staff_json(a: Assignment) -> dict[str, Any]:
    return {
        "id": a.id, "course_id": a.course_id, "title": a.title, "mode": a.mode.value,
        "attempts_allowed": a.attempts_allowed, "opens_at": a.opens_at, "due_at": a.due_at,
        "published": a.published, "late_policy": a.late_policy.value,
        "late_penalty": a.late_penalty, "late_rule": assignments.late_rule(a),
        "slots": [
            {"position": s.position, "exercise_type": s.exercise_type,
             "title": ex.get_type(s.exercise_type).title, "difficulty": s.difficulty,
             "points": s.points, "network": s.network}
            for s in a.slots
        ],
        "overrides": [override_json(o) for o in assignments.overrides(a)],
    }


BASE = "/courses/<int:course_id>/assignments/<int:assignment_id>"


@bp.route(BASE + "/manage")
class ManagedAssignment(MethodView):
    @bp.response(200, AssignmentForStaff)
    @responds(401, 404)
    def get(self, course_id: int, assignment_id: int) -> dict[str, Any]:
        """The staff view of an assignment: settings, slots and overrides."""
        return staff_json(staff_assignment(course_id, assignment_id))

    @bp.arguments(AssignmentSettingsPatch())
    @bp.response(200, AssignmentForStaff)
    @responds(401, 404, 422, also={403: "teaching assistants change no policy"})
    def patch(self, body: dict[str, Any], course_id: int, assignment_id: int) -> dict[str, Any]:
        """Change settings (slots stay): marks follow a new due date or late policy, drawn
        problems a new number of attempts."""
        a = staff_assignment(course_id, assignment_id, manage=True)
        if "mode" in body:
            body["mode"] = Mode(body["mode"])
        if "late_policy" in body:
            body["late_policy"] = LatePolicy(body["late_policy"])
        settings = dataclasses.replace(assignments.settings_of(a), **body)
        try:
            assignments.update_settings(a, settings)
        except assignments.SettingsError as exc:
            raise settings_error(exc) from None
        return staff_json(a)


@bp.route(BASE + "/publish")
class Publish(MethodView):
    @bp.response(200, AssignmentForStaff)
    @responds(401, 404, also={403: "teaching assistants change no policy"})
    def post(self, course_id: int, assignment_id: int) -> dict[str, Any]:
        """Publish: students see it from its opening date on."""
        a = staff_assignment(course_id, assignment_id, manage=True)
        assignments.publish(a, True)
        return staff_json(a)


@bp.route(BASE + "/unpublish")
class Unpublish(MethodView):
    @bp.response(200, AssignmentForStaff)
    @responds(401, 404, also={403: "teaching assistants change no policy"})
    def post(self, course_id: int, assignment_id: int) -> dict[str, Any]:
        """Unpublish: students no longer see it (their work is kept)."""
        a = staff_assignment(course_id, assignment_id, manage=True)
        assignments.publish(a, False)
        return staff_json(a)


@bp.route(BASE + "/duplicate")
class Duplicate(MethodView):
    @bp.response(201, AssignmentForStaff)
    @responds(401, 404, also={403: "teaching assistants change no policy"})
    def post(self, course_id: int, assignment_id: int) -> dict[str, Any]:
        """A copy with the same settings and slots, unpublished, titled "Copy of …"."""
        a = staff_assignment(course_id, assignment_id, manage=True)
        return staff_json(assignments.duplicate(a))


@bp.route(BASE + "/overrides")
class Overrides(MethodView):
    @bp.response(200, AssignmentOverride(many=True))
    @responds(401, 404)
    def get(self, course_id: int, assignment_id: int) -> list[dict[str, Any]]:
        """The assignment's per-student overrides, by email."""
        a = staff_assignment(course_id, assignment_id)
        return [override_json(o) for o in assignments.overrides(a)]


@bp.route(BASE + "/overrides/<int:user_id>")
class OverrideView(MethodView):
    @bp.arguments(AssignmentOverrideSet())
    @bp.response(200, AssignmentOverride)
    @responds(401, 404, 422, also={403: "teaching assistants change no policy"})
    def put(self, body: dict[str, Any], course_id: int, assignment_id: int,
            user_id: int) -> dict[str, Any]:
        """Grant or replace a student's override: an extended due date, extra attempts."""
        a = staff_assignment(course_id, assignment_id, manage=True)
        member = queries.enrollment(course_id, user_id)
        if member is None or member.role != CourseRole.student:
            raise APIError(404, "not_found", "no such student in this course")
        try:
            own = assignments.grant(a, user_id, due_at=body["due_at"],
                                    extra_attempts=body["extra_attempts"],
                                    reason=body["reason"], granted_by=caller().id)
        except assignments.SettingsError as exc:
            raise settings_error(exc) from None
        return override_json(own)

    @bp.response(204)
    @responds(401, 404, also={403: "teaching assistants change no policy"})
    def delete(self, course_id: int, assignment_id: int, user_id: int) -> None:
        """Remove a student's override."""
        a = staff_assignment(course_id, assignment_id, manage=True)
        if not assignments.revoke(a, user_id):
            raise APIError(404, "not_found", "no such override")
