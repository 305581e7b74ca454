"""The database handle: where it is, how it is opened, and the two kinds of session.

SQLite (the default) runs in WAL mode with a busy timeout, and every write transaction starts
with ``BEGIN IMMEDIATE`` so that a read-then-write never fails half way with "database is
locked". PostgreSQL is used as it is; claims there use ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError
from sqlalchemy.exc import DatabaseError as DriverError
from sqlmodel import Session

BUSY_TIMEOUT_S = 10.0
T = TypeVar("T")


class DatabaseError(Exception):
    """The database cannot be opened or used; the message is one line for a person."""


def default_database_url() -> str:
    from platformdirs import user_data_dir

    folder = Path(user_data_dir("imtui", appauthor=False))
    return f"sqlite:///{folder / 'imtui.db'}"


def resolve_url(url: str | None) -> str:
    """``--db`` / ``IMTUI_DB`` / the default file; a bare path means an SQLite file."""
    raw = url or os.environ.get("IMTUI_DB") or default_database_url()
    if "://" not in raw:
        raw = f"sqlite:///{Path(raw).expanduser().resolve()}"
    try:
        parsed = make_url(raw)
    except ArgumentError as exc:
        raise DatabaseError(f"not a database URL: {raw!r}") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername not in ("sqlite", "postgresql+psycopg", "sqlite+pysqlite"):
        raise DatabaseError(f"unsupported database {parsed.drivername!r}: use sqlite or postgresql")
    return parsed.render_as_string(hide_password=False)


def describe_url(url: str) -> str:
    """The URL with any password hidden, for messages and the header."""
    return make_url(url).render_as_string(hide_password=True)


class Database:
    """One process's way into the store: a read engine and a write engine on one URL."""

    def __init__(self, url: str | None = None, *, migrate: bool = True) -> None:
        self.url = resolve_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        self._writer: Any = threading.RLock() if self.is_sqlite else contextlib.nullcontext()
        """SQLite takes one writer at a time. Threads of this process queue here, in turn,
        rather than in SQLite's busy handler, which sleeps and retries: with every account's
        cycle writing at once, some waited out the whole busy timeout ("database is locked")
        while others went in and out. Other processes still meet the busy timeout."""
        self._write_thread = (
            ThreadPoolExecutor(1, thread_name_prefix="imtui-sqlite-writer")
            if self.is_sqlite
            else None
        )
        """SQLite's writes from the event loop go through one thread, in the order asked: a
        write waiting its turn then holds no thread of the shared pool, where reads (the
        scheduler's tick, the dashboard's panes) would queue behind it."""
        if self.is_sqlite:
            self._ensure_sqlite_folder()
        self.read_engine = self._make_engine(immediate=False)
        self.write_engine = (
            self._make_engine(immediate=True) if self.is_sqlite else self.read_engine
        )
        if migrate:
            self.migrate()

    def _ensure_sqlite_folder(self) -> None:
        """The file's folder (created 0700) and the file itself (created 0600, before SQLite
        makes it 0644 under the usual umask): customer data and sealed credentials are for this
        user only. SQLite gives its -wal and -shm files the main file's permissions."""
        database = make_url(self.url).database
        if not database or database == ":memory:" or database.startswith("file:"):
            return
        path = Path(database)
        folder = path.parent
        default_folder = Path(make_url(default_database_url()).database or "").parent
        try:
            if not folder.exists():
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            elif folder == default_folder and folder.stat().st_uid == os.getuid():
                folder.chmod(0o700)  # imtui's own data folder, made before it was private
        except OSError as exc:
            raise DatabaseError(f"cannot create {folder}: {exc.strerror}") from exc
        with contextlib.suppress(OSError):  # there already, or not ours to make: SQLite says
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))

    def _make_engine(self, *, immediate: bool) -> Engine:
        if not self.is_sqlite:
            return create_engine(
                self.url,
                pool_pre_ping=True,
                pool_size=10,
                max_overflow=20,
                hide_parameters=True,  # a failed statement's text must not carry customer data
            )
        engine = create_engine(
            self.url,
            connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False},
            pool_size=8,
            max_overflow=8,
            hide_parameters=True,  # a failed statement's text must not carry customer data
        )
        begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, decide when transactions begin.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql(begin)

        return engine

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; nothing it does is committed."""
        with Session(self.read_engine, expire_on_commit=False) as session:
            try:
                yield session
            except IntegrityError:
                raise
            except DriverError as exc:
                # locked, unreadable, not a database, server gone: one line for a person
                raise DatabaseError(one_line(exc)) from exc

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction, committed on success, rolled back on any error."""
        with self._writer, Session(self.write_engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except IntegrityError:
                session.rollback()
                raise
            except DriverError as exc:
                session.rollback()
                raise DatabaseError(one_line(exc)) from exc
            except BaseException:
                session.rollback()
                raise

    async def write_in_thread(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``work(session, *args, **kwargs)`` in a write transaction, off the event loop."""

        def run() -> T:
            with self.write() as session:
                return work(session, *args, **kwargs)

        if self._write_thread is None:
            return await asyncio.to_thread(run)
        return await asyncio.get_running_loop().run_in_executor(self._write_thread, run)

    async def read_in_thread(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``work(session, *args, **kwargs)`` in a read session, off the event loop."""

        def run() -> T:
            with self.read() as session:
                return work(session, *args, **kwargs)

        return await asyncio.to_thread(run)

    def migrate(self) -> None:
        from imtui.store.migrate import upgrade_to_head
        from imtui.store.secrets import seal_plain_rows

        try:
            upgrade_to_head(self)
            seal_plain_rows(self)  # credentials stored before they were sealed: one query else
        except DriverError as exc:
            raise DatabaseError(f"cannot open {describe_url(self.url)}: {one_line(exc)}") from exc

    def dispose(self) -> None:
        if self._write_thread is not None:
            self._write_thread.shutdown(wait=False)
        self.read_engine.dispose()
        if self.write_engine is not self.read_engine:
            self.write_engine.dispose()


def one_line(exc: BaseException) -> str:
    """A database error as one line: the driver's own words ("database is locked"), without
    SQLAlchemy's statement and background link."""
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
