"""The ``imtui`` command: the root group, ``--db``, and the one place errors become one line.

Whatever goes wrong — a usage mistake, an unknown id, a database that cannot be opened — the
person sees a single ``imtui: error: …`` line on stderr and a non-zero exit status (2 for usage
mistakes, 1 for the rest), never a traceback. Set ``IMTUI_DEBUG=1`` to get the traceback of an
unexpected error.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from imtui.cli.accounts import account_group, connection_group
from imtui.cli.alerts import alerts_group, open_command
from imtui.cli.contacts import contacts_group, outbox_group
from imtui.cli.context import AppContext
from imtui.cli.dashboard import dashboard_command
from imtui.cli.demo import demo_command
from imtui.cli.mappings import mapping_group
from imtui.cli.orders import orders_group
from imtui.cli.overview import audit_group, status_command
from imtui.cli.queue import queue_group
from imtui.cli.worker import sandbox_command, worker_command
from imtui.connectors.registry import ConnectionConfigError
from imtui.domain.text import printable
from imtui.engine.actions import ActionError
from imtui.store.database import DatabaseError
from imtui.store.listing import InvalidCursor

PROG = "imtui"
EXPECTED = (ActionError, DatabaseError, ConnectionConfigError, InvalidCursor)


class ImtuiGroup(click.Group):
    """A group whose ``main`` never lets an exception out as a traceback."""

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
    except EXPECTED as exc:
        return report(str(exc), 1)
    except SQLAlchemyError as exc:
        return report(f"database: {_first_line(str(getattr(exc, 'orig', None) or exc))}", 1)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`imtui orders list | head`): nothing left to say to anyone.
        _silence_stdout()
        return 1
    except Exception as exc:
        if os.environ.get("IMTUI_DEBUG"):
            raise
        return report(f"internal error: {type(exc).__name__}: {_first_line(str(exc))}", 1)
    return result if isinstance(result, int) else 0


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
    app = AppContext(db_url or None)
    ctx.obj = app
    ctx.call_on_close(app.close)
    if ctx.invoked_subcommand is None:
        ctx.invoke(dashboard_command)


for command in (
    dashboard_command,
    demo_command,
    worker_command,
    sandbox_command,
    account_group,
    connection_group,
    orders_group,
    alerts_group,
    queue_group,
    mapping_group,
    audit_group,
    status_command,
    open_command,
    contacts_group,
    outbox_group,
):
    cli.add_command(command)


def main() -> None:
    """The ``imtui`` console script."""
    cli.main(prog_name=PROG)
