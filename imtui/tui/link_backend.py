"""The backend of a browser session opened from an emailed link: one alert's fix and nothing else.

A :class:`LinkBackend` is a :class:`~imtui.tui.backend.Backend` turned into a whitelist. Only
the methods the fix screens need answer (:data:`LINK_METHODS`), and each checks what it is asked
about against the one alert the link grants: its account, its ship method, its order, and that
the alert is still open with that fix. Every other public attribute of ``Backend`` — those it
has now and any added to it later — is refused (:meth:`LinkBackend.__getattribute__`), so a new
dashboard action is never reachable from a link by default. No engine is built or started here:
the workers send what a fix releases, on their next cycle.
"""

from __future__ import annotations

import inspect
from typing import Any, NoReturn

from imtui.domain.alerts import AlertState
from imtui.domain.people import Access, Role
from imtui.domain.text import plural
from imtui.store import alert_details
from imtui.store.database import Database
from imtui.store.rows import AccountRow, AlertDetail, MappingRow, OrderDetail
from imtui.tui.backend import ActionReport, Backend
from imtui.tui.filters import OrderQuery
from imtui.tui.fixes import FixForm, fix_form
from imtui.tui.messages import Refused

LINK_METHODS = frozenset(
    {
        "alert_detail",
        "accounts",
        "mappings",
        "count_orders",
        "set_mapping",
        "order_detail",
        "edit_order",
        "address_problems",
        "wake",
        "close",
        "now",
        "clock",
    }
)
"""The public attributes of :class:`Backend` a link may use; each one is checked below."""


def link_refusal(alert_id: int) -> str:
    return f"not through an emailed link: this page fixes alert {alert_id} only"


class LinkBackend(Backend):
    """What one emailed link may read and do, in the name of ``actor`` (the audit records it
    exactly, e.g. "dana@acme.example via emailed link")."""

    def __init__(self, database: Database, *, alert_id: int, actor: str) -> None:
        """Raises Refused when the alert does not exist (the link names no fix then)."""
        if not actor.strip():
            # Backend would take the process's login instead: the audit must name the link.
            raise ValueError("a link acts in someone's name: actor is required")
        self.alert_id = alert_id
        super().__init__(database, actor=actor)
        detail = self._read(alert_details.alert_detail, alert_id)
        if detail is None:
            raise Refused(f"alert {alert_id} is gone (deleted, or never existed)")
        self.account_id = detail.alert.account_id
        # Operator on the alert's account only, whatever the database login may do: the screens
        # offer the fix's keys. (The engine's actions still ask the database login's role.)
        self.access = Access(actor, Role.OPERATOR, frozenset({self.account_id}))
        self.saved: str | None = None
        """What the fix saved, in plain words (not yet made visible), once it has."""

    # -- the whitelist -------------------------------------------------------------------------

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("_") or name in LINK_METHODS or not hasattr(Backend, name):
            return super().__getattribute__(name)
        alert_id = super().__getattribute__("alert_id")
        if isinstance(inspect.getattr_static(Backend, name), property):
            raise Refused(link_refusal(alert_id))

        def refused(*_args: Any, **_kwargs: Any) -> NoReturn:
            raise Refused(link_refusal(alert_id))

        return refused

    def _refuse(self) -> NoReturn:
        raise Refused(link_refusal(self.alert_id))

    def _granted(self, form: FixForm, *, order_id: int | None = None) -> AlertDetail:
        """The granted alert as it is now, while ``form`` fixes it (and, with ``order_id``,
        only when that is the alert's own order)."""
        detail = self._read(alert_details.alert_detail, self.alert_id)
        if detail is None:
            raise Refused(f"alert {self.alert_id} is gone (deleted, or never existed)")
        if order_id is not None and order_id != detail.alert.order_id:
            self._refuse()
        if detail.alert.state != AlertState.OPEN:
            raise Refused(f"alert {self.alert_id} is {detail.alert.state}: nothing to fix here")
        if fix_form(detail) is not form:
            self._refuse()
        return detail

    def _engine_thread(self) -> None:
        return None  # no engine here, ever: the workers send

    # -- reads ---------------------------------------------------------------------------------

    def alert_detail(self, alert_id: int) -> AlertDetail | None:
        if alert_id != self.alert_id:
            self._refuse()
        return super().alert_detail(alert_id)

    def accounts(self) -> list[AccountRow]:
        return [a for a in super().accounts() if a.id == self.account_id]

    def mappings(self, account_id: int | None = None) -> list[MappingRow]:
        if account_id not in (None, self.account_id):
            self._refuse()
        return super().mappings(self.account_id)

    def count_orders(self, query: OrderQuery) -> int:
        """Only ever counts within the alert's account, whatever the query said."""
        return super().count_orders(
            query._replace(filter=query.filter._replace(account_id=self.account_id))
        )

    def order_detail(self, order_id: int) -> OrderDetail | None:
        """The alert's own order, while the order's form fixes the alert; of its alerts, only
        this one."""
        self._granted(FixForm.ORDER, order_id=order_id)
        order = super().order_detail(order_id)
        if order is None:
            return None
        return order._replace(alerts=tuple(a for a in order.alerts if a.id == self.alert_id))

    # -- the two fixes -------------------------------------------------------------------------

    def set_mapping(
        self, account_id: int, source_code: str, carrier: str, mode: str, billing_code: str
    ) -> int:
        """The alert's ship method on the alert's account, while the mapping form fixes it."""
        detail = self._read(alert_details.alert_detail, self.alert_id)
        code = detail.ship_method_code if detail is not None else None
        if account_id != self.account_id or source_code != code:
            self._refuse()
        self._granted(FixForm.MAPPING)
        released = super().set_mapping(account_id, source_code, carrier, mode, billing_code)
        self.saved = (
            f"mapped {source_code} to {carrier} {mode}; released {plural(released, 'held order')}"
        )
        return released

    def edit_order(self, order_id: int, changes: dict[str, str]) -> ActionReport:
        """The alert's own order, while the order's form fixes it."""
        detail = self._granted(FixForm.ORDER, order_id=order_id)
        report = super().edit_order(order_id, changes)
        number = detail.alert.order_number or str(order_id)
        self.saved = f"saved order {number}: it goes to the WMS on the next cycle"
        return report

    def wake(self) -> None:
        """Nothing to wake: no engine runs in a link's session (the workers' next cycle takes
        what a fix released)."""
