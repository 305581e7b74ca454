"""alert email by cause (issue 11): an outbox row's cause and thread, and whether its last
failure was the server being unreachable (it is due at once when the server answers again)

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_email") as batch:
        batch.add_column(sa.Column("cause", sa.String(length=400), nullable=True))
        batch.add_column(sa.Column("thread_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("server_down", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.create_index("ix_outbox_contact_cause", ["contact_id", "cause", "id"])
        batch.create_index("ix_outbox_thread", ["thread_id"])
        batch.create_index("ix_outbox_contact_attempt", ["contact_id", "last_attempt_at"])
    unsent = sa.text("state IN ('queued', 'sending')")
    op.create_index(
        "ix_outbox_unsent_id",
        "outbox_email",
        ["id"],
        sqlite_where=unsent,
        postgresql_where=unsent,
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_unsent_id", table_name="outbox_email")
    with op.batch_alter_table("outbox_email") as batch:
        batch.drop_index("ix_outbox_contact_attempt")
        batch.drop_index("ix_outbox_thread")
        batch.drop_index("ix_outbox_contact_cause")
        batch.drop_column("server_down")
        batch.drop_column("thread_id")
        batch.drop_column("cause")
