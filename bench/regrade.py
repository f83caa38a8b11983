"""Regrade benchmark on PostgreSQL: preview and apply a regrade of 100,000 submissions
(prints figures; no assertions).

It makes a fresh database on the local PostgreSQL (migrated with ``service.db.upgrade``,
dropped at the end unless --keep) and seeds one assignment of five slots (five exercise
types) for --students students (default 1,000), each with a variant of their own drawn by
the engine, and --attempts (20) submissions per student and slot: 100,000 submissions.
Answers are a mix: the key (3 in 10), the key with one entry 1% off (2 in 10: wrong at the
default 0.5% tolerance, right at 2%), twice the key, a mistake the library predicts, and
unrelated numbers. They are graded by the pipeline's own ``grade_submissions`` (the
baseline: first grading, submissions/s). Then the assignment's policy changes to a
relative tolerance of 2% and the benchmark times:
  preview   ``regrade.preview`` of the whole assignment: every submission graded again,
            compared, and the preview stored (seconds, submissions/s, × first grading)
  apply     ``regrade.start`` + ``regrade.run``, in batches, as the CLI and the worker's
            task run it (seconds, items/s)
and prints the preview's counts.

    .venv/bin/python bench/regrade.py [--students 1000] [--attempts 20] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
from sqlalchemy import create_engine, make_url
from sqlalchemy.orm import Session

import exercises as ex
from service import pipeline, regrade
from service.db import upgrade
from service.models import Assignment

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TYPES = ["weight-gradient", "forward-pass", "output-error", "delta", "bias-gradient"]
GRADE_BATCH = 200  # submissions per call of the pipeline's grading, as a worker's task takes
LEASE_SECONDS = 600


def pg_url(name: str, driver: str = "postgresql+psycopg") -> str:
    return make_url(ADMIN_URL).set(drivername=driver, database=name).render_as_string(
        hide_password=False)


def as_json(value: Any) -> Any:
    """A grading-form value (array or number) in the answers' JSON format."""
    if isinstance(value, np.ndarray):
        return [[float(x) for x in row] for row in value]
    return float(value)


def answer(variant: ex.Variant, rng: random.Random) -> dict[str, Any]:
    """One submission's answers: the key, a near miss, a multiple, a named mistake, or noise."""
    roll = rng.random()
    out: dict[str, Any] = {}
    for part in variant.parts:
        key = np.asarray(variant.key_values[part.name], dtype=np.float64)
        if roll < 0.3:
            out[part.name] = variant.key[part.name]
        elif roll < 0.5:
            off = key.copy()
            flat = off.reshape(-1)
            i = int(np.argmax(np.abs(flat)))
            flat[i] = flat[i] * 1.01 if flat[i] != 0 else 0.01
            out[part.name] = as_json(off)
        elif roll < 0.65:
            out[part.name] = as_json(2 * key)
        elif roll < 0.8 and variant.predictions.get(part.name):
            out[part.name] = as_json(rng.choice(variant.predictions[part.name]).value)
        else:
            out[part.name] = as_json(np.round(key + rng.uniform(1, 3), 2))
    return out


def seed(url: str, students: int, attempts: int, rng: random.Random) -> tuple[int, list[uuid.UUID]]:
    start = datetime(2026, 9, 1, 9, tzinfo=UTC)
    due = start + timedelta(days=60)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO courses (code, title, created_at) VALUES ('REGRADE-1', "
                    "'Regrade bench', %s) RETURNING id", (start,))
        (course_id,) = cur.fetchone()  # type: ignore[misc]
        with cur.copy("COPY users (email, name, password_hash, role, created_at, session_epoch)"
                      " FROM STDIN") as copy:
            for i in range(students):
                copy.write_row((f"s{i:05d}@bench.example.edu", f"Student {i}", "!", "student",
                                start, 0))
        cur.execute("SELECT id FROM users ORDER BY email")
        user_ids = [r[0] for r in cur.fetchall()]
        with cur.copy("COPY enrollments (course_id, user_id, role, section, created_at)"
                      " FROM STDIN") as copy:
            for uid in user_ids:
                copy.write_row((course_id, uid, "student", "", start))
        cur.execute(
            "INSERT INTO assignments (course_id, title, mode, attempts_allowed, due_at, opens_at,"
            " published, late_policy, late_penalty, created_at) VALUES (%s, 'Week 5', "
            "'homework', %s, %s, %s, true, 'closed', 0, %s) RETURNING id",
            (course_id, attempts, due, start, start))
        (aid,) = cur.fetchone()  # type: ignore[misc]
        slot_ids = []
        for pos, type_id in enumerate(TYPES, start=1):
            cur.execute("INSERT INTO assignment_slots (assignment_id, position, exercise_type, "
                        "difficulty, points) VALUES (%s, %s, %s, 1, 1.0) RETURNING id",
                        (aid, pos, type_id))
            slot_ids.append(cur.fetchone()[0])  # type: ignore[index]
        conn.commit()

        t0 = time.perf_counter()
        problems, subs = [], []
        for uid in user_ids:
            for slot_id, type_id in zip(slot_ids, TYPES, strict=True):
                variant = ex.generate(type_id, rng.randrange(ex.SEED_MAX), 1)
                pid = uuid.uuid4()
                problems.append((pid, type_id, variant.type_version, 1,
                                 json.dumps(variant.to_record()), uid, slot_id, attempts,
                                 attempts, start))
                for attempt in range(1, attempts + 1):
                    received = start + timedelta(minutes=attempt)
                    subs.append((uuid.uuid4(), pid, uid, attempt,
                                 json.dumps(answer(variant, rng)), "queued", 0, received,
                                 received, received))
        with cur.copy("COPY problems (id, type, type_version, difficulty, variant, owner_id, "
                      "slot_id, attempts_allowed, attempts_used, created_at) FROM STDIN") as copy:
            for problem in problems:
                copy.write_row(problem)
        with cur.copy("COPY submissions (id, problem_id, user_id, attempt, answers, status, "
                      "tries, received_at, queued_at, published_at) FROM STDIN") as copy:
            for sub in subs:
                copy.write_row(sub)
        conn.commit()
        print(f"  {len(problems):,} variants drawn, {len(subs):,} submissions stored in "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
    return aid, [s[0] for s in subs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--attempts", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    rng = random.Random(16)
    name = f"bench_regrade_{os.getpid()}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = pg_url(name)
    engine = create_engine(url)
    try:
        upgrade(url)
        print(f"database {name}", flush=True)
        aid, ids = seed(pg_url(name, "postgresql"), args.students, args.attempts, rng)
        n = len(ids)

        t0 = time.perf_counter()
        for i in range(0, n, GRADE_BATCH):
            with pipeline.connect(engine) as connection:
                pipeline.grade_submissions(connection, ids[i:i + GRADE_BATCH], LEASE_SECONDS)
        graded_seconds = time.perf_counter() - t0
        graded_rate = n / graded_seconds
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")

        with Session(engine) as session:
            assignment = session.get(Assignment, aid)
            assert assignment is not None
            assignment.grading_policy = {"rtol": 0.02}
            session.commit()

        with Session(engine, expire_on_commit=False) as session:
            t0 = time.perf_counter()
            shown = regrade.preview(session, regrade.Scope(aid), by=None,
                                    reason="tolerance 2%")
            preview_seconds = time.perf_counter() - t0
        with Session(engine, expire_on_commit=False) as session:
            t0 = time.perf_counter()
            regrade.start(session, shown.regrade_id, by=None)
            regrade.run(session, shown.regrade_id)
            apply_seconds = time.perf_counter() - t0
        items = sum(shown.counts.get(k, 0) for k in ("raised", "lowered", "unchanged", "kept"))

        print(f"\n{'step':34} {'seconds':>8} {'per second':>11} {'× first grading':>16}")
        print(f"{'first grading (pipeline, baseline)':34} {graded_seconds:8.1f} "
              f"{graded_rate:11,.0f} {1.0:16.2f}")
        rate = n / preview_seconds
        print(f"{'preview (tolerance 0.5% → 2%)':34} {preview_seconds:8.1f} {rate:11,.0f} "
              f"{rate / graded_rate:16.2f}")
        rate = items / apply_seconds
        print(f"{'apply (items written)':34} {apply_seconds:8.1f} {rate:11,.0f} "
              f"{rate / graded_rate:16.2f}")
        print(f"\npreview of {n:,} submissions: {shown.counts}; "
              f"{len(shown.effects):,} students' totals change")
    finally:
        engine.dispose()
        if args.keep:
            print(f"kept database {name}")
        else:
            with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


if __name__ == "__main__":
    sys.exit(main())
