"""engine beats: each running engine notes when it last ran a cycle, so a dashboard that runs
none can say whether one runs elsewhere

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import imtui.store.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "engine_beat",
        sa.Column("owner", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("started_at", imtui.store.types.UTCDateTime(), nullable=False),
        sa.Column("beat_at", imtui.store.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("owner"),
    )
    with op.batch_alter_table("engine_beat", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_engine_beat_beat_at"), ["beat_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("engine_beat", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_engine_beat_beat_at"))
    op.drop_table("engine_beat")
