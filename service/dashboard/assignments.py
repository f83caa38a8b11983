"""An assignment for its staff: create one from the catalogue, its settings, slots and
overrides, publish, duplicate, and preview it as a student (the student's own page).

Everyone on the staff sees these pages; changing anything is for instructors
(``managed_course``: a TA gets 403, and the forms are not shown to them). The policy
itself is ``service.assignments``, shared with API v1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

import exercises as ex

from .. import assignments, queries
from ..db import db
from ..models import Assignment, LatePolicy, Mode, User
from .base import (
    Staff,
    bp,
    login_required,
    managed_course,
    no_such,
    signed_in,
    staff_assignment,
)

FORM_SLOTS = 6  # slot rows on the form; empty ones are ignored

# Field names of the settings as people read them on the form.
LABELS = {
    "title": "Title",
    "mode": "Feedback mode",
    "attempts_allowed": "Attempts per problem",
    "opens_at": "Opens at (UTC)",
    "due_at": "Due at (UTC)",
    "late_policy": "Late submissions",
    "late_penalty": "Penalty per day (%)",
    "slots": "Slots",
    "student": "Student",
    "extended_due_at": "Extended due date (UTC)",
    "extra_attempts": "Extra attempts",
    "reason": "Reason",
}
MODES = [(Mode.homework.value, "Practice feedback"), (Mode.exam.value, "Exam")]
LATE_POLICIES = [
    (LatePolicy.closed.value, "Not accepted"),
    (LatePolicy.no_credit.value, "Accepted for no credit"),
    (LatePolicy.penalty.value, "Accepted with a penalty"),
]
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends


def label_of(key: str) -> str:
    return LABELS.get(key, key[:1].upper() + key[1:])


@dataclass
class SettingsForm:
    """The posted settings form: the values as typed (to show again) and what is wrong."""

    values: dict[str, str]
    errors: dict[str, str]


def _when(raw: str, key: str, errors: dict[str, str]) -> datetime | None:
    """A datetime-local value read as UTC; None when empty."""
    raw = raw.strip()
    if not raw:
        return None
    for pattern in (LOCAL_FORMAT, LOCAL_FORMAT + ":%S"):
        try:
            return datetime.strptime(raw, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    errors[key] = "give a date and time as YYYY-MM-DDTHH:MM (UTC)"
    return None


def _whole(raw: str, key: str, low: int, high: int, errors: dict[str, str]) -> int:
    raw = raw.strip()
    if raw.isascii() and raw.isdigit() and len(raw) <= 6 and low <= int(raw) <= high:
        return int(raw)
    errors[key] = f"must be a whole number from {low} to {high}"
    return low


def _number(raw: str, key: str, low: float, high: float, errors: dict[str, str]) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        value = float("nan")
    if not low <= value <= high:  # NaN fails too
        errors[key] = f"must be a number from {low:g} to {high:g}"
        return low
    return value


def read_settings(form: MultiDict[str, str], errors: dict[str, str]) -> assignments.Settings:
    """The settings fields of the form; what cannot be read goes into ``errors``."""
    mode = form.get("mode", Mode.homework.value)
    if mode not in {m for m, _ in MODES}:
        errors["mode"] = "choose practice feedback or exam"
        mode = Mode.homework.value
    late = form.get("late_policy", LatePolicy.closed.value)
    if late not in {p for p, _ in LATE_POLICIES}:
        errors["late_policy"] = "choose one of the listed late policies"
        late = LatePolicy.closed.value
    penalty_text = form.get("late_penalty", "").strip() or "0"
    return assignments.Settings(
        title=form.get("title", ""),
        mode=Mode(mode),
        attempts_allowed=_whole(form.get("attempts_allowed", ""), "attempts_allowed", 1,
                                assignments.MAX_ATTEMPTS, errors),
        opens_at=_when(form.get("opens_at", ""), "opens_at", errors),
        due_at=_when(form.get("due_at", ""), "due_at", errors),
        late_policy=LatePolicy(late),
        late_penalty=_number(penalty_text, "late_penalty", 0, 100, errors) / 100,
    )


def read_slots(form: MultiDict[str, str], errors: dict[str, str]) -> list[assignments.SlotSettings]:
    """The filled slot rows (a row without an exercise type is ignored)."""
    slots = []
    for i in range(1, FORM_SLOTS + 1):
        type_id = form.get(f"slot-{i}-type", "").strip()
        if not type_id:
            continue
        difficulty = _whole(form.get(f"slot-{i}-difficulty", "1"), f"slot {i} difficulty",
                            ex.DIFFICULTIES[0], ex.DIFFICULTIES[-1], errors)
        points = _number(form.get(f"slot-{i}-points", "1") or "1", f"slot {i} points", 0,
                         assignments.MAX_POINTS, errors)
        slots.append(assignments.SlotSettings(type_id, difficulty, points))
    return slots


def checked(form: MultiDict[str, str], *, with_slots: bool) -> tuple[
        assignments.Settings, list[assignments.SlotSettings], dict[str, str]]:
    """The form read and checked: settings, slots and every field's error (none: valid)."""
    errors: dict[str, str] = {}
    settings = read_settings(form, errors)
    slots = read_slots(form, errors) if with_slots else []
    try:
        assignments.check(settings, slots if with_slots else None)
    except assignments.SettingsError as exc:
        for key, message in exc.errors.items():
            errors.setdefault(key, message)
    return settings, slots, errors


def form_values(a: Assignment) -> dict[str, str]:
    """An assignment's settings as the form shows them."""
    return {
        "title": a.title, "mode": a.mode.value, "attempts_allowed": str(a.attempts_allowed),
        "opens_at": a.opens_at.strftime(LOCAL_FORMAT) if a.opens_at else "",
        "due_at": a.due_at.strftime(LOCAL_FORMAT) if a.due_at else "",
        "late_policy": a.late_policy.value, "late_penalty": f"{a.late_penalty * 100:g}",
    }


def _form_page(staff: Staff, values: dict[str, str], errors: dict[str, str]) -> str:
    return render_template(
        "dashboard/assignment_new.html", staff=staff, values=values, errors=errors,
        labels={k: label_of(k) for k in errors}, types=ex.catalogue(),
        difficulties=ex.DIFFICULTIES, modes=MODES, late_policies=LATE_POLICIES,
        form_slots=FORM_SLOTS,
    )


@bp.route("/courses/<int:course_id>/assignments/new", methods=["GET", "POST"])
@login_required
def assignment_new(course_id: int) -> Response | str | tuple[str, int]:
    """Create an assignment from the catalogue (instructors); it starts unpublished."""
    staff = managed_course(course_id)
    if request.method == "GET":
        return _form_page(staff, {"attempts_allowed": "3", "late_penalty": "10"}, {})
    settings, slots, errors = checked(request.form, with_slots=True)
    if errors:
        return _form_page(staff, request.form.to_dict(), errors), 422
    made = assignments.create(staff.course, settings, slots, published=False)
    flash(f"Created {made.title}. It is not published yet: students do not see it.")
    return redirect(url_for("dashboard.assignment", course_id=course_id,
                            assignment_id=made.id), 303)


@dataclass(frozen=True)
class OverrideRow:
    user_id: int
    email: str
    name: str
    due_at: datetime | None
    extra_attempts: int
    reason: str
    granted_by: str
    granted_at: datetime


def override_rows(a: Assignment) -> list[OverrideRow]:
    rows = []
    for o in assignments.overrides(a):
        granter = db.session.get(User, o.granted_by) if o.granted_by is not None else None
        rows.append(OverrideRow(o.user_id, o.user.email, o.user.name, o.due_at,
                                o.extra_attempts, o.reason,
                                granter.email if granter is not None else "", o.granted_at))
    return rows


def _manage_page(staff: Staff, a: Assignment, values: dict[str, str] | None = None,
                 errors: dict[str, str] | None = None,
                 override_errors: dict[str, str] | None = None,
                 policy: dict[str, Any] | None = None) -> str:
    """The assignment page; ``policy`` is the grading-policy section (``regrades``) when
    a policy form is shown again with its errors."""
    from .regrades import policy_section  # the policy section's own module, which uses this

    errors, override_errors = errors or {}, override_errors or {}
    return render_template(
        "dashboard/assignment.html", staff=staff, assignment=a,
        slots=[(s, ex.get_type(s.exercise_type).title) for s in a.slots],
        values=values or form_values(a), errors=errors,
        override_errors=override_errors,
        labels={k: label_of(k) for k in {**errors, **override_errors}},
        late_rule=assignments.late_rule(a), overrides=override_rows(a),
        students=queries.students(a.course_id), modes=MODES, late_policies=LATE_POLICIES,
        posted=request.form if override_errors else {},
        **(policy if policy is not None else policy_section(staff, a)),
    )


@bp.get("/courses/<int:course_id>/assignments/<int:assignment_id>/manage")
@login_required
def assignment(course_id: int, assignment_id: int) -> str:
    """An assignment's settings, slots and overrides, for its staff."""
    return _manage_page(*staff_assignment(course_id, assignment_id))


@bp.post("/courses/<int:course_id>/assignments/<int:assignment_id>/settings")
@login_required
def assignment_settings(course_id: int, assignment_id: int) -> Response | tuple[str, int]:
    """Save the settings (slots stay); marks and attempts follow (``service.assignments``)."""
    staff, a = staff_assignment(course_id, assignment_id, manage=True)
    settings, _slots, errors = checked(request.form, with_slots=False)
    if errors:
        return _manage_page(staff, a, request.form.to_dict(), errors), 422
    assignments.update_settings(a, settings)
    flash("Settings saved.")
    return _back(a)


@bp.post("/courses/<int:course_id>/assignments/<int:assignment_id>/publish")
@login_required
def assignment_publish(course_id: int, assignment_id: int) -> Response:
    _staff, a = staff_assignment(course_id, assignment_id, manage=True)
    assignments.publish(a, True)
    flash("Published: students see it from its opening date on.")
    return _back(a)


@bp.post("/courses/<int:course_id>/assignments/<int:assignment_id>/unpublish")
@login_required
def assignment_unpublish(course_id: int, assignment_id: int) -> Response:
    _staff, a = staff_assignment(course_id, assignment_id, manage=True)
    assignments.publish(a, False)
    flash("Unpublished: students no longer see it.")
    return _back(a)


@bp.post("/courses/<int:course_id>/assignments/<int:assignment_id>/duplicate")
@login_required
def assignment_duplicate(course_id: int, assignment_id: int) -> Response:
    _staff, a = staff_assignment(course_id, assignment_id, manage=True)
    copy = assignments.duplicate(a)
    flash(f"Made {copy.title}, unpublished.")
    return _back(copy)


@bp.post("/courses/<int:course_id>/assignments/<int:assignment_id>/overrides")
@login_required
def assignment_override(course_id: int, assignment_id: int) -> Response | tuple[str, int]:
    """Grant (or replace) one student's override."""
    staff, a = staff_assignment(course_id, assignment_id, manage=True)
    errors: dict[str, str] = {}
    form = request.form
    student_id = _whole(form.get("student", ""), "student", 1, 2**31 - 1, errors)
    if "student" not in errors and student_id not in {u.id for u in queries.students(course_id)}:
        errors["student"] = "choose a student of this course"
    due_at = _when(form.get("due_at", ""), "extended_due_at", errors)
    extra = _whole(form.get("extra_attempts", "") or "0", "extra_attempts", 0,
                   assignments.MAX_ATTEMPTS, errors)
    if not errors:
        try:
            assignments.grant(a, student_id, due_at=due_at, extra_attempts=extra,
                              reason=form.get("reason", ""), granted_by=signed_in().id)
        except assignments.SettingsError as exc:
            errors.update({"extended_due_at" if k == "due_at" else k: v
                           for k, v in exc.errors.items()})
    if errors:
        return _manage_page(staff, a, override_errors=errors), 422
    flash("Override saved.")
    return _back(a)


@bp.post("/courses/<int:course_id>/assignments/<int:assignment_id>/overrides/<int:user_id>/"
         "delete")
@login_required
def assignment_override_delete(course_id: int, assignment_id: int, user_id: int) -> Response:
    _staff, a = staff_assignment(course_id, assignment_id, manage=True)
    if not assignments.revoke(a, user_id):
        raise no_such("override")
    flash("Override removed.")
    return _back(a)


def _back(a: Assignment) -> Response:
    return redirect(url_for("dashboard.assignment", course_id=a.course_id,
                            assignment_id=a.id), 303)

