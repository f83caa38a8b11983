"""API v1 twins of the network page: preview every exercise type on an instructor's network,
and add one to an assignment as a slot."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

import exercises as ex

from .. import networks as nets
from ..errors import APIError
from ..schemas import MAX_POINTS
from .common import bp, responds
from .courses import staff_assignment, taught_course


class NetworkPreviewBody(Schema):
    network = fields.Raw(required=True, metadata={"description": "a network file (CONTRACT §2)"})


class NetworkPrediction(Schema):
    mistakes = fields.List(fields.String(), metadata={"description": "mistake tags, one or two"})
    value = fields.Raw(metadata={"description": "the answer they give (grading form)"})


class NetworkSolutionStep(Schema):
    title = fields.String()
    text = fields.String()
    latex = fields.String(allow_none=True)
    parts = fields.List(fields.String())


class NetworkFittedType(Schema):
    exercise_type = fields.String()
    title = fields.String()
    difficulty = fields.Integer()
    prompt = fields.String()
    params = fields.Dict()
    key = fields.Dict(metadata={"description": "per part, in the answers' format"})
    predictions = fields.Dict(keys=fields.String(),
                              values=fields.List(fields.Nested(NetworkPrediction)))
    solution = fields.List(fields.Nested(NetworkSolutionStep))
    warnings = fields.List(fields.String(), metadata={
        "description": "the checks a drawn variant would have been redrawn for, as sentences"})


class NetworkPreviewResult(Schema):
    network = fields.Dict(metadata={"description": "the network as read (CONTRACT §2)"})
    types = fields.List(fields.Nested(NetworkFittedType))


class NetworkSlotCreate(Schema):
    exercise_type = fields.String(required=True)
    network = fields.Raw(required=True, metadata={"description": "a network file (CONTRACT §2)"})
    points = fields.Float(load_default=1.0, allow_nan=False, validate=validate.Range(0, MAX_POINTS))


class NetworkSlot(Schema):
    id = fields.Integer()
    assignment_id = fields.Integer()
    position = fields.Integer()
    exercise_type = fields.String()
    difficulty = fields.Integer()
    points = fields.Float()
    network = fields.Dict(allow_none=True)


INVALID_NETWORK = {422: "the network is not valid (code invalid_network; the CLI's message)"}


def _network(data: object) -> ex.Network:
    try:
        return nets.read_json(data)
    except nets.NetworkInput as exc:
        raise APIError(422, "invalid_network", str(exc)) from None


@bp.route("/courses/<int:course_id>/networks/preview")
class NetworkPreview(MethodView):
    @bp.arguments(NetworkPreviewBody())
    @bp.response(200, NetworkPreviewResult)
    @responds(401, 404, also=INVALID_NETWORK)
    def post(self, body: dict[str, Any], course_id: int) -> dict[str, Any]:
        """Every exercise type that can ask about the network: key, the mistakes named per
        part, worked solution and warnings (course staff)."""
        taught_course(course_id)
        net = _network(body["network"])
        return {"network": net.to_json(),
                "types": [nets.fitted_json(f) for f in nets.preview(net)]}


@bp.route("/courses/<int:course_id>/assignments/<int:assignment_id>/slots")
class NetworkSlots(MethodView):
    @bp.arguments(NetworkSlotCreate())
    @bp.response(201, NetworkSlot)
    @responds(401, 404, also={403: "teaching assistants cannot change assignments",
                              **INVALID_NETWORK})
    def post(self, body: dict[str, Any], course_id: int, assignment_id: int) -> dict[str, Any]:
        """Add an exercise type on the instructor's network as the assignment's last slot:
        every student gets the same numbers (instructors only)."""
        assignment = staff_assignment(course_id, assignment_id, manage=True)
        net = _network(body["network"])
        try:
            slot = nets.add_slot(assignment, body["exercise_type"], net, body["points"])
        except ex.UnknownExerciseType as exc:
            raise APIError(422, "unknown_exercise_type", str(exc)) from None
        except nets.NotApplicable as exc:
            raise APIError(422, "not_applicable", str(exc)) from None
        return {"id": slot.id, "assignment_id": assignment.id, "position": slot.position,
                "exercise_type": slot.exercise_type, "difficulty": slot.difficulty,
                "points": slot.points, "network": slot.network}
