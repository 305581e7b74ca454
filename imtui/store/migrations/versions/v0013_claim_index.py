"""an index for the retry queue's claim: one account's oldest due rows of one operation, in
order, so a claim reads its batch and stops however many rows are due (issue 15)

Partial (due rows only), with the claim's own order after its equalities: PostgreSQL walks it
from the oldest due row to the LIMIT where it used to sort every due row (100 ms at 300,000).

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    due = sa.text("state = 'due'")
    op.create_index(
        "ix_retry_claim",
        "retry_item",
        ["account_id", "operation", "next_attempt_at", "id"],
        sqlite_where=due,
        postgresql_where=due,
    )


def downgrade() -> None:
    op.drop_index("ix_retry_claim", table_name="retry_item")
