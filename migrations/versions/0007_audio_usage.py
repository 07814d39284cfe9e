"""audio usage ledger

The minutes per rolling day are counted from a ledger, not from the job rows: one
row per job's source audio, written when the job is accepted (a URL job's when its
download is stored) and kept when the job is cancelled or deleted, so deleting a
job and sending it again does not give its minutes back.

The upgrade counts what the job rows counted until now: every job made in the last
24 hours whose length is known, at the time it was made. The downgrade drops the
ledger; the jobs are untouched.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 11:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAY = timedelta(hours=24)


def upgrade() -> None:
    usage = op.create_table(
        "audio_usage",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audio_usage_counted_at", "audio_usage", ["counted_at"])
    op.create_index("ix_audio_usage_user_id_counted_at", "audio_usage", ["user_id", "counted_at"])
    jobs = sa.table(
        "jobs",
        sa.column("id", sa.String()),
        sa.column("owner_id", sa.String()),
        sa.column("source_duration_s", sa.Float()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    # Bound through the column's type, so SQLite compares it in its own text format.
    since = datetime.now(UTC) - DAY
    counted = sa.select(jobs.c.owner_id, jobs.c.id, jobs.c.source_duration_s, jobs.c.created_at)
    counted = counted.where(jobs.c.created_at > since, jobs.c.source_duration_s.is_not(None))
    op.execute(usage.insert().from_select(["user_id", "job_id", "seconds", "counted_at"], counted))


def downgrade() -> None:
    op.drop_index("ix_audio_usage_user_id_counted_at", table_name="audio_usage")
    op.drop_index("ix_audio_usage_counted_at", table_name="audio_usage")
    op.drop_table("audio_usage")
