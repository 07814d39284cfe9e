"""url ingest and durable jobs

URL jobs have no stored source until downloaded, so the source columns may be
empty; the row also keeps the URL, the source's title, a failure code and the
worker's heartbeat.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NULLABLE_SOURCE = {
    "source_key": sa.String(length=255),
    "source_sha256": sa.String(length=64),
    "source_size_bytes": sa.BigInteger(),
    "source_format": sa.String(length=32),
    "source_duration_s": sa.Float(),
    "source_sample_rate": sa.Integer(),
    "source_channels": sa.Integer(),
}


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error_code", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("source_url", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("source_title", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_jobs_heartbeat_at"), ["heartbeat_at"], unique=False)
        for name, type_ in NULLABLE_SOURCE.items():
            batch_op.alter_column(name, existing_type=type_, nullable=True)


def downgrade() -> None:
    # Rows without a stored source (URL jobs not yet downloaded) cannot exist below 0003.
    op.execute("DELETE FROM jobs WHERE source_key IS NULL")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        for name, type_ in NULLABLE_SOURCE.items():
            batch_op.alter_column(name, existing_type=type_, nullable=False)
        batch_op.drop_index(batch_op.f("ix_jobs_heartbeat_at"))
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("source_title")
        batch_op.drop_column("source_url")
        batch_op.drop_column("error_code")
