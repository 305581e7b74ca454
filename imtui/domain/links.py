"""Emailed links into the browser mode (docs/design.md, "Browser mode"): what a link grants,
how it is signed and read, and how an email's body carries one.

A link names one alert, the contact it was emailed to, the email that carried it and when it
expires, signed with the server's keys (itsdangerous: an HMAC over the payload, with a salt of
its own so no other signature of these keys passes for a link). It opens one browser session,
once: the store records each token used (:mod:`imtui.store.links`).

The token is a function of the email it is in: the same row sent again (after a crash between
the hand-over and its record) carries the same link, so the bytes stay the same. It is made as
the email is handed to the server, never stored: the stored body holds a mark in its place
(:data:`MARK`), which reading the outbox, or the database, cannot turn into a way in.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from itsdangerous import BadSignature, URLSafeSerializer

LINK_DAYS = 7
"""How long an emailed link opens a session (IMTUI_LINK_DAYS)."""

SALT = "imtui.emailed-link.v1"
LINK_PATH = "/link/"
TOKEN_MAX = 600
"""Longer than any token signed here: a longer one is refused unread."""

MARK = re.compile("\u2060link alert/(\\d{1,12})\u2060")
"""Where a link goes in a stored body. Zero-width joiners are made visible in every untrusted
text an email quotes (:func:`imtui.domain.text.printable`), so only the composer writes one."""


class LinkRefused(StrEnum):
    """Why a link opens nothing, as the page that says so puts it."""

    MISSING = "This page opens only from the link in an imtui alert email."
    ALTERED = "This link is not one imtui sent: it was cut short or changed."
    EXPIRED = "This link has expired."
    USED = "This link was used already: each emailed link opens one browser session."
    FOREIGN = "This link does not match an alert emailed to you."
    ENDED = "Your browser session has ended."
    BUSY = "Too many browser sessions are open right now: try again in a few minutes."
    DOWN = "imtui cannot reach its database right now: try the link again in a few minutes."


@dataclass(frozen=True, slots=True)
class LinkGrant:
    """What one link lets its holder do: open the fix of ``alert_id`` as ``contact_id``."""

    alert_id: int
    contact_id: int
    email_id: int
    expires_at: datetime


def link_mark(alert_id: int) -> str:
    """The line an email's body holds where the link to this alert's fix goes."""
    return f"\u2060link alert/{alert_id}\u2060"


def _serializer(keys: Sequence[bytes]) -> URLSafeSerializer:
    # itsdangerous signs with the last key and accepts any: the keyring's first (newest) last.
    return URLSafeSerializer(list(reversed(keys)), salt=SALT)


def sign_link(grant: LinkGrant, keys: Sequence[bytes]) -> str:
    payload = {
        "a": grant.alert_id,
        "c": grant.contact_id,
        "m": grant.email_id,
        "x": int(grant.expires_at.timestamp()),
    }
    return str(_serializer(keys).dumps(payload))


def read_link(token: str, keys: Sequence[bytes], now: datetime) -> LinkGrant | LinkRefused:
    """The grant a token signed here carries, or why it carries none."""
    if not token:
        return LinkRefused.MISSING
    if len(token) > TOKEN_MAX or not token.isascii():
        return LinkRefused.ALTERED
    try:
        payload = _serializer(keys).loads(token)
    except BadSignature:
        return LinkRefused.ALTERED
    fields = payload if isinstance(payload, dict) else {}
    values = [fields.get(key) for key in ("a", "c", "m", "x")]
    if not all(type(value) is int and value > 0 for value in values):
        return LinkRefused.ALTERED  # signed by these keys, but not as a link (cannot happen)
    alert_id, contact_id, email_id, expires = values
    assert isinstance(expires, int)
    expires_at = datetime.fromtimestamp(expires, UTC)
    if now >= expires_at:
        return LinkRefused.EXPIRED
    return LinkGrant(int(alert_id or 0), int(contact_id or 0), int(email_id or 0), expires_at)


def token_digest(token: str) -> str:
    """What the store records of a used token (never the token itself)."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def link_url(public_url: str, token: str) -> str:
    return public_url.rstrip("/") + LINK_PATH + token


def link_expiry(rendered_at: datetime, days: int = LINK_DAYS) -> datetime:
    """When the links of an email composed at ``rendered_at`` stop opening."""
    return rendered_at + timedelta(days=days)


def fill_links(body: str, allowed: Collection[int], url_for: Callable[[int], str | None]) -> str:
    """``body`` with each mark replaced by its link — only for an alert in ``allowed`` (the
    ones this email tells its recipient): a line whose link cannot be made is left out."""
    lines = []
    for line in body.split("\n"):
        found = MARK.search(line)
        if found is None:
            lines.append(line)
            continue
        alert_id = int(found.group(1))
        url = url_for(alert_id) if alert_id in allowed else None
        if url is not None:
            lines.append(line[: found.start()] + url + line[found.end() :])
    return "\n".join(lines)


def shown_without_links(body: str) -> str:
    """A stored body as the outbox shows it: each mark says what the email carries there."""
    return MARK.sub("(a signed link to its fix, made as the email is sent)", body)
