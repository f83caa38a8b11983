"""The API's one blueprint and what every audience's routes share: the caller, lookups that
404 what the caller may not see, error documentation and the problem and result shapes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from importlib import metadata
from typing import Any, TypeVar

from flask import g, request
from flask_smorest import Blueprint
from packaging.version import InvalidVersion, Version

import exercises as ex

from .. import auth, feedback, inputs, pipeline, policy
from .. import schemas as s
from ..db import db
from ..errors import APIError
from ..models import Problem, Status, Submission, utcnow

bp = Blueprint(
    "api", "service.api", url_prefix="/api/v1", description="backprop-quiz API v1 (CONTRACT §7)"
)
bp.ARGUMENTS_PARSER = inputs.JsonParser()  # strict, bounded JSON bodies (before any route)

M = TypeVar("M")
View = Callable[..., Any]

# Argument schemas are given as instances: webargs builds a new one per request from a
# class, which costs a POST about a tenth of its time.

ERRORS = {
    401: "not authenticated",
    404: "no such object, or not yours to see",
    422: "the request body is not valid",
}


def responds(*codes: int, also: dict[int, str] | None = None) -> Callable[[View], View]:
    """Document these error responses (all of them the ``Error`` shape): ``codes`` with their
    usual meaning, then the route's own in ``also`` (code: what it means here)."""
    described = {code: ERRORS.get(code, "") for code in codes} | (also or {})

    def decorate(view: View) -> View:
        for code, description in described.items():
            view = bp.alt_response(code, schema=s.Error, description=description)(view)
        return view

    return decorate


# flask-smorest releases whose decorators keep a view's documentation in its ``_apidoc``
# attribute, which is where the Blueprint reads it from: lowest verified, first unverified.
BARE_VIEWS_VERIFIED = (Version("0.47"), Version("0.48"))


def bare_views_supported(version: str | None = None) -> bool:
    """Whether ``documented`` may run views bare: only on flask-smorest releases it was
    checked against, since ``_apidoc`` is not flask-smorest's public interface."""
    try:
        found_version = Version(version or metadata.version("flask-smorest"))
    except (metadata.PackageNotFoundError, InvalidVersion):
        return False
    low, high = BARE_VIEWS_VERIFIED
    return low <= found_version < high


BARE_VIEWS = bare_views_supported()


def documented(*decorators: Callable[[View], View]) -> Callable[[View], View]:
    """Apply flask-smorest's decorators for the OpenAPI document only; the view runs bare.

    For the submit route, the hot path, which reads its body with ``read_json`` and
    builds its own response: at run time the decorators are five wrapper layers (each
    asking whether the view is a coroutine), about a tenth of the route's CPU. The view
    must accept the parsed body as an ignored extra positional argument, which it gets
    when the decorators do run: on a flask-smorest release not verified (``BARE_VIEWS``
    false), where the body is then read twice and malformed before unauthorised.
    """

    def decorate(view: View) -> View:
        wrapped = view
        for decorator in reversed(decorators):
            wrapped = decorator(wrapped)
        if not BARE_VIEWS:
            return wrapped
        view._apidoc = wrapped._apidoc  # type: ignore[attr-defined]  # flask-smorest's doc
        return view

    return decorate


def read_json(schema: Any) -> dict[str, Any]:
    """The JSON body read with ``schema`` by the parser ``bp.arguments`` uses (same errors)."""
    body: dict[str, Any] = bp.ARGUMENTS_PARSER.parse(schema, request, location="json")
    return body


@bp.before_request
def _authenticate() -> None:
    g.user = auth.api_user()


def caller() -> auth.Principal:
    """The authenticated caller, or 401."""
    if g.user is None:
        raise APIError(401, "unauthorized", "log in, or send Authorization: Bearer <token>")
    principal: auth.Principal = g.user
    return principal


def found(model: type[M], key: Any) -> M:
    """The row of ``model`` with primary key ``key``, or 404."""
    obj = db.session.get(model, key)
    if obj is None:
        raise APIError(404, "not_found", f"no such {model.__name__.lower()}")
    return obj


def not_found(obj: object) -> APIError:
    # The same answer as for a missing object, so ids cannot be probed.
    return APIError(404, "not_found", f"no such {type(obj).__name__.lower()}")


def refused(exc: pipeline.Refused) -> APIError:
    """The API error for a submission the pipeline refused."""
    if isinstance(exc, pipeline.PastDue):
        return APIError(409, "past_due", str(exc))
    if isinstance(exc, pipeline.NoAttemptsLeft):
        return APIError(409, "no_attempts_left", str(exc))
    return APIError(404, "not_found", str(exc))


def readable_problem(problem_id: uuid.UUID) -> Problem:
    """The problem, if the caller may read it; else 404."""
    problem = found(Problem, problem_id)
    if not policy.can_read_problem(caller(), problem):
        raise not_found(problem)
    return problem


def problem_json(problem: Problem, variant: ex.Variant | None = None) -> dict[str, Any]:
    """The ``Problem`` shape: the variant without its key (and its seed, unless the caller
    may see it), attempts, and the assignment slot it was drawn for."""
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


def result_json(submission: Submission) -> dict[str, Any]:
    """The ``SubmissionResult`` shape (CONTRACT §4): the score and parts once graded (an
    exam's parts only from the student's due date on, ``service.feedback``), the grader
    version, kind and earlier results (a regrade or an override keeps them), the reason
    once in error."""
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
        out.update(score=result.score, graded_at=submission.graded_at,
                   grader_version=result.grader_version, result_kind=result.kind.value,
                   history=feedback.history_json(submission))
        if result.kind.value != "graded":
            out["result_reason"] = result.reason
        # Parts (marks, named mistakes) as the feedback mode allows: an exam's wait.
        parts = feedback.shown_parts(caller(), submission, utcnow())
        if parts is not None:
            out["parts"] = parts
    if submission.status == Status.error:
        out["reason"] = submission.reason or "grading failed"
    return out
