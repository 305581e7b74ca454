"""The app an emailed link opens in a browser (textual-serve runs one per browser session): one
alert's fix and nothing else.

It lands where ``imtui open alert/N`` lands (:func:`~imtui.tui.fixes.fix_form`): the mapping
form for a ship method nobody mapped, the order's ship-to form for an address, or else a page
about the alert that says what fixes it. The forms are the dashboard's own, reached through a
:class:`~imtui.tui.link_backend.LinkBackend`, which refuses anything but this alert's fix. There
is no dashboard, pane, account picker, help or command palette to reach; after a save a plain
page says what was done, and ``q`` (or ctrl+q) ends the session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from imtui.domain.alerts import LOCAL_KINDS, AlertState
from imtui.domain.fixes import fix_commands
from imtui.domain.text import plural
from imtui.store.rows import AlertDetail, fix_facts
from imtui.tui.app import style_files
from imtui.tui.fixes import FixForm, fix_form
from imtui.tui.holder import HoldsBackend, PlainApp
from imtui.tui.messages import ActionDone
from imtui.tui.screens.detail import fields
from imtui.tui.screens.form import FormScreen, leave_unless_typed
from imtui.tui.screens.mapping_form import MappingFormScreen
from imtui.tui.screens.order_form import OrderFormScreen
from imtui.tui.text import safe, safe_block, stamp
from imtui.tui.widgets.keybar import KeyBar
from imtui.tui.widgets.scroll_text import ScrollText

if TYPE_CHECKING:
    from imtui.store.database import Database
    from imtui.tui.link_backend import LinkBackend

DONE = "This link has done its work: you can close the tab."
LEAVE = Binding("q", "app.quit", "Leave", id="link.leave")


def banner_text(contact_label: str, alert_id: int) -> str:
    """Who acts, and what this page can do: "dana@acme.example via emailed link: alert 12
    only"."""
    return f"{safe(contact_label, limit=120)} via emailed link: alert {alert_id} only"


def fix_lines(detail: AlertDetail) -> list[str]:
    """What fixes the alert, in a link's words: the form here (``e``) where one does, and the
    command an engineer runs (:func:`~imtui.domain.fixes.fix_commands`) — never the dashboard's
    keys, which nobody here has."""
    alert = detail.alert
    if alert.state != AlertState.OPEN:
        return [f"nothing to do: the alert is {safe(alert.state)}"]
    commands = [safe(line, limit=600) for line in fix_commands(fix_facts(detail))]
    form = fix_form(detail)
    if form is FixForm.MAPPING:
        here = "e opens the ship-method mapping form: saving it releases every order held for it"
    elif form is FixForm.ORDER:
        here = "e opens the order's ship-to form: saving it sends the order again"
    else:
        return ["this page cannot fix it; what does (an engineer, where imtui runs):", *commands]
    return [here, f"or an engineer, where imtui runs: {commands[0]}"]


class LinkBanner(Static):
    """The line at the top of every page of a link's session."""

    def __init__(self, text: str) -> None:
        super().__init__(Content(text), id="link-banner")


class LinkAlertScreen(Screen[None]):
    """The alert, read-only: its title, the remote system's words, what fixes it; ``e`` opens
    the form while one fixes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "fix", "Fix", id="link.fix"),
        LEAVE,
    ]

    def __init__(self, alert_id: int, banner: str) -> None:
        super().__init__()
        self.alert_id = alert_id
        self.banner = banner
        self.detail: AlertDetail | None = None

    @property
    def link(self) -> LinkApp:
        assert isinstance(self.app, LinkApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield LinkBanner(self.banner)
        yield Static(Content(f" Alert {self.alert_id}"), id="detail-title")
        with ScrollText(id="detail"):
            yield Static(Content("loading…"), id="detail-body")
        yield KeyBar()

    def on_screen_resume(self) -> None:
        self._load()  # again after a form closes: the fix may have closed the alert meanwhile

    @work(thread=True, exclusive=True, group="link-alert", exit_on_error=False)
    def _load(self) -> None:
        detail = self.link.backend.alert_detail(self.alert_id)
        self.app.call_from_thread(self._show, detail)

    def _show(self, detail: AlertDetail | None) -> None:
        self.detail = detail
        self.refresh_bindings()
        body = self.query_one("#detail-body", Static)
        if detail is None:
            body.update(Content("this alert is gone (deleted, or never existed)"))
            return
        body.update(Group(*alert_parts(detail)))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "fix":
            return self.detail is not None and fix_form(self.detail) is not None
        return True

    def action_fix(self) -> None:
        self.link.open_fix()


def alert_parts(detail: AlertDetail) -> list[Any]:
    """The alert as the read-only page shows it: every stored word made visible."""
    alert = detail.alert
    title = Text(safe(alert.headline), style="bold")
    state = (
        "open" if alert.state == AlertState.OPEN else f"{alert.state} {stamp(alert.resolved_at)}"
    )
    title.append(f"  {safe(state)}", style="red" if alert.state == AlertState.OPEN else "green")
    parts: list[Any] = [
        title,
        fields(
            [
                ("account", alert.account),
                ("order", alert.order_number),
                ("SKU", alert.sku),
                ("ship method", detail.ship_method_code),
                ("held for it", plural(detail.held_total, "order") if detail.held_total else None),
                ("seen", f"{alert.count}×, last {stamp(alert.last_seen)}"),
            ]
        ),
        Text(
            "\nMessage (a check here, before sending)"
            if alert.kind in LOCAL_KINDS
            else "\nRemote message (verbatim)",
            style="bold",
        ),
        safe_block(alert.message),
        Text("\nWhat fixes it", style="bold"),
    ]
    parts += [Text(line) for line in fix_lines(detail)]
    return parts


class LinkNoteScreen(Screen[None]):
    """A page with nothing to do but read it and leave: the fix saved, or why the link cannot
    open its alert."""

    BINDINGS: ClassVar[list[BindingType]] = [LEAVE]

    def __init__(self, banner: str, text: str) -> None:
        super().__init__()
        self.banner = banner
        self.text = text

    def compose(self) -> ComposeResult:
        yield LinkBanner(self.banner)
        yield Static(Content(self.text), id="link-note")
        yield KeyBar()


class LinkMappingForm(MappingFormScreen):
    """The dashboard's mapping form for the alert's ship method, which stays as it is."""

    def __init__(self, account_id: int, source_code: str, banner: str) -> None:
        super().__init__(account_id, source_code)
        self.banner = banner

    def compose(self) -> ComposeResult:
        yield LinkBanner(self.banner)
        yield from super().compose()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#field-source_code").disabled = True


class LinkOrderForm(OrderFormScreen):
    """The dashboard's form for the alert's order."""

    def __init__(self, order_id: int, banner: str) -> None:
        super().__init__(order_id)
        self.banner = banner

    def compose(self) -> ComposeResult:
        yield LinkBanner(self.banner)
        yield from super().compose()


class LinkApp(HoldsBackend["LinkBackend"], PlainApp):
    """One alert's fix, in the name of the link's person; see the module's docstring."""

    TITLE = "imtui"
    CSS_PATH = style_files()
    # The link's own two styles, here: styles/ is the dashboard's.
    CSS = """
    #link-banner { height: auto; padding: 0 1; background: $accent; color: $text;
                   text-style: bold; }
    #link-note { padding: 1 2; }
    """
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Leave", show=False, priority=True, id="link.quit"),
    ]

    def __init__(
        self,
        backend: LinkBackend | Callable[[], LinkBackend],
        *,
        alert_id: int,
        contact_label: str,
    ) -> None:
        """``backend`` is ready, or a function that opens it (called in a worker thread)."""
        super().__init__()
        self._backend: LinkBackend | None = None
        self._open_backend: Callable[[], LinkBackend] | None = None
        if callable(backend):
            self._open_backend = backend
        else:
            self._backend = backend
        self.alert_id = alert_id
        self.banner = banner_text(contact_label, alert_id)
        self.opening_failure: BaseException | None = None
        """Why the link's alert could not be opened (the page said so)."""

    def on_mount(self) -> None:
        if self._backend is not None:
            self._start()
        else:
            self.push_screen(LinkNoteScreen(self.banner, "opening…"))
            self._open()

    @work(thread=True, exclusive=True, group="open", exit_on_error=False)
    def _open(self) -> LinkBackend:
        assert self._open_backend is not None
        return self._open_backend()

    def _start(self) -> None:
        if isinstance(self.screen, LinkNoteScreen):
            self.switch_screen(LinkAlertScreen(self.alert_id, self.banner))
        else:
            self.push_screen(LinkAlertScreen(self.alert_id, self.banner))
        self.open_fix()

    def on_unmount(self) -> None:
        if self._backend is not None:
            self._backend.close()

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == "open" and event.state is WorkerState.SUCCESS:
            self._backend = worker.result
            self._start()
        elif worker.group == "open" and event.state is WorkerState.ERROR:
            self.opening_failure = worker.error
            why = safe(worker.error, limit=300)
            self.switch_screen(LinkNoteScreen(self.banner, f"this link cannot be opened: {why}"))
        elif event.state is WorkerState.ERROR:
            self.notify(safe(f"{worker.error}", limit=300), severity="error")

    # -- the one route: this alert's fix --------------------------------------------------------

    def open_fix(self) -> None:
        """The form that fixes the alert, over its page (which stays, for esc); nothing when no
        form does."""
        self._route()

    @work(thread=True, exclusive=True, group="link-route", exit_on_error=False)
    def _route(self) -> None:
        detail = self.backend.alert_detail(self.alert_id)
        self.call_from_thread(self._land, detail)

    def _land(self, detail: AlertDetail | None) -> None:
        if detail is None or not isinstance(self.screen, LinkAlertScreen):
            return
        form = fix_form(detail)
        if form is FixForm.MAPPING and detail.ship_method_code:
            screen: FormScreen[None] = LinkMappingForm(
                detail.alert.account_id, detail.ship_method_code, self.banner
            )
        elif form is FixForm.ORDER and detail.alert.order_id is not None:
            screen = LinkOrderForm(detail.alert.order_id, self.banner)
        else:
            return  # the alert's page says what fixes it
        self.push_screen(screen, self._form_closed)

    def _form_closed(self, _result: None) -> None:
        """Back on the alert's page (cancelled), or — once the fix saved — the done page."""
        saved = self.backend.saved
        if saved is not None:
            self.switch_screen(LinkNoteScreen(self.banner, f"{safe(saved, limit=600)}. {DONE}"))

    @on(ActionDone)
    def _action_done(self, message: ActionDone) -> None:
        """The order form's report: nothing is sent from here (the workers send it), and the
        done page says what was saved."""

    # -- what the screens ask of the app ---------------------------------------------------------

    async def action_quit(self) -> None:
        """Leave (the session ends) — asking first when a form holds typed changes."""
        leave_unless_typed(self, "Leave")


def run_link_session(database: Database, *, alert_id: int, actor: str, contact_label: str) -> None:
    """Run the link's app until the person leaves (blocking). In a textual-serve subprocess the
    TEXTUAL_DRIVER it sets makes this the browser's session."""

    def open_backend() -> LinkBackend:
        from imtui.tui.link_backend import LinkBackend

        return LinkBackend(database, alert_id=alert_id, actor=actor)

    LinkApp(open_backend, alert_id=alert_id, contact_label=contact_label).run()
