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

INVISIBLE = frozenset(
    {
        "\u200b",  # ZERO WIDTH SPACE
        "\u200c",  # ZERO WIDTH NON-JOINER
        "\u200d",  # ZERO WIDTH JOINER
        "\u2060",  # WORD JOINER
        "\ufeff",  # ZERO WIDTH NO-BREAK SPACE (byte order mark)
    }
)
"""Characters that draw nothing: "#10" + U+200B + "01" would pass for "#1001"."""

LINE_SEPARATORS = frozenset({"\u2028", "\u2029"})
"""LINE and PARAGRAPH SEPARATOR: ``str.splitlines`` and some terminals break lines at them, so
one would forge a line (an "alert resolved" under a real one) even where newlines are kept."""

_ALWAYS = "".join(sorted(BIDI_CONTROLS | INVISIBLE | LINE_SEPARATORS))
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff" + _ALWAYS + "]")
_UNSAFE_KEEPING_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff" + _ALWAYS + "]")


def printable(text: str | None, *, keep_newlines: bool = False) -> str:
    """``text`` with every C0/C1 control (ESC included), lone surrogate, bidi override,
    zero-width character and line or paragraph separator replaced by a visible escape such as
    ``\\x1b``, ``\\u202e`` or ``\\u200b``.

    Tabs and newlines are escaped too (a table cell stays one line) unless ``keep_newlines`` is
    set, for multi-line messages shown on their own; U+2028 and U+2029 are escaped either way.
    The result has nothing left to escape (``printable(printable(t)) == printable(t)``): a field
    that makes everything it holds printable leaves a rendering as it is.
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
