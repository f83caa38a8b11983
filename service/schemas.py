"""Marshmallow schemas of API v1: they read request bodies, write responses, and are
what the OpenAPI document is generated from."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

import exercises as ex
from exercises import learning

from . import identifiers

SEED_RULE = f"seed must be a whole number from 0 to {ex.SEED_MAX}"
# Bounds on what instructors set: generous for any course, far inside an INTEGER column
# and a float that prints as a number (1e308 points summed made Infinity, invalid JSON).
MAX_ATTEMPTS = 1000
MAX_POINTS = 1000.0


class Identifier(fields.String):
    """A name, title or code people read: NFKC-normalised, no invisible characters."""

    def __init__(self, *, max_length: int, code: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.max_length = max_length
        self.code = code

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        field = self.data_key or attr or "value"
        try:
            if self.code:
                return identifiers.course_code(text, field=field, max_length=self.max_length)
            return identifiers.clean(field, text, max_length=self.max_length)
        except identifiers.IdentifierError as exc:
            raise ValidationError(str(exc)) from None


class ErrorBody(Schema):
    code = fields.String(required=True, metadata={"example": "not_found"})
    message = fields.String(required=True)
    parts = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "invalid_answer only: why each unreadable part was refused"},
    )
    fields_ = fields.Dict(
        data_key="fields",
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "invalid_request only: what is wrong with each field"},
    )


class Error(Schema):
    error = fields.Nested(ErrorBody, required=True)


class ExerciseType(Schema):
    id = fields.String(required=True)
    version = fields.Integer(required=True)
    title = fields.String(required=True)
    summary = fields.String(required=True)
    parts = fields.List(fields.Dict(), required=True, metadata={"description": "name and kind"})
    difficulties = fields.List(fields.Integer())
    mistakes = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "difficulty -> the misconception tags it can recognise"},
    )


class ProblemCreate(Schema):
    type = fields.String(required=True, metadata={"example": "weight-gradient"})
    # strict: 7.5 or "7" is refused, not read as 7 (a JSON whole number is asked for).
    seed = fields.Integer(
        strict=True,
        validate=validate.Range(0, ex.SEED_MAX, error=SEED_RULE),
        error_messages={"invalid": SEED_RULE},
        metadata={"description": "a public seed, 0 to 2**63 - 1; random when left out"},
    )
    difficulty = fields.Integer(load_default=1, strict=True,
                                validate=validate.OneOf(ex.DIFFICULTIES))


class Problem(Schema):
    """CONTRACT §4 problem, no key, with the caller's attempt count."""

    id = fields.UUID(required=True)
    type = fields.String(required=True)
    type_version = fields.Integer(required=True)
    seed = fields.Integer(
        metadata={
            "description": "present for practice problems and for course staff; absent for "
            "a student's graded (assignment) problem, whose seed is secret (CONTRACT §11)"
        }
    )
    difficulty = fields.Integer(required=True)
    title = fields.String()
    prompt = fields.String(required=True)
    network = fields.Dict(allow_none=True, metadata={"description": "CONTRACT §2 network"})
    params = fields.Dict()
    parts = fields.List(
        fields.Dict(), required=True, metadata={"description": "name, kind, label, ..."}
    )
    attempts_used = fields.Integer(required=True)
    attempts_allowed = fields.Integer(
        allow_none=True, required=True, metadata={"description": "null: unlimited (practice)"}
    )
    assignment_id = fields.Integer(allow_none=True)
    slot = fields.Integer(allow_none=True, metadata={"description": "position in the assignment"})


class SubmissionCreate(Schema):
    answers = fields.Dict(
        keys=fields.String(),
        required=True,
        metadata={"description": "part name -> answer (CONTRACT §4)"},
    )


class SubmissionAccepted(Schema):
    id = fields.UUID(required=True)
    status = fields.String(required=True, metadata={"example": "queued"})


class SubmissionResult(Schema):
    """CONTRACT §4 result; score and parts once graded, reason once in error."""

    id = fields.UUID(required=True)
    status = fields.String(
        required=True, validate=validate.OneOf(["queued", "grading", "graded", "error"])
    )
    score = fields.Float()
    parts = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(),
        metadata={"description": "score, correct, entries, misconceptions, feedback per part"},
    )
    reason = fields.String(metadata={"description": "why grading failed (status error)"})
    problem_id = fields.UUID(required=True)
    attempt = fields.Integer(required=True)
    answers = fields.Dict(required=True)
    received_at = fields.DateTime(required=True)
    graded_at = fields.DateTime()
    grader_version = fields.String(
        metadata={"description": "what made the current result: package+hash (CONTRACT §9)"}
    )
    result_kind = fields.String(
        validate=validate.OneOf(["graded", "regraded", "override"]),
        metadata={"description": "graded; regraded (a regrade); override (set by hand)"},
    )
    result_reason = fields.String(
        metadata={"description": "why the score was regraded or set by hand"}
    )
    history = fields.List(
        fields.Nested(lambda: ResultHistory()),
        metadata={"description": "earlier results of this submission, oldest first"},
    )


class ResultHistory(Schema):
    """An earlier result of a submission, kept when a regrade or an override replaced it."""

    score = fields.Float(required=True)
    grader_version = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "graded, regraded, override"})
    reason = fields.String(required=True)
    created_at = fields.DateTime(required=True)


class Solution(Schema):
    steps = fields.List(
        fields.Dict(), required=True, metadata={"description": "title, text, latex, parts"}
    )


class Me(Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    csrf_token = fields.String(
        metadata={"description": "send as X-CSRFToken on unsafe requests made with the session"}
    )


class CourseCreate(Schema):
    code = Identifier(required=True, max_length=32, code=True)
    title = Identifier(required=True, max_length=200)


class Course(Schema):
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    title = fields.String(required=True)
    role = fields.String(required=True, metadata={"description": "the caller's role in it"})




class SlotCreate(Schema):
    exercise_type = fields.String(required=True)
    difficulty = fields.Integer(load_default=1, strict=True,
                                validate=validate.OneOf(ex.DIFFICULTIES))
    points = fields.Float(
        load_default=1.0, allow_nan=False, validate=validate.Range(0, MAX_POINTS)
    )


class AssignmentCreate(Schema):
    title = Identifier(required=True, max_length=200)
    mode = fields.String(load_default="homework", validate=validate.OneOf(["homework", "exam"]))
    attempts_allowed = fields.Integer(
        load_default=3, strict=True, validate=validate.Range(1, MAX_ATTEMPTS)
    )
    opens_at = fields.AwareDateTime(
        load_default=None, allow_none=True,
        metadata={"description": "students see the assignment from then on (null: at once)"},
    )
    due_at = fields.AwareDateTime(load_default=None, allow_none=True)
    published = fields.Boolean(
        load_default=True,
        metadata={"description": "students see only published assignments (the dashboard's "
                  "start unpublished; the API's published, as before)"},
    )
    late_policy = fields.String(
        load_default="closed", validate=validate.OneOf(["closed", "no_credit", "penalty"]),
        metadata={"description": "after the due date: closed (refused), no_credit (graded, "
                  "worth 0), penalty (late_penalty less per started day)"},
    )
    late_penalty = fields.Float(
        load_default=0.0, allow_nan=False, validate=validate.Range(0, 1),
        metadata={"description": "fraction of the score lost per started day late, 0 to 1"},
    )
    slots = fields.List(fields.Nested(SlotCreate), required=True, validate=validate.Length(1, 50))


class SlotProgress(Schema):
    position = fields.Integer(required=True)
    exercise_type = fields.String(required=True)
    difficulty = fields.Integer(required=True)
    points = fields.Float(required=True)
    problem_id = fields.UUID(allow_none=True, metadata={"description": "the caller's variant"})
    attempts_used = fields.Integer()
    attempts_allowed = fields.Integer(
        metadata={"description": "the caller's attempts: the assignment's plus any extra"}
    )
    best_score = fields.Float(allow_none=True)
    credit = fields.Float(
        allow_none=True, metadata={"description": "the best score after the late policy, 0..1"}
    )
    last_status = fields.String(allow_none=True)


class Assignment(Schema):
    id = fields.Integer(required=True)
    course_id = fields.Integer(required=True)
    title = fields.String(required=True)
    mode = fields.String(required=True)
    attempts_allowed = fields.Integer(required=True)
    due_at = fields.DateTime(allow_none=True)
    opens_at = fields.DateTime(allow_none=True)
    published = fields.Boolean()
    late_policy = fields.String(metadata={"description": "closed, no_credit or penalty"})
    late_penalty = fields.Float(metadata={"description": "fraction lost per started day late"})
    your_due_at = fields.DateTime(
        allow_none=True, metadata={"description": "the caller's due date (their override's)"}
    )
    extra_attempts = fields.Integer(metadata={"description": "the caller's extra attempts"})
    slots = fields.List(fields.Nested(SlotProgress), required=True)
    score = fields.Float(
        metadata={"description": "points the caller has earned, after the late policy"}
    )
    points = fields.Float(metadata={"description": "points available"})




class SubmissionListQuery(Schema):
    status = fields.String(validate=validate.OneOf(["queued", "grading", "graded", "error"]))


class SkillMastery(Schema):
    id = fields.String(required=True, metadata={"example": "weight-gradient"})
    name = fields.String(required=True, metadata={"example": "dC/dW"})
    mastery = fields.Float(required=True, metadata={"description": "P(mastered), 0..1"})
    opportunities = fields.Integer(required=True, metadata={"description": "answers of it"})
    mastered = fields.Boolean(
        required=True, metadata={"description": f"mastery >= {learning.MASTERED}"}
    )
