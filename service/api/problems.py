"""API v1 for whoever solves problems: the catalogue, practice problems, submitting answers,
a problem's submissions and its worked solution."""

from __future__ import annotations

import re
import secrets
import uuid
from typing import Any

from flask import Response, jsonify, request
from flask.views import MethodView

import exercises as ex

from .. import feedback, pipeline, policy, queries
from .. import problems as drawn
from .. import schemas as s
from ..db import db
from ..dispatch import dispatcher
from ..errors import APIError
from ..models import Status, utcnow
from .common import (
    bp,
    caller,
    documented,
    problem_json,
    read_json,
    readable_problem,
    refused,
    responds,
    result_json,
)

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
            problem = drawn.practice(caller(), body["type"], seed, body["difficulty"])
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
        bp.doc(parameters=[IDEMPOTENCY_KEY_PARAMETER]),
        responds(
            401,
            404,
            also={
                400: "a malformed Idempotency-Key, or a body not JSON",
                409: "no attempt left, or past the due date",
                422: "answers that cannot be read (no attempt used)",
            },
        ),
    )
    def post(self, *_parsed: Any, problem_id: uuid.UUID) -> Response:
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
            dispatcher().notify([accepted.id])
        response = jsonify({"id": accepted.id, "status": accepted.status.value})
        response.status_code = 202
        return response

    @bp.response(200, s.SubmissionResult(many=True))
    @responds(401, 404)
    def get(self, problem_id: uuid.UUID) -> list[dict[str, Any]]:
        """The problem's submissions and their results, oldest first."""
        problem = readable_problem(problem_id)
        return [result_json(sub) for sub in queries.submissions(problem.id)]


@bp.route("/problems/<uuid:problem_id>/solution")
class ProblemSolution(MethodView):
    @bp.response(200, s.Solution)
    @responds(401, 404, also={403: "not yet: solve it or use every attempt"})
    def get(self, problem_id: uuid.UUID) -> dict[str, Any]:
        """The worked solution: for instructors, or the student once solved or out of attempts."""
        problem = readable_problem(problem_id)
        if not feedback.can_see_solution(caller(), problem, utcnow()):
            raise APIError(
                403,
                "solution_locked",
                "the worked solution opens once the problem is solved or no attempt is left"
                + (" (exams: after the due date)" if policy.is_exam(problem) else ""),
            )
        return ex.worked_solution(pipeline.parsed_variant(problem.id, problem.variant)).to_json()

