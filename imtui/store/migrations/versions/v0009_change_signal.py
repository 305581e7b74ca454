"""PostgreSQL: a NOTIFY on imtui's own channel when imtui's tables change, so a dashboard
re-reads only when imtui's data changed (not on every other database's writes)

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # filled in by the change-signal work (issue 9)


def downgrade() -> None:
    pass
