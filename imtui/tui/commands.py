"""The command palette (``:`` or ctrl+p) lists the same actions as the keys, by name, each
with its key — found from the same list the bindings are made of — and, like the footer, only
those the screen it was opened from can run now (no Dismiss on the Orders pane)."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from imtui.tui.keymap import DASHBOARD_KEYS, KeyAction, key_display


class ActionCommands(Provider):
    def _actions(self) -> list[KeyAction]:
        return [key for key in DASHBOARD_KEYS if key.palette and self._live(key)]

    def _live(self, key: KeyAction) -> bool:
        name = key.action.split("(")[0]
        if hasattr(self.screen, f"action_{name}"):
            return self.screen.check_action(name, ()) is not False
        return self.app.check_action(name, ()) is not False

    def _run(self, key: KeyAction) -> None:
        self.app.call_later(self._dispatch, key)

    async def _dispatch(self, key: KeyAction) -> None:
        # Resolved once the palette has closed: the action belongs to the screen under it.
        screen = self.app.screen
        target = screen if hasattr(screen, f"action_{key.action.split('(')[0]}") else self.app
        await self.app.run_action(key.action, target)

    def _label(self, key: KeyAction) -> str:
        keymap: dict[str, str] = getattr(self.app, "user_keymap", {})
        return f"{key.description}  ({key_display(self.app, key, keymap)})"

    async def discover(self) -> Hits:
        for key in self._actions():
            yield DiscoveryHit(self._label(key), partial(self._run, key), help=key.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for key in self._actions():
            text = f"{key.description} {key.help}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(self._label(key)),
                    partial(self._run, key),
                    help=key.help,
                )
