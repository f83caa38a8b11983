"""API v1 on one submission: its result for its owner and the course's instructors, a retry
of grading for instructors; and who is calling."""

from __future__ import annotations

import uuid
from typing import Any

from flask import request
from flask.views import MethodView
from flask_wtf.csrf import generate_csrf

from .. import auth, pipeline, policy
from .. import schemas as s
from ..db import db
from ..dispatch import dispatcher
from ..errors import APIError
from ..models import Status, Submission
from .common import bp, caller, found, not_found, responds, result_json


@bp.route("/submissions/<uuid:submission_id>")
class SubmissionView(MethodView):
    @bp.response(200, s.SubmissionResult)
    @responds(401, 404)
    def get(self, submission_id: uuid.UUID) -> dict[str, Any]:
        """The result (CONTRACT §4): only its owner and the course's instructors may read it."""
        return result_json(readable_submission(submission_id))


def readable_submission(submission_id: uuid.UUID) -> Submission:
    """The submission, if the caller may read it; else 404."""
    submission = found(Submission, submission_id)
    if not policy.can_read_submission(caller(), submission):
        raise not_found(submission)
    return submission


@bp.route("/submissions/<uuid:submission_id>/retry")
class SubmissionRetry(MethodView):
    @bp.response(202, s.SubmissionAccepted)
    @responds(401, 404, also={409: "the submission is not in error"})
    def post(self, submission_id: uuid.UUID) -> dict[str, Any]:
        """Queue a submission in error again (course instructors and admins)."""
        submission = readable_submission(submission_id)
        if not policy.can_retry(caller(), submission):
            raise APIError(403, "forbidden", "only the course's instructors can retry grading")
        if not pipeline.retry(db.session, submission):
            raise APIError(409, "not_in_error", f"the submission is {submission.status.value}")
        dispatcher().notify([submission.id])
        return {"id": submission.id, "status": Status.queued.value}


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
