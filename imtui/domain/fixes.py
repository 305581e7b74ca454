"""What fixes an alert, as command lines a person can paste into a shell: the one rule behind
``imtui open alert/N --print`` and the command an alert email carries.

An order or ship-method code in a command is written as :func:`imtui.domain.text.printable`
shows it everywhere else, quoted for the shell (:func:`shell_word`). A name holding a control
character ("#37\\r\\n06") is so written with literal backslashes; the store's order look-up
reads that form back (:func:`names_printed_as`), so the command selects the order it names.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from itertools import product

from imtui.domain.alerts import AlertScope, AlertState, scope_of
from imtui.domain.failures import AlertKind
from imtui.domain.text import printable


@dataclass(frozen=True, slots=True)
class FixFacts:
    """What the fix for one alert depends on; built from the alert by its caller."""

    alert_id: int
    kind: str
    """An :class:`AlertKind` value."""
    state: str
    """An :class:`AlertState` value."""
    account_id: int
    connection_id: int | None
    order_number: str | None
    ship_method_code: str | None
    credential_keys: tuple[str, ...] = ()
    """The credential keys of the connection's platform, for ``imtui connection credentials``."""
    contact_id: int | None = None
    """For a refused contact address: the contact whose address to correct."""


CONNECTION_PLACEHOLDER = "CONN"
CONTACT_PLACEHOLDER = "ID"
CODE_PLACEHOLDER = "CODE"
KEY_PLACEHOLDER = "KEY"
HELD_LIST = "imtui queue list --state held"
SKIPPED_LIST = "imtui queue list --state skipped"
EDIT_OPTIONS = "--set FIELD=VALUE"

CREDENTIAL_KINDS = frozenset({AlertKind.CREDENTIALS_REJECTED, AlertKind.BAD_CONFIGURATION})
"""Connection-wide alerts that pause the connection until its credentials are given again
(which un-pauses it): the only connection-wide ones a command fixes."""
ADDRESS_KINDS = frozenset({AlertKind.INCOMPLETE_ADDRESS, AlertKind.ADDRESS_REJECTED})


def fix_commands(facts: FixFacts) -> list[str]:
    """The lines that fix what the alert is about: commands, some with a few words after them
    in parentheses, or words where no command here fixes it. Never empty."""
    if facts.state != AlertState.OPEN:
        return [f"nothing to do: the alert is {facts.state}"]
    kind = _kind_of(facts.kind)
    order = _order(facts)
    if kind in CREDENTIAL_KINDS:
        return [f"{_credentials_command(facts)}  (each KEY=- reads its value from stdin)"]
    if _connection_wide(kind):
        return [
            "none needed: it is retried automatically and resolves itself when it gets through",
            f"imtui alerts dismiss {facts.alert_id}  (to close it anyway)",
        ]
    if kind == AlertKind.UNMAPPED_SHIP_METHOD:
        return [_mapping_command(facts)]
    if kind == AlertKind.UNKNOWN_CARRIER:
        return [
            f"{_mapping_command(facts)}  (saving releases every order held for it)",
            f"or, if the WMS should know that carrier: add it there, then {_resend(facts)}",
        ]
    if kind in ADDRESS_KINDS and order:
        return [f"{_edit_command(order, facts.account_id)}  (fields: address1, city, zip, …)"]
    if kind == AlertKind.SKIPPED:
        return [_resend(facts) if order else f"{SKIPPED_LIST}  (then: imtui queue resend ID)"]
    if kind == AlertKind.ORDER_NOT_TAKEN:
        return ["correct the order in the shop: the next poll after that change takes it in"]
    if kind == AlertKind.SHOP_CHANGE:
        return _shop_change_lines(order, facts.account_id)
    if kind == AlertKind.EMAIL_REFUSED:
        return [
            f"{_contact_command(facts)}  (what it missed is sent again to the new address)",
            f"or imtui contacts delete {_contact(facts)}",
        ]
    return [f"correct it in the shop or the WMS, then: {_resend(facts)}"]


def fix_command(facts: FixFacts) -> str | None:
    """The one command line that fixes the alert (no words around it), or None when there is
    nothing to run: the alert is closed, the connection heals by itself, the fix is in the
    shop, or a person must first decide between two versions (see :func:`fix_commands`)."""
    if facts.state != AlertState.OPEN:
        return None
    kind = _kind_of(facts.kind)
    order = _order(facts)
    if kind in CREDENTIAL_KINDS:
        return _credentials_command(facts)
    if _connection_wide(kind) or kind in (AlertKind.ORDER_NOT_TAKEN, AlertKind.SHOP_CHANGE):
        return None
    if kind in (AlertKind.UNMAPPED_SHIP_METHOD, AlertKind.UNKNOWN_CARRIER):
        return _mapping_command(facts)
    if kind in ADDRESS_KINDS and order:
        return _edit_command(order, facts.account_id)
    if kind == AlertKind.SKIPPED and not order:
        return SKIPPED_LIST
    if kind == AlertKind.EMAIL_REFUSED:
        return _contact_command(facts)
    return _resend(facts)


def shell_word(text: str) -> str:
    """``text`` as :func:`printable` shows it, quoted for a POSIX shell: ``shlex.split`` of
    the result gives back exactly ``printable(text)``."""
    return shlex.quote(printable(text))


# -- reading a printed name back ---------------------------------------------------------------

_ESCAPE = re.compile(r"\\(?:[rnt]|x[0-9a-f]{2}|u[0-9a-f]{4})")
_NAMED = {"r": "\r", "n": "\n", "t": "\t"}
MAX_ESCAPES_READ_BOTH_WAYS = 6
"""Up to this many escapes in a printed name, each is read both as the control character and
as the literal text (2**6 = 64 names at most); past it, every escape is read as its character."""


def names_printed_as(shown: str) -> tuple[str, ...]:
    """The names other than ``shown`` itself that :func:`printable` shows as ``shown``:
    "#37\\r\\n06" typed with backslashes is how the name "#37", CR, LF, "06" is printed.

    ``printable`` keeps a literal backslash, so "#37\\r" (backslash, r) and "#37" + CR print
    the same: each escape is read both ways (at most 64 names, see
    :data:`MAX_ESCAPES_READ_BOTH_WAYS`). Only escapes ``printable`` writes are read (``\\x0a``
    is not: it writes ``\\n``), and never NUL or a lone surrogate, which no stored name holds.
    Empty when ``shown`` holds no such escape or is itself not printable.
    """
    if printable(shown) != shown:
        return ()
    pieces: list[tuple[str, ...]] = []
    start = escapes = 0
    for match in _ESCAPE.finditer(shown):
        char = _escaped_char(match.group())
        if char is None:
            continue
        pieces.extend([(shown[start : match.start()],), (match.group(), char)])
        start, escapes = match.end(), escapes + 1
    if not escapes:
        return ()
    pieces.append((shown[start:],))
    if escapes > MAX_ESCAPES_READ_BOTH_WAYS:
        return ("".join(piece[-1] for piece in pieces),)
    names = ("".join(choice) for choice in product(*pieces))
    return tuple(name for name in names if name != shown)


def _escaped_char(escape: str) -> str | None:
    """The character ``printable`` writes as ``escape``, or None if it writes none that way."""
    body = escape[1:]
    char = _NAMED.get(body) or chr(int(body[1:], 16))
    if char == "\x00" or "\ud800" <= char <= "\udfff":
        return None
    return char if printable(char) == escape else None


# -- the pieces of a command -------------------------------------------------------------------


def _kind_of(kind: str) -> AlertKind | None:
    try:
        return AlertKind(kind)
    except ValueError:
        return None


def _connection_wide(kind: AlertKind | None) -> bool:
    return kind is not None and scope_of(kind) is AlertScope.CONNECTION


def _order(facts: FixFacts) -> str | None:
    """The order as a shell word, for an alert about one order; never for a connection-wide
    alert, which no single order is at fault for."""
    if not facts.order_number or _connection_wide(_kind_of(facts.kind)):
        return None
    return shell_word(facts.order_number)


def _resend(facts: FixFacts) -> str:
    order = _order(facts)
    return _with_argument(resend_head(facts.account_id), order) if order else HELD_LIST


def resend_head(account_id: int) -> str:
    """The resend command up to its orders: with the account, as two shops may both have a
    "#1001" and a command printed for one must not resend the other's."""
    return f"imtui orders resend --account {account_id}"


def _edit_command(order: str, account_id: int) -> str:
    return _with_argument("imtui orders edit", order, f"{EDIT_OPTIONS} --account {account_id}")


def _shop_change_lines(order: str | None, account_id: int) -> list[str]:
    """A shop change waits for a person to say which version stands: an edit here (while the
    order is not in the WMS yet), or a resend of the version here as it is."""
    if order is None:
        return ["decide which version stands; an order not in the WMS yet: imtui orders edit"]
    return [
        "decide which version stands (one in the WMS already is changed there), then either",
        f"{_edit_command(order, account_id)}  (set what stands, while it is not in the WMS yet)",
        f"or {_with_argument(resend_head(account_id), order)}  (the version here, as it is)",
    ]


def _mapping_command(facts: FixFacts) -> str:
    code = shell_word(facts.ship_method_code) if facts.ship_method_code else CODE_PLACEHOLDER
    options = f"--carrier CARRIER --mode MODE --account {facts.account_id}"
    return _with_argument("imtui mapping set", code, options)


def _credentials_command(facts: FixFacts) -> str:
    connection = facts.connection_id
    which = CONNECTION_PLACEHOLDER if connection is None else str(connection)
    keys = facts.credential_keys or (KEY_PLACEHOLDER,)
    return f"imtui connection credentials {which} " + " ".join(
        shlex.quote(f"{key}=-") for key in keys
    )


def _contact(facts: FixFacts) -> str:
    return CONTACT_PLACEHOLDER if facts.contact_id is None else str(facts.contact_id)


def _contact_command(facts: FixFacts) -> str:
    return f"imtui contacts edit {_contact(facts)} --email ADDRESS"


def _looks_like_an_option(word: str) -> bool:
    """Whether a shell word, once the shell has unquoted it, starts with "-"."""
    try:
        return shlex.split(word)[0].startswith("-")
    except (ValueError, IndexError):
        return False


def _with_argument(head: str, argument: str, options: str = "") -> str:
    """``head argument options``; for an argument that starts with "-" (an order named
    "-1001"), ``head options -- argument``, so it is not taken for an option."""
    if _looks_like_an_option(argument):
        return " ".join(part for part in (head, options, "--", argument) if part)
    return " ".join(part for part in (head, argument, options) if part)
