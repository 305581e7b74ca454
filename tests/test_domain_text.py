"""printable(): what a shop customer or a remote system wrote, made safe to show. Besides
controls and bidi overrides, characters that draw nothing — zero-width ones, and the line and
paragraph separators that some terminals and every ``str.splitlines`` break lines at — are made
visible: "#10" + U+200B + "01" must not pass for "#1001", nor U+2028 forge a line."""

from __future__ import annotations

import pytest

from imtui.cli.output import echo_block, echo_fields
from imtui.domain.emails import body_text, header_text, one_line
from imtui.domain.text import printable
from imtui.tui.text import safe, safe_block

INVISIBLE = {
    "\u200b": "\\u200b",  # ZERO WIDTH SPACE
    "\u200c": "\\u200c",  # ZERO WIDTH NON-JOINER
    "\u200d": "\\u200d",  # ZERO WIDTH JOINER
    "\u2060": "\\u2060",  # WORD JOINER
    "\ufeff": "\\ufeff",  # ZERO WIDTH NO-BREAK SPACE (BOM)
    "\u2028": "\\u2028",  # LINE SEPARATOR
    "\u2029": "\\u2029",  # PARAGRAPH SEPARATOR
}


@pytest.mark.parametrize("keep_newlines", [False, True])
@pytest.mark.parametrize(("char", "shown"), INVISIBLE.items(), ids=[hex(ord(c)) for c in INVISIBLE])
def test_invisible_characters_are_made_visible(char: str, shown: str, keep_newlines: bool):
    assert printable(f"#10{char}01", keep_newlines=keep_newlines) == f"#10{shown}01"


def test_a_zero_width_space_does_not_pass_for_the_order_number_it_hides_in():
    assert printable("#10\u200b01") != printable("#1001")
    assert printable("#10\u200b01") == "#10\\u200b01"


@pytest.mark.parametrize("separator", ["\u2028", "\u2029"])
def test_a_line_separator_forges_no_line_even_when_newlines_are_kept(separator: str):
    message = f"HTTP 400: bad zip{separator}alert 99 resolved by admin"
    kept = printable(message, keep_newlines=True)
    assert kept.splitlines() == [kept]
    assert f"\\u{ord(separator):04x}" in kept
    # A real newline is still kept where asked, and still escaped where not.
    assert printable("a\nb", keep_newlines=True) == "a\nb"
    assert printable("a\nb") == "a\\nb"


def test_controls_bidi_and_c1_are_still_escaped():
    hostile = "\x1b]52;c;SElKQUNL\x07\x1b]0;pwned\x07\x1b[2J\x1bPq\x1b\\\x9b2J\x9d0;x\x9c\u202e"
    shown = printable(hostile)
    assert shown == (
        "\\x1b]52;c;SElKQUNL\\x07\\x1b]0;pwned\\x07\\x1b[2J\\x1bPq\\x1b\\\\x9b2J\\x9d0;x\\x9c\\u202e"
    )
    assert all(ch.isprintable() for ch in shown)


def test_printable_is_idempotent():
    """Shown once, the text is shown the same again: a form can tell its own rendering of a
    stored value from a value someone typed."""
    hostile = "Eve\x1b]0;pwned\x07\u200b\u2028\x9b2J\ufeff"
    assert printable(printable(hostile)) == printable(hostile)


def test_ordinary_text_is_left_alone():
    for text in ("Zoë Ångström", "東京都", "O'Brien & Sons", "12 Harbor Way, Apt 4", "👍"):
        assert printable(text) == text


def test_every_user_of_printable_shows_the_invisible_characters(capsys: pytest.CaptureFixture):
    hostile = "line one\u2028forged line\u200b"
    assert "\u2028" not in safe(hostile) and "\u200b" not in safe(hostile)
    assert safe_block(hostile).plain.splitlines() == [safe_block(hostile).plain]
    for emailed in (body_text(hostile), one_line(hostile), header_text(hostile)):
        assert "\u2028" not in emailed and "\u200b" not in emailed
        assert "\\u2028" in emailed and "\\u200b" in emailed
    echo_block(hostile)
    echo_fields([("message", hostile)])
    printed = capsys.readouterr().out
    assert "\u2028" not in printed and "\u200b" not in printed
    assert printed.count("forged line") == 2 and len(printed.splitlines()) == 2
