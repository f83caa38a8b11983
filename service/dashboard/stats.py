"""An assignment's statistics per slot: attempted, mean score, solved, attempts to solve,
time to solve, the discrimination indices, and the misconception chart with its table."""

from __future__ import annotations

from flask import render_template

from .. import stats as reads
from .base import bp, login_required, staff_assignment


@bp.get("/courses/<int:course_id>/assignments/<int:assignment_id>/stats")
@login_required
def stats(course_id: int, assignment_id: int) -> str:
    """Per-slot statistics and the misconception chart with its table."""
    staff, assignment = staff_assignment(course_id, assignment_id)
    return render_template(
        "dashboard/stats.html",
        staff=staff,
        tab="dashboard.course",
        assignment=assignment,
        stats=reads.assignment_stats(assignment),
        seconds_text=reads.seconds_text,
    )
