"""A text field that edits in the order the keys were typed, however fast they come.

Textual's Input inserts a printable key when it reads it, but its editing keys — backspace,
delete, ctrl+u, home, end, the arrows — are bindings, and a binding runs only once the key has
travelled up to the app and back. Keys typed in one burst (a quick typist, a paste, a slow SSH
link that delivers keys in batches) therefore overtake it: ``ctrl+u`` then ``dana@x.com`` ended
as an empty field, the late ctrl+u deleting what was typed after it. This field runs its own
bindings as it reads each key, so every key takes effect in turn.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input


class FieldInput(Input):
    async def _on_key(self, event: events.Key) -> None:
        if not event.is_printable:
            bindings = self._bindings.copy()
            if self.app._keymap:
                bindings.apply_keymap(self.app._keymap)
            for binding in bindings.key_to_bindings.get(event.key, ()):
                if binding.priority:
                    continue  # the app's business, before the key ever got here
                if await self.app.run_action(binding.action, self):
                    event.stop()
                    event.prevent_default()
                    return
        await super()._on_key(event)
