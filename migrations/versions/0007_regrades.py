"""Versioned results and regrades (issue 16): a result records the grader version that made
it and whether it is current (a partial unique index keeps one current result per
submission, instead of one result); a regrade or an override adds a result. Assignments
and slots get a grading policy; ``regrades`` and ``regrade_items`` hold a regrade's
preview and the progress of applying it. Results written before have an empty version.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the model types, so this file never changes when the models do.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
OPTIONAL_JSON = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)


def upgrade() -> None:
    op.create_table(
        "regrades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=True),
        sa.Column("submission_id", sa.Uuid(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "previewed",
                "applying",
                "applied",
                "discarded",
                name="regrade_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("never_lower", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("versions", JSON, nullable=False),
        sa.Column("counts", JSON, nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_by", sa.Integer(), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("progressed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["applied_by"],
            ["users.id"],
            name=op.f("fk_regrades_applied_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignments.id"],
            name=op.f("fk_regrades_assignment_id_assignments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["users.id"],
            name=op.f("fk_regrades_requested_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"],
            ["assignment_slots.id"],
            name=op.f("fk_regrades_slot_id_assignment_slots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_regrades_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regrades")),
    )
    with op.batch_alter_table("regrades", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_regrades_assignment_id"), ["assignment_id"], unique=False
        )

    op.create_table(
        "regrade_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("regrade_id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("old_result_id", sa.Integer(), nullable=False),
        sa.Column("old_score", sa.Float(), nullable=False),
        sa.Column("new_score", sa.Float(), nullable=False),
        sa.Column("old_tags", JSON, nullable=False),
        sa.Column("new_tags", JSON, nullable=False),
        sa.Column("new_parts", JSON, nullable=False),
        sa.Column("grader_version", sa.String(length=64), nullable=False),
        sa.Column(
            "change",
            sa.Enum(
                "raised",
                "lowered",
                "unchanged",
                "kept",
                name="regrade_change",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("skipped", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["old_result_id"],
            ["results.id"],
            name=op.f("fk_regrade_items_old_result_id_results"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["regrade_id"],
            ["regrades.id"],
            name=op.f("fk_regrade_items_regrade_id_regrades"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"],
            ["assignment_slots.id"],
            name=op.f("fk_regrade_items_slot_id_assignment_slots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_regrade_items_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_regrade_items_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regrade_items")),
        sa.UniqueConstraint(
            "regrade_id", "submission_id", name=op.f("uq_regrade_items_regrade_id_submission_id")
        ),
    )
    with op.batch_alter_table("regrade_items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_regrade_items_regrade_id_done_at", ["regrade_id", "done_at"], unique=False
        )

    with op.batch_alter_table("assignment_slots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("grading_policy", OPTIONAL_JSON, nullable=True))

    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("grading_policy", OPTIONAL_JSON, nullable=True))

    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("current", sa.Boolean(), server_default=sa.text("true"), nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "kind",
                sa.Enum(
                    "graded",
                    "regraded",
                    "override",
                    name="result_kind",
                    native_enum=False,
                    create_constraint=True,
                    length=16,
                ),
                server_default="graded",
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column("grader_version", sa.String(length=64), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("created_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("regrade_id", sa.Integer(), nullable=True))
        batch_op.drop_constraint(batch_op.f("uq_results_submission_id"), type_="unique")
        batch_op.create_index(batch_op.f("ix_results_regrade_id"), ["regrade_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_results_submission_id"), ["submission_id"], unique=False
        )
        batch_op.create_index(
            "uq_results_submission_id_current",
            ["submission_id"],
            unique=True,
            postgresql_where=sa.text("current IS true"),
            sqlite_where=sa.text("current IS true"),
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_results_regrade_id_regrades"),
            "regrades",
            ["regrade_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_results_created_by_users"),
            "users",
            ["created_by"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    # Only the current results fit the old one-result-per-submission schema.
    op.execute("DELETE FROM results WHERE NOT current")
    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_results_created_by_users"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_results_regrade_id_regrades"), type_="foreignkey")
        batch_op.drop_index(
            "uq_results_submission_id_current",
            postgresql_where=sa.text("current IS true"),
            sqlite_where=sa.text("current IS true"),
        )
        batch_op.drop_index(batch_op.f("ix_results_submission_id"))
        batch_op.drop_index(batch_op.f("ix_results_regrade_id"))
        batch_op.create_unique_constraint(
            batch_op.f("uq_results_submission_id"),
            ["submission_id"],
            postgresql_nulls_not_distinct=False,
        )
        batch_op.drop_constraint(op.f("ck_results_result_kind"), type_="check")
        batch_op.drop_column("regrade_id")
        batch_op.drop_column("reason")
        batch_op.drop_column("created_by")
        batch_op.drop_column("grader_version")
        batch_op.drop_column("kind")
        batch_op.drop_column("current")

    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_column("grading_policy")

    with op.batch_alter_table("assignment_slots", schema=None) as batch_op:
        batch_op.drop_column("grading_policy")

    with op.batch_alter_table("regrade_items", schema=None) as batch_op:
        batch_op.drop_index("ix_regrade_items_regrade_id_done_at")

    op.drop_table("regrade_items")
    with op.batch_alter_table("regrades", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_regrades_assignment_id"))

    op.drop_table("regrades")
