"""API v1 twins of the course's LMS page: the LMS courses linked to it, the grade pushes
to their gradebooks, a roster sync now, and a push sent again.

Course staff (instructors and TAs) see; only instructors sync or resend (a TA gets 403);
everyone else gets 404. Reads and changes are ``service.lms``'s, as the page's are.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields

from ..db import db
from ..errors import APIError
from ..lms import grades, roster
from ..lms.services import ServiceError
from .common import bp, responds
from .courses import managed_course, taught_course

__all__ = ["bp"]


class LtiCourseLink(Schema):
    id = fields.Integer(required=True)
    platform = fields.String(required=True, metadata={"description": "the LMS's name"})
    issuer = fields.String(required=True)
    context_id = fields.String(required=True, metadata={"description": "the LMS's course id"})
    title = fields.String(required=True, metadata={"description": "the LMS's course title"})
    can_sync = fields.Boolean(required=True, metadata={"description": "the LMS gave a roster URL"})
    synced_at = fields.AwareDateTime(
        allow_none=True, required=True, metadata={"description": "the last roster sync"}
    )
    sync_requested_at = fields.AwareDateTime(allow_none=True, required=True)
    links = fields.Integer(required=True, metadata={"description": "links placed in the LMS"})


class LtiScorePush(Schema):
    id = fields.Integer(required=True)
    user_id = fields.Integer(required=True)
    student = fields.String(required=True)
    email = fields.String(required=True)
    assignment_id = fields.Integer(allow_none=True, required=True)
    assignment = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "pending, sent or failed"})
    score_given = fields.Float(
        allow_none=True,
        required=True,
        metadata={"description": "as sent (read from the marks then)"},
    )
    score_maximum = fields.Float(allow_none=True, required=True)
    attempts = fields.Integer(required=True)
    last_error = fields.String(required=True, metadata={"description": "the HTTP status and why"})
    created_at = fields.AwareDateTime(required=True)
    next_try_at = fields.AwareDateTime(required=True)
    sent_at = fields.AwareDateTime(allow_none=True, required=True)


class LtiCourse(Schema):
    links = fields.List(fields.Nested(LtiCourseLink), required=True)
    pushes = fields.List(
        fields.Nested(LtiScorePush),
        required=True,
        metadata={
            "description": f"failed first, then pending, then the latest {grades.SENT_SHOWN} sent"
        },
    )


class LtiRosterSynced(Schema):
    context = fields.Integer(required=True, metadata={"description": "the link's id"})
    listed = fields.Integer(required=True, metadata={"description": "members the LMS listed"})
    enrolled = fields.Integer(required=True, metadata={"description": "on the roster now"})
    left = fields.Integer(required=True, metadata={"description": "marked as left now"})
    skipped = fields.Integer(required=True, metadata={"description": "no role we map"})


class LtiRosterSyncResult(Schema):
    synced = fields.List(fields.Nested(LtiRosterSynced), required=True)
    links = fields.List(fields.Nested(LtiCourseLink), required=True)


def _lti(course_id: int) -> dict[str, Any]:
    return {
        "links": [vars(v) for v in roster.links(db.session, course_id)],
        "pushes": [vars(p) for p in grades.pushes(db.session, course_id)],
    }


@bp.route("/courses/<int:course_id>/lti")
class LtiCourseView(MethodView):
    @bp.response(200, LtiCourse)
    @responds(401, 404)
    def get(self, course_id: int) -> dict[str, Any]:
        """The LMS courses this course is linked to, and its grade pushes to them."""
        return _lti(taught_course(course_id).id)


@bp.route("/courses/<int:course_id>/lti/roster-sync")
class LtiRosterSync(MethodView):
    @bp.response(200, LtiRosterSyncResult)
    @responds(
        401,
        404,
        also={
            403: "only the course's instructors sync",
            409: "the course is linked to no LMS course that gave a roster URL",
            502: "the LMS did not answer, or refused (the message says how)",
        },
    )
    def post(self, course_id: int) -> dict[str, Any]:
        """Read the roster from the LMS now: its members are enrolled with their LMS roles;
        those no longer listed are marked as having left (their work stays)."""
        course = managed_course(course_id)
        try:
            done = roster.sync_course(db.session, course.id)
        except ServiceError as exc:
            raise APIError(502, "lms_failed", f"the roster sync failed: {exc}") from None
        if not done:
            raise APIError(409, "not_linked", "no LMS course with a roster is linked here")
        return {
            "synced": [{"context": pk, **vars(s)} for pk, s in done],
            "links": [vars(v) for v in roster.links(db.session, course.id)],
        }


@bp.route("/courses/<int:course_id>/lti/pushes/<int:push_id>/resend")
class LtiPushResend(MethodView):
    @bp.response(200, LtiScorePush)
    @responds(
        401,
        404,
        also={
            403: "only the course's instructors resend",
            409: "sent already: a new score makes a new push",
        },
    )
    def post(self, course_id: int, push_id: int) -> dict[str, Any]:
        """Send a failed or pending push again, now, with fresh attempts (the score is read
        when it is sent)."""
        course = managed_course(course_id)
        push = grades.push_of_course(db.session, course.id, push_id)
        if push is None:
            raise APIError(404, "not_found", "no such push")
        if not grades.resend(db.session, push):
            raise APIError(409, "already_sent", "this push was sent; a new score makes a new one")
        return vars(grades.pushes(db.session, course.id, push_id=push.id)[0])
