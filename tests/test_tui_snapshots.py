"""Each pane pinned as a picture at 80x24 (one pane on screen) and 160x48 (all three, the named
one focused), from fixed data and a fixed clock. Update with ``pytest --snapshot-update`` after
a deliberate change, and look at the SVGs before committing them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from imtui.engine import account_actions
from imtui.engine.clock import FakeClock
from imtui.engine.runtime import Engine
from imtui.store.database import Database
from imtui.store.models import Alert, Attempt, Connection, Order, RetryItem
from tests.tui_support import make_app, settle

KINDS = [
    ("unmapped_ship_method", True, "Ship method 'SAME_DAY_COURIER' has no mapping"),
    ("remote_error", False, "HTTP 503: Service Unavailable — maintenance window"),
    ("incomplete_address", True, "ship-to address is missing: address1"),
    ("unknown_sku", True, 'Sku "SKU-999" does not exist for customer 1'),
]


def seed(db: Database, clock: FakeClock) -> None:
    now = clock.now()
    with db.write() as session:
        account = account_actions.add_account(
            session, name="Acme Outdoors", kind="merchant", actor="t", now=now
        )
        times = {"created_at": now, "updated_at": now}
        shop = Connection(account_id=account.id, name="Shop", role="source", platform="shopify",
                          base_url="http://shop.example", **times)  # fmt: skip
        wms = Connection(account_id=account.id, name="3PL", role="wms", platform="wms_3pl",
                         base_url="http://wms.example", **times)  # fmt: skip
        session.add(shop)
        session.add(wms)
        session.flush()
        statuses = ["delivered", "held", "queued", "shipped", "fulfilled", "skipped"]
        for n in range(1, 61):
            status = statuses[n % len(statuses)]
            session.add(
                Order(
                    account_id=account.id, source_connection_id=shop.id,
                    source_order_id=str(n), number=f"#{1000 + n}", reference=f"ACME-{1000 + n}",
                    ship_method_code="SAME_DAY_COURIER" if status == "held" else "UPS_GROUND",
                    ship_name=f"Customer {n}", ship_city="Austin", ship_country="US",
                    status=status, hold_reason="unmapped_ship_method" if status == "held" else None,
                    wms_order_id=str(5000 + n) if status in ("delivered", "shipped") else None,
                    created_at=now - timedelta(minutes=120 - n),
                    updated_at=now - timedelta(minutes=60 - n // 2),
                )
            )  # fmt: skip
        session.flush()
        for n in range(1, 41):
            state = ["due", "held", "skipped", "due"][n % 4]
            item = RetryItem(
                account_id=account.id, connection_id=wms.id, operation="deliver_order",
                subject_id=n, subject_label=f"#{1000 + n}", state=state, attempts=n % 7,
                consecutive_failures=n % 7, last_error="HTTP 503: Service Unavailable",
                last_failure_class="transient",
                next_attempt_at=now + timedelta(minutes=n * 3) if state == "due" else None,
                deadline_at=now + timedelta(days=15 - n % 10), created_at=now, updated_at=now,
            )  # fmt: skip
            session.add(item)
            session.flush()
            session.add(Attempt(retry_item_id=item.id, operation="deliver_order", subject_id=n,
                                at=now, ok=False, outcome="transient", http_status=503,
                                message="Service Unavailable"))  # fmt: skip
        for n in range(1, 31):
            kind, person, message = KINDS[n % len(KINDS)]
            session.add(
                Alert(
                    account_id=account.id, connection_id=wms.id, kind=kind,
                    scope="record", fingerprint=f"f{n}", state="open" if n % 5 else "resolved",
                    needs_person=person, message=message, order_id=n,
                    order_number=f"#{1000 + n}", count=n % 4 + 1,
                    first_seen=now - timedelta(minutes=n * 7), last_seen=now,
                    resolved_at=None if n % 5 else now, resolved_by=None if n % 5 else "auto",
                )
            )  # fmt: skip


@pytest.fixture
def snapshot_app(tmp_path: Path) -> Any:
    clock = FakeClock()
    db = Database(f"sqlite:///{tmp_path / 'snap.db'}")
    seed(db, clock)
    engines: list[Engine] = []

    def build() -> Any:
        engine = Engine(db, clock=clock)
        engines.append(engine)
        return make_app(db, engine, live=False)

    yield build
    db.dispose()


PANES = {"alerts": "1", "orders": "2", "queue": "3"}


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
@pytest.mark.parametrize("pane", list(PANES))
def test_pane_snapshot(
    snap_compare: Any, snapshot_app: Any, pane: str, size: tuple[int, int]
) -> None:
    async def ready(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press(PANES[pane])
        await pilot.pause(0.1)

    assert snap_compare(snapshot_app(), terminal_size=size, run_before=ready)
