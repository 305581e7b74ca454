"""Links into the browser mode in alert emails (docs/design.md, "Browser mode").

An email is composed with a link only while ``imtui serve`` serves IMTUI_PUBLIC_URL and the
keys to sign with are at hand; its stored body holds a mark where the link goes. The link is
signed as the email is handed to the server (:func:`with_links`), for the alerts that email
tells its recipient and no other, so neither the stored body nor a quoted customer's text can
make one.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import Session, col, select

from imtui.domain.links import (
    LinkGrant,
    fill_links,
    link_expiry,
    link_url,
    sign_link,
)
from imtui.notify.settings import EmailSettings
from imtui.store.database import Database
from imtui.store.links import is_served
from imtui.store.models import AlertNotice, OutboxEmail
from imtui.store.secrets import (
    SecretKeyError,
    current_keyring,
    holds_sealed,
    keyring_for_sealing,
)

log = logging.getLogger(__name__)


def link_keys() -> list[bytes] | None:
    """The keys links are signed with (the credentials' keys, under a salt of the links' own),
    or None when this process has none: its emails then carry commands only."""
    try:
        return list(current_keyring().keys)
    except SecretKeyError as exc:
        log.info("emails carry no browser links: %s", exc)
        return None


def links_served(session: Session, settings: EmailSettings, now: datetime) -> bool:
    """Whether an email composed now carries links."""
    return (
        settings.public_url is not None
        and is_served(session, settings.public_url, now)
        and link_keys() is not None
    )


def with_links(session: Session, email: OutboxEmail, settings: EmailSettings) -> str:
    """The body handed to the server: each mark replaced by a link signed for this email's
    recipient, or its line left out when no link can be made now."""
    body = email.body
    if "\u2060" not in body:
        return body
    keys = link_keys()
    public_url = settings.public_url
    contact_id = email.contact_id
    rendered_at = email.rendered_at
    if not keys or public_url is None or contact_id is None or rendered_at is None:
        return fill_links(body, (), lambda _: None)
    told = set(
        session.exec(
            select(AlertNotice.alert_id).where(col(AlertNotice.outbox_id) == email.id)
        ).all()
    )
    expires = link_expiry(rendered_at, settings.link_days)

    def url_for(alert_id: int) -> str:
        grant = LinkGrant(alert_id, contact_id, email.id or 0, expires)
        return link_url(public_url, sign_link(grant, keys))

    return fill_links(body, told, url_for)


def keys_for_serving(database: Database) -> list[bytes]:
    """The keys ``imtui serve`` checks links with; the default key file is made if there is no
    key anywhere and nothing is sealed yet (as sealing a first credential would)."""
    keyring = keyring_for_sealing(lambda: _holds_sealed(database))
    return list(keyring.keys)


def _holds_sealed(database: Database) -> bool:
    with database.read() as session:
        return holds_sealed(session.connection())
