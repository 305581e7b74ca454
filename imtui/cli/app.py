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
from typing import Any, NamedTuple

import click

from imtui.cli.context import AppContext
from imtui.domain.text import printable

PROG = "imtui"


class Listed(NamedTuple):
    """A command as ``imtui --help`` lists it, kept as data so that listing imports nothing.

    ``summary`` is the command's ``short_help``, or, for a command without one, the opening of
    its help, which click shortens to the terminal's width (``derived``) just as it would the
    command's own. tests/test_cli_lazy.py holds each entry to the command it loads."""

    target: str
    """Where the command is: ``module:attribute``."""
    summary: str = ""
    derived: bool = False
    hidden: bool = False

    def stand_in(self, name: str) -> click.Command:
        """A command that lists as the real one does, without its module."""
        return click.Command(
            name,
            short_help=None if self.derived else self.summary,
            help=self.summary if self.derived else None,
            hidden=self.hidden,
        )


COMMANDS: dict[str, Listed] = {
    "account": Listed("imtui.cli.accounts:account_group", "Warehouse and merchant accounts."),
    "alerts": Listed("imtui.cli.alerts:alerts_group", "Failures talking to a shop or the WMS."),
    "audit": Listed(
        "imtui.cli.overview:audit_group", "The audit log: who did what, when.", derived=True
    ),
    "connection": Listed(
        "imtui.cli.accounts:connection_group",
        "The shops and the WMS an account talks to.",
        derived=True,
    ),
    "contacts": Listed(
        "imtui.cli.contacts:contacts_group", "Who is emailed an account's alerts, and how often."
    ),
    "dashboard": Listed(
        "imtui.cli.dashboard:dashboard_command",
        "The live dashboard (also: imtui with no command).",
    ),
    "demo": Listed("imtui.cli.demo:demo_command", "Watch imtui work against its built-in sandbox."),
    "mapping": Listed(
        "imtui.cli.mappings:mapping_group", "Ship method code → WMS carrier and mode."
    ),
    "open": Listed("imtui.cli.alerts:open_command", "Open the fix for an alert in the dashboard."),
    "orders": Listed(
        "imtui.cli.orders:orders_group",
        "Orders from the shops and their way to the WMS.",
        derived=True,
    ),
    "outbox": Listed("imtui.cli.contacts:outbox_group", "Alert emails: queued, failing, sent."),
    "people": Listed("imtui.cli.people:people_group", "Who may see and do what."),
    "queue": Listed("imtui.cli.queue:queue_group", "The retry queue: due, held, skipped, done."),
    "sandbox": Listed("imtui.cli.worker:sandbox_command", "Serve a fake WMS and shop on loopback."),
    "secrets": Listed(
        "imtui.cli.secrets:secrets_group", "The key that seals connection credentials."
    ),
    "serve": Listed(
        "imtui.cli.serve:serve_command", "Serve the fixes emailed links open, in a browser."
    ),
    "link-session": Listed("imtui.cli.serve:link_session_command", hidden=True),
    "status": Listed(
        "imtui.cli.overview:status_command", "Open alerts, the retry queue and email, counted."
    ),
    "whoami": Listed(
        "imtui.cli.people:whoami_command",
        "Who imtui takes you for on this database, and what you may do.",
        derived=True,
    ),
    "worker": Listed("imtui.cli.worker:worker_command", "Run the engine until Ctrl-C or SIGTERM."),
}
"""Each command, imported only when it runs or its own help is asked for (click's LazyGroup
pattern): ``imtui --help`` lists them from this table, and ``imtui`` alone opens the dashboard,
without loading every command's database, HTTP and UI code first."""

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
    module, _, attribute = COMMANDS[name].target.partition(":")
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

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's own listing, made from :data:`COMMANDS`: ``imtui --help`` imports none of
        the commands it lists."""
        listed = [(name, self._listed(name)) for name in self.list_commands(ctx)]
        shown = [(name, command) for name, command in listed if not command.hidden]
        if not shown:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in shown)
        with formatter.section("Commands"):
            formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in shown])

    def _listed(self, name: str) -> click.Command:
        return self.commands.get(name) or COMMANDS[name].stand_in(name)

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
