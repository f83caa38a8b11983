"""An instructor's own network: paste or upload a network file, see every exercise type on it
(its key, worked solution and the mistakes the engine would name, with the checks' warnings),
and add one to an assignment as a slot."""

from __future__ import annotations

import json
from dataclasses import dataclass

from flask import redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response

import exercises as ex

from .. import mathml
from .. import networks as nets
from ..db import db
from ..diagram import svg
from ..models import Assignment
from ..schemas import MAX_POINTS
from ..student.render import StepView, solution_view
from .base import Staff, bp, login_required, managed_course, no_such, staff_course


@dataclass(frozen=True)
class MistakeLine:
    names: str
    value: Markup


@dataclass(frozen=True)
class PartPreview:
    name: str
    label: Markup
    key: Markup
    mistakes: list[MistakeLine]


@dataclass(frozen=True)
class TypePreview:
    """One exercise type on the network, ready for the page."""

    id: str
    title: str
    difficulty: int
    prompt: str
    parts: list[PartPreview]
    solution: list[StepView]
    warnings: list[str]


def _type_preview(fitted: ex.Fitted) -> TypePreview:
    v = fitted.variant
    parts = [
        PartPreview(
            p.name, mathml.text(p.label),
            mathml.formula(nets.value_tex(p.kind, v.key[p.name])),
            [MistakeLine(n.names, mathml.formula(nets.value_tex(p.kind, n.value)))
             for n in nets.named(fitted, p.name)],
        )
        for p in v.parts
    ]
    return TypePreview(v.type, v.title, v.difficulty, v.prompt, parts, solution_view(v),
                       fitted.warnings)


def _page(staff: Staff, text: str = "", error: str = "", status: int = 200,
          net: ex.Network | None = None) -> tuple[str, int]:
    previews = [_type_preview(f) for f in nets.preview(net)] if net is not None else []
    return render_template(
        "dashboard/network.html", staff=staff, text=text, error=error, previews=previews,
        network_json=json.dumps(net.to_json()) if net is not None else "",
        diagram=svg(net.to_json()) if net is not None else None,
        assignments=sorted(staff.course.assignments, key=lambda a: a.id),
        limits=(nets.MAX_BYTES // 1024, nets.MAX_WIDTH, nets.MAX_EXAMPLES),
    ), status


def _submitted_text() -> tuple[str, str]:
    """The network file's text (an upload wins over the textarea) and a reading error."""
    upload = request.files.get("upload")
    if upload is not None and upload.filename:
        raw = upload.stream.read(nets.MAX_BYTES + 1)
        try:
            return raw.decode("utf-8-sig"), ""
        except UnicodeDecodeError:
            return "", "the uploaded network file is not UTF-8 text"
    return request.form.get("network", ""), ""


@bp.get("/courses/<int:course_id>/network")
@login_required
def networks(course_id: int) -> tuple[str, int]:
    """An instructor's own network: the form to paste or upload it."""
    return _page(staff_course(course_id))


@bp.post("/courses/<int:course_id>/network")
@login_required
def network_preview(course_id: int) -> tuple[str, int]:
    """Every exercise type that applies to the network sent, previewed; or why none can."""
    staff = staff_course(course_id)
    text, error = _submitted_text()
    if error:
        return _page(staff, text, error, 422)
    try:
        net = nets.read(text)
    except nets.NetworkInput as exc:
        return _page(staff, text, str(exc), 422)
    return _page(staff, text, net=net)


@bp.post("/courses/<int:course_id>/network/slots")
@login_required
def network_add(course_id: int) -> Response | tuple[str, int]:
    """Add one type on the network (sent again as JSON text, checked again) as the last slot
    of an assignment of the course (instructors only)."""
    staff = managed_course(course_id)
    assignment = db.session.get(Assignment, request.form.get("assignment", type=int) or 0)
    if assignment is None or assignment.course_id != course_id:
        raise no_such("assignment")
    text = request.form.get("network", "")
    try:
        net = nets.read(text)
    except nets.NetworkInput as exc:
        return _page(staff, text, str(exc), 422)
    points = request.form.get("points", type=float)
    if points is None or not 0 <= points <= MAX_POINTS:
        return _page(staff, text, f"points must be a number from 0 to {MAX_POINTS:g}", 422,
                     net=net)
    try:
        nets.add_slot(assignment, request.form.get("exercise_type", ""), net, points)
    except (ex.UnknownExerciseType, nets.NotApplicable) as exc:
        return _page(staff, text, str(exc), 422, net=net)
    return redirect(url_for("dashboard.assignment", course_id=course_id,
                            assignment_id=assignment.id))
