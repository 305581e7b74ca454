"""Forms given stored text that a shop customer wrote: it is shown made visible (the escapes of
:func:`imtui.domain.text.printable`, as every read-only screen shows it), never drawn raw — and
saving never writes that rendering back in place of the real value. A field left as shown keeps
its stored value; a field someone edited saves what they typed (what they saw)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select
from textual import events

from imtui.domain.alerts import AlertState
from imtui.domain.failures import AlertKind
from imtui.domain.orders import OrderStatus
from imtui.domain.text import printable
from imtui.store.models import AlertContact, ShipMethodMapping
from imtui.tui.app import StartAt
from imtui.tui.screens.mapping_form import MappingFormScreen
from imtui.tui.screens.order_form import OrderFormScreen
from tests.conftest import add_shop_order
from tests.tui_support import (
    alerts,
    make_app,
    order,
    screen_text,
    settle,
    text_of,
    type_fast,
    wait_contact_form,
    wait_for,
    wait_mapping_form,
    wait_order_form,
)

OSC52 = "\x1b]52;c;SElKQUNL\x07"  # write "HIJACK" to the clipboard
OSC0 = "\x1b]0;pwned\x07"  # set the window title
CLEAR = "\x1b[2J"  # clear the screen
DCS = "\x1bPq#0\x1b\\"  # a device control string (sixel)
C1 = "\x9b2J\x9d0;x\x9c"  # CSI 2J and OSC 0 as 8-bit C1 controls

HOSTILE_ADDRESS = {
    "name": f"Eve{OSC0}",
    "company": f"Co{CLEAR}",
    "address1": f"1 Main{DCS}",
    "address2": C1,
    "city": "",  # incomplete: the order form has something to fix
    "province_code": "TX",
    "zip": "78701",
    "country_code": "US",
    "phone": "555\u200b0100",
}
HOSTILE_METHOD = f"SD{OSC52}"
NOTE = "left as is unless you retype it"
RAW = ("\x1b", "\x07", "\x9b", "\x9c", "\x9d", "\u200b")


def no_raw_controls(text: str) -> bool:
    return not any(char in text for char in RAW)


def field_value(form: Any, name: str) -> str:
    return form.query_one(f"#field-{name}").value


def mapped_methods(db: Any) -> set[str]:
    with db.read() as session:
        return set(session.exec(select(ShipMethodMapping.source_code)))


@pytest.mark.slow
async def test_order_form_shows_stored_text_made_visible_and_never_saves_the_rendering(
    db, sandbox, world, engine
):
    add_shop_order(sandbox, 1001, method=HOSTILE_METHOD, address=HOSTILE_ADDRESS)
    await engine.run_once()
    held = order(db, "#1001")
    assert held.status == OrderStatus.HELD
    stored = {
        "name": held.ship_name,
        "company": held.ship_company,
        "address1": held.ship_address1,
        "address2": held.ship_address2,
        "phone": held.ship_phone,
        "ship_method_code": held.ship_method_code,
    }
    assert stored["name"] == f"Eve{OSC0}" and stored["ship_method_code"] == HOSTILE_METHOD

    app = make_app(db, engine)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        app.open_order_form(held.id)
        form = await wait_order_form(pilot)
        for name, value in stored.items():
            assert field_value(form, name) == printable(value), name
            assert NOTE in text_of(form, f"#note-{name}"), name
        assert field_value(form, "zip") == "78701"
        assert NOTE not in text_of(form, "#note-zip")  # nothing to say about plain text
        await pilot.pause(0.1)
        shown = screen_text(app)
        assert no_raw_controls(shown), repr(shown)
        assert "\\x1b]0;pwned" in shown
        assert not form.changed()  # nothing typed: esc would leave without asking

        # Saved as it stands, the stored values would be sent: the address check refuses them
        # (and the city is missing), and nothing is written.
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "fix the fields" in text_of(form, "#form-error"))
        assert "control characters" in text_of(form, "#error-name")
        again = order(db, "#1001")
        assert (again.ship_name, again.ship_address1, again.ship_method_code) == (
            stored["name"],
            stored["address1"],
            HOSTILE_METHOD,
        )

        # Retyped fields save what was typed; the ship method, left as shown, keeps its value.
        async def retype(name: str, typed: str, *, keep: bool = False) -> None:
            form.set_focus(form.query_one(f"#field-{name}"))
            await pilot.pause()
            before = "" if not keep else field_value(form, name)
            type_fast(pilot, "end" if keep else "ctrl+u", *typed)
            await wait_for(pilot, lambda: field_value(form, name) == before + typed)

        await retype("name", "Eve Adams")
        assert NOTE not in text_of(form, "#note-name")  # what is there now is what was typed
        await retype("address1", "1 Main St")
        await retype("address2", "")
        await retype("phone", "555 0100")
        await retype("city", "Austin")
        await retype("company", " Ltd", keep=True)  # typed onto the rendering: saved as seen
        assert form.changed()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, OrderFormScreen))

    saved = order(db, "#1001")
    assert saved.ship_name == "Eve Adams"
    assert saved.ship_address1 == "1 Main St"
    assert saved.ship_address2 == ""
    assert saved.ship_phone == "555 0100"
    assert saved.ship_city == "Austin"
    assert saved.ship_company == "Co\\x1b[2J Ltd"  # the visible text typed on, not an ESC
    assert saved.ship_method_code == HOSTILE_METHOD  # not "SD\\x1b]52;…": it was not retyped


async def test_order_form_opened_on_its_alert_shows_the_name_made_visible(
    db, sandbox, world, engine
):
    """``imtui open alert/<id>`` on an incomplete address: the order's form, made visible."""
    add_shop_order(sandbox, 1002, address=HOSTILE_ADDRESS)
    await engine.run_once()
    [alert] = alerts(db, state=AlertState.OPEN, kind=AlertKind.INCOMPLETE_ADDRESS)
    app = make_app(db, engine, start=StartAt(alert_id=alert.id))
    async with app.run_test(size=(100, 40)) as pilot:
        form = await wait_order_form(pilot)
        assert field_value(form, "name") == "Eve\\x1b]0;pwned\\x07"
        assert field_value(form, "address2") == "\\x9b2J\\x9d0;x\\x9c"
        await pilot.pause(0.1)
        assert no_raw_controls(screen_text(app))
        await pilot.press("escape")  # unchanged: leaves without asking
        await wait_for(pilot, lambda: not isinstance(app.screen, OrderFormScreen))
    assert order(db, "#1002").ship_name == f"Eve{OSC0}"


async def test_mapping_form_saves_the_stored_method_not_its_rendering(db, sandbox, world, engine):
    method = f"SD{OSC52}{C1}\u200b"
    add_shop_order(sandbox, 1001, method=method)
    await engine.run_once()
    [alert] = alerts(db, state=AlertState.OPEN, kind=AlertKind.UNMAPPED_SHIP_METHOD)
    app = make_app(db, engine, start=StartAt(alert_id=alert.id))
    async with app.run_test(size=(100, 40)) as pilot:
        form = await wait_mapping_form(pilot, "held")
        assert field_value(form, "source_code") == printable(method)
        assert NOTE in text_of(form, "#note-source_code")
        assert NOTE not in text_of(form, "#note-carrier")
        await pilot.pause(0.1)
        assert no_raw_controls(screen_text(app))

        # Saved as shown, the method saved is the stored one — which the engine refuses to
        # map (it has control characters): it says so, and no mapping of the escaped text is
        # made (that would release nothing and pass for the real one).
        await pilot.press(*"UPS", "tab", *"03", "ctrl+s")
        await wait_for(pilot, lambda: "control characters" in text_of(form, "#form-error"))
        assert isinstance(app.screen, MappingFormScreen)
        assert mapped_methods(db) == {"UPS_GROUND", "FEDEX_2DAY"}
        assert order(db, "#1001").ship_method_code == method
        assert order(db, "#1001").status == OrderStatus.HELD

        # Retyped, the method saved is the one typed.
        form.set_focus(form.query_one("#field-source_code"))
        type_fast(pilot, "ctrl+u", *"SAME_DAY")
        await wait_for(pilot, lambda: field_value(form, "source_code") == "SAME_DAY")
        assert NOTE not in text_of(form, "#note-source_code")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, MappingFormScreen))

    assert mapped_methods(db) == {"UPS_GROUND", "FEDEX_2DAY", "SAME_DAY"}
    assert order(db, "#1001").ship_method_code == method


async def test_contact_form_shows_a_stored_name_made_visible_and_keeps_it_unless_retyped(
    db, world, engine, clock
):
    """A contact's name cannot be given control characters through imtui, but one written to
    the database some other way is still shown made visible, and kept unless retyped."""
    with db.write() as session:
        contact = AlertContact(
            account_id=world.account_id,
            name=f"Ops{OSC0}",
            email="ops@example.com",
            frequency="immediately",
            created_at=clock.now(),
            updated_at=clock.now(),
        )
        session.add(contact)
        session.flush()
        contact_id = contact.id

    app = make_app(db, engine)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        app.open_contact_form(contact_id, world.account_id)
        form = await wait_contact_form(pilot)
        await wait_for(pilot, lambda: field_value(form, "name") == printable(f"Ops{OSC0}"))
        assert NOTE in text_of(form, "#note-name")
        await pilot.pause(0.1)
        assert no_raw_controls(screen_text(app))
        assert not form.changed()
        await pilot.press("escape")
        await wait_for(pilot, lambda: form is not app.screen)

    with db.read() as session:
        assert session.get(AlertContact, contact_id).name == f"Ops{OSC0}"


async def test_a_field_makes_a_paste_and_a_suggestion_visible_too(db, sandbox, world, engine):
    """Whatever else gives a field text — a paste, a suggestion from stored carriers — it is
    made visible before it is drawn (and what is then saved is what was shown)."""
    add_shop_order(sandbox, 1001, method="SAME_DAY")
    await engine.run_once()
    [alert] = alerts(db, state=AlertState.OPEN, kind=AlertKind.UNMAPPED_SHIP_METHOD)
    app = make_app(db, engine, start=StartAt(alert_id=alert.id))
    async with app.run_test(size=(100, 40)) as pilot:
        form = await wait_mapping_form(pilot, "held")
        carrier = form.query_one("#field-carrier")
        assert app.focused is carrier
        carrier.post_message(events.Paste(f"UPS{OSC0}"))
        await wait_for(pilot, lambda: carrier.value == "UPS\\x1b]0;pwned\\x07")
        assert carrier.cursor_position == len(carrier.value)  # after what is shown
        carrier._suggestion = f"UPS{OSC52}"  # as a suggester built from stored text sets it
        assert carrier._suggestion == printable(f"UPS{OSC52}")
        await pilot.pause(0.1)
        assert no_raw_controls(screen_text(app))
