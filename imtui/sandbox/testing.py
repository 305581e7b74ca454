"""Pytest helpers for tests that talk to the sandbox over real loopback HTTP.

Register the fixture from a root conftest with ``pytest_plugins = ["imtui.sandbox.testing"]``,
or import the plain helpers directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from imtui.sandbox.server import Sandbox


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A fresh sandbox (seed 7) per test, stopped afterwards."""
    with Sandbox(seed=7) as running:
        yield running


def wms_token(sandbox: Sandbox) -> str:
    """A bearer token obtained the way the connector does."""
    credentials = sandbox.wms_credentials
    response = httpx.post(
        f"{sandbox.wms_url}/AuthServer/api/Token",
        auth=(credentials["client_id"], credentials["client_secret"]),
        json={"grant_type": "client_credentials", "user_login_id": credentials["user_login_id"]},
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def wms_order_body(
    reference: str,
    *,
    sku: str = "SKU-1",
    qty: int = 1,
    carrier: str = "UPS",
    mode: str = "92",
    **ship_to: str,
) -> dict[str, Any]:
    """A valid POST /orders body; ``ship_to`` keywords override address fields."""
    address = {
        "name": "Ada Okafor",
        "companyName": "",
        "address1": "12 Main St",
        "address2": "",
        "city": "Austin",
        "state": "TX",
        "zip": "78701",
        "country": "US",
        "phoneNumber": "",
    }
    address.update(ship_to)
    return {
        "customerIdentifier": {"id": 1},
        "facilityIdentifier": {"id": 1},
        "referenceNum": reference,
        "routingInfo": {"carrier": carrier, "mode": mode, "billingCode": "Prepaid"},
        "shipTo": address,
        "orderItems": [{"itemIdentifier": {"sku": sku}, "qty": qty}],
    }
