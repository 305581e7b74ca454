"""an index for the attempts behind a connection-wide alert (its connection, channel and time)

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_attempt_connection_operation_at", "attempt", ["connection_id", "operation", "at"]
    )


def downgrade() -> None:
    op.drop_index("ix_attempt_connection_operation_at", table_name="attempt")
