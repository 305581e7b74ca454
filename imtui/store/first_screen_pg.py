"""The dashboard's first screen from PostgreSQL with psycopg alone (see
:mod:`imtui.store.first_screen`): the same schema check and the same statements as on an SQLite
file, without loading SQLAlchemy (about 0.4 s of a dashboard's start on a two-core machine).

The URL is the one ``--db``/``IMTUI_DB`` gives the store, SQLAlchemy's spelling
(``postgresql://user@host:5432/db?options=-csearch_path%3Dschema``), turned into the keywords
SQLAlchemy's psycopg dialect would pass (a test holds the two to each other). A URL it might
read differently — several hosts, a repeated parameter — it does not try: the helper then writes
nothing, and the dashboard reads for itself.

It reads under the login the URL names, so row-level security filters its rows as it filters
the store's: an engineer's helper counts only their accounts' alerts. One read-only snapshot,
a short connect timeout and a statement timeout well inside the dashboard's wait: a server that
is slow or away costs the first screen, never the dashboard's start.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

if TYPE_CHECKING:
    import psycopg

SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
CONNECT_TIMEOUT_S = 2
"""libpq's least: the dashboard waits up to 10 s for the helper before reading itself."""
STATEMENT_TIMEOUT_MS = 5000

ConnectArguments = dict[str, str | int]


def is_postgres_url(url: str) -> bool:
    """A URL the store opens with psycopg (see :func:`imtui.store.database.resolve_url`)."""
    return url.partition("://")[0] in SCHEMES


def connect_arguments(url: str) -> ConnectArguments | None:
    """psycopg's keywords for a PostgreSQL URL, as SQLAlchemy's psycopg dialect makes them
    (user, password, host, port, dbname, then every query parameter as it is); None for a URL
    this does not read the same way."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    if (
        parts.scheme not in SCHEMES
        or parts.fragment
        or parts.netloc.count("@") > 1
        or len({key for key, _ in query}) != len(query)
    ):
        return None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    if hostport.startswith("["):
        host, _, port = hostport[1:].partition("]")
        port = port.removeprefix(":")
    else:
        host, _, port = hostport.partition(":")
    if port and not port.isdigit():
        return None
    found = {"host": host, "dbname": unquote(parts.path[1:]), "user": unquote(user)}
    arguments: ConnectArguments = {key: value for key, value in found.items() if value}
    if password:
        arguments["password"] = unquote(password)
    if port:
        arguments["port"] = int(port)
    return arguments | dict(query)


def connect_read_only(url: str) -> psycopg.Connection[tuple[Any, ...]]:
    """A connection to the database ``url`` names, under the login it names, whose first
    statement opens one read-only snapshot with a statement timeout."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    arguments = connect_arguments(url)
    if arguments is None:
        raise ValueError("not a PostgreSQL URL this helper reads the store's way")
    conninfo = make_conninfo("", **arguments, connect_timeout=CONNECT_TIMEOUT_S)
    connection = psycopg.connect(conninfo)
    try:
        connection.read_only = True
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        connection.execute(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
    except BaseException:
        connection.close()
        raise
    return connection


def stored(when: datetime) -> datetime:
    """A time as the store writes it to PostgreSQL (naive UTC, ``timestamp without time zone``):
    bound naive, it is compared as stored, whatever the session's time zone."""
    return when.astimezone(UTC).replace(tzinfo=None)
