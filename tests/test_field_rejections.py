"""Which field a 400 is about comes from the remote's structured error only: the property names
of the WMS's ErrorResponse (whatever its code), Shopify's ``errors`` field names — never a
word in a proxy's free text. And a carrier refused as "DoesNotExist" holds the order for its
ship method, so mapping the method releases it, end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from imtui.cli import cli
from imtui.connectors.wms_3pl import ThreePLWarehouse
from imtui.domain.alerts import AlertState
from imtui.domain.failures import AlertKind, ConnectorError, Failure, FailureClass
from imtui.domain.orders import OrderStatus
from imtui.domain.records import Address, OrderLine, WmsOrderRequest
from tests.conftest import add_shop_order, map_ship_method
from tests.hostile_remote import HostileRemote, Reply, json_reply, text_reply
from tests.test_engine_rules import alerts, order_by_number

TOKEN = {
    ("POST", "/AuthServer/api/Token"): json_reply(
        200, {"access_token": "tok123456", "expires_in": 3600}
    )
}


def order_request() -> WmsOrderRequest:
    return WmsOrderRequest(
        reference="ACME-1001",
        customer_id="1",
        facility_id="1",
        carrier="ACME",
        mode="EXP",
        billing_code="Prepaid",
        ship_to=Address(name="Ada", address1="1 Main St", city="Austin", zip="78701", country="US"),
        lines=(OrderLine(sku="TENT-XL", quantity=1),),
    )


async def rejection(reply: Reply) -> Failure:
    """The failure of one order POST the remote answers with ``reply``."""
    with HostileRemote({**TOKEN, ("POST", "/orders"): reply}) as remote:
        wms = ThreePLWarehouse(remote.url, "client", "secret-abcdef", "login", "1", "1")
        try:
            with pytest.raises(ConnectorError) as caught:
                await wms.create_order(order_request())
        finally:
            await wms.aclose()
    return caught.value.failure


def error_response(code: str, *properties: tuple[str, str], hint: str = "") -> Reply:
    return json_reply(
        400,
        {
            "ErrorCode": code,
            "Hint": hint or f"{code}: the request refers to something the WMS does not have",
            "Properties": [{"Name": name, "Value": value} for name, value in properties],
        },
    )


# --- 4. free text names no field -------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/html", "<html><body><h1>Bad Request: invalid address header</h1></body></html>"),
        ("text/plain", "Bad Request: invalid address header"),
        ("text/plain", "Bad Request: unknown sku 'TENT-XL' in carrier mode"),
        ("application/json", '"the address is wrong"'),
    ],
    ids=["html", "plain", "plain-sku-and-carrier", "json-string"],
)
async def test_a_400_in_free_text_is_a_plain_rejection_with_the_remote_words(
    content_type: str, body: str
) -> None:
    failure = await rejection(text_reply(400, body, content_type))
    assert failure.failure_class is FailureClass.NEEDS_PERSON
    assert failure.kind is AlertKind.VALIDATION
    assert failure.sku is None and failure.field is None
    assert "Bad Request" in failure.message or "address is wrong" in failure.message


async def test_a_structured_error_about_the_address_is_still_an_address_rejection() -> None:
    failure = await rejection(
        error_response("AddressValidationFailed", hint="The ship-to address could not be found")
    )
    assert failure.kind is AlertKind.ADDRESS_REJECTED
    shopify_style = await rejection(
        json_reply(422, {"errors": {"shipping_address": ["zip is not valid"]}})
    )
    assert shopify_style.kind is AlertKind.ADDRESS_REJECTED
    assert shopify_style.field == "shipping_address"


# --- 5. the property names the field, whatever the code ---------------------------------------


@pytest.mark.parametrize("code", ["DoesNotExist", "NotFound", "Invalid", ""])
async def test_a_sku_property_makes_an_unknown_sku_whatever_the_code(code: str) -> None:
    failure = await rejection(error_response(code, ("Sku", "TENT-XL")))
    assert failure.failure_class is FailureClass.NEEDS_PERSON
    assert failure.kind is AlertKind.UNKNOWN_SKU
    assert failure.sku == "TENT-XL"


async def test_property_names_are_read_in_any_case() -> None:
    reply = json_reply(
        400,
        {"errorCode": "DoesNotExist", "properties": [{"name": "SKU", "value": "TENT-XL"}]},
    )
    failure = await rejection(reply)
    assert failure.kind is AlertKind.UNKNOWN_SKU and failure.sku == "TENT-XL"


async def test_a_quantity_error_that_names_its_sku_is_not_an_unknown_sku() -> None:
    failure = await rejection(error_response("InvalidQty", ("Sku", "TENT-XL")))
    assert failure.kind is AlertKind.VALIDATION


@pytest.mark.parametrize("name", ["Carrier", "Mode", "ShipMethod", "RoutingInfo.Carrier"])
@pytest.mark.parametrize("code", ["DoesNotExist", "NotFound", ""])
async def test_a_carrier_property_makes_an_unknown_carrier_whatever_the_code(
    name: str, code: str
) -> None:
    failure = await rejection(error_response(code, (name, "ACME")))
    assert failure.failure_class is FailureClass.NEEDS_PERSON
    assert failure.kind is AlertKind.UNKNOWN_CARRIER
    assert failure.field == name


# --- 5. end to end: held for its ship method, released by the mapping -------------------------


async def test_a_carrier_that_does_not_exist_holds_the_order_until_the_method_is_mapped(
    db: Any, sandbox: Any, world: Any, engine: Any, clock: Any
) -> None:
    sandbox.wms.missing_carriers = {"ACME"}
    map_ship_method(db, clock, "DHL_EXPRESS", "ACME", "EXP")
    add_shop_order(sandbox, 1005, method="DHL_EXPRESS")
    await engine.run_once()

    order = order_by_number(db, "#1005")
    assert order.status == OrderStatus.HELD
    assert order.hold_reason == AlertKind.UNKNOWN_CARRIER
    (alert,) = alerts(db, kind=AlertKind.UNKNOWN_CARRIER)
    assert "does not exist" in alert.message and alert.state == AlertState.OPEN
    await engine.run_once()
    assert sandbox.wms.posts(order.reference) == 1  # held: not sent again

    assert map_ship_method(db, clock, "DHL_EXPRESS", "UPS", "92") == 1
    await engine.run_once()
    assert order_by_number(db, "#1005").status == OrderStatus.DELIVERED
    assert sandbox.wms.created(order.reference) == 1
    (alert,) = alerts(db, kind=AlertKind.UNKNOWN_CARRIER)
    assert alert.state == AlertState.RESOLVED


def run_cli(db_path: str, *args: str, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(cli, ["--db", db_path, *args], env=env)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def test_mapping_set_releases_an_order_the_wms_refused_for_its_carrier(
    tmp_path: Path, sandbox: Any
) -> None:
    db_path = str(tmp_path / "imtui.db")
    sb = sandbox
    sb.wms.missing_carriers = {"ACME"}
    creds = sb.wms_credentials
    env = {"E2E_SHOP_TOKEN": sb.shop_token, "E2E_WMS_SECRET": creds["client_secret"]}
    add_shop_order(sb, 1001, method="DHL_EXPRESS")
    run_cli(db_path, "account", "add", "acme")
    run_cli(
        db_path, "connection", "add", "--name", "shop", "--platform", "shopify",
        "--url", sb.shop_url, "--credential", "access_token=@E2E_SHOP_TOKEN",
        "--setting", "read_timeout=2", env=env,
    )  # fmt: skip
    run_cli(
        db_path, "connection", "add", "--name", "wms", "--platform", "wms_3pl",
        "--url", sb.wms_url, "--credential", f"client_id={creds['client_id']}",
        "--credential", "client_secret=@E2E_WMS_SECRET",
        "--credential", f"user_login_id={creds['user_login_id']}",
        "--setting", "customer_id=1", "--setting", "facility_id=1", "--setting", "read_timeout=2",
        env=env,
    )  # fmt: skip
    run_cli(db_path, "mapping", "set", "DHL_EXPRESS", "--carrier", "ACME", "--mode", "EXP")

    run_cli(db_path, "worker", "--once")
    (order,) = json.loads(run_cli(db_path, "orders", "list", "--json").stdout)
    assert order["status"] == "held"
    assert "held (unknown_carrier)" in run_cli(db_path, "orders", "show", "#1001").stdout
    assert sb.wms.posts(order["reference"]) == 1

    mapped = run_cli(db_path, "mapping", "set", "DHL_EXPRESS", "--carrier", "UPS", "--mode", "92")
    assert "released 1 held order" in mapped.stdout
    run_cli(db_path, "worker", "--once")
    (order,) = json.loads(run_cli(db_path, "orders", "list", "--json").stdout)
    assert order["status"] == "delivered"
    assert sb.wms.created(order["reference"]) == 1
