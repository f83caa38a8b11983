"""API v1 twins of "My progress": the caller's own learning model, and the next practice
problem it chooses. Only ever the caller's own: no route takes a user id."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields

from exercises import learning as model

from .. import learning
from .. import schemas as s
from ..learning import own_progress
from ..models import utcnow
from .common import bp, caller, problem_json, responds


class MisconceptionRecord(Schema):
    sentence = fields.String(
        required=True,
        metadata={"example": "Transposed gradient in 2 of your last 2 dC/dW answers"},
    )
    skill = fields.String(required=True, metadata={"description": "the skill it counts in"})
    named = fields.List(fields.String(), required=True,
                        metadata={"description": "submission ids of the answers naming it"})
    of = fields.List(fields.String(), required=True,
                     metadata={"description": "submission ids of the last answers where it "
                               "could show, oldest first"})


class MisconceptionBelief(Schema):
    tag = fields.String(required=True, metadata={"example": "transposed-gradient"})
    name = fields.String(required=True)
    belief = fields.Float(required=True, metadata={"description": "P(holds it), 0..1"})
    shown = fields.Integer(required=True, metadata={"description": "submissions naming it"})
    tested = fields.Integer(
        required=True, metadata={"description": "submissions where it could show"}
    )
    likely = fields.Boolean(required=True, metadata={"description": f"belief >= {model.LIKELY}"})
    record = fields.Nested(MisconceptionRecord, required=True, allow_none=True,
                           metadata={"description": "null where it never could show"})


class StudentProgress(Schema):
    """The caller's learning model (README "The learning loop")."""

    submissions = fields.Integer(required=True, metadata={"description": "graded answers"})
    skills = fields.List(fields.Nested(s.SkillMastery), required=True)
    misconceptions = fields.List(fields.Nested(MisconceptionBelief), required=True)
    parameters = fields.Dict(keys=fields.String(), values=fields.Float(), required=True,
                             metadata={"description": "the model's parameters"})


@bp.route("/me/progress")
class MyProgress(MethodView):
    @bp.response(200, StudentProgress)
    @responds(401)
    def get(self) -> dict[str, Any]:
        """The caller's own learning model: mastery per skill, belief per misconception.

        Each misconception comes with the record behind it: the submissions (ids) of the
        last answers where it could show, and which of them named it. An exam's answers
        count from the caller's due date on, when its feedback opens.
        """
        return own_progress(caller(), utcnow()).to_json()


@bp.route("/me/next-problem")
class MyNextProblem(MethodView):
    @bp.response(201, s.Problem)
    @responds(401)
    def post(self) -> dict[str, Any]:
        """Practise what I need: draw and store the caller's next practice problem (no key).

        Never one the caller has seen; the one whose answer tells most about what they
        probably get wrong and their weakest steps (``exercises.learning.next_problem``).
        """
        return problem_json(learning.next_practice(caller()))
