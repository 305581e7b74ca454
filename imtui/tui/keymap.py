"""The dashboard's keys, as data: one list feeds the bindings (so the footer is true), the ``?``
help screen and the command palette, and a user's keys file can remap any of them by id.

``~/.config/imtui/keys.toml`` (or the file ``IMTUI_KEYS`` names)::

    [keys]
    resend = "ctrl+r"        # binding id = key(s), comma-separated
    dismiss = "x"
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from textual.binding import Binding

if TYPE_CHECKING:
    from textual.app import App
    from textual.binding import ActiveBinding, BindingType
    from textual.screen import Screen


class KeyAction(NamedTuple):
    id: str
    key: str
    action: str
    description: str
    """Short, for the footer."""
    help: str
    """One sentence, for the help screen, the palette and the tooltip."""
    show: bool = True
    palette: bool = True
    """Listed in the command palette."""
    section: str = "Rows"
    """Where the help screen lists it."""
    priority: bool = False
    """Handled as the app reads the key, before the keys typed after it: for keys that move
    focus, so that ``/`` then quick typing lands in the filter, not on the dashboard."""


DASHBOARD_KEYS: tuple[KeyAction, ...] = (
    KeyAction("resend", "r", "resend", "Resend", "Send the row (or the marked rows) now."),
    KeyAction(
        "dismiss",
        "d",
        "dismiss_alerts",
        "Dismiss",
        "Dismiss the alert (or marked alerts), after asking.",
    ),
    KeyAction(
        "edit",
        "e",
        "edit",
        "Edit",
        "Open the fix: the order's address form, or the ship-method mapping form.",
    ),
    KeyAction("detail", "enter", "detail", "Detail", "Every attempt and event of the row."),
    KeyAction(
        "mark", "space", "mark", "Mark", "Mark or unmark the row; r and d act on all marked."
    ),
    KeyAction(
        "filter",
        "slash",
        "filter",
        "Filter",
        "Filter the pane: key:value words and text.",
        priority=True,
        section="Panes",
    ),
    KeyAction(
        "filter_apply",
        "enter",
        "filter_apply",
        "Apply",
        "Apply the filter.",
        palette=False,
        priority=True,
        section="In the filter",
    ),
    KeyAction(
        "filter_close",
        "escape",
        "filter_close",
        "Leave",
        "Leave the filter box; the pane keeps the filter it had.",
        palette=False,
        priority=True,
        section="In the filter",
    ),
    KeyAction("help", "question_mark", "help", "Help", "All keys and what they do.", section="App"),
    KeyAction(
        "resend_matching",
        "R",
        "resend_matching",
        "Resend all",
        "Resend every row matching the pane's filter, after asking.",
        show=False,
        section="Everything matching the filter",
    ),
    KeyAction(
        "dismiss_matching",
        "D",
        "dismiss_matching",
        "Dismiss all",
        "Dismiss every alert matching the filter, after asking.",
        show=False,
        section="Everything matching the filter",
    ),
    KeyAction(
        "sort", "s", "sort", "Sort", "Next sort order for the pane.", show=False, section="Panes"
    ),
    KeyAction(
        "unmark",
        "escape",
        "clear",
        "Clear",
        "Clear the marks, then the filter (or leave a form or detail).",
        show=False,
        palette=False,
        section="Panes",
    ),
    KeyAction(
        "account",
        "a",
        "account",
        "Account",
        "Show one account, or all.",
        show=False,
        section="Panes",
    ),
    KeyAction(
        "mapping",
        "m",
        "mapping",
        "Mapping",
        "The ship-method mapping form (for the row's method, if it has one).",
        show=False,
    ),
    KeyAction(
        "mappings",
        "M",
        "mappings",
        "Mappings",
        "Every ship-method mapping: add, change, delete (asks).",
        show=False,
    ),
    KeyAction(
        "alerts",
        "1",
        "show_pane('alerts')",
        "Alerts",
        "Go to the alerts.",
        show=False,
        priority=True,
        section="Panes",
    ),
    KeyAction(
        "orders",
        "2",
        "show_pane('orders')",
        "Orders",
        "Go to the orders.",
        show=False,
        priority=True,
        section="Panes",
    ),
    KeyAction(
        "queue",
        "3",
        "show_pane('queue')",
        "Queue",
        "Go to the retry queue.",
        show=False,
        priority=True,
        section="Panes",
    ),
    KeyAction(
        "contacts",
        "c",
        "contacts",
        "Contacts",
        "Alert contacts: who is emailed the account's alerts, how often; add, edit, delete.",
        show=False,
        section="Email",
    ),
    KeyAction(
        "outbox",
        "o",
        "outbox",
        "Outbox",
        "Alert emails: waiting, failing with the mail server's reply, sent; send now, cancel.",
        show=False,
        section="Email",
    ),
    KeyAction(
        "audit",
        "L",
        "audit",
        "Audit log",
        "Who did what, newest first: every action from here, the CLI or an emailed link.",
        show=False,
        section="Panes",
    ),
    KeyAction(
        "copy",
        "y",
        "copy_number",
        "Copy #",
        "Copy the row's order number to your clipboard (OSC 52: over SSH too).",
        show=False,
    ),
    KeyAction(
        "setup",
        "A",
        "setup",
        "Connections",
        "Accounts & connections: add an account or a connection, edit, pause or resume one, "
        "replace its credentials, test it.",
        show=False,
        section="Setup",
    ),
    KeyAction(
        "next_pane",
        "tab",
        "next_pane",
        "Next pane",
        "Go to the next pane.",
        show=False,
        priority=True,
        section="Panes",
    ),
)

APP_KEYS: tuple[KeyAction, ...] = (
    KeyAction(
        "quit",
        "q",
        "quit",
        "Quit",
        "Leave the dashboard (the engine stops with it).",
        section="App",
    ),
    KeyAction(
        "interrupt",
        "ctrl+c",
        "quit",
        "Quit",
        "Leave, as q does — the key every terminal program answers (ctrl+q is often eaten by "
        "flow control over SSH); asks first only with typed changes in a form.",
        show=False,
        palette=False,
        priority=True,
        section="App",
    ),
    KeyAction(
        "palette",
        "colon,ctrl+p",
        "command_palette",
        "Commands",
        "Search every action by name.",
        show=False,
        palette=False,
        section="App",
    ),
)


KEY_DISPLAY = {"enter": "⏎", "space": "␣"}
"""One cell each: the footer has 80 columns for every key shown."""


def bindings(keys: tuple[KeyAction, ...]) -> list[BindingType]:
    return [
        Binding(
            k.key,
            k.action,
            k.description,
            show=k.show,
            id=k.id,
            tooltip=k.help,
            priority=k.priority,
            key_display=KEY_DISPLAY.get(k.key),
        )
        for k in keys
    ]


def key_display(app: App[Any], key: KeyAction, keymap: dict[str, str]) -> str:
    """The key(s) as a person reads them — "/", "?", "ctrl+p" — with the user's remapping."""
    shown = keymap.get(key.id, key.key)
    return ", ".join(app.get_key_display(Binding(k.strip(), "")) for k in shown.split(","))


def own_bindings(screen: Screen[Any]) -> list[ActiveBinding]:
    """The keys a screen (and its focused widgets) offers, not the app's, that have a name:
    what its help and its command palette list."""
    return [
        active
        for active in screen.active_bindings.values()
        if active.node is not screen.app and active.binding.description
    ]


def keys_file() -> Path:
    explicit = os.environ.get("IMTUI_KEYS")
    if explicit:
        return Path(explicit).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("imtui", appauthor=False)) / "keys.toml"


def load_keymap(path: Path | None = None) -> dict[str, str]:
    """Binding id → key(s) from the user's keys file; unknown ids and a broken file are ignored
    (the dashboard must open even with a typo in a keys file)."""
    path = path or keys_file()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}  # most people have no keys file: no TOML parser loaded before the first paint
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}
    known = {k.id for k in (*DASHBOARD_KEYS, *APP_KEYS)}
    keys = data.get("keys", {})
    if not isinstance(keys, dict):
        return {}
    return {str(k): str(v) for k, v in keys.items() if k in known and isinstance(v, str)}
