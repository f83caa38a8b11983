"""API v1 for a course's instructors: the roster, per-slot statistics and the course's
submissions (to find and retry those in error)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from sqlalchemy.exc import IntegrityError

from .. import auth, queries
from .. import schemas as s
from ..db import db
from ..errors import APIError
from ..models import CourseRole, Enrollment, Role, Status, User
from .common import bp, responds, result_json
from .courses import assignment_in, managed_course, taught_course


def enrollment_json(user: User, role: CourseRole) -> dict[str, Any]:
    return {"user_id": user.id, "email": user.email, "name": user.name, "role": role.value}


@bp.route("/courses/<int:course_id>/roster")
class Roster(MethodView):
    @bp.response(200, s.Enrollment(many=True))
    @responds(401, 404)
    def get(self, course_id: int) -> list[dict[str, Any]]:
        """The course's students and instructors (instructors only)."""
        course = taught_course(course_id)
        return [enrollment_json(user, role) for user, role in queries.roster(course.id)]

    @bp.arguments(s.EnrollmentCreate())
    @bp.response(201, s.Enrollment)
    @responds(401, 404, 422, also={409: "already enrolled"})
    def post(self, body: dict[str, Any], course_id: int) -> dict[str, Any]:
        """Enrol an existing user by email (instructors only)."""
        course = managed_course(course_id)
        user = auth.find_user(body["email"])
        if user is None:
            raise APIError(404, "not_found", f"no user with email {body['email']}")
        role = CourseRole(body["role"])
        if role == CourseRole.instructor and user.role == Role.student:
            raise APIError(422, "invalid_request", "a student account cannot teach a course")
        db.session.add(Enrollment(course_id=course.id, user_id=user.id, role=role))
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            raise APIError(409, "conflict", f"{user.email} is already enrolled") from None
        return enrollment_json(user, role)


@bp.route("/courses/<int:course_id>/roster/<int:user_id>")
class RosterEntry(MethodView):
    @bp.response(204)
    @responds(401, 404)
    def delete(self, course_id: int, user_id: int) -> None:
        """Remove someone from the course (instructors only); their work is kept."""
        course = managed_course(course_id)
        enrollment = queries.enrollment(course.id, user_id)
        if enrollment is None:
            raise APIError(404, "not_found", "no such enrollment")
        db.session.delete(enrollment)
        db.session.commit()


@bp.route("/courses/<int:course_id>/assignments/<int:assignment_id>/stats")
class AssignmentStatsView(MethodView):
    @bp.response(200, s.AssignmentStats)
    @responds(401, 404)
    def get(self, course_id: int, assignment_id: int) -> dict[str, Any]:
        """Per slot: who submitted, mean best score, and how often each mistake was made."""
        taught_course(course_id)
        assignment = assignment_in(course_id, assignment_id)
        tallies = queries.slot_tallies([sl.id for sl in assignment.slots])
        slots = []
        for sl in assignment.slots:
            tally = tallies.get(sl.id, queries.SlotTally())
            best = tally.best.values()
            slots.append(
                {
                    "position": sl.position,
                    "exercise_type": sl.exercise_type,
                    "students": len(best),
                    "submissions": tally.submissions,
                    "mean_best_score": sum(best) / len(best) if best else None,
                    "solved": sum(1 for v in best if v >= 1.0),
                    "misconceptions": dict(tally.misconceptions.most_common()),
                }
            )
        return {"assignment_id": assignment.id, "slots": slots}


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
