"""people and roles: who may see and do what, scoped to accounts; on PostgreSQL, row-level
security holds the account scope in the database itself

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import imtui.store.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("all_accounts", sa.Boolean(), nullable=False),
        sa.Column("created_at", imtui.store.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("login"),
    )
    op.create_table(
        "person_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("person_id", "account_id"),
    )
    with op.batch_alter_table("person_account") as batch:
        batch.create_index(batch.f("ix_person_account_person_id"), ["person_id"], unique=False)
        batch.create_index(batch.f("ix_person_account_account_id"), ["account_id"], unique=False)
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        schema = bind.execute(sa.text("SELECT current_schema()")).scalar_one()
        for statement in row_level_security(schema):
            op.execute(statement)


ENGINEER_GROUP = "imtui_engineer"

# Each table: the rows a person may see and change, as a condition on the table's own row, and
# the role a change needs (1 viewer, 2 operator, 3 admin).
ACCOUNT_COLUMN = {
    "account": ("id", 3),
    "connection": ("account_id", 3),
    "alert_contact": ("account_id", 3),
    "order": ("account_id", 2),
    "ship_method_mapping": ("account_id", 2),
    "inventory_level": ("account_id", 2),
    "alert": ("account_id", 2),
    "retry_item": ("account_id", 2),
    "outbox_email": ("account_id", 2),
}
THROUGH_PARENT = {
    # table: (its column, the parent table whose visible ids it must point at)
    "order_line": ("order_id", "order"),
    "alert_event": ("alert_id", "alert"),
    "alert_notice": ("alert_id", "alert"),
    "attempt": ("retry_item_id", "retry_item"),
}


def _in_scope(column: str, need: int) -> str:
    # The functions run once per statement (an initplan, thanks to the sub-selects), not once
    # per row.
    every = f"(SELECT imtui_all_accounts({need}))"
    listed = f"{column} = ANY ((SELECT imtui_accounts({need}))::integer[])"
    return f"({every} OR {listed})"


def row_level_security(schema: str) -> list[str]:
    """The SQL that keeps an engineer's sessions to their accounts and role (README, "A team
    on PostgreSQL"). The tables' owner — the workers' login — is not bound by it."""
    quoted = '"' + schema.replace('"', '""') + '"'
    rank = "CASE p.role WHEN 'admin' THEN 3 WHEN 'operator' THEN 2 WHEN 'viewer' THEN 1 ELSE 0 END"
    statements = [
        f"""
        DO $$ BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ENGINEER_GROUP}') THEN
            CREATE ROLE {ENGINEER_GROUP} NOLOGIN;
          END IF;
        EXCEPTION
          WHEN insufficient_privilege THEN
            RAISE NOTICE 'imtui: cannot create role {ENGINEER_GROUP}; a superuser creates it';
          WHEN duplicate_object OR unique_violation THEN
            NULL;  -- created meanwhile by another schema's migration: the role is there
        END $$
        """,
        f"""
        CREATE OR REPLACE FUNCTION imtui_all_accounts(need integer) RETURNS boolean
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {quoted} AS $$
          SELECT EXISTS (SELECT 1 FROM person p WHERE p.login = session_user
                          AND p.all_accounts AND {rank} >= need)
        $$
        """,
        f"""
        CREATE OR REPLACE FUNCTION imtui_accounts(need integer) RETURNS integer[]
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {quoted} AS $$
          SELECT coalesce(array_agg(pa.account_id), '{{}}')
            FROM person p JOIN person_account pa ON pa.person_id = p.id
           WHERE p.login = session_user AND {rank} >= need
        $$
        """,
        f"""
        CREATE OR REPLACE FUNCTION imtui_rank() RETURNS integer
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {quoted} AS $$
          SELECT coalesce(max({rank}), 0) FROM person p WHERE p.login = session_user
        $$
        """,
    ]
    for table, (column, need) in ACCOUNT_COLUMN.items():
        statements += _policies(table, _in_scope(column, 1), _in_scope(column, need))
    for table, (column, parent) in THROUGH_PARENT.items():
        parent_column, need = ACCOUNT_COLUMN[parent]
        see = f'{column} IN (SELECT id FROM "{parent}")'
        change = f'{column} IN (SELECT id FROM "{parent}" WHERE {_in_scope(parent_column, need)})'
        statements += _policies(table, see, change)
    statements += _policies(
        "person",
        "login = session_user OR (SELECT imtui_all_accounts(3))",
        "(SELECT imtui_all_accounts(3))",
    )
    statements += _policies(
        "person_account",
        "person_id IN (SELECT id FROM person)",
        "(SELECT imtui_all_accounts(3))",
    )
    # Who did what: any person reads it; writing it comes with any change (operator and up).
    statements += _policies(
        "audit_entry", "(SELECT imtui_rank()) >= 1", "(SELECT imtui_rank()) >= 2"
    )
    # Engines beat as the owner; people only read the beats.
    statements += _policies("engine_beat", "(SELECT imtui_rank()) >= 1", "false")
    statements.append(
        f"""
        DO $$ BEGIN
          IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{ENGINEER_GROUP}') THEN
            GRANT USAGE ON SCHEMA {quoted} TO {ENGINEER_GROUP};
            GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {quoted}
              TO {ENGINEER_GROUP};
            REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM {ENGINEER_GROUP};
            GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {quoted} TO {ENGINEER_GROUP};
            GRANT EXECUTE ON FUNCTION imtui_all_accounts(integer), imtui_accounts(integer),
              imtui_rank() TO {ENGINEER_GROUP};
          END IF;
        END $$
        """
    )
    return statements


def _policies(table: str, see: str, change: str) -> list[str]:
    name = f'"{table}"'
    return [
        f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY",
        f"CREATE POLICY imtui_see ON {name} FOR SELECT USING ({see})",
        f"CREATE POLICY imtui_add ON {name} FOR INSERT WITH CHECK ({change})",
        f"CREATE POLICY imtui_change ON {name} FOR UPDATE USING ({change}) WITH CHECK ({change})",
        f"CREATE POLICY imtui_remove ON {name} FOR DELETE USING ({change})",
    ]


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table in [*ACCOUNT_COLUMN, *THROUGH_PARENT, "person", "person_account"]:
            for policy in ("imtui_see", "imtui_add", "imtui_change", "imtui_remove"):
                op.execute(f'DROP POLICY IF EXISTS {policy} ON "{table}"')
            op.execute(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY')
        for table in ("audit_entry", "engine_beat"):
            for policy in ("imtui_see", "imtui_add", "imtui_change", "imtui_remove"):
                op.execute(f'DROP POLICY IF EXISTS {policy} ON "{table}"')
            op.execute(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY')
        op.execute("DROP FUNCTION IF EXISTS imtui_all_accounts(integer)")
        op.execute("DROP FUNCTION IF EXISTS imtui_accounts(integer)")
        op.execute("DROP FUNCTION IF EXISTS imtui_rank()")
    op.drop_table("person_account")
    op.drop_table("person")
