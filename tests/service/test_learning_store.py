"""The student model's storage: grading writes each result's evidence with the result, a
read folds a student's current results, and evidence written is evidence derived."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from servicekit import Caller, grade_queued
from sqlalchemy import select, update

import exercises as ex
from exercises import learning
from exercises.problem import value_to_json
from service import learning as stored
from service.db import db
from service.models import Result


def transposed(seed: int) -> dict[str, object]:
    """The answers of a student who forms x·δᵀ: the engine's own prediction of that mistake."""
    variant = ex.generate("weight-gradient", seed, 1)
    (wrong,) = [p.value for p in variant.predictions["dC_dW"] if p.tags == ("transposed-gradient",)]
    return {"dC_dW": value_to_json("matrix", wrong)}


def practise(student: Caller, seed: int, answers: dict[str, object]) -> str:
    made = student.post("/api/v1/problems",
                        json={"type": "weight-gradient", "seed": seed, "difficulty": 1})
    assert made.status_code == 201, made.json
    sent = student.post(f"/api/v1/problems/{made.json['id']}/submissions",
                        json={"answers": answers})
    assert sent.status_code == 202, sent.json
    return str(sent.json["id"])


def test_grading_writes_the_evidence_a_read_would_derive(
        app: Flask, make_caller: Callable[..., Caller]) -> None:
    ada, bob = make_caller(), make_caller()
    first, second = practise(ada, 11, transposed(11)), practise(ada, 12, transposed(12))
    practise(bob, 11, {"dC_dW": ex.generate("weight-gradient", 11, 1).key["dC_dW"]})
    grade_queued(app)
    with app.app_context():
        rows = db.session.execute(select(Result.id, Result.evidence)).all()
        assert len(rows) == 3 and all(e is not None for _, e in rows)
        derived = stored._derive([rid for rid, _ in rows])
        assert {rid: learning.Evidence.from_json(e) for rid, e in rows} == derived

        mine = stored.progress(ada.user_id)
        assert [str(a.submission_id) for a in mine.history] == [first, second]
        assert mine.model.likely() == ["transposed-gradient"]
        record = mine.records["transposed-gradient"]
        assert record.sentence() == "Transposed gradient in 2 of your last 2 dC/dW answers"
        assert [str(s) for s in record.named] == [first, second]
        # Bob answered the key: transposing is less likely for him than for a newcomer.
        theirs = stored.progress(bob.user_id).model
        assert theirs.beliefs["transposed-gradient"] < learning.DEFAULT_PARAMETERS.belief_prior
        assert theirs.likely() == []


def test_a_result_without_evidence_counts_the_same(
        app: Flask, make_caller: Callable[..., Caller]) -> None:
    """Regrades, overrides and older results carry no evidence: the read derives it."""
    ada = make_caller()
    practise(ada, 11, transposed(11))
    practise(ada, 12, {"dC_dW": ex.generate("weight-gradient", 12, 1).key["dC_dW"]})
    grade_queued(app)
    with app.app_context():
        before = stored.progress(ada.user_id).model
        db.session.execute(update(Result).values(evidence=None))
        db.session.commit()
        after = stored.progress(ada.user_id).model
        assert after == before
        assert after.shown == {"transposed-gradient": 1}
