"""What alert emails say (B7, B8): subject and plain-text body of an alert email and of a
digest, composed from facts the store gathered. Pure: the notify layer turns them into MIME.

Everything that came from outside — order numbers, SKUs, ship-method codes, remote messages,
names people typed — is untrusted. In a subject it goes through :func:`header_text` (one line,
no control or line-separator characters, no encoded-word look-alikes); in a body through
:func:`body_text` or :func:`one_line`. The notify layer applies :func:`header_text` again to
every header it writes, so a subject composed anywhere cannot break out of its header.
"""

from __future__ import annotations

import html
import re
import shlex
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from imtui.domain.alerts import AlertScope, scope_of
from imtui.domain.contacts import Frequency
from imtui.domain.failures import AlertKind
from imtui.domain.text import plural, printable

SUBJECT_PREFIX = "[imtui]"
MAX_SUBJECT = 200
MAX_MESSAGE = 2000
"""Characters of a remote message quoted in an alert email (the dashboard has all of it)."""
MAX_INLINE = 160
SHOWN_PER_GROUP = 3
"""Records named per digest group before "and N more"."""
SHOWN_HELD = 20
"""Orders named in an unmapped-ship-method email before "and N more"."""
INDENT = "    "

_LINE_SEPARATORS = re.compile("[\u2028\u2029]")
_HEADER_UNSAFE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


# -- untrusted text ---------------------------------------------------------------------------


def header_text(text: str | None, max_length: int = MAX_SUBJECT) -> str:
    """``text`` as one harmless header line.

    Control characters (CR and LF above all), U+0085, U+2028/U+2029 and other invisible format
    characters become visible escapes (``\\r``, ``\\u2028``); runs of whitespace become one
    space; ``=?`` becomes ``= ?`` so that no client decodes part of it as an RFC 2047 encoded
    word; and the result is cut to ``max_length`` characters.
    """
    escaped = "".join(
        _visible_escape(ch) if unicodedata.category(ch) in _HEADER_UNSAFE else ch
        for ch in printable(text)
    )
    single = " ".join(escaped.split())
    single = single.replace("=?", "= ?").replace("?=", "? =")
    if len(single) > max_length:
        single = single[: max_length - 1].rstrip() + "…"
    return single


def body_text(text: str | None) -> str:
    """Multi-line untrusted text for a plain-text body: lines kept, everything else that could
    drive a terminal or reorder text made visible."""
    kept = printable((text or "").replace("\r\n", "\n"), keep_newlines=True)
    return _LINE_SEPARATORS.sub(lambda m: _visible_escape(m.group()), kept)


def one_line(text: str | None, limit: int = MAX_INLINE) -> str:
    """An untrusted value (an order number, a SKU, a name) as one line of a body: the same
    visible escapes as the dashboard and the CLI (:func:`imtui.domain.text.printable`), so an
    order "#1\\r\\n2" reads ``#1\\r\\n2`` everywhere and a command naming it names that order."""
    line = printable(text).strip()
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def prose_line(text: str | None, limit: int = MAX_INLINE) -> str:
    """Untrusted prose (a remote message) as one line: its lines joined by spaces."""
    line = " ".join(body_text(text).split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _visible_escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def html_version(text: str) -> str:
    """The optional HTML part: the plain text, every character escaped, in a <pre>."""
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>\n'
        '<pre style="font-family: monospace; white-space: pre-wrap">'
        f"{html.escape(text, quote=True)}</pre>\n</body></html>\n"
    )


# -- facts ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """One alert as an email tells it."""

    alert_id: int
    kind: str
    account_id: int
    account: str
    connection_id: int | None
    connection: str | None
    state: str
    message: str
    order_number: str | None
    sku: str | None
    ship_method_code: str | None
    count: int
    first_seen: datetime
    last_seen: datetime
    resolved_by: str | None = None
    held_orders: tuple[str, ...] = ()
    """For an unmapped ship method: the first orders held for it, oldest first."""
    held_total: int = 0

    @property
    def headline(self) -> str:
        try:
            return AlertKind(self.kind).headline
        except ValueError:
            return self.kind


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who an email goes to, for the footer that says why they get it."""

    contact_id: int
    name: str
    frequency: str


@dataclass(frozen=True, slots=True)
class EmailContent:
    subject: str
    text: str


# -- rules ------------------------------------------------------------------------------------


def record_label(alert: AlertFacts) -> tuple[str, str]:
    """What an alert is about, as a (noun, label) pair: ("order", "#1001")."""
    if alert.kind == AlertKind.UNMAPPED_SHIP_METHOD and alert.ship_method_code is not None:
        held = alert.held_total or alert.count
        return "ship method", f"{one_line(alert.ship_method_code, 60)} ({plural(held, 'order')})"
    if _is_connection_wide(alert.kind):
        return "connection", one_line(alert.connection or f"connection {alert.connection_id}", 60)
    if alert.order_number:
        return "order", one_line(alert.order_number, 60)
    if alert.sku:
        return "SKU", one_line(alert.sku, 60)
    return "alert", f"alert {alert.alert_id}"


def first_few(labels: Sequence[str], shown: int = SHOWN_PER_GROUP) -> str:
    """``#1001, #1002, #1003 and 9 more``."""
    named = ", ".join(labels[:shown])
    rest = len(labels) - shown
    return f"{named} and {rest} more" if rest > 0 else named


def fix_lines(alert_id: int, public_url: str | None) -> list[str]:
    """The direct ways to the fix (B8): the command, and the browser URL when one is served."""
    lines = [f"imtui open alert/{alert_id}"]
    if public_url:
        lines.append(alert_url(public_url, alert_id))
    return lines


def alert_url(public_url: str, alert_id: int) -> str:
    return f"{public_url.rstrip('/')}/alert/{alert_id}"


def when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _is_connection_wide(kind: str) -> bool:
    known = _kind(kind)
    return known is not None and scope_of(known) is AlertScope.CONNECTION


def _kind(kind: str) -> AlertKind | None:
    try:
        return AlertKind(kind)
    except ValueError:
        return None


# -- one alert --------------------------------------------------------------------------------


def alert_subject(alert: AlertFacts) -> str:
    account = header_text(alert.account, 60)
    if alert.kind == AlertKind.UNMAPPED_SHIP_METHOD and alert.ship_method_code is not None:
        code = header_text(alert.ship_method_code, 60)
        return header_text(
            f'{SUBJECT_PREFIX} {account}: ship method "{code}" has no mapping, orders are held'
        )
    noun, label = record_label(alert)
    about = f"{noun} {label}" if noun in ("order", "SKU", "connection") else label
    return header_text(f"{SUBJECT_PREFIX} {account}: {alert.headline}, {header_text(about, 80)}")


def alert_email(
    alert: AlertFacts, recipient: Recipient, *, public_url: str | None = None
) -> EmailContent:
    """The email sent as an alert opens."""
    if alert.kind == AlertKind.UNMAPPED_SHIP_METHOD and alert.ship_method_code is not None:
        lines = _unmapped_method_lines(alert, public_url)
        why = "Unmapped ship methods are emailed at once, whatever the frequency."
    else:
        lines = _alert_lines(alert, public_url)
        why = ""
    lines += footer(recipient, alert.account, f"alert {alert.alert_id}", why)
    return EmailContent(subject=alert_subject(alert), text="\n".join(lines) + "\n")


def _unmapped_method_lines(alert: AlertFacts, public_url: str | None) -> list[str]:
    code = one_line(alert.ship_method_code, 100)
    held = alert.held_total or len(alert.held_orders)
    orders = first_few([one_line(n, 60) for n in alert.held_orders], SHOWN_HELD)
    lines = [
        f"{alert.headline} — {one_line(alert.account, 80)}",
        "",
        f'Orders ask for ship method "{code}", which is not mapped to a WMS',
        "carrier and mode. They are held, not sent to the WMS: mapping the",
        "method releases every one of them on the next cycle, unedited.",
        "",
        *_fields(
            [
                ("Ship method", code),
                ("Orders held", f"{held} — {orders}" if orders else str(held)),
                ("Account", one_line(alert.account, 80)),
                ("Connection", one_line(alert.connection, 80) if alert.connection else None),
                ("First seen", when(alert.first_seen)),
            ]
        ),
        "",
        "Open the fix:",
        *(INDENT + line for line in fix_lines(alert.alert_id, public_url)),
        "Or map it from a shell:",
        f"{INDENT}imtui mapping set {shlex.quote(code)} --carrier CARRIER --mode MODE "
        f"--account {alert.account_id}",
    ]
    return lines


_WHAT_NEXT: dict[str, tuple[str, ...]] = {
    AlertKind.ADDRESS_REJECTED: (
        "The order is held until someone corrects its address; that sends it",
        "again at once.",
    ),
    AlertKind.INCOMPLETE_ADDRESS: (
        "The order is held until someone completes its address; that sends it",
        "at once.",
    ),
    AlertKind.UNKNOWN_SKU: (
        "The order is held until the SKU exists in the WMS or the order is",
        "changed; then resend it.",
    ),
    AlertKind.UNKNOWN_CARRIER: (
        "Orders with this ship method are held until its mapping is corrected.",
    ),
    AlertKind.CREDENTIALS_REJECTED: ("The connection is paused until its credentials change.",),
    AlertKind.BAD_CONFIGURATION: ("The connection is paused until its settings are fixed.",),
    AlertKind.SKIPPED: (
        "imtui gave up on this record after its retry window; a resend brings",
        "it back.",
    ),
    AlertKind.ORDER_NOT_TAKEN: (
        "The order was not taken in; the shop's other orders go on. Correct it",
        "in the shop: the next poll after that change takes it in.",
    ),
    AlertKind.SHOP_CHANGE: (
        "The shop's change was not applied by itself: the message shows both",
        "versions. Decide which stands (edit the order here, or in the WMS).",
    ),
}
DEFAULT_WHAT_NEXT = ("It is not retried until someone changes the record.",)


LOCAL_KINDS = frozenset(
    {
        AlertKind.INCOMPLETE_ADDRESS,
        AlertKind.UNMAPPED_SHIP_METHOD,
        AlertKind.SKIPPED,
        AlertKind.ORDER_NOT_TAKEN,
        AlertKind.SHOP_CHANGE,
    }
)
"""Alerts whose message is imtui's own words (a check before sending, a give-up), not a remote
system's."""


def _alert_lines(alert: AlertFacts, public_url: str | None) -> list[str]:
    if alert.kind in LOCAL_KINDS:
        who = "imtui found"
    else:
        who = f"{one_line(alert.connection, 80) if alert.connection else 'The remote system'} said"
    what_next = _WHAT_NEXT.get(alert.kind, DEFAULT_WHAT_NEXT)
    message = body_text(alert.message[:MAX_MESSAGE])
    return [
        f"{alert.headline} — {one_line(alert.account, 80)}",
        "",
        *_fields(
            [
                ("Account", one_line(alert.account, 80)),
                ("Connection", one_line(alert.connection, 80) if alert.connection else None),
                ("Order", one_line(alert.order_number, 80) if alert.order_number else None),
                ("SKU", one_line(alert.sku, 80) if alert.sku else None),
                ("Seen", f"{plural(alert.count, 'time')}, first {when(alert.first_seen)}"),
            ]
        ),
        "",
        f"{who}:",
        *(INDENT + line for line in (message.splitlines() or ["(no message)"])),
        "",
        *what_next,
        "",
        "Open the fix:",
        *(INDENT + line for line in fix_lines(alert.alert_id, public_url)),
    ]


def _fields(pairs: Sequence[tuple[str, str | None]]) -> list[str]:
    shown = [(label, value) for label, value in pairs if value]
    width = max((len(label) for label, _ in shown), default=0) + 1
    return [f"{(label + ':').ljust(width)}  {value}" for label, value in shown]


def footer(recipient: Recipient, account: str, reference: str, why: str) -> list[str]:
    try:
        frequency = Frequency(recipient.frequency).description
    except ValueError:
        frequency = recipient.frequency
    lines = [
        "",
        "-- ",
        f"imtui {reference}. Sent to {one_line(recipient.name, 60)}, alert contact of "
        f"{one_line(account, 60)} ({frequency}).",
    ]
    if why:
        lines.append(why)
    lines.append(
        f"Change it: imtui contacts edit {recipient.contact_id} --frequency "
        "immediately|hourly|daily|off"
    )
    return lines
