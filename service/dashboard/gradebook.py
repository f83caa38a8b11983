"""The gradebook page and its CSV downloads (CONTRACT §9): students × assignments with
totals, sorted by any column, filtered by section, 100 students a page."""

from __future__ import annotations

from flask import Response, render_template, request

from .. import gradebook as gb
from .base import bp, login_required, staff_course


def _query() -> gb.Query:
    """The page's query string read leniently: what is not understood is the default."""
    args = request.args
    try:
        page = max(1, int(args.get("page", "1")))
    except ValueError:
        page = 1
    return gb.Query(
        sort=args.get("sort", "name"),
        desc=args.get("order") == "desc",
        section=args.get("section") or None,  # empty: every section
        page=page,
    )


@bp.get("/courses/<int:course_id>/gradebook")
@login_required
def gradebook(course_id: int) -> str:
    """Students by assignments, with totals; each cell links to the student's work."""
    staff = staff_course(course_id)
    book = gb.book(staff.course.id, _query())
    return render_template("dashboard/gradebook.html", staff=staff, book=book)


@bp.get("/courses/<int:course_id>/gradebook.csv")
@login_required
def gradebook_csv(course_id: int) -> Response:
    """The gradebook as CSV: ours, or Canvas's with ``?format=canvas``; ``?section=``
    keeps one section."""
    staff = staff_course(course_id)
    fmt = gb.Format.canvas if request.args.get("format") == "canvas" else gb.Format.ours
    return gb.csv_response(staff.course, fmt, request.args.get("section") or None)
