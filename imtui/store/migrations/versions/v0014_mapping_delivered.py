"""when an order last reached the WMS through each ship-method mapping (issue 16)

A carrier and mode count as "in use" only once the WMS has taken an order with them: a mapping
saved and refused for every order is not proof of anything. The success path notes the time;
changing a mapping's carrier or mode clears it (the new pair is unproven).

Existing mappings through which an order already reached the WMS count as proven from their
last change: the nearest this history can tell.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from imtui.store.types import UTCDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ship_method_mapping") as batch:
        batch.add_column(sa.Column("delivered_at", UTCDateTime(), nullable=True))
    op.execute(
        "UPDATE ship_method_mapping SET delivered_at = updated_at WHERE EXISTS ("
        ' SELECT 1 FROM "order" o WHERE o.account_id = ship_method_mapping.account_id'
        " AND o.ship_method_code = ship_method_mapping.source_code"
        " AND o.status IN ('delivered', 'shipped', 'fulfilled'))"
    )


def downgrade() -> None:
    with op.batch_alter_table("ship_method_mapping") as batch:
        batch.drop_column("delivered_at")
