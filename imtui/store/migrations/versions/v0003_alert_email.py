"""alert email: contacts per account, the durable outbox, which contact was told about which alert

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import imtui.store.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("frequency", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("next_digest_at", imtui.store.types.UTCDateTime(), nullable=True),
        sa.Column("last_digest_at", imtui.store.types.UTCDateTime(), nullable=True),
        sa.Column("created_at", imtui.store.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", imtui.store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "email"),
    )
    with op.batch_alter_table("alert_contact", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alert_contact_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_alert_contact_next_digest_at"), ["next_digest_at"], unique=False
        )

    op.create_table(
        "outbox_email",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("recipient", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("recipient_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("rendered_at", imtui.store.types.UTCDateTime(), nullable=True),
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=250), nullable=True),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", imtui.store.types.UTCDateTime(), nullable=True),
        sa.Column("last_attempt_at", imtui.store.types.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sending_since", imtui.store.types.UTCDateTime(), nullable=True),
        sa.Column("lease_owner", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("lease_expires_at", imtui.store.types.UTCDateTime(), nullable=True),
        sa.Column("sent_at", imtui.store.types.UTCDateTime(), nullable=True),
        sa.Column("smtp_reply", sa.Text(), nullable=True),
        sa.Column("created_at", imtui.store.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", imtui.store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alert.id"],
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["alert_contact.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    with op.batch_alter_table("outbox_email", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_account_id", ["account_id", "id"], unique=False)
        batch_op.create_index("ix_outbox_due", ["state", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_email_alert_id"), ["alert_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outbox_email_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index("ix_outbox_state_id", ["state", "id"], unique=False)

    op.create_table(
        "alert_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("via", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("noticed_at", imtui.store.types.UTCDateTime(), nullable=False),
        sa.Column("closure_reported_at", imtui.store.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alert.id"],
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["alert_contact.id"],
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["outbox_email.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("contact_id", "alert_id"),
    )
    with op.batch_alter_table("alert_notice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_notice_alert_id"), ["alert_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_notice_outbox_id"), ["outbox_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alert_notice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_notice_outbox_id"))
        batch_op.drop_index(batch_op.f("ix_alert_notice_alert_id"))

    op.drop_table("alert_notice")
    with op.batch_alter_table("outbox_email", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_state_id")
        batch_op.drop_index(batch_op.f("ix_outbox_email_contact_id"))
        batch_op.drop_index(batch_op.f("ix_outbox_email_alert_id"))
        batch_op.drop_index("ix_outbox_due")
        batch_op.drop_index("ix_outbox_account_id")

    op.drop_table("outbox_email")
    with op.batch_alter_table("alert_contact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_contact_next_digest_at"))
        batch_op.drop_index(batch_op.f("ix_alert_contact_account_id"))

    op.drop_table("alert_contact")
