"""one open alert per identity as a unique index (two workers raising one failure at once
made two), one immediate email per alert and contact; poll leases, so a poll claimed by an
engine that died is taken over

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import imtui.store.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_ONLY = sa.text("state = 'open'")
ALERT_EMAILS_ONLY = sa.text("kind = 'alert'")


def upgrade() -> None:
    with op.batch_alter_table("connection") as batch:
        batch.add_column(sa.Column("poll_owner", sa.String(length=200), nullable=True))
        batch.add_column(
            sa.Column("poll_lease_expires_at", imtui.store.types.UTCDateTime(), nullable=True)
        )
    # Duplicates made before the index: the oldest stays open, the others are closed as
    # merged into it (their history stays).
    op.execute(
        """
        UPDATE alert SET state = 'resolved', resolved_by = 'merged',
               resolved_at = last_seen
         WHERE state = 'open'
           AND EXISTS (SELECT 1 FROM alert AS older
                        WHERE older.fingerprint = alert.fingerprint
                          AND older.state = 'open' AND older.id < alert.id)
        """
    )
    op.create_index(
        "ux_alert_open_fingerprint",
        "alert",
        ["fingerprint"],
        unique=True,
        sqlite_where=OPEN_ONLY,
        postgresql_where=OPEN_ONLY,
    )
    # One immediate email per alert and contact. AlertNotice's unique (contact_id, alert_id)
    # already kept a second one out, so no existing rows collide.
    op.create_index(
        "ux_outbox_alert_contact",
        "outbox_email",
        ["alert_id", "contact_id"],
        unique=True,
        sqlite_where=ALERT_EMAILS_ONLY,
        postgresql_where=ALERT_EMAILS_ONLY,
    )


def downgrade() -> None:
    op.drop_index("ux_outbox_alert_contact", table_name="outbox_email")
    op.drop_index("ux_alert_open_fingerprint", table_name="alert")
    with op.batch_alter_table("connection") as batch:
        batch.drop_column("poll_lease_expires_at")
        batch.drop_column("poll_owner")
