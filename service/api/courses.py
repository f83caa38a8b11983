"""API v1 on courses for their members: the caller's courses, creating one, assignments with
the caller's progress, and the caller's variant of an assignment's slot."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from .. import assignments, courses, policy, queries
from .. import problems as drawn
from .. import roster as people
from .. import schemas as s
from ..db import db
from ..errors import APIError
from ..models import Assignment, Course, CourseRole, LatePolicy, Mode, utcnow
from .common import bp, caller, found, not_found, problem_json, responds


def member_course(course_id: int) -> tuple[Course, CourseRole]:
    """The course and the caller's role in it; 404 unless enrolled (or admin)."""
    course = found(Course, course_id)
    role = policy.course_role(caller(), course.id)
    if role is None:
        raise not_found(course)
    return course, role


def staffed_course(course_id: int) -> tuple[Course, CourseRole]:
    """The course and the caller's role, if on its staff (instructor or TA); 404 for
    everyone else, students included: a staff route does not exist for them (CONTRACT §9)."""
    course, role = member_course(course_id)
    if not role.is_staff:
        raise not_found(course)
    return course, role


def taught_course(course_id: int) -> Course:
    """The course, if the caller is on its staff: to see and grade (404 otherwise)."""
    return staffed_course(course_id)[0]


def managed_course(course_id: int) -> Course:
    """The course, if the caller may change its policy: instructors; 403 for a TA."""
    course, role = staffed_course(course_id)
    if role != CourseRole.instructor:
        raise APIError(403, "forbidden", "only the course's instructors can change this")
    return course


def assignment_in(course_id: int, assignment_id: int) -> Assignment:
    """The assignment of a course the caller belongs to, if they may see it (students: once
    published and opened); else 404."""
    _course, role = member_course(course_id)
    assignment = found(Assignment, assignment_id)
    if assignment.course_id != course_id or not (
        role.is_staff or policy.visible(assignment, utcnow())
    ):
        raise not_found(assignment)
    return assignment


def staff_assignment(course_id: int, assignment_id: int, *, manage: bool = False) -> Assignment:
    """The course's assignment for its staff (instructors only with ``manage``); else 404."""
    if manage:
        managed_course(course_id)
    else:
        staffed_course(course_id)
    found = db.session.get(Assignment, assignment_id)
    if found is None or found.course_id != course_id:
        raise APIError(404, "not_found", "no such assignment")
    return found


def settings_error(exc: assignments.SettingsError) -> APIError:
    """The 422 for settings that cannot be taken, naming each field."""
    unknown = next((m for m in exc.errors.values() if m.startswith("unknown exercise type")),
                   None)
    if unknown is not None:
        return APIError(422, "unknown_exercise_type", unknown, fields=exc.errors)
    return APIError(422, "invalid_request", str(exc), fields=exc.errors)


def course_json(course: Course, role: CourseRole) -> dict[str, Any]:
    return {"id": course.id, "code": course.code, "title": course.title, "role": role.value}


@bp.route("/courses")
class Courses(MethodView):
    @bp.response(200, s.Course(many=True))
    @responds(401)
    def get(self) -> list[dict[str, Any]]:
        """The caller's courses (every course, for admins)."""
        return [course_json(c, role) for c, role in queries.memberships(caller())]

    @bp.arguments(s.CourseCreate())
    @bp.response(201, s.Course)
    @responds(401, 422, also={409: "the course code is taken"})
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a course (instructors and admins); the creator teaches it."""
        try:
            course = courses.create_course(caller(), body["code"], body["title"])
        except people.RosterError as exc:
            raise APIError(exc.status, exc.code, exc.message) from None
        return course_json(course, CourseRole.instructor)


@bp.route("/courses/<int:course_id>")
class CourseView(MethodView):
    @bp.response(200, s.Course)
    @responds(401, 404)
    def get(self, course_id: int) -> dict[str, Any]:
        """One course the caller belongs to."""
        return course_json(*member_course(course_id))


@bp.route("/courses/<int:course_id>/assignments")
class Assignments(MethodView):
    @bp.response(200, s.Assignment(many=True))
    @responds(401, 404)
    def get(self, course_id: int) -> list[dict[str, Any]]:
        """The course's assignments, with the caller's progress in each (students: the
        published, opened ones)."""
        course, role = member_course(course_id)
        now = utcnow()
        return [
            queries.assignment_progress(a, caller())
            for a in course.assignments
            if role.is_staff or policy.visible(a, now)
        ]

    @bp.arguments(s.AssignmentCreate())
    @bp.response(201, s.Assignment)
    @responds(401, 404, 422)
    def post(self, body: dict[str, Any], course_id: int) -> dict[str, Any]:
        """Create an assignment of slots (instructors only); published unless told not."""
        course = managed_course(course_id)
        settings = assignments.Settings(
            title=body["title"], mode=Mode(body["mode"]),
            attempts_allowed=body["attempts_allowed"], opens_at=body["opens_at"],
            due_at=body["due_at"], late_policy=LatePolicy(body["late_policy"]),
            late_penalty=body["late_penalty"],
        )
        slots = [assignments.SlotSettings(**slot) for slot in body["slots"]]
        try:
            assignment = assignments.create(course, settings, slots, published=body["published"])
        except assignments.SettingsError as exc:
            raise settings_error(exc) from None
        return queries.assignment_progress(assignment, caller())


@bp.route("/courses/<int:course_id>/assignments/<int:assignment_id>")
class AssignmentView(MethodView):
    @bp.response(200, s.Assignment)
    @responds(401, 404)
    def get(self, course_id: int, assignment_id: int) -> dict[str, Any]:
        """An assignment with the caller's variant, attempts and best score per slot."""
        return queries.assignment_progress(assignment_in(course_id, assignment_id), caller())


@bp.route("/courses/<int:course_id>/assignments/<int:assignment_id>/slots/<int:position>/problem")
class SlotProblem(MethodView):
    @bp.response(200, s.Problem)
    @responds(401, 404)
    def post(self, course_id: int, assignment_id: int, position: int) -> dict[str, Any]:
        """The caller's variant of a slot, drawn on first call and fixed for every attempt."""
        assignment = assignment_in(course_id, assignment_id)
        slot = next((sl for sl in assignment.slots if sl.position == position), None)
        if slot is None:
            raise APIError(404, "not_found", "no such slot")
        return problem_json(drawn.draw_for_slot(slot, caller()))
