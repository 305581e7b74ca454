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
import textwrap
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from imtui.domain.alerts import AlertScope, scope_of
from imtui.domain.contacts import Frequency
from imtui.domain.failures import AlertKind
from imtui.domain.fixes import FixFacts, fix_command
from imtui.domain.platforms import credential_keys
from imtui.domain.text import plural, printable

SUBJECT_PREFIX = "[imtui]"
MAX_SUBJECT = 200
MAX_MESSAGE = 2000
"""Characters of a remote message quoted in an alert email (the dashboard has all of it)."""
MAX_INLINE = 160
SHOWN_PER_GROUP = 3
"""Records named per digest group before "and N more"."""
INDENT = "    "
LINE_WIDTH = 78

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
    about: str | None = None
    """What it is about when that is neither an order nor a SKU: the contact whose address the
    mail server refused ("Dana Lee <dana@…>")."""
    contact_id: int | None = None
    """That contact's id, for the command that corrects it."""
    platform: str | None = None
    """The connection's platform ("shopify", "3pl_central"), for the credentials command."""

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
    links: bool = False
    """Whether the email carries a link to each fix into the browser mode: only while
    ``imtui serve`` serves IMTUI_PUBLIC_URL (docs/design.md, "Browser mode")."""


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


def natural_key(label: str) -> tuple[tuple[int, int | str], ...]:
    """Sorts "#2" before "#10"."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", label)
    )


def first_few(labels: Sequence[str], shown: int = SHOWN_PER_GROUP) -> str:
    """``#1001, #1002, #1003 and 9 more``."""
    named = ", ".join(labels[:shown])
    rest = len(labels) - shown
    return f"{named} and {rest} more" if rest > 0 else named


def alert_fix(alert: AlertFacts) -> str | None:
    """The command that fixes one alert, as ``imtui open alert/N --print`` prints it; None when
    nothing is to be run (a connection problem that resolves itself)."""
    return fix_command(
        FixFacts(
            alert_id=alert.alert_id,
            kind=alert.kind,
            state=alert.state,
            account_id=alert.account_id,
            connection_id=alert.connection_id,
            order_number=alert.order_number,
            ship_method_code=alert.ship_method_code,
            credential_keys=credential_keys(alert.platform),
            contact_id=alert.contact_id,
        )
    )


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


# -- one alert ---------------------------------------------------------------------------------


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
_WHAT_NEXT[AlertKind.EMAIL_REFUSED] = (
    "That contact gets no alert email until someone corrects its address",
    "(imtui contacts edit ID --email …: what it missed is sent again to the",
    "new address) or deletes it.",
)
DEFAULT_WHAT_NEXT = ("It is not retried until someone changes the record.",)


def what_next(kind: str) -> tuple[str, ...]:
    """What happens to the record now, and what brings it back."""
    return _WHAT_NEXT.get(kind, DEFAULT_WHAT_NEXT)


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


def field_lines(pairs: Sequence[tuple[str, str | None]]) -> list[str]:
    """``Label:  value`` lines, values aligned; a long value wraps under itself."""
    shown = [(label, value) for label, value in pairs if value]
    width = max((len(label) for label, _ in shown), default=0) + 1
    lines: list[str] = []
    for label, value in shown:
        head = f"{(label + ':').ljust(width)}  "
        lines += textwrap.wrap(
            value or "",
            width=LINE_WIDTH,
            initial_indent=head,
            subsequent_indent=" " * len(head),
            break_long_words=False,
            break_on_hyphens=False,
        ) or [head.rstrip()]
    return lines


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
