"""An assignment's grading policy, accepted answers, regrades and score overrides, for its
staff (issue 16). The reads and rules are ``policies``, shared with the API.

Instructors change a policy and accept answers (``managed_course``: a TA gets 403 and
sees the policy read-only); any of the staff previews a regrade, applies a preview and
sets or clears a score override (grading, CONTRACT §9). Students and outsiders get 404.
Saving a policy changes new gradings at once; existing results change only when a
regrade is applied, so every save offers a preview.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

import exercises as ex
from exercises import policy as rule

from .. import regrade
from ..db import db
from ..dispatch import dispatcher
from ..models import RegradeStatus, Slot, Submission
from .base import Staff, bp, login_required, no_such, signed_in, staff_assignment, staff_course
from .policies import (
    MAX_REASON,
    Refused,
    accept,
    audit,
    email_of,
    error_field,
    preview_of,
    progress,
    save_assignment_policy,
    save_slot_policy,
    score_overrides,
    slot_versions,
)

MISTAKE_ROWS = 3  # empty per-mistake credit rows on a form, besides those set
LABELS = {
    "rtol": "Relative tolerance (%)", "atol": "Absolute tolerance",
    "carry_forward": "Carried-forward credit", "carry_forward_credit": "Carried-forward credit (%)",
    "partial_credit": "Partial credit", "mistake_credit": "Credit per mistake",
    "accepted": "Accepted answers", "policy": "Policy", "reason": "Reason",
    "credit": "Credit (%)", "part": "Part", "score": "Score (%)", "submission": "Submission",
    "scope": "Scope",
}


def _percent(raw: str, key: str, errors: dict[str, str]) -> float | None:
    """A percentage 0..100 typed on a form, as a fraction; None when empty."""
    raw = raw.strip().rstrip("%").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= 100:  # NaN fails too
        errors[key] = "must be a percentage from 0 to 100"
        return None
    return value / 100


def _plain(raw: str, key: str, errors: dict[str, str]) -> float | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        errors[key] = "must be a number"
        return None


def read_policy(form: MultiDict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    """The policy fields of a form as a policy doc: an empty field (or "as the assignment")
    is left out. Ranges are checked by ``GradingPolicy`` when saved."""
    doc: dict[str, Any] = {}
    if (v := _percent(form.get("rtol", ""), "rtol", errors)) is not None:
        doc["rtol"] = v
    if (v := _plain(form.get("atol", ""), "atol", errors)) is not None:
        doc["atol"] = v
    for flag in ("carry_forward", "partial_credit"):
        choice = form.get(flag, "")
        if choice in ("on", "off"):
            doc[flag] = choice == "on"
        elif choice:
            errors[flag] = "choose on or off"
    if (v := _percent(form.get("carry_forward_credit", ""), "carry_forward_credit",
                      errors)) is not None:
        doc["carry_forward_credit"] = v
    credits: dict[str, float] = {}
    for i in range(1, len(ex.MISTAKES) + 1):
        tag = form.get(f"mistake-{i}-tag", "").strip()
        if not tag:
            continue
        credit = _percent(form.get(f"mistake-{i}-credit", ""), "mistake_credit", errors)
        if tag not in ex.MISTAKES:
            errors["mistake_credit"] = f"unknown mistake {tag[:64]!r}"
        elif credit is None:
            errors.setdefault("mistake_credit", f"give a credit for {ex.MISTAKES[tag].name}")
        else:
            credits[tag] = credit
    if credits:
        doc["mistake_credit"] = credits
    return doc


def form_of(doc: dict[str, Any] | None) -> dict[str, Any]:
    """A stored policy doc as its form shows it."""
    doc = doc or {}

    def pct(key: str) -> str:
        return f"{doc[key] * 100:g}" if key in doc else ""

    return {
        "rtol": pct("rtol"), "atol": f"{doc['atol']:g}" if "atol" in doc else "",
        "carry_forward": "" if "carry_forward" not in doc else (
            "on" if doc["carry_forward"] else "off"),
        "partial_credit": "" if "partial_credit" not in doc else (
            "on" if doc["partial_credit"] else "off"),
        "carry_forward_credit": pct("carry_forward_credit"),
        "mistakes": [(tag, f"{c * 100:g}") for tag, c in
                     sorted((doc.get("mistake_credit") or {}).items())],
        "accepted": list(doc.get("accepted") or []),
    }


def policy_section(staff: Staff, a: Any, errors: dict[str, str] | None = None,
                   posted: dict[str, Any] | None = None, where: str = "") -> dict[str, Any]:
    """What the assignment page's policy, regrade-log and score-override sections show."""
    errors = errors or {}
    return {
        "policy_errors": errors, "policy_where": where,
        "policy_labels": {k: LABELS.get(k, k) for k in errors},
        "policy_form": posted if posted is not None and where == "assignment"
        else form_of(a.grading_policy),
        "slot_forms": {s.position: (posted if posted is not None and where == f"slot-{s.position}"
                                    else form_of(s.grading_policy)) for s in a.slots},
        "slot_versions": slot_versions(a),
        "described": _described(a.grading_policy),
        "mistakes": sorted(((m.tag, m.name) for m in ex.MISTAKES.values()), key=lambda m: m[1]),
        "mistake_rows": MISTAKE_ROWS,
        "audit": audit(a),
        "score_overrides": score_overrides(a),
    }


def _described(doc: dict[str, Any] | None) -> list[str]:
    try:
        return rule.describe(rule.GradingPolicy.from_json(doc)) or [
            "The default scoring rule (CONTRACT §5)."]
    except rule.PolicyError as exc:
        return [f"The stored policy cannot be read: {exc}"]


def _page(staff: Staff, a: Any, errors: dict[str, str], where: str) -> tuple[str, int]:
    from .assignments import _manage_page  # the assignment page, with this section's errors

    posted = {**form_of(None), **request.form.to_dict()}
    posted["mistakes"] = [
        (request.form.get(f"mistake-{i}-tag", ""), request.form.get(f"mistake-{i}-credit", ""))
        for i in range(1, len(ex.MISTAKES) + 1) if request.form.get(f"mistake-{i}-tag")
    ]
    return _manage_page(staff, a, policy=policy_section(staff, a, errors, posted, where)), 422


def _saved(a: Any, what: str) -> Response:
    flash(f"{what} saved. New submissions are graded by it at once; existing results change "
          "only when you apply a regrade: preview one below.")
    return redirect(url_for("dashboard.assignment", course_id=a.course_id, assignment_id=a.id,
                            _anchor="policy-heading"), 303)


@bp.post("/courses/<int:course_id>/assignments/<int:assignment_id>/policy")
@login_required
def assignment_policy(course_id: int, assignment_id: int) -> Response | tuple[str, int]:
    """Set the assignment's grading policy (instructors); nothing is saved on an error."""
    staff, a = staff_assignment(course_id, assignment_id, manage=True)
    return _save_policy(staff, a, lambda doc: save_assignment_policy(a, doc), "assignment",
                        "Grading policy")


def _slot(a: Any, position: int) -> Slot:
    slot = next((s for s in a.slots if s.position == position), None)
    if slot is None:
        raise no_such("slot")
    return slot


@bp.post("/courses/<int:course_id>/assignments/<int:assignment_id>/slots/<int:position>/policy")
@login_required
def slot_policy(course_id: int, assignment_id: int, position: int
                ) -> Response | tuple[str, int]:
    """Set what one slot changes of the assignment's policy (instructors); its accepted
    answers stay."""
    staff, a = staff_assignment(course_id, assignment_id, manage=True)
    slot = _slot(a, position)
    return _save_policy(staff, a, lambda doc: save_slot_policy(slot, doc), f"slot-{position}",
                        f"Slot {position}'s policy")


def _save_policy(staff: Staff, a: Any, save: Callable[[dict[str, Any]], None], form: str,
                 what: str) -> Response | tuple[str, int]:
    """Read the posted policy form and ``save`` it; on any error, the page again with each
    error next to its field (``form`` names which form), nothing saved."""
    errors: dict[str, str] = {}
    doc = read_policy(request.form, errors)
    if not errors:
        try:
            save(doc)
        except rule.PolicyError as exc:
            db.session.rollback()
            errors[error_field(exc)] = str(exc)
    if errors:
        return _page(staff, a, errors, form)
    return _saved(a, what)


@bp.post("/courses/<int:course_id>/assignments/<int:assignment_id>/slots/<int:position>/"
         "accepted/<int:index>/delete")
@login_required
def accepted_delete(course_id: int, assignment_id: int, position: int, index: int) -> Response:
    """Stop accepting one answer (instructors)."""
    _staff, a = staff_assignment(course_id, assignment_id, manage=True)
    slot = _slot(a, position)
    doc = dict(slot.grading_policy or {})
    entries = list(doc.get("accepted") or [])
    if not 0 <= index < len(entries):
        raise no_such("accepted answer")
    del entries[index]
    if entries:
        doc["accepted"] = entries
    else:
        doc.pop("accepted", None)
    save_slot_policy(slot, doc, keep_accepted=False)
    return _saved(a, f"Slot {position}'s accepted answers")


def _reason(form: MultiDict[str, str], errors: dict[str, str]) -> str:
    reason = form.get("reason", "").strip()
    if not reason:
        errors["reason"] = "give a reason: students see it"
    elif len(reason) > MAX_REASON:
        errors["reason"] = f"at most {MAX_REASON} characters"
    return reason


def _submission_of(a: Any, raw: str) -> Submission:
    """A submission to this assignment, from a form field; 404 otherwise."""
    try:
        sid = uuid.UUID(raw.strip())
    except ValueError:
        raise no_such("submission") from None
    sub = db.session.get(Submission, sid)
    if sub is None or sub.problem.slot is None or sub.problem.slot.assignment_id != a.id:
        raise no_such("submission")
    return sub


@bp.post("/courses/<int:course_id>/assignments/<int:assignment_id>/accept")
@login_required
def accept_answer(course_id: int, assignment_id: int) -> Response:
    """Accept a submission's unexplained answer to a part in its slot's policy (instructors),
    then preview the slot's regrade. The relation (or value) is read from the submission
    itself, not from the form."""
    _staff, a = staff_assignment(course_id, assignment_id, manage=True)
    sub = _submission_of(a, request.form.get("submission", ""))
    errors: dict[str, str] = {}
    reason = _reason(request.form, errors)
    credit = _percent(request.form.get("credit", "") or "100", "credit", errors)
    back = request.form.get("back") == "submission"
    if not errors:
        try:
            accepted = accept(sub, request.form.get("part", ""), credit or 0.0, reason)
        except (Refused, rule.PolicyError) as exc:
            db.session.rollback()
            errors["part" if isinstance(exc, Refused) else error_field(exc)] = str(exc)
    if errors:
        for key, message in errors.items():
            flash(f"Nothing was accepted: {LABELS.get(key, key)}: {message}", "error")
        if back:
            return redirect(url_for("student.submission", submission_id=sub.id), 303)
        return redirect(url_for("dashboard.unexplained", course_id=course_id,
                                assignment_id=a.id), 303)
    position = slot.position if (slot := sub.problem.slot) is not None else 0
    what = accepted.relation or "this answer"
    flash(f"Accepted “{what}” for {accepted.part} in slot {position} "
          f"({accepted.credit * 100:g}% credit). Preview the regrade to give it to every "
          "equal answer.")
    return redirect(url_for("dashboard.regrade_form", course_id=course_id, assignment_id=a.id,
                            slot=position, reason=reason), 303)


def _regrade_form(staff: Staff, a: Any, errors: dict[str, str], values: dict[str, str]
                  ) -> str:
    return render_template(
        "dashboard/regrade_new.html", staff=staff, assignment=a, errors=errors,
        labels={k: LABELS.get(k, k) for k in errors}, values=values,
        versions=slot_versions(a),
    )


@bp.route("/courses/<int:course_id>/assignments/<int:assignment_id>/regrade",
          methods=["GET", "POST"])
@login_required
def regrade_form(course_id: int, assignment_id: int) -> Response | str | tuple[str, int]:
    """Preview a regrade of the assignment, one slot or one submission (staff): nothing a
    student sees changes until it is applied."""
    staff, a = staff_assignment(course_id, assignment_id)
    if request.method == "GET":
        return _regrade_form(staff, a, {}, {
            "slot": request.args.get("slot", ""), "reason": request.args.get("reason", ""),
            "submission": request.args.get("submission", ""), "never_lower": "on"})
    errors: dict[str, str] = {}
    form = request.form
    reason = _reason(form, errors)
    slot_id: int | None = None
    submission_id: uuid.UUID | None = None
    if form.get("submission", "").strip():
        submission_id = _submission_of(a, form["submission"]).id
    elif form.get("slot", "").strip():
        raw = form["slot"].strip()
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 4):
            errors["scope"] = "choose the assignment or one of its slots"
        else:
            slot = next((s for s in a.slots if s.position == int(raw)), None)
            if slot is None:
                errors["scope"] = "choose the assignment or one of its slots"
            else:
                slot_id = slot.id
    if errors:
        return _regrade_form(staff, a, errors, form.to_dict()), 422
    try:
        made = regrade.preview(db.session, regrade.Scope(a.id, slot_id, submission_id),
                               by=signed_in().id, reason=reason,
                               never_lower=form.get("never_lower") == "on")
    except regrade.RegradeError as exc:
        db.session.rollback()
        return _regrade_form(staff, a, {"scope": str(exc)}, form.to_dict()), 409
    return redirect(url_for("dashboard.regrade_view", course_id=course_id, assignment_id=a.id,
                            regrade_id=made.regrade_id), 303)


@bp.get("/courses/<int:course_id>/assignments/<int:assignment_id>/regrades/<int:regrade_id>")
@login_required
def regrade_view(course_id: int, assignment_id: int, regrade_id: int) -> str:
    """A preview: what would change, student by student; Apply. While applying, the
    progress (the page reloads itself); once applied, who applied it and when."""
    staff, a = staff_assignment(course_id, assignment_id)
    try:
        preview, row = preview_of(a, regrade_id)
    except LookupError:
        raise no_such("regrade") from None
    changed = [r for r in preview.rows if r.change.value != "unchanged"
               or r.old_tags != r.new_tags]
    return render_template(
        "dashboard/regrade.html", staff=staff, assignment=a, preview=preview, row=row,
        changed=changed, slots={s.id: s.position for s in a.slots},
        applying=row.status == RegradeStatus.applying,
        progress=progress(regrade_id) if row.status == RegradeStatus.applying else None,
        applied_by=email_of(row.applied_by),
    )


@bp.post("/courses/<int:course_id>/assignments/<int:assignment_id>/regrades/<int:regrade_id>/"
         "apply")
@login_required
def regrade_apply(course_id: int, assignment_id: int, regrade_id: int) -> Response:
    """Apply a preview (staff: applying grades by the policy the instructors set); the
    worker writes it in batches. A preview applied or superseded is not applied again."""
    _staff, a = staff_assignment(course_id, assignment_id)
    try:
        _preview, row = preview_of(a, regrade_id)
    except LookupError:
        raise no_such("regrade") from None
    if row.status != RegradeStatus.previewed:
        flash(f"This regrade is {row.status.value}: it cannot be applied again.", "error")
    else:
        try:
            regrade.start(db.session, regrade_id, by=signed_in().id)
        except regrade.RegradeError as exc:
            db.session.rollback()
            flash(f"Not applied: {exc}", "error")
        else:
            dispatcher().regrade(regrade_id)
            flash("Applying the regrade: students see their new scores as it goes.")
    return redirect(url_for("dashboard.regrade_view", course_id=course_id, assignment_id=a.id,
                            regrade_id=regrade_id), 303)


def _staff_submission(course_id: int, submission_id: uuid.UUID) -> Submission:
    """A graded submission to one of the course's assignments, for its staff; 404 else."""
    staff_course(course_id)
    sub = db.session.get(Submission, submission_id)
    slot = sub.problem.slot if sub is not None else None
    if sub is None or slot is None or slot.assignment.course_id != course_id:
        raise no_such("submission")
    return sub


def _back_to(sub: Submission) -> Response:
    return redirect(url_for("student.submission", submission_id=sub.id), 303)


@bp.post("/courses/<int:course_id>/submissions/<uuid:submission_id>/override")
@login_required
def score_override(course_id: int, submission_id: uuid.UUID) -> Response:
    """Set a submission's score by hand, with a reason (staff); it survives regrades until
    cleared."""
    sub = _staff_submission(course_id, submission_id)
    errors: dict[str, str] = {}
    reason = _reason(request.form, errors)
    score = _percent(request.form.get("score", ""), "score", errors)
    if score is None and "score" not in errors:
        errors["score"] = "give the score as a percentage"
    if sub.result is None:
        errors["submission"] = "only a graded submission's score can be set"
    if errors:
        for key, message in errors.items():
            flash(f"The score was not set: {LABELS.get(key, key)}: {message}", "error")
        return _back_to(sub)
    try:
        regrade.override(db.session, sub.id, score or 0.0, reason, by=signed_in().id)
    except regrade.RegradeError as exc:
        db.session.rollback()
        flash(f"The score was not set: {exc}", "error")
    else:
        flash(f"Score set to {(score or 0.0) * 100:g}% by hand.")
    return _back_to(sub)


@bp.post("/courses/<int:course_id>/submissions/<uuid:submission_id>/override/clear")
@login_required
def score_override_clear(course_id: int, submission_id: uuid.UUID) -> Response:
    """End an override: the submission is graded again by its slot's policy (staff)."""
    sub = _staff_submission(course_id, submission_id)
    result = sub.result
    if result is None or result.kind.value != "override":
        flash("This submission's score is not set by hand.", "error")
        return _back_to(sub)
    reason = request.form.get("reason", "").strip()[:MAX_REASON] or "override cleared"
    try:
        regrade.clear_override(db.session, sub.id, reason, by=signed_in().id)
    except regrade.RegradeError as exc:
        db.session.rollback()
        flash(f"The override was not cleared: {exc}", "error")
    else:
        flash("Override cleared: the submission is graded by the slot's policy again.")
    return _back_to(sub)
