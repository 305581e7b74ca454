"""indexes for keyset pages of orders, alerts and the retry queue at a million rows

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_order_account_status", table_name="order")
    op.create_index("ix_order_account_status", "order", ["account_id", "status", "id"])
    op.create_index("ix_order_status_id", "order", ["status", "id"])
    op.create_index("ix_order_account_id_id", "order", ["account_id", "id"])
    op.create_index("ix_retry_state_id", "retry_item", ["state", "id"])
    op.create_index("ix_alert_state_id", "alert", ["state", "id"])


def downgrade() -> None:
    op.drop_index("ix_alert_state_id", table_name="alert")
    op.drop_index("ix_retry_state_id", table_name="retry_item")
    op.drop_index("ix_order_account_id_id", table_name="order")
    op.drop_index("ix_order_status_id", table_name="order")
    op.drop_index("ix_order_account_status", table_name="order")
    op.create_index("ix_order_account_status", "order", ["account_id", "status"])
