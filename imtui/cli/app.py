"""The ``imtui`` command: the root group, ``--db``, and the one place errors become one line.

Whatever goes wrong — a usage mistake, an unknown id, a database that cannot be opened — the
person sees a single ``imtui: error: …`` line on stderr and a non-zero exit status (2 for usage
mistakes, 1 for the rest), never a traceback. Set ``IMTUI_DEBUG=1`` to get the traceback of an
unexpected error.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click

from imtui.cli.context import AppContext
from imtui.domain.text import printable

PROG = "imtui"

COMMANDS: dict[str, str] = {
    "account": "imtui.cli.accounts:account_group",
    "alerts": "imtui.cli.alerts:alerts_group",
    "audit": "imtui.cli.overview:audit_group",
    "connection": "imtui.cli.accounts:connection_group",
    "contacts": "imtui.cli.contacts:contacts_group",
    "dashboard": "imtui.cli.dashboard:dashboard_command",
    "demo": "imtui.cli.demo:demo_command",
    "mapping": "imtui.cli.mappings:mapping_group",
    "open": "imtui.cli.alerts:open_command",
    "orders": "imtui.cli.orders:orders_group",
    "outbox": "imtui.cli.contacts:outbox_group",
    "people": "imtui.cli.people:people_group",
    "queue": "imtui.cli.queue:queue_group",
    "sandbox": "imtui.cli.worker:sandbox_command",
    "secrets": "imtui.cli.secrets:secrets_group",
    "serve": "imtui.cli.serve:serve_command",
    "link-session": "imtui.cli.serve:link_session_command",
    "status": "imtui.cli.overview:status_command",
    "whoami": "imtui.cli.people:whoami_command",
    "worker": "imtui.cli.worker:worker_command",
}
"""Each command, imported when it runs (or when --help lists it): ``imtui`` alone opens the
dashboard without loading every command's database and HTTP code first."""

EXPECTED = (
    ("imtui.engine.action_rules", "ActionError"),
    ("imtui.store.database", "DatabaseError"),
    ("imtui.connectors.registry", "ConnectionConfigError"),
    ("imtui.store.rows", "InvalidCursor"),
)
"""Errors that are one line for a person, by where they are defined. An error can only be one
of these once its module is loaded, so nothing is imported to recognise it."""


def _is_a(exc: BaseException, module: str, name: str) -> bool:
    loaded = sys.modules.get(module)
    cls = getattr(loaded, name, None) if loaded is not None else None
    return isinstance(cls, type) and isinstance(exc, cls)


def load_command(name: str) -> click.Command:
    module, _, attribute = COMMANDS[name].partition(":")
    command = getattr(importlib.import_module(module), attribute)
    assert isinstance(command, click.Command)
    return command


class ImtuiGroup(click.Group):
    """A group whose ``main`` never lets an exception out as a traceback, and whose commands
    are imported only when they are used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        return load_command(cmd_name) if cmd_name in COMMANDS else None

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        _make_output_safe()

        def run() -> Any:
            return super(ImtuiGroup, self).main(
                args, prog_name or PROG, complete_var, standalone_mode=False, **extra
            )

        code = run_reporting_errors(run)
        if standalone_mode:
            sys.exit(code)
        return code


def run_reporting_errors(run: Callable[[], Any]) -> int:
    try:
        result = run()
    except click.exceptions.NoArgsIsHelpError as exc:
        exc.show()
        return exc.exit_code
    except click.UsageError as exc:
        return report(_usage_line(exc), exc.exit_code)
    except click.Abort:
        return report("aborted", 1)
    except click.ClickException as exc:
        return report(exc.format_message(), exc.exit_code)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`imtui orders list | head`): nothing left to say to anyone.
        _silence_stdout()
        return 1
    except Exception as exc:
        if any(_is_a(exc, module, name) for module, name in EXPECTED):
            return report(_locked_hint(str(exc)), 1)
        if _is_a(exc, "sqlalchemy.exc", "SQLAlchemyError"):
            reason = _first_line(str(getattr(exc, "orig", None) or exc))
            return report(_locked_hint(f"database: {reason}"), 1)
        if os.environ.get("IMTUI_DEBUG"):
            raise
        return report(f"internal error: {type(exc).__name__}: {_first_line(str(exc))}", 1)
    return result if isinstance(result, int) else 0


def _locked_hint(message: str) -> str:
    """SQLite's "database is locked": another process held the write lock past the wait."""
    if message.endswith("database is locked"):
        return f"{message} (another process is writing to it: nothing was changed; try again)"
    return message


def report(message: str, code: int) -> int:
    click.echo(f"{PROG}: error: {printable(_first_line(message))}", err=True)
    return code


def _usage_line(exc: click.UsageError) -> str:
    message = _first_line(exc.format_message())
    if exc.ctx is not None:
        return f"{message} (see '{exc.ctx.command_path} --help')"
    return message


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "unknown error"


def _make_output_safe() -> None:
    """An order field must never crash the CLI on a terminal that cannot show it."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="backslashreplace")


def _silence_stdout() -> None:
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


@click.group(
    PROG,
    cls=ImtuiGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--db",
    "db_url",
    metavar="URL",
    envvar="IMTUI_DB",
    help=(
        "The database: an SQLite file path, sqlite:///PATH or postgresql://USER@HOST/NAME. "
        "An SQLite file is created if need be, but not its folder. "
        "Default: imtui.db in your user data directory. Also read from IMTUI_DB."
    ),
)
@click.version_option(package_name="imtui", prog_name=PROG)
@click.pass_context
def cli(ctx: click.Context, db_url: str | None) -> None:
    """imtui moves web-shop orders to a warehouse (WMS), brings tracking back and keeps stock in
    step. Every failure becomes an alert; these commands are what a person can do about them.

    With no command, opens the live dashboard (see 'imtui dashboard --help').

    Times are UTC. Lists print a table that fits 80 columns, or JSON with --json.
    """
    app = AppContext(db_url)
    ctx.obj = app
    ctx.call_on_close(app.close)
    if ctx.invoked_subcommand is None:
        ctx.invoke(load_command("dashboard"))


def main() -> None:
    """The ``imtui`` console script."""
    cli.main(prog_name=PROG)
