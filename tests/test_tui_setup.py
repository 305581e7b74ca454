"""Setting up and repairing connections from the dashboard, at 80x24, against the sandbox: the
first run says what is missing in place of "all quiet"; ``A`` lists accounts and connections;
an account and both its connections are added through the forms; ``t`` tests a connection in
place (and leaves the queue alone); replacing rejected credentials resumes the connection and
the held order goes out."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from imtui.domain.alerts import AlertState
from imtui.domain.failures import AlertKind
from imtui.engine import account_actions
from imtui.store.models import Connection, RetryItem
from imtui.tui.screens.connection_form import AccountFormScreen, ConnectionFormScreen
from imtui.tui.screens.setup import SetupScreen
from imtui.tui.widgets.setup_pane import SetupPane
from tests.conftest import ACTOR, add_shop_order
from tests.tui_support import (
    alerts,
    audit,
    make_app,
    screen_text,
    settle,
    text_of,
    type_fast,
    wait_for,
)

SIZE = (80, 24)


async def open_setup(pilot: Any, at: str | None = None) -> SetupScreen:
    """``A``, its rows read, and the cursor on the connection named ``at`` (if given)."""
    app = pilot.app
    await pilot.press("A")
    await wait_for(pilot, lambda: isinstance(app.screen, SetupScreen))
    screen = app.screen
    await wait_for(pilot, lambda: screen.query_one(SetupPane).loaded_once)
    if at is not None:
        await cursor_to(pilot, screen, at)
    return screen


async def wait_form(pilot: Any, kind: type) -> Any:
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, kind))
    form = app.screen
    await wait_for(pilot, lambda: getattr(form, "loaded", True))
    await pilot.pause(0.05)
    return form


async def type_into(pilot: Any, form: Any, name: str, text: str) -> None:
    form.query_one(f"#field-{name}").focus()
    await pilot.pause()
    await pilot.press("ctrl+u", *text)


def connections(db: Any) -> list[Connection]:
    with db.read() as session:
        return list(session.exec(select(Connection).order_by(col(Connection.id))))


async def cursor_to(pilot: Any, screen: SetupScreen, name: str) -> None:
    pane = screen.query_one(SetupPane)
    await pilot.press("g")
    for _ in range(10):
        line = pane.current
        if line is not None and line.connection is not None and line.connection.name == name:
            return
        await pilot.press("j")
    raise AssertionError(f"no line for connection {name}")


def give_the_wms_a_wrong_secret(db: Any, world: Any, clock: Any) -> None:
    with db.write() as session:
        account_actions.update_credentials(
            session,
            connection_key=str(world.wms_id),
            credentials={"client_secret": "wrong"},
            actor=ACTOR,
            now=clock.now(),
        )


async def test_a_new_database_says_what_to_set_up_in_place_of_all_quiet(db, engine, clock):
    app = make_app(db, engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await wait_for(pilot, lambda: "no account yet" in screen_text(app))
        assert "all quiet" not in screen_text(app)
        assert "A sets one up" in screen_text(app)

        with db.write() as session:
            account_actions.add_account(
                session, name="Acme", kind="merchant", actor=ACTOR, now=clock.now()
            )
        await wait_for(pilot, lambda: "Acme has no shop and no WMS connection" in screen_text(app))
        await pilot.press("A")
        await wait_for(pilot, lambda: isinstance(app.screen, SetupScreen))
        await wait_for(pilot, lambda: "no shop, no WMS yet" in screen_text(app))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, SetupScreen))


async def test_an_account_and_both_connections_are_added_through_the_forms(db, sandbox, engine):
    app = make_app(db, engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_setup(pilot)
        assert "no account yet" in screen_text(app)
        await pilot.press("N")
        form = await wait_form(pilot, AccountFormScreen)
        await pilot.press(*"Acme")
        await pilot.press("ctrl+s")

        # Saved, the account's first connection opens: a shop, as it has none.
        form = await wait_form(pilot, ConnectionFormScreen)
        assert form.platform == "shopify"
        assert form.query_one("#field-name").value == "shop"
        await type_into(pilot, form, "url", "http://[bad")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "fix the fields" in text_of(form, "#form-error"))
        assert text_of(form, "#error-url").strip()  # said beside the field, as the CLI says it
        assert text_of(form, "#error-credential-access_token").strip()
        await type_into(pilot, form, "url", sandbox.shop_url)
        await type_into(pilot, form, "credential-access_token", sandbox.shop_token)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is screen)
        await wait_for(pilot, lambda: "no WMS yet" in screen_text(app))

        # n on the account's line: its missing WMS.
        await pilot.press("g", "n")
        form = await wait_form(pilot, ConnectionFormScreen)
        assert form.platform == "wms_3pl"
        await type_into(pilot, form, "url", sandbox.wms_url)
        for key, value in sandbox.wms_credentials.items():
            await type_into(pilot, form, f"credential-{key}", value)
        await type_into(pilot, form, "setting-customer_id", "1")
        await type_into(pilot, form, "setting-facility_id", "1")
        await pilot.press("ctrl+t")  # tested before it is saved
        await wait_for(pilot, lambda: "OK in" in text_of(form, "#form-check"), timeout=15)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is screen)
        await wait_for(pilot, lambda: "no WMS yet" not in screen_text(app))

    shop, wms = connections(db)
    assert (shop.platform, shop.base_url, shop.credentials) == (
        "shopify",
        sandbox.shop_url,
        {"access_token": sandbox.shop_token},
    )
    assert wms.platform == "wms_3pl" and dict(wms.credentials) == sandbox.wms_credentials
    assert wms.settings == {"customer_id": "1", "facility_id": "1"}
    actions = [(entry.action, entry.actor) for entry in audit(db)]
    assert actions == [
        ("account.add", ACTOR),
        ("connection.add", ACTOR),
        ("connection.add", ACTOR),
    ]
    secrets = [sandbox.shop_token, *sandbox.wms_credentials.values()]
    for entry in audit(db):
        assert not any(secret in (entry.detail or "") for secret in secrets if len(secret) > 3)


async def test_t_tests_a_connection_in_place_and_leaves_the_queue_alone(
    db, sandbox, world, engine, clock
):
    add_shop_order(sandbox, 1001)
    give_the_wms_a_wrong_secret(db, world, clock)
    app = make_app(db, engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_setup(pilot, at="Shop")
        await pilot.press("t")
        await wait_for(pilot, lambda: "OK in" in text_of(screen, "#setup-check"), timeout=15)
        await wait_for(pilot, lambda: "OK " in screen_text(app))  # the row's TEST cell

        await cursor_to(pilot, screen, "3PL")
        await pilot.press("t")
        await wait_for(pilot, lambda: "failed" in text_of(screen, "#setup-check"), timeout=15)
        said = text_of(screen, "#setup-check")
        assert "The client credentials are invalid." in said  # the WMS's own words
        assert "connection" in said  # and the failure class

    assert not alerts(db)  # a test opens no alert,
    with db.read() as session:
        assert not session.exec(select(RetryItem)).all()  # queues nothing,
        assert not session.get(Connection, world.wms_id).paused  # pauses nothing


async def test_replacing_rejected_credentials_resumes_the_connection_and_the_held_order_goes_out(
    db, sandbox, world, engine, clock
):
    good_secret = sandbox.wms_credentials["client_secret"]
    give_the_wms_a_wrong_secret(db, world, clock)
    add_shop_order(sandbox, 1001)
    await engine.run_once()
    assert len(alerts(db, state=AlertState.OPEN, kind=AlertKind.CREDENTIALS_REJECTED)) == 1
    with db.read() as session:
        assert session.get(Connection, world.wms_id).paused
    assert not sandbox.wms.orders

    app = make_app(db, engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await wait_for(pilot, lambda: "auth✗ 1" in screen_text(app))  # the header says so
        screen = await open_setup(pilot, at="3PL")
        assert "PAUSED" in screen_text(app)
        await pilot.press("c")
        form = await wait_form(pilot, ConnectionFormScreen)
        assert form.credentials_only
        assert app.focused is form.query_one("#field-credential-client_id")
        await type_into(pilot, form, "credential-client_secret", good_secret)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is screen)
        await wait_for(pilot, lambda: "PAUSED" not in screen_text(app))

    with db.read() as session:
        assert not session.get(Connection, world.wms_id).paused
    await engine.run_once()
    assert sandbox.wms.created("ACME-1001") == 1  # the held order went out
    assert not alerts(db, state=AlertState.OPEN, kind=AlertKind.CREDENTIALS_REJECTED)
    [entry] = [e for e in audit(db) if e.action == "connection.credentials"][-1:]
    assert good_secret not in (entry.detail or "")


async def test_p_pauses_after_asking_and_p_again_resumes(db, sandbox, world, engine):
    app = make_app(db, engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_setup(pilot, at="Shop")
        await pilot.press("p")
        await wait_for(pilot, lambda: "Pause connection" in screen_text(app))
        await pilot.press("y")
        await wait_for(pilot, lambda: "PAUSED: paused by" in screen_text(app))
        with db.read() as session:
            assert session.get(Connection, world.shop_id).paused
        await pilot.press("escape")
        await wait_for(pilot, lambda: "paused 1" in screen_text(app))  # the header counts it

        await open_setup(pilot, at="Shop")
        await pilot.press("p")  # resuming asks nothing: it only lets work go on
        await wait_for(pilot, lambda: "PAUSED" not in screen_text(app))
        await pilot.press("escape")
        await wait_for(pilot, lambda: "paused 1" not in screen_text(app))
    with db.read() as session:
        assert not session.get(Connection, world.shop_id).paused
    assert [e.action for e in audit(db)][-2:] == ["connection.pause", "connection.resume"]


async def test_an_edit_saves_what_changed_and_a_refused_one_says_why_in_place(
    db, sandbox, world, engine
):
    app = make_app(db, engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_setup(pilot, at="Shop")
        await pilot.press("e")
        form = await wait_form(pilot, ConnectionFormScreen)
        assert form.query_one("#field-url").value == sandbox.shop_url
        assert form.query_one("#field-credential-access_token").value == ""  # never filled in
        await type_into(pilot, form, "poll", "5")
        await wait_for(pilot, lambda: text_of(form, "#error-poll").strip() != "")
        await type_into(pilot, form, "poll", "60")
        await type_into(pilot, form, "name", "3PL")  # the WMS's name: the engine refuses
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "already has a connection" in text_of(form, "#form-error"))
        await type_into(pilot, form, "name", "Shop EU")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is screen)
    with db.read() as session:
        shop = session.get(Connection, world.shop_id)
        assert (shop.name, shop.poll_interval_s) == ("Shop EU", 60)
        assert shop.credentials == {"access_token": sandbox.shop_token}  # blank kept it


async def test_ctrl_t_typed_right_behind_a_credential_tests_with_all_of_it(
    db, sandbox, world, engine
):
    app = make_app(db, engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_setup(pilot)
        await pilot.press("g", "n")  # a second shop for the account
        form = await wait_form(pilot, ConnectionFormScreen)
        await type_into(pilot, form, "url", sandbox.shop_url)
        form.query_one("#field-credential-access_token").focus()
        await pilot.pause()
        type_fast(pilot, *sandbox.shop_token, "ctrl+t")  # one burst, as a paste then the key
        await wait_for(pilot, lambda: "test:" in text_of(form, "#form-check"), timeout=15)
        await wait_for(pilot, lambda: "testing" not in text_of(form, "#form-check"), timeout=15)
        assert "OK in" in text_of(form, "#form-check")
        await pilot.press("escape", "y")
    assert len(connections(db)) == 2  # tested, never saved


async def test_a_connection_on_a_platform_this_imtui_does_not_know_opens_saying_so(
    db, sandbox, world, engine
):
    """Stored by a newer imtui (or one that knew a platform since dropped): its form says why
    it cannot edit it, saves nothing, and its test names the platform — no traceback."""
    with db.write() as session:
        shop = session.get(Connection, world.shop_id)
        shop.platform = "woocommerce"
        session.add(shop)
    app = make_app(db, engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_setup(pilot, at="Shop")
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ConnectionFormScreen))
        form = app.screen
        await wait_for(pilot, lambda: "does not know" in text_of(form, "#form-about"))
        assert "'woocommerce'" in text_of(form, "#form-about")
        await pilot.press("ctrl+s")  # nothing to save
        await pilot.pause(0.2)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.press("t")
        await wait_for(pilot, lambda: "platform 'woocommerce' (known:" in screen_text(app))
    assert app.return_code in (None, 0)
    assert connections(db)[1].platform == "woocommerce"  # untouched
