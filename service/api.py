"""API v1 (CONTRACT §7): problems, submissions and results, and courses for instructors.

Every route resolves the caller (bearer token or CSRF-checked session) and asks
``policy`` before touching an object; objects the caller may not see are 404s.
The OpenAPI document at /api/v1/openapi.json is generated from these views and schemas.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections import Counter, defaultdict
from typing import Any, TypeVar

from flask import Response, current_app, g, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_wtf.csrf import generate_csrf
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

import exercises as ex

from . import auth, inputs, pipeline, policy, problems
from . import schemas as s
from .db import db
from .errors import APIError
from .models import (
    Assignment,
    Course,
    CourseRole,
    Enrollment,
    Mode,
    Problem,
    Result,
    Role,
    Slot,
    Status,
    Submission,
    User,
    utcnow,
)

bp = Blueprint(
    "api", __name__, url_prefix="/api/v1", description="backprop-quiz API v1 (CONTRACT §7)"
)
bp.ARGUMENTS_PARSER = inputs.JsonParser()  # strict, bounded JSON bodies (before any route)

M = TypeVar("M")

# Argument schemas are given as instances: webargs builds a new one per request from a
# class, which costs a POST about a tenth of its time.

ERRORS = {
    401: "not authenticated",
    404: "no such object, or not yours to see",
    422: "the request body is not valid",
}


def responds(*codes: int) -> Any:
    """Document these error responses (all of them the ``Error`` shape)."""

    def decorate(view: Any) -> Any:
        for code in codes:
            view = bp.alt_response(code, schema=s.Error, description=ERRORS.get(code, ""))(view)
        return view

    return decorate


def documented(*decorators: Any) -> Any:
    """Apply flask-smorest's decorators for the OpenAPI document only; the view runs bare.

    For the submit route, the hot path, which reads its body with ``read_json`` and
    builds its own response: at run time the decorators are five wrapper layers (each
    asking whether the view is a coroutine), about a tenth of the route's CPU.
    """

    def decorate(view: Any) -> Any:
        wrapped = view
        for decorator in reversed(decorators):
            wrapped = decorator(wrapped)
        view._apidoc = wrapped._apidoc
        return view

    return decorate


def read_json(schema: Any) -> dict[str, Any]:
    """The JSON body read with ``schema`` by the parser ``bp.arguments`` uses (same errors)."""
    return bp.ARGUMENTS_PARSER.parse(schema, request, location="json")


@bp.before_request
def _authenticate() -> None:
    g.user = auth.api_user()


def caller() -> auth.Principal:
    """The authenticated caller, or 401."""
    if g.user is None:
        raise APIError(401, "unauthorized", "log in, or send Authorization: Bearer <token>")
    return g.user


def found(model: type[M], key: Any) -> M:
    obj = db.session.get(model, key)
    if obj is None:
        raise APIError(404, "not_found", f"no such {model.__name__.lower()}")
    return obj


def refused(exc: pipeline.Refused) -> APIError:
    if isinstance(exc, pipeline.PastDue):
        return APIError(409, "past_due", str(exc))
    if isinstance(exc, pipeline.NoAttemptsLeft):
        return APIError(409, "no_attempts_left", str(exc))
    return APIError(404, "not_found", str(exc))


def not_found(obj: Any) -> APIError:
    # The same answer as for a missing object, so ids cannot be probed.
    return APIError(404, "not_found", f"no such {type(obj).__name__.lower()}")


# --- the catalogue and problems --------------------------------------------------------


@bp.route("/exercise-types")
class ExerciseTypes(MethodView):
    @bp.doc(security=[])
    @bp.response(200, s.ExerciseType(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The catalogue of exercise types."""
        return [t.describe() for t in ex.catalogue()]


@bp.route("/problems")
class Problems(MethodView):
    @bp.arguments(s.ProblemCreate())
    @bp.response(201, s.Problem)
    @responds(401, 422)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Draw a practice problem of a type (no key); the same draw returns the same problem."""
        seed = body.get("seed", secrets.randbelow(2**31))
        try:
            problem = problems.practice(caller(), body["type"], seed, body["difficulty"])
        except ex.UnknownExerciseType as exc:
            raise APIError(422, "unknown_exercise_type", str(exc)) from None
        return problem_json(problem)


@bp.route("/problems/<uuid:problem_id>")
class ProblemView(MethodView):
    @bp.response(200, s.Problem)
    @responds(401, 404)
    def get(self, problem_id: uuid.UUID) -> dict[str, Any]:
        """The problem, without its key."""
        return problem_json(readable_problem(problem_id))


def readable_problem(problem_id: uuid.UUID) -> Problem:
    problem = found(Problem, problem_id)
    if not policy.can_read_problem(caller(), problem):
        raise not_found(problem)
    return problem


def problem_json(problem: Problem, variant: ex.Variant | None = None) -> dict[str, Any]:
    variant = variant or pipeline.parsed_variant(problem.id, problem.variant)
    slot = problem.slot
    shown = variant.to_json(with_key=False)
    if not policy.can_see_seed(caller(), problem):
        del shown["seed"]
    return {
        "id": problem.id,
        **shown,
        "attempts_used": problem.attempts_used,
        "attempts_allowed": problem.attempts_allowed,
        "assignment_id": slot.assignment_id if slot is not None else None,
        "slot": slot.position if slot is not None else None,
    }


SUBMISSION_CREATE = s.SubmissionCreate()
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,128}")  # printable ASCII, no spaces


IDEMPOTENCY_KEY_PARAMETER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 128},
    "description": "a retry with the same key and answers returns the same submission "
    "and uses no attempt",
}


def idempotency_key() -> str | None:
    """The request's Idempotency-Key header, if any; 400 when it is malformed."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise APIError(
            400,
            "invalid_idempotency_key",
            "the Idempotency-Key header must be 1 to 128 printable ASCII characters, no spaces",
        )
    return key


@bp.route("/problems/<uuid:problem_id>/submissions")
class ProblemSubmissions(MethodView):
    @documented(
        bp.arguments(SUBMISSION_CREATE),
        bp.response(202, s.SubmissionAccepted),
        bp.alt_response(
            422, schema=s.Error, description="answers that cannot be read (no attempt used)"
        ),
        bp.alt_response(409, schema=s.Error, description="no attempt left, or past the due date"),
        bp.alt_response(
            400, schema=s.Error, description="a malformed Idempotency-Key, or a body not JSON"
        ),
        bp.doc(parameters=[IDEMPOTENCY_KEY_PARAMETER]),
        responds(401, 404),
    )
    def post(self, problem_id: uuid.UUID) -> Response:
        """Submit answers: read now, graded asynchronously; poll the submission for the result.

        With an ``Idempotency-Key`` header (1 to 128 printable ASCII characters), a retry
        of the same answers gets the same submission back (202) and uses no attempt; the
        key reused for other answers or another problem is a 422.
        """
        received_at = utcnow()
        user = caller()
        key = idempotency_key()
        answers = read_json(SUBMISSION_CREATE)["answers"]
        try:
            # The hot path: one connection, no Session (see pipeline.Db).
            with pipeline.connect(db.engine) as connection:
                problem = pipeline.target(connection, problem_id)
                if problem is None or not policy.can_submit(user, problem):
                    raise APIError(404, "not_found", "no such problem")
                if key is None:
                    accepted = pipeline.Accepted(
                        pipeline.submit(connection, problem, user.id, answers, received_at),
                        Status.queued,
                        replayed=False,
                    )
                else:
                    accepted = pipeline.submit_once(
                        connection, problem, user.id, answers, received_at, key
                    )
        except ex.AnswerFormatError as exc:
            raise APIError(422, "invalid_answer", exc.message, parts=exc.parts) from None
        except pipeline.Refused as exc:
            raise refused(exc) from None
        except pipeline.KeyReused as exc:
            raise APIError(422, "idempotency_key_reused", str(exc)) from None
        if not accepted.replayed:
            # Only now, with the row committed, is its id handed on to be published.
            current_app.extensions["outbox"].put([accepted.id])
        response = jsonify({"id": accepted.id, "status": accepted.status.value})
        response.status_code = 202
        return response

    @bp.response(200, s.SubmissionResult(many=True))
    @responds(401, 404)
    def get(self, problem_id: uuid.UUID) -> list[dict[str, Any]]:
        """The problem's submissions and their results, oldest first."""
        problem = readable_problem(problem_id)
        submissions = db.session.scalars(
            select(Submission)
            .where(Submission.problem_id == problem.id)
            .order_by(Submission.attempt)
        )
        return [result_json(sub) for sub in submissions]


@bp.route("/problems/<uuid:problem_id>/solution")
class ProblemSolution(MethodView):
    @bp.response(200, s.Solution)
    @bp.alt_response(403, schema=s.Error, description="not yet: solve it or use every attempt")
    @responds(401, 404)
    def get(self, problem_id: uuid.UUID) -> dict[str, Any]:
        """The worked solution: for instructors, or the student once solved or out of attempts."""
        problem = readable_problem(problem_id)
        if not policy.can_see_solution(caller(), problem, utcnow()):
            raise APIError(
                403,
                "solution_locked",
                "the worked solution opens once the problem is solved or no attempt is left"
                + (" (exams: after the due date)" if _is_exam(problem) else ""),
            )
        return ex.worked_solution(pipeline.parsed_variant(problem.id, problem.variant)).to_json()


def _is_exam(problem: Problem) -> bool:
    return problem.slot is not None and problem.slot.assignment.mode == Mode.exam


# --- submissions -----------------------------------------------------------------------


@bp.route("/submissions/<uuid:submission_id>")
class SubmissionView(MethodView):
    @bp.response(200, s.SubmissionResult)
    @responds(401, 404)
    def get(self, submission_id: uuid.UUID) -> dict[str, Any]:
        """The result (CONTRACT §4): only its owner and the course's instructors may read it."""
        return result_json(readable_submission(submission_id))


def readable_submission(submission_id: uuid.UUID) -> Submission:
    submission = found(Submission, submission_id)
    if not policy.can_read_submission(caller(), submission):
        raise not_found(submission)
    return submission


def result_json(submission: Submission) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": submission.id,
        "status": submission.status.value,
        "problem_id": submission.problem_id,
        "attempt": submission.attempt,
        "answers": submission.answers,
        "received_at": submission.received_at,
    }
    result = submission.result if submission.status == Status.graded else None
    if result is not None:
        out.update(score=result.score, parts=result.parts, graded_at=submission.graded_at)
    if submission.status == Status.error:
        out["reason"] = submission.reason or "grading failed"
    return out


@bp.route("/submissions/<uuid:submission_id>/retry")
class SubmissionRetry(MethodView):
    @bp.response(202, s.SubmissionAccepted)
    @bp.alt_response(409, schema=s.Error, description="the submission is not in error")
    @responds(401, 404)
    def post(self, submission_id: uuid.UUID) -> dict[str, Any]:
        """Queue a submission in error again (course instructors and admins)."""
        submission = readable_submission(submission_id)
        if not policy.can_retry(caller(), submission):
            raise APIError(403, "forbidden", "only the course's instructors can retry grading")
        if not pipeline.retry(db.session, submission):
            raise APIError(409, "not_in_error", f"the submission is {submission.status.value}")
        current_app.extensions["outbox"].put([submission.id])
        return {"id": submission.id, "status": Status.queued.value}


# --- the caller ------------------------------------------------------------------------


@bp.route("/me")
class MeView(MethodView):
    @bp.response(200, s.Me)
    @responds(401)
    def get(self) -> dict[str, Any]:
        """Who is calling, and the CSRF token for session-authenticated writes."""
        user = caller()
        return {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "role": user.role.value,
            # Only a session needs one; a bearer token's request has no session to keep it.
            **({} if auth.bearer_token(request) else {"csrf_token": generate_csrf()}),
        }


# --- courses ---------------------------------------------------------------------------


def member_course(course_id: int) -> tuple[Course, CourseRole]:
    """The course and the caller's role in it; 404 unless enrolled (or admin)."""
    course = found(Course, course_id)
    role = policy.course_role(caller(), course.id)
    if role is None:
        raise not_found(course)
    return course, role


def taught_course(course_id: int) -> Course:
    course, role = member_course(course_id)
    if role != CourseRole.instructor:
        raise APIError(403, "forbidden", "only the course's instructors can do this")
    return course


def course_json(course: Course, role: CourseRole) -> dict[str, Any]:
    return {"id": course.id, "code": course.code, "title": course.title, "role": role.value}


@bp.route("/courses")
class Courses(MethodView):
    @bp.response(200, s.Course(many=True))
    @responds(401)
    def get(self) -> list[dict[str, Any]]:
        """The caller's courses (every course, for admins)."""
        user = caller()
        if user.role == Role.admin:
            courses = db.session.scalars(select(Course).order_by(Course.id))
            return [course_json(c, CourseRole.instructor) for c in courses]
        rows = db.session.execute(
            select(Course, Enrollment.role)
            .join(Enrollment)
            .where(Enrollment.user_id == user.id)
            .order_by(Course.id)
        )
        return [course_json(c, role) for c, role in rows]

    @bp.arguments(s.CourseCreate())
    @bp.response(201, s.Course)
    @bp.alt_response(409, schema=s.Error, description="the course code is taken")
    @responds(401, 422)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a course (instructors and admins); the creator teaches it."""
        user = caller()
        if user.role == Role.student:
            raise APIError(403, "forbidden", "only instructors can create courses")
        course = Course(code=body["code"], title=body["title"])
        db.session.add(course)
        db.session.add(Enrollment(course=course, user_id=user.id, role=CourseRole.instructor))
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            raise APIError(409, "conflict", f"a course with code {body['code']} exists") from None
        return course_json(course, CourseRole.instructor)


@bp.route("/courses/<int:course_id>")
class CourseView(MethodView):
    @bp.response(200, s.Course)
    @responds(401, 404)
    def get(self, course_id: int) -> dict[str, Any]:
        """One course the caller belongs to."""
        return course_json(*member_course(course_id))


@bp.route("/courses/<int:course_id>/roster")
class Roster(MethodView):
    @bp.response(200, s.Enrollment(many=True))
    @responds(401, 404)
    def get(self, course_id: int) -> list[dict[str, Any]]:
        """The course's students and instructors (instructors only)."""
        course = taught_course(course_id)
        rows = db.session.execute(
            select(User, Enrollment.role)
            .join(Enrollment)
            .where(Enrollment.course_id == course.id)
            .order_by(Enrollment.role, User.email)
        )
        return [enrollment_json(user, role) for user, role in rows]

    @bp.arguments(s.EnrollmentCreate())
    @bp.response(201, s.Enrollment)
    @bp.alt_response(409, schema=s.Error, description="already enrolled")
    @responds(401, 404, 422)
    def post(self, body: dict[str, Any], course_id: int) -> dict[str, Any]:
        """Enrol an existing user by email (instructors only)."""
        course = taught_course(course_id)
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
        course = taught_course(course_id)
        enrollment = db.session.scalar(
            select(Enrollment).where(
                Enrollment.course_id == course.id, Enrollment.user_id == user_id
            )
        )
        if enrollment is None:
            raise APIError(404, "not_found", "no such enrollment")
        db.session.delete(enrollment)
        db.session.commit()


def enrollment_json(user: User, role: CourseRole) -> dict[str, Any]:
    return {"user_id": user.id, "email": user.email, "name": user.name, "role": role.value}


# --- assignments -----------------------------------------------------------------------


@bp.route("/courses/<int:course_id>/assignments")
class Assignments(MethodView):
    @bp.response(200, s.Assignment(many=True))
    @responds(401, 404)
    def get(self, course_id: int) -> list[dict[str, Any]]:
        """The course's assignments, with the caller's progress in each."""
        course, _role = member_course(course_id)
        return [assignment_json(a, caller()) for a in course.assignments]

    @bp.arguments(s.AssignmentCreate())
    @bp.response(201, s.Assignment)
    @responds(401, 404, 422)
    def post(self, body: dict[str, Any], course_id: int) -> dict[str, Any]:
        """Create an assignment of slots (instructors only)."""
        course = taught_course(course_id)
        for slot in body["slots"]:
            try:
                ex.get_type(slot["exercise_type"])
            except ex.UnknownExerciseType as exc:
                raise APIError(422, "unknown_exercise_type", str(exc)) from None
        assignment = Assignment(
            course=course,
            title=body["title"],
            mode=Mode(body["mode"]),
            attempts_allowed=body["attempts_allowed"],
            due_at=body["due_at"],
            slots=[Slot(position=i, **slot) for i, slot in enumerate(body["slots"], start=1)],
        )
        db.session.add(assignment)
        db.session.commit()
        return assignment_json(assignment, caller())


def assignment_in(course_id: int, assignment_id: int) -> Assignment:
    member_course(course_id)
    assignment = found(Assignment, assignment_id)
    if assignment.course_id != course_id:
        raise not_found(assignment)
    return assignment


@bp.route("/courses/<int:course_id>/assignments/<int:assignment_id>")
class AssignmentView(MethodView):
    @bp.response(200, s.Assignment)
    @responds(401, 404)
    def get(self, course_id: int, assignment_id: int) -> dict[str, Any]:
        """An assignment with the caller's variant, attempts and best score per slot."""
        return assignment_json(assignment_in(course_id, assignment_id), caller())


def assignment_json(assignment: Assignment, user: policy.Person) -> dict[str, Any]:
    problems = {
        p.slot_id: p
        for p in db.session.scalars(
            select(Problem).where(
                Problem.owner_id == user.id,
                Problem.slot_id.in_([slot.id for slot in assignment.slots]),
            )
        )
    }
    best = best_scores([p.id for p in problems.values()])
    last = last_statuses([p.id for p in problems.values()])
    slots, earned = [], 0.0
    for slot in assignment.slots:
        problem = problems.get(slot.id)
        score = best.get(problem.id) if problem is not None else None
        earned += (score or 0.0) * slot.points
        slots.append(
            {
                "position": slot.position,
                "exercise_type": slot.exercise_type,
                "difficulty": slot.difficulty,
                "points": slot.points,
                "problem_id": problem.id if problem is not None else None,
                "attempts_used": problem.attempts_used if problem is not None else 0,
                "best_score": score,
                "last_status": last.get(problem.id) if problem is not None else None,
            }
        )
    return {
        "id": assignment.id,
        "course_id": assignment.course_id,
        "title": assignment.title,
        "mode": assignment.mode.value,
        "attempts_allowed": assignment.attempts_allowed,
        "due_at": assignment.due_at,
        "slots": slots,
        "score": earned,
        "points": sum(slot.points for slot in assignment.slots),
    }


def best_scores(problem_ids: list[uuid.UUID]) -> dict[uuid.UUID, float]:
    rows = db.session.execute(
        select(Submission.problem_id, func.max(Result.score))
        .join(Result)
        .where(Submission.problem_id.in_(problem_ids))
        .group_by(Submission.problem_id)
    )
    return {problem_id: score for problem_id, score in rows}


def last_statuses(problem_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    latest = (
        select(Submission.problem_id, func.max(Submission.attempt).label("attempt"))
        .where(Submission.problem_id.in_(problem_ids))
        .group_by(Submission.problem_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Submission.problem_id, Submission.status).join(
            latest,
            (Submission.problem_id == latest.c.problem_id)
            & (Submission.attempt == latest.c.attempt),
        )
    )
    return {problem_id: status.value for problem_id, status in rows}


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
        return problem_json(problems.draw_for_slot(slot, caller()))


# --- for instructors: gradebook, statistics, grading errors -------------------------------


@bp.route("/courses/<int:course_id>/gradebook")
class GradebookView(MethodView):
    @bp.response(200, s.Gradebook)
    @responds(401, 404)
    def get(self, course_id: int) -> dict[str, Any]:
        """Points per student per assignment, best attempt per slot (instructors only)."""
        course = taught_course(course_id)
        students = db.session.scalars(
            select(User)
            .join(Enrollment)
            .where(Enrollment.course_id == course.id, Enrollment.role == CourseRole.student)
            .order_by(User.email)
        ).all()
        # (student, assignment) -> points: best score of each slot problem times its points.
        best = (
            select(
                Problem.owner_id,
                Slot.assignment_id,
                Slot.points,
                func.max(Result.score).label("score"),
            )
            .join(Slot, Problem.slot_id == Slot.id)
            .join(Assignment, Slot.assignment_id == Assignment.id)
            .join(Submission, Submission.problem_id == Problem.id)
            .join(Result, Result.submission_id == Submission.id)
            .where(Assignment.course_id == course.id)
            .group_by(Problem.id, Problem.owner_id, Slot.assignment_id, Slot.points)
        )
        earned: dict[int, dict[int, float]] = defaultdict(lambda: defaultdict(float))
        for owner_id, assignment_id, points, score in db.session.execute(best):
            earned[owner_id][assignment_id] += points * score
        return {
            "assignments": [
                {"id": a.id, "title": a.title, "points": sum(sl.points for sl in a.slots)}
                for a in course.assignments
            ],
            "students": [
                {
                    "user_id": st.id,
                    "email": st.email,
                    "name": st.name,
                    "scores": {str(a.id): earned[st.id][a.id] for a in course.assignments},
                    "total": sum(earned[st.id].values()),
                }
                for st in students
            ],
        }


@bp.route("/courses/<int:course_id>/assignments/<int:assignment_id>/stats")
class AssignmentStatsView(MethodView):
    @bp.response(200, s.AssignmentStats)
    @responds(401, 404)
    def get(self, course_id: int, assignment_id: int) -> dict[str, Any]:
        """Per slot: who submitted, mean best score, and how often each mistake was made."""
        taught_course(course_id)
        assignment = assignment_in(course_id, assignment_id)
        rows = db.session.execute(
            select(Problem.slot_id, Problem.id, Result.score, Result.parts)
            .join(Submission, Submission.problem_id == Problem.id)
            .join(Result, Result.submission_id == Submission.id)
            .where(Problem.slot_id.in_([sl.id for sl in assignment.slots]))
        )
        best: dict[int, dict[uuid.UUID, float]] = defaultdict(dict)
        submissions: Counter[int] = Counter()
        tags: dict[int, Counter[str]] = defaultdict(Counter)
        for slot_id, problem_id, score, parts in rows:
            submissions[slot_id] += 1
            best[slot_id][problem_id] = max(score, best[slot_id].get(problem_id, 0.0))
            for part in parts.values():
                tags[slot_id].update(part.get("misconceptions", []))
        return {
            "assignment_id": assignment.id,
            "slots": [
                {
                    "position": sl.position,
                    "exercise_type": sl.exercise_type,
                    "students": len(best[sl.id]),
                    "submissions": submissions[sl.id],
                    "mean_best_score": (
                        sum(best[sl.id].values()) / len(best[sl.id]) if best[sl.id] else None
                    ),
                    "solved": sum(1 for v in best[sl.id].values() if v >= 1.0),
                    "misconceptions": dict(tags[sl.id].most_common()),
                }
                for sl in assignment.slots
            ],
        }


@bp.route("/courses/<int:course_id>/submissions")
class CourseSubmissions(MethodView):
    @bp.arguments(s.SubmissionListQuery(), location="query")
    @bp.response(200, s.SubmissionResult(many=True))
    @responds(401, 404)
    def get(self, query: dict[str, Any], course_id: int) -> list[dict[str, Any]]:
        """The course's submissions, newest first, optionally by status (e.g. error, to retry)."""
        course = taught_course(course_id)
        stmt = (
            select(Submission)
            .join(Problem)
            .join(Slot)
            .join(Assignment)
            .where(Assignment.course_id == course.id)
            .order_by(Submission.received_at.desc())
            .limit(500)
        )
        if "status" in query:
            stmt = stmt.where(Submission.status == Status(query["status"]))
        return [result_json(sub) for sub in db.session.scalars(stmt)]
