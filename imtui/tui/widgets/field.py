"""A text field that edits in the order the keys were typed, however fast they come, and never
holds what would drive the terminal when it is drawn.

Textual's Input inserts a printable key when it reads it, but its editing keys — backspace,
delete, ctrl+u, home, end, the arrows — are bindings, and a binding runs only once the key has
travelled up to the app and back. Keys typed in one burst (a quick typist, a paste, a slow SSH
link that delivers keys in batches) therefore overtake it: ``ctrl+u`` then ``dana@x.com`` ended
as an empty field, the late ctrl+u deleting what was typed after it. This field runs its own
bindings as it reads each key, so every key takes effect in turn.

Textual draws an Input's value (and the suggestion after it) as it is, escape characters
included, so whatever the field is given — a value set from stored text, a paste, a suggestion
built from stored values — is made visible first (:func:`~imtui.domain.text.printable`), as on
every read-only screen. Forms fill stored text in with ``FormScreen.show_stored``, which also
keeps the real value for saving; this is the backstop for anything else.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from imtui.domain.text import printable


class FieldInput(Input):
    def validate_value(self, value: str) -> str:
        # Textual calls this for every assignment to ``value``: nothing raw is ever drawn.
        return printable(value)

    def validate__suggestion(self, suggestion: str) -> str:
        # The suggester's list may be stored text (ship methods, carriers in use).
        return printable(suggestion)

    def replace(self, text: str, start: int, end: int) -> None:
        # Made visible before it goes in, so the cursor lands after what is shown (a paste).
        super().replace(printable(text), start, end)

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
