"""Regrades on the dashboard (issue 16): the grading-policy forms and their named errors,
accepting an unexplained answer, the regrade preview and its application by the real
worker task, score overrides, and who may do what; on SQLite and PostgreSQL.

The class, worked by hand: one homework of one weight-gradient slot worth 2 points; Ada and
Grace each answer 3 × their own key. The grader names no mistake for that (checked here on
their variants) and scores it 0, so each has 0 points; the unexplained page groups both
under the relation "3 × the key". Accepting that relation for 100% and regrading raises
both to 100% (2 points each): two raised, nothing lowered.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from servicekit import Caller, csrf_token, grade_queued, make_course, sign_in
from sqlalchemy import select

import exercises as ex
from service import pipeline
from service.db import db
from service.models import (
    Assignment,
    Problem,
    Regrade,
    RegradeStatus,
    Result,
    Slot,
    Submission,
    utcnow,
)
from worker.app import REGRADE_TASK

FACTOR = 3  # an answer 3 × the key: no named mistake explains it (checked per variant)
REASON = "3 × the key comes from the lecture's scaled loss"


@dataclass
class Class:
    cid: int
    aid: int
    teacher: Caller
    ta: Caller
    ada: Caller
    grace: Caller
    outsider: Caller
    subs: dict[str, uuid.UUID]  # the students' submissions, by name
    old: dict[str, float]  # their scores before any regrade


def pct(score: float) -> str:
    """A score as the pages print it (``percent``: whole, only full marks 100%)."""
    return "100%" if score >= 1 else f"{min(round(score * 100), 99)}%"


def text_of(response: Any) -> str:
    plain = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(html.unescape(plain).split())


def post_form(client: FlaskClient, page: str, action: str, data: dict[str, str]) -> Any:
    return client.post(action, data={**data, "csrf_token": csrf_token(client, page)})


def answer_times_key(app: Flask, caller: Caller, cid: int, aid: int) -> tuple[uuid.UUID, float]:
    """The caller's problem answered with FACTOR × its key, graded by the real task; its
    id and score (below 1: entries where the key is 0 are right, the rest wrong)."""
    problem = caller.post(f"/api/v1/courses/{cid}/assignments/{aid}/slots/1/problem").json
    with app.app_context():
        row = db.session.get(Problem, uuid.UUID(problem["id"]))
        assert row is not None
        variant = pipeline.parsed_variant(row.id, row.variant)
        key = np.asarray(variant.key_values["dC_dW"], dtype=float)
    answer = (FACTOR * key).tolist()
    # The setup's premise, from the grader itself: no mistake names this answer.
    graded = ex.grade(variant, ex.parse_answers(variant, {"dC_dW": answer})).to_json()
    assert graded["score"] < 1 and graded["parts"]["dC_dW"]["misconceptions"] == []
    sent = caller.post(f"/api/v1/problems/{problem['id']}/submissions",
                       json={"answers": {"dC_dW": answer}})
    assert sent.status_code == 202, sent.json
    grade_queued(app)
    got = caller.get(f"/api/v1/submissions/{sent.json['id']}").json
    assert got["status"] == "graded" and got["score"] == graded["score"]
    if "parts" in got:  # an exam's student sees no parts before the due date
        assert got["parts"]["dC_dW"]["misconceptions"] == []  # unexplained, as needed
    return uuid.UUID(sent.json["id"]), graded["score"]


@pytest.fixture
def klass(app: Flask, make_caller: Callable[..., Caller]) -> Class:
    teacher, ta = make_caller("instructor"), make_caller("student", "ta@example.org")
    ada = make_caller("student", "ada@example.org")
    grace = make_caller("student", "grace@example.org")
    outsider = make_caller("student", "outsider@example.org")
    cid, made = make_course(teacher, [ada, grace], {
        "title": "Homework 1", "attempts_allowed": 3,
        "slots": [{"exercise_type": "weight-gradient", "points": 2}],
    })
    added = teacher.post(f"/api/v1/courses/{cid}/roster", json={"email": ta.email, "role": "ta"})
    assert added.status_code == 201, added.json
    done = {name: answer_times_key(app, who, cid, made["id"])
            for name, who in (("ada", ada), ("grace", grace))}
    return Class(cid, made["id"], teacher, ta, ada, grace, outsider,
                 {n: sid for n, (sid, _) in done.items()},
                 {n: score for n, (_, score) in done.items()})


_SIGNED: dict[int, FlaskClient] = {}


def web_of(caller: Caller) -> FlaskClient:
    """The caller's client signed in once (a second login form would redirect)."""
    key = id(caller.client)
    if key not in _SIGNED:
        _SIGNED[key] = sign_in(caller)
    return _SIGNED[key]


def manage(k: Class) -> str:
    return f"/courses/{k.cid}/assignments/{k.aid}/manage"


def stored_policy(app: Flask, aid: int) -> Any:
    with app.app_context():
        a = db.session.get(Assignment, aid)
        assert a is not None
        return a.grading_policy


def test_policy_form_saves_and_names_errors(app: Flask, klass: Class) -> None:
    k = klass
    web = web_of(k.teacher)
    page = web.get(manage(k))
    assert page.status_code == 200 and "Grading policy" in text_of(page)
    action = f"/courses/{k.cid}/assignments/{k.aid}/policy"
    # A percentage out of range, named next to its field; nothing saved.
    bad = post_form(web, manage(k), action, {"rtol": "150", "carry_forward": "on",
                                             "partial_credit": "on"})
    assert bad.status_code == 422
    assert "Relative tolerance (%): must be a percentage from 0 to 100" in text_of(bad)
    assert 'id="error-rtol"' in bad.get_data(as_text=True)
    # A value only the policy itself refuses (an absolute tolerance over 1000): its message.
    bad = post_form(web, manage(k), action, {"atol": "5000", "carry_forward": "on",
                                             "partial_credit": "on"})
    assert bad.status_code == 422
    assert "atol: must be a number from 0 to 1000" in text_of(bad)
    assert stored_policy(app, k.aid) is None
    # A valid one: stored as the policy's canonical JSON (the default fields left out).
    ok = post_form(web, manage(k), action, {
        "rtol": "1", "carry_forward": "off", "partial_credit": "on",
        "mistake-1-tag": "factor-of-two", "mistake-1-credit": "50",
    })
    assert ok.status_code == 303
    assert stored_policy(app, k.aid) == {"rtol": 0.01, "carry_forward": False,
                                         "mistake_credit": {"factor-of-two": 0.5}}
    shown = web.get(manage(k))
    text = text_of(shown)
    assert "Preview a regrade" in text and "No carried-forward credit" in text
    # Both results were made under the default policy: both by another version now.
    cell = re.search(r'data-slot="1">.*?class="num stale-count">(\d+)<', shown.get_data(
        as_text=True), re.S)
    assert cell and cell.group(1) == "2"


def test_slot_policy_keeps_accepted_and_refuses_bad_credit(app: Flask, klass: Class) -> None:
    k = klass
    web = web_of(k.teacher)
    action = f"/courses/{k.cid}/assignments/{k.aid}/slots/1/policy"
    bad = post_form(web, manage(k), action, {"mistake-1-tag": "sign-flip",
                                             "mistake-1-credit": "abc"})
    assert bad.status_code == 422 and "Credit per mistake" in text_of(bad)
    ok = post_form(web, manage(k), action, {"partial_credit": "off"})
    assert ok.status_code == 303
    with app.app_context():
        slot = db.session.scalars(select(Slot).where(Slot.assignment_id == k.aid)).one()
        assert slot.grading_policy == {"partial_credit": False}


def test_who_may_do_what(app: Flask, klass: Class) -> None:
    k = klass
    ta = web_of(k.ta)
    page = ta.get(manage(k))
    assert page.status_code == 200
    assert "Grading policy" in text_of(page)
    assert f"/assignments/{k.aid}/policy" not in page.get_data(as_text=True)  # read-only
    policy = post_form(ta, manage(k), f"/courses/{k.cid}/assignments/{k.aid}/policy",
                       {"rtol": "1"})
    assert policy.status_code == 403
    accept = post_form(ta, manage(k), f"/courses/{k.cid}/assignments/{k.aid}/accept",
                       {"submission": str(k.subs["ada"]), "part": "dC_dW", "reason": "x"})
    assert accept.status_code == 403
    # A TA previews (grading).
    form = f"/courses/{k.cid}/assignments/{k.aid}/regrade"
    assert ta.get(form).status_code == 200
    made = post_form(ta, form, form, {"reason": "check", "never_lower": "on"})
    assert made.status_code == 303
    rid = int(made.headers["Location"].rsplit("/", 1)[1])
    # Students and outsiders: 404 on every page and form, whatever they post.
    for who in (k.ada, k.outsider):
        web = web_of(who)
        for path in (form, f"/courses/{k.cid}/assignments/{k.aid}/regrades/{rid}"):
            assert web.get(path).status_code == 404, (who.email, path)
        token = csrf_token(web, "/courses")
        for path, data in (
            (f"/courses/{k.cid}/assignments/{k.aid}/regrades/{rid}/apply", {}),
            (f"/courses/{k.cid}/assignments/{k.aid}/policy", {"rtol": "1"}),
            (f"/courses/{k.cid}/submissions/{k.subs['grace']}/override",
             {"score": "100", "reason": "mine"}),
        ):
            assert web.post(path, data={**data, "csrf_token": token}).status_code == 404
    # No CSRF token: refused, nothing saved.
    web = web_of(k.teacher)
    refused = web.post(f"/courses/{k.cid}/assignments/{k.aid}/policy", data={"rtol": "1"})
    assert refused.status_code == 400
    assert stored_policy(app, k.aid) is None
    # A regrade of another assignment's id is no regrade here.
    other = k.teacher.post(f"/api/v1/courses/{k.cid}/assignments", json={
        "title": "Other", "slots": [{"exercise_type": "forward-pass"}]}).json
    assert web.get(f"/courses/{k.cid}/assignments/{other['id']}/regrades/{rid}"
                   ).status_code == 404


def run_regrades(app: Flask) -> None:
    """Run the real worker task for every regrade being applied, as a worker would."""
    celery = app.extensions["celery"]
    celery.loader.import_default_modules()
    with app.app_context():
        ids = list(db.session.scalars(
            select(Regrade.id).where(Regrade.status == RegradeStatus.applying)))
        db.session.commit()
    for rid in ids:
        celery.tasks[REGRADE_TASK](rid)


def test_accept_preview_apply_shows_everywhere(app: Flask, klass: Class) -> None:
    k = klass
    web = web_of(k.teacher)
    unexplained = f"/courses/{k.cid}/assignments/{k.aid}/unexplained"
    page = web.get(unexplained)
    assert "3 × the key" in text_of(page) and "Accept this answer" in text_of(page)
    # A reason is required: nothing accepted without one.
    action = f"/courses/{k.cid}/assignments/{k.aid}/accept"
    empty = post_form(web, unexplained, action, {"submission": str(k.subs["ada"]),
                                                 "part": "dC_dW", "reason": " "})
    assert empty.status_code == 303
    with app.app_context():
        assert db.session.scalars(select(Slot)).one().grading_policy is None
    done = post_form(web, unexplained, action, {"submission": str(k.subs["ada"]),
                                                "part": "dC_dW", "reason": REASON,
                                                "credit": "100"})
    assert done.status_code == 303 and "/regrade?slot=1" in done.headers["Location"]
    with app.app_context():
        slot = db.session.scalars(select(Slot)).one()
        assert slot.grading_policy == {"accepted": [
            {"part": "dC_dW", "relation": "3 × the key", "credit": 1.0, "reason": REASON}]}
    form = done.headers["Location"]
    shown = web.get(form)
    assert REASON in re.findall(r'name="reason"[^>]*value="([^"]*)"', html.unescape(
        shown.get_data(as_text=True)))[0], form
    made = post_form(web, form, f"/courses/{k.cid}/assignments/{k.aid}/regrade",
                     {"slot": "1", "reason": REASON, "never_lower": "on"})
    assert made.status_code == 303
    preview_path = made.headers["Location"]
    preview = web.get(preview_path)
    text = text_of(preview)
    assert "Raised 2" in text and "Lowered 0" in text
    rows = re.findall(r'<tr data-change="raised">(.*?)</tr>', preview.get_data(as_text=True),
                      re.S)
    assert len(rows) == 2
    assert {"ada@example.org", "grace@example.org"} == {
        e for r in rows for e in re.findall(r"[a-z]+@example\.org", r)}
    for name in ("ada", "grace"):
        row = next(r for r in rows if f"{name}@example.org" in r)
        assert f"{pct(k.old[name])} → 100%" in html.unescape(re.sub(r"<[^>]+>", "", row))
    # Nothing changed yet.
    assert k.ada.get(f"/api/v1/submissions/{k.subs['ada']}").json["score"] == k.old["ada"]
    applied = post_form(web, preview_path, preview_path + "/apply", {})
    assert applied.status_code == 302 or applied.status_code == 303
    assert "Applying" in text_of(web.get(preview_path))
    run_regrades(app)
    after = text_of(web.get(preview_path))
    assert f"Applied by {k.teacher.email} on" in after
    # The gradebook: 2 points each.
    book = k.teacher.get(f"/api/v1/courses/{k.cid}/gradebook").json
    assert {s["email"]: s["scores"][str(k.aid)] for s in book["students"]} == {
        "ada@example.org": 2.0, "grace@example.org": 2.0}
    # The students' pages and the API: the new score, the old one kept, and the reason.
    for who in (k.ada, k.grace):
        sid = k.subs["ada" if who is k.ada else "grace"]
        seen = text_of(web_of(who).get(f"/submissions/{sid}"))
        old = k.old["ada" if who is k.ada else "grace"]
        assert f"{pct(old)} → 100%, because {REASON}" in seen and "Regraded on" in seen
        got = who.get(f"/api/v1/submissions/{sid}").json
        assert got["score"] == 1 and got["result_kind"] == "regraded"
        assert got["result_reason"] == REASON
        assert [(h["score"], h["kind"]) for h in got["history"]] == [(old, "graded")]
        assert got["grader_version"] != got["history"][0]["grader_version"]
    # The audit log on the assignment page.
    log = text_of(web.get(manage(k)))
    assert "Regrades" in log and REASON in log and "applied" in log


def test_override_shows_everywhere_and_clears(app: Flask, klass: Class) -> None:
    k = klass
    ta = web_of(k.ta)  # a TA grades: may set a score by hand
    sub = f"/submissions/{k.subs['ada']}"
    page = ta.get(sub)
    assert "Set the score by hand" in text_of(page)
    assert "Accept the answer" not in text_of(page)  # accepting is the instructors'
    action = f"/courses/{k.cid}/submissions/{k.subs['ada']}/override"
    no_reason = post_form(ta, sub, action, {"score": "50", "reason": ""})
    assert no_reason.status_code == 303
    assert k.ada.get(f"/api/v1/submissions/{k.subs['ada']}").json["result_kind"] == "graded"
    set_ = post_form(ta, sub, action, {"score": "50", "reason": "a typo in the question"})
    assert set_.status_code == 303
    got = k.ada.get(f"/api/v1/submissions/{k.subs['ada']}").json
    assert got["score"] == 0.5 and got["result_kind"] == "override"
    assert got["result_reason"] == "a typo in the question"
    mine = text_of(web_of(k.ada).get(sub))
    assert "Score set by your instructor: a typo in the question" in mine
    book = web_of(k.teacher).get(f"/courses/{k.cid}/gradebook").get_data(as_text=True)
    assert 'title="Score set by hand: slot 1: a typo in the question"' in book
    api_book = k.teacher.get(f"/api/v1/courses/{k.cid}/gradebook").json
    ada_row = next(s for s in api_book["students"] if s["email"] == "ada@example.org")
    assert ada_row["scores"][str(k.aid)] == 1.0  # 50% of 2 points
    assert ada_row["overrides"] == {str(k.aid): ["slot 1: a typo in the question"]}
    assert "Scores set by hand" in text_of(ta.get(manage(k)))
    assert "a typo in the question" in text_of(ta.get(manage(k)))
    # Cleared: graded by the slot's policy again (as first), no override anywhere.
    cleared = post_form(ta, sub, action + "/clear", {"reason": "fixed"})
    assert cleared.status_code == 303
    got = k.ada.get(f"/api/v1/submissions/{k.subs['ada']}").json
    assert got["score"] == k.old["ada"] and got["result_kind"] != "override"
    assert [h["kind"] for h in got["history"]] == ["graded", "override"]
    book = web_of(k.teacher).get(f"/courses/{k.cid}/gradebook").get_data(as_text=True)
    assert "Score set by hand" not in book
    with app.app_context():
        assert db.session.scalar(select(Result.score).where(
            Result.submission_id == k.subs["ada"], Result.current.is_(True))) == k.old["ada"]
        assert db.session.get(Submission, k.subs["ada"]) is not None


def test_exam_shows_the_score_and_reason_only(app: Flask, klass: Class) -> None:
    """Before an exam's due date a student sees the score, and so the override's reason,
    but no part's marks (``service.feedback``)."""
    k = klass
    due = (utcnow() + timedelta(days=2)).isoformat()
    exam = k.teacher.post(f"/api/v1/courses/{k.cid}/assignments", json={
        "title": "Exam", "mode": "exam", "due_at": due,
        "slots": [{"exercise_type": "weight-gradient"}]}).json
    sid, _old = answer_times_key(app, k.ada, k.cid, exam["id"])
    got = k.teacher.post(f"/api/v1/courses/{k.cid}/assignments/{exam['id']}/submissions/"
                         f"{sid}/override", json={"score": 0.4, "reason": "partial work seen"})
    assert got.status_code == 200
    mine = k.ada.get(f"/api/v1/submissions/{sid}").json
    assert mine["score"] == 0.4 and "parts" not in mine
    assert mine["result_kind"] == "override" and mine["result_reason"] == "partial work seen"
    page = text_of(web_of(k.ada).get(f"/submissions/{sid}"))
    assert "Score set by your instructor: partial work seen" in page and "40%" in page
    assert "only the score is shown until the due date" in page


def test_the_problem_page_states_how_the_policy_departs_from_the_rule(
        app: Flask, klass: Class) -> None:
    k = klass
    with app.app_context():
        submission = db.session.get(Submission, k.subs["ada"])
        assert submission is not None
        page = f"/problems/{submission.problem_id}"
    ada = web_of(k.ada)
    before = text_of(ada.get(page))
    assert "How this is graded" in before and "For this assignment" not in before
    saved = post_form(web_of(k.teacher), manage(k),
                      f"/courses/{k.cid}/assignments/{k.aid}/policy",
                      {"rtol": "2", "carry_forward": "on", "partial_credit": "on"})
    assert saved.status_code == 303
    after = text_of(ada.get(page))
    assert "For this assignment: Tolerance: within 2% (or 0.0001) of the exact value." in after
