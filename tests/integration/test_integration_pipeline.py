"""The Done-when scenarios of issue 3 over HTTP, against real servers and processes."""

from __future__ import annotations

import itertools
import time

import psycopg
import pytest
import requests
from integrationkit import Stack, kill_while_grading, problems, submit_all, wait_for

pytestmark = pytest.mark.integration

TOTAL = 1000


def graded_exactly_once(stack: Stack, accepted: set[str], timeout: float) -> None:
    """Wait until every row is graded, then check: one result per accepted submission."""
    wait_for(
        lambda: stack.counts() == {"graded": len(accepted)}, timeout, f"{len(accepted)} graded"
    )
    rows = stack.query(
        "SELECT s.id::text, count(r.id) FROM submissions s "
        "LEFT JOIN results r ON r.submission_id = s.id GROUP BY s.id"
    )
    assert {sid for sid, _ in rows} == accepted
    assert all(results == 1 for _, results in rows)
    (total,) = stack.query("SELECT count(*) FROM results")[0]
    assert total == len(accepted)


def test_a_worker_killed_mid_stream_loses_nothing_and_grades_nothing_twice(stack: Stack) -> None:
    keys = problems(stack.api, 20)
    jobs = list(itertools.islice(itertools.cycle(keys), TOTAL))
    caught = []

    def holds_claim(names: list[str]) -> bool:
        sql = "SELECT count(*) FROM submissions WHERE status = 'grading' AND claimed_by = ANY(%s)"
        with psycopg.connect(stack.database_url) as conn:
            return conn.execute(sql, (names,)).fetchone()[0] > 0

    def kill_one_worker(accepted: int) -> None:
        if accepted == TOTAL // 3:
            # SIGKILL the worker and its pool while one of them holds a claim.
            caught.append(kill_while_grading(stack.workers[0], holds_claim))
            stack.workers.append(stack.new_worker("worker-1-restarted").start())

    responses = submit_all(stack.api, jobs, threads=32, on_accepted=kill_one_worker)
    assert caught == [True]
    assert [getattr(r, "status_code", r) for r in responses] == [202] * TOTAL
    accepted = {r.json()["id"] for r in responses}
    assert len(accepted) == TOTAL
    graded_exactly_once(stack, accepted, timeout=120)
    # The rows the dead worker held came back after their lease, and were graded once.
    (retried,) = stack.query("SELECT count(*) FROM submissions WHERE tries >= 2")[0]
    assert retried >= 1
    # Every graded submission got the key, so every score is full marks.
    assert stack.query("SELECT min(score), max(score) FROM results") == [(1.0, 1.0)]
    # Each result carries the student model's evidence, written in the same statement:
    # every part of a key is a right answer to its skill.
    outcomes = stack.query(
        "SELECT part->>'outcome', count(*) FROM results, "
        "jsonb_array_elements(evidence->'parts') AS part GROUP BY 1"
    )
    assert [o for o, _ in outcomes] == ["right"]
    assert stack.query("SELECT count(*) FROM results WHERE evidence IS NULL") == [(0,)]


def test_submissions_while_redis_is_down_are_accepted_and_graded_after(
    stack: Stack, redis_server: object
) -> None:
    keys = problems(stack.api, 10)
    before = submit_all(stack.api, keys * 5)
    assert [r.status_code for r in before] == [202] * 50
    wait_for(lambda: stack.counts() == {"graded": 50}, 60, "the first 50 graded")

    redis_server.stop()
    during = submit_all(stack.api, keys * 20, threads=16)
    assert [getattr(r, "status_code", r) for r in during] == [202] * 200
    time.sleep(2)  # the sweepers try (and fail) to publish meanwhile
    assert stack.counts().get("queued", 0) == 200

    redis_server.start()
    accepted = {r.json()["id"] for r in before + during}
    graded_exactly_once(stack, accepted, timeout=120)
    assert stack.api.healthy()
    health = requests.get(stack.api.base + "/healthz", timeout=5).json()
    assert health["broker"] == "ok"
