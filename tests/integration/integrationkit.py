"""Real processes for the integration tests: a private redis-server, `backprop-quiz`
subprocesses (serve, worker, demo) in their own process groups, and an HTTP load driver."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import requests

BIN = Path(sys.executable).with_name("backprop-quiz")
REDIS_SERVER = "/usr/bin/redis-server"


# Short leases and sweeps, so recovery happens within a test's patience.
FAST_RECOVERY = {
    "GRADING_SOFT_TIME_LIMIT": "4",
    "GRADING_TIME_LIMIT": "5",
    "GRADING_LEASE_SECONDS": "8",
    "SWEEP_INTERVAL_SECONDS": "1",
    "SWEEP_REQUEUE_AFTER_SECONDS": "5",
    "LOG_LEVEL": "WARNING",
}


def base_env(tmp_path: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {
        **keep,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "integration-secret-key-0123456789",
        **FAST_RECOVERY,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check: Callable[[], bool], timeout: float, what: str, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout} s")
        time.sleep(every)


class Process:
    """A subprocess in its own session, so a signal reaches it and all its children."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path):
        self.name, self.argv, self.env = name, argv, env
        self.log = log_dir / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (SIGKILL: the process and its pool die at once)."""
        assert self.popen is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)
        self.popen.wait(timeout=30)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``grace`` seconds."""
        if not self.alive():
            return
        assert self.popen is not None
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.kill()

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


def claimants(process: Process) -> list[str]:
    """The ``claimed_by`` names (host:pid) of every process in ``process``'s group."""
    assert process.popen is not None
    group = process.popen.pid
    host = socket.gethostname()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == group:
                    pids.append(int(entry.name))
            except ProcessLookupError:
                continue
    return [f"{host}:{pid}" for pid in pids]


def kill_while_grading(
    process: Process, holds_claim: Callable[[list[str]], bool], attempts: int = 2000
) -> bool:
    """Freeze the group (SIGSTOP) until it is caught holding a claim on a submission, then
    SIGKILL it there; True if it was caught (it is killed either way)."""
    assert process.popen is not None
    names = claimants(process)
    for _ in range(attempts):
        os.killpg(process.popen.pid, signal.SIGSTOP)
        if holds_claim(names):
            process.kill()
            return True
        os.killpg(process.popen.pid, signal.SIGCONT)
        time.sleep(0.002)
    process.kill()
    return False


class RedisServer:
    """A private redis-server on a free port, with no persistence: stopping it loses the
    queue, which is the worst case for the pipeline (the database must carry it)."""

    def __init__(self, log_dir: Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = Process(
            f"redis-{self.port}",
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            dict(os.environ),
            log_dir,
        )

    def start(self) -> None:
        self.process.start()
        wait_for(self.ping, 10, "redis-server answering")

    def stop(self) -> None:
        self.process.kill()

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def cli(env: dict[str, str], *args: str) -> str:
    """Run a backprop-quiz command to completion and return its stdout."""
    done = subprocess.run(
        [str(BIN), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"backprop-quiz {' '.join(args)} failed: {done.stderr}")
    return done.stdout.strip()


@dataclass
class Api:
    """A bearer-token client of one base URL; one requests.Session per thread."""

    base: str
    token: str
    _local: threading.local = field(default_factory=threading.local)

    def session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
            self._local.session.headers["Authorization"] = f"Bearer {self.token}"
        return self._local.session

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session().request(method, self.base + path, timeout=60, **kwargs)

    def healthy(self) -> bool:
        try:
            return requests.get(self.base + "/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False


def problems(api: Api, count: int) -> list[tuple[str, dict[str, Any]]]:
    """``count`` practice problems of the weight-gradient type and their keys."""
    import exercises as ex

    out = []
    for seed in range(count):
        response = api.call(
            "POST", "/api/v1/problems", json={"type": "weight-gradient", "seed": seed}
        )
        response.raise_for_status()
        out.append((response.json()["id"], ex.generate("weight-gradient", seed, 1).key))
    return out


def submit_all(
    api: Api,
    jobs: Iterable[tuple[str, dict[str, Any]]],
    threads: int = 32,
    on_accepted: Callable[[int], None] | None = None,
    retry_until: float | None = None,
) -> list[requests.Response | Exception]:
    """POST every (problem id, answers) concurrently; with ``retry_until`` (a monotonic
    deadline) a refused connection is retried, as a client would while a server restarts."""
    accepted = 0
    lock = threading.Lock()

    def post(job: tuple[str, dict[str, Any]]) -> requests.Response | Exception:
        nonlocal accepted
        problem_id, answers = job
        while True:
            try:
                response = api.call(
                    "POST", f"/api/v1/problems/{problem_id}/submissions", json={"answers": answers}
                )
            except requests.RequestException as exc:
                if retry_until is None or time.monotonic() > retry_until:
                    return exc
                time.sleep(0.2)
                continue
            if response.status_code == 202:
                with lock:
                    accepted += 1
                    count = accepted
                if on_accepted is not None:
                    on_accepted(count)
            return response

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(post, jobs))


@dataclass
class Stack:
    """The production shape on this machine: web, two workers, PostgreSQL, Redis."""

    env: dict[str, str]
    web: Process
    workers: list[Process]
    api: Api
    database_url: str
    log_dir: Path

    def new_worker(self, name: str) -> Process:
        return Process(name, [str(BIN), "worker", "--concurrency", "2"], self.env, self.log_dir)

    def query(self, sql: str) -> list[tuple]:
        with psycopg.connect(self.database_url) as conn:
            return conn.execute(sql).fetchall()

    def counts(self) -> dict[str, int]:
        return dict(self.query("SELECT status, count(*) FROM submissions GROUP BY status"))
