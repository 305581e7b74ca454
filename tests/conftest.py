"""Shared fixtures: a fresh database (SQLite, or PostgreSQL when IMTUI_TEST_POSTGRES_URL is set),
the loopback sandbox, an injected clock, and a wired-up account ("world")."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from imtui.domain.records import Address, OrderLine, WmsOrderRequest
from imtui.engine import account_actions, action_rules, mapping_actions
from imtui.engine.clock import FakeClock
from imtui.engine.runtime import Engine, EngineSettings
from imtui.store.database import Database
from imtui.store.models import Connection

POSTGRES_URL = os.environ.get("IMTUI_TEST_POSTGRES_URL", "")
ACTOR = "tester"


def postgres_schema_url(base: str) -> Iterator[str]:
    """A throw-away schema on the test server, so tests never see each other's rows."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    base = base.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(autouse=True, scope="session")
def secret_key_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One key for the whole session, in a temporary file: no test seals with, or writes, the
    user's own key in ~/.config (subprocesses inherit the variable)."""
    from cryptography.fernet import Fernet

    path = tmp_path_factory.mktemp("secret") / "secret.key"
    path.write_bytes(Fernet.generate_key() + b"\n")
    path.chmod(0o600)
    names = ("IMTUI_SECRET_KEY", "IMTUI_SECRET_KEY_FILE")
    saved = {name: os.environ.pop(name, None) for name in names}  # the key variable would win
    os.environ["IMTUI_SECRET_KEY_FILE"] = str(path)
    yield path
    os.environ.pop("IMTUI_SECRET_KEY_FILE", None)
    os.environ.update({name: value for name, value in saved.items() if value is not None})


@pytest.fixture
def postgres_url() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("IMTUI_TEST_POSTGRES_URL is not set: no PostgreSQL server to test against")
    yield from postgres_schema_url(POSTGRES_URL)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Runs the test on SQLite and again on PostgreSQL (skipped, with the reason, without it)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'imtui.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("IMTUI_TEST_POSTGRES_URL is not set: no PostgreSQL server to test against")
    yield from postgres_schema_url(POSTGRES_URL)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'imtui.db'}")
    yield database
    database.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox() -> Iterator[object]:
    from imtui.sandbox import Sandbox

    with Sandbox(seed=1) as sb:
        sb.hang_seconds = 3.0
        yield sb


@dataclass
class World:
    """One merchant account wired to the sandbox's shop and WMS."""

    account_id: int
    shop_id: int
    wms_id: int


STANDARD_METHODS = {
    "UPS_GROUND": ("UPS", "03"),
    "FEDEX_2DAY": ("FedEx", "FEDEX_GROUND"),
}


def wire_world(db: Database, sandbox: object, clock: FakeClock, *, poll: int = 300) -> World:
    sb = sandbox
    now = clock.now()
    with db.write() as session:
        account = account_actions.add_account(
            session, name="Acme", kind="merchant", actor=ACTOR, now=now
        )
        wms = account_actions.add_connection(
            session,
            account=account,
            name="3PL",
            platform="wms_3pl",
            base_url=sb.wms_url,  # type: ignore[attr-defined]
            credentials=dict(sb.wms_credentials),  # type: ignore[attr-defined]
            settings={"customer_id": "1", "facility_id": "1", "read_timeout": 2},
            poll_interval_s=poll,
            actor=ACTOR,
            now=now,
        )
        shop = account_actions.add_connection(
            session,
            account=account,
            name="Shop",
            platform="shopify",
            base_url=sb.shop_url,  # type: ignore[attr-defined]
            credentials={"access_token": sb.shop_token},  # type: ignore[attr-defined]
            settings={"reference_prefix": "ACME", "read_timeout": 2},
            poll_interval_s=poll,
            actor=ACTOR,
            now=now,
        )
        for code, (carrier, mode) in STANDARD_METHODS.items():
            mapping_actions.set_mapping(
                session,
                account=account,
                source_code=code,
                carrier=carrier,
                mode=mode,
                actor=ACTOR,
                now=now,
            )
        return World(account_id=account.id, shop_id=shop.id, wms_id=wms.id)  # type: ignore[arg-type]


def order_request(reference: str = "ACME-1001") -> WmsOrderRequest:
    """A valid order for the WMS, as the engine would ask for it."""
    return WmsOrderRequest(
        reference=reference,
        customer_id="1",
        facility_id="1",
        carrier="UPS",
        mode="03",
        billing_code="Prepaid",
        ship_to=Address(name="Ada", address1="1 Main St", city="Austin", zip="78701", country="US"),
        lines=(OrderLine(sku="SKU-1", quantity=1),),
    )


def set_wms_deadline(db: Database, wms_id: int, seconds: float) -> None:
    """Give the WMS connection a whole-request deadline of ``seconds`` (the setting)."""
    with db.write() as session:
        connection = session.get(Connection, wms_id)
        assert connection is not None
        connection.settings = {**connection.settings, "deadline": seconds}
        session.add(connection)


def map_ship_method(db: Database, clock: FakeClock, code: str, carrier: str, mode: str) -> int:
    """Map ship method ``code`` to ``carrier`` and ``mode`` on the one account; how many held
    orders that released."""
    with db.write() as session:
        account = action_rules.account_for(session, None)
        _, released = mapping_actions.set_mapping(
            session,
            account=account,
            source_code=code,
            carrier=carrier,
            mode=mode,
            actor=ACTOR,
            now=clock.now(),
        )
    return released


@pytest.fixture
def world(db: Database, sandbox: object, clock: FakeClock) -> World:
    return wire_world(db, sandbox, clock)


@pytest.fixture
async def engine(db: Database, clock: FakeClock) -> AsyncIterator[Engine]:
    eng = Engine(db, clock=clock, settings=EngineSettings(concurrency=20))
    yield eng
    await eng.aclose()


def add_shop_order(
    sandbox: object,
    number: int,
    *,
    sku: str = "SKU-1",
    method: str = "UPS_GROUND",
    address: dict[str, str] | None = None,
) -> dict:
    """Put order ``#number`` in the sandbox shop: a valid random address unless overridden."""
    import random

    from imtui.sandbox.seed import make_order, random_address

    order = make_order(number - 1000, sku=sku, ship_method=method)
    if address is not None:
        order["shipping_address"] = {**random_address(random.Random(number)), **address}
    return sandbox.shop.add_order(order)  # type: ignore[attr-defined]


@pytest.fixture
def smtp() -> Iterator[object]:
    """A real SMTP server on loopback (aiosmtpd), for the email tests."""
    from tests.mail_server import mail_server

    with mail_server() as server:
        yield server


def dump(db_path: str) -> str:
    """The whole SQLite database as SQL: equal dumps mean nothing changed."""
    connection = sqlite3.connect(db_path)
    try:
        return "\n".join(connection.iterdump())
    finally:
        connection.close()
