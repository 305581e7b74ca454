"""browser mode (issue 12): the servers serving it, and the emailed links already used

Neither table is granted to the engineers' group on PostgreSQL: only the owner's login (the
workers and ``imtui serve``) reads or writes them.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from imtui.store.types import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "link_server",
        sa.Column("public_url", sa.String(length=400), primary_key=True),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("beat_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "link_use",
        sa.Column("digest", sa.String(length=64), primary_key=True),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("email_id", sa.Integer(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_link_use_alert_id", "link_use", ["alert_id"])
    op.create_index("ix_link_use_expires_at", "link_use", ["expires_at"])
    _change_triggers()


def _change_triggers() -> None:
    """PostgreSQL: the change signal of migration 0009 on both tables — but not on a server's
    beat (an update every 30 s that changes nothing on any screen)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    events = {"insert": "NEW", "update": "NEW", "delete": "OLD", "truncate": None}
    for table in ("link_server", "link_use"):
        for event, rows in events.items():
            if event == "update" and table == "link_server":
                continue
            referencing = f"REFERENCING {rows} TABLE AS imtui_changed_rows" if rows else ""
            op.execute(
                f"CREATE TRIGGER imtui_changes_{event} AFTER {event.upper()} ON {table} "
                f"{referencing} FOR EACH STATEMENT EXECUTE FUNCTION imtui_signal_change()"
            )


def downgrade() -> None:
    op.drop_table("link_use")
    op.drop_table("link_server")
