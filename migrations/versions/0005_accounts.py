"""accounts

Users, their OIDC identities, sign-in sessions and API tokens; every job gets an
owner.

How jobs made before accounts reach the first admin: this migration creates one
built-in admin row (LOCAL_ADMIN_ID, with an address that can never be real and no
password) and gives it every existing job. `STEMDECK_AUTH=none` acts as that row.
`stemdeck migrate` / `stemdeck up` then make it the settings' first admin
(STEMDECK_ADMIN_EMAIL, with the argon2 hash of STEMDECK_ADMIN_PASSWORD): see
stemdeck/core/accounts/first_admin.py. The first admin is never whoever signs in
first.

The constants are copied here, not imported: a migration must not change when
the code does.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 08:30:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOCAL_ADMIN_ID = "0" * 31 + "1"
LOCAL_ADMIN_EMAIL = "local-admin@stemdeck.invalid"
OWNER_FK = "fk_jobs_owner_id_users"


def _timestamp(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _user_id() -> sa.Column[str]:
    return sa.Column("user_id", sa.String(length=32), nullable=False)


def _create_users() -> None:
    users = op.create_table(
        "users",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        _timestamp("disabled_at", nullable=True),
        _timestamp("created_at"),
        sa.Column("max_active_jobs", sa.Integer(), nullable=True),
        sa.Column("audio_minutes_per_day", sa.Integer(), nullable=True),
        sa.Column("storage_bytes", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("email = lower(email)", name="ck_users_email_lower"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.bulk_insert(
        users,
        [
            {
                "id": LOCAL_ADMIN_ID,
                "email": LOCAL_ADMIN_EMAIL,
                "password_hash": None,
                "is_admin": True,
                "created_at": datetime.now(UTC),
            }
        ],
    )


def _create_sign_in_tables() -> None:
    op.create_table(
        "identities",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        _user_id(),
        _timestamp("created_at"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("issuer", "subject"),
    )
    op.create_index("ix_identities_user_id", "identities", ["user_id"])
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        _user_id(),
        _timestamp("created_at"),
        _timestamp("last_seen_at"),
        _timestamp("expires_at"),
        sa.Column("user_agent", sa.String(length=255), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_index("ix_sessions_expires_at", "sessions", ["expires_at"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=32), nullable=False),
        _user_id(),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        _timestamp("created_at"),
        _timestamp("last_used_at", nullable=True),
        _timestamp("expires_at", nullable=True),
        _timestamp("revoked_at", nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])


def upgrade() -> None:
    _create_users()
    _create_sign_in_tables()
    # Nullable first, filled, then required: existing rows need a value before NOT NULL.
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_id", sa.String(length=32), nullable=True))
    op.execute(sa.text("UPDATE jobs SET owner_id = :owner").bindparams(owner=LOCAL_ADMIN_ID))
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.alter_column("owner_id", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_index("ix_jobs_owner_id", ["owner_id"], unique=False)
        batch_op.create_foreign_key(OWNER_FK, "users", ["owner_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_constraint(OWNER_FK, type_="foreignkey")
        batch_op.drop_index("ix_jobs_owner_id")
        batch_op.drop_column("owner_id")
    op.drop_table("api_tokens")
    op.drop_table("sessions")
    op.drop_table("identities")
    op.drop_table("users")
