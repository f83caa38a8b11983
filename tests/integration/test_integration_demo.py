"""`backprop-quiz demo` (SQLite, in-process worker, memory broker) killed with SIGKILL
in the middle of 1,000 submissions and started again loses none of them."""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from integrationkit import (
    BIN,
    Api,
    Process,
    base_env,
    cli,
    free_port,
    kill_while_grading,
    problems,
    submit_all,
    wait_for,
)

pytestmark = pytest.mark.integration

TOTAL = 1000


class Demo:
    def __init__(self, tmp_path: Path):
        self.env = {**base_env(tmp_path), "SECRET_KEY": ""}  # the demo keeps its own key
        self.port = free_port()
        self.database = tmp_path / "instance" / "backprop-quiz.sqlite3"
        self.tmp_path = tmp_path
        self.runs = 0
        self.process: Process | None = None

    def start(self) -> None:
        self.runs += 1
        argv = [str(BIN), "demo", "--port", str(self.port)]
        self.process = Process(f"demo-{self.runs}", argv, self.env, self.tmp_path).start()

    def counts(self) -> dict[str, int]:
        with sqlite3.connect(self.database, timeout=30) as conn:
            return dict(conn.execute("SELECT status, count(*) FROM submissions GROUP BY status"))

    def ids(self, sql: str) -> set[str]:
        with sqlite3.connect(self.database, timeout=30) as conn:
            return {row[0] for row in conn.execute(sql)}


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    running = Demo(tmp_path)
    yield running
    if running.process is not None:
        running.process.stop()


def test_the_demo_killed_mid_stream_loses_nothing(demo: Demo) -> None:
    demo.start()
    api = Api(f"http://127.0.0.1:{demo.port}", "")
    wait_for(api.healthy, 60, "the demo up")
    assert demo.process is not None
    printed = demo.process.log.read_text()
    assert f"http://127.0.0.1:{demo.port}/" in printed
    assert "student@demo.local / student-demo" in printed
    assert "instructor@demo.local / instructor-demo" in printed
    login = "student@demo.local"
    api.token = cli(demo.env, "tokens", "create", "--email", login)
    keys = problems(api, 20)
    jobs = list(itertools.islice(itertools.cycle(keys), TOTAL))
    caught = []

    def holds_claim(names: list[str]) -> bool:
        sql = "SELECT count(*) FROM submissions WHERE status = 'grading' AND claimed_by IN ({})"
        with sqlite3.connect(demo.database, timeout=30) as conn:
            query = sql.format(",".join("?" * len(names)))
            return conn.execute(query, names).fetchone()[0] > 0

    def kill_and_restart(accepted: int) -> None:
        if accepted == 400:
            # SIGKILL web server, worker threads and memory broker while a row is claimed.
            assert demo.process is not None
            caught.append(kill_while_grading(demo.process, holds_claim))
            demo.start()

    responses = submit_all(
        api, jobs, threads=16, on_accepted=kill_and_restart, retry_until=time.monotonic() + 120
    )
    assert caught == [True]
    assert [getattr(r, "status_code", r) for r in responses] == [202] * TOTAL
    accepted = {r.json()["id"].replace("-", "") for r in responses}
    # Every row the demo committed is graded in the end (a request cut off by the kill may
    # have been committed and then retried by the client, so rows can exceed 1,000).
    wait_for(lambda: set(demo.counts()) == {"graded"}, 120, "every submission graded", every=0.5)
    stored = demo.ids("SELECT id FROM submissions")
    assert accepted <= stored
    graded = demo.ids("SELECT submission_id FROM results")
    assert graded == stored
    # The rows claimed at the kill came back once their lease ran out.
    assert demo.ids("SELECT id FROM submissions WHERE tries >= 2")
