"""The browser mode's rows (docs/design.md, "Browser mode"): which ``imtui serve`` serves the
public URL, and which emailed links have opened their one session.

Only the owner's login reaches these tables (they are not granted to engineers on
PostgreSQL): a viewer who can read the outbox cannot learn from them what a link was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from imtui.domain.links import LinkGrant, LinkRefused
from imtui.store.models import Alert, AlertContact, AlertNotice, LinkServer, LinkUse, OutboxEmail

SERVER_BEAT = timedelta(seconds=30)
"""How often a running ``imtui serve`` says it still serves."""
SERVER_SILENT = timedelta(seconds=90)
"""No word for this long: emails composed now carry no link (three beats missed)."""


def serve_beat(
    session: Session, public_url: str, owner: str, now: datetime, started_at: datetime
) -> None:
    """``imtui serve`` serves ``public_url`` now (one row per URL: the last server to say so
    owns it)."""
    row = session.get(LinkServer, public_url)
    if row is None:
        row = LinkServer(public_url=public_url, owner=owner, started_at=started_at, beat_at=now)
    row.owner, row.beat_at = owner, now
    session.add(row)


def serve_stopped(session: Session, public_url: str, owner: str) -> None:
    """A server that stops says so, unless another has taken the URL over meanwhile."""
    session.execute(
        delete(LinkServer).where(
            col(LinkServer.public_url) == public_url, col(LinkServer.owner) == owner
        )
    )


def is_served(session: Session, public_url: str, now: datetime) -> bool:
    """Whether an ``imtui serve`` said it serves ``public_url`` lately."""
    row = session.get(LinkServer, public_url.rstrip("/")) or session.get(LinkServer, public_url)
    return row is not None and now - row.beat_at < SERVER_SILENT


@dataclass(frozen=True, slots=True)
class Serving:
    """An ``imtui serve`` as the database last heard of it."""

    public_url: str
    owner: str
    beat_at: datetime
    live: bool
    """Beat lately: emails composed now carry links into it."""


def servers(session: Session, now: datetime) -> list[Serving]:
    rows = session.exec(select(LinkServer).order_by(col(LinkServer.public_url))).all()
    return [
        Serving(row.public_url, row.owner, row.beat_at, now - row.beat_at < SERVER_SILENT)
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class LinkHolder:
    """Whom a valid link lets in, and to what."""

    alert_id: int
    account_id: int
    recipient: str
    """The address the email went to: what the audit names ("… via emailed link")."""


def link_holder(session: Session, grant: LinkGrant) -> LinkHolder | LinkRefused:
    """The holder of a link signed here, if it still stands for an alert this contact was
    emailed: the contact still exists, and the email that carried the link went to it and
    told it about that alert."""
    contact = session.get(AlertContact, grant.contact_id)
    alert = session.get(Alert, grant.alert_id)
    email = session.get(OutboxEmail, grant.email_id)
    if contact is None or alert is None or email is None:
        return LinkRefused.FOREIGN
    told = session.exec(
        select(AlertNotice.id).where(
            AlertNotice.contact_id == grant.contact_id,
            AlertNotice.alert_id == grant.alert_id,
            AlertNotice.outbox_id == grant.email_id,
        )
    ).first()
    if (
        told is None
        or email.contact_id != grant.contact_id
        or alert.account_id != contact.account_id
    ):
        return LinkRefused.FOREIGN
    return LinkHolder(
        alert_id=grant.alert_id, account_id=alert.account_id, recipient=email.recipient
    )


def use_link(session: Session, digest: str, grant: LinkGrant, now: datetime) -> bool:
    """Records that the link opened its session; False if it had already (by anyone, on any
    server sharing this database: the insert is one statement, the key decides)."""
    values = {
        "digest": digest,
        "alert_id": grant.alert_id,
        "contact_id": grant.contact_id,
        "email_id": grant.email_id,
        "used_at": now,
        "expires_at": grant.expires_at,
    }
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    # SQLModel gives a table class its __table__ when the class is made; its types omit it
    table = LinkUse.__table__  # type: ignore[attr-defined]
    statement = (
        insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["digest"])
        .returning(table.c.digest)
    )
    return session.execute(statement).first() is not None


def forget_expired_uses(session: Session, now: datetime) -> int:
    """Used links past their expiry are refused as expired anyway: their rows go."""
    result = session.execute(delete(LinkUse).where(col(LinkUse.expires_at) < now))
    return int(getattr(result, "rowcount", 0) or 0)
