"""Pages for students (issue 4): log in and out, courses, assignments, problems, practice.

Server-rendered with Jinja; the maths is MathML made on the server (``mathml``), the
network an inline SVG (``diagram``). A problem page answers through API v1 itself
(``static/problem.js`` posts to ``/api/v1/problems/<id>/submissions`` and polls
``/api/v1/submissions/<id>``), so there is one submission and grading path; with
JavaScript off the same form posts to ``submit_form``, which takes the same path
(``pipeline.submit``) and comes back to the page the form was on. Every page asks
``policy`` before it shows an object; what the caller may not see is a 404.
"""

from __future__ import annotations

import math
import secrets
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.exceptions import BadRequest, HTTPException, NotFound

import exercises as ex
from exercises.answers import PartFormatError
from exercises.expressions import MAX_TEXT, parse_expression, to_latex
from exercises.solution import Departure, departure

from . import api, auth, diagram, mathml, pipeline, policy, problems, throttle
from .db import db
from .models import (
    Assignment,
    Course,
    CourseRole,
    Enrollment,
    Mode,
    Problem,
    Role,
    Status,
    Submission,
    User,
    utcnow,
)

bp = Blueprint("student", __name__, template_folder="templates", static_folder="static")

MAX_GRID = 10  # rows or columns a matrix answer may be given in the page
# Inline <math> and <svg> need no exception; scripts and styles come from our own files only.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@bp.after_request
def _secure_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.app_template_filter("math")
def _math_filter(source: str | None) -> Markup:
    return mathml.text(source or "")


@bp.app_template_filter("when")
def _when(moment: datetime | None) -> str:
    return moment.strftime("%-d %b %Y, %H:%M UTC") if moment is not None else ""


@bp.app_template_filter("percent")
def percent(score: float | None) -> str:
    """A score as a whole percentage; only full marks read as 100%."""
    if score is None:
        return "–"
    if score >= 1.0:
        return "100%"
    return f"{min(round(score * 100), 99)}%"


def due_text(due: datetime | None, now: datetime) -> str:
    """'due in 3 days', 'due in 5 hours', 'was due 2 days ago', or 'no due date'."""
    if due is None:
        return "no due date"
    seconds = (due - now).total_seconds()
    hours = abs(seconds) / 3600
    count, unit = (math.floor(hours / 24), "day") if hours >= 48 else (max(1, round(hours)), "hour")
    span = f"{count} {unit}{'' if count == 1 else 's'}"
    return f"due in {span}" if seconds >= 0 else f"was due {span} ago"


# --- errors ------------------------------------------------------------------------------


@bp.errorhandler(CSRFError)
def _csrf_failed(error: CSRFError) -> tuple[str, int]:
    return render_template(
        "error.html",
        status=400,
        title="This form has expired",
        message="The page was open too long or came from elsewhere. Reload it and try again.",
    ), 400


@bp.errorhandler(400)
@bp.errorhandler(403)
@bp.errorhandler(404)
def _http_error(error: HTTPException) -> tuple[str, int]:
    status = error.code or 404
    titles = {400: "That address is not quite right", 403: "Not yours to see"}
    title = titles.get(status, "Not found")
    return render_template(
        "error.html", status=status, title=title, message=error.description
    ), status


def _no_such(what: str) -> NotFound:
    # The same answer for missing and forbidden objects, as in the API: ids cannot be probed.
    return NotFound(f"There is no such {what}, or it is not yours to see.")


def _user() -> User:
    return current_user._get_current_object()  # type: ignore[no-any-return]


# --- log in and out ----------------------------------------------------------------------


@bp.get("/")
def index() -> Response:
    home = "student.courses" if current_user.is_authenticated else "student.login"
    return redirect(url_for(home))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int, dict[str, str]] | str:
    """The login form (fields labelled Email and Password); CSRF-checked like every form."""
    if request.method == "GET" and current_user.is_authenticated:
        return redirect(_next_page())
    email = request.form.get("email", "")
    if request.method == "POST":
        return _log_in(email, request.form.get("password", ""))
    return render_template("login.html", email=email, failed=False)


def _log_in(email: str, password: str) -> Response | tuple[str, int, dict[str, str]]:
    """Check the credentials unless too many failures came first (429, not checked)."""
    settings = current_app.extensions["settings"]
    address, now = request.remote_addr or "unknown", utcnow()
    limited = throttle.limited(db.session, settings, email, address, now)
    if limited is not None:
        db.session.rollback()
        page = render_template("login.html", email=email, failed=False, limited=limited)
        return page, 429, {"Retry-After": str(limited.retry_after)}
    if auth.log_in(email, password) is not None:
        throttle.succeeded(db.session, email)
        db.session.commit()
        return redirect(_next_page())
    throttle.failed(db.session, settings, email, address, now)
    db.session.commit()
    return render_template("login.html", email=email, failed=True), 401, {}


def _next_page() -> str:
    """Where to go after logging in: a path on this site from ``next``, else my courses."""
    return safe_next(request.values.get("next", "")) or url_for("student.courses")


def safe_next(target: str) -> str | None:
    """``target`` as a path on this site, or None when it could lead anywhere else.

    Browsers drop tabs and newlines from a URL and read a backslash as a slash, so
    ``/%09/evil.com`` (a tab) becomes ``//evil.com``, another site. Those characters are
    removed first (with every other control, format or space character); what is left
    must be a plain absolute path, with no scheme or host.
    """
    cleaned = "".join(
        ch for ch in target if not unicodedata.category(ch).startswith(("C", "Z"))
    )
    parts = urlsplit(cleaned)
    if (
        not cleaned.startswith("/")
        or cleaned.startswith("//")
        or "\\" in cleaned
        or parts.scheme
        or parts.netloc
    ):
        return None
    return cleaned


@bp.post("/logout")
def logout() -> Response:
    auth.log_out()
    flash("You are logged out.", "info")
    return redirect(url_for("student.login"))


# --- courses and assignments -------------------------------------------------------------


@dataclass(frozen=True)
class AssignmentRow:
    """An assignment as listed on my courses: the caller's progress in it."""

    id: int
    title: str
    mode: str
    due_at: datetime | None
    due: str
    earned: float
    points: float
    solved: int
    problems: int


@dataclass(frozen=True)
class CourseRow:
    id: int
    code: str
    title: str
    role: str
    assignments: list[AssignmentRow]


@bp.get("/courses")
@login_required
def courses() -> str:
    """My courses, each with my progress per assignment."""
    user, now = _user(), utcnow()
    if user.role == Role.admin:
        memberships = [(c, CourseRole.instructor) for c in db.session.scalars(select(Course))]
    else:
        memberships = [
            (course, role)
            for course, role in db.session.execute(
                select(Course, Enrollment.role)
                .join(Enrollment)
                .where(Enrollment.user_id == user.id)
                .order_by(Course.id)
            )
        ]
    rows = [
        CourseRow(
            c.id, c.code, c.title, role.value,
            [_assignment_row(a, user, now) for a in c.assignments],
        )
        for c, role in memberships
    ]
    return render_template("courses.html", courses=rows)


def _assignment_row(assignment: Assignment, user: User, now: datetime) -> AssignmentRow:
    progress = api.assignment_json(assignment, user)
    return AssignmentRow(
        id=assignment.id,
        title=assignment.title,
        mode=assignment.mode.value,
        due_at=assignment.due_at,
        due=due_text(assignment.due_at, now),
        earned=progress["score"],
        points=progress["points"],
        solved=sum(1 for s in progress["slots"] if (s["best_score"] or 0) >= 1.0),
        problems=len(progress["slots"]),
    )


def _member_assignment(course_id: int, assignment_id: int) -> Assignment:
    assignment = db.session.get(Assignment, assignment_id)
    if (
        assignment is None
        or assignment.course_id != course_id
        or policy.course_role(_user(), course_id) is None
    ):
        raise _no_such("assignment")
    return assignment


@bp.get("/courses/<int:course_id>/assignments/<int:assignment_id>")
@login_required
def assignment(course_id: int, assignment_id: int) -> str:
    """An assignment's problems with my best score, attempts used and left, and the due date."""
    a = _member_assignment(course_id, assignment_id)
    now = utcnow()
    progress = api.assignment_json(a, _user())
    slots = [
        {
            **s,
            "title": ex.get_type(s["exercise_type"]).title,
            "attempts_left": max(0, a.attempts_allowed - s["attempts_used"]),
        }
        for s in progress["slots"]
    ]
    return render_template(
        "assignment.html",
        course=a.course,
        assignment=a,
        progress=progress,
        slots=slots,
        due=due_text(a.due_at, now),
        closed=a.due_at is not None and now > a.due_at,
    )


@bp.get("/courses/<int:course_id>/assignments/<int:assignment_id>/problems/<int:position>")
@login_required
def slot_problem(course_id: int, assignment_id: int, position: int) -> Response:
    """My variant of a slot, drawn on the first visit and the same on every later one."""
    a = _member_assignment(course_id, assignment_id)
    slot = next((s for s in a.slots if s.position == position), None)
    if slot is None:
        raise _no_such("problem")
    problem = problems.draw_for_slot(slot, _user())
    return redirect(url_for("student.problem", problem_id=problem.id))


# --- practice ----------------------------------------------------------------------------


@bp.get("/practice")
@login_required
def practice_index() -> str:
    """Every exercise type, at every difficulty, to practise on fresh variants."""
    return render_template(
        "practice_index.html", types=ex.catalogue(), difficulties=ex.DIFFICULTIES
    )


@bp.get("/practice/<type_id>")
@login_required
def practice(type_id: str) -> Response | str:
    """A practice variant (CONTRACT §8); without a seed, a fresh one at a stable address."""
    try:
        exercise = ex.get_type(type_id)
    except ex.UnknownExerciseType:
        raise _no_such("exercise type") from None
    difficulty = _int_arg("difficulty", 1, ex.DIFFICULTIES[0], ex.DIFFICULTIES[-1])
    if "seed" not in request.args:
        seed = secrets.randbelow(2**31)
        return redirect(
            url_for("student.practice", type_id=exercise.id, seed=seed, difficulty=difficulty)
        )
    seed = _int_arg("seed", 0, 0, ex.SEED_MAX)
    problem = problems.practice(_user(), exercise.id, seed, difficulty)
    return _problem_page(problem)


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name, "")
    if raw == "":
        return default
    # ASCII digits only ("²" is a digit to isdigit, not to int), and few enough for int().
    if not (raw.isascii() and raw.isdigit() and len(raw) <= len(str(high))
            and low <= int(raw) <= high):
        raise BadRequest(f"{name} must be a whole number from {low} to {high}.")
    return int(raw)


# --- the problem page --------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    id: str
    label: Markup


@dataclass(frozen=True)
class PartView:
    """One answer box, prefilled with the caller's last answer when it fits the box; with
    the reason it could not be read, or the marks of the result shown, if any."""

    name: str
    kind: str
    label: Markup
    choices: list[Choice] = field(default_factory=list)
    symbols: tuple[str, ...] = ()
    cells: list[list[str]] = field(default_factory=lambda: [[""]])
    value: str = ""
    error: str = ""
    correct: bool | None = None  # None: no result shown
    carried_forward: bool = False
    entries: list[list[bool]] | None = None


@dataclass(frozen=True)
class Attempts:
    used: int
    allowed: int | None  # None: unlimited (practice)

    @property
    def left(self) -> int | None:
        return None if self.allowed is None else max(0, self.allowed - self.used)


@bp.get("/problems/<uuid:problem_id>")
@login_required
def problem(problem_id: uuid.UUID) -> str:
    return _problem_page(_readable_problem(problem_id))


def _readable_problem(problem_id: uuid.UUID) -> Problem:
    problem = db.session.get(Problem, problem_id)
    if problem is None or not policy.can_read_problem(_user(), problem):
        raise _no_such("problem")
    return problem


def _problem_page(
    problem: Problem,
    given: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
) -> str:
    """The problem page; after a form posted without JavaScript, with the answers as
    ``given``, each unreadable part's reason in ``errors`` and a ``notice`` in the status
    region, or (``?submission=<id>``) with that submission's result there and in the grid."""
    user, now = _user(), utcnow()
    variant = pipeline.parsed_variant(problem.id, problem.variant)
    submissions = _submissions(problem)
    last = given if given is not None else (submissions[0].answers if submissions else {})
    shown = None if notice else _shown_submission(submissions)
    graded = (shown.result.parts if shown is not None and shown.status == Status.graded
              and shown.result is not None else {})
    slot = problem.slot
    assignment = slot.assignment if slot is not None else None
    closed = bool(assignment and assignment.due_at is not None and now > assignment.due_at)
    attempts = Attempts(problem.attempts_used, problem.attempts_allowed)
    return render_template(
        "problem.html",
        problem=problem,
        variant=variant,
        exercise=ex.get_type(variant.type),
        parts=[
            _part_view(p, last.get(p.name), (errors or {}).get(p.name, ""), graded.get(p.name))
            for p in variant.parts
        ],
        diagram=diagram.svg(variant.network) if variant.network else None,
        slot=slot,
        assignment=assignment,
        due=due_text(assignment.due_at, now) if assignment else None,
        attempts=attempts,
        can_submit=policy.can_submit(user, problem) and not closed and attempts.left != 0,
        closed=closed,
        history=[_result_view(s, variant) for s in submissions],
        solution=_solution_view(variant, submissions[0] if submissions else None)
        if policy.can_see_solution(user, problem, now) else None,
        solution_rule=_solution_rule(problem),
        scoring_rule=ex.SCORING_RULE,
        difficulties=ex.DIFFICULTIES,
        seed=variant.seed if policy.can_see_seed(user, problem) else None,
        notice=notice,
        shown=_result_view(shown, variant) if shown is not None else None,
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
    problem = _readable_problem(problem_id)
    user = _user()
    if not policy.can_submit(user, problem):
        raise _no_such("problem")
    variant = pipeline.parsed_variant(problem.id, problem.variant)
    answers, reshaped = _posted_answers(variant)
    if reshaped:
        notice = (
            f"The grid of {', '.join(reshaped)} now has the rows and columns you set: fill it "
            "in and submit again. Nothing was graded and no attempt was used."
        )
        return _problem_page(problem, given=answers, notice=notice), 200
    received_at = utcnow()
    db.session.commit()  # end the page's read before the submit's own connection writes
    try:
        with pipeline.connect(db.engine) as connection:
            target = pipeline.target(connection, problem_id)
            if target is None:
                raise _no_such("problem")
            submission_id = pipeline.submit(connection, target, user.id, answers, received_at)
    except ex.AnswerFormatError as exc:
        notice = "Nothing was graded and no attempt was used: fix the answers marked below."
        return _problem_page(problem, given=answers, errors=exc.parts, notice=notice), 422
    except pipeline.Refused as exc:
        return _problem_page(problem, given=answers, notice=f"Not sent: {exc}."), 409
    current_app.extensions["outbox"].put([submission_id])
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


def _submissions(problem: Problem) -> list[Submission]:
    """The problem's submissions, newest first."""
    return list(
        db.session.scalars(
            select(Submission)
            .where(Submission.problem_id == problem.id)
            .order_by(Submission.attempt.desc())
        )
    )


def _solution_rule(problem: Problem) -> str:
    if problem.slot is not None and problem.slot.assignment.mode == Mode.exam:
        return "The worked solution opens after the due date."
    return "The worked solution opens once you solve the problem or use every attempt."


def _part_view(
    part: ex.Part, last: Any, error: str = "", graded: dict[str, Any] | None = None
) -> PartView:
    label = mathml.text(part.label)
    marks: dict[str, Any] = {"error": error}
    if graded is not None:
        marks.update(correct=bool(graded.get("correct")),
                     carried_forward=bool(graded.get("carried_forward")))
    if part.kind == "matrix":
        cells = _grid(last)
        entries = graded.get("entries") if graded is not None else None
        if entries is not None and (len(entries), len(entries[0])) != (len(cells), len(cells[0])):
            entries = None  # marks only where they fit the cells shown
        return PartView(part.name, part.kind, label, cells=cells, entries=entries, **marks)
    if part.kind == "choice":
        choices = [Choice(o.id, mathml.text(o.label)) for o in part.options]
        return PartView(part.name, part.kind, label, choices=choices, value=_plain(last), **marks)
    return PartView(
        part.name, part.kind, label, symbols=part.symbols, value=_plain(last), **marks
    )


def _plain(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return ""
    return str(value)


def _grid(value: Any) -> list[list[str]]:
    """The cells of a previous matrix answer given as JSON rows; else one empty cell.

    The grid never starts in the key's shape: the student sets the shape.
    """
    if isinstance(value, list) and value and not isinstance(value[0], list):
        value = [[entry] for entry in value]  # a flat list is a column (CONTRACT §2)
    if (
        not isinstance(value, list)
        or not value
        or len(value) > MAX_GRID
        or not all(isinstance(row, list) and row and len(row) == len(value[0]) for row in value)
        or len(value[0]) > MAX_GRID
    ):
        return [[""]]
    return [[_plain(entry) for entry in row] for row in value]


# --- results, history and the worked solution --------------------------------------------


@dataclass(frozen=True)
class MistakeView:
    tag: str
    name: str
    explanation: Markup


@dataclass(frozen=True)
class PartResultView:
    name: str
    label: Markup
    score: float
    correct: bool
    carried_forward: bool
    mistakes: list[MistakeView]
    note: Markup | None


@dataclass(frozen=True)
class ResultView:
    """A submission and, once graded, its result, ready for the page."""

    id: uuid.UUID
    attempt: int
    status: str
    received_at: datetime
    score: float | None
    parts: list[PartResultView]
    reason: str | None


def _result_view(submission: Submission, variant: ex.Variant) -> ResultView:
    result = submission.result if submission.status == Status.graded else None
    parts: list[PartResultView] = []
    if result is not None:
        for part in variant.parts:
            graded = result.parts.get(part.name)
            if graded is None:
                continue
            tags = [t for t in graded.get("misconceptions", []) if t in ex.MISTAKES]
            mistakes = [
                MistakeView(t, ex.MISTAKES[t].name, mathml.text(ex.MISTAKES[t].explanation))
                for t in tags
            ]
            note = feedback_note(graded.get("feedback", ""), tags)
            parts.append(
                PartResultView(
                    name=part.name,
                    label=mathml.text(part.label),
                    score=float(graded.get("score", 0.0)),
                    correct=bool(graded.get("correct")),
                    carried_forward=bool(graded.get("carried_forward")),
                    mistakes=mistakes,
                    note=mathml.text(note) if note else None,
                )
            )
    return ResultView(
        id=submission.id,
        attempt=submission.attempt,
        status=submission.status.value,
        received_at=submission.received_at,
        score=result.score if result is not None else None,
        parts=parts,
        reason=(submission.reason or "grading failed")
        if submission.status == Status.error
        else None,
    )


def feedback_note(feedback: str, tags: list[str]) -> str:
    """What a part's feedback says beyond the named mistakes' own explanations.

    The grader writes "Name: explanation" (or the explanation alone) and may add a detail
    such as the slipped entry or the expected shape; the page shows the mistakes as cards,
    so only that detail is left. "Correct." says nothing the mark does not.
    """
    if feedback.strip() == "Correct.":
        return ""
    for tag in tags:
        mistake = ex.MISTAKES[tag]
        feedback = feedback.replace(f"{mistake.name}: {mistake.explanation}", "")
        feedback = feedback.replace(mistake.explanation, "")
    return feedback.strip()


@dataclass(frozen=True)
class StepView:
    title: str
    text: Markup
    formula: Markup | None
    parts: list[str]
    # Where the latest graded answer first departs from the solution: what to say and, where
    # a mistake was named, the step as that mistake does it next to the right one.
    departed: Markup | None = None
    yours: Markup | None = None
    right: Markup | None = None


def _solution_view(variant: ex.Variant, latest: Submission | None = None) -> list[StepView]:
    """The worked solution, marked where ``latest`` (if graded, not full marks) departs."""
    mark = _departure(variant, latest)
    views = []
    for i, step in enumerate(ex.worked_solution(variant).steps):
        here = mark is not None and mark.step == i
        views.append(StepView(
            step.title,
            mathml.text(step.text),
            mathml.formula(step.latex, display=True) if step.latex else None,
            list(step.parts),
            departed=mathml.text(mark.text) if here else None,
            yours=mathml.formula(mark.yours) if here and mark.yours else None,
            right=mathml.formula(mark.right) if here and mark.right else None,
        ))
    return views


def _departure(variant: ex.Variant, latest: Submission | None) -> Departure | None:
    if latest is None or latest.status != Status.graded or latest.result is None:
        return None
    if latest.result.score >= 1.0:
        return None
    try:
        answers = ex.parse_answers(variant, latest.answers).values
    except ex.AnswerFormatError:  # graded answers were readable; a changed reader may differ
        return None
    return departure(variant, answers, latest.result.parts)


def _readable_submission(submission_id: uuid.UUID) -> Submission:
    submission = db.session.get(Submission, submission_id)
    if submission is None or not policy.can_read_submission(_user(), submission):
        raise _no_such("submission")
    return submission


@bp.get("/submissions/<uuid:submission_id>")
@login_required
def submission(submission_id: uuid.UUID) -> str:
    """One submission: the answers as given and the result."""
    sub = _readable_submission(submission_id)
    variant = pipeline.parsed_variant(sub.problem.id, sub.problem.variant)
    return render_template(
        "submission.html",
        submission=sub,
        problem=sub.problem,
        variant=variant,
        result=_result_view(sub, variant),
        answers=[(mathml.text(p.label), sub.answers.get(p.name)) for p in variant.parts],
    )


@bp.get("/submissions/<uuid:submission_id>/panel")
@login_required
def submission_panel(submission_id: uuid.UUID) -> Response:
    """The pieces the problem page swaps in once a submission is graded, as HTML in JSON."""
    sub = _readable_submission(submission_id)
    problem = sub.problem
    variant = pipeline.parsed_variant(problem.id, problem.variant)
    user, now = _user(), utcnow()
    attempts = Attempts(problem.attempts_used, problem.attempts_allowed)
    solution = (
        render_template("_solution.html", solution=_solution_view(variant, sub), variant=variant)
        if policy.can_see_solution(user, problem, now)
        else None
    )
    return jsonify(
        status=sub.status.value,
        result=render_template("_result.html", result=_result_view(sub, variant), live=True),
        history=render_template(
            "_history.html", history=[_result_view(s, variant) for s in _submissions(problem)]
        ),
        attempts=render_template("_attempts.html", attempts=attempts),
        attempts_left=attempts.left,
        solution=solution,
    )


@bp.get("/problems/<uuid:problem_id>/preview")
@login_required
def preview(problem_id: uuid.UUID) -> Response:
    """How an expression part's text was read: MathML of the parsed expression, or why not."""
    problem = _readable_problem(problem_id)
    variant = pipeline.parsed_variant(problem.id, problem.variant)
    try:
        part = variant.part(request.args.get("part", ""))
    except KeyError:
        raise _no_such("part") from None
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

