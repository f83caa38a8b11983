"""The learning loop (issue 17): each result keeps its evidence about the student
(``exercises.learning.Evidence``: per part, its skill, how it went, the mistakes named and
the misconceptions it could reveal), written with the result. Results written before, and
regrades and overrides, have none; the service derives it from the problem when read.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A frozen copy of the model type, so this file never changes when the models do.
OPTIONAL_JSON = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)


def upgrade() -> None:
    with op.batch_alter_table("results") as batch:
        batch.add_column(sa.Column("evidence", OPTIONAL_JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("results") as batch:
        batch.drop_column("evidence")
