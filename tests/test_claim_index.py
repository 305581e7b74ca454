"""The retry queue's claim (store/queue.py claim_due): it takes the right rows, oldest due
first, and reads them through ``ix_retry_claim`` instead of sorting every due row — on
SQLite, and on PostgreSQL in both the plan for the values at hand and the generic plan a
prepared statement falls back to. Migration 0013 builds the index on a database of 0012."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import event, insert, inspect, text
from sqlalchemy.engine import Connection as SqlConnection
from sqlmodel import Session, col, select

from imtui.domain.retry import Operation
from imtui.store.database import Database
from imtui.store.migrate import alembic_config
from imtui.store.models import (
    Account,
    Attempt,
    Connection,
    Order,
    RetryItem,
    ShipMethodMapping,
)
from imtui.store.queue import ClaimedItem, ClaimRequest, claim_due
from imtui.store.types import UTCDateTime

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)
SETTLE = timedelta(seconds=60)


def request(owner: str = "a:1:x", **changes: Any) -> ClaimRequest:
    fields: dict[str, Any] = {
        "owner": owner,
        "now": NOW,
        "lease": LEASE,
        "limit": 100,
        "for_update": False,
        "account_id": None,
        "settle": SETTLE,
    }
    return ClaimRequest(**(fields | changes))


def add_account(session: Session, name: str) -> tuple[int, int]:
    """An account and one WMS connection of it: their ids."""
    account = Account(name=name, created_at=NOW)
    session.add(account)
    session.flush()
    assert account.id is not None
    return account.id, add_connection(session, account.id, "WMS")


def add_connection(session: Session, account_id: int, name: str, *, paused: bool = False) -> int:
    wms = Connection(
        account_id=account_id,
        name=name,
        role="wms",
        platform="wms_3pl",
        base_url="https://wms.example",
        paused=paused,
        created_at=NOW,
        updated_at=NOW,
    )
    session.add(wms)
    session.flush()
    assert wms.id is not None
    return wms.id


def row(account: tuple[int, int], subject: int, due: timedelta, **columns: Any) -> dict[str, Any]:
    """A queue row for ``account`` due ``due`` from now (negative: overdue)."""
    return {
        "account_id": account[0],
        "connection_id": account[1],
        "operation": str(Operation.DELIVER_ORDER),
        "subject_id": subject,
        "subject_label": f"#{subject}",
        "state": "due",
        "attempts": 0,
        "consecutive_failures": 0,
        "next_attempt_at": NOW + due,
        "created_at": NOW,
        "updated_at": NOW,
    } | columns


def add_rows(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert the rows in order; their ids, in the same order."""
    ids = []
    for values in rows:
        item = RetryItem(**values)
        session.add(item)
        session.flush()
        assert item.id is not None
        ids.append(item.id)
    return ids


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


def test_a_claim_takes_the_oldest_due_rows_it_may_in_order(database: Database) -> None:
    with database.write() as session:
        mine = add_account(session, "Mine")
        paused = (mine[0], add_connection(session, mine[0], "Paused WMS", paused=True))
        other = add_account(session, "Other")
        hour, minute = timedelta(hours=1), timedelta(minutes=1)
        ids = add_rows(
            session,
            [
                row(mine, 1, -3 * hour),
                row(mine, 2, -2 * hour),
                row(mine, 3, -2 * hour),  # same time: by id
                row(mine, 4, hour),  # not due yet
                row(mine, 5, -5 * hour, state="held"),
                row(mine, 6, -4 * hour, lease_owner="b:2:y", lease_expires_at=NOW + minute),
                row(mine, 7, -hour, lease_owner="b:2:y", lease_expires_at=NOW - minute),
                row(mine, 8, -30 * minute, in_flight_since=NOW - SETTLE / 2),  # may be running
                row(mine, 9, -20 * minute, in_flight_since=NOW - 2 * SETTLE),  # settled
                row(paused, 10, -6 * hour),
                row(other, 11, -7 * hour),
                row(mine, 12, -8 * hour, operation=str(Operation.PUSH_TRACKING)),
                row(mine, 13, timedelta(0)),  # due this instant
            ],
        )
    expected = [ids[0], ids[1], ids[2], ids[6], ids[8], ids[12]]
    lane = {"account_id": mine[0]}
    with database.write() as session:
        first = claim_due(session, [Operation.DELIVER_ORDER], request(limit=4, **lane))
    with database.write() as session:
        rest = claim_due(session, [Operation.DELIVER_ORDER], request("c:3:z", **lane))
        none = claim_due(session, [Operation.DELIVER_ORDER], request("d:4:w", **lane))
    assert [item.id for item in first] == expected[:4]
    assert [item.id for item in rest] == expected[4:]
    assert none == []
    assert rest[0].in_flight_since is not None and rest[1].in_flight_since is None
    assert first[0] == ClaimedItem(
        id=ids[0],
        operation=str(Operation.DELIVER_ORDER),
        subject_id=1,
        connection_id=mine[1],
        next_attempt_at=NOW - 3 * hour,
        in_flight_since=None,
        idempotency_key=None,
    )
    assert leases(database, expected) == {
        **{item_id: ("a:1:x", NOW + LEASE) for item_id in expected[:4]},
        **{item_id: ("c:3:z", NOW + LEASE) for item_id in expected[4:]},
    }


def test_a_claim_without_an_account_or_for_named_rows(database: Database) -> None:
    """The engine's resend (``only_ids``) and a claim across accounts."""
    with database.write() as session:
        first, second = add_account(session, "First"), add_account(session, "Second")
        ids = add_rows(
            session,
            [row(first, 1, -timedelta(hours=1)), row(second, 2, -timedelta(hours=2))]
            + [row(first, n, -timedelta(minutes=n)) for n in range(3, 6)],
        )
    with database.write() as session:
        named = claim_due(session, [Operation.DELIVER_ORDER], request(only_ids=[ids[4], ids[0]]))
        anyone = claim_due(session, [Operation.DELIVER_ORDER], request("b:2:y"))
    assert [item.id for item in named] == [ids[0], ids[4]]
    assert [item.id for item in anyone] == [ids[1], ids[3], ids[2]]


def test_concurrent_claims_on_postgresql_skip_each_others_rows(postgres_url: str) -> None:
    database = Database(postgres_url)
    try:
        with database.write() as session:
            account = add_account(session, "Mine")
            ids = add_rows(session, [row(account, n, -timedelta(minutes=n)) for n in range(1, 9)])
        oldest_first = ids[::-1]
        lane = {"account_id": account[0], "for_update": True}
        with Session(database.write_engine) as one, Session(database.write_engine) as two:
            held = claim_due(one, [Operation.DELIVER_ORDER], request(limit=3, **lane))
            taken = claim_due(two, [Operation.DELIVER_ORDER], request("b:2:y", **lane))
            two.commit()
            one.commit()
        assert [item.id for item in held] == oldest_first[:3]
        assert [item.id for item in taken] == oldest_first[3:]
    finally:
        database.dispose()


def leases(database: Database, ids: list[int]) -> dict[int, tuple[str | None, datetime | None]]:
    with database.read() as session:
        rows = session.exec(
            select(RetryItem.id, RetryItem.lease_owner, RetryItem.lease_expires_at).where(
                col(RetryItem.id).in_(ids)
            )
        )
        return {item_id or 0: (owner, expires) for item_id, owner, expires in rows}


# -- the plans ----------------------------------------------------------------------------------


def fill_queue(database: Database, *, due: int) -> int:
    """``due`` due deliveries of one account, the same for a second account, a few hundred
    done rows: enough for the planners to choose as they would on a real backlog. Returns the
    first account's id."""
    with database.write() as session:
        mine, other = add_account(session, "Mine"), add_account(session, "Other")
        minute = timedelta(minutes=1)
        rows = [row(mine, n, -n * minute) for n in range(due)]
        rows += [row(other, due + n, -n * minute) for n in range(due)]
        rows += [row(mine, 2 * due + n, -n * minute, state="done") for n in range(500)]
        session.execute(insert(RetryItem), rows)
    return mine[0]


@contextmanager
def statements(database: Database) -> Iterator[list[tuple[str, Any]]]:
    """The statements sent through the write engine meanwhile, with their parameters."""
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    event.listen(database.write_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(database.write_engine, "before_cursor_execute", record)


def claim_statement(database: Database, account_id: int, *, for_update: bool) -> tuple[str, Any]:
    """The claim's one statement, as the engine's claim of a batch sends it (rolled back)."""
    lane = request(limit=128, account_id=account_id, for_update=for_update)
    with statements(database) as sent, Session(database.write_engine) as session:
        assert len(claim_due(session, [Operation.DELIVER_ORDER], lane)) == 128
        session.rollback()
    (claim,) = [(sql, params) for sql, params in sent if "retry_item" in sql]
    return claim


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


def assert_walks_the_index(plan: dict[str, Any]) -> None:
    nodes = list(plan_nodes(plan))
    kinds = [node["Node Type"] for node in nodes]
    assert "Sort" not in kinds and "Incremental Sort" not in kinds, kinds
    assert any(node.get("Index Name") == "ix_retry_claim" for node in nodes), kinds
    assert not any(
        node["Node Type"] == "Seq Scan" and node.get("Relation Name") == "retry_item"
        for node in nodes
    ), kinds


def explain(connection: SqlConnection, statement: str, parameters: Any) -> dict[str, Any]:
    rows = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters).all()
    document = rows[0][0]
    plan: dict[str, Any] = (json.loads(document) if isinstance(document, str) else document)[0]
    return plan["Plan"]


def numbered(statement: str, parameters: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The statement with ``$1``… for its named parameters (for PREPARE), and the values."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    sql = re.sub(r"%\((\w+)\)s", number, statement)
    return sql, {name: parameters[name] for name in names}


def literal(connection: SqlConnection, value: Any) -> str:
    """A value written into the statement (EXPLAIN EXECUTE takes no parameters)."""
    from psycopg import sql

    return sql.Literal(value).as_string(connection.connection.dbapi_connection)


def test_the_claim_walks_its_index_on_postgresql(postgres_url: str) -> None:
    database = Database(postgres_url)
    try:
        account_id = fill_queue(database, due=20_000)
        with database.write_engine.begin() as connection:
            connection.execute(text("ANALYZE retry_item"))
        statement, parameters = claim_statement(database, account_id, for_update=True)
        assert "FOR UPDATE OF retry_item SKIP LOCKED" in statement
        assert "RETURNING" in statement
        with database.write_engine.begin() as connection:
            assert_walks_the_index(explain(connection, statement, parameters))
            # What a statement psycopg has prepared may run with after five executions.
            sql, values = numbered(statement, parameters)
            connection.exec_driver_sql(f"PREPARE claim AS {sql}")
            connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
            types = connection.exec_driver_sql(
                "SELECT parameter_types::text[] FROM pg_prepared_statements WHERE name = 'claim'"
            ).scalar_one()
            arguments = ", ".join(
                f"{literal(connection, value)}::{kind}"
                for value, kind in zip(values.values(), types, strict=True)
            )
            generic = explain(connection, f"EXECUTE claim({arguments})", None)
            assert_walks_the_index(generic)
            connection.exec_driver_sql("DEALLOCATE claim")
    finally:
        database.dispose()


def test_the_claim_walks_its_index_on_sqlite(db: Database) -> None:
    account_id = fill_queue(db, due=2_000)
    statement, parameters = claim_statement(db, account_id, for_update=False)
    with db.write_engine.connect() as connection:
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
        connection.rollback()
    details = [detail for *_, detail in plan]
    assert any("ix_retry_claim" in detail for detail in details), details
    assert not any("TEMP B-TREE" in detail for detail in details), details


# -- the migration ------------------------------------------------------------------------------


def test_migration_0013_adds_the_claim_index_to_a_database_of_0012(db_url: str) -> None:
    """Up from 0012 with rows in the queue, down, and up again: the index and its predicate."""
    database = Database(db_url, migrate=False)
    try:
        migrate(database, "0012")
        assert "ix_retry_claim" not in retry_indexes(database)
        account_id = fill_queue(database, due=50)
        migrate(database, "head")
        index = retry_indexes(database)["ix_retry_claim"]
        assert index["column_names"] == ["account_id", "operation", "next_attempt_at", "id"]
        where = str(index["dialect_options"][f"{database.read_engine.dialect.name}_where"])
        assert "state" in where and "'due'" in where
        with database.write() as session:
            lane = request(account_id=account_id, limit=10, for_update=not database.is_sqlite)
            assert len(claim_due(session, [Operation.DELIVER_ORDER], lane)) == 10
        migrate(database, "0012", down=True)
        assert "ix_retry_claim" not in retry_indexes(database)
        migrate(database, "head")
        assert "ix_retry_claim" in retry_indexes(database)
    finally:
        database.dispose()


def migrate(database: Database, revision: str, *, down: bool = False) -> None:
    config = alembic_config(database)
    with database.write_engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def retry_indexes(database: Database) -> dict[str, Any]:
    with database.read_engine.connect() as connection:
        return {index["name"]: index for index in inspect(connection).get_indexes("retry_item")}


def test_migration_0014_proves_the_mappings_an_order_already_reached_the_wms_through(
    db_url: str,
) -> None:
    """Up from 0013: a mapping is proven at the last order the WMS created through it since
    its last change; not by an order it only refused, nor by one created before the mapping
    changed (then it carried another pair), nor with no order at all."""
    database = Database(db_url, migrate=False)
    try:
        migrate(database, "0013")
        with database.write() as session:
            account = add_account(session, "Acme")
            attempts = {  # method → (attempt time, ok, outcome)
                "CREATED": (NOW + timedelta(hours=2), True, "sent"),
                "REFUSED": (NOW + timedelta(hours=2), False, "needs_person"),
                "CHANGED_SINCE": (NOW - timedelta(hours=2), True, "sent"),
            }
            for number, (code, (at, ok, outcome)) in enumerate(attempts.items()):
                order = Order(
                    account_id=account[0],
                    source_connection_id=account[1],
                    source_order_id=str(number),
                    number=f"#{number}",
                    reference=f"R-{number}",
                    ship_method_code=code,
                    created_at=NOW,
                    updated_at=NOW,
                )
                session.add(order)
                session.flush()
                [item_id] = add_rows(session, [row(account, order.id or 0, timedelta(0))])
                session.add(
                    Attempt(
                        retry_item_id=item_id,
                        operation=str(Operation.DELIVER_ORDER),
                        subject_id=order.id or 0,
                        at=at,
                        ok=ok,
                        outcome=outcome,
                        message="",
                        worker="w",
                    )
                )
            for code in (*attempts, "NO_ORDERS"):  # no delivered_at in 0013
                session.execute(
                    text(
                        "INSERT INTO ship_method_mapping (account_id, source_code, carrier, mode,"
                        " billing_code, created_at, updated_at)"
                        " VALUES (:account, :code, 'UPS', '03', 'Prepaid', :now, :now)"
                    ),
                    {"account": account[0], "code": code, "now": stored(NOW, database)},
                )
        migrate(database, "head")
        with database.read() as session:
            proven = {
                m.source_code: m.delivered_at for m in session.exec(select(ShipMethodMapping))
            }
        assert proven == {
            "CREATED": NOW + timedelta(hours=2),
            "REFUSED": None,
            "CHANGED_SINCE": None,
            "NO_ORDERS": None,
        }
        migrate(database, "0013", down=True)
        migrate(database, "head")
    finally:
        database.dispose()


def stored(when: datetime, database: Database) -> Any:
    """A time as the store keeps it (UTCDateTime's text on SQLite)."""
    return UTCDateTime().process_bind_param(when, database.write_engine.dialect)
