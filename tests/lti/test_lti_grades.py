"""Grades back to the LMS (issue 15, item 4): real submissions graded by the real worker,
pushed by the sweeper's task over HTTP to the test platform's AGS endpoints.

Each test links a course of its own to a platform course of its own (rows written as a
launch would: the context with its AGS and NRPS URLs, the resource link, the students'
LTI identities), so each test sets up only what grading reads; the whole path from a
launch is in test_lti_e2e.py.

The assignment has two weight-gradient slots worth 3 and 2 points: 5 in all. The key
earns a slot its points; a sign-flipped key earns less (its score is read from the
result). So the key on slot 1 is 3 of 5, and the key on both is 5 of 5.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

import jwt
import pytest
import requests
from flask.testing import FlaskClient
from lmsim import LEARNER, TEACHING_ASSISTANT, Context, Lms, LmsUser
from ltikit import Tool, wait_for
from sqlalchemy import delete, select, update

from service import auth
from service.lms import keys
from service.lms.platforms import AGS_SCOPES, NRPS_SCOPE
from service.lms.services import Platform, client_assertion
from service.models import (
    LtiAccessToken,
    LtiContext,
    LtiIdentity,
    LtiLink,
    LtiPlatform,
    Problem,
    PushStatus,
    Role,
    ScorePush,
    utcnow,
)
from worker.tasks import push_backoff

PASSWORD = "correct horse battery"
SLOTS = [
    {"exercise_type": "weight-gradient", "points": 3},
    {"exercise_type": "weight-gradient", "points": 2},
]
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
numbers = itertools.count(1)


@dataclass
class Person:
    """Someone using the tool through its API with a bearer token; ``sub`` on the LMS."""

    user_id: int
    email: str
    token: str
    client: FlaskClient
    sub: str

    def call(self, method: str, path: str, json: Any = None) -> Any:
        return self.client.open(
            path, method=method, json=json, headers={"Authorization": f"Bearer {self.token}"}
        )


@dataclass
class Linked:
    course_id: int
    assignment_id: int
    link_id: int
    resource_link_id: str
    context_pk: int
    context: Context
    teacher: Person
    ta: Person
    students: list[Person]


def _person(tool: Tool, role: Role, n: int, label: str) -> Person:
    email = f"{label}{n}@example.org"
    with tool.db() as session:
        user = auth.create_user(email, PASSWORD, role, name=f"{label.title()} {n}")
        token = auth.issue_token(user)
        session.commit()
        user_id = user.id
    return Person(user_id, email, token, tool.app.test_client(), f"lms-{label}-{n}")


@pytest.fixture
def linked(tool: Tool, lms: Lms, registered: LtiPlatform) -> Linked:
    """A course with one assignment (SLOTS), placed as a link in a platform course of its
    own, with two students known to both; the link has no line item yet."""
    n = next(numbers)
    teacher = _person(tool, Role.instructor, n, "teacher")
    ta = _person(tool, Role.instructor, n, "ta")
    students = [_person(tool, Role.student, n, f"student{i}-") for i in (1, 2, 3)]
    made = teacher.call("POST", "/api/v1/courses", {"code": f"LTI{n}", "title": f"Nets {n}"})
    assert made.status_code == 201
    cid = made.json["id"]
    for person, role in [(ta, "ta"), *[(s, "student") for s in students]]:
        added = teacher.call(
            "POST", f"/api/v1/courses/{cid}/roster", {"email": person.email, "role": role}
        )
        assert added.status_code == 201, added.json
    assignment = teacher.call(
        "POST",
        f"/api/v1/courses/{cid}/assignments",
        {"title": f"Backprop <{n}>", "attempts_allowed": 3, "slots": SLOTS},
    )
    assert assignment.status_code == 201
    context = Context(id=f"grades-{n}", label=f"BP{n}", title=f"Backprop {n}")
    lms.add_context(
        context,
        [
            LmsUser(ta.sub, ta.email, ta.email, [TEACHING_ASSISTANT]),
            *[LmsUser(s.sub, s.email, s.email, [LEARNER]) for s in students],
        ],
    )
    with tool.db() as session:
        row = LtiContext(
            platform_id=registered.id,
            deployment_id=lms.deployment_id,
            context_id=context.id,
            course_id=cid,
            title=context.title,
            lineitems_url=f"{lms.url}/contexts/{context.id}/lineitems",
            memberships_url=f"{lms.url}/contexts/{context.id}/memberships",
            ags_scopes=list(AGS_SCOPES),
        )
        session.add(row)
        session.flush()
        link = LtiLink(
            context_id=row.id, resource_link_id=f"rl-{n}", assignment_id=assignment.json["id"]
        )
        session.add(link)
        session.add_all(
            [LtiIdentity(issuer=lms.issuer, sub=p.sub, user_id=p.user_id) for p in [ta, *students]]
        )
        session.commit()
        link_id, context_pk = link.id, row.id
    return Linked(
        cid, assignment.json["id"], link_id, f"rl-{n}", context_pk, context, teacher, ta, students
    )


def key_of(tool: Tool, problem_id: str) -> list[list[str]]:
    with tool.db() as session:
        problem = session.get(Problem, uuid.UUID(problem_id))
        assert problem is not None
        key: list[list[str]] = problem.variant["key"]["dC_dW"]
        session.commit()
    return key


def submit(
    tool: Tool, linked: Linked, student: Person, position: int, right: bool
) -> dict[str, Any]:
    """The student's answer to a slot, the key or its sign flipped; returns the graded
    submission (graded by the tool's worker)."""
    problem = student.call(
        "POST",
        f"/api/v1/courses/{linked.course_id}/assignments/{linked.assignment_id}"
        f"/slots/{position}/problem",
    ).json
    key = key_of(tool, problem["id"])
    answer = key if right else [[str(-Fraction(str(v))) for v in row] for row in key]
    posted = student.call(
        "POST", f"/api/v1/problems/{problem['id']}/submissions", {"answers": {"dC_dW": answer}}
    )
    assert posted.status_code == 202, posted.json

    def graded() -> dict[str, Any] | None:
        got = student.call("GET", f"/api/v1/submissions/{posted.json['id']}").json
        return got if got["status"] == "graded" else None

    return wait_for(graded, "the submission is graded")  # type: ignore[no-any-return]


def pushes_of(tool: Tool, linked: Linked, student: Person) -> list[ScorePush]:
    with tool.db() as session:
        rows = list(
            session.scalars(
                select(ScorePush)
                .where(ScorePush.link_id == linked.link_id, ScorePush.user_id == student.user_id)
                .order_by(ScorePush.id)
            )
        )
        session.commit()
    return rows


def sent_rows(tool: Tool, linked: Linked, student: Person, count: int) -> list[ScorePush]:
    """Once ``count`` of the student's pushes are marked sent (the tool marks a row after
    the platform took the score), all their rows."""
    return wait_for(  # type: ignore[no-any-return]
        lambda: (
            (rows := pushes_of(tool, linked, student))
            and sum(p.status == PushStatus.sent for p in rows) >= count
            and rows
        ),
        f"{count} push(es) marked sent",
    )


def time_passes(tool: Tool, linked: Linked) -> None:
    """The back-off of the link's pending pushes is over (as if minutes went by)."""
    with tool.db() as session:
        session.execute(
            update(ScorePush)
            .where(
                ScorePush.link_id == linked.link_id,
                ScorePush.status == PushStatus.pending,
                ScorePush.next_try_at > utcnow() + timedelta(seconds=1),
            )
            .values(next_try_at=utcnow())
        )
        session.commit()


def test_a_graded_score_arrives_with_the_right_values_and_never_lower(
    tool: Tool, lms: Lms, linked: Linked
) -> None:
    ada = linked.students[0]
    submit(tool, linked, ada, 1, right=True)
    sent_rows(tool, linked, ada, 1)
    first = lms.scores_for(ada.sub)
    assert len(first) == 1
    score = first[0]
    assert (score["scoreGiven"], score["scoreMaximum"]) == (3.0, 5.0)  # 1 × 3 of 3 + 2
    assert score["activityProgress"] == "InProgress"  # slot 2 not submitted yet
    assert score["gradingProgress"] == "FullyGraded"
    assert datetime.fromisoformat(score["timestamp"]).utcoffset() == timedelta(0)
    # The line item was made for the assignment, bound to the link, and remembered.
    items = [i for i in lms.lineitems.values() if i["context_id"] == linked.context.id]
    assert len(items) == 1
    assert items[0]["resourceId"] == str(linked.assignment_id)
    assert items[0]["resourceLinkId"] == linked.resource_link_id
    assert items[0]["label"].startswith("Backprop <") and items[0]["scoreMaximum"] == 5.0
    assert score["lineitem"] == items[0]["id"]
    with tool.db() as session:
        assert session.get(LtiLink, linked.link_id).lineitem_url == items[0]["id"]  # type: ignore[union-attr]
        session.commit()

    # A worse answer to slot 1 (best score counts): its total is still 3, so nothing is
    # recorded in the grading transaction, and nothing lower can go out.
    worse = submit(tool, linked, ada, 1, right=False)
    assert worse["score"] < 1.0
    assert [(p.status, p.score_given) for p in pushes_of(tool, linked, ada)] == [
        (PushStatus.sent, 3.0)
    ]

    # Slot 2 right: 3 + 2 = 5 of 5, every slot solved.
    submit(tool, linked, ada, 2, right=True)
    sent_rows(tool, linked, ada, 2)
    scores = lms.scores_for(ada.sub)
    assert [(s["scoreGiven"], s["scoreMaximum"]) for s in scores] == [(3.0, 5.0), (5.0, 5.0)]
    assert scores[1]["activityProgress"] == "Completed"
    assert [(p.status, p.score_given, p.score_maximum) for p in pushes_of(tool, linked, ada)] == [
        (PushStatus.sent, 3.0, 5.0),
        (PushStatus.sent, 5.0, 5.0),
    ]


def test_a_total_that_moves_while_its_push_is_in_flight_follows_it(
    tool: Tool, lms: Lms, linked: Linked
) -> None:
    ada = linked.students[0]
    lms.score_gate = threading.Event()  # the platform holds its answer to the score
    seen = len(lms.requests)  # the platform serves every test of the module
    try:
        submit(tool, linked, ada, 1, right=True)
        wait_for(
            lambda: any(p.endswith("/scores") for _, p in lms.requests[seen:]), "a score is sent"
        )
        # Graded while that send (of 3, read before) waits: the row is pending, in flight.
        submit(tool, linked, ada, 2, right=True)
        assert [p.status for p in pushes_of(tool, linked, ada)] == [PushStatus.pending]
    finally:
        lms.score_gate.set()
        lms.score_gate = None
    sent_rows(tool, linked, ada, 2)
    assert [s["scoreGiven"] for s in lms.scores_for(ada.sub)] == [3.0, 5.0]


def test_a_policy_change_that_lowers_a_total_pushes_it(
    tool: Tool, lms: Lms, linked: Linked
) -> None:
    ada = linked.students[0]
    submit(tool, linked, ada, 1, right=True)
    wait_for(lambda: lms.scores_for(ada.sub), "the score reaches the LMS")
    # Due an hour ago, late work worth nothing: the marks are rebuilt and her 3 is 0.
    changed = linked.teacher.call(
        "PATCH",
        f"/api/v1/courses/{linked.course_id}/assignments/{linked.assignment_id}/manage",
        {"due_at": (utcnow() - timedelta(hours=1)).isoformat(), "late_policy": "no_credit"},
    )
    assert changed.status_code == 200, changed.json
    wait_for(lambda: len(lms.scores_for(ada.sub)) == 2, "the lowered score reaches the LMS")
    assert [s["scoreGiven"] for s in lms.scores_for(ada.sub)] == [3.0, 0.0]


def test_the_platform_down_then_up_the_score_arrives_once(
    tool: Tool, lms: Lms, linked: Linked
) -> None:
    ada = linked.students[0]
    lms.down = True
    try:
        submit(tool, linked, ada, 1, right=True)
        wait_for(lambda: pushes_of(tool, linked, ada)[0].attempts >= 1, "a first failed try")
        time_passes(tool, linked)
        wait_for(lambda: pushes_of(tool, linked, ada)[0].attempts >= 2, "a second failed try")
        [push] = pushes_of(tool, linked, ada)
        assert push.status == PushStatus.pending
        assert push.last_error.startswith("HTTP 503: ")
        shown = linked.teacher.call("GET", f"/api/v1/courses/{linked.course_id}/lti").json
        [row] = [p for p in shown["pushes"] if p["id"] == push.id]
        assert (row["status"], row["attempts"]) == ("pending", push.attempts)
        assert row["last_error"] == push.last_error and row["score_given"] is None
        assert lms.scores_for(ada.sub) == []
        # Another total while it waits: still one row, which will carry the newest total.
        submit(tool, linked, ada, 2, right=True)
        assert [p.id for p in pushes_of(tool, linked, ada)] == [push.id]
    finally:
        lms.down = False
    time_passes(tool, linked)
    wait_for(lambda: pushes_of(tool, linked, ada)[0].status == PushStatus.sent, "sent once up")
    [push] = pushes_of(tool, linked, ada)
    assert (push.score_given, push.score_maximum, push.last_error) == (5.0, 5.0, "")
    assert [s["scoreGiven"] for s in lms.scores_for(ada.sub)] == [5.0]  # exactly once


def test_after_the_last_try_a_push_fails_and_an_instructor_resends_it(
    tool: Tool, lms: Lms, linked: Linked
) -> None:
    ada = linked.students[0]
    allowed = tool.celery.settings.lti_push_attempts
    lms.down = True
    try:
        submit(tool, linked, ada, 1, right=True)

        def failed() -> bool:
            time_passes(tool, linked)
            return pushes_of(tool, linked, ada)[0].status == PushStatus.failed

        wait_for(failed, f"the push fails after {allowed} tries")
        [push] = pushes_of(tool, linked, ada)
        assert push.attempts == allowed and "503" in push.last_error
    finally:
        lms.down = False
    resend = f"/api/v1/courses/{linked.course_id}/lti/pushes/{push.id}/resend"
    assert linked.ta.call("POST", resend).status_code == 403
    assert ada.call("POST", resend).status_code == 404
    assert linked.students[1].call("POST", resend).status_code == 404
    again = linked.teacher.call("POST", resend)
    assert again.status_code == 200
    assert (again.json["status"], again.json["attempts"]) == ("pending", 0)
    wait_for(lambda: pushes_of(tool, linked, ada)[0].status == PushStatus.sent, "resent")
    assert [s["scoreGiven"] for s in lms.scores_for(ada.sub)] == [3.0]
    assert linked.teacher.call("POST", resend).status_code == 409  # sent: nothing to resend


def test_one_access_token_serves_many_pushes_and_a_refused_one_is_replaced(
    tool: Tool, lms: Lms, linked: Linked
) -> None:
    with tool.db() as session:
        session.execute(delete(LtiAccessToken))
        session.commit()
    before = lms.tokens_issued
    ada, grace, alan = linked.students
    submit(tool, linked, ada, 1, right=True)
    submit(tool, linked, grace, 1, right=True)
    wait_for(lambda: lms.scores_for(ada.sub) and lms.scores_for(grace.sub), "both scores")
    assert lms.tokens_issued - before == 1
    lms.revoke_tokens()  # the platform forgets it: the next request is a 401
    submit(tool, linked, alan, 2, right=True)
    [push] = sent_rows(tool, linked, alan, 1)
    assert lms.scores_for(alan.sub) and lms.tokens_issued - before == 2
    assert (push.status, push.attempts, push.score_given) == (PushStatus.sent, 1, 2.0)


# --- the platform is a faithful oracle: it refuses what the specifications refuse -------------


def _assertion(tool: Tool, registered: LtiPlatform, **claims: Any) -> str:
    with tool.db() as session:
        if not claims:
            signed = client_assertion(session, Platform.of(registered))
        else:
            key = keys.signing_key(session)
            now = int(time.time())
            body = {
                "iss": registered.client_id,
                "sub": registered.client_id,
                "aud": registered.auth_token_url,
                "iat": now,
                "exp": now + 60,
                "jti": uuid.uuid4().hex,
            } | claims
            signed = jwt.encode(body, key.private_pem, algorithm="RS256", headers={"kid": key.kid})
        session.commit()
    return signed


def _token(lms: Lms, assertion: str, scope: str) -> requests.Response:
    return requests.post(
        f"{lms.url}/token",
        timeout=10,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
            "scope": scope,
        },
    )


def test_the_platform_refuses_a_replayed_assertion(
    tool: Tool, lms: Lms, registered: LtiPlatform
) -> None:
    assertion = _assertion(tool, registered)
    assert _token(lms, assertion, NRPS_SCOPE).status_code == 200
    again = _token(lms, assertion, NRPS_SCOPE)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_client")


def test_the_platform_refuses_an_assertion_for_another_audience(
    tool: Tool, lms: Lms, registered: LtiPlatform
) -> None:
    refused = _token(
        lms, _assertion(tool, registered, aud="https://elsewhere.example/token"), NRPS_SCOPE
    )
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_client")


def test_the_platform_refuses_a_score_without_its_scope_or_timestamp(
    tool: Tool, lms: Lms, linked: Linked, registered: LtiPlatform
) -> None:
    ada = linked.students[0]
    submit(tool, linked, ada, 1, right=True)
    [score] = wait_for(lambda: lms.scores_for(ada.sub), "a line item exists")
    url = score["lineitem"] + "/scores"
    body = {
        "userId": ada.sub,
        "scoreGiven": 1,
        "scoreMaximum": 5,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "timestamp": utcnow().isoformat(timespec="microseconds"),
    }
    nrps_only = _token(lms, _assertion(tool, registered), NRPS_SCOPE).json()["access_token"]
    score_too = _token(lms, _assertion(tool, registered), AGS_SCOPES[2]).json()["access_token"]

    def post(token: str, sent: dict[str, Any]) -> requests.Response:
        return requests.post(
            url,
            json=sent,
            timeout=10,
            headers={"Authorization": f"Bearer {token}", "Content-Type": SCORE_TYPE},
        )

    assert post(nrps_only, body).status_code == 403
    assert post(score_too, {k: v for k, v in body.items() if k != "timestamp"}).status_code == 400
    assert post(score_too, body | {"scoreMaximum": None}).status_code == 400
    assert post(score_too, body | {"userId": "nobody"}).status_code == 422
    assert lms.scores_for(ada.sub) == [score]  # none of those was taken


@pytest.mark.parametrize(
    ("attempts", "low", "high"), [(1, 30, 60), (2, 60, 120), (7, 1800, 3600), (12, 1800, 3600)]
)
def test_a_failed_push_waits_longer_each_time_with_jitter(
    attempts: int, low: float, high: float
) -> None:
    waits = [push_backoff(attempts) for _ in range(200)]
    assert all(low <= w <= high for w in waits)
    assert len(set(waits)) > 1  # jittered: pushes failed by one outage spread out
