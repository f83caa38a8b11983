"""Submissions: a partial index of the ungraded rows replaces the (status, published_at) one,
and pages keep a fifth free for updates.

Grading rewrites each row twice. The old index covered ``status``, so both rewrites added
an entry to every index, and its dead entries drew claims into scanning it (a backlog of
thousands of rows made each claim walk them all). Now the claim touches no indexed
column and is a heap-only update; the sweeper reaches the rows still in play through
the partial index, which holds only the ungraded rows.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNGRADED = sa.text("graded_at IS NULL")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.drop_index("ix_submissions_status_published_at", table_name="submissions")
        op.create_index(
            "ix_submissions_ungraded", "submissions", ["queued_at"], sqlite_where=UNGRADED
        )
        return
    # Concurrently (outside a transaction), so a live table keeps taking submissions
    # while the new index is built; the old one goes only once the new one is there.
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_submissions_ungraded",
            "submissions",
            ["queued_at"],
            postgresql_where=UNGRADED,
            postgresql_concurrently=True,
        )
        op.drop_index(
            "ix_submissions_status_published_at",
            table_name="submissions",
            postgresql_concurrently=True,
        )
    # Applies to pages written from now on; old ones keep their layout until rewritten.
    op.execute("ALTER TABLE submissions SET (fillfactor = 80)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE submissions RESET (fillfactor)")
    op.create_index("ix_submissions_status_published_at", "submissions", ["status", "published_at"])
    op.drop_index("ix_submissions_ungraded", table_name="submissions")
