"""Fix an order: its ship-to address and ship method, with each problem shown next to its field.

Saving writes through :func:`imtui.engine.order_actions.edit_order` (which re-queues the order and
audits the change) and the order is sent at once (B3, B4).

A ship method the account has no mapping for holds the order again at once ("no ship map"), so
one is warned about as it is typed, and saving it asks first. The engine looks the method up
exactly as spelt ("ups_ground" is not "UPS_GROUND"), and so does the form. The order's own
method, unchanged, is neither warned about nor asked about: the edit is of something else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Static

from imtui.domain.orders import NOT_EDITABLE, NOT_IN_WMS
from imtui.domain.text import closest_spelling
from imtui.store.rows import OrderDetail, OrderRow
from imtui.tui.messages import ActionDone, Refused
from imtui.tui.screens.confirm import ConfirmScreen
from imtui.tui.screens.form import FormScreen
from imtui.tui.text import hold_reason, safe
from imtui.tui.widgets.field import FieldInput
from imtui.tui.widgets.keybar import KeyBar

if TYPE_CHECKING:
    from imtui.tui.app import DashboardApp

ADDRESS_LABELS: dict[str, str] = {
    "name": "Name",
    "company": "Company",
    "address1": "Address 1",
    "address2": "Address 2",
    "city": "City",
    "state": "State",
    "zip": "ZIP / postcode",
    "country": "Country (2 letters)",
    "phone": "Phone",
}
FIELDS = (*ADDRESS_LABELS, "ship_method_code")


def method_warning(code: str, mapped: list[str], original: str) -> str:
    """What to say next to the ship-method field ("" when the account maps the method, or it is
    the order's own, unchanged)."""
    code = code.strip()  # saving strips it too
    if not code or code in mapped or code == original.strip():
        return ""
    warning = f"{safe(code, limit=60)} is not mapped: the order will be held until it is"
    closest = closest_spelling(code, mapped)
    if closest is not None:
        warning += f"; or is it '{safe(closest, limit=60)}'?"
    return warning


def why_not_editable(order: OrderRow) -> str | None:
    """Why the order's form cannot open (it is in the WMS already), or None."""
    if order.status in NOT_IN_WMS:
        return None
    return f"order {safe(order.number, limit=60)} is already {safe(order.status)}: {NOT_EDITABLE}"


class OrderFormScreen(FormScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save_form", "Save & send", id="form.save", priority=True),
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
    ]

    def __init__(self, order_id: int) -> None:
        super().__init__()
        self.order_id = order_id
        self.detail: OrderDetail | None = None
        self.original: dict[str, str] = {}
        self.methods: list[str] = []
        """The ship methods the order's account maps: the ones it can be sent with."""

    @property
    def dashboard(self) -> DashboardApp:
        return cast("DashboardApp", self.app)

    def compose(self) -> ComposeResult:
        yield Static(Content(f" Edit order {self.order_id}"), id="form-title")
        with VerticalScroll(id="form"):
            yield Static(Content("loading…"), id="form-about")
            with Grid(id="form-grid"):
                for name, label in (*ADDRESS_LABELS.items(), ("ship_method_code", "Ship method")):
                    yield Label(Content(label), classes="field-label")
                    with Vertical(classes="field-cell"):  # the field, its note under it
                        # Not selected on focus: one stray key would replace the whole value.
                        yield FieldInput(
                            id=f"field-{name}",
                            classes="field",
                            disabled=True,
                            select_on_focus=False,
                        )
                        yield Static(Content(""), id=f"note-{name}", classes="field-note")
                    yield Static(Content(""), id=f"error-{name}", classes="field-error")
            yield Static(Content(""), id="method-warning", classes="field-error -warning")
            yield Static(Content(""), id="form-error")
            with Horizontal(id="form-buttons"):
                yield Button("Save & send (ctrl+s)", variant="primary", id="save")
                yield Button("Cancel (esc)", id="cancel")
        yield KeyBar()

    def on_mount(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="form", exit_on_error=False)
    def _load(self) -> None:
        backend = self.dashboard.backend
        detail = backend.order_detail(self.order_id)
        methods = (
            [m.source_code for m in backend.mappings(detail.order.account_id)] if detail else []
        )
        self.app.call_from_thread(self._fill, detail, methods)

    def _fill(self, detail: OrderDetail | None, methods: list[str]) -> None:
        if detail is None:
            self.query_one("#form-about", Static).update(Content(f"no order {self.order_id}"))
            return
        order = detail.order
        refused = why_not_editable(order)
        if refused:
            self.notify(refused, severity="warning")
            self.dismiss(None)
            return
        self.detail = detail
        self.query_one("#form-title", Static).update(
            Content(f" Edit order {safe(order.number, limit=60)}  ({safe(order.account)})")
        )
        status = f"Status: {safe(order.status)}" + (
            f" — {hold_reason(order.hold_reason)}" if order.hold_reason else ""
        )
        self.query_one("#form-about", Static).update(Content(status))
        values = {name: getattr(detail.address, name) for name in ADDRESS_LABELS}
        values["ship_method_code"] = order.ship_method_code
        self.original = values
        self.methods = methods
        self.remember_opened(**values)
        for name, value in values.items():
            # Made visible (a customer's name may carry ESC ] 52); unchanged, it saves ``value``.
            self.show_stored(name, value)
            self.query_one(f"#field-{name}", Input).disabled = False
        self.query_one("#field-ship_method_code", Input).suggester = SuggestFromList(
            methods, case_sensitive=False
        )
        problems = self._validate()
        first_bad = next((name for name in FIELDS if name in problems), "name")
        self.set_focus(self.query_one(f"#field-{first_bad}", Input))

    def _problems(self) -> dict[str, list[str]]:
        values = self.current()
        fields = {name: values[name].strip() for name in ADDRESS_LABELS}
        fields["country"] = fields["country"].upper()
        problems = self.dashboard.backend.address_problems(fields)
        if not values["ship_method_code"].strip():
            problems.setdefault("ship_method_code", []).append("required")
        return problems

    def _validate(self) -> dict[str, list[str]]:
        """Shows each problem next to its field; returns them (empty: the form is good)."""
        by_field = self._problems()
        for name in FIELDS:
            messages = by_field.get(name, [])
            label = self.query_one(f"#error-{name}", Static)
            label.update(Content("; ".join(messages)))
            self.query_one(f"#field-{name}", Input).set_class(bool(messages), "-invalid")
            label.set_class(bool(messages), "-shown")
        # The method's warning is a sentence, not a mark: it gets the form's whole width.
        method_ok = not by_field.get("ship_method_code")
        warning = self._method_warning() if method_ok else ""
        shown = self.query_one("#method-warning", Static)
        shown.update(Content(warning))
        shown.display = bool(warning)
        self.query_one("#field-ship_method_code", Input).set_class(bool(warning), "-warning")
        return by_field

    def _method_warning(self) -> str:
        return method_warning(
            self.current()["ship_method_code"],
            self.methods,
            self.original.get("ship_method_code", ""),
        )

    @on(Input.Changed, ".field")
    def _changed(self) -> None:
        if self.detail is not None and not self._validate():
            self.fields_fixed()

    def save(self) -> None:
        if self.detail is None:
            return
        problems = self._validate()
        if problems:
            self.refuse_save(next(name for name in FIELDS if name in problems))
            return
        values = self.current()
        changes = {k: v for k, v in values.items() if v != self.original.get(k)}
        if not self._method_warning():
            self._save(changes)
            return

        def answered(save: bool | None) -> None:
            if save:
                self._save(changes)
            else:
                self.set_focus(self.query_one("#field-ship_method_code", Input))

        code = safe(values["ship_method_code"].strip(), limit=60)
        question = f"{code} has no mapping: save and hold the order for it?"
        self.app.push_screen(
            ConfirmScreen(Content(question), confirm="Save and hold", refuse="Keep editing"),
            answered,
        )

    @work(thread=True, exclusive=True, group="form-save", exit_on_error=False)
    def _save(self, changes: dict[str, str]) -> None:
        try:
            report = self.dashboard.backend.edit_order(self.order_id, changes)
        except Refused as exc:
            self.app.call_from_thread(
                self.query_one("#form-error", Static).update, Content(safe(str(exc)))
            )
            return
        number = self.detail.order.number if self.detail else str(self.order_id)
        self.app.post_message(ActionDone(report, f"saved {safe(number)}: sending it now"))
        self.app.call_from_thread(self.dismiss, None)
