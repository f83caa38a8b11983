"""API v1 for regrades (issue 16): grading policies (assignment and slot) with their named
errors, accepting an answer, preview → apply by the worker task, overrides, the result's
history, who may call what, and the OpenAPI document; on SQLite and PostgreSQL.

The class is the dashboard test's (``test_dash_regrade``): Ada and Grace each answered
3 × their key on the one weight-gradient slot (2 points), which no mistake names.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from test_dash_regrade import REASON, Class, klass, run_regrades  # noqa: F401 -- fixture

BASE = "/api/v1/courses/{cid}/assignments/{aid}"


def base(k: Class) -> str:
    return BASE.format(cid=k.cid, aid=k.aid)


def put(caller: Any, path: str, body: Any) -> Any:
    return caller._call("PUT", path, json=body)


def test_policy_get_put_and_named_errors(klass: Class) -> None:  # noqa: F811
    k = klass
    got = k.ta.get(base(k) + "/grading-policy")
    assert got.status_code == 200
    assert got.json["policy"] is None and got.json["slots"][0]["stale"] == 0
    first = got.json["slots"][0]["grader_version"]
    bad = put(k.teacher, base(k) + "/grading-policy", {"policy": {"rtol": 2}})
    assert bad.status_code == 422
    assert bad.json["error"]["code"] == "invalid_policy"
    assert "rtol" in bad.json["error"]["fields"]
    unknown = put(k.teacher, base(k) + "/grading-policy", {"policy": {"tolerance": 0.1}})
    assert unknown.status_code == 422 and "tolerance" in unknown.json["error"]["fields"]
    tag = put(k.teacher, base(k) + "/grading-policy",
              {"policy": {"mistake_credit": {"no-such-mistake": 0.5}}})
    assert tag.status_code == 422 and "mistake_credit" in tag.json["error"]["fields"]
    assert k.teacher.get(base(k) + "/grading-policy").json["policy"] is None  # nothing saved
    ok = put(k.teacher, base(k) + "/grading-policy", {"policy": {"rtol": 0.01}})
    assert ok.status_code == 200 and ok.json["policy"] == {"rtol": 0.01}
    slot = ok.json["slots"][0]
    assert slot["grader_version"] != first and slot["stale"] == 2  # both made before
    # A slot's own fields over the assignment's.
    slot_put = put(k.teacher, base(k) + "/slots/1/grading-policy",
                   {"policy": {"partial_credit": False}})
    assert slot_put.status_code == 200
    assert slot_put.json["effective"] == {"rtol": 0.01, "partial_credit": False}
    bad_slot = put(k.teacher, base(k) + "/slots/1/grading-policy",
                   {"policy": {"accepted": [{"part": "dC_dW", "relation": "3 × the key"}]}})
    assert bad_slot.status_code == 422 and "reason" in bad_slot.json["error"]["message"]
    assert put(k.teacher, base(k) + "/slots/9/grading-policy", {"policy": {}}
               ).status_code == 404


def test_authorization(klass: Class) -> None:  # noqa: F811
    k = klass
    # A TA: reads, previews, overrides; changes no policy and accepts nothing (403).
    assert put(k.ta, base(k) + "/grading-policy", {"policy": {"rtol": 0.01}}).status_code == 403
    assert k.ta.post(base(k) + "/accepted", json={
        "submission_id": str(k.subs["ada"]), "part": "dC_dW", "reason": "x"}).status_code == 403
    made = k.ta.post(base(k) + "/regrades", json={"reason": "check"})
    assert made.status_code == 201, made.json
    rid = made.json["id"]
    # Students and outsiders: 404 everywhere, even on their own submission's override.
    for who in (k.ada, k.outsider):
        for method, path, body in (
            ("GET", "/grading-policy", None),
            ("PUT", "/grading-policy", {"policy": {}}),
            ("GET", "/slots/1/grading-policy", None),
            ("POST", "/accepted", {"submission_id": str(k.subs["ada"]), "part": "dC_dW",
                                   "reason": "x"}),
            ("POST", "/regrades", {"reason": "x"}),
            ("GET", "/regrades", None),
            ("GET", f"/regrades/{rid}", None),
            ("POST", f"/regrades/{rid}/apply", None),
            ("POST", f"/submissions/{k.subs['ada']}/override", {"score": 1, "reason": "x"}),
            ("DELETE", f"/submissions/{k.subs['ada']}/override", None),
        ):
            got = who._call(method, base(k) + path, json=body)
            assert got.status_code == 404, (who.email, method, path, got.status_code)
    # Another course's regrade id is not found here.
    assert k.teacher.get(base(k) + "/regrades/99999").status_code == 404


def test_accept_preview_apply_history(app: Flask, klass: Class) -> None:  # noqa: F811
    k = klass
    not_wrong = k.teacher.post(base(k) + "/accepted", json={
        "submission_id": str(k.subs["ada"]), "part": "nope", "reason": REASON})
    assert not_wrong.status_code == 422 and "part" in not_wrong.json["error"]["fields"]
    done = k.teacher.post(base(k) + "/accepted", json={
        "submission_id": str(k.subs["ada"]), "part": "dC_dW", "reason": REASON})
    assert done.status_code == 201, done.json
    assert done.json == {"slot": 1, "accepted": {
        "part": "dC_dW", "relation": "3 × the key", "credit": 1.0, "reason": REASON}}
    made = k.teacher.post(base(k) + "/regrades", json={"slot": 1, "reason": REASON})
    assert made.status_code == 201
    p = made.json
    assert p["status"] == "previewed" and p["never_lower"] is True
    assert p["counts"]["raised"] == 2 and p["counts"].get("lowered", 0) == 0
    raised = {r["email"]: (r["old_score"], r["new_score"]) for r in p["rows"]
              if r["change"] == "raised"}
    assert raised == {"ada@example.org": (k.old["ada"], 1.0),
                      "grace@example.org": (k.old["grace"], 1.0)}
    assert {e["email"]: (e["old_total"], e["new_total"]) for e in p["effects"]} == {
        "ada@example.org": (k.old["ada"], 1.0), "grace@example.org": (k.old["grace"], 1.0)}
    applied = k.ta.post(base(k) + f"/regrades/{p['id']}/apply")
    assert applied.status_code == 202 and applied.json["status"] == "applying"
    again = k.teacher.post(base(k) + f"/regrades/{p['id']}/apply")
    assert again.status_code == 409
    run_regrades(app)
    after = k.teacher.get(base(k) + f"/regrades/{p['id']}").json
    assert after["status"] == "applied" and after["applied_by"] == k.ta.email
    # The preview and the applied result agree, row by row.
    for name, who in (("ada", k.ada), ("grace", k.grace)):
        got = who.get(f"/api/v1/submissions/{k.subs[name]}").json
        assert got["score"] == 1.0 and got["result_kind"] == "regraded"
        assert got["result_reason"] == REASON
        assert [(h["score"], h["kind"], h["reason"]) for h in got["history"]] == [
            (k.old[name], "graded", "")]
    log = k.ta.get(base(k) + "/regrades").json
    assert [(r["id"], r["status"], r["reason"]) for r in log] == [(p["id"], "applied", REASON)]


def test_override_and_clear(klass: Class) -> None:  # noqa: F811
    k = klass
    path = base(k) + f"/submissions/{k.subs['grace']}/override"
    assert k.ta.post(path, json={"score": 1.5, "reason": "x"}).status_code == 422
    assert k.ta.post(path, json={"score": 0.75}).status_code == 422  # a reason is required
    set_ = k.ta.post(path, json={"score": 0.75, "reason": "regraded by hand"})
    assert set_.status_code == 200, set_.json
    assert set_.json["score"] == 0.75 and set_.json["result_kind"] == "override"
    mine = k.grace.get(f"/api/v1/submissions/{k.subs['grace']}").json
    assert mine["result_kind"] == "override" and mine["result_reason"] == "regraded by hand"
    assert [h["kind"] for h in mine["history"]] == ["graded"]
    # A regrade leaves the override alone.
    made = k.teacher.post(base(k) + "/regrades", json={"reason": "all", "never_lower": False})
    assert made.json["overrides"] == 1
    assert all(r["email"] != "grace@example.org" for r in made.json["rows"])
    cleared = k.ta.delete(path)
    assert cleared.status_code == 200 and cleared.json["result_kind"] != "override"
    assert cleared.json["score"] == k.old["grace"]
    assert k.ta.delete(path).status_code == 409


def test_openapi_documents_the_routes(klass: Class) -> None:  # noqa: F811
    doc = klass.teacher.get("/api/v1/openapi.json").json
    paths = doc["paths"]
    prefix = "/api/v1/courses/{course_id}/assignments/{assignment_id}"
    for path, methods in {
        "/grading-policy": {"get", "put"},
        "/slots/{position}/grading-policy": {"get", "put"},
        "/accepted": {"post"},
        "/regrades": {"get", "post"},
        "/regrades/{regrade_id}": {"get"},
        "/regrades/{regrade_id}/apply": {"post"},
        "/submissions/{submission_id}/override": {"post", "delete"},
    }.items():
        assert methods <= set(paths[prefix + path]), path
    result = doc["components"]["schemas"]["SubmissionResult"]["properties"]
    assert {"grader_version", "result_kind", "history"} <= set(result)
