"""Dashboard benchmark on PostgreSQL: the gradebook page, the class-wide misconceptions page
and the CSV exports of a large course (prints figures; no assertions).

It makes a fresh database on the local PostgreSQL (migrated with ``service.db.upgrade``,
dropped at the end) and seeds, with COPY:
  a course of --students students (default 1,000) in 5 sections, --assignments (30) of 5
  slots, --attempts (10) graded submissions per student and slot: 1.5 M submissions with
  their results at full size. Scores climb with the attempt; a wrong answer names a
  mistake of its exercise type three times in five (the results' ``parts`` as grading
  writes them). A tenth of the submissions arrive after the due date, a third of the
  assignments take a penalty per day late. Problems store a compact variant record, not a
  full one (no page measured here reads it).
Then it builds the marks with ``service.marks.rebuild``, assignment by assignment (its rate
is printed), ANALYZEs, and measures in-process through Flask's test client, signed in as
the course's instructor, each request's whole time in the server (the response read to its
last byte; the same process, no network):
  roster          the roster page, every member in one query (the baseline of every ratio)
  healthz         /healthz, one SELECT 1
  gradebook       /courses/<id>/gradebook: first page (100 students by name)
  gradebook/total the same sorted by total, descending
  gradebook/a<n>  the same sorted by the last assignment's column, one section
  api gradebook   /api/v1/courses/<id>/gradebook, its JSON twin
  misconceptions  /courses/<id>/misconceptions, whatever that endpoint returns
  csv, canvas     /courses/<id>/gradebook.csv, ours and ?format=canvas: rows/s
The requests take turns, round after round, so the machine's drift touches them alike;
each figure is the median (and p95) of --runs rounds.

    .venv/bin/python bench/dashboard.py [--students 1000] [--runs 20] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, make_url

from service import auth, marks
from service.config import load_settings
from service.db import db, upgrade
from service.models import CourseRole, Enrollment, Role
from service.wsgi import build_app

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PASSWORD = "bench-instructor-password"
SLOTS = 5
SECTIONS = "ABCDE"
FIRST = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "John", "Katherine",
         "Leslie", "Margaret", "Niklaus", "Radia", "Tim", "Sophie", "Yann", "Geoffrey", "Fei-Fei"]
LAST = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "McCarthy",
        "Johnson", "Lamport", "Hamilton", "Wirth", "Perlman", "Berners-Lee", "Wilson", "LeCun",
        "Hinton", "Li", "O'Neil", "van Rossum"]

# Per slot position: an exercise type, its parts and the mistakes a wrong answer names.
TYPES = [
    ("weight-gradient", ["dC_dW"], ["transposed-gradient", "dot-instead-of-outer", "sign-flip"]),
    ("forward-pass", ["z", "a"], ["activation-skipped", "arithmetic-slip"]),
    ("output-error", ["dC_da"], ["sign-flip", "factor-of-two", "raw-error-as-loss"]),
    ("delta", ["delta"], ["missing-activation-derivative", "wrong-activation-derivative",
                          "dot-instead-of-hadamard"]),
    ("bias-gradient", ["dC_db"], ["bias-times-input", "sign-flip"]),
]


def pg_url(name: str, driver: str = "postgresql+psycopg") -> str:
    return make_url(ADMIN_URL).set(drivername=driver, database=name).render_as_string(
        hide_password=False)


def admin() -> psycopg.Connection:
    return psycopg.connect(ADMIN_URL, autocommit=True)


# --- seeding -------------------------------------------------------------------------------


def part_json(name: str, right: bool, mistake: str | None) -> dict[str, object]:
    entries = [[True, True], [True, True]] if right else [[True, False], [False, True]]
    return {
        "score": 1.0 if right else 0.0, "correct": right, "entries": entries,
        "misconceptions": [mistake] if mistake else [],
        "feedback": "Right." if right else (
            f"This looks like {mistake.replace('-', ' ')}." if mistake else "Not the key."),
    }


def result_templates() -> list[tuple[list[str], dict[tuple[float, str | None], str]]]:
    """Per slot position: its parts, and the results' ``parts`` JSON by (score, mistake)."""
    out = []
    for _type, parts, mistakes in TYPES:
        table: dict[tuple[float, str | None], str] = {}
        for mistake in [None, *mistakes]:
            for wrong in range(len(parts) + 1):
                score = 1.0 - wrong / len(parts)
                doc = {p: part_json(p, i >= wrong, mistake if i < wrong else None)
                       for i, p in enumerate(parts)}
                table[(score, mistake)] = json.dumps(doc)
        out.append((parts, table))
    return out


@dataclass
class Course:
    id: int
    code: str
    assignments: list[int]
    instructor_email: str
    students: int


def seed(url: str, students: int, assignments: int, attempts: int, rng: random.Random) -> Course:
    start = datetime(2026, 9, 1, 9, tzinfo=UTC)
    templates = result_templates()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO courses (code, title, created_at) VALUES (%s, %s, %s) "
                    "RETURNING id", ("BENCH-101", "Backpropagation at scale", start))
        (course_id,) = cur.fetchone()  # type: ignore[misc]
        with cur.copy("COPY users (email, name, password_hash, role, created_at, session_epoch)"
                      " FROM STDIN") as copy:
            for i in range(students):
                name = f"{FIRST[i % len(FIRST)]} {LAST[(i // len(FIRST)) % len(LAST)]} {i}"
                copy.write_row((f"student{i:05d}@bench.example.edu", name, "!", "student",
                                start, 0))
        cur.execute("SELECT id FROM users WHERE email LIKE 'student%%@bench.example.edu' "
                    "ORDER BY email")
        user_ids = [r[0] for r in cur.fetchall()]
        with cur.copy("COPY enrollments (course_id, user_id, role, section, created_at)"
                      " FROM STDIN") as copy:
            for i, uid in enumerate(user_ids):
                copy.write_row((course_id, uid, "student", SECTIONS[i % len(SECTIONS)], start))
        aids, slots = [], []
        for a in range(assignments):
            due = start + timedelta(days=7 * (a + 1))
            policy = "penalty" if a % 3 == 0 else "no_credit"
            cur.execute(
                "INSERT INTO assignments (course_id, title, mode, attempts_allowed, due_at, "
                "opens_at, published, late_policy, late_penalty, created_at) VALUES "
                "(%s, %s, 'homework', %s, %s, %s, true, %s, %s, %s) RETURNING id",
                (course_id, f"Week {a + 1}: backprop", attempts, due, due - timedelta(days=7),
                 policy, 0.1 if policy == "penalty" else 0.0, start))
            (aid,) = cur.fetchone()  # type: ignore[misc]
            aids.append(aid)
            for pos, (type_, _parts, _m) in enumerate(TYPES, start=1):
                cur.execute(
                    "INSERT INTO assignment_slots (assignment_id, position, exercise_type, "
                    "difficulty, points) VALUES (%s, %s, %s, 1, %s) RETURNING id",
                    (aid, pos, type_, float(1 + pos % 3)))
                (sid,) = cur.fetchone()  # type: ignore[misc]
                slots.append((aid, sid, pos - 1, due))
        conn.commit()
        print(f"  course {course_id}: {students} students, {assignments} assignments × "
              f"{SLOTS} slots", flush=True)

        t0 = time.perf_counter()
        ability = {uid: rng.uniform(0.25, 0.95) for uid in user_ids}
        submitted = 0
        for _aid, sid, pos, due in slots:
            parts, table = templates[pos]
            mistakes = TYPES[pos][2]
            answers = json.dumps({p: [["1/2", "0"], ["-1", "2"]] for p in parts})
            variant = json.dumps({"type": TYPES[pos][0], "type_version": 1, "difficulty": 1,
                                  "parts": parts, "bench": True})
            problems, subs, results = [], [], []
            for uid in user_ids:
                pid = uuid.uuid4()
                viewed = due - timedelta(days=6, hours=rng.random() * 24)
                problems.append((pid, TYPES[pos][0], 1, 1, variant, uid, sid, attempts,
                                 attempts, viewed))
                when = viewed
                for attempt in range(1, attempts + 1):
                    when = when + timedelta(minutes=rng.expovariate(1 / 40))
                    late = rng.random() < 0.1
                    received = due + timedelta(hours=rng.random() * 72) if late else min(
                        when, due - timedelta(minutes=1))
                    p = min(0.98, ability[uid] * (0.4 + 0.07 * attempt))
                    wrong = 0 if rng.random() < p else rng.randint(1, len(parts))
                    mistake = rng.choice(mistakes) if wrong and rng.random() < 0.6 else None
                    score = 1.0 - wrong / len(parts)
                    sub = uuid.uuid4()
                    graded = received + timedelta(milliseconds=40)
                    subs.append((sub, pid, uid, attempt, answers, "graded", 1, received,
                                 received, received, received, graded))
                    results.append((sub, score, table[(score, mistake)], 0.04, graded))
            with cur.copy("COPY problems (id, type, type_version, difficulty, variant, owner_id,"
                          " slot_id, attempts_allowed, attempts_used, created_at) FROM STDIN"
                          ) as copy:
                for problem in problems:
                    copy.write_row(problem)
            with cur.copy("COPY submissions (id, problem_id, user_id, attempt, answers, status,"
                          " tries, received_at, queued_at, published_at, started_at, graded_at)"
                          " FROM STDIN") as copy:
                for submission in subs:
                    copy.write_row(submission)
            with cur.copy("COPY results (submission_id, score, parts, latency_seconds, "
                          "created_at) FROM STDIN") as copy:
                for result in results:
                    copy.write_row(result)
            conn.commit()
            submitted += len(subs)
        seconds = time.perf_counter() - t0
        print(f"  {submitted:,} submissions with results in {seconds:.0f} s "
              f"({submitted / seconds:,.0f}/s)", flush=True)
        cur.execute("ANALYZE")
        conn.commit()
    return Course(course_id, "BENCH-101", aids, "instructor@bench.example.edu", students)


def reused(url: str) -> Course:
    """The course an earlier run seeded, its instructor signed up afresh."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT id FROM courses WHERE code = 'BENCH-101'").fetchone()
        assert row is not None
        cid = row[0]
        count = conn.execute("SELECT count(*) FROM enrollments WHERE course_id = %s "
                             "AND role = 'student'", (cid,)).fetchone()
        aids = [r[0] for r in conn.execute(
            "SELECT id FROM assignments WHERE course_id = %s ORDER BY id", (cid,))]
        conn.execute("DELETE FROM users WHERE email LIKE 'instructor%%@bench.example.edu'")
    return Course(cid, "BENCH-101", aids, "instructor@bench.example.edu",
                  count[0] if count else 0)


def build_marks(url: str, course: Course) -> None:
    engine = create_engine(url)
    t0 = time.perf_counter()
    for aid in course.assignments:
        with engine.begin() as conn:
            marks.rebuild(conn, aid)
    seconds = time.perf_counter() - t0
    with engine.connect() as conn:
        n = conn.exec_driver_sql("SELECT count(*) FROM results").scalar_one()
        m = conn.exec_driver_sql("SELECT count(*) FROM marks").scalar_one()
        k = conn.exec_driver_sql("SELECT count(*) FROM mistake_marks").scalar_one()
    engine.dispose()
    print(f"  marks.rebuild: {n:,} results replayed in {seconds:.1f} s ({n / seconds:,.0f} "
          f"results/s); {m:,} marks, {k:,} mistake marks", flush=True)
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE marks")
        conn.execute("VACUUM ANALYZE mistake_marks")


# --- measuring -----------------------------------------------------------------------------


def signed_in(app: Flask, course: Course) -> FlaskClient:
    with app.app_context():
        user = auth.create_user(course.instructor_email, PASSWORD, Role.instructor,
                                name="Bench Instructor")
        db.session.flush()
        db.session.add(Enrollment(course_id=course.id, user_id=user.id,
                                  role=CourseRole.instructor))
        db.session.commit()
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    response = client.post("/login", data={"email": course.instructor_email,
                                           "password": PASSWORD, "csrf_token": token.group(1)})
    assert response.status_code == 302, response.status_code
    return client


@dataclass
class Probe:
    label: str
    path: str
    rows: int = 0  # CSV data rows expected (students), for rows/s
    seconds: list[float] | None = None
    size: int = 0
    status: int = 0


def timed(client: FlaskClient, probe: Probe) -> None:
    t0 = time.perf_counter()
    response = client.get(probe.path)
    body = response.get_data()  # a streamed body runs to its last byte here
    seconds = time.perf_counter() - t0
    probe.status, probe.size = response.status_code, len(body)
    assert probe.seconds is not None
    probe.seconds.append(seconds)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure(app: Flask, course: Course, runs: int) -> None:
    client = signed_in(app, course)
    cid, last = course.id, course.assignments[-1]
    probes = [
        Probe("roster (baseline)", f"/courses/{cid}/roster"),
        Probe("healthz", "/healthz"),
        Probe("gradebook", f"/courses/{cid}/gradebook"),
        Probe("gradebook by total, desc", f"/courses/{cid}/gradebook?sort=total&order=desc"),
        Probe("gradebook by last assignment, section C",
              f"/courses/{cid}/gradebook?sort=a{last}&order=desc&section=C"),
        Probe("api gradebook (JSON)", f"/api/v1/courses/{cid}/gradebook"),
        Probe("misconceptions", f"/courses/{cid}/misconceptions"),
        Probe("csv (ours)", f"/courses/{cid}/gradebook.csv", rows=course.students),
        Probe("csv (canvas)", f"/courses/{cid}/gradebook.csv?format=canvas", rows=course.students),
    ]
    for probe in probes:
        probe.seconds = []
        timed(client, probe)  # warm: templates compiled, plans cached, pages in memory
        probe.seconds.clear()
    for _ in range(runs):
        for probe in probes:
            timed(client, probe)
    base = statistics.median(probes[0].seconds or [1.0])
    print(f"\n{'request':42} {'status':>6} {'bytes':>9} {'median':>9} {'p95':>9} "
          f"{'× roster':>9}  students/s (cells/s)")
    for probe in probes:
        got = probe.seconds or []
        med = statistics.median(got)
        cells = probe.rows * len(course.assignments)
        rate = f"{probe.rows / med:,.0f} ({cells / med:,.0f})" if probe.rows else ""
        print(f"{probe.label:42} {probe.status:>6} {probe.size:>9,} {med * 1000:>7.1f}ms "
              f"{p95(got) * 1000:>7.1f}ms {med / base:>8.1f}×  {rate}")


def explain(url: str, course: Course) -> None:
    """The plan of the gradebook's heaviest statement, for the record."""
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        plan = conn.execute(
            "EXPLAIN (ANALYZE, BUFFERS) SELECT m.user_id, sum(m.credit * s.points) FROM marks m "
            "JOIN assignment_slots s ON s.id = m.slot_id JOIN assignments a "
            "ON a.id = m.assignment_id WHERE a.course_id = %s GROUP BY m.user_id",
            (course.id,)).fetchall()
    print("\n  totals per student:", plan[-1][0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--assignments", type=int, default=30)
    parser.add_argument("--attempts", type=int, default=10)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--index", action="append", default=[],
                        help="SQL of an index to create before measuring (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", metavar="DATABASE",
                        help="measure a database an earlier --keep run seeded (kept too)")
    args = parser.parse_args(argv)

    name = args.reuse or f"bpq_bench_dash_{uuid.uuid4().hex[:8]}"
    url = pg_url(name)
    if not args.reuse:
        with admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        if args.reuse:
            course = reused(pg_url(name, "postgresql"))
        else:
            print(f"database {name}: migrating", flush=True)
            upgrade(url)
            rng = random.Random(14)
            course = seed(pg_url(name, "postgresql"), args.students, args.assignments,
                          args.attempts, rng)
            build_marks(url, course)
        for sql in args.index:
            with psycopg.connect(pg_url(name, "postgresql"), autocommit=True) as conn:
                conn.execute(sql)
                conn.execute("ANALYZE marks")
            print(f"  created: {sql}")
        explain(url, course)
        with tempfile.TemporaryDirectory() as instance:
            app = build_app(load_settings({
                "INSTANCE_PATH": instance, "DATABASE_URL": url,
                "SECRET_KEY": "bench-secret-key-0123456789", "LOG_LEVEL": "WARNING",
            }))
            measure(app, course, args.runs)
            app.extensions["db"].kw["bind"].dispose()
    finally:
        if not (args.keep or args.reuse):
            with admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
