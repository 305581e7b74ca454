"""PostgreSQL: a NOTIFY on imtui's own channel when imtui's tables change, so a dashboard
re-reads only when imtui's data changed (not on every other database's writes)

Each table gets statement-level triggers that call ``pg_notify('imtui_changes', <the table's
schema>)`` when the statement changed a row. A notification reaches only listeners on the same
database; the payload keeps apart the schemas of one database (the tests use one schema each),
and the listener (:mod:`imtui.store.changes`) ignores other schemas'. PostgreSQL delivers it on
commit only, once per transaction however many statements signalled, and never for a
transaction rolled back.

Statement-level, so a bulk write costs one call, not one per row. An UPDATE or DELETE that
matched nothing (a claim finding no due row) still fires a statement trigger: the transition
table says whether any row changed, so an idle engine does not wake every dashboard. PostgreSQL
allows a transition table only on a trigger for one event, hence one trigger per event.

SQLite: nothing to do (the dashboard asks ``PRAGMA data_version``).

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "imtui_changes"
FUNCTION = "imtui_signal_change"
TRIGGER = "imtui_changes"
"""Triggers are named ``imtui_changes_<event>`` on every table."""

TABLES = (
    "account",
    "connection",
    "order",
    "order_line",
    "ship_method_mapping",
    "inventory_level",
    "alert",
    "alert_event",
    "retry_item",
    "attempt",
    "audit_entry",
    "alert_contact",
    "outbox_email",
    "alert_notice",
    "engine_beat",
    "person",
    "person_account",
)
"""Every table of revision 0009 but alembic_version: the dashboard shows them all, one way or
another (the header's counts, the panes, an order's history, who may see what)."""

EVENTS = {"insert": "NEW", "update": "NEW", "delete": "OLD", "truncate": None}
"""Each event and the transition table that holds the rows it changed (TRUNCATE has none)."""

SILENT_UPDATES = {"engine_beat"}
"""Tables whose updates signal nothing. Every running engine moves its beat every 30 s; on
screen that changes nothing (the header says whether an engine runs elsewhere, which changes
when a beat is added, removed, or falls silent — and silence is no commit: the header finds it
by re-reading its counts every 15 s anyway). Four idle workers' beats would otherwise have
every idle dashboard re-read all its panes eight times a minute."""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $body$
        BEGIN
            IF TG_OP <> 'TRUNCATE' THEN
                IF NOT EXISTS (SELECT 1 FROM imtui_changed_rows) THEN
                    RETURN NULL;
                END IF;
            END IF;
            PERFORM pg_notify('{CHANNEL}', TG_TABLE_SCHEMA);
            RETURN NULL;
        END
        $body$
        """
    )
    quote = op.get_bind().dialect.identifier_preparer.quote
    for table in TABLES:
        for event, rows in EVENTS.items():
            if event == "update" and table in SILENT_UPDATES:
                continue
            referencing = f"REFERENCING {rows} TABLE AS imtui_changed_rows" if rows else ""
            op.execute(
                f"CREATE TRIGGER {TRIGGER}_{event} AFTER {event.upper()} ON {quote(table)} "
                f"{referencing} FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    quote = op.get_bind().dialect.identifier_preparer.quote
    for table in TABLES:
        for event in EVENTS:
            op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER}_{event} ON {quote(table)}")
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
