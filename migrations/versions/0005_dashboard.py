"""The instructor's dashboard: teaching assistants and sections, assignment policy,
per-student overrides, set-password invites, and marks kept as results are written.

- ``enrollments.role`` admits ``ta``; ``enrollments.section`` (empty: none).
- ``assignments``: ``opens_at``, ``published``, ``late_policy`` and ``late_penalty``.
  Existing assignments stay published and closed after their due date, as before.
- ``assignment_slots.network``: an instructor's own network for a slot.
- ``assignment_overrides``: one student's due date and extra attempts, with who and why.
- ``invites``: one-time set-password links (the token's SHA-256 only).
- ``marks`` and ``mistake_marks``: one row per student and slot (and named mistake),
  filled here from the results already written; from now on grading keeps them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the model types, so this file never changes when the models do.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def timestamp(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def fk(table: str, column: str, target: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    with op.batch_alter_table("enrollments") as batch:
        batch.alter_column(
            "role",
            type_=enum("course_role", "student", "ta", "instructor"),
            existing_type=enum("course_role", "student", "instructor"),
            existing_nullable=False,
        )
        batch.add_column(
            sa.Column("section", sa.String(length=64), nullable=False, server_default="")
        )
    with op.batch_alter_table("assignments") as batch:
        batch.add_column(timestamp("opens_at", nullable=True))
        batch.add_column(
            sa.Column("published", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(
            sa.Column(
                "late_policy",
                enum("late_policy", "closed", "no_credit", "penalty"),
                nullable=False,
                server_default="closed",
            )
        )
        batch.add_column(
            sa.Column("late_penalty", sa.Float(), nullable=False, server_default="0")
        )
        batch.create_check_constraint(
            "late_penalty", "late_penalty >= 0 AND late_penalty <= 1"
        )
    with op.batch_alter_table("assignment_slots") as batch:
        batch.add_column(sa.Column("network", JSON, nullable=True))

    op.create_table(
        "assignment_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        timestamp("due_at", nullable=True),
        sa.Column("extra_attempts", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("granted_by", sa.Integer(), nullable=True),
        timestamp("granted_at"),
        sa.CheckConstraint(
            "extra_attempts >= 0", name=op.f("ck_assignment_overrides_extra_attempts")
        ),
        fk("assignment_overrides", "assignment_id", "assignments"),
        fk("assignment_overrides", "user_id", "users"),
        sa.ForeignKeyConstraint(
            ["granted_by"], ["users.id"],
            name=op.f("fk_assignment_overrides_granted_by_users"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment_overrides")),
        sa.UniqueConstraint(
            "assignment_id", "user_id", name=op.f("uq_assignment_overrides_assignment_id_user_id")
        ),
    )
    op.create_index(
        op.f("ix_assignment_overrides_user_id"), "assignment_overrides", ["user_id"]
    )
    op.create_table(
        "invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        timestamp("created_at"),
        timestamp("expires_at"),
        timestamp("used_at", nullable=True),
        fk("invites", "user_id", "users"),
        fk("invites", "course_id", "courses"),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"],
            name=op.f("fk_invites_created_by_users"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invites")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invites_token_hash")),
    )
    op.create_index(op.f("ix_invites_user_id"), "invites", ["user_id"])
    op.create_table(
        "marks",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("graded", sa.Integer(), nullable=False),
        sa.Column("best_score", sa.Float(), nullable=False),
        sa.Column("credit", sa.Float(), nullable=False),
        sa.Column("solved_attempt", sa.Integer(), nullable=True),
        timestamp("solved_at", nullable=True),
        timestamp("first_view_at"),
        timestamp("last_at"),
        fk("marks", "user_id", "users"),
        fk("marks", "slot_id", "assignment_slots"),
        fk("marks", "assignment_id", "assignments"),
        sa.PrimaryKeyConstraint("user_id", "slot_id", name=op.f("pk_marks")),
    )
    op.create_index(op.f("ix_marks_slot_id"), "marks", ["slot_id"])
    op.create_index(op.f("ix_marks_assignment_id"), "marks", ["assignment_id"])
    op.create_table(
        "mistake_marks",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("times", sa.Integer(), nullable=False),
        timestamp("first_at"),
        timestamp("last_at"),
        fk("mistake_marks", "user_id", "users"),
        fk("mistake_marks", "slot_id", "assignment_slots"),
        fk("mistake_marks", "assignment_id", "assignments"),
        sa.PrimaryKeyConstraint("user_id", "slot_id", "tag", name=op.f("pk_mistake_marks")),
    )
    op.create_index(op.f("ix_mistake_marks_slot_id"), "mistake_marks", ["slot_id"])
    op.create_index(
        op.f("ix_mistake_marks_assignment_id_tag_user_id"), "mistake_marks",
        ["assignment_id", "tag", "user_id"],
    )
    _fill_marks()


def _fill_marks() -> None:
    """Marks from the results written so far. Every assignment was closed at its due date
    until now, so a result's credit is its score."""
    rows = op.get_bind().execute(
        sa.text(
            "SELECT p.owner_id, p.slot_id, sl.assignment_id, p.created_at, s.attempt,"
            " s.received_at, r.score, r.parts"
            " FROM results r JOIN submissions s ON s.id = r.submission_id"
            " JOIN problems p ON p.id = s.problem_id"
            " JOIN assignment_slots sl ON sl.id = p.slot_id"
        ).columns(
            sa.column("owner_id", sa.Integer()), sa.column("slot_id", sa.Integer()),
            sa.column("assignment_id", sa.Integer()), sa.column("created_at", sa.DateTime()),
            sa.column("attempt", sa.Integer()), sa.column("received_at", sa.DateTime()),
            sa.column("score", sa.Float()), sa.column("parts", JSON),
        )
    )
    marks: dict[tuple[int, int], dict[str, Any]] = {}
    mistakes: dict[tuple[int, int, str], dict[str, Any]] = defaultdict(dict)
    for owner, slot, assignment, viewed, attempt, received, score, parts in rows:
        mark = marks.setdefault(
            (owner, slot),
            {"user_id": owner, "slot_id": slot, "assignment_id": assignment, "graded": 0,
             "best_score": 0.0, "credit": 0.0, "solved_attempt": None, "solved_at": None,
             "first_view_at": viewed, "last_at": received},
        )
        mark["graded"] += 1
        mark["best_score"] = mark["credit"] = max(mark["best_score"], score)
        mark["last_at"] = max(mark["last_at"], received)
        if score >= 1.0 and (mark["solved_attempt"] is None or attempt < mark["solved_attempt"]):
            mark["solved_attempt"], mark["solved_at"] = attempt, received
        for tag in {t for part in parts.values() for t in part.get("misconceptions", [])}:
            m = mistakes[(owner, slot, tag)]
            if not m:
                m.update(user_id=owner, slot_id=slot, tag=tag, assignment_id=assignment,
                         times=0, first_at=received, last_at=received)
            m["times"] += 1
            m["first_at"], m["last_at"] = min(m["first_at"], received), max(m["last_at"], received)
    meta = sa.MetaData()
    if marks:
        op.bulk_insert(sa.Table("marks", meta, autoload_with=op.get_bind()), list(marks.values()))
    if mistakes:
        op.bulk_insert(
            sa.Table("mistake_marks", meta, autoload_with=op.get_bind()), list(mistakes.values())
        )


def downgrade() -> None:
    op.drop_table("mistake_marks")
    op.drop_table("marks")
    op.drop_table("invites")
    op.drop_table("assignment_overrides")
    with op.batch_alter_table("assignment_slots") as batch:
        batch.drop_column("network")
    with op.batch_alter_table("assignments") as batch:
        batch.drop_constraint(op.f("ck_assignments_late_penalty"), type_="check")
        batch.drop_constraint(op.f("ck_assignments_late_policy"), type_="check")
        batch.drop_column("late_penalty")
        batch.drop_column("late_policy")
        batch.drop_column("published")
        batch.drop_column("opens_at")
    op.execute("DELETE FROM enrollments WHERE role = 'ta'")
    with op.batch_alter_table("enrollments") as batch:
        batch.drop_column("section")
        batch.alter_column(
            "role",
            type_=enum("course_role", "student", "instructor"),
            existing_type=enum("course_role", "student", "ta", "instructor"),
            existing_nullable=False,
        )
