"""The problem page: the variant with its answer boxes, attempts, history and (once open)
the worked solution; answering it without JavaScript; the preview of an expression."""

from __future__ import annotations

import uuid
from typing import Any

from flask import jsonify, redirect, render_template, request, url_for
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response

import exercises as ex
from exercises.answers import PartFormatError
from exercises.expressions import MAX_TEXT, parse_expression, to_latex

from .. import assignments, diagram, feedback, mathml, pipeline, policy, queries, rules
from ..db import db
from ..dispatch import dispatcher
from ..models import LatePolicy, Problem, Submission, utcnow
from .base import bp, due_text, login_required, no_such, signed_in
from .render import MAX_GRID, Attempts, part_view, result_view, solution_view


@bp.get("/problems/<uuid:problem_id>")
@login_required
def problem(problem_id: uuid.UUID) -> str:
    return problem_page(readable_problem(problem_id))


def readable_problem(problem_id: uuid.UUID) -> Problem:
    problem = db.session.get(Problem, problem_id)
    if problem is None or not policy.can_read_problem(signed_in(), problem):
        raise no_such("problem")
    return problem


def problem_page(
    problem: Problem,
    given: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
) -> str:
    """The problem page; after a form posted without JavaScript, with the answers as
    ``given``, each unreadable part's reason in ``errors`` and a ``notice`` in the status
    region, or (``?submission=<id>``) with that submission's result there and in the grid."""
    user, now = signed_in(), utcnow()
    variant = pipeline.parsed_variant(problem.id, problem.variant)
    submissions = problem_submissions(problem)
    last = given if given is not None else (submissions[0].answers if submissions else {})
    shown = None if notice else _shown_submission(submissions)
    graded = (feedback.shown_parts(user, shown, now) if shown is not None else None) or {}
    slot = problem.slot
    assignment = slot.assignment if slot is not None else None
    due_at = assignments.due_for(assignment, problem.owner_id) if assignment else None
    closed = bool(assignment and assignment.late_policy == LatePolicy.closed
                  and due_at is not None and now > due_at)
    attempts = Attempts(problem.attempts_used, problem.attempts_allowed)
    return render_template(
        "problem.html",
        problem=problem,
        variant=variant,
        exercise=ex.get_type(variant.type),
        parts=[
            part_view(p, last.get(p.name), (errors or {}).get(p.name, ""), graded.get(p.name))
            for p in variant.parts
        ],
        diagram=diagram.svg(variant.network) if variant.network else None,
        slot=slot,
        assignment=assignment,
        due=due_text(due_at, now) if assignment else None,
        attempts=attempts,
        can_submit=policy.can_submit(user, problem) and not closed and attempts.left != 0,
        closed=closed,
        history=[result_view(s, variant) for s in submissions],
        solution=solution_view(variant, submissions[0] if submissions else None)
        if feedback.can_see_solution(user, problem, now) else None,
        solution_rule=_solution_rule(problem),
        scoring_rule=ex.SCORING_RULE,
        # How the assignment's policy departs from the rule (tolerance, credits); which
        # answers were accepted is not said, only that some were.
        policy_notes=ex.describe_policy(rules.slot_policy(slot)) if slot is not None else [],
        difficulties=ex.DIFFICULTIES,
        seed=variant.seed if policy.can_see_seed(user, problem) else None,
        notice=notice,
        shown=result_view(shown, variant) if shown is not None else None,
    )


def _shown_submission(submissions: list[Submission]) -> Submission | None:
    """The submission named by ``?submission=`` (where a form posted without JavaScript
    comes back to), if it is one of this problem's."""
    wanted = request.args.get("submission", "")
    return next((s for s in submissions if str(s.id) == wanted), None)


@bp.post("/problems/<uuid:problem_id>/answers")
@login_required
def submit_form(problem_id: uuid.UUID) -> Response | tuple[str, int]:
    """Submit from the problem page with JavaScript off: the answers read, the attempt taken
    and the row queued exactly as API v1 does, then back (303) to the page the form was on,
    which shows the result. Answers that cannot be read come back with their reasons and
    use no attempt; a changed grid shape comes back reshaped, nothing graded."""
    problem = readable_problem(problem_id)
    user = signed_in()
    if not policy.can_submit(user, problem):
        raise no_such("problem")
    variant = pipeline.parsed_variant(problem.id, problem.variant)
    answers, reshaped = _posted_answers(variant)
    if reshaped:
        notice = (
            f"The grid of {', '.join(reshaped)} now has the rows and columns you set: fill it "
            "in and submit again. Nothing was graded and no attempt was used."
        )
        return problem_page(problem, given=answers, notice=notice), 200
    received_at = utcnow()
    db.session.commit()  # end the page's read before the submit's own connection writes
    try:
        with pipeline.connect(db.engine) as connection:
            target = pipeline.target(connection, problem_id)
            if target is None:
                raise no_such("problem")
            submission_id = pipeline.submit(connection, target, user.id, answers, received_at)
    except ex.AnswerFormatError as exc:
        notice = "Nothing was graded and no attempt was used: fix the answers marked below."
        return problem_page(problem, given=answers, errors=exc.parts, notice=notice), 422
    except pipeline.Refused as exc:
        return problem_page(problem, given=answers, notice=f"Not sent: {exc}."), 409
    dispatcher().notify([submission_id])
    if problem.slot_id is None:  # practice: back to its own address (CONTRACT §8)
        target_url = url_for(
            "student.practice", type_id=variant.type, seed=variant.seed,
            difficulty=variant.difficulty, submission=submission_id,
        )
    else:
        target_url = url_for(
            "student.problem", problem_id=problem.id, submission=submission_id
        )
    return redirect(target_url, 303)


def _posted_answers(variant: ex.Variant) -> tuple[dict[str, Any], list[str]]:
    """The answers of the page's form as its script would send them, and the matrix parts
    whose rows and columns were changed (those come back reshaped, keeping their cells)."""
    form = request.form
    answers: dict[str, Any] = {}
    reshaped: list[str] = []
    for part in variant.parts:
        name = part.name
        if part.kind != "matrix":
            answers[name] = form.get(name, "")
            continue
        rows = next(i for i in range(MAX_GRID + 1) if f"{name}.{i + 1}.1" not in form)
        cols = next(j for j in range(MAX_GRID + 1) if f"{name}.1.{j + 1}" not in form)
        grid = [[form.get(f"{name}.{i}.{j}", "").strip() for j in range(1, cols + 1)]
                for i in range(1, rows + 1)] or [[""]]
        want = (_form_size(f"{name}.rows", len(grid)), _form_size(f"{name}.cols", len(grid[0])))
        if want != (len(grid), len(grid[0])):
            reshaped.append(name)
            grid = [[grid[i][j] if i < len(grid) and j < len(grid[0]) else ""
                     for j in range(want[1])] for i in range(want[0])]
        answers[name] = grid
    return answers, reshaped


def _form_size(field_name: str, default: int) -> int:
    """A grid's rows or columns from the form; anything but 1 to MAX_GRID keeps the grid's."""
    raw = request.form.get(field_name, "").strip()
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= MAX_GRID else default


def problem_submissions(problem: Problem) -> list[Submission]:
    """The problem's submissions, newest first."""
    return queries.submissions(problem.id, newest_first=True)


def _solution_rule(problem: Problem) -> str:
    if policy.is_exam(problem):
        return "The worked solution opens after the due date."
    return "The worked solution opens once you solve the problem or use every attempt."


@bp.get("/problems/<uuid:problem_id>/preview")
@login_required
def preview(problem_id: uuid.UUID) -> Response:
    """How an expression part's text was read: MathML of the parsed expression, or why not."""
    problem = readable_problem(problem_id)
    variant = pipeline.parsed_variant(problem.id, problem.variant)
    try:
        part = variant.part(request.args.get("part", ""))
    except KeyError:
        raise no_such("part") from None
    if part.kind != "expression":
        raise BadRequest("Only expression parts have a preview.")
    source = request.args.get("text", "")
    if len(source) > MAX_TEXT:
        return jsonify(ok=False, error=f"the expression is longer than {MAX_TEXT} characters")
    if not source.strip():
        return jsonify(ok=False, error="")
    try:
        expr = parse_expression(source, part.symbols)
    except PartFormatError as exc:
        return jsonify(ok=False, error=str(exc))
    return jsonify(ok=True, mathml=str(mathml.formula(to_latex(expr))))
