"""Security: session epochs, failed logins, submission idempotency keys.

- ``users.session_epoch``: part of every session's user id; logging out or changing the
  password moves it on, so a session cookie copied earlier no longer loads its user.
- ``login_failures``: one row per failed login (account, client address, when), counted
  over a sliding window to rate-limit guessing; shared by every web process.
- ``submissions.idempotency_key``: a client's key for one submission; unique per user
  where set (a partial index: rows without a key, nearly all, cost it nothing).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HAS_KEY = sa.text("idempotency_key IS NOT NULL")


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=254), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index(
        "ix_login_failures_account_failed_at", "login_failures", ["account", "failed_at"]
    )
    op.create_index(
        "ix_login_failures_address_failed_at", "login_failures", ["address", "failed_at"]
    )
    op.create_index("ix_login_failures_failed_at", "login_failures", ["failed_at"])
    op.add_column("submissions", sa.Column("idempotency_key", sa.String(length=128)))
    if op.get_bind().dialect.name != "postgresql":
        op.create_index(
            "uq_submissions_user_id_idempotency_key",
            "submissions",
            ["user_id", "idempotency_key"],
            unique=True,
            sqlite_where=HAS_KEY,
        )
        return
    # Concurrently, as in 0002: a live submissions table keeps taking rows meanwhile.
    with op.get_context().autocommit_block():
        op.create_index(
            "uq_submissions_user_id_idempotency_key",
            "submissions",
            ["user_id", "idempotency_key"],
            unique=True,
            postgresql_where=HAS_KEY,
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    op.drop_index("uq_submissions_user_id_idempotency_key", table_name="submissions")
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("idempotency_key")
    op.drop_table("login_failures")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_epoch")
