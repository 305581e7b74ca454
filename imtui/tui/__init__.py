"""The Textual dashboard (reads through imtui.store, acts through imtui.engine)."""
