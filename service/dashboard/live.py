"""The live view of an assignment for a lecture, and its unexplained wrong answers.

The live page refreshes without a reload: ``static/live.js`` fetches ``live_fragment``
(the same numbers, chart and tables as HTML, with the counts) every few seconds and swaps
it in. Both pages read what their JSON twins in ``api.live`` read.
"""

from __future__ import annotations

import numpy as np
from flask import jsonify, render_template, request
from flask.typing import ResponseReturnValue
from markupsafe import Markup

import exercises as ex
from exercises import latex

from .. import mathml
from ..live import WINDOWS, window
from ..live import live as read_live
from ..models import Assignment
from ..unexplained import unexplained as read_unexplained
from .base import bp, login_required, staff_assignment


def _titles(assignment: Assignment) -> dict[int, str]:
    """Each slot's heading, "Slot n: <type title>", by position."""
    out = {}
    for slot in assignment.slots:
        try:
            title = ex.get_type(slot.exercise_type).title
        except ex.UnknownExerciseType:
            title = slot.exercise_type
        out[slot.position] = f"Slot {slot.position}: {title}"
    return out


def _matrix(rows: list[list[float]]) -> Markup:
    """Numbers as read from an answer (or a key) as MathML: a single number, or a matrix."""
    M = np.array(rows, dtype=np.float64)
    return mathml.formula(latex.number(float(M[0, 0])) if M.shape == (1, 1) else latex.matrix(M))


@bp.get("/courses/<int:course_id>/assignments/<int:assignment_id>/live")
@login_required
def live(course_id: int, assignment_id: int) -> str:
    """The last minutes of submissions, for a lecture."""
    staff, assignment = staff_assignment(course_id, assignment_id)
    minutes = window(request.args.get("minutes"))
    return render_template(
        "dashboard/live.html", staff=staff, assignment=assignment, windows=WINDOWS,
        now=read_live(assignment.id, minutes), titles=_titles(assignment),
    )


@bp.get("/courses/<int:course_id>/assignments/<int:assignment_id>/live/fragment")
@login_required
def live_fragment(course_id: int, assignment_id: int) -> ResponseReturnValue:
    """The live page's changing part as HTML, with its counts, for ``live.js`` to swap in."""
    _staff, assignment = staff_assignment(course_id, assignment_id)
    now = read_live(assignment.id, window(request.args.get("minutes")))
    html = render_template("dashboard/_live_now.html", assignment=assignment, now=now,
                           titles=_titles(assignment))
    response = jsonify(html=html, submitted=now.submitted, graded=now.graded, right=now.right)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/courses/<int:course_id>/assignments/<int:assignment_id>/unexplained")
@login_required
def unexplained(course_id: int, assignment_id: int) -> str:
    """Wrong answers no mistake explains, grouped by their relation to the key."""
    staff, assignment = staff_assignment(course_id, assignment_id)
    return render_template(
        "dashboard/unexplained.html", staff=staff, assignment=assignment,
        found=read_unexplained(assignment.id), titles=_titles(assignment), matrix=_matrix,
    )
