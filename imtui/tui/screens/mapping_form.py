"""Map a shop's ship method to a WMS carrier and mode. Saving releases every order held for the
method (B9) and wakes the engine, so they go on the next cycle without anyone editing them.

A carrier the WMS does not know fails every order released to it ("bad carrier"), so a carrier
that is none of the ones in use is warned about as it is typed, and saving it asks first; so is
a mode not in use with its carrier. "In use" means the WMS took an order sent with it: a pair
saved and then refused for every order proves nothing (the 3PL API lists no carriers or modes
to check against). The WMS compares carriers exactly as spelt ("ups" is not "UPS"), and so does
the form. With nothing delivered yet there is nothing to compare with, and no warning.
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

from imtui.domain.failures import METHOD_HOLD_KINDS
from imtui.domain.orders import OrderStatus
from imtui.domain.text import agree, closest_spelling, plural
from imtui.store.rows import AccountRow, MappingRow, OrderFilter
from imtui.tui.filters import OrderQuery
from imtui.tui.messages import Refused
from imtui.tui.screens.confirm import ConfirmScreen
from imtui.tui.screens.form import FormScreen
from imtui.tui.text import safe
from imtui.tui.widgets.field import FieldInput
from imtui.tui.widgets.keybar import KeyBar

if TYPE_CHECKING:
    from imtui.tui.app import DashboardApp

FIELDS = {
    "source_code": "Shop ship method",
    "carrier": "WMS carrier",
    "mode": "Mode / service",
    "billing_code": "Billing code",
}
DEFAULT_BILLING = "Prepaid"
NOT_IN_USE = "not a carrier in use here"


def carrier_warning(carrier: str, known: list[str]) -> str:
    """What to say next to the carrier field ("" when the carrier is one in use, or none is)."""
    carrier = carrier.strip()  # saving strips it too
    if not carrier or not known or carrier in known:
        return ""
    closest = closest_spelling(carrier, known)
    if closest is not None:
        return f"{NOT_IN_USE}: check the WMS spells it '{safe(closest, limit=30)}'"
    return f"{NOT_IN_USE}: check the WMS has it"


def mode_warning(carrier: str, mode: str, modes: dict[str, list[str]]) -> str:
    """What to say next to the mode field: a mode no mapping uses with this carrier (the WMS
    refuses an order whose carrier lacks the mode, one alert per order); "" when it is one,
    or the carrier has none in use to compare with."""
    carrier, mode = carrier.strip(), mode.strip()
    known = modes.get(carrier, [])
    if not mode or not known or mode in known:
        return ""
    said = f"not a mode in use with {safe(carrier, limit=30)}"
    closest = closest_spelling(mode, known)
    if closest is not None:
        return f"{said}: check the WMS spells it '{safe(closest, limit=30)}'"
    return f"{said} ({', '.join(safe(m, limit=20) for m in known[:4])}): check the WMS has it"


def pairs_in_use(
    mappings: list[MappingRow],
) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """The carriers and modes in use — the WMS took an order sent with them — and those of
    mappings it has not taken one through yet (new, changed, or refused every time)."""
    proven: dict[str, set[str]] = {}
    for mapping in mappings:
        if mapping.delivered_at is not None:
            proven.setdefault(mapping.carrier, set()).add(mapping.mode)
    unproven: dict[str, set[str]] = {}
    for mapping in mappings:
        if mapping.mode not in proven.get(mapping.carrier, ()):
            unproven.setdefault(mapping.carrier, set()).add(mapping.mode)
    return proven, unproven


def known_pairs(proven: dict[str, set[str]], unproven: dict[str, set[str]]) -> str:
    """The form's line under its fields: what the WMS has taken, and what it has not yet."""

    def listed(pairs: dict[str, set[str]]) -> str:
        return "; ".join(
            f"{safe(carrier, limit=30)}: {', '.join(safe(m, limit=30) for m in sorted(modes))}"
            for carrier, modes in sorted(pairs.items())
        )

    if not proven and not unproven:
        return "No mappings yet."
    said = [f"In use (delivered): {listed(proven)}" if proven else "Nothing delivered yet."]
    if unproven:
        said.append(f"Not delivered yet: {listed(unproven)}")
    return "\n".join(said)


class MappingFormScreen(FormScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save_form", "Save & release", id="mapping.save", priority=True),
        Binding("escape", "cancel", "Cancel", id="mapping.cancel"),
    ]

    def __init__(self, account_id: int | None, source_code: str = "") -> None:
        super().__init__()
        self.account_id = account_id
        self.source_code = source_code
        self.mappings: list[MappingRow] = []
        self.carriers: list[str] = []
        """The carriers in use: the WMS took an order sent with them (of any mapping)."""
        self.modes: dict[str, list[str]] = {}
        """The modes in use with each carrier: the WMS took an order sent with the pair."""

    @property
    def dashboard(self) -> DashboardApp:
        return cast("DashboardApp", self.app)

    def compose(self) -> ComposeResult:
        yield Static(Content(" Ship-method mapping"), id="form-title")
        with VerticalScroll(id="form"):
            yield Static(Content("loading…"), id="form-about")
            with Grid(id="form-grid"):
                for name, label in FIELDS.items():
                    yield Label(Content(label), classes="field-label")
                    with Vertical(classes="field-cell"):  # the field, its note under it
                        yield FieldInput(id=f"field-{name}", classes="field", select_on_focus=False)
                        yield Static(Content(""), id=f"note-{name}", classes="field-note")
                    yield Static(Content(""), id=f"error-{name}", classes="field-error")
            yield Static(Content(""), id="known-carriers")
            yield Static(Content(""), id="form-error")
            with Horizontal(id="form-buttons"):
                yield Button("Save & release (ctrl+s)", variant="primary", id="save")
                yield Button("Cancel (esc)", id="cancel")
        yield KeyBar()

    def on_mount(self) -> None:
        # The shop's code, made visible (it is the customer's order's); unchanged, the form
        # maps the code itself, not its rendering.
        self.show_stored("source_code", self.source_code)
        self.query_one("#field-billing_code", Input).value = DEFAULT_BILLING
        self.remember_opened()
        # Focus now, not when the known carriers have loaded: what is typed meanwhile goes
        # into the field it was meant for.
        first = "carrier" if self.source_code else "source_code"
        self.set_focus(self.query_one(f"#field-{first}", Input))
        self._load()

    @work(thread=True, exclusive=True, group="form", exit_on_error=False)
    def _load(self) -> None:
        backend = self.dashboard.backend
        account_id = self.account_id
        accounts = backend.accounts()
        if account_id is None and len(accounts) == 1:
            account_id = accounts[0].id
        account = next((a for a in accounts if a.id == account_id), None)
        mappings = backend.mappings()
        held = 0
        if account is not None and self.source_code:
            held = self._count_held(account.id)
        self.app.call_from_thread(self._fill, account, mappings, held)

    def _count_held(self, account_id: int) -> int:
        """The orders held for this ship method — the ones saving releases — not those of the
        method held for something else (an address). (In a worker.)"""
        held = OrderFilter(
            status=OrderStatus.HELD, account_id=account_id, hold_reasons=METHOD_HOLD_KINDS
        )
        return self.dashboard.backend.count_orders(
            OrderQuery(filter=held, ship_method=self.source_code)
        )

    def _fill(self, account: AccountRow | None, mappings: list[MappingRow], held: int) -> None:
        self.mappings = mappings
        if account is None:
            self.query_one("#form-about", Static).update(
                Content("choose an account first (a), then open this form again")
            )
            return
        self.account_id = account.id
        code = safe(self.source_code, limit=60)
        about = f"Account {safe(account.name, limit=60)}."
        current = next(
            (
                m
                for m in mappings
                if m.account_id == account.id and m.source_code == self.source_code
            ),
            None,
        )
        if current is not None and self.source_code:
            # Saving writes every field: start from the mapping as it is, not from blanks.
            about += (
                f" {code} is mapped to {safe(current.carrier, limit=30)}"
                f" {safe(current.mode, limit=30)} now; saving changes it."
            )
            self._prefill(current)
        if held:
            about += f" {plural(held, 'order')} {agree(held, 'is', 'are')} held for {code}."
        self.query_one("#form-about", Static).update(Content(about))
        proven, unproven = pairs_in_use(mappings)
        self.carriers = sorted(proven)
        self.modes = {carrier: sorted(modes) for carrier, modes in proven.items()}
        if self.current()["carrier"].strip():  # typed before the carriers came
            self._validate(("carrier",))
        if self.current()["mode"].strip():
            self._validate(("mode",))
        # Suggestions come from every mapping: a pair not proven yet is still worth offering.
        self.query_one("#field-carrier", Input).suggester = SuggestFromList(
            sorted({m.carrier for m in mappings})
        )
        self.query_one("#field-mode", Input).suggester = SuggestFromList(
            sorted({m.mode for m in mappings})
        )
        self.query_one("#known-carriers", Static).update(Content(known_pairs(proven, unproven)))

    def _prefill(self, current: MappingRow) -> None:
        """The current mapping into the fields — but what was typed meanwhile stays."""
        self.remember_opened(
            carrier=current.carrier, mode=current.mode, billing_code=current.billing_code
        )
        for name, value, untouched in (
            ("carrier", current.carrier, ""),
            ("mode", current.mode, ""),
            ("billing_code", current.billing_code, DEFAULT_BILLING),
        ):
            if self.query_one(f"#field-{name}", Input).value == untouched:
                self.show_stored(name, value)

    def _validate(self, names: tuple[str, ...] = tuple(FIELDS)) -> list[str]:
        """Marks each of these fields good or not; returns the ones that are not. A carrier not
        in use is warned about, but does not stop a save (the WMS may have it: saving asks)."""
        values = self.current()
        invalid = []
        for name in names:
            problem = "required" if not values[name].strip() else ""
            warning = self._warning(name, values)
            error = self.query_one(f"#error-{name}", Static)
            error.update(Content(problem or warning))
            warned = bool(warning) and not problem
            error.set_class(warned, "-warning")
            field = self.query_one(f"#field-{name}", Input)
            field.set_class(bool(problem), "-invalid")
            field.set_class(warned, "-warning")
            if problem:
                invalid.append(name)
        return invalid

    def _warning(self, name: str, values: dict[str, str]) -> str:
        if name == "carrier":
            return carrier_warning(values["carrier"], self.carriers)
        if name == "mode":
            return mode_warning(values["carrier"], values["mode"], self.modes)
        return ""

    def _warnings(self, values: dict[str, str]) -> list[str]:
        return [w for w in (self._warning(n, values) for n in ("carrier", "mode")) if w]

    @on(Input.Changed, ".field")
    def _changed(self, event: Input.Changed) -> None:
        """A field's mark follows its value at once, not at the next save."""
        name = (event.input.id or "").removeprefix("field-")
        if name in FIELDS:
            self._validate(("carrier", "mode") if name == "carrier" else (name,))
            if all(value.strip() for value in self.current().values()):
                self.fields_fixed()

    def save(self) -> None:
        if self.account_id is None:
            return
        invalid = self._validate()
        if invalid:
            self.refuse_save(invalid[0])
            return
        values = self.current()
        warnings = self._warnings(values)
        if not warnings:
            self._save(values)
            return

        def answered(save: bool | None) -> None:
            if save:
                self._save(values)

        carrier, mode = (safe(values[n].strip(), limit=60) for n in ("carrier", "mode"))
        what = "a carrier" if carrier_warning(values["carrier"], self.carriers) else "a mode"
        question = (
            f"{carrier} {mode} is not {what} in use: the WMS refuses every order it does not "
            "know, one alert each. Save anyway?"
        )
        self.app.push_screen(
            ConfirmScreen(Content(question), confirm="Save", refuse="Keep editing"), answered
        )

    @work(thread=True, exclusive=True, group="form-save", exit_on_error=False)
    def _save(self, values: dict[str, str]) -> None:
        backend = self.dashboard.backend
        try:
            released = backend.set_mapping(
                self.account_id or 0,
                values["source_code"],
                values["carrier"].strip(),
                values["mode"].strip(),
                values["billing_code"].strip(),
            )
        except Refused as exc:
            self.app.call_from_thread(
                self.query_one("#form-error", Static).update, Content(safe(str(exc)))
            )
            return
        self.app.call_from_thread(backend.wake)
        code = safe(values["source_code"], limit=60)
        self.app.call_from_thread(
            self.app.notify, f"mapped {code}; released {plural(released, 'held order')}"
        )
        self.app.call_from_thread(self.dismiss, None)
