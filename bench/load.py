"""Load benchmark of the grading pipeline on PostgreSQL + Redis (prints figures; no assertions).

One run interleaves short rounds of four phases, since the machine's speed drifts by a
fifth within a minute, and takes each ratio within its round (the median is the figure):
  floor     a bare Flask endpoint inserting one row (bench/floor.py), same gunicorn settings
  intake    the same number of submissions posted while the workers are stopped (SIGSTOP),
            so none is graded: what the web app and the database alone take in, a ceiling
            on the rate e2e can grade at
  drain     the workers resumed (SIGCONT) grade the intake's backlog, its tasks as full as
            the outbox made them: what grading costs per submission at best
  e2e       submissions posted as fast as the clients can: graded/s end to end, and the
            latency from the client's send (and from the server's received_at) to the row's
            graded_at (same host, same clock)
Then:
  paced     submissions offered at fixed rates (default 200/s, then 100/s): p50/p99 of the
            POST, of client sent -> graded, and of received -> graded
  CPU       milliseconds of CPU per request of each phase by process (web, workers, Redis,
            PostgreSQL, this load generator), read from /proc: on a machine the benchmark
            saturates, the ratio of two phases' CPU is what bounds the ratio of their rates
  stolen    the share of the CPUs' time the hypervisor gave to other guests during each
            round and paced run (/proc/stat): a virtual machine's neighbours stall it for
            tens to hundreds of milliseconds at a time, whatever the code does

It starts everything itself: a fresh database on the local PostgreSQL (migrated by
`backprop-quiz db upgrade`), a private redis-server with its append-only file on,
`backprop-quiz serve`, `backprop-quiz worker`(s) and the floor app.

    .venv/bin/python bench/load.py [--rounds 5] [--submissions 2000] [--students 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis

import exercises as ex

BIN = Path(sys.executable).with_name("backprop-quiz")
GUNICORN = Path(sys.executable).with_name("gunicorn")
HERE = Path(__file__).resolve().parent
PAUSE_SECONDS = 3.0  # quiet before each paced run
ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(url)


# --- a small keep-alive HTTP/1.1 client, cheap enough not to be the bottleneck ------------

# One POST: path, JSON body, and its extra header lines (the caller's bearer token).
Job = tuple[str, bytes, str]


def bearer(token: str) -> str:
    return f"Authorization: Bearer {token}\r\n"


class Connection:
    # gunicorn closes a keep-alive connection idle for 5 s; reconnect well before that,
    # rather than race the server's close with a request.
    MAX_IDLE = 2.0

    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.used = 0.0

    async def post(self, job: Job) -> tuple[int, bytes]:
        path, body, head = job
        if self.writer is not None and time.monotonic() - self.used > self.MAX_IDLE:
            self.writer.close()
            self.writer = None
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"{head}Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        status = int((await self.reader.readline()).split()[1])
        length, close = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        payload = await self.reader.readexactly(length)
        self.used = time.monotonic()
        if close:
            self.writer.close()
            self.writer = None
        return status, payload


@dataclass
class Run:
    seconds: float
    latencies: list[float]  # client-side POST latencies, seconds
    statuses: dict[int, int]
    ids: list[str]
    sent: dict[str, float]  # id -> wall-clock time the client sent it


async def closed_loop(port: int, jobs: list[Job], clients: int) -> Run:
    """``clients`` connections each post the next job as soon as the last one answered."""
    queue = iter(jobs)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    ids: list[str] = []
    sent: dict[str, float] = {}

    async def client() -> None:
        connection = Connection(port)
        for job in queue:
            wall, start = time.time(), time.perf_counter()
            status, payload = await connection.post(job)
            latencies.append(time.perf_counter() - start)
            statuses[status] = statuses.get(status, 0) + 1
            if status in (201, 202):
                ids.append(json.loads(payload)["id"])
                sent[ids[-1]] = wall

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return Run(time.perf_counter() - start, latencies, statuses, ids, sent)


async def open_loop(port: int, jobs: list[Job], rate: float) -> Run:
    """Offer one job every 1/rate seconds, whatever the server's pace (idle connections reused)."""
    idle: list[Connection] = []
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    ids: list[str] = []
    sent: dict[str, float] = {}

    async def send(job: Job) -> None:
        connection = idle.pop() if idle else Connection(port)
        wall, start = time.time(), time.perf_counter()
        status, payload = await connection.post(job)
        latencies.append(time.perf_counter() - start)
        statuses[status] = statuses.get(status, 0) + 1
        if status == 202:
            ids.append(json.loads(payload)["id"])
            sent[ids[-1]] = wall
        idle.append(connection)

    start = time.perf_counter()
    tasks = []
    for i, job in enumerate(jobs):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(job)))
    await asyncio.gather(*tasks)
    return Run(time.perf_counter() - start, latencies, statuses, ids, sent)


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 10) - 1] if len(values) > 1 else values[0]


# --- the system under test ----------------------------------------------------------------


# --- CPU by process, from /proc ----------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def stolen() -> float:
    """CPU seconds the hypervisor gave elsewhere while this machine's CPUs wanted to run,
    summed over them (the ``steal`` column of /proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return int(fields[8]) / TICK


class Stopwatch:
    """Wall time, and the share of the CPUs' time stolen by the hypervisor, since started."""

    def __init__(self) -> None:
        self.wall, self.steal = time.monotonic(), stolen()

    def stolen_share(self) -> float:
        wall = (time.monotonic() - self.wall) * (os.cpu_count() or 1)
        return (stolen() - self.steal) / wall if wall > 0 else 0.0


def _proc_stats() -> dict[int, tuple[str, int, float]]:
    """pid -> (command, session id, CPU seconds of it and of its reaped children)."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                raw = (entry / "stat").read_text()
            except OSError:
                continue
            command, fields = (
                raw[raw.index("(") + 1 : raw.rindex(")")],
                raw[raw.rindex(")") + 2 :].split(),
            )
            ticks = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
            out[int(entry.name)] = (command, int(fields[3]), ticks / TICK)
    return out


@dataclass
class CpuMeter:
    """CPU seconds spent by each role between ``start()`` and ``stop()``.

    A role is a set of session ids (each spawned process leads its own session) or, for
    PostgreSQL, every ``postgres`` process; a process that exits in between is counted
    through its parent's reaped-children time.
    """

    roles: dict[str, set[int]]

    def _split(self) -> dict[str, float]:
        totals = dict.fromkeys([*self.roles, "postgres", "load generator"], 0.0)
        for pid, (command, sid, seconds) in _proc_stats().items():
            if pid == os.getpid():
                totals["load generator"] += seconds
            elif command.startswith("postgres"):
                totals["postgres"] += seconds
            else:
                for role, sids in self.roles.items():
                    if sid in sids:
                        totals[role] += seconds
        return totals

    def start(self) -> None:
        self._start = self._split()

    def stop(self) -> dict[str, float]:
        return {role: t - self._start[role] for role, t in self._split().items()}


@dataclass
class System:
    env: dict[str, str]
    database_url: str
    web_port: int
    floor_port: int
    tokens: list[str]  # one student's API token each
    cpu: CpuMeter
    workers: Callable[[signal.Signals], None]  # sends the signal to every worker process


@contextmanager
def system(args: argparse.Namespace) -> Iterator[System]:
    name = f"bpq_bench_{uuid.uuid4().hex[:8]}"
    database_url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    workdir = Path(tempfile.mkdtemp(prefix="bpq-bench-"))
    redis_port, web_port, floor_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "INSTANCE_PATH": str(workdir / "instance"),
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
        "SECRET_KEY": "benchmark-secret-key-0123456789",
        "LOG_LEVEL": "WARNING",
    }
    processes: list[subprocess.Popen[bytes]] = []
    roles: dict[str, set[int]] = {}

    def spawn(argv: list[str], log: str, role: str) -> None:
        with (workdir / log).open("wb") as out:
            processes.append(
                subprocess.Popen(
                    argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
        roles.setdefault(role, set()).add(processes[-1].pid)

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        subprocess.run([str(BIN), "db", "upgrade"], env=env, check=True, capture_output=True)
        with psycopg.connect(database_url, autocommit=True) as conn:
            from floor import CREATE

            conn.execute(CREATE)
        spawn(
            [
                "redis-server",
                "--port",
                str(redis_port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(workdir),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
            ],
            "redis.log",
            "redis",
        )
        gunicorn = ["--workers", str(args.web_workers), "--threads", str(args.threads)]
        spawn(
            [str(BIN), "serve", "--host", "127.0.0.1", "--port", str(web_port), *gunicorn],
            "web.log",
            "web",
        )
        spawn(
            [
                str(GUNICORN),
                "--bind",
                f"127.0.0.1:{floor_port}",
                "-k",
                "gthread",
                "--keep-alive",
                "5",
                *gunicorn,
                "--chdir",
                str(HERE),
                "floor:create_app()",
            ],
            "floor.log",
            "floor web",
        )

        for i in range(args.workers):
            spawn(
                [str(BIN), "worker", "--concurrency", str(args.concurrency)],
                f"worker-{i}.log",
                "workers",
            )

        def workers(signum: signal.Signals) -> None:
            for sid in roles["workers"]:
                os.killpg(sid, signum)  # each worker leads its own session and group

        wait_healthy(f"http://127.0.0.1:{web_port}/healthz")
        tokens = students(env, args.students)
        yield System(env, database_url, web_port, floor_port, tokens, CpuMeter(roles), workers)
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGCONT)  # a stopped worker cannot act on SIGTERM
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(workdir, ignore_errors=True)


def students(env: dict[str, str], count: int) -> list[str]:
    """``count`` student logins and an API token for each, made as the CLI's `users create`
    and `tokens create` make them (a class, not one user posting from 32 places at once)."""
    from service import auth
    from service.app import create_app
    from service.config import load_settings
    from service.db import db
    from service.models import Role

    app = create_app(load_settings(env))
    with app.app_context():
        users = [
            auth.create_user(f"student{i}@bench.local", "benchmark-pw", Role.student)
            for i in range(count)
        ]
        tokens = [auth.issue_token(user) for user in users]
        db.session.commit()
    return tokens


# A student's practice problem: (their token, problem id, the key's answers).
Practice = tuple[str, str, dict]


def practice_problems(sut: System, each: int) -> list[Practice]:
    """``each`` practice problems per student, drawn over the API."""
    out = []
    for token in sut.tokens:
        for seed in range(each):
            request = urllib.request.Request(
                f"http://127.0.0.1:{sut.web_port}/api/v1/problems",
                data=json.dumps({"type": "weight-gradient", "seed": seed}).encode(),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request) as response:
                key = ex.generate("weight-gradient", seed, 1).key
                out.append((token, json.load(response)["id"], key))
    return out


def submission_jobs(problems: list[Practice], count: int) -> list[Job]:
    """``count`` correct submissions, each student's turn in order (students interleaved)."""
    by_student: dict[str, list[Practice]] = {}
    for problem in problems:
        by_student.setdefault(problem[0], []).append(problem)
    turns = list(by_student.values())
    jobs = []
    for i in range(count):
        own = turns[i % len(turns)]
        token, pid, key = own[(i // len(turns)) % len(own)]
        body = json.dumps({"answers": key}).encode()
        jobs.append((f"/api/v1/problems/{pid}/submissions", body, bearer(token)))
    return jobs


@dataclass
class Graded:
    """Latencies of one run, from the database rows and the client's send times."""

    client: list[float]  # client sent -> graded_at (same host, same clock)
    server: list[float]  # received_at (the handler began) -> graded_at
    span: float  # first send -> last graded_at, seconds


def graded(sut: System, run: Run, timeout: float = 300) -> Graded:
    """Wait until every submission of ``run`` is graded, then read its latencies."""
    ids = [uuid.UUID(i) for i in run.ids]
    deadline = time.monotonic() + timeout
    with psycopg.connect(sut.database_url) as conn:
        while True:
            # Every row in this private database is the benchmark's; counting the rows
            # not graded yet on their partial index keeps the polling's own cost small.
            (pending,) = conn.execute(
                "SELECT count(*) FROM submissions "
                "WHERE graded_at IS NULL AND status IN ('queued', 'grading')"
            ).fetchone()
            conn.commit()
            if pending == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        rows = conn.execute(
            "SELECT id::text, extract(epoch FROM received_at)::float8, "
            "extract(epoch FROM graded_at)::float8 "
            "FROM submissions WHERE id = ANY(%s) AND status = 'graded'",
            (ids,),
        ).fetchall()
    if len(rows) < len(ids):
        print(f"  warning: {len(ids) - len(rows)} submissions not graded within {timeout} s")
    return Graded(
        client=[done - run.sent[sid] for sid, _, done in rows],
        server=[done - received for _, received, done in rows],
        span=max(done for *_, done in rows) - min(run.sent.values()),
    )


def tasks_sent(sut: System) -> int:
    """Messages pushed onto the broker so far (one per grading task)."""
    stats = redis.Redis.from_url(sut.env["CELERY_BROKER_URL"]).info("commandstats")
    return int(stats.get("cmdstat_lpush", {}).get("calls", 0))


@dataclass
class Round:
    """One round of the interleaved comparison: floor, intake, drain and e2e, back to back."""

    floor: Run
    intake: Run
    e2e: Run
    e2e_graded: Graded
    cpu: dict[str, dict[str, float]]  # phase -> role -> CPU seconds
    tasks: dict[str, int]  # phase -> grading tasks sent
    stolen: float  # share of the CPUs' time the hypervisor took over the round

    @property
    def rates(self) -> dict[str, float]:
        return {
            "floor": len(self.floor.ids) / self.floor.seconds,
            "intake": len(self.intake.ids) / self.intake.seconds,
            "e2e": len(self.e2e_graded.client) / self.e2e_graded.span,
        }


def one_round(sut: System, args: argparse.Namespace, jobs: dict[str, list[Job]]) -> Round:
    cpu: dict[str, dict[str, float]] = {}
    tasks: dict[str, int] = {}
    watch = Stopwatch()

    def measured(phase: str, work: Callable[[], object]) -> object:
        sut.cpu.start()
        sent = tasks_sent(sut)
        out = work()
        cpu[phase] = sut.cpu.stop()
        tasks[phase] = tasks_sent(sut) - sent
        return out

    floor = measured(
        "floor", lambda: asyncio.run(closed_loop(sut.floor_port, jobs["floor"], args.clients))
    )
    # Intake: the submissions taken in with the workers stopped, so nothing is graded: what
    # the web app and the database can take in is a ceiling on what can be graded.
    sut.workers(signal.SIGSTOP)
    intake = measured(
        "intake", lambda: asyncio.run(closed_loop(sut.web_port, jobs["e2e"], args.clients))
    )
    # Drain: the workers grade that backlog, its tasks as full as the outbox made them.
    sut.workers(signal.SIGCONT)
    measured("drain", lambda: graded(sut, intake))
    tasks["drain"] = tasks.pop("intake")  # the intake's tasks are the ones the drain ran

    def e2e() -> tuple[Run, Graded]:
        run = asyncio.run(closed_loop(sut.web_port, jobs["e2e"], args.clients))
        return run, graded(sut, run)

    e2e_run, e2e_graded = measured("e2e", e2e)
    return Round(floor, intake, e2e_run, e2e_graded, cpu, tasks, watch.stolen_share())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--submissions", type=int, default=2000, help="per phase of each round")
    parser.add_argument(
        "--rounds", type=int, default=5, help="interleaved rounds of floor, intake, drain, e2e"
    )
    parser.add_argument("--clients", type=int, default=32, help="connections posting at once")
    parser.add_argument("--students", type=int, default=32, help="each with an API token")
    parser.add_argument("--problems", type=int, default=2, help="practice problems per student")
    parser.add_argument(
        "--rates", type=float, nargs="*", default=[200.0, 100.0], help="offered rates, per second"
    )
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each paced run")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="backprop-quiz worker processes")
    parser.add_argument("--concurrency", type=int, default=1, help="pool size of each worker")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))

    with system(args) as sut:
        problems = practice_problems(sut, args.problems)
        # The floor stores the same body (the same size of JSON) with no token.
        floor_job = ("/floor", json.dumps({"answers": problems[0][2]}).encode(), "")
        jobs = {
            "floor": [floor_job] * args.submissions,
            "e2e": submission_jobs(problems, args.submissions),
        }
        # Warm both apps (connection pools, imports) and the workers.
        warm = asyncio.run(closed_loop(sut.web_port, submission_jobs(problems, 200), args.clients))
        asyncio.run(closed_loop(sut.floor_port, [floor_job] * 200, args.clients))
        graded(sut, warm)
        # The machine's speed drifts by a fifth within a minute, so the phases are
        # interleaved in short rounds and each ratio is taken within its round.
        rounds = [one_round(sut, args, jobs) for _ in range(args.rounds)]
        paced = []
        for rate in args.rates:
            # A steady rate, not the way down from saturation: the outbox's reading of the
            # CPUs' contention takes about a second to fall back (docs/benchmarks.md).
            time.sleep(PAUSE_SECONDS)
            run_jobs = submission_jobs(problems, int(rate * args.seconds))
            watch = Stopwatch()
            run = asyncio.run(open_loop(sut.web_port, run_jobs, rate))
            paced.append((rate, run, graded(sut, run), watch.stolen_share()))

    print(
        f"\nbackprop-quiz load benchmark  ({os.cpu_count()} CPUs; gunicorn {args.web_workers}x"
        f"{args.threads} gthread; {args.workers} worker(s) x {args.concurrency}; "
        f"{args.clients} clients; {args.rounds} rounds of {args.submissions} per phase)"
    )
    print(
        f"\n{'round':<7}{'floor /s':>10}{'intake /s':>11}{'e2e graded /s':>15}"
        f"{'intake/floor':>14}{'e2e/floor':>11}{'a task: drain':>15}{'e2e':>6}{'stolen':>8}"
    )
    ratios = {"intake": [], "e2e": []}
    for i, r in enumerate(rounds, 1):
        rates = r.rates
        for phase, values in ratios.items():
            values.append(rates[phase] / rates["floor"])
        a_task = {phase: args.submissions / max(r.tasks[phase], 1) for phase in ("drain", "e2e")}
        print(
            f"{i:<7}{rates['floor']:>10.0f}{rates['intake']:>11.0f}{rates['e2e']:>15.0f}"
            f"{ratios['intake'][-1]:>13.2f}x{ratios['e2e'][-1]:>10.2f}x"
            f"{a_task['drain']:>15.1f}{a_task['e2e']:>6.1f}{r.stolen:>8.0%}"
        )
    median = {phase: statistics.median(values) for phase, values in ratios.items()}
    print(
        f"{'median':<7}{'':>36}{median['intake']:>13.2f}x{median['e2e']:>10.2f}x"
        "   (graded/s over the floor's rate in the same round)"
    )

    print(f"\n{'latency':<40}{'rate /s':>9}{'p50 ms':>10}{'p99 ms':>10}")
    pooled = {
        name: [v for r in rounds for v in values(r)]
        for name, values in [
            ("floor", lambda r: r.floor.latencies),
            ("intake", lambda r: r.intake.latencies),
            ("e2e post", lambda r: r.e2e.latencies),
            ("e2e client", lambda r: r.e2e_graded.client),
            ("e2e server", lambda r: r.e2e_graded.server),
        ]
    }
    mean_rate = {
        phase: statistics.mean(r.rates[phase] for r in rounds)
        for phase in ("floor", "intake", "e2e")
    }
    rows = [
        ("floor: insert one row, HTTP", mean_rate["floor"], pooled["floor"]),
        ("intake (workers stopped): POST 202", mean_rate["intake"], pooled["intake"]),
        ("e2e: POST answered 202, HTTP", mean_rate["e2e"], pooled["e2e post"]),
        ("e2e: graded, sent -> graded", mean_rate["e2e"], pooled["e2e client"]),
        ("e2e: graded, received -> graded", mean_rate["e2e"], pooled["e2e server"]),
    ]
    for rate, run, done, steal in paced:
        label, per_second = f"{rate:.0f}/s offered", len(run.ids) / done.span
        rows += [
            (f"{label} ({steal:.0%} stolen): POST", len(run.ids) / run.seconds, run.latencies),
            (f"{label}: sent -> graded", per_second, done.client),
            (f"{label}: received -> graded", per_second, done.server),
        ]
    for label, per_second, values in rows:
        p50, p99 = pct(values, 50) * 1000, pct(values, 99) * 1000
        print(f"{label:<40}{per_second:>9.0f}{p50:>10.1f}{p99:>10.1f}")

    print(
        "\nCPU per request, ms, over all rounds  (floor: per row; intake: per accepted "
        "submission; drain, e2e: per graded submission)"
    )
    phases = ["floor", "intake", "drain", "e2e"]
    roles = [
        role
        for role in rounds[0].cpu["e2e"]
        if any(r.cpu[phase].get(role) for r in rounds for phase in phases)
    ]
    print(f"{'':<8}" + "".join(f"{role:>16}" for role in roles) + f"{'all':>10}")
    per_request = {}
    for phase in phases:
        split = {
            role: 1000
            * sum(r.cpu[phase].get(role, 0.0) for r in rounds)
            / (args.submissions * len(rounds))
            for role in roles
        }
        per_request[phase] = sum(split.values())
        print(
            f"{phase:<8}"
            + "".join(f"{split[role]:>16.2f}" for role in roles)
            + f"{per_request[phase]:>10.2f}"
        )
    best = per_request["intake"] + per_request["drain"]
    print(
        f"floor's CPU over intake's: {per_request['floor'] / per_request['intake']:.2f}x, "
        f"over e2e's: {per_request['floor'] / per_request['e2e']:.2f}x, "
        f"over intake + drain (grading in full batches): {per_request['floor'] / best:.2f}x"
    )
    statuses: dict[str, dict[int, int]] = {}
    for r in rounds:
        for phase, run in (("floor", r.floor), ("intake", r.intake), ("e2e", r.e2e)):
            for status, n in run.statuses.items():
                statuses.setdefault(phase, {}).setdefault(status, 0)
                statuses[phase][status] += n
    for rate, run, *_ in paced:
        statuses[f"{rate:.0f}/s"] = run.statuses
    print("statuses: " + ", ".join(f"{phase} {counts}" for phase, counts in statuses.items()))


if __name__ == "__main__":
    main()
