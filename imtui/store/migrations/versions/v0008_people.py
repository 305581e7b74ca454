"""people and roles: who may see and do what, scoped to accounts; on PostgreSQL, row-level
security holds the account scope in the database itself

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import imtui.store.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("all_accounts", sa.Boolean(), nullable=False),
        sa.Column("created_at", imtui.store.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("login"),
    )
    op.create_table(
        "person_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("person_id", "account_id"),
    )
    with op.batch_alter_table("person_account") as batch:
        batch.create_index(batch.f("ix_person_account_person_id"), ["person_id"], unique=False)
        batch.create_index(batch.f("ix_person_account_account_id"), ["account_id"], unique=False)


def downgrade() -> None:
    op.drop_table("person_account")
    op.drop_table("person")
