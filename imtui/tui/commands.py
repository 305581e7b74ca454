"""The command palette (``:`` or ctrl+p) lists what the keys do, by name, each with its key —
and, like the footer, only what the screen it was opened from can do now: the dashboard's
actions (found from the same list its bindings are made of; no Dismiss on the Orders pane),
or on any other screen — a form, a detail, the outbox — that screen's own keys.

Textual's own commands the app keeps (Theme, Quit, Screenshot) come from here too, after the
screen's: one provider, so they are listed in that order.

A command whose name starts with what was typed comes first: "mark" finds Mark, not Resend
(whose description mentions "the marked rows")."""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

from textual.app import SystemCommand
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode
from textual.screen import Screen

from imtui.tui.keymap import DASHBOARD_KEYS, key_display, own_bindings

PREFIX_BONUS = 0.4
"""Added to a command whose name starts with what was typed (scores stay within 0–1)."""


class Command(NamedTuple):
    name: str
    keys: str
    help: str
    action: str
    node: DOMNode | None
    """Where the action runs; None: on the screen under the palette once it has closed."""


def runs_on(screen: Screen[Any], action: str) -> DOMNode:
    """Where a dashboard action runs: on the screen if it has it, else on the app."""
    return screen if hasattr(screen, f"action_{action.split('(')[0]}") else screen.app


MOVING = frozenset({"form.next", "form.previous", "form.enter"})
"""Bindings that move the focus between a form's fields: keys, not commands (as are the
table's, ``table.*``)."""


def is_command(binding_id: str | None) -> bool:
    """One of the screen's own actions (every imtui binding has an id), not Textual's
    scrolling and focus keys (Scroll Left, Focus Next) nor moving between rows or fields."""
    if binding_id is None or binding_id in MOVING:
        return False
    return not binding_id.startswith("table.")


class ActionCommands(Provider):
    def _commands(self) -> list[Command]:
        if getattr(self.screen, "is_dashboard", False):
            return self._dashboard_commands()
        return self._screen_commands()

    def _dashboard_commands(self) -> list[Command]:
        keymap: dict[str, str] = getattr(self.app, "user_keymap", {})
        return [
            Command(key.description, key_display(self.app, key, keymap), key.help, key.action, None)
            for key in DASHBOARD_KEYS
            if key.palette and self._live(key.action)
        ]

    def _screen_commands(self) -> list[Command]:
        seen: set[str] = set()
        commands: list[Command] = []
        for active in own_bindings(self.screen):
            binding = active.binding
            if not active.enabled or binding.action in seen or not is_command(binding.id):
                continue
            seen.add(binding.action)
            shown = self.app.get_key_display(binding)
            commands.append(
                Command(binding.description, shown, binding.tooltip, binding.action, active.node)
            )
        return commands

    def _live(self, action: str) -> bool:
        name = action.split("(")[0]
        return runs_on(self.screen, action).check_action(name, ()) is not False

    def _run(self, command: Command) -> None:
        self.app.call_later(self._dispatch, command)

    async def _dispatch(self, command: Command) -> None:
        # Resolved once the palette has closed: the action belongs to the screen under it.
        node = (
            command.node if command.node is not None else runs_on(self.app.screen, command.action)
        )
        await self.app.run_action(command.action, node)

    @staticmethod
    def _label(command: Command) -> str:
        return f"{command.name}  ({command.keys})"

    def _system(self) -> list[SystemCommand]:
        """Textual's own commands the app keeps (Theme, Quit, Screenshot): after ours."""
        return list(self.app.get_system_commands(self.screen))

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(self._label(command), partial(self._run, command), help=command.help)
        for system in self._system():
            yield DiscoveryHit(system.title, system.callback, help=system.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        typed = query.strip().lower()
        for command in self._commands():
            # a match in the name counts more than one in the description
            in_name = matcher.match(command.name)
            score = max(in_name, matcher.match(f"{command.name} {command.help}") / 2)
            score *= 1 - PREFIX_BONUS
            if typed and command.name.lower().startswith(typed):
                score += PREFIX_BONUS  # what was typed is the start of its name: first
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(self._label(command)),
                    partial(self._run, command),
                    help=command.help,
                )
        for system in self._system():
            score = matcher.match(system.title) * (1 - PREFIX_BONUS)
            if score > 0:
                yield Hit(score, matcher.highlight(system.title), system.callback, help=system.help)
