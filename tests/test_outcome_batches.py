"""A batch of successes (engine/outcomes.py apply_outcomes) is written as a few statements for
the whole batch: each row, order and stock level ends as the one-at-a-time rules leave it —
on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from imtui.domain.alerts import AlertState
from imtui.domain.failures import AlertKind
from imtui.domain.records import WmsOrder
from imtui.domain.retry import Operation
from imtui.engine.outcomes import Outcome, Routed, apply_outcomes
from imtui.store.alerts import AlertSubject, raise_alert
from imtui.store.database import Database
from imtui.store.models import (
    Account,
    Alert,
    Attempt,
    Connection,
    InventoryLevel,
    Order,
    RetryItem,
    ShipMethodMapping,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=1)
OWNER = "a:1:x"


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def shop(database: Database) -> tuple[int, int, int]:
    """An account with a shop and a WMS: their ids."""
    with database.write() as session:
        account = Account(name="Acme", created_at=NOW)
        session.add(account)
        session.flush()
        assert account.id is not None
        ids = [account.id]
        for role in ("source", "wms"):
            connection = Connection(
                account_id=account.id,
                name=role,
                role=role,
                platform="wms_3pl" if role == "wms" else "shopify",
                base_url="https://remote.example",
                created_at=NOW,
                updated_at=NOW,
            )
            session.add(connection)
            session.flush()
            assert connection.id is not None
            ids.append(connection.id)
        return ids[0], ids[1], ids[2]


def add(session: Session, row: Any) -> int:
    session.add(row)
    session.flush()
    assert row.id is not None
    return int(row.id)


def order(session: Session, shop: tuple[int, int, int], number: int, **columns: Any) -> int:
    account_id, source_id, _ = shop
    return add(
        session,
        Order(
            account_id=account_id,
            source_connection_id=source_id,
            source_order_id=str(number),
            number=f"#{number}",
            reference=f"ACME-{number}",
            created_at=NOW,
            updated_at=NOW,
            **columns,
        ),
    )


def leased(
    session: Session, shop: tuple[int, int, int], operation: Operation, subject_id: int
) -> int:
    """A row claimed by OWNER and marked in flight, as a batch's rows are when it is sent."""
    account_id, source_id, wms_id = shop
    to_wms = operation in (Operation.DELIVER_ORDER, Operation.CANCEL_ORDER)
    return add(
        session,
        RetryItem(
            account_id=account_id,
            connection_id=wms_id if to_wms else source_id,
            operation=operation,
            subject_id=subject_id,
            state="due",
            attempts=1,
            consecutive_failures=2,
            first_failure_at=NOW - timedelta(hours=2),
            deadline_at=NOW + timedelta(days=14),
            next_attempt_at=NOW,
            last_error="HTTP 503",
            last_failure_class="transient",
            in_flight_since=NOW,
            lease_owner=OWNER,
            lease_expires_at=NOW + timedelta(minutes=5),
            created_at=NOW,
            updated_at=NOW,
        ),
    )


def record(database: Database, outcomes: list[Outcome]) -> None:
    with database.write() as session:
        apply_outcomes(session, outcomes, clock=lambda: LATER, worker=OWNER)


def rows_by_id(database: Database, model: Any, ids: list[int]) -> dict[int, Any]:
    with database.read() as session:
        return {row.id: row for row in session.exec(select(model).where(col(model.id).in_(ids)))}


def test_delivered_orders_are_written_as_one_at_a_time(
    database: Database, shop: tuple[int, int, int]
) -> None:
    with database.write() as session:
        queued = order(session, shop, 1)
        held = order(session, shop, 2, status="held", hold_reason="incomplete_address")
        shipped = order(session, shop, 3, status="shipped", wms_order_id="W-3")
        orders = [queued, held, shipped]
        items = [leased(session, shop, Operation.DELIVER_ORDER, order_id) for order_id in orders]
        alert, _ = raise_alert(
            session,
            account_id=shop[0],
            connection_id=shop[2],
            kind=AlertKind.UNKNOWN_SKU,
            message="SKU-1 is unknown",
            now=NOW,
            about=AlertSubject(order_id=queued, subject=f"deliver:{queued}"),
        )
    record(
        database,
        [
            Outcome(items[0], label="sent", wms_order=WmsOrder("W-1", "ACME-1")),
            Outcome(items[1], label="linked", wms_order=WmsOrder("W-2", "ACME-2")),
            Outcome(items[2], label="linked"),  # the WMS named no order: the id known stays
        ],
    )
    found = rows_by_id(database, Order, orders)
    assert [(found[o].status, found[o].wms_order_id, found[o].hold_reason) for o in orders] == [
        ("delivered", "W-1", None),
        ("delivered", "W-2", None),
        ("shipped", "W-3", None),  # already further on: not moved back
    ]
    assert {found[o].updated_at for o in orders} == {LATER}
    assert_done(database, items)
    assert_attempts(database, items, ["sent", "linked", "linked"])
    with database.read() as session:
        closed = session.get(Alert, alert.id)
        assert closed is not None and closed.state == AlertState.RESOLVED


def test_tracking_and_stock_pushes_are_written_as_one_at_a_time(
    database: Database, shop: tuple[int, int, int]
) -> None:
    account_id, source_id, _ = shop
    with database.write() as session:
        shipped = order(session, shop, 1, status="shipped", tracking_number="1Z")
        tracking = leased(session, shop, Operation.PUSH_TRACKING, shipped)
        levels = [
            add(
                session,
                InventoryLevel(
                    account_id=account_id, source_connection_id=source_id, sku=sku, **figures
                ),
            )
            for sku, figures in (
                ("SKU-1", {"wms_available": 7, "pushed_available": 3}),
                ("SKU-2", {"wms_available": 9, "pushed_available": 3}),  # moves on meanwhile
            )
        ]
        stock = [leased(session, shop, Operation.PUSH_INVENTORY, level) for level in levels]
    record(database, [Outcome(tracking)])
    record(
        database,
        [Outcome(stock[0], pushed_available=7), Outcome(stock[1], pushed_available=8)],
    )
    fulfilled = rows_by_id(database, Order, [shipped])[shipped]
    assert (fulfilled.status, fulfilled.fulfilled_at, fulfilled.updated_at) == (
        "fulfilled",
        LATER,
        LATER,
    )
    pushed = rows_by_id(database, InventoryLevel, levels)
    assert [(pushed[level].pushed_available, pushed[level].pushed_at) for level in levels] == [
        (7, LATER),
        (8, LATER),
    ]
    assert_done(database, [tracking, stock[0]])
    again = rows_by_id(database, RetryItem, [stock[1]])[stock[1]]
    assert (again.state, again.next_attempt_at, again.lease_owner, again.in_flight_since) == (
        "due",
        LATER,
        None,
        None,
    )
    assert_attempts(database, [tracking, *stock], ["sent", "sent", "sent"])


def assert_done(database: Database, items: list[int]) -> None:
    for item in rows_by_id(database, RetryItem, items).values():
        assert (item.state, item.next_attempt_at, item.deadline_at) == ("done", None, None)
        assert (item.consecutive_failures, item.first_failure_at) == (0, None)
        assert (item.last_error, item.last_failure_class) == (None, None)
        assert (item.in_flight_since, item.lease_owner, item.lease_expires_at) == (None,) * 3
        assert item.updated_at == LATER


def assert_attempts(database: Database, items: list[int], outcomes: list[str]) -> None:
    with database.read() as session:
        attempts = {
            attempt.retry_item_id: attempt
            for attempt in session.exec(
                select(Attempt).where(col(Attempt.retry_item_id).in_(items))
            )
        }
    assert [(attempts[i].ok, attempts[i].outcome, attempts[i].at) for i in items] == [
        (True, outcome, LATER) for outcome in outcomes
    ]
    assert {attempts[i].worker for i in items} == {OWNER}


def mapping(session: Session, account_id: int, code: str) -> int:
    return add(
        session,
        ShipMethodMapping(
            account_id=account_id,
            source_code=code,
            carrier="UPS",
            mode="03",
            created_at=NOW,
            updated_at=NOW,
        ),
    )


def test_a_delivery_proves_the_mapping_it_went_out_through_once_an_hour(
    database: Database, shop: tuple[int, int, int]
) -> None:
    """The mapping of a delivered order's method (of its own account) is noted as delivered;
    one no delivered order went through is not; a second delivery within the hour writes
    nothing, one after it moves the time on."""
    account_id = shop[0]
    with database.write() as session:
        other = add(session, Account(name="Other", created_at=NOW))
        ups = mapping(session, account_id, "UPS_GROUND")
        fedex = mapping(session, account_id, "FEDEX_2DAY")
        elsewhere = mapping(session, other, "UPS_GROUND")  # same code, another account
        first = order(session, shop, 1, ship_method_code="UPS_GROUND")
        later = order(session, shop, 2, ship_method_code="UPS_GROUND")
        unsent = order(session, shop, 3, ship_method_code="FEDEX_2DAY")
        items = [leased(session, shop, Operation.DELIVER_ORDER, o) for o in (first, later)]
        leased(session, shop, Operation.DELIVER_ORDER, unsent)  # sent, no answer yet
    mappings = [ups, fedex, elsewhere]

    def deliver(
        item: int, at: datetime, carried: tuple[str, str] | None = ("UPS", "03")
    ) -> dict[int, datetime | None]:
        label = "sent" if carried else "linked"
        routed = Routed(ups, *carried) if carried else None
        with database.write() as session:
            apply_outcomes(
                session, [Outcome(item, label=label, routed=routed)], clock=lambda: at, worker=OWNER
            )
        found = rows_by_id(database, ShipMethodMapping, mappings)
        return {m: found[m].delivered_at for m in mappings}

    def again(item: int) -> None:  # sent again (a retry)
        with database.write() as session:
            row = session.get(RetryItem, item)
            assert row is not None
            row.state, row.lease_owner = "due", OWNER
            session.add(row)

    # Sent with another pair than the mapping holds now (changed meanwhile), or found already
    # in the WMS (sent before, with whatever mapping there was then): proves nothing.
    assert deliver(items[0], LATER, carried=("UPS", "92")) == dict.fromkeys(mappings)
    again(items[0])
    assert deliver(items[0], LATER, carried=None) == dict.fromkeys(mappings)
    again(items[0])
    assert deliver(items[0], LATER) == {ups: LATER, fedex: None, elsewhere: None}
    assert deliver(items[1], LATER + timedelta(minutes=30))[ups] == LATER  # not rewritten
    again(items[1])
    an_hour_on = LATER + timedelta(minutes=61)
    assert deliver(items[1], an_hour_on) == {ups: an_hour_on, fedex: None, elsewhere: None}
