"""orders the shop changes or cancels after download (B11): the shop's version last seen, the
fields a person edited here, when it was cancelled; a stock push's idempotency key

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import imtui.store.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("order") as batch:
        batch.add_column(sa.Column("cancelled_at", imtui.store.types.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("source_version", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("edited_fields", sa.String(length=500), nullable=False, server_default="")
        )
    with op.batch_alter_table("retry_item") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("retry_item") as batch:
        batch.drop_column("idempotency_key")
    with op.batch_alter_table("order") as batch:
        batch.drop_column("edited_fields")
        batch.drop_column("source_version")
        batch.drop_column("cancelled_at")
