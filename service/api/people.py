"""API v1 twins of the people pages: edit a course, the roster with sections, add and
remove members, set-password links, and a roster CSV's preview and import.

Everything changes through ``service.roster``, as the pages do. Course staff (instructors
and TAs) see; only instructors change (a TA gets 403); everyone else gets 404.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from .. import auth, courses, invites, queries
from .. import roster as people
from .. import schemas as s
from ..errors import APIError
from ..models import CourseRole
from .common import bp, caller, responds
from .courses import course_json, managed_course, taught_course

ROLES = ["student", "ta", "instructor"]


class CourseEdit(Schema):
    code = s.Identifier(max_length=32, code=True)
    title = s.Identifier(max_length=200)


class Member(Schema):
    user_id = fields.Integer(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True, metadata={"description": "student, ta or instructor"})
    section = fields.String(required=True, metadata={"description": "empty for none"})
    pending = fields.Boolean(
        metadata={"description": "the account has not set a password yet"}
    )


class MemberCreate(Schema):
    email = fields.String(required=True, validate=validate.Length(max=254))
    name = fields.String(load_default="", validate=validate.Length(max=1000))
    role = fields.String(load_default="student", validate=validate.OneOf(ROLES))
    section = fields.String(load_default="", validate=validate.Length(max=1000))
    create_account = fields.Boolean(
        load_default=False,
        metadata={"description": "create a student account (with a set-password link) when "
                                 "no user has this email; otherwise such an email is 404"},
    )


class SetPasswordLink(Schema):
    email = fields.String(required=True)
    link = fields.String(required=True, metadata={"description": "one-time; show it to them"})
    expires_at = fields.DateTime(required=True)


class MemberAdded(Member):
    set_password_link = fields.Nested(
        SetPasswordLink, allow_none=True,
        metadata={"description": "only when a new account was created"},
    )


class RosterQuery(Schema):
    section = fields.String(metadata={"description": "only this section's members"})


class Section(Schema):
    section = fields.String(required=True, metadata={"description": "empty for none"})
    students = fields.Integer(required=True)


class RosterFile(Schema):
    csv = fields.String(
        required=True,
        metadata={"description": "the roster CSV's text (CONTRACT §9): header "
                                 "email,name,role,section, one member per row"},
    )


class PlanRow(Schema):
    line = fields.Integer(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    section = fields.String(required=True)
    change = fields.String(
        required=True, validate=validate.OneOf([c.value for c in people.Change])
    )
    reason = fields.String(required=True)


class ImportPlan(Schema):
    ok = fields.Boolean(required=True, metadata={"description": "no row is rejected"})
    rows = fields.Nested(PlanRow, many=True, required=True)


class ImportDone(ImportPlan):
    set_password_links = fields.Nested(SetPasswordLink, many=True, required=True)


def _error(exc: people.RosterError) -> APIError:
    return APIError(exc.status, exc.code, exc.message)


def member_json(entry: queries.Entry) -> dict[str, Any]:
    return {
        "user_id": entry.user_id, "email": entry.email, "name": entry.name,
        "role": entry.role.value, "section": entry.section, "pending": entry.pending,
    }


def link_json(made: people.NewAccount) -> dict[str, Any]:
    link = invites.link(made.email, made.token)
    return {"email": made.email, "link": link, "expires_at": made.expires_at}


def plan_json(plan: people.Plan) -> dict[str, Any]:
    return {
        "ok": plan.ok,
        "rows": [
            {"line": r.line, "email": r.email, "name": r.name, "role": r.role,
             "section": r.section, "change": r.change.value, "reason": r.reason}
            for r in plan.rows
        ],
    }


def _plan(course_id: int, text: str) -> people.Plan:
    course = managed_course(course_id)
    try:
        return people.preview(course, text)
    except people.RosterFileError as exc:
        raise APIError(422, "invalid_roster_file", str(exc)) from None


@bp.route("/courses/<int:course_id>")
class CourseEditView(MethodView):
    @bp.arguments(CourseEdit())
    @bp.response(200, s.Course)
    @responds(401, 404, 422, also={403: "teaching assistants cannot", 409: "the code is taken"})
    def patch(self, body: dict[str, Any], course_id: int) -> dict[str, Any]:
        """Change a course's code or title (instructors only)."""
        course = managed_course(course_id)
        try:
            courses.edit_course(course, body.get("code"), body.get("title"))
        except people.RosterError as exc:
            raise _error(exc) from None
        return course_json(course, CourseRole.instructor)


@bp.route("/courses/<int:course_id>/roster")
class Roster(MethodView):
    @bp.arguments(RosterQuery(), location="query")
    @bp.response(200, Member(many=True))
    @responds(401, 404)
    def get(self, query: dict[str, Any], course_id: int) -> list[dict[str, Any]]:
        """The course's members with role and section, instructors first (course staff)."""
        course = taught_course(course_id)
        return [member_json(e) for e in queries.entries(course.id, query.get("section"))]

    @bp.arguments(MemberCreate())
    @bp.response(201, MemberAdded)
    @responds(401, 404, 422, also={403: "teaching assistants cannot",
                                   409: "already on the roster"})
    def post(self, body: dict[str, Any], course_id: int) -> dict[str, Any]:
        """Add one member (instructors only); with ``create_account``, an unknown email gets
        a new student account and a one-time set-password link."""
        course = managed_course(course_id)
        try:
            enrollment, created = people.add_member(
                course, caller(), body["email"], name=body["name"], role=body["role"],
                section=body["section"], create=body["create_account"],
            )
        except people.RosterError as exc:
            raise _error(exc) from None
        user = enrollment.user
        return {
            "user_id": user.id, "email": user.email, "name": user.name,
            "role": enrollment.role.value, "section": enrollment.section,
            "pending": user.password_hash == auth.UNUSABLE_PASSWORD,
            "set_password_link": link_json(created) if created is not None else None,
        }


@bp.route("/courses/<int:course_id>/roster/<int:user_id>")
class RosterEntry(MethodView):
    @bp.response(204)
    @responds(401, 404, also={403: "teaching assistants cannot",
                              409: "the course's last instructor"})
    def delete(self, course_id: int, user_id: int) -> None:
        """Remove someone from the course (instructors only); their submissions are kept."""
        course = managed_course(course_id)
        try:
            people.remove_member(course, user_id)
        except people.RosterError as exc:
            raise _error(exc) from None


@bp.route("/courses/<int:course_id>/roster/<int:user_id>/set-password-link")
class RosterLink(MethodView):
    @bp.response(201, SetPasswordLink)
    @responds(401, 404, also={403: "teaching assistants cannot; not a student account"})
    def post(self, course_id: int, user_id: int) -> dict[str, Any]:
        """A new one-time set-password link for a member with a student account
        (instructors only); their older links stop working."""
        course = managed_course(course_id)
        try:
            return link_json(people.new_link(course, user_id, caller()))
        except people.RosterError as exc:
            raise _error(exc) from None


@bp.route("/courses/<int:course_id>/roster/import/preview")
class RosterImportPreview(MethodView):
    @bp.arguments(RosterFile())
    @bp.response(200, ImportPlan)
    @responds(401, 404, 422, also={403: "teaching assistants cannot"})
    def post(self, body: dict[str, Any], course_id: int) -> dict[str, Any]:
        """What importing this roster CSV would change, row by row (New, Updated, Unchanged,
        Rejected with a reason); changes nothing. 422 for a file that cannot be read."""
        return plan_json(_plan(course_id, body["csv"]))


@bp.route("/courses/<int:course_id>/roster/import")
class RosterImport(MethodView):
    @bp.arguments(RosterFile())
    @bp.response(200, ImportDone)
    @responds(401, 404, also={
        403: "teaching assistants cannot",
        409: "the roster changed meanwhile: nothing was applied",
        422: "a row is rejected (nothing was applied) or the file cannot be read",
    })
    def post(self, body: dict[str, Any], course_id: int) -> dict[str, Any]:
        """Import a roster CSV: all of it, or nothing when any row is rejected (422, with the
        plan in ``rows``). New accounts get one-time set-password links."""
        plan = _plan(course_id, body["csv"])
        if not plan.ok:
            raise APIError(
                422, "rejected_rows", "nothing was applied: the file has rejected rows",
                **plan_json(plan),
            )
        try:
            done = people.apply(managed_course(course_id), plan, caller())
        except people.RosterError as exc:
            raise _error(exc) from None
        return {**plan_json(plan), "set_password_links": [link_json(m) for m in done.accounts]}


@bp.route("/courses/<int:course_id>/sections")
class Sections(MethodView):
    @bp.response(200, Section(many=True))
    @responds(401, 404)
    def get(self, course_id: int) -> list[dict[str, Any]]:
        """The course's sections and how many students each has (course staff)."""
        course = taught_course(course_id)
        return [{"section": sec, "students": n} for sec, n in queries.sections(course.id)]
