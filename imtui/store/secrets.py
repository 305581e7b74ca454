"""Credentials at rest: where the key comes from, and sealing and opening with it (Fernet).

A connection's credentials are stored as ``{"sealed": "<Fernet token>"}`` in its JSON column
(see :class:`imtui.store.types.SealedJSON`), on SQLite and PostgreSQL alike: whoever reads the
database file or the table without the key sees only the token.

Where the key comes from — the first of these that is set wins:

1. ``IMTUI_SECRET_KEY``: the key itself. For services, containers and teams: every worker
   and admin of one database gets the same key from the environment.
2. ``IMTUI_SECRET_KEY_FILE``: the path of a file holding the key (never created by imtui).
3. ``secret.key`` in the user's config folder (``~/.config/imtui/secret.key`` on Linux). This
   one is created — 0600, in a 0700 folder, atomically — the first time a credential is sealed,
   but only while the database holds no sealed credentials: a database whose key is missing is
   an error, never a reason for a second key.

A key is a Fernet key (32 url-safe base64-encoded bytes). A file may hold several, one a line,
and ``IMTUI_SECRET_KEY`` several separated by commas: the first seals, every one opens — which
is how ``imtui secrets rotate`` never strands a row half way.

A missing or wrong key is one line naming where the key was looked for. A row that cannot be
opened loads as :class:`Unreadable` — lists and headers that load connections go on working —
and whatever uses its credentials gets that line as an error instead of an empty credential.
"""

from __future__ import annotations

import binascii
import contextlib
import json
import logging
import os
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeGuard

from imtui.store.database import DatabaseError

# cryptography is imported where a key is used, not here: the usual start (every row sealed
# already) never needs it, and it costs a hundredth of a second.

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy import Connection as DbConnection
    from sqlmodel import Session

    from imtui.store.database import Database

KEY_ENV = "IMTUI_SECRET_KEY"
KEY_FILE_ENV = "IMTUI_SECRET_KEY_FILE"
DEFAULT_KEY_NAME = "secret.key"
SEALED = "sealed"
"""The one key of a sealed credentials column: ``{"sealed": token}``."""

log = logging.getLogger(__name__)


class SecretKeyError(DatabaseError):
    """The key is missing, malformed or not the one the credentials were sealed with; the
    message is one line naming where the key was looked for.

    A :class:`DatabaseError`: the CLI prints it as one line, and the engine treats it as
    the store's trouble, not a bug."""


class KeyNotFound(SecretKeyError):
    """No key where it is looked for."""


# -- where the key is ---------------------------------------------------------------------------


def default_key_file() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("imtui", appauthor=False)) / DEFAULT_KEY_NAME


@dataclass(frozen=True, slots=True)
class KeySource:
    """Where this process takes its key from: the environment, or a file."""

    env_value: str | None = None
    path: Path | None = None
    named_by_env: bool = False
    """The file is ``IMTUI_SECRET_KEY_FILE``'s, not the default one."""

    @property
    def is_default_file(self) -> bool:
        return self.env_value is None and not self.named_by_env

    @property
    def writable(self) -> bool:
        """A key file can be rewritten (rotation); the environment of other processes cannot."""
        return self.path is not None

    def describe(self) -> str:
        if self.path is None:
            return KEY_ENV
        if self.named_by_env:
            return f"{self.path} ({KEY_FILE_ENV})"
        return f"{self.path} (the default key file)"


def key_source() -> KeySource:
    """``IMTUI_SECRET_KEY`` > ``IMTUI_SECRET_KEY_FILE`` > the default key file (an empty
    variable counts as unset)."""
    value = os.environ.get(KEY_ENV, "").strip()
    if value:
        return KeySource(env_value=value)
    named = os.environ.get(KEY_FILE_ENV, "").strip()
    if named:
        return KeySource(path=Path(named).expanduser(), named_by_env=True)
    return KeySource(path=default_key_file())


def no_key_found(source: KeySource) -> KeyNotFound:
    """The one line that says where a key was looked for, and that none was there."""
    if source.named_by_env:
        return KeyNotFound(
            f"no key: {KEY_ENV} is unset and {KEY_FILE_ENV} names {source.path}, "
            "which does not exist"
        )
    return KeyNotFound(
        f"no key: {KEY_ENV} and {KEY_FILE_ENV} are unset and there is no key file {source.path}"
    )


# -- the key ------------------------------------------------------------------------------------


class Keyring:
    """The keys of one source: the first seals, every one opens."""

    def __init__(self, keys: list[bytes], source: KeySource) -> None:
        from cryptography.fernet import Fernet, MultiFernet

        self.keys = keys
        self.source = source
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def seal(self, credentials: Mapping[str, Any]) -> dict[str, str]:
        plain = json.dumps(dict(credentials), sort_keys=True).encode()
        return {SEALED: self._fernet.encrypt(plain).decode("ascii")}

    def open(self, token: str) -> dict[str, Any]:
        """The credentials of a sealed token; :class:`SecretKeyError` if this key cannot."""
        from cryptography.fernet import InvalidToken

        try:
            plain = self._fernet.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            raise wrong_key(self.source) from None
        opened = json.loads(plain)
        if not isinstance(opened, dict):
            raise SecretKeyError("sealed credentials hold something other than an object")
        return opened

    def rotated(self, new_key: bytes) -> tuple[Keyring, Callable[[str], str]]:
        """A keyring that seals with ``new_key`` and still opens with these keys, and the
        function that re-seals one token with it (InvalidToken if these keys cannot open it)."""
        keyring = Keyring([new_key, *self.keys], self.source)
        return keyring, lambda token: keyring._fernet.rotate(token.encode("ascii")).decode("ascii")


def wrong_key(source: KeySource) -> SecretKeyError:
    return SecretKeyError(
        f"the key from {source.describe()} does not open the sealed credentials: it is not "
        "the key they were sealed with"
    )


def parse_keys(text: str, source: KeySource) -> list[bytes]:
    """The keys in a file (one a line) or in ``IMTUI_SECRET_KEY`` (comma-separated)."""
    from cryptography.fernet import Fernet

    parts = [part.strip() for part in text.replace(",", "\n").splitlines()]
    keys = [part.encode("ascii", "replace") for part in parts if part]
    if not keys:
        raise SecretKeyError(f"no key in {source.describe()}: it is empty")
    for key in keys:
        try:
            Fernet(key)
        except (ValueError, binascii.Error):
            raise SecretKeyError(
                f"the key in {source.describe()} is not a Fernet key "
                "(44 characters of url-safe base64)"
            ) from None
    return keys


_cache: dict[tuple[object, ...], Keyring] = {}


def current_keyring() -> Keyring:
    """The key this process seals and opens with, read again only when its file changes (a
    rotation by another process is seen at once); :class:`KeyNotFound` if there is none."""
    source = key_source()
    if source.path is None:
        identity: tuple[object, ...] = (KEY_ENV, source.env_value)
    else:
        try:
            info = source.path.stat()
        except FileNotFoundError:
            raise no_key_found(source) from None
        except OSError as exc:
            raise SecretKeyError(f"cannot read {source.describe()}: {exc.strerror}") from exc
        identity = (source.path, info.st_ino, info.st_mtime_ns, info.st_size, info.st_mode)
    known = _cache.get(identity)
    if known is not None:
        return known
    keyring = Keyring(parse_keys(_read_key_text(source), source), source)
    _cache.clear()  # one source at a time: a rotated or changed key replaces the old
    _cache[identity] = keyring
    return keyring


def _read_key_text(source: KeySource) -> str:
    if source.env_value is not None:
        return source.env_value
    assert source.path is not None
    try:
        text = source.path.read_text(encoding="ascii", errors="replace")
        mode = source.path.stat().st_mode
    except OSError as exc:
        raise SecretKeyError(f"cannot read {source.describe()}: {exc.strerror}") from exc
    if mode & stat.S_IRWXO:
        # Group access is how a team shares a key file; other users never need it.
        log.warning(
            "the key file %s can be read by other users (mode %o): chmod o-rwx it",
            source.path,
            stat.S_IMODE(mode),
        )
    return text


def keyring_for_sealing(holds_sealed: Callable[[], bool]) -> Keyring:
    """The key to seal with, creating the default key file if there is no key anywhere and
    ``holds_sealed()`` says the database has no sealed credentials yet."""
    try:
        return current_keyring()
    except KeyNotFound:
        source = key_source()
        if not source.is_default_file or holds_sealed():
            raise
        assert source.path is not None
        try:
            create_key_file(source.path)
        except OSError as exc:
            raise SecretKeyError(
                f"cannot create the key file {source.path}: {exc.strerror or exc}"
            ) from exc
        return current_keyring()


def create_key_file(path: Path) -> None:
    """A new key at ``path`` (0600, its folder 0700). Two processes starting at once make one
    key: the file appears whole, by a hard link that fails if the other one linked first."""
    from cryptography.fernet import Fernet

    folder = path.parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        if folder.stat().st_uid == os.getuid():
            folder.chmod(0o700)  # imtui's own config folder: nobody else needs to list it
    temporary = _write_new_file(folder, Fernet.generate_key().decode("ascii") + "\n", 0o600)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass  # another process made the key first: that one is the key
    finally:
        temporary.unlink(missing_ok=True)


def replace_key_file(path: Path, keys: list[bytes]) -> None:
    """Write ``keys`` to ``path`` in one rename, keeping the file's group access (a team's key
    file stays readable by the team) but never other users'."""
    try:
        info = path.stat()
        mode, group = stat.S_IMODE(info.st_mode) & 0o660, info.st_gid
    except FileNotFoundError:
        mode, group = 0o600, -1
    text = "".join(key.decode("ascii") + "\n" for key in keys)
    temporary = _write_new_file(path.parent, text, mode | 0o600, group)
    try:
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _write_new_file(folder: Path, text: str, mode: int, group: int = -1) -> Path:
    """A new file (O_EXCL: never one that someone else placed) in ``folder``, synced."""
    while True:
        temporary = folder / f".{DEFAULT_KEY_NAME}.{os.getpid()}.{os.urandom(4).hex()}"
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        break
    try:
        if group != -1:
            with contextlib.suppress(OSError):  # not a member of that group: it stays ours
                os.fchown(descriptor, -1, group)
        os.fchmod(descriptor, mode)
        os.write(descriptor, text.encode("ascii"))
        os.fsync(descriptor)
    except BaseException:
        os.close(descriptor)
        temporary.unlink(missing_ok=True)
        raise
    os.close(descriptor)
    return temporary


# -- a row that cannot be opened ----------------------------------------------------------------


class Unreadable(Mapping[str, Any]):
    """Credentials this process cannot open (no key, or not their key).

    Loading a connection never fails because of it; using its credentials does: every key
    access, iteration, ``len()`` and truth test raises :class:`SecretKeyError` with the
    reason. Whatever uses credentials checks ``isinstance(value, Unreadable)`` first. Written
    back unchanged, it stores the sealed text it was loaded from."""

    __slots__ = ("reason", "stored")

    def __init__(self, reason: str, stored: Any) -> None:
        self.reason = reason
        self.stored = stored

    def fail(self) -> NoReturn:
        raise SecretKeyError(self.reason)

    def __getitem__(self, key: str) -> Any:
        self.fail()

    def __iter__(self) -> Iterator[str]:
        self.fail()

    def __len__(self) -> int:
        self.fail()

    def __bool__(self) -> bool:
        self.fail()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unreadable) and other.stored == self.stored

    # unhashable on purpose: typeshed declares __hash__ a method on every object
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<unreadable credentials: {self.reason}>"


def is_sealed(value: object) -> TypeGuard[dict[str, str]]:
    return isinstance(value, dict) and set(value) == {SEALED} and isinstance(value[SEALED], str)


def open_stored(value: Any) -> Any:
    """What the credentials column loads as: the plain dict, or :class:`Unreadable`."""
    if not is_sealed(value):
        return value  # not sealed yet (a row written before sealing, until the next start)
    try:
        return current_keyring().open(value[SEALED])
    except SecretKeyError as exc:
        return Unreadable(str(exc), value)


def seal_for_storage(value: Any) -> Any:
    """What the credentials column stores for ``value``."""
    if value is None:
        return None
    if isinstance(value, Unreadable):
        return value.stored  # never replaced by anything but what it was
    return current_keyring().seal(value)


# -- the rows -----------------------------------------------------------------------------------


def _connection_table() -> Any:
    from sqlalchemy import JSON, Integer, column, table

    return table("connection", column("id", Integer), column("credentials", JSON))


def _sealed_clause(credentials: Any) -> Any:
    return credentials[SEALED].as_string().is_not(None)


def holds_sealed(connection: DbConnection) -> bool:
    """Whether any connection row holds sealed credentials."""
    from sqlalchemy import literal, select

    rows = _connection_table()
    query = select(literal(1)).select_from(rows).where(_sealed_clause(rows.c.credentials))
    return connection.execute(query.limit(1)).first() is not None


@dataclass(frozen=True, slots=True)
class SealCounts:
    sealed: int
    plain: int
    unreadable: int


def count_rows(database: Database) -> SealCounts:
    """How many connection rows are sealed (opened by this key or not) and plain."""
    from sqlalchemy import select

    rows = _connection_table()
    with database.read_engine.connect() as connection:
        stored = [value for (value,) in connection.execute(select(rows.c.credentials))]
    sealed = [value for value in stored if is_sealed(value)]
    unreadable = 0
    if sealed:
        try:
            keyring = current_keyring()
        except SecretKeyError:
            unreadable = len(sealed)
        else:
            for value in sealed:
                try:
                    keyring.open(value[SEALED])
                except SecretKeyError:
                    unreadable += 1
    return SealCounts(sealed=len(sealed), plain=len(stored) - len(sealed), unreadable=unreadable)


def seal_plain_rows(database: Database) -> int:
    """Seal every connection row still holding plain credentials; how many were.

    The usual start finds none in one small query, and loads no key. Run by every start after
    the schema upgrade; two processes starting at once seal each row once (the write lock on
    SQLite, row locks on PostgreSQL, and the re-check of each row under them)."""
    from sqlalchemy import text

    sealed = (
        "json_extract(credentials, '$.sealed')"
        if database.is_sqlite
        else "credentials ->> 'sealed'"
    )
    # Plain SQL: a new engine compiles nothing for it (each start has a new engine).
    query = text(f"SELECT count(*) - count({sealed}), count(*) FROM connection")
    with database.read_engine.connect() as connection:
        waiting, total = connection.execute(query).one()
    if not waiting:
        return 0
    try:
        return _seal_rows(database, holds_any_sealed=bool(total - waiting))
    except SecretKeyError as exc:
        # The start goes on: the rows stay as they were, and are sealed by a start with the key.
        log.warning("%s plain credentials left unsealed: %s", waiting, exc)
        return 0


def _seal_rows(database: Database, *, holds_any_sealed: bool) -> int:
    from sqlalchemy import select, update

    rows = _connection_table()
    plain_only = rows.c.credentials[SEALED].as_string().is_(None)
    keyring = keyring_for_sealing(lambda: holds_any_sealed)
    with database.write_engine.begin() as connection:
        if holds_any_sealed:
            _check_opens_one(connection, keyring)  # a wrong key must not seal what it cannot open
        query = select(rows.c.id, rows.c.credentials).where(plain_only).order_by(rows.c.id)
        if not database.is_sqlite:
            query = query.with_for_update()
        sealed = 0
        for row_id, credentials in connection.execute(query).all():
            if credentials is not None and not isinstance(credentials, dict):
                continue  # not credentials this code wrote: left for a person to look at
            connection.execute(
                update(rows)
                .where(rows.c.id == row_id)
                .values(credentials=keyring.seal(credentials or {}))
            )
            sealed += 1
    return sealed


def _check_opens_one(connection: DbConnection, keyring: Keyring) -> None:
    from sqlalchemy import select

    rows = _connection_table()
    query = select(rows.c.credentials).where(_sealed_clause(rows.c.credentials)).limit(1)
    value = connection.execute(query).scalar()
    if is_sealed(value):
        keyring.open(value[SEALED])


# -- rotation -----------------------------------------------------------------------------------


def _check_sees_every_connection(session: Session) -> None:
    """On PostgreSQL a person's role sees only their accounts' rows: a rotation by them would
    re-seal those and strand the rest under a key nobody keeps. Only an admin of every account
    (or the database's owner) rotates."""
    from imtui.domain.people import Act
    from imtui.store.people import access_of

    access = access_of(session)
    refusal = access.role_refusal(Act.CHANGE_CONNECTIONS)
    if refusal is None and access.accounts is not None:
        refusal = f"{access.login} may not rotate the key: that needs an admin of every account"
    if refusal is not None:
        raise SecretKeyError(refusal)


@dataclass(frozen=True, slots=True)
class Rotation:
    resealed: int
    new_key: bytes
    source: KeySource


def rotate_key(database: Database, *, actor: str, now: datetime, print_new_key: bool) -> Rotation:
    """Re-seal every connection row with a new key in one transaction and put the key where the
    current one came from (the key file), with an audit entry.

    The key file first gets the new key *and* the old ones, so that whatever happens between
    here and the commit every row still opens (and a failure leaves the old key first, the new
    one still opening); after the commit it keeps only the new key. A
    key from ``IMTUI_SECRET_KEY`` cannot be written for the other processes: the new key is
    then only printed (``print_new_key``), else nothing is done."""
    from cryptography.fernet import Fernet, InvalidToken
    from sqlalchemy import select, update

    from imtui.store.audit import record_action

    keyring = current_keyring()
    source = keyring.source
    if not source.writable and not print_new_key:
        raise SecretKeyError(
            f"the key comes from {KEY_ENV}, which imtui cannot rewrite: run 'imtui secrets "
            f"rotate --print-new-key' and give the printed key to every process as {KEY_ENV}"
        )
    new_key = Fernet.generate_key()
    rotated, reseal = keyring.rotated(new_key)
    old_text = _read_key_text(source) if source.path is not None else None
    rows = _connection_table()
    written = False
    try:
        with database.write() as session:
            _check_sees_every_connection(session)
            if source.path is not None:
                replace_key_file(source.path, rotated.keys)
                written = True
            query = select(rows.c.id, rows.c.credentials).order_by(rows.c.id)
            if not database.is_sqlite:
                query = query.with_for_update()
            count = 0
            for row_id, credentials in session.connection().execute(query).all():
                if credentials is None:
                    continue
                if is_sealed(credentials):
                    try:
                        value = {SEALED: reseal(credentials[SEALED])}
                    except InvalidToken:
                        raise SecretKeyError(
                            f"connection {row_id}'s credentials do not open with the key from "
                            f"{source.describe()}: nothing was rotated (they would be lost)"
                        ) from None
                else:
                    value = rotated.seal(credentials)
                session.connection().execute(
                    update(rows).where(rows.c.id == row_id).values(credentials=value)
                )
                count += 1
            record_action(
                session,
                actor=actor,
                action="secrets.rotate",
                target="secret-key",
                now=now,
                detail=f"re-sealed {count} connection(s); key in {source.describe()}",
            )
    except BaseException:
        if written and source.path is not None and old_text is not None:
            # The old key seals again; the new one still opens what another process may have
            # sealed with it meanwhile.
            replace_key_file(source.path, [*parse_keys(old_text, source), new_key])
        raise
    if source.path is not None:
        replace_key_file(source.path, [new_key])
    return Rotation(resealed=count, new_key=new_key, source=source)
