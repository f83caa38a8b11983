"""API v1 twins of the grading-policy and regrade pages (issue 16), for a course's staff.

Authorization (CONTRACT §9: "a TA may see and grade but not change a course's policy"):
reading a policy, previewing and reading regrades, applying a preview and setting or
clearing a score override are grading, for any of the course's staff; changing a policy
(assignment or slot) and accepting an answer change how every submission is graded, for
instructors only (403 for a TA). Students and outsiders get 404 on every route.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from exercises import policy as rule

from .. import regrade, rules
from .. import schemas as s
from ..dashboard.policies import (
    MAX_REASON,
    Refused,
    accept,
    audit,
    error_field,
    preview_json,
    preview_of,
    save_assignment_policy,
    save_slot_policy,
    slot_versions,
)
from ..db import db
from ..dispatch import dispatcher
from ..errors import APIError
from ..models import Assignment, RegradeStatus, Slot, Submission
from .common import bp, caller, responds, result_json
from .courses import staff_assignment

__all__ = ["bp"]

BASE = "/courses/<int:course_id>/assignments/<int:assignment_id>"
TA_403 = {403: "teaching assistants change no policy"}


class PolicyBody(Schema):
    policy = fields.Dict(
        required=True, allow_none=True,
        metadata={"description": "a grading policy (rtol, atol, carry_forward, "
                  "carry_forward_credit, partial_credit, mistake_credit, accepted); "
                  "null or {}: the default rule (a slot: as the assignment)"},
    )


class SlotPolicy(Schema):
    position = fields.Integer(required=True)
    policy = fields.Dict(allow_none=True, metadata={"description": "the slot's own fields"})
    effective = fields.Dict(
        required=True, metadata={"description": "the policy the slot grades by (merged)"})
    described = fields.List(fields.String(), required=True)
    grader_version = fields.String(required=True)
    stale = fields.Integer(
        required=True, metadata={"description": "current results made by another version"})


class AssignmentPolicy(Schema):
    policy = fields.Dict(allow_none=True, required=True)
    described = fields.List(fields.String(), required=True)
    slots = fields.List(fields.Nested(SlotPolicy), required=True)


class AcceptBody(Schema):
    submission_id = fields.UUID(required=True)
    part = fields.String(required=True, validate=validate.Length(1, rule.MAX_PART_NAME))
    credit = fields.Float(load_default=1.0, validate=validate.Range(0, 1), allow_nan=False)
    reason = fields.String(required=True, validate=validate.Length(1, MAX_REASON))


class Accepted(Schema):
    slot = fields.Integer(required=True)
    accepted = fields.Dict(
        required=True, metadata={"description": "part, relation or value, credit, reason"})


class RegradeCreate(Schema):
    slot = fields.Integer(load_default=None, allow_none=True,
                          metadata={"description": "a slot's position; null: the assignment"})
    submission_id = fields.UUID(load_default=None, allow_none=True)
    reason = fields.String(required=True, validate=validate.Length(1, MAX_REASON))
    never_lower = fields.Boolean(load_default=True)


class RegradeRow(Schema):
    submission_id = fields.UUID(required=True)
    user_id = fields.Integer(required=True)
    student = fields.String(required=True)
    email = fields.String(required=True)
    slot = fields.Integer(required=True)
    attempt = fields.Integer(required=True)
    old_score = fields.Float(required=True)
    new_score = fields.Float(required=True)
    old_mistakes = fields.List(fields.String(), required=True)
    new_mistakes = fields.List(fields.String(), required=True)
    change = fields.String(required=True,
                           metadata={"description": "raised, lowered, unchanged or kept"})


class RegradeEffect(Schema):
    user_id = fields.Integer(required=True)
    student = fields.String(required=True)
    email = fields.String(required=True)
    old_total = fields.Float(required=True, metadata={"description": "fraction of the points"})
    new_total = fields.Float(required=True)


class Regrade(Schema):
    id = fields.Integer(required=True)
    assignment_id = fields.Integer(required=True)
    slot_id = fields.Integer(allow_none=True)
    submission_id = fields.UUID(allow_none=True)
    status = fields.String(required=True,
                           metadata={"description": "previewed, applying, applied, discarded"})
    never_lower = fields.Boolean(required=True)
    reason = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    requested_by = fields.String(allow_none=True)
    applied_by = fields.String(allow_none=True)
    applied_at = fields.DateTime(allow_none=True)
    versions = fields.Dict(required=True, metadata={"description": "slot id: grader version"})
    counts = fields.Dict(required=True)
    overrides = fields.Integer(required=True,
                               metadata={"description": "scores set by hand, left alone"})
    rows = fields.List(fields.Nested(RegradeRow), required=True)
    effects = fields.List(fields.Nested(RegradeEffect), required=True)


class RegradeSummary(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True)
    scope = fields.String(required=True)
    reason = fields.String(required=True)
    requested_by = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    applied_by = fields.String(required=True)
    applied_at = fields.DateTime(allow_none=True)
    versions = fields.Dict(required=True)
    counts = fields.Dict(required=True)


class OverrideBody(Schema):
    score = fields.Float(required=True, validate=validate.Range(0, 1), allow_nan=False,
                         metadata={"description": "a fraction of the submission's marks"})
    reason = fields.String(required=True, validate=validate.Length(1, MAX_REASON))


class OverrideClear(Schema):
    reason = fields.String(load_default="override cleared",
                           validate=validate.Length(1, MAX_REASON))


def _policy_error(exc: rule.PolicyError) -> APIError:
    field = error_field(exc)
    return APIError(422, "invalid_policy", str(exc), fields={field: str(exc)})


def _slot(a: Assignment, position: int) -> Slot:
    slot = next((s for s in a.slots if s.position == position), None)
    if slot is None:
        raise APIError(404, "not_found", "no such slot")
    return slot


def _slot_json(a: Assignment) -> list[dict[str, Any]]:
    out = []
    for v in slot_versions(a):
        try:
            effective = rules.slot_policy(v.slot).to_json()
        except rule.PolicyError:
            effective = {}
        out.append({"position": v.slot.position, "policy": v.slot.grading_policy,
                    "effective": effective, "described": v.policy,
                    "grader_version": v.version, "stale": v.stale})
    return out


def policy_json(a: Assignment) -> dict[str, Any]:
    try:
        described = rule.describe(rule.GradingPolicy.from_json(a.grading_policy))
    except rule.PolicyError as exc:
        described = [f"the stored policy cannot be read: {exc}"]
    return {"policy": a.grading_policy, "described": described, "slots": _slot_json(a)}


@bp.route(BASE + "/grading-policy")
class GradingPolicyView(MethodView):
    @bp.response(200, AssignmentPolicy)
    @responds(401, 404)
    def get(self, course_id: int, assignment_id: int) -> dict[str, Any]:
        """The assignment's grading policy, each slot's, and each slot's grader version."""
        return policy_json(staff_assignment(course_id, assignment_id))

    @bp.arguments(PolicyBody())
    @bp.response(200, AssignmentPolicy)
    @responds(401, 404, also={**TA_403, 422: "the policy is not valid: the field is named"})
    def put(self, body: dict[str, Any], course_id: int, assignment_id: int) -> dict[str, Any]:
        """Replace the assignment's policy (instructors). New gradings use it at once;
        existing results change only by an applied regrade."""
        a = staff_assignment(course_id, assignment_id, manage=True)
        try:
            save_assignment_policy(a, body["policy"])
        except rule.PolicyError as exc:
            db.session.rollback()
            raise _policy_error(exc) from None
        return policy_json(a)


@bp.route(BASE + "/slots/<int:position>/grading-policy")
class SlotPolicyView(MethodView):
    @bp.response(200, SlotPolicy)
    @responds(401, 404)
    def get(self, course_id: int, assignment_id: int, position: int) -> dict[str, Any]:
        """One slot's own policy fields, the policy it grades by and its grader version."""
        a = staff_assignment(course_id, assignment_id)
        _slot(a, position)
        return next(s for s in _slot_json(a) if s["position"] == position)

    @bp.arguments(PolicyBody())
    @bp.response(200, SlotPolicy)
    @responds(401, 404, also={**TA_403, 422: "the policy is not valid: the field is named"})
    def put(self, body: dict[str, Any], course_id: int, assignment_id: int, position: int
            ) -> dict[str, Any]:
        """Replace the fields the slot changes, its accepted answers included (instructors)."""
        a = staff_assignment(course_id, assignment_id, manage=True)
        slot = _slot(a, position)
        try:
            save_slot_policy(slot, body["policy"], keep_accepted=False)
        except (rule.PolicyError, AttributeError, TypeError) as exc:
            db.session.rollback()
            if not isinstance(exc, rule.PolicyError):
                exc = rule.PolicyError(f"accepted: must be a list of objects ({exc})")
            raise _policy_error(exc) from None
        return next(s for s in _slot_json(a) if s["position"] == position)


def _position(sub: Submission) -> int:
    slot = sub.problem.slot
    assert slot is not None  # _submission_of: a submission to this assignment's slot
    return slot.position


def _submission_of(a: Assignment, submission_id: uuid.UUID) -> Submission:
    sub = db.session.get(Submission, submission_id)
    if sub is None or sub.problem.slot is None or sub.problem.slot.assignment_id != a.id:
        raise APIError(404, "not_found", "no such submission")
    return sub


@bp.route(BASE + "/accepted")
class AcceptView(MethodView):
    @bp.arguments(AcceptBody())
    @bp.response(201, Accepted)
    @responds(401, 404, 422, also={**TA_403})
    def post(self, body: dict[str, Any], course_id: int, assignment_id: int) -> dict[str, Any]:
        """Accept a submission's unexplained answer to a part in its slot's policy
        (instructors): by its relation to the key, else its value. Then preview a regrade."""
        a = staff_assignment(course_id, assignment_id, manage=True)
        sub = _submission_of(a, body["submission_id"])
        try:
            accepted = accept(sub, body["part"], body["credit"], body["reason"])
        except Refused as exc:
            db.session.rollback()
            raise APIError(422, "not_unexplained", str(exc), fields={exc.field: str(exc)}
                           ) from None
        except rule.PolicyError as exc:
            db.session.rollback()
            raise _policy_error(exc) from None
        return {"slot": _position(sub), "accepted": accepted.to_json()}


def _regrade(a: Assignment, regrade_id: int) -> dict[str, Any]:
    try:
        return preview_json(*preview_of(a, regrade_id))
    except LookupError:
        raise APIError(404, "not_found", "no such regrade") from None


@bp.route(BASE + "/regrades")
class RegradesView(MethodView):
    @bp.response(200, RegradeSummary(many=True))
    @responds(401, 404)
    def get(self, course_id: int, assignment_id: int) -> list[Any]:
        """The assignment's regrades, newest first: the audit log (staff)."""
        return [vars(r) for r in audit(staff_assignment(course_id, assignment_id))]

    @bp.arguments(RegradeCreate())
    @bp.response(201, Regrade)
    @responds(401, 404, 422, also={409: "a regrade of this assignment is being applied"})
    def post(self, body: dict[str, Any], course_id: int, assignment_id: int) -> dict[str, Any]:
        """Preview a regrade of the assignment, a slot or one submission (staff): nothing a
        student sees changes until it is applied."""
        a = staff_assignment(course_id, assignment_id)
        slot_id = _slot(a, body["slot"]).id if body["slot"] is not None else None
        sub_id = (_submission_of(a, body["submission_id"]).id
                  if body["submission_id"] is not None else None)
        try:
            made = regrade.preview(db.session, regrade.Scope(a.id, slot_id, sub_id),
                                   by=caller().id, reason=body["reason"],
                                   never_lower=body["never_lower"])
        except regrade.RegradeError as exc:
            db.session.rollback()
            raise APIError(409, "regrade_refused", str(exc)) from None
        return _regrade(a, made.regrade_id)


@bp.route(BASE + "/regrades/<int:regrade_id>")
class RegradeView(MethodView):
    @bp.response(200, Regrade)
    @responds(401, 404)
    def get(self, course_id: int, assignment_id: int, regrade_id: int) -> dict[str, Any]:
        """A preview or an applied regrade: counts, each changed submission, each student's
        assignment score old → new, who applied it and when."""
        return _regrade(staff_assignment(course_id, assignment_id), regrade_id)


@bp.route(BASE + "/regrades/<int:regrade_id>/apply")
class RegradeApply(MethodView):
    @bp.response(202, Regrade)
    @responds(401, 404, also={409: "not a preview (applied, applying or discarded)"})
    def post(self, course_id: int, assignment_id: int, regrade_id: int) -> dict[str, Any]:
        """Apply a preview (staff: it grades by the policy the instructors set); the worker
        writes it in batches, and ``status`` turns ``applied`` when done."""
        a = staff_assignment(course_id, assignment_id)
        _preview, row = _preview_row(a, regrade_id)
        if row.status != RegradeStatus.previewed:
            raise APIError(409, "not_a_preview", f"the regrade is {row.status.value}")
        try:
            regrade.start(db.session, regrade_id, by=caller().id)
        except regrade.RegradeError as exc:
            db.session.rollback()
            raise APIError(409, "not_a_preview", str(exc)) from None
        dispatcher().regrade(regrade_id)
        db.session.expire_all()  # ``start`` wrote the row's status past the session
        return _regrade(a, regrade_id)


def _preview_row(a: Assignment, regrade_id: int) -> Any:
    try:
        return preview_of(a, regrade_id)
    except LookupError:
        raise APIError(404, "not_found", "no such regrade") from None


@bp.route(BASE + "/submissions/<uuid:submission_id>/override")
class OverrideView(MethodView):
    @bp.arguments(OverrideBody())
    @bp.response(200, s.SubmissionResult)
    @responds(401, 404, 422, also={409: "the submission is not graded"})
    def post(self, body: dict[str, Any], course_id: int, assignment_id: int,
             submission_id: uuid.UUID) -> dict[str, Any]:
        """Set the submission's score by hand with a reason (staff); later regrades leave
        it alone until it is cleared."""
        sub = _submission_of(staff_assignment(course_id, assignment_id), submission_id)
        try:
            regrade.override(db.session, sub.id, body["score"], body["reason"], by=caller().id)
        except regrade.RegradeError as exc:
            db.session.rollback()
            raise APIError(409, "not_graded", str(exc)) from None
        db.session.expire_all()
        return result_json(sub)

    @bp.arguments(OverrideClear())
    @bp.response(200, s.SubmissionResult)
    @responds(401, 404, 422, also={409: "the score is not set by hand"})
    def delete(self, body: dict[str, Any], course_id: int, assignment_id: int,
               submission_id: uuid.UUID) -> dict[str, Any]:
        """End an override (staff): the submission is graded again by its slot's policy."""
        sub = _submission_of(staff_assignment(course_id, assignment_id), submission_id)
        try:
            regrade.clear_override(db.session, sub.id, body["reason"], by=caller().id)
        except regrade.RegradeError as exc:
            db.session.rollback()
            raise APIError(409, "not_overridden", str(exc)) from None
        db.session.expire_all()
        return result_json(sub)
