"""Untrusted text made safe to show: what a shop customer or a remote system wrote must never
move the cursor, recolour the terminal, ring the bell or reorder what is displayed around it.

Every place that shows such text (CLI, dashboard, email) passes it through :func:`printable`.
"""

from __future__ import annotations

import re
from difflib import get_close_matches

BIDI_CONTROLS = frozenset(
    {
        *(chr(code) for code in range(0x202A, 0x202F)),  # LRE RLE PDF LRO RLO
        *(chr(code) for code in range(0x2066, 0x206A)),  # LRI RLI FSI PDI
        "\u200e",  # LEFT-TO-RIGHT MARK
        "\u200f",  # RIGHT-TO-LEFT MARK
        "\u061c",  # ARABIC LETTER MARK
    }
)
"""Characters that reorder the text around them (the "Trojan Source" family)."""

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff" + "".join(sorted(BIDI_CONTROLS)) + "]")
_UNSAFE_KEEPING_LINES = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff" + "".join(sorted(BIDI_CONTROLS)) + "]"
)


def printable(text: str | None, *, keep_newlines: bool = False) -> str:
    """``text`` with every C0/C1 control (ESC included), lone surrogate and bidi override replaced
    by a visible escape such as ``\\x1b`` or ``\\u202e``.

    Tabs and newlines are escaped too (a table cell stays one line) unless ``keep_newlines`` is
    set, for multi-line messages shown on their own.
    """
    if not text:
        return ""
    pattern = _UNSAFE_KEEPING_LINES if keep_newlines else _UNSAFE
    return pattern.sub(_escape, text)


_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


SECRET_MASK = "••••"

_URL_PASSWORD = re.compile(r"(?P<user>[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:]*):[^\s/?#@]*@")


def hide_url_passwords(text: str) -> str:
    """``https://user:secret@host/`` → ``https://user:••••@host/``, wherever a URL appears in
    the text: URLs are shown in lists, logs and the audit log; passwords inside them must not
    be."""
    return _URL_PASSWORD.sub(lambda m: f"{m.group('user')}:{SECRET_MASK}@", text)


def plural(count: int, noun: str) -> str:
    """ "1 order", "2 orders", "10,000 orders"."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def closest_spelling(value: str, known: list[str]) -> str | None:
    """The one of ``known`` that ``value`` is most likely a misspelling of, if one is obvious
    (case aside: "fedx" → "FEDEX")."""
    by_lower = {k.lower(): k for k in known}
    close = get_close_matches(value.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None


def agree(count: int, one: str, many: str) -> str:
    """The word that agrees with ``count``: agree(n, "is", "are"), agree(n, "it", "they")."""
    return one if count == 1 else many
