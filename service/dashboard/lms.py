"""The course's LMS page: the LMS course it is linked to (LTI), its roster sync, and the
grade pushes to the LMS gradebook with what went wrong, failed ones first.

Course staff see it; instructors sync the roster now (in the request, with the usual
timeouts) and resend a failed or pending push. The "LMS" tab shows only on a course
linked to an LMS (``lms_linked`` in the dashboard's templates).
"""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from ..db import db
from ..lms import grades, roster
from ..lms.services import ServiceError
from .base import bp, login_required, managed_course, no_such, staff_course


@bp.app_template_global()
def lms_linked(course_id: int) -> bool:
    """Whether the course is linked to an LMS course (for its tab)."""
    return roster.linked(db.session, course_id)


@bp.get("/courses/<int:course_id>/lms")
@login_required
def lms(course_id: int) -> str:
    """The LMS link, the roster sync, and the grade pushes."""
    staff = staff_course(course_id)
    pushes = grades.pushes(db.session, staff.course.id)
    return render_template(
        "dashboard/lms.html",
        staff=staff,
        links=roster.links(db.session, staff.course.id),
        pushes=pushes,
        failed=sum(p.status == "failed" for p in pushes),
        pending=sum(p.status == "pending" for p in pushes),
        sent_shown=grades.SENT_SHOWN,
    )


@bp.post("/courses/<int:course_id>/lms/sync")
@login_required
def lms_sync(course_id: int) -> Response:
    """Read the roster from the LMS now (instructors)."""
    staff = managed_course(course_id)
    try:
        done = roster.sync_course(db.session, staff.course.id)
    except ServiceError as exc:
        flash(f"The roster sync failed: {exc}. Nothing was changed by the failed sync.", "error")
    else:
        if not done:
            flash("No LMS course with a roster is linked to this course.", "error")
        for _, synced in done:
            flash(
                f"Roster synced: {synced.listed} listed in the LMS, {synced.enrolled} on the "
                f"roster, {synced.left} marked as left, {synced.skipped} without a course role.",
                "info",
            )
    return redirect(url_for("dashboard.lms", course_id=staff.course.id))


@bp.post("/courses/<int:course_id>/lms/pushes/<int:push_id>/resend")
@login_required
def lms_resend(course_id: int, push_id: int) -> Response:
    """Send a failed or pending push again now, with fresh attempts (instructors)."""
    staff = managed_course(course_id)
    push = grades.push_of_course(db.session, staff.course.id, push_id)
    if push is None:
        raise no_such("push")
    if grades.resend(db.session, push):
        flash("The score will be sent again within a few seconds.", "info")
    else:
        flash("That score was sent already; a new score makes a new push.", "info")
    return redirect(url_for("dashboard.lms", course_id=staff.course.id))
