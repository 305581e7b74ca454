"""``imtui …``: everything a person can do in the dashboard, a script can do from a shell."""

from imtui.cli.app import cli, main

__all__ = ["cli", "main"]
