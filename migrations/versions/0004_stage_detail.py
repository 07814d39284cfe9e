"""stage detail

The stage becomes one word of a fixed set (an enum in the API); the model a
separation is running moves from the stage text ("separating: demucs:htdemucs")
to its own column.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PREFIX = "separating: "


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stage_detail", sa.String(length=80), nullable=True))
    op.execute(
        f"UPDATE jobs SET stage_detail = substr(stage, {len(PREFIX) + 1}), stage = 'separating' "
        f"WHERE stage LIKE '{PREFIX}%'"
    )


def downgrade() -> None:
    op.execute(
        f"UPDATE jobs SET stage = substr('{PREFIX}' || stage_detail, 1, 80) "
        "WHERE stage = 'separating' AND stage_detail IS NOT NULL"
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("stage_detail")
