"""A stock push whose answer is lost is applied once: every retry of the same push carries the
same idempotency key, kept on its retry row (Shopify's ``@idempotent``)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from imtui.domain.retry import Operation, RetryState
from imtui.engine.sync import push_key
from imtui.sandbox import FaultRule
from imtui.store.models import InventoryLevel, RetryItem


def stock_row(db, sku: str) -> tuple[RetryItem, InventoryLevel]:  # type: ignore[no-untyped-def]
    with db.read() as session:
        level = session.exec(select(InventoryLevel).where(InventoryLevel.sku == sku)).one()
        item = session.exec(
            select(RetryItem).where(
                RetryItem.operation == Operation.PUSH_INVENTORY,
                RetryItem.subject_id == level.id,
            )
        ).one()
        return item, level


async def test_a_stock_push_whose_answer_was_lost_is_applied_once(
    db, sandbox, world, engine, clock
):
    sandbox.wms.set_stock("SKU-3", 7, on_hand=9)
    lost = FaultRule(target="shop.inventory", fault="commit_then_drop", times=1, reference="SKU-3")
    sandbox.faults.add(lost)
    await engine.run_once()
    assert lost.fired == 1
    assert sandbox.shop.inventory("SKU-3") == 7  # the shop applied it; imtui did not hear
    item, level = stock_row(db, "SKU-3")
    assert item.state == RetryState.DUE and item.consecutive_failures == 1
    first_key = item.idempotency_key
    assert first_key == push_key(item.id, None, 7)

    clock.advance(timedelta(minutes=5))
    await engine.run_once()
    item, level = stock_row(db, "SKU-3")
    assert item.state == RetryState.DONE and level.pushed_available == 7
    assert item.idempotency_key == first_key  # the retry was the same push, by name
    assert sandbox.shop.inventory_sets["SKU-3"] == 1  # applied once
    sent = [k for k in sandbox.shop.idempotency_keys() if k.startswith(f"imtui-stock-{item.id}-")]
    assert sent and all(key.startswith(first_key) for key in sent)

    sandbox.wms.set_stock("SKU-3", 4, on_hand=9)  # a new figure is a new push
    clock.advance(timedelta(minutes=5))
    await engine.run_once()
    item, _ = stock_row(db, "SKU-3")
    assert item.idempotency_key == push_key(item.id, 7, 4) != first_key
    assert sandbox.shop.inventory("SKU-3") == 4
