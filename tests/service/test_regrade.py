"""Regrades on real databases: a change of tolerance worked by hand, preview and applied
results row by row, history kept, "never lower", overrides, idempotence, marks.

The homework: one weight-gradient slot, four students, one graded submission each:

- Ada: the key with its largest entry 1% off: wrong at the default 0.5%, right at 2%.
  Under the rule she scores (n-1)/n (n entries, one wrong), then 1 at 2%: raised.
- Bob: the key exactly: 1 either way: unchanged.
- Cat: every entry 10 more than the key: no entry right either way: 0, unchanged.
- Dan: the largest entry 3% off: wrong at 0.5% and at 2%: (n-1)/n either way.

Unchanged submissions are items too (their new result carries the new grader version, so
a second preview finds nothing), but not rows of the preview: those list what changes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import pytest
from flask import Flask
from servicekit import Caller, grade_queued, make_course
from sqlalchemy import func, select, update

from service import regrade
from service.db import db
from service.models import (
    Assignment,
    LtiContext,
    LtiLink,
    LtiPlatform,
    Mark,
    Problem,
    PushStatus,
    RegradeChange,
    RegradeItem,
    Result,
    ResultKind,
    ScorePush,
    Slot,
    Submission,
    utcnow,
)


def shifted(key: list[list[Any]], factor: Fraction | None = None,
            plus: Fraction | None = None) -> list[list[str]]:
    """The key with its largest entry times ``factor``, or every entry plus ``plus``."""
    values = [[Fraction(str(v)) for v in row] for row in key]
    if plus is not None:
        return [[str(v + plus) for v in row] for row in values]
    assert factor is not None
    flat = [(abs(v), i, j) for i, row in enumerate(values) for j, v in enumerate(row)]
    _, i, j = max(flat)
    values[i][j] *= factor
    return [[str(v) for v in row] for row in values]


@pytest.fixture
def homework(app: Flask, make_caller: Callable[..., Caller]) -> dict[str, Any]:
    teacher = make_caller("instructor")
    ada, bob, cat, dan = (make_caller() for _ in range(4))
    cid, assignment = make_course(
        teacher, [ada, bob, cat, dan],
        {"title": "HW", "attempts_allowed": 5, "slots": [{"exercise_type": "weight-gradient"}]},
    )
    path = f"/api/v1/courses/{cid}/assignments/{assignment['id']}/slots/1/problem"
    subs: dict[str, uuid.UUID] = {}
    entries = 0
    for name, student in (("ada", ada), ("bob", bob), ("cat", cat), ("dan", dan)):
        pid = uuid.UUID(student.post(path).json["id"])
        with app.app_context():
            problem = db.session.get(Problem, pid)
            assert problem is not None
            key = problem.variant["key"]["dC_dW"]
        entries = sum(len(row) for row in key)
        answer = {
            "ada": shifted(key, Fraction(101, 100)), "bob": shifted(key, Fraction(1)),
            "cat": shifted(key, plus=Fraction(10)), "dan": shifted(key, Fraction(103, 100)),
        }[name]
        made = student.post(f"/api/v1/problems/{pid}/submissions",
                            json={"answers": {"dC_dW": answer}})
        assert made.status_code == 202, made.json
        subs[name] = uuid.UUID(made.json["id"])
    grade_queued(app)
    with app.app_context():
        slot_id = db.session.scalar(select(Slot.id).where(Slot.assignment_id == assignment["id"]))
    return {"aid": assignment["id"], "slot": slot_id, "subs": subs, "n": entries,
            "teacher": teacher, "students": {"ada": ada, "bob": bob, "cat": cat, "dan": dan}}


def set_policy(app: Flask, slot_id: int, doc: dict[str, Any] | None) -> None:
    with app.app_context():
        db.session.execute(update(Slot).where(Slot.id == slot_id).values(grading_policy=doc))
        db.session.commit()


def current(app: Flask, sid: uuid.UUID) -> tuple[float, str, int | None]:
    with app.app_context():
        row = db.session.execute(
            select(Result.score, Result.kind, Result.regrade_id)
            .where(Result.submission_id == sid, Result.current.is_(True))
        ).one()
        return row[0], row[1], row[2]


def counts_of_results(app: Flask) -> tuple[int, int]:
    with app.app_context():
        every = db.session.scalar(select(func.count()).select_from(Result)) or 0
        cur = db.session.scalar(
            select(func.count()).select_from(Result).where(Result.current.is_(True))
        ) or 0
        return every, cur


def credit_of(app: Flask, user_id: int) -> float:
    with app.app_context():
        value = db.session.scalar(select(Mark.credit).where(Mark.user_id == user_id))
        assert value is not None
        return value


def apply(app: Flask, rid: int, by: int, size: int = regrade.APPLY_BATCH) -> dict[str, int]:
    with app.app_context():
        regrade.start(db.session, rid, by)
        return regrade.run(db.session, rid, size=size)


def test_a_change_of_tolerance_raises_exactly_the_submission_it_affects(
    app: Flask, homework: dict[str, Any]
) -> None:
    subs, n, teacher = homework["subs"], homework["n"], homework["teacher"]
    ada = homework["students"]["ada"]
    before = (n - 1) / n
    assert [current(app, subs[s])[0] for s in ("ada", "bob", "cat", "dan")] == \
        pytest.approx([before, 1.0, 0.0, before])
    assert credit_of(app, ada.user_id) == pytest.approx(before)

    set_policy(app, homework["slot"], {"rtol": 0.02})
    with app.app_context():
        shown = regrade.preview(db.session, regrade.Scope(homework["aid"]),
                                by=teacher.user_id, reason="tolerance 2%")
    assert shown.status == "previewed" and shown.reason == "tolerance 2%"
    assert {k: shown.counts[k] for k in ("raised", "lowered", "unchanged", "kept")} == \
        {"raised": 1, "lowered": 0, "unchanged": 3, "kept": 0}
    assert shown.overrides == 0
    (row,) = shown.rows
    assert (row.submission_id, row.user_id, row.position, row.attempt) == \
        (subs["ada"], ada.user_id, 1, 1)
    assert (row.old_score, row.new_score, row.change) == \
        (pytest.approx(before), 1.0, RegradeChange.raised)
    (effect,) = shown.effects
    assert (effect.user_id, effect.old_total, effect.new_total) == \
        (ada.user_id, pytest.approx(before), 1.0)
    # Nothing a student sees has changed yet.
    assert current(app, subs["ada"])[0] == pytest.approx(before)
    assert counts_of_results(app) == (4, 4)

    done = apply(app, shown.regrade_id, teacher.user_id, size=3)  # two batches
    assert done["applied"] == 4 and done["skipped"] == 0
    # Preview and result agree row by row: every item's new score and parts are current.
    with app.app_context():
        items = db.session.execute(
            select(RegradeItem.submission_id, RegradeItem.new_score, RegradeItem.new_parts,
                   RegradeItem.done_at, RegradeItem.skipped)
            .where(RegradeItem.regrade_id == shown.regrade_id)
        ).all()
        assert len(items) == 4
        for sid, score, parts, done_at, skipped in items:
            now = db.session.scalar(
                select(Result).where(Result.submission_id == sid, Result.current.is_(True))
            )
            assert now is not None and done_at is not None and not skipped
            assert (now.score, now.parts, now.kind, now.regrade_id, now.reason,
                    now.created_by) == (score, parts, ResultKind.regraded, shown.regrade_id,
                                        "tolerance 2%", teacher.user_id)
        # The earlier result is kept, readable, no longer current.
        submission = db.session.get(Submission, subs["ada"])
        assert submission is not None
        first, second = submission.results
        assert (first.score, first.current, first.kind) == \
            (pytest.approx(before), False, ResultKind.graded)
        assert (second.score, second.current) == (1.0, True)
        assert submission.result is not None and submission.result.id == second.id
    assert [current(app, subs[s])[0] for s in ("ada", "bob", "cat", "dan")] == \
        pytest.approx([1.0, 1.0, 0.0, before])
    assert credit_of(app, ada.user_id) == 1.0
    assert counts_of_results(app) == (8, 4)

    # Applying again writes nothing; a second preview finds nothing.
    with app.app_context():
        assert regrade.run(db.session, shown.regrade_id)["applied"] == 4
        assert regrade.load(db.session, shown.regrade_id).status == "applied"
        again = regrade.preview(db.session, regrade.Scope(homework["aid"]), by=teacher.user_id)
    assert counts_of_results(app) == (8, 4)
    assert again.counts["items"] == 0 and again.rows == [] and again.effects == []


def test_never_lower_keeps_a_score_and_allow_lower_lowers_it(
    app: Flask, homework: dict[str, Any]
) -> None:
    subs, n, teacher = homework["subs"], homework["n"], homework["teacher"]
    before = (n - 1) / n
    # No partial credit: Ada's and Dan's (n-1)/n would become 0.
    set_policy(app, homework["slot"], {"partial_credit": False})
    with app.app_context():
        kept = regrade.preview(db.session, regrade.Scope(homework["aid"]), by=teacher.user_id)
    assert {k: kept.counts[k] for k in ("raised", "lowered", "unchanged", "kept")} == \
        {"raised": 0, "lowered": 0, "unchanged": 2, "kept": 2}
    assert sorted((r.submission_id, r.change) for r in kept.rows) == \
        sorted([(subs["ada"], RegradeChange.kept), (subs["dan"], RegradeChange.kept)])
    assert kept.effects == []
    apply(app, kept.regrade_id, teacher.user_id)
    assert current(app, subs["ada"])[:2] == (pytest.approx(before), ResultKind.graded)
    assert counts_of_results(app) == (6, 4)  # Bob's and Cat's unchanged ones only

    with app.app_context():
        lowered = regrade.preview(db.session, regrade.Scope(homework["aid"]),
                                  by=teacher.user_id, never_lower=False, reason="strict")
    assert {k: lowered.counts[k] for k in ("lowered", "unchanged", "kept")} == \
        {"lowered": 2, "unchanged": 0, "kept": 0}
    assert {e.user_id: (e.old_total, e.new_total) for e in lowered.effects} == {
        homework["students"]["ada"].user_id: (pytest.approx(before), 0.0),
        homework["students"]["dan"].user_id: (pytest.approx(before), 0.0),
    }
    apply(app, lowered.regrade_id, teacher.user_id)
    assert current(app, subs["ada"])[0] == 0.0
    assert credit_of(app, homework["students"]["dan"].user_id) == 0.0


def test_an_override_survives_a_regrade_and_clearing_it_regrades(
    app: Flask, homework: dict[str, Any]
) -> None:
    subs, teacher = homework["subs"], homework["teacher"]
    ada = homework["students"]["ada"]
    with app.app_context():
        made = regrade.override(db.session, subs["ada"], 0.9, "  good reasoning ", teacher.user_id)
        assert (made.kind, made.reason, made.created_by) == \
            (ResultKind.override, "good reasoning", teacher.user_id)
    assert current(app, subs["ada"])[:2] == (0.9, ResultKind.override)
    assert credit_of(app, ada.user_id) == 0.9

    set_policy(app, homework["slot"], {"rtol": 0.02})
    with app.app_context():
        shown = regrade.preview(db.session, regrade.Scope(homework["aid"]), by=teacher.user_id)
    assert shown.overrides == 1 and shown.counts["raised"] == 0 and shown.rows == []
    apply(app, shown.regrade_id, teacher.user_id)
    assert current(app, subs["ada"])[:2] == (0.9, ResultKind.override)

    with app.app_context():
        cleared = regrade.clear_override(db.session, subs["ada"], "back to the grader",
                                         teacher.user_id)
        assert (cleared.kind, cleared.score) == (ResultKind.regraded, 1.0)
    assert credit_of(app, ada.user_id) == 1.0
    with app.app_context():
        assert [r.kind for r in regrade.history(db.session, subs["ada"])] == \
            [ResultKind.graded, ResultKind.override, ResultKind.regraded]


def test_bad_input_is_refused_with_a_reason(app: Flask, homework: dict[str, Any]) -> None:
    subs, teacher = homework["subs"], homework["teacher"]
    with app.app_context():
        session = db.session
        for score in (1.5, -0.1, float("nan")):
            with pytest.raises(regrade.RegradeError, match="from 0 to 1"):
                regrade.override(session, subs["ada"], score, "why", teacher.user_id)
        with pytest.raises(regrade.RegradeError, match="reason"):
            regrade.override(session, subs["ada"], 0.5, "  ", teacher.user_id)
        with pytest.raises(regrade.RegradeError, match="no override"):
            regrade.clear_override(session, subs["ada"], "why", teacher.user_id)
        with pytest.raises(regrade.RegradeError, match="no submission"):
            regrade.override(session, uuid.uuid4(), 0.5, "why", teacher.user_id)
        with pytest.raises(regrade.RegradeError, match="no assignment"):
            regrade.preview(session, regrade.Scope(10**9), by=None)
        with pytest.raises(regrade.RegradeError, match="no slot"):
            regrade.preview(session, regrade.Scope(homework["aid"], slot_id=10**9), by=None)
        first = regrade.preview(session, regrade.Scope(homework["aid"]), by=None)
        second = regrade.preview(session, regrade.Scope(homework["aid"]), by=None)
        # The earlier preview was discarded: it can no longer be applied.
        assert regrade.load(session, first.regrade_id).status == "discarded"
        with pytest.raises(regrade.RegradeError, match="discarded"):
            regrade.start(session, first.regrade_id, teacher.user_id)
        with pytest.raises(regrade.RegradeError, match="not applying"):
            regrade.apply_batch(session, second.regrade_id)
        regrade.start(session, second.regrade_id, teacher.user_id)
        with pytest.raises(regrade.RegradeError, match="being applied"):
            regrade.preview(session, regrade.Scope(homework["aid"]), by=None)
        assert regrade.claim_stalled(session, -1) == [second.regrade_id]
        regrade.run(session, second.regrade_id)
        assert regrade.claim_stalled(session, -1) == []
        with pytest.raises(regrade.RegradeError, match="applied"):
            regrade.start(session, second.regrade_id, teacher.user_id)


def test_one_submission_scope_and_a_fence_that_fails(app: Flask, homework: dict[str, Any]) -> None:
    subs, teacher = homework["subs"], homework["teacher"]
    set_policy(app, homework["slot"], {"rtol": 0.02})
    with app.app_context():
        one = regrade.preview(db.session, regrade.Scope(homework["aid"],
                              submission_id=subs["ada"]), by=teacher.user_id)
        assert one.counts["items"] == 1 and [r.submission_id for r in one.rows] == [subs["ada"]]
        regrade.start(db.session, one.regrade_id, teacher.user_id)
        # An override lands between preview and application: the item is skipped.
        regrade.override(db.session, subs["ada"], 0.2, "by hand", teacher.user_id)
        done = regrade.run(db.session, one.regrade_id)
    assert (done["applied"], done["skipped"]) == (0, 1)
    assert current(app, subs["ada"])[:2] == (0.2, ResultKind.override)


def test_an_applied_regrade_pushes_the_changed_totals_to_the_lms(
    app: Flask, homework: dict[str, Any]
) -> None:
    """The assignment is linked to an LMS line item, and the LMS holds every student's
    total as graded; after the 2% regrade only Ada's total changed: one new push, hers,
    for her new total. (Sending it is tested against a real platform in tests/lti.)"""
    subs, n, teacher = homework["subs"], homework["n"], homework["teacher"]
    students = homework["students"]
    with app.app_context():
        platform = LtiPlatform(issuer="http://127.0.0.1:9", client_id="c",
                               auth_login_url="http://127.0.0.1:9/auth",
                               auth_token_url="http://127.0.0.1:9/token",
                               jwks_url="http://127.0.0.1:9/jwks")
        db.session.add(platform)
        db.session.flush()
        course_id = db.session.scalar(
            select(Assignment.course_id).where(Assignment.id == homework["aid"]))
        context = LtiContext(platform_id=platform.id, deployment_id="d", context_id="c1",
                             course_id=course_id)
        db.session.add(context)
        db.session.flush()
        link = LtiLink(context_id=context.id, resource_link_id="r1",
                       assignment_id=homework["aid"], lineitem_url="http://127.0.0.1:9/li/1")
        db.session.add(link)
        db.session.flush()
        # What the LMS holds: each student's total as graded, sent (slot worth 1 point).
        graded = {"ada": (n - 1) / n, "bob": 1.0, "cat": 0.0, "dan": (n - 1) / n}
        for name, total in graded.items():
            db.session.add(ScorePush(link_id=link.id, user_id=students[name].user_id,
                                     status=PushStatus.sent, score_given=total,
                                     score_maximum=1.0, sent_at=utcnow()))
        db.session.commit()
        link_id = link.id

    set_policy(app, homework["slot"], {"rtol": 0.02})
    with app.app_context():
        shown = regrade.preview(db.session, regrade.Scope(homework["aid"]), by=teacher.user_id)
    assert current(app, subs["ada"])[0] == pytest.approx((n - 1) / n)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ScorePush).where(
            ScorePush.status == PushStatus.pending)) == 0  # a preview pushes nothing
    apply(app, shown.regrade_id, teacher.user_id)
    with app.app_context():
        pending = db.session.execute(
            select(ScorePush.link_id, ScorePush.user_id)
            .where(ScorePush.status == PushStatus.pending)
        ).all()
    assert pending == [(link_id, students["ada"].user_id)]
