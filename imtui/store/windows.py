"""Windows of rows for a screen that shows a few dozen of a million: keyset pages that can start
anywhere — at the top, at the bottom, at a row, just after or just before it — in any of a list's
sort orders.

A dashboard keeps only the rows it shows. Moving the cursor past the last one asks for the window
one row further on; page down asks for the rows after the last; jump to the end asks for the last
rows. Each is one indexed range scan (``(sort value, id) < (:v, :id) ORDER BY … LIMIT n``), so it
costs the same on the first page and the ten-thousandth.

Rows, positions and windows are the frozen dataclasses of :mod:`imtui.store.rows`; this module
adds the SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import ColumnElement, func, literal, or_, tuple_
from sqlmodel import Session, col, select

from imtui.domain.retry import RetryState
from imtui.store import rows
from imtui.store.alert_reads import alert_conditions, as_alert_row
from imtui.store.models import (
    Account,
    Alert,
    AuditEntry,
    Connection,
    Order,
    OutboxEmail,
    RetryItem,
)
from imtui.store.order_reads import as_order_row, order_conditions
from imtui.store.outbox import OutboxFilter, OutboxRow, as_outbox_row, state_condition
from imtui.store.overview_reads import as_audit_row, audit_conditions
from imtui.store.queue_reads import as_retry_row, queue_conditions
from imtui.store.rows import (
    FAR_FUTURE,
    TOP,
    AlertFilter,
    AlertRow,
    Anchor,
    AuditFilter,
    AuditRow,
    OrderFilter,
    OrderRow,
    Position,
    QueueFilter,
    RetryRow,
    Sort,
    Window,
)
from imtui.store.types import UTCDateTime

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import SQLCoreOperations

R = TypeVar("R")

MAX_WINDOW = 500
_FAR = literal(FAR_FUTURE, UTCDateTime)

COUNT_CAP = 100_000
"""Counts for "act on all matching" stop here: past it a person is told "more than …"."""


@dataclass(frozen=True, slots=True)
class SortOrder(Generic[R]):
    """A sort order (:class:`~imtui.store.rows.Sort`) with the SQL that reads in it."""

    sort: Sort[R]
    columns: tuple[SQLCoreOperations[Any], ...]
    """SQL expressions, the id last; all in one direction so one index range serves them."""

    @property
    def name(self) -> str:
        return self.sort.name

    @property
    def label(self) -> str:
        return self.sort.label

    @property
    def descending(self) -> bool:
        return self.sort.descending

    @property
    def key_of(self) -> Callable[[R], tuple[Any, ...]]:
        return self.sort.key_of


def _with_columns(
    sorts: dict[str, Sort[R]], columns: dict[str, tuple[SQLCoreOperations[Any], ...]]
) -> dict[str, SortOrder[R]]:
    assert sorts.keys() == columns.keys()
    return {name: SortOrder(sort, columns[name]) for name, sort in sorts.items()}


ORDER_SORTS: dict[str, SortOrder[OrderRow]] = _with_columns(
    rows.ORDER_SORTS,
    {
        "newest": (col(Order.id),),
        "oldest": (col(Order.id),),
        "updated": (col(Order.updated_at), col(Order.id)),
    },
)

ALERT_SORTS: dict[str, SortOrder[AlertRow]] = _with_columns(
    rows.ALERT_SORTS,
    {
        "newest": (col(Alert.id),),
        "last_seen": (col(Alert.last_seen), col(Alert.id)),
        "count": (col(Alert.count), col(Alert.id)),
        "oldest": (col(Alert.id),),
    },
)

QUEUE_SORTS: dict[str, SortOrder[RetryRow]] = _with_columns(
    rows.QUEUE_SORTS,
    {
        "next_attempt": (func.coalesce(RetryItem.next_attempt_at, _FAR), col(RetryItem.id)),
        "newest": (col(RetryItem.id),),
        "deadline": (func.coalesce(RetryItem.deadline_at, _FAR), col(RetryItem.id)),
        "attempts": (col(RetryItem.attempts), col(RetryItem.id)),
    },
)


# -- the three lists --------------------------------------------------------------------------


def orders_window(
    session: Session,
    where: OrderFilter,
    position: Position = TOP,
    *,
    size: int = 20,
    sort: str = "newest",
    ship_method: str | None = None,
) -> Window[OrderRow]:
    query = select(Order, Account.name).join(Account, col(Account.id) == Order.account_id)
    query = query.where(*order_conditions(session, where, ship_method))
    return _window(session, query, ORDER_SORTS[sort], position, size, lambda r: as_order_row(*r))


def alerts_window(
    session: Session,
    where: AlertFilter,
    position: Position = TOP,
    *,
    size: int = 20,
    sort: str = "newest",
    search: str | None = None,
) -> Window[AlertRow]:
    query = (
        select(Alert, Account.name, Connection.name)
        .join(Account, col(Account.id) == Alert.account_id)
        .outerjoin(Connection, col(Connection.id) == Alert.connection_id)
        .where(*alert_conditions(where, search))
    )
    return _window(session, query, ALERT_SORTS[sort], position, size, lambda r: as_alert_row(*r))


def queue_window(
    session: Session,
    where: QueueFilter,
    position: Position = TOP,
    *,
    size: int = 20,
    sort: str = "next_attempt",
    search: str | None = None,
) -> Window[RetryRow]:
    query = select(RetryItem).where(*queue_conditions(where, search))
    return _window(session, query, QUEUE_SORTS[sort], position, size, as_retry_row)


OUTBOX_SORTS: dict[str, SortOrder[OutboxRow]] = _with_columns(
    rows.OUTBOX_SORTS, {"newest": (col(OutboxEmail.id),), "oldest": (col(OutboxEmail.id),)}
)


def outbox_window(
    session: Session,
    where: OutboxFilter,
    position: Position = TOP,
    *,
    size: int = 20,
    sort: str = "newest",
) -> Window[OutboxRow]:
    """The outbox (:mod:`imtui.store.outbox`'s rows and state words) as a keyset window."""
    query = select(OutboxEmail, Account.name).join(
        Account, col(Account.id) == OutboxEmail.account_id
    )
    if where.states:
        query = query.where(or_(*(state_condition(state) for state in where.states)))
    if where.account_id is not None:
        query = query.where(OutboxEmail.account_id == where.account_id)
    return _window(session, query, OUTBOX_SORTS[sort], position, size, lambda r: as_outbox_row(*r))


AUDIT_SORTS: dict[str, SortOrder[AuditRow]] = _with_columns(
    rows.AUDIT_SORTS, {"newest": (col(AuditEntry.id),)}
)


def audit_window(
    session: Session,
    where: AuditFilter,
    position: Position = TOP,
    *,
    size: int = 20,
    sort: str = "newest",
) -> Window[AuditRow]:
    """The audit log, newest first, as a keyset window (the dashboard's audit screen)."""
    query = select(AuditEntry).where(*audit_conditions(where))
    return _window(session, query, AUDIT_SORTS[sort], position, size, as_audit_row)


# -- "act on all matching": ids in pages, and a capped count -----------------------------------


def matching_ids(
    session: Session,
    entity: Any,
    conditions: Sequence[ColumnElement[bool]],
    *,
    after_id: int | None = None,
    limit: int = 500,
) -> list[int]:
    """Ids of the rows a filter matches, ascending, a page at a time (for bulk actions)."""
    query = select(entity.id).where(*conditions)
    if after_id is not None:
        query = query.where(entity.id > after_id)
    return list(session.exec(query.order_by(entity.id).limit(limit)))


def count_matching(
    session: Session, entity: Any, conditions: Sequence[ColumnElement[bool]], cap: int = COUNT_CAP
) -> int:
    """How many rows a filter matches, counting no further than ``cap`` (+1 means "more")."""
    inner = select(entity.id).where(*conditions).limit(cap + 1).subquery()
    return int(session.exec(select(func.count()).select_from(inner)).one())


# -- the keyset machinery ----------------------------------------------------------------------


def _window(
    session: Session,
    query: Any,
    sort: SortOrder[Any],
    position: Position,
    size: int,
    build: Callable[[Any], R],
) -> Window[R]:
    size = max(1, min(int(size), MAX_WINDOW))
    anchor, key = position.anchor, position.key
    if key is None and anchor not in (Anchor.FIRST, Anchor.LAST):
        anchor = Anchor.FIRST
    if anchor is Anchor.FIRST:
        rows = _fetch(session, query, sort, None, forward=True, inclusive=False, limit=size + 1)
        return Window([build(r) for r in rows[:size]], True, len(rows) <= size)
    if anchor is Anchor.LAST:
        rows = _fetch(session, query, sort, None, forward=False, inclusive=False, limit=size + 1)
        rows.reverse()
        return Window([build(r) for r in rows[-size:]], len(rows) <= size, True)
    if anchor is Anchor.BEFORE:
        before = _fetch(session, query, sort, key, forward=False, inclusive=False, limit=size + 1)
        if len(before) <= size:
            return _window(session, query, sort, TOP, size, build)
        before.reverse()
        return Window([build(r) for r in before[-size:]], False, False)
    after = _fetch(
        session, query, sort, key, forward=True, inclusive=anchor is Anchor.AT, limit=size + 1
    )
    if len(after) < size:
        # Near the end: keep the window full with the rows just before.
        return _window(session, query, sort, Position(Anchor.LAST), size, build)
    has_before = _fetch(
        session, query, sort, key, forward=False, inclusive=anchor is Anchor.AFTER, limit=1
    )
    return Window([build(r) for r in after[:size]], not has_before, len(after) <= size)


def _fetch(
    session: Session,
    query: Any,
    sort: SortOrder[Any],
    key: tuple[Any, ...] | None,
    *,
    forward: bool,
    inclusive: bool,
    limit: int,
) -> list[Any]:
    descending = sort.descending if forward else not sort.descending
    if key is not None:
        query = query.where(_beyond(sort.columns, key, descending=descending, inclusive=inclusive))
    order = [c.desc() if descending else c.asc() for c in sort.columns]
    return list(session.exec(query.order_by(*order).limit(limit)).all())


def _beyond(
    columns: tuple[SQLCoreOperations[Any], ...],
    key: tuple[object, ...],
    *,
    descending: bool,
    inclusive: bool,
) -> ColumnElement[bool]:
    """Rows past ``key`` in the scan direction; a row-value comparison an index can serve."""
    if len(columns) == 1:
        column, value = columns[0], key[0]
        if descending:
            return column <= value if inclusive else column < value
        return column >= value if inclusive else column > value
    left = tuple_(*columns)
    # An ORM attribute (``col(Model.field)``) has its SQL type at run time, through its
    # comparator, but SQLAlchemy's types declare ``.type`` on column elements only.
    types = [c.type for c in columns]  # type: ignore[attr-defined]
    right = tuple_(*(literal(v, t) for t, v in zip(types, key, strict=True)))
    if descending:
        return left <= right if inclusive else left < right
    return left >= right if inclusive else left > right


def count_orders(session: Session, where: OrderFilter, ship_method: str | None = None) -> int:
    return count_matching(session, Order, order_conditions(session, where, ship_method))


def count_alerts(session: Session, where: AlertFilter, search: str | None = None) -> int:
    return count_matching(session, Alert, alert_conditions(where, search))


def count_queue(session: Session, where: QueueFilter, search: str | None = None) -> int:
    return count_matching(session, RetryItem, queue_conditions(where, search))


def order_ids(
    session: Session,
    where: OrderFilter,
    ship_method: str | None = None,
    *,
    after_id: int | None = None,
    limit: int = 500,
) -> list[int]:
    conditions = order_conditions(session, where, ship_method)
    return matching_ids(session, Order, conditions, after_id=after_id, limit=limit)


def alert_ids(
    session: Session,
    where: AlertFilter,
    search: str | None = None,
    *,
    after_id: int | None = None,
    limit: int = 500,
) -> list[int]:
    conditions = alert_conditions(where, search)
    return matching_ids(session, Alert, conditions, after_id=after_id, limit=limit)


def retry_item_ids(
    session: Session,
    where: QueueFilter,
    search: str | None = None,
    *,
    after_id: int | None = None,
    limit: int = 500,
) -> list[int]:
    conditions = queue_conditions(where, search)
    return matching_ids(session, RetryItem, conditions, after_id=after_id, limit=limit)


def due_on_connection(
    session: Session, connection_id: int, operation: str, *, limit: int = 10_000
) -> list[int]:
    """The queue rows of one connection and operation waiting for their next try (an
    outage's: resending it tries them all now). Held and skipped rows wait for a person."""
    ids = session.exec(
        select(col(RetryItem.id))
        .where(
            RetryItem.connection_id == connection_id,
            RetryItem.operation == operation,
            RetryItem.state == RetryState.DUE,
        )
        .order_by(col(RetryItem.id))
        .limit(limit)
    )
    return [item_id for item_id in ids if item_id is not None]  # a stored row always has one


def retry_row_for(session: Session, operation: str, subject_id: int) -> RetryRow | None:
    """The queue row of one record (the ``(operation, subject_id)`` unique index)."""
    item = session.exec(
        select(RetryItem).where(
            RetryItem.operation == operation, RetryItem.subject_id == subject_id
        )
    ).first()
    return None if item is None else as_retry_row(item)
