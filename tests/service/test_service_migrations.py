"""The Alembic migrations are the only way the schema is made, and they make the models'."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from servicekit import practice_problem
from sqlalchemy import Connection, Engine, MetaData, Table, func, insert, inspect, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from service import pipeline
from service.db import alembic_config, make_engine, upgrade
from service.models import (
    Assignment,
    Base,
    Course,
    Problem,
    Slot,
    Submission,
    User,
    utcnow,
)

ROOT = Path(__file__).resolve().parents[2]


def schema_diff(url: str) -> list:
    engine = make_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def test_migrated_database_has_exactly_the_models_schema(database_url: str) -> None:
    assert schema_diff(database_url) == []


def test_downgrade_to_base_and_back(database_url: str) -> None:
    command.downgrade(alembic_config(database_url), "base")
    engine = make_engine(database_url, poolclass=NullPool)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(database_url)
    assert schema_diff(database_url) == []


def test_db_upgrade_command_works_from_any_directory(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    elsewhere = tmp_path / "somewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        [str(Path(sys.executable).with_name("backprop-quiz")), "db", "upgrade"],
        check=False,
        cwd=elsewhere,
        env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin", "INSTANCE_PATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert schema_diff(url) == []


def test_no_create_all_in_the_code() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("service", "worker", "migrations", "tests", "bench")
        for path in (ROOT / folder).rglob("*.py")
        if "create_all(" in path.read_text() and path != Path(__file__).resolve()
    ]
    assert offenders == []


def test_submissions_are_laid_out_for_grading_rewrites(database_url: str) -> None:
    """What autogenerate does not compare: the partial index's predicate, and (PostgreSQL)
    the room each page keeps for the claim's heap-only update."""
    engine = make_engine(database_url, poolclass=NullPool)
    indexes = {ix["name"]: ix for ix in inspect(engine).get_indexes("submissions")}
    assert "ix_submissions_status_published_at" not in indexes
    ungraded = indexes["ix_submissions_ungraded"]
    assert ungraded["column_names"] == ["queued_at"]
    where = ungraded["dialect_options"].get(f"{engine.dialect.name}_where")
    assert where is not None and "graded_at IS NULL" in str(where)
    if engine.dialect.name == "postgresql":
        options = inspect(engine).get_table_options("submissions")
        assert options.get("postgresql_with") == {"fillfactor": "80"}


def tables_as_migrated(engine: Engine, *models: type[Base]) -> tuple[Table, ...]:
    """The models' tables cut to the columns the database has now: rows written at an older
    revision through these (columns were added since)."""
    present = MetaData()
    present.reflect(engine)
    old = MetaData()
    return tuple(
        Table(
            model.__tablename__,
            old,
            *(c._copy() for c in model.__table__.columns
              if c.name in present.tables[model.__tablename__].c),
        )
        for model in models
    )


def _add_student(connection: Connection, users: Table, created_at: datetime) -> int:
    """A student row as an older revision's table holds it; its id."""
    return int(connection.execute(
        insert(users).returning(users.c.id),
        {"email": "s@example.org", "name": "", "password_hash": "-", "role": "student",
         "created_at": created_at},
    ).scalar_one())


def test_0002_upgrades_a_database_with_submissions_in_play(database_url: str) -> None:
    command.downgrade(alembic_config(database_url), "0001")
    engine = make_engine(database_url, poolclass=NullPool)
    long_ago = utcnow() - timedelta(hours=1)
    users, problems, submissions = tables_as_migrated(engine, User, Problem, Submission)
    problem = practice_problem(3)
    with engine.begin() as connection:
        student_id = _add_student(connection, users, long_ago)
        problem_id = uuid.uuid4()
        connection.execute(
            insert(problems),
            {"id": problem_id, "type": problem.type, "type_version": problem.type_version,
             "seed": 3, "difficulty": 1, "variant": problem.variant, "owner_id": student_id,
             "attempts_allowed": None, "attempts_used": 2,
             "created_at": long_ago},
        )
        waiting_id = uuid.uuid4()
        for attempt, status, sid in ((1, "queued", waiting_id), (2, "graded", uuid.uuid4())):
            connection.execute(
                insert(submissions),
                {"id": sid, "problem_id": problem_id, "user_id": student_id,
                 "attempt": attempt, "answers": problem.variant["key"], "status": status,
                 "tries": 0, "received_at": long_ago, "queued_at": long_ago,
                 "published_at": long_ago,
                 "graded_at": long_ago if status == "graded" else None},
            )

    upgrade(database_url)
    assert schema_diff(database_url) == []
    with Session(engine) as session:
        # The row waiting since before the upgrade is still swept; the graded one is not.
        assert pipeline.sweep(session, requeue_after=60).stale == [waiting_id]
        assert session.scalar(select(func.count()).select_from(Submission)) == 2


def test_0003_clears_the_public_seed_of_graded_rows_and_keeps_every_variant(
    database_url: str,
) -> None:
    """A graded and a practice problem made under 0002 (when a graded seed was a public
    number): after the upgrade, the same variants; the graded row's seed column is empty."""
    command.downgrade(alembic_config(database_url), "0002")
    engine = make_engine(database_url, poolclass=NullPool)
    users, courses, assignments, slots, problems, submissions = tables_as_migrated(
        engine, User, Course, Assignment, Slot, Problem, Submission)
    graded, practice = practice_problem(123456789), practice_problem(7)
    now = utcnow()
    with engine.begin() as connection:
        student_id = _add_student(connection, users, now)
        course_id = connection.execute(
            insert(courses).returning(courses.c.id),
            {"code": "C1", "title": "Course", "created_at": now},
        ).scalar_one()
        assignment_id = connection.execute(
            insert(assignments).returning(assignments.c.id),
            {"course_id": course_id, "title": "A", "mode": "homework", "attempts_allowed": 3,
             "created_at": now},
        ).scalar_one()
        slot_id = connection.execute(
            insert(slots).returning(slots.c.id),
            {"assignment_id": assignment_id, "position": 1, "exercise_type": "weight-gradient",
             "difficulty": 1, "points": 1.0},
        ).scalar_one()
        graded_id, practice_id = uuid.uuid4(), uuid.uuid4()
        for pid, problem, slot, allowed in ((graded_id, graded, slot_id, 3),
                                            (practice_id, practice, None, None)):
            connection.execute(
                insert(problems),
                {"id": pid, "type": problem.type, "type_version": problem.type_version,
                 "seed": problem.seed, "difficulty": problem.difficulty,
                 "variant": problem.variant, "owner_id": student_id, "slot_id": slot,
                 "attempts_allowed": allowed, "attempts_used": 1, "created_at": now},
            )
        connection.execute(
            insert(submissions),
            {"id": uuid.uuid4(), "problem_id": graded_id, "user_id": student_id, "attempt": 1,
             "answers": {}, "status": "queued", "tries": 0, "received_at": now,
             "queued_at": now},
        )
    before = {graded_id: (graded.seed, graded.variant), practice_id: (7, practice.variant)}

    upgrade(database_url)
    assert schema_diff(database_url) == []
    with Session(engine) as session:
        after = {p.id: (p.seed, p.variant) for p in session.scalars(select(Problem))}
        # SQLite copies the table to change it: the rows referring to it stay.
        assert session.scalar(select(func.count()).select_from(Submission)) == 1
    assert after == {
        graded_id: (None, before[graded_id][1]),  # the variant as it was, seed 123456789 in it
        practice_id: before[practice_id],
    }

    command.downgrade(alembic_config(database_url), "0002")
    with Session(engine) as session:
        seeds = dict(session.execute(select(Problem.id, Problem.seed)).all())
    assert seeds == {graded_id: -1, practice_id: 7}
