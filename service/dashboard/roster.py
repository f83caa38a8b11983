"""Courses and people: create and edit a course, the roster (add one, import a CSV with a
preview, remove, new set-password links), and the set-password page a link opens.

Changes go through ``service.roster``, as the API twins' do. An import is previewed
first; the preview page carries the file's text with a signature of it, so what is
applied is the file that was previewed, re-planned against the database as it is then:
a rejected row applies nothing. Set-password links are shown on the page that made them
(never put in a flash message, which lives in the session cookie).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import flask_login
from flask import current_app, flash, redirect, render_template, request, url_for
from itsdangerous import BadSignature, Signer
from sqlalchemy import select
from werkzeug.exceptions import BadRequest, Forbidden, NotFound, RequestEntityTooLarge
from werkzeug.wrappers import Response

from .. import auth, courses, invites, queries
from .. import roster as people
from ..db import db
from ..models import Enrollment, Role
from .base import Staff, bp, login_required, managed_course, no_such, signed_in, staff_course

Page = str | tuple[str, int] | Response


def _fail(error: people.RosterError) -> Exception:
    """The page's HTTP error for a refused change."""
    if error.status == 404:
        return NotFound(error.message)
    if error.status == 403:
        return Forbidden(error.message)
    return BadRequest(error.message)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge) -> tuple[str, int]:
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    return render_template(
        "error.html",
        status=413,
        title="That file is too large",
        message=f"A form can send at most {limit // 1024} KB here: split the roster into "
        "smaller files and import them one after the other.",
    ), 413


# --- the roster -------------------------------------------------------------------------


@bp.get("/courses/<int:course_id>/roster")
@login_required
def roster(course_id: int) -> Page:
    """Members with role and section; add one; import a roster CSV (instructors)."""
    staff = staff_course(course_id)
    return _roster_page(staff)


def _left(course_id: int) -> dict[int, datetime]:
    """When each member the LMS no longer lists left it (LTI roster sync); they stay on
    the roster with their work, marked."""
    rows = db.session.execute(
        select(Enrollment.user_id, Enrollment.left_at).where(
            Enrollment.course_id == course_id, Enrollment.left_at.is_not(None)
        )
    )
    return {user: left for user, left in rows if left is not None}


def _roster_page(staff: Staff, error: str = "", status: int = 200, **form: str) -> Page:
    page = render_template(
        "dashboard/roster.html",
        staff=staff,
        entries=queries.entries(staff.course.id),
        left=_left(staff.course.id),
        sections=queries.sections(staff.course.id),
        error=error,
        form=form,
        roles=["student", "ta", "instructor"],
    )
    return (page, status) if status != 200 else page


@bp.post("/courses/<int:course_id>/roster/add")
@login_required
def roster_add(course_id: int) -> Page:
    """Add one person; a new account gets a set-password link, shown at once."""
    staff = managed_course(course_id)
    fields = {k: request.form.get(k, "") for k in ("email", "name", "role", "section")}
    try:
        enrollment, created = people.add_member(
            staff.course, signed_in(), fields["email"], name=fields["name"],
            role=fields["role"], section=fields["section"], create=True,
        )
    except people.RosterError as exc:
        return _roster_page(staff, exc.message, 409 if exc.status == 409 else 400, **fields)
    if created is not None:
        return _links_page(staff, [created], f"{created.email} was added with a new account.")
    flash(f"{enrollment.user.email} was added to the roster.", "info")
    return redirect(url_for("dashboard.roster", course_id=course_id))


@bp.post("/courses/<int:course_id>/roster/<int:user_id>/remove")
@login_required
def roster_remove(course_id: int, user_id: int) -> Page:
    """Take someone off the roster; their submissions and marks stay."""
    staff = managed_course(course_id)
    try:
        people.remove_member(staff.course, user_id)
    except people.RosterError as exc:
        if exc.status == 404:
            raise no_such("member") from None
        return _roster_page(staff, exc.message, exc.status)
    if user_id == signed_in().id and signed_in().role != Role.admin:
        flash("You left the course.", "info")
        return redirect(url_for("student.courses"))
    flash("Removed from the roster; their submissions are kept.", "info")
    return redirect(url_for("dashboard.roster", course_id=course_id))


@bp.post("/courses/<int:course_id>/roster/<int:user_id>/link")
@login_required
def roster_link(course_id: int, user_id: int) -> Page:
    """A new set-password link for a member (older links stop working)."""
    staff = managed_course(course_id)
    try:
        made = people.new_link(staff.course, user_id, signed_in())
    except people.RosterError as exc:
        if exc.status == 404:
            raise no_such("member") from None
        raise _fail(exc) from None
    return _links_page(staff, [made], f"A new set-password link for {made.email}; "
                                      "any older one no longer works.")


def _links_page(staff: Staff, made: list[people.NewAccount], message: str,
                plan: people.Plan | None = None) -> str:
    links = [
        (m.email, invites.link(m.email, m.token), m.expires_at)
        for m in made
    ]
    return render_template(
        "dashboard/roster_links.html", staff=staff, links=links, message=message, plan=plan
    )


# --- importing a roster CSV -------------------------------------------------------------


def _signer(course_id: int) -> Signer:
    return Signer(current_app.secret_key or "", salt=f"roster-import:{course_id}")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _normal_newlines(text: str) -> str:
    # A form sends its fields' line breaks as CRLF: sign and apply the text with LF only.
    return text.replace("\r\n", "\n").replace("\r", "\n")


@bp.post("/courses/<int:course_id>/roster/import")
@login_required
def roster_preview(course_id: int) -> Page:
    """What importing the uploaded file would change, row by row; nothing is applied."""
    staff = managed_course(course_id)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _roster_page(staff, "Choose a roster CSV file to import.", 400)
    try:
        text = _normal_newlines(people.decode(upload.read(people.MAX_BYTES + 1)))
        plan = people.preview(staff.course, text)
    except people.RosterFileError as exc:
        return _roster_page(staff, str(exc), 400)
    return render_template(
        "dashboard/roster_preview.html",
        staff=staff,
        plan=plan,
        filename=upload.filename,
        text=text,
        signature=_signer(course_id).sign(_digest(text)).decode(),
        changes=list(people.Change),
    )


@bp.post("/courses/<int:course_id>/roster/import/apply")
@login_required
def roster_apply(course_id: int) -> Page:
    """Apply a previewed file: all of it, or nothing when any row is rejected now."""
    staff = managed_course(course_id)
    text = _normal_newlines(request.form.get("csv", ""))
    try:
        signed = _signer(course_id).unsign(request.form.get("signature", "")).decode()
    except BadSignature:
        signed = None
    if signed != _digest(text):
        raise BadRequest("This import was not previewed here: upload the file again.")
    try:
        done = people.apply(staff.course, people.preview(staff.course, text), signed_in())
    except people.RosterFileError as exc:
        return _roster_page(staff, str(exc), 400)
    except people.RosterError as exc:
        return _roster_page(staff, f"Nothing was applied: {exc.message}.", exc.status)
    plan = done.plan
    message = (
        f"Imported: {plan.count(people.Change.new)} new, "
        f"{plan.count(people.Change.updated)} updated, "
        f"{plan.count(people.Change.unchanged)} unchanged."
    )
    return _links_page(staff, done.accounts, message, plan)


# --- courses ------------------------------------------------------------------------------


@bp.route("/courses/new", methods=["GET", "POST"])
@login_required
def course_new() -> Page:
    """Create a course (instructors and admins); its creator teaches it."""
    user = signed_in()
    if user.role == Role.student:
        raise no_such("page")
    code, title = request.form.get("code", ""), request.form.get("title", "")
    if request.method == "POST":
        try:
            course = courses.create_course(user, code, title)
        except people.RosterError as exc:
            return _course_form(None, code, title, exc.message)
        return redirect(url_for("dashboard.course", course_id=course.id))
    return _course_form(None, code, title)


@bp.route("/courses/<int:course_id>/edit", methods=["GET", "POST"])
@login_required
def course_edit(course_id: int) -> Page:
    """Change a course's code and title (instructors; a TA gets 403)."""
    staff = managed_course(course_id)
    if request.method == "POST":
        code, title = request.form.get("code", ""), request.form.get("title", "")
        try:
            courses.edit_course(staff.course, code, title)
        except people.RosterError as exc:
            return _course_form(staff, code, title, exc.message)
        flash("The course was saved.", "info")
        return redirect(url_for("dashboard.course", course_id=course_id))
    return _course_form(staff, staff.course.code, staff.course.title)


def _course_form(staff: Staff | None, code: str, title: str, error: str = "") -> Page:
    page = render_template(
        "dashboard/course_form.html", staff=staff, code=code, title=title, error=error
    )
    return (page, 409 if "exists" in error else 400) if error else page


# --- the set-password page ------------------------------------------------------------------


@bp.route("/invite/<token>", methods=["GET", "POST"])
def invite(token: str) -> Page:
    """Set a password with a one-time link (no login needed), then be signed in."""
    try:
        invites.pending(token)
    except invites.InviteError as exc:
        return render_template("invite.html", broken=str(exc), error=""), 410
    if request.method == "GET":
        return render_template("invite.html", broken="", error="")
    try:
        user = invites.accept(
            token, request.form.get("password", ""), request.form.get("repeated", "")
        )
    except invites.InviteError as exc:
        return render_template("invite.html", broken=str(exc), error=""), 410
    except auth.UserError as exc:
        message = str(exc)
        return render_template("invite.html", broken="", error=message[:1].upper() + message[1:]
                               + "."), 400
    flask_login.login_user(user)
    return redirect(url_for("student.courses"))
