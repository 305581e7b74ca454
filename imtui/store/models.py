"""The tables. Enum-like columns hold the domain's StrEnum values as plain strings so that a new
value needs no migration.

Times are aware UTC datetimes (see :class:`UTCDateTime`), always from the injected clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from imtui.store.types import SealedJSON, UTCDateTime


def _time(*, index: bool = False, nullable: bool = True) -> Any:
    return Field(default=None, sa_type=UTCDateTime, index=index, nullable=nullable)


class Account(SQLModel, table=True):
    """A warehouse or merchant account: alerts and contacts belong to one."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    kind: str = Field(default="merchant", max_length=20)
    created_at: datetime = _time(nullable=False)


class Connection(SQLModel, table=True):
    """One remote system an account talks to: an order source (shop) or a WMS."""

    __table_args__ = (UniqueConstraint("account_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    name: str = Field(max_length=200)
    role: str = Field(max_length=10)
    """"source" or "wms"."""
    platform: str = Field(max_length=40)
    base_url: str = Field(max_length=2000)
    credentials: dict[str, Any] = Field(default_factory=dict, sa_column=Column(SealedJSON))
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    poll_interval_s: int = Field(default=300)
    paused: bool = Field(default=False)
    paused_reason: str | None = Field(default=None, sa_type=Text)
    last_polled_at: datetime | None = _time()
    next_poll_at: datetime | None = _time()
    watermark: datetime | None = _time()
    """The newest remote update seen: the next poll asks only for what changed since."""
    poll_owner: str | None = Field(default=None, max_length=200)
    """The engine polling this connection now (its owner name), until the poll ends."""
    poll_lease_expires_at: datetime | None = _time()
    """Until when ``poll_owner`` holds the poll: another engine may take it after that, or
    sooner when the owner's beat has gone stale (it died mid-download, on any host)."""
    created_at: datetime = _time(nullable=False)
    updated_at: datetime = _time(nullable=False)


class Order(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("source_connection_id", "source_order_id"),
        # Keyset pages (newest first) by status, by account, and by both.
        Index("ix_order_account_status", "account_id", "status", "id"),
        Index("ix_order_status_id", "status", "id"),
        Index("ix_order_account_id_id", "account_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    source_connection_id: int = Field(foreign_key="connection.id")
    source_order_id: str = Field(max_length=100)
    number: str = Field(index=True, max_length=100)
    reference: str = Field(unique=True, max_length=120)
    """Our ``referenceNum`` in the WMS; never changes once given."""
    ship_method_code: str = Field(default="", index=True, max_length=200)
    ship_method_title: str = Field(default="", max_length=500)
    ship_name: str = Field(default="", max_length=500)
    ship_company: str = Field(default="", max_length=500)
    ship_address1: str = Field(default="", max_length=500)
    ship_address2: str = Field(default="", max_length=500)
    ship_city: str = Field(default="", max_length=200)
    ship_state: str = Field(default="", max_length=100)
    ship_zip: str = Field(default="", max_length=50)
    ship_country: str = Field(default="", max_length=10)
    ship_phone: str = Field(default="", max_length=100)
    status: str = Field(default="queued", max_length=20)
    hold_reason: str | None = Field(default=None, sa_type=Text)
    wms_order_id: str | None = Field(default=None, max_length=100)
    tracking_number: str | None = Field(default=None, max_length=200)
    carrier: str | None = Field(default=None, max_length=100)
    shipped_at: datetime | None = _time()
    fulfilled_at: datetime | None = _time()
    cancelled_at: datetime | None = _time()
    """When the shop cancelled it (B11)."""
    source_version: str | None = Field(default=None, sa_type=Text)
    """The shop's version last seen (domain/shop_updates.py, as JSON): what the shop changed
    since is told apart from what a person changed here, and a poll that sees the same version
    again changes nothing."""
    edited_fields: str = Field(default="", max_length=500)
    """The shop-owned fields a person changed here (comma-separated): a shop's change to one
    of them is not followed silently (B11)."""
    created_at: datetime = _time(nullable=False)
    updated_at: datetime = _time(nullable=False, index=True)


class OrderLine(SQLModel, table=True):
    __tablename__ = "order_line"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="order.id", index=True)
    sku: str = Field(max_length=200)
    quantity: int


class ShipMethodMapping(SQLModel, table=True):
    """A shop's ship method code → the WMS carrier and mode (service)."""

    __tablename__ = "ship_method_mapping"
    __table_args__ = (UniqueConstraint("account_id", "source_code"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    source_code: str = Field(max_length=200)
    carrier: str = Field(max_length=100)
    mode: str = Field(max_length=100)
    billing_code: str = Field(default="Prepaid", max_length=100)
    created_at: datetime = _time(nullable=False)
    updated_at: datetime = _time(nullable=False)
    delivered_at: datetime | None = _time()
    """When the WMS last took an order sent with this carrier and mode: None while the pair
    is unproven (new, or changed since)."""


class InventoryLevel(SQLModel, table=True):
    """A SKU's stock as the WMS last reported it, and what was last pushed to one shop."""

    __tablename__ = "inventory_level"
    __table_args__ = (UniqueConstraint("source_connection_id", "sku"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    source_connection_id: int = Field(foreign_key="connection.id")
    sku: str = Field(max_length=200)
    wms_available: int = 0
    wms_on_hand: int = 0
    pushed_available: int | None = None
    seen_at: datetime | None = _time()
    pushed_at: datetime | None = _time()


OPEN_ONLY = text("state = 'open'")
ALERT_EMAILS_ONLY = text("kind = 'alert'")
UNSENT_EMAILS_ONLY = text("state IN ('queued', 'sending')")
DUE_ONLY = text("state = 'due'")


class Alert(SQLModel, table=True):
    __table_args__ = (
        Index("ix_alert_account_state", "account_id", "state"),
        Index("ix_alert_state_id", "state", "id"),
        # One open alert per identity (B1), held by the database: two workers raising the
        # same failure at once cannot both insert (see store/alerts.py raise_alert).
        Index(
            "ux_alert_open_fingerprint",
            "fingerprint",
            unique=True,
            sqlite_where=OPEN_ONLY,
            postgresql_where=OPEN_ONLY,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    connection_id: int | None = Field(default=None, foreign_key="connection.id")
    kind: str = Field(max_length=40)
    scope: str = Field(max_length=20)
    fingerprint: str = Field(index=True, max_length=400)
    state: str = Field(default="open", max_length=20)
    needs_person: bool = False
    message: str = Field(default="", sa_type=Text)
    """The remote system's words, verbatim (latest occurrence)."""
    order_id: int | None = Field(default=None, foreign_key="order.id", index=True)
    order_number: str | None = Field(default=None, max_length=100)
    sku: str | None = Field(default=None, max_length=200)
    subject: str | None = Field(default=None, max_length=300)
    http_status: int | None = None
    count: int = 1
    first_seen: datetime = _time(nullable=False)
    last_seen: datetime = _time(nullable=False)
    resolved_at: datetime | None = _time()
    resolved_by: str | None = Field(default=None, max_length=200)
    """"auto" when a retry succeeded; otherwise the user who dismissed it."""


class AlertEvent(SQLModel, table=True):
    """An alert's history: raised, repeated, auto-resolved, dismissed."""

    __tablename__ = "alert_event"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    at: datetime = _time(nullable=False)
    event: str = Field(max_length=40)
    actor: str = Field(default="imtui", max_length=200)
    detail: str = Field(default="", sa_type=Text)


class RetryItem(SQLModel, table=True):
    """One record's place in the retry queue. The database, not APScheduler, decides who sends
    what: a worker claims due rows with a lease, so two processes never send one record."""

    __tablename__ = "retry_item"
    __table_args__ = (
        UniqueConstraint("operation", "subject_id"),
        Index("ix_retry_due", "state", "next_attempt_at"),
        Index("ix_retry_state_id", "state", "id"),
        # A claim's filter and order (store/queue.py claim_due): one account's oldest due rows
        # of one operation, read in order until the batch is full, however long the backlog.
        Index(
            "ix_retry_claim",
            "account_id",
            "operation",
            "next_attempt_at",
            "id",
            sqlite_where=DUE_ONLY,
            postgresql_where=DUE_ONLY,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    connection_id: int = Field(foreign_key="connection.id", index=True)
    """The connection the operation talks to (the WMS for deliveries, the shop for pushes)."""
    operation: str = Field(max_length=30)
    subject_id: int
    """Order id for deliveries and tracking pushes, inventory level id for inventory pushes."""
    subject_label: str = Field(default="", max_length=300)
    """Order number or SKU, for people reading the queue."""
    state: str = Field(default="due", max_length=20)
    attempts: int = 0
    consecutive_failures: int = 0
    first_failure_at: datetime | None = _time()
    next_attempt_at: datetime | None = _time()
    deadline_at: datetime | None = _time()
    last_error: str | None = Field(default=None, sa_type=Text)
    last_failure_class: str | None = Field(default=None, max_length=30)
    in_flight_since: datetime | None = _time()
    """Set before a send, cleared by its recorded outcome. Still set when the row is claimed
    again means the last send's outcome is unknown: look the record up before resending."""
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_expires_at: datetime | None = _time()
    idempotency_key: str | None = Field(default=None, max_length=100)
    """The name of this push, sent with every retry of it so the shop applies it once (a
    stock push: Shopify's ``@idempotent``); a new push of the record gets a new one."""
    created_at: datetime = _time(nullable=False)
    updated_at: datetime = _time(nullable=False)


class Attempt(SQLModel, table=True):
    """Every try of every record, with the remote system's answer."""

    __table_args__ = (
        # A connection-wide alert's detail: the failed tries on its connection and channel.
        Index("ix_attempt_connection_operation_at", "connection_id", "operation", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    retry_item_id: int = Field(foreign_key="retry_item.id", index=True)
    operation: str = Field(max_length=30)
    subject_id: int
    connection_id: int | None = None
    at: datetime = _time(nullable=False)
    ok: bool = False
    outcome: str = Field(default="", max_length=40)
    """"sent", "linked", "held", a failure class …"""
    alert_kind: str | None = Field(default=None, max_length=40)
    """A failure: the kind of alert it raised or repeated (None on success, and on attempts
    recorded before migration 0005)."""
    http_status: int | None = None
    message: str = Field(default="", sa_type=Text)
    duration_ms: int | None = None
    worker: str = Field(default="", max_length=200)


class AuditEntry(SQLModel, table=True):
    """What a person did: who (the OS/SSH user), what, to what, when."""

    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _time(nullable=False, index=True)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=60)
    target: str = Field(default="", max_length=300)
    detail: str = Field(default="", sa_type=Text)


class AlertContact(SQLModel, table=True):
    """Someone who is emailed an account's alerts that need a person (B7), at a frequency."""

    __tablename__ = "alert_contact"
    __table_args__ = (UniqueConstraint("account_id", "email"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    name: str = Field(max_length=200)
    email: str = Field(max_length=254)
    frequency: str = Field(max_length=20)
    """"immediately", "hourly", "daily" or "off"."""
    next_digest_at: datetime | None = _time(index=True)
    """When the digest job next composes this contact's email; None: not scheduled yet."""
    last_digest_at: datetime | None = _time()
    created_at: datetime = _time(nullable=False)
    updated_at: datetime = _time(nullable=False)


class OutboxEmail(SQLModel, table=True):
    """One email to one recipient, written in the transaction that decided to send it and sent
    by the outbox job. Like the retry queue, a worker claims rows with a lease; a row found in
    "sending" was interrupted and goes again with the same Message-ID."""

    __tablename__ = "outbox_email"
    __table_args__ = (
        Index("ix_outbox_due", "state", "next_attempt_at"),
        Index("ix_outbox_state_id", "state", "id"),
        Index("ix_outbox_account_id", "account_id", "id"),
        Index("ix_outbox_contact_cause", "contact_id", "cause", "id"),
        Index("ix_outbox_thread", "thread_id"),
        # The claim goes oldest first among unsent rows, however long the sent history grows.
        Index(
            "ix_outbox_unsent_id",
            "id",
            sqlite_where=UNSENT_EMAILS_ONLY,
            postgresql_where=UNSENT_EMAILS_ONLY,
        ),
        # The cap counts a contact's recent emails.
        Index("ix_outbox_contact_attempt", "contact_id", "last_attempt_at"),
        # One immediate email per alert and contact (B8), held by the database as well as by
        # AlertNotice: no second alert email for the same alert can be queued to a contact.
        Index(
            "ux_outbox_alert_contact",
            "alert_id",
            "contact_id",
            unique=True,
            sqlite_where=ALERT_EMAILS_ONLY,
            postgresql_where=ALERT_EMAILS_ONLY,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    contact_id: int | None = Field(default=None, foreign_key="alert_contact.id", index=True)
    """None once the contact is deleted; the row keeps its recipient for the record."""
    alert_id: int | None = Field(default=None, foreign_key="alert.id", index=True)
    """The alert of an alert email; None for digests (see AlertNotice)."""
    kind: str = Field(max_length=20)
    recipient: str = Field(max_length=254)
    recipient_name: str = Field(default="", max_length=200)
    subject: str = Field(default="", sa_type=Text)
    body: str = Field(default="", sa_type=Text)
    rendered_at: datetime | None = _time()
    """When the content became final; an alert email is composed just before its first
    attempt, so that it names every order held by then. Also its Date header."""
    message_id: str | None = Field(default=None, unique=True, max_length=250)
    """Fixed at the first attempt: every resend of this row carries the same Message-ID."""
    state: str = Field(default="queued", max_length=20)
    attempts: int = 0
    next_attempt_at: datetime | None = _time()
    last_attempt_at: datetime | None = _time()
    last_error: str | None = Field(default=None, sa_type=Text)
    """The SMTP server's reply (or the connection error) of the last failed attempt."""
    sending_since: datetime | None = _time()
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_expires_at: datetime | None = _time()
    sent_at: datetime | None = _time()
    smtp_reply: str | None = Field(default=None, sa_type=Text)
    """The server's reply when it accepted the message."""
    cause: str | None = Field(default=None, max_length=400)
    """An alert email's cause (:func:`imtui.domain.causes.cause_of`): alerts of one cause that
    open while it waits join it, later ones answer it in its thread."""
    thread_id: int | None = None
    """The first email of the thread this one answers (In-Reply-To, References); None for a
    first."""
    server_down: bool = False
    """Its last failure was the server not answering: due at once when it answers again."""
    created_at: datetime = _time(nullable=False)
    updated_at: datetime = _time(nullable=False)


class AlertNotice(SQLModel, table=True):
    """That a contact has been sent an alert (by an alert email or a digest): nobody is told
    about one alert twice, and a digest can say which alerts it listed have closed since."""

    __tablename__ = "alert_notice"
    __table_args__ = (UniqueConstraint("contact_id", "alert_id"),)

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="alert_contact.id")
    alert_id: int = Field(foreign_key="alert.id", index=True)
    outbox_id: int | None = Field(default=None, foreign_key="outbox_email.id", index=True)
    via: str = Field(max_length=20)
    """"alert" or "digest" (the outbox email's kind)."""
    noticed_at: datetime = _time(nullable=False)
    closure_reported_at: datetime | None = _time()
    """When a digest said it was resolved or dismissed."""


class EngineBeat(SQLModel, table=True):
    """A running engine's last cycle (one row per engine, by its owner "host:pid:…"): how a
    dashboard that runs none knows whether one runs elsewhere."""

    __tablename__ = "engine_beat"

    owner: str = Field(primary_key=True, max_length=200)
    started_at: datetime = _time(nullable=False)
    beat_at: datetime = _time(nullable=False, index=True)


class LinkServer(SQLModel, table=True):
    """An ``imtui serve`` serving the browser mode at a public URL, and when it last said so:
    emails carry links into it only while one does (docs/design.md, "Browser mode")."""

    __tablename__ = "link_server"

    public_url: str = Field(primary_key=True, max_length=400)
    owner: str = Field(max_length=200)
    """host:pid of the server process."""
    started_at: datetime = _time(nullable=False)
    beat_at: datetime = _time(nullable=False)


class LinkUse(SQLModel, table=True):
    """An emailed link that has opened a browser session: it opens no second one. Only a
    digest of the token is kept, never the token."""

    __tablename__ = "link_use"

    digest: str = Field(primary_key=True, max_length=64)
    alert_id: int = Field(index=True)
    contact_id: int
    email_id: int
    used_at: datetime = _time(nullable=False)
    expires_at: datetime = _time(nullable=False, index=True)
    """After this the link is refused as expired anyway: the row may go."""


class Person(SQLModel, table=True):
    """Someone who may use imtui on this database, and what they may do (docs/design.md,
    "People and roles"). ``login`` is the operating-system login on SQLite, the database role
    on PostgreSQL."""

    __tablename__ = "person"

    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(unique=True, max_length=200)
    role: str = Field(max_length=20)
    """"viewer", "operator" or "admin"."""
    all_accounts: bool = False
    """True: every account, those added later included; False: those in person_account."""
    created_at: datetime = _time(nullable=False)


class PersonAccount(SQLModel, table=True):
    """An account a person (not scoped to all) may see and act on."""

    __tablename__ = "person_account"
    __table_args__ = (UniqueConstraint("person_id", "account_id"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    account_id: int = Field(foreign_key="account.id", index=True)
