"""Canceling an order in the WMS (B11) against the sandbox, as the 3PL API asks: read the
order's ETag, then POST its canceler with If-Match."""

from __future__ import annotations

import httpx
import pytest

from imtui.connectors.wms_3pl import ThreePLWarehouse
from imtui.domain.failures import ConnectorError, FailureClass
from imtui.sandbox import Sandbox
from tests.test_connectors_wms import clock, order_request, sb, wms  # noqa: F401 - fixtures


async def test_an_open_order_is_canceled_once_and_a_second_cancel_is_a_success(
    sb: Sandbox,  # noqa: F811
    wms: ThreePLWarehouse,  # noqa: F811
) -> None:
    created = await wms.create_order(order_request("SHOP1-2001"))
    canceled = await wms.cancel_order(created.wms_id, "cancelled in the shop")
    assert canceled.is_cancelled and canceled.is_closed and not canceled.shipped
    assert sb.wms.cancels("SHOP1-2001") == 1
    stored = sb.wms.orders["SHOP1-2001"]["readOnly"]
    assert stored["status"] == 2 and stored["cancelReason"] == "cancelled in the shop"

    again = await wms.cancel_order(created.wms_id, "cancelled in the shop")  # a retry
    assert again.is_cancelled
    assert sb.wms.cancels("SHOP1-2001") == 1
    assert sb.requests["wms.cancel_order"] == 1  # the read saw it done: no second POST


@pytest.mark.parametrize(("state", "words"), [("picked", "is picked"), ("shipped", "is closed")])
async def test_a_picked_or_shipped_order_is_refused_in_the_wms_words_for_a_person(
    sb: Sandbox,  # noqa: F811
    wms: ThreePLWarehouse,  # noqa: F811
    state: str,
    words: str,
) -> None:
    created = await wms.create_order(order_request("SHOP1-2002"))
    if state == "picked":
        sb.wms.pick("SHOP1-2002")
    else:
        sb.wms.ship("SHOP1-2002", tracking="1Z999")
    with pytest.raises(ConnectorError) as refused:
        await wms.cancel_order(created.wms_id, "cancelled in the shop")
    failure = refused.value.failure
    assert failure.failure_class is FailureClass.NEEDS_PERSON
    assert f"Order {created.wms_id} {words} and cannot be canceled." in failure.message
    assert sb.wms.cancels("SHOP1-2002") == 0


async def test_an_order_changed_between_read_and_cancel_is_read_again_once(
    sb: Sandbox,  # noqa: F811
    wms: ThreePLWarehouse,  # noqa: F811
) -> None:
    created = await wms.create_order(order_request("SHOP1-2003"))
    sb.wms.edit_before_next_cancel("SHOP1-2003")
    canceled = await wms.cancel_order(created.wms_id, "cancelled in the shop")
    assert canceled.is_cancelled
    assert sb.requests["wms.cancel_order"] == 2  # 412, then the fresh ETag
    assert sb.wms.cancels("SHOP1-2003") == 1


async def test_the_sandbox_refuses_a_cancel_without_if_match_or_with_a_stale_one(
    sb: Sandbox,  # noqa: F811
    wms: ThreePLWarehouse,  # noqa: F811
) -> None:
    created = await wms.create_order(order_request("SHOP1-2004"))
    token = (await wms._bearer()).strip()
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=sb.wms_url, headers=headers) as raw:
        url = f"/orders/{created.wms_id}/canceler"
        missing = await raw.post(url, json={"reason": "x"})
        assert missing.status_code == 400 and missing.json()["ErrorCode"] == "IfMatchRequired"
        stale = await raw.post(url, json={"reason": "x"}, headers={"If-Match": 'W/"0-99"'})
        assert stale.status_code == 412
        unknown = await raw.post("/orders/999999/canceler", json={"reason": "x"})
        assert unknown.status_code == 404
    assert sb.wms.cancels("SHOP1-2004") == 0


async def test_a_wms_order_id_that_is_not_a_number_is_refused_before_any_request(
    sb: Sandbox,  # noqa: F811
    wms: ThreePLWarehouse,  # noqa: F811
) -> None:
    with pytest.raises(ConnectorError) as refused:
        await wms.cancel_order("12/../../inventory", "x")
    assert refused.value.failure.failure_class is FailureClass.NEEDS_PERSON
    assert sb.requests["wms.get_order"] == 0
