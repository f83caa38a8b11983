"""Problems: the seed column is nullable and empty for graded problems, whose seed is secret.

A graded variant's seed is now derived from the server's secret and lies beyond a
BIGINT; it is kept only inside the stored variant (``problems.variant``), which no
student reads. Existing graded rows keep their variant exactly as it was (so no student's
numbers change); only their public ``seed`` column is cleared, so that nothing reads it
as a seed a student may see or pass.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NO_PUBLIC_SEED = -1  # what a downgrade writes where there is none (no seed is negative)


def upgrade() -> None:
    with op.batch_alter_table("problems") as batch:
        batch.alter_column("seed", existing_type=sa.BigInteger(), nullable=True)
    op.execute("UPDATE problems SET seed = NULL WHERE slot_id IS NOT NULL")


def downgrade() -> None:
    op.execute(f"UPDATE problems SET seed = {NO_PUBLIC_SEED} WHERE seed IS NULL")
    with op.batch_alter_table("problems") as batch:
        batch.alter_column("seed", existing_type=sa.BigInteger(), nullable=False)
