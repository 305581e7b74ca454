"""What every command shares: the database (opened on first use), the clock, who is acting,
and the one-line error type."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from imtui.engine.clock import Clock, SystemClock

if TYPE_CHECKING:
    from sqlmodel import Session

    from imtui.store.database import Database

# The database layer (SQLAlchemy, the models) is imported on first use, not here: ``imtui``
# with no command opens the dashboard, which paints before it has loaded.

F = TypeVar("F", bound=Callable[..., Any])


class CliError(click.ClickException):
    """Bad input found by the CLI itself; shown as one ``imtui: error: …`` line, exit 1."""


# -- ids ----------------------------------------------------------------------------------------
# Every id, record key and page cursor a person types passes through here before it reaches a
# query: SQLite cannot bind an integer past 2**63-1 at all (OverflowError) and PostgreSQL
# refuses one past its BIGINT, so such an id is answered here, as the record it cannot name.

MAX_ID = 2**63 - 1
"""The largest id the database's integer keys hold (SQLite INTEGER, PostgreSQL BIGINT)."""


def id_in_range(number: int) -> bool:
    return 0 <= number <= MAX_ID


def no_such_id(what: str, number: int | str, hint: str = "") -> CliError:
    more = f" ({hint})" if hint else ""
    return CliError(f"no {what} with id {number}: ids run from 1 to {MAX_ID}{more}")


class RecordId(click.ParamType):
    """A whole-number id of one kind of record (``alert``, ``contact``, …), checked against the
    database's range as it is parsed, so a list of ids fails before any of them is used."""

    name = "integer"

    def __init__(self, what: str) -> None:
        self.what = what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        number: int = click.INT.convert(value, param, ctx)  # click's own "not a valid integer"
        if not id_in_range(number):
            raise no_such_id(self.what, number)
        return number


class RecordKey(click.ParamType):
    """A record named by id or by name (an order also by number or WMS reference).

    All digits means the store tries it as an id first; one past the database's range cannot
    be an id and would crash that look-up, so it is answered here. An order number that long
    can still be given with its ``#``."""

    name = "text"

    def __init__(self, what: str, hint: str = "") -> None:
        self.what = what
        self.hint = hint

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        key = str(value)
        digits = key.strip()
        # The same test the store's finders use before int(): isdigit(), not isdecimal().
        if not digits.isdigit():
            return key
        try:
            number = int(digits)
        except ValueError:  # digits int() does not read ("²"): the store's int() would fail
            raise CliError(f"no {self.what} {digits!r}") from None
        if not id_in_range(number):
            raise no_such_id(self.what, digits, self.hint.format(key=digits))
        return key


def check_cursor(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A page cursor is an id, or a time and an id after ``|``; one whose id is past the
    database's range cannot have come from a list."""
    if value is not None:
        last = value.rpartition("|")[2].strip()
        # isdigit() as the store's parsers test it; int() refuses some of those ("²").
        if last.isdigit() and not (last.isdecimal() and id_in_range(int(last))):
            raise CliError(f"not a cursor from this list: {value!r}")
    return value


ALERT_ID = RecordId("alert")
CONTACT_ID = RecordId("contact")
EMAIL_ID = RecordId("email")
RETRY_ITEM_ID = RecordId("retry item")
ORDER_KEY = RecordKey("order", "for an order number, write #{key}")
ACCOUNT_KEY = RecordKey("account")
CONNECTION_KEY = RecordKey("connection")


class AppContext:
    def __init__(self, db_url: str | None, clock: Clock | None = None) -> None:
        if db_url is not None and not db_url.strip():
            # --db '' (an unset shell variable, say): not silently the default database
            raise CliError("--db is empty: give an SQLite file path or a database URL")
        self.db_url = db_url
        self.clock = clock or SystemClock()
        self._db: Database | None = None
        self._actor: str | None = None

    def check_database(self) -> None:
        """Raise :class:`CliError` if the SQLite file ``--db`` (or ``IMTUI_DB``) names cannot
        be opened or created — before the dashboard is on screen, with no database code loaded.
        A database that fails anyway fails when it is opened (see :attr:`db`)."""
        problem = self._file_problem()
        if problem:
            raise CliError(problem)

    def _file_problem(self) -> str | None:
        """Why the SQLite file ``--db`` names cannot be opened or created, if it cannot (the
        default file's folder is created when it is opened: it has none)."""
        if not self.db_url:
            return None
        from imtui.store.first_screen import sqlite_file

        path = sqlite_file(self.db_url)
        return sqlite_file_problem(path) if path is not None else None

    @property
    def db(self) -> Database:
        """Opened (and migrated) on first use, so ``--help`` and ``sandbox`` never touch it.
        The default file's folder is created if need be; a folder named by ``--db`` or
        ``IMTUI_DB`` never is (a typo would otherwise leave a new folder behind)."""
        if self._db is None:
            from sqlalchemy.exc import SQLAlchemyError

            from imtui.store.database import (
                Database,
                DatabaseError,
                describe_url,
                one_line,
                resolve_url,
            )

            problem = self._file_problem()
            if problem:
                raise DatabaseError(problem)
            try:
                self._db = Database(self.db_url)
            except SQLAlchemyError as exc:
                # e.g. a file that is not a database: the store reports only OperationalError.
                where = describe_url(resolve_url(self.db_url))
                raise DatabaseError(f"cannot open {where}: {one_line(exc)}") from exc
        return self._db

    @property
    def actor(self) -> str:
        if self._actor is None:
            from imtui.store.people import actor_of

            with self.db.read() as session:
                self._actor = actor_of(session)
        return self._actor

    def now(self) -> datetime:
        return self.clock.now()

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()
            self._db = None


pass_app = click.make_pass_decorator(AppContext)


def json_option(function: F) -> F:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON (times in ISO-8601 UTC)."
    )(function)


def page_options(function: F) -> F:
    function = click.option(
        "--after",
        metavar="CURSOR",
        callback=check_cursor,
        help="Continue after this cursor (printed under a page that has more).",
    )(function)
    return click.option(
        "--limit",
        type=click.IntRange(1, 1000),
        default=50,
        show_default=True,
        help="Rows per page.",
    )(function)


def account_option(help_text: str) -> Callable[[F], F]:
    return click.option(
        "--account", "account_key", metavar="ACCOUNT", type=ACCOUNT_KEY, help=help_text
    )


def account_id_for(session: Session, account_key: str | None) -> int | None:
    """The id of a filter's account (name or id); None when no filter was given."""
    if not account_key:
        return None
    from imtui.engine import action_rules

    return action_rules.account_for(session, account_key).id


def append_help(command: click.Command, paragraph: str) -> None:
    """Add a paragraph computed at import time (platform keys, exit codes) to a docstring."""
    command.help = f"{inspect.cleandoc(command.help or '')}\n\n{paragraph}"


SQLITE_HEADER = b"SQLite format 3\x00"


def sqlite_file_problem(path: Path) -> str | None:
    """Why an SQLite database cannot be opened at ``path`` (one line), or None: its folder
    must exist, and a file already there must be an SQLite database (an empty file is a new
    one). Nothing is created or changed."""
    folder = path.parent
    try:
        if not folder.exists():
            return f"cannot create {path}: the folder {folder} does not exist"
        if not folder.is_dir():
            return f"cannot create {path}: {folder} is not a folder"
        if path.is_dir():
            return f"cannot open {path}: it is a folder, not a database file"
        if not path.exists():
            return None
        with path.open("rb") as file:
            header = file.read(len(SQLITE_HEADER))
    except OSError as exc:
        return f"cannot open {path}: {(exc.strerror or type(exc).__name__).lower()}"
    if header and header != SQLITE_HEADER:
        return f"cannot open {path}: file is not a database"
    return None
