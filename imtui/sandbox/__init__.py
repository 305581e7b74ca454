"""Loopback fakes of the systems imtui talks to: an Extensiv-style WMS and a Shopify-style shop.

Both follow docs/sandbox-contract.md and share one fault plan, so tests and the demo can make
either side fail in the ways real systems do (500s, 429s, hangs, dropped connections, orders
created but unacknowledged) and then count exactly what arrived.
"""

from imtui.sandbox.faults import FaultPlan, FaultRule, fault_profile
from imtui.sandbox.seed import make_order, order_stream, realistic_orders
from imtui.sandbox.server import Sandbox, serve_forever

__all__ = [
    "FaultPlan",
    "FaultRule",
    "Sandbox",
    "fault_profile",
    "make_order",
    "order_stream",
    "realistic_orders",
    "serve_forever",
]
