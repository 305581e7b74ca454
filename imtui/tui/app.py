"""The dashboard application: it routes — which screen is showing, what a key opens — and keeps
the panes live (a :class:`~imtui.tui.watcher.Watcher` says when something was committed). Screens
own their panes; the data comes through :class:`Backend`.

It starts in steps, so the first rows are on screen as soon as the database can give them: the
frame is painted first (this module imports no database code); the first rows come from a helper
process that read them meanwhile, if the command line started one; a worker then opens the
backend — SQLAlchemy, the database — and the panes re-read their windows through it; and only
once those rows are painted is the engine built and started (httpx, APScheduler). If the
database cannot be opened, the app exits with :attr:`DashboardApp.opening_failure` set, for the
command line to report in one line.

Live updates cost next to nothing when nothing happens: every quarter second one thread asks the
database whether anything was committed (``PRAGMA data_version`` on SQLite); only when something
was do the panes re-read their windows, and only cells whose text changed are repainted.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Protocol

from textual import on, work
from textual.app import SystemCommand
from textual.content import Content
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from imtui.domain.states import METHOD_HOLD_KINDS, AlertKind, AlertState, OrderStatus
from imtui.store.rows import FirstScreen, HeaderCounts, OrderRow
from imtui.tui.commands import ActionCommands
from imtui.tui.fixes import FixForm, fix_form
from imtui.tui.holder import HoldsBackend, PlainApp
from imtui.tui.keymap import APP_KEYS, bindings, load_keymap
from imtui.tui.messages import ActionDone, EngineNotStarted
from imtui.tui.screens.dashboard import NEED_DATABASE, DashboardScreen
from imtui.tui.text import display_zone, safe
from imtui.tui.watcher import DatabaseChanged, Watcher, WatchFailed
from imtui.tui.widgets.status import StatusHeader

if TYPE_CHECKING:
    from imtui.tui.backend import Backend

STYLES = Path(__file__).resolve().parent.parent / "styles"
"""``styles/`` at the repository root, reached through the ``imtui/styles`` link and shipped in
the wheel as package data."""


NO_FORM_HOLDS = frozenset({AlertKind.UNKNOWN_SKU, AlertKind.CREDENTIALS_REJECTED})
"""Holds no form here fixes (the WMS must learn the SKU; the connection needs credentials)."""


OTHER_SCREENS = (
    "accounts", "audit", "confirm", "connection_form", "contact_form", "detail", "form", "help",
    "lists", "mapping_form", "order_form", "setup",
)  # fmt: skip
"""The screens besides the dashboard (imtui.tui.screens.*): imported where they are opened, not
with this module — a sixth of the dashboard's start over a bare Textual app's was loading
screens nobody had asked for yet (issue 15) — and ahead of the first key that opens one, once
the database is open (:func:`load_screens`)."""


def load_screens() -> None:
    for name in OTHER_SCREENS:
        importlib.import_module(f"imtui.tui.screens.{name}")


def style_files() -> list[str | PurePath]:
    return [*sorted(STYLES.glob("*.tcss"))]


FIRST_STYLES = STYLES / "dashboard.tcss"
"""The dashboard's own rules (its panes, the list screens' panes, the filter line): the only
ones parsed before the first paint. The rest (:data:`LATER_STYLES`) style screens that do not
exist yet; parsing them was 2 ms of the first frame."""
LATER_STYLES = [path for path in style_files() if path != FIRST_STYLES]


class FirstScreenSource(Protocol):
    """The first screen read elsewhere (the command line's helper process)."""

    def answered(self, within: float) -> bool:
        """Whether it is read, waiting at most ``within`` seconds."""
        ...

    def answer(self) -> FirstScreen | None:
        """What was read, waiting for it (None: nothing, the app reads for itself)."""
        ...


class StartAt(NamedTuple):
    """Where the dashboard opens: ``imtui open alert/<id>`` lands on that alert's fix."""

    alert_id: int | None = None
    alerts_filter: str = ""
    """What the Alerts pane shows first, as typed after ``/`` (the demo: ``state:all``)."""


class DashboardApp(HoldsBackend["Backend"], PlainApp):
    TITLE = "imtui"
    CSS_PATH = [FIRST_STYLES]
    BINDINGS = bindings(APP_KEYS)
    COMMANDS: ClassVar[set[Any]] = {ActionCommands}  # which lists Textual's kept ones too
    COMMAND_PALETTE_BINDING = "ctrl+p"

    PROBE_SECONDS = 0.25
    TICK_SECONDS = 1.0
    ENGINE_RETRY_SECONDS = 5.0
    """How soon an engine that could not start here is tried again."""
    FIRST_SCREEN_WAIT_S = 0.15
    """How long the first frame waits for the first screen's rows, when they are not read yet:
    a frame without them costs a paint, and another when they come."""
    ENGINE_STOP_SECONDS = 10.0
    """How long the engine started here has, as the app leaves, to record what it sends."""

    def __init__(
        self,
        backend: Backend | Callable[[], Backend],
        *,
        start: StartAt | None = None,
        keymap: dict[str, str] | None = None,
        live: bool = True,
        first_screen: FirstScreenSource | None = None,
    ) -> None:
        """``backend`` is ready, or a function that opens it (called in a worker thread);
        ``first_screen`` has the first rows read elsewhere: in the first frame if they come
        soon enough, else as soon as they come."""
        super().__init__()
        self._first_screen = first_screen
        self._first_screen_shown = False
        self._typed_ahead: list[tuple[str, DashboardScreen]] = []
        """Keys that need the database, pressed before it was open: run once it is."""
        self._backend: Backend | None = None
        self._open_backend: Callable[[], Backend] | None = None
        if callable(backend):
            self._open_backend = backend
        else:
            self._backend = backend
        self.start = start or StartAt()
        self.user_keymap = load_keymap() if keymap is None else keymap
        self.live = live
        self.account_id: int | None = None
        self.account_name = "All accounts"
        self.counts: HeaderCounts | None = None
        self.opening_error: str | None = None
        self.engine_error: str | None = None
        """Why the engine could not start here, until it does."""
        self.opening_failure: BaseException | None = None
        """Why the database could not be opened; the app has exited (the caller reports it)."""
        self._engine_requested = False
        self._watcher: Watcher | None = None
        self._open_waits = False
        self._later_styles = False
        self._stale: set[Screen[Any]] = set()
        """Screens a change was not shown on, being covered: read again when uncovered."""

    def now(self) -> datetime:
        """The engine's clock once the backend is open; the wall clock until then."""
        return self._backend.now() if self._backend is not None else datetime.now(UTC)

    # -- start and stop ----------------------------------------------------------------------

    def push_screen(self, *args: Any, **kwargs: Any) -> Any:
        """Every other screen's rules are in the stylesheet before it is pushed (Textual's
        per-screen CSS_PATH would parse every source again when a screen first opens)."""
        self._load_later_styles()
        return super().push_screen(*args, **kwargs)

    def _load_later_styles(self) -> None:
        """Add the other screens' rules behind the first paint. No widget on screen matches
        them (a test holds that), so only screens styled from now on take them."""
        if not self._later_styles:
            self._later_styles = True
            for path in LATER_STYLES:
                self.stylesheet.read(path)
            self.stylesheet.parse()

    def get_default_screen(self) -> DashboardScreen:
        """The dashboard is the app's first screen (not pushed over Textual's blank one, which
        cost a second screen's styles and layout before the first paint), with the first
        screen's rows in it when the helper has them."""
        first = self._first_screen_now()
        return DashboardScreen(
            self.account_id,
            alerts_filter=self.start.alerts_filter,
            first_alerts=first.alerts if first is not None else None,
        )

    def _first_screen_now(self) -> FirstScreen | None:
        if self._first_screen is None or self._backend is not None:
            return None
        if not self._first_screen.answered(within=self.FIRST_SCREEN_WAIT_S):
            return None  # a worker waits for it (on_mount)
        first, self._first_screen = self._first_screen.answer(), None
        if first is not None:
            self.counts = first.counts
            self._first_screen_shown = True
        return first

    def on_mount(self) -> None:
        if self.user_keymap:
            self.set_keymap(self.user_keymap)
        # At once, inside the change: a covered screen's re-read begins before the paint
        # decides (frames.py), so its rows are read, not shown old and then new.
        self.screen_change_signal.subscribe(self, self._screen_shown, immediate=True)
        _, bad_zone = display_zone()
        if bad_zone:
            self.notify(bad_zone, severity="warning", timeout=10)
        self._paint_header()
        if self._backend is not None:
            self._backend_ready()
        elif self._first_screen is not None:
            self._wait_for_first_screen()
        elif self._first_screen_shown:
            self._open_after_paint()  # as below: after the paint of the first rows
        else:
            self._open()

    @work(thread=True, exclusive=True, group="first-screen", exit_on_error=False)
    def _wait_for_first_screen(self) -> FirstScreen | None:
        assert self._first_screen is not None
        return self._first_screen.answer()

    def _show_first_screen(self, screen: FirstScreen | None) -> None:
        if screen is not None and self._backend is None:
            self.counts = screen.counts
            self._paint_header()
            self.dashboard.show_first_alerts(screen.alerts)
        # Loading the database layer now would hold up that paint: after it, then.
        self._open_after_paint()

    def _open_after_paint(self) -> None:
        """Open the database once the dashboard has painted, or at once if another screen
        covers it first (a key typed at the start): a covered screen runs its after-paint
        callbacks only when it is on top again, and the database would stay shut till then."""
        self._open_waits = True
        self.call_after_refresh(self._open_now)

    def _open_now(self) -> None:
        if self._open_waits:
            self._open_waits = False
            self._open()

    @work(thread=True, exclusive=True, group="open", exit_on_error=False)
    def _open(self) -> Backend:
        assert self._open_backend is not None
        return self._open_backend()

    @work(thread=True, exclusive=True, group="screens", exit_on_error=False)
    def _load_screens(self) -> None:
        """The other screens, imported behind the painted screen before a key opens one."""
        load_screens()

    async def run_action(
        self,
        action: str | Any,
        default_namespace: Any = None,
        namespaces: Any = None,
    ) -> bool:
        """A dashboard key that opens what the database fills (NEED_DATABASE), pressed before
        the database is open — the first rows are on screen from the first frame — is kept and
        run once it is open, not dropped."""
        if (
            not self.backend_ready
            and isinstance(action, str)
            and isinstance(default_namespace, DashboardScreen)
            and action.split("(")[0] in NEED_DATABASE
        ):
            self._typed_ahead.append((action, default_namespace))
            return True
        return await super().run_action(action, default_namespace, namespaces)

    def _backend_ready(self) -> None:
        self._load_later_styles()
        self._load_screens()  # not in the opening worker: the panes' reads need not wait for it
        typed, self._typed_ahead = self._typed_ahead, []
        for action, screen in typed:
            self.call_later(self.run_action, action, screen)
        if self.start.alert_id is not None:
            self.open_fix(self.start.alert_id)
        if self.live:
            self._watcher = Watcher(
                self.backend,
                self.post_message,
                lambda: self.account_id,
                interval=self.PROBE_SECONDS,
            )
            self._watcher.start()
            self.set_interval(self.TICK_SECONDS, self._tick)
        else:
            self._probe()

    def first_rows_painted(self) -> None:
        """The pane on screen has its first rows: now the engine may start (its imports and
        its first cycle would otherwise compete with the first paint)."""
        if not self._engine_requested and self._backend is not None:
            self._engine_requested = True
            self.call_after_refresh(self._start_engine)

    @work(group="engine", exclusive=True, exit_on_error=False)
    async def _start_engine(self) -> None:
        """Start the engine here; should it fail (a database locked by another process), the
        header says why — not "engine on" — and it is tried again shortly."""
        try:
            await self.backend.start_engine()
        except EngineNotStarted as error:
            self.engine_error = str(error)
            self._paint_header()
            self.set_timer(self.ENGINE_RETRY_SECONDS, self._start_engine)
            return
        self.engine_error = None
        self._paint_header()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Of Textual's own palette entries, only what adds to ours: Keys repeats `?`, and
        Maximize would take a pane out of the layout its keys expect. (Quit runs our
        :meth:`action_quit`, which asks when a form holds typed changes.)"""
        for command in super().get_system_commands(screen):
            if command.title in ("Quit", "Theme", "Screenshot"):
                yield command

    def on_unmount(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
        if self._backend is not None:
            # The engine's thread begins to stop now, beside the app's own shutdown; whoever
            # ran the app waits for it (Backend.stop_engine) once the terminal is given back.
            self._backend.stop_engine_soon(self.ENGINE_STOP_SECONDS)
            self._backend.close()

    @property
    def dashboard(self) -> DashboardScreen:
        return self.get_screen_stack_dashboard()

    def get_screen_stack_dashboard(self) -> DashboardScreen:
        for screen in self.screen_stack:
            if isinstance(screen, DashboardScreen):
                return screen
        raise LookupError("no dashboard screen")

    # -- live ------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="probe", exit_on_error=False)
    def _probe(self) -> None:
        """Once (not live: tests and snapshots); the watcher does this when live."""
        if self.backend.changed():
            self.post_message(DatabaseChanged(self.backend.header(self.account_id)))

    @on(DatabaseChanged)
    def _database_changed(self, message: DatabaseChanged) -> None:
        if not self.is_running:
            return
        self.counts = message.counts
        self._paint_header()
        if self.shows(self.dashboard):
            self.dashboard.show_counts(message.counts)  # else when it is on top again
        if message.rows:
            self._refresh_screens()
        if self._watcher is not None:
            self._watcher.handled()

    def shows(self, screen: Screen[Any]) -> bool:
        """Whether this screen is the one on top, the one kept up to date.

        A screen under another is not updated (its header, its ages, its rows): Textual
        repaints the whole top screen for any change below it — 4 KB a second at 80x24 under
        a detail, for a header nobody can see, 7 KB under help for a dimmed backdrop. It
        catches up when it is on top again."""
        return bool(self.screen_stack) and screen is self.screen

    def _screen_shown(self, screen: Screen[Any]) -> None:
        """On top again: what changed while it was covered is read, its ages and header
        brought up to date (in the one paint the screen change makes)."""
        self._stale &= set(self.screen_stack)  # popped while covered: gone for good
        if not isinstance(screen, DashboardScreen):
            self._open_now()  # if it waited for the dashboard's paint
        if not self.shows(screen):
            return  # covered again already
        if screen in self._stale:
            self._stale.discard(screen)
            refresh = getattr(screen, "refresh_data", None)
            if refresh is not None:
                refresh()
        if isinstance(screen, DashboardScreen):
            if self.counts is not None:
                screen.show_counts(self.counts)
            self._tick()

    @on(WatchFailed)
    def _watch_failed(self, message: WatchFailed) -> None:
        self._show_error(message.error)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == "first-screen":
            if event.state is WorkerState.SUCCESS:
                self._show_first_screen(worker.result)
            elif event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
                self._show_first_screen(None)
        elif worker.group == "open":
            if event.state is WorkerState.SUCCESS:
                self._backend = worker.result
                self._backend_ready()
            elif event.state is WorkerState.ERROR:
                # Nothing on screen can be right without the database: leave, and let the
                # command line say why in one line (``opening_failure``).
                error = worker.error
                self.opening_failure = error
                self.opening_error = safe(f"{error}", limit=200)
                self.exit(return_code=1)
        elif event.state is WorkerState.ERROR:
            self._show_error(worker.error)

    def _show_error(self, error: BaseException | None) -> None:
        self.notify(safe(f"{type(error).__name__}: {error}", limit=300), severity="error")

    def refresh_now(self) -> None:
        """Re-read everything now, changed or not (after an action, a new account)."""
        if self._watcher is not None:
            self._watcher.ask_now()
        else:
            self.backend.probe.forget()
            self._probe()

    def _refresh_screens(self) -> None:
        """Something was committed: the screen on top re-reads now, each covered one when it
        is on top again (:meth:`_screen_shown`)."""
        if not self.screen_stack:
            return  # leaving
        *covered, top = self.screen_stack
        self._stale = {screen for screen in covered if hasattr(screen, "refresh_data")}
        refresh = getattr(top, "refresh_data", None)
        if refresh is None:
            return
        try:
            refresh()
        except NoMatches:
            # A screen opened under another (``imtui open`` lands on a form) may not have
            # composed its panes yet; it reads everything when it does.
            return

    def _tick(self) -> None:
        if not self.is_running:
            # Shutting down: the screens are being taken apart under this timer.
            return
        try:
            dashboard = self.dashboard
        except LookupError:
            return
        from imtui.tui.screens.lists import ListScreen

        if isinstance(self.screen, ListScreen):
            self.screen.tick()
        if self.shows(dashboard):
            dashboard.tick()
            self._paint_header()

    def _paint_header(self) -> None:
        try:
            header = self.dashboard.query_one(StatusHeader)
        except Exception:
            return
        if not self.shows(self.dashboard):
            return  # painted when it is uncovered (_screen_shown)
        backend = self._backend
        if backend is None:
            header.show(
                account=self.account_name,
                runs_worker=False,
                next_run=None,
                worker_error=None,
                counts=None,
                note=self.opening_error or "opening the database…",
            )
            return
        header.show(
            account=self.account_name,
            runs_worker=backend.runs_worker,
            next_run=backend.next_run(),
            worker_error=self.engine_error or backend.worker_error(),
            counts=self.counts,
            speed=backend.clock_speed(),
            elsewhere=backend.engine_elsewhere(self.counts),
        )

    # -- actions: results come back here ---------------------------------------------------------

    @on(ActionDone)
    def _action_done(self, message: ActionDone) -> None:
        report = message.report
        self.notify(
            safe(message.summary, limit=300), severity="error" if report.errors else "information"
        )
        if report.to_send:
            self._send_now(report.to_send)
        self.refresh_now()

    @work(group="send", exit_on_error=False)
    async def _send_now(self, to_send: dict[Any, list[int]]) -> None:
        result = await self.backend.send_now(to_send)
        if result.total:
            self.notify(
                safe(result.summary(), limit=400),
                severity="information" if result.sent == result.total else "warning",
                timeout=8 if result.failures else 4,
            )
        self.refresh_now()

    def act_on_alerts(self, verb: str, ids: list[int]) -> None:
        self._act(
            lambda b: b.resend_for_alerts(ids) if verb == "resend" else b.dismiss_alerts(ids),
            "dismissed" if verb == "dismiss" else "resending",
        )

    def act_on_orders(self, verb: str, ids: list[int]) -> None:
        self._act(lambda b: b.resend_orders(ids), "resending")

    def act_on_items(self, verb: str, ids: list[int]) -> None:
        self._act(lambda b: b.resend_items(ids), "resending")

    @work(thread=True, group="act", exit_on_error=False)
    def _act(self, work: Any, verb: str) -> None:
        report = work(self.backend)
        self.post_message(ActionDone(report, report.summary(verb)))

    def act_on_emails(self, verb: str, ids: list[int]) -> None:
        if verb == "send_now":
            self._act(lambda b: b.send_emails_now(ids), "due now")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._act(lambda b: b.cancel_emails(ids), "cancelled")

        question = Content(f"Cancel email {ids[0]}? It will not be sent.")
        from imtui.tui.screens.confirm import ConfirmScreen

        self.push_screen(ConfirmScreen(question, confirm="Don't send"), answered)

    async def action_quit(self) -> None:
        """q (or ctrl+q) quits at once — unless a form holds typed changes: a q meant for a
        form's button must not throw them away unasked."""
        from imtui.tui.screens.form import leave_unless_typed

        leave_unless_typed(self, "Quit")

    def confirm_dismiss(self, ids: list[int]) -> None:
        """Ask as the dashboard does (the alert's title and words, what stays held), then
        dismiss."""
        self.dashboard.ask_dismiss(ids)

    # -- routes ------------------------------------------------------------------------------

    def open_alert_detail(self, alert_id: int) -> None:
        from imtui.tui.screens.detail import AlertDetailScreen

        self.push_screen(AlertDetailScreen(alert_id))

    def open_order_detail(self, order_id: int) -> None:
        from imtui.tui.screens.detail import OrderDetailScreen

        self.push_screen(OrderDetailScreen(order_id))

    def open_retry_detail(self, item_id: int) -> None:
        from imtui.tui.screens.detail import RetryDetailScreen

        self.push_screen(RetryDetailScreen(item_id))

    def open_order_form(self, order_id: int) -> None:
        from imtui.tui.screens.order_form import OrderFormScreen

        self.push_screen(OrderFormScreen(order_id))

    def open_order_fix(self, order: OrderRow) -> None:
        """An order's fix: the mapping form when it waits for one (as its alert's ``e``), else
        its form — refused at once when the order is in the WMS already."""
        from imtui.tui.screens.order_form import why_not_editable

        refused = why_not_editable(order)
        held = order.hold_reason if order.status == OrderStatus.HELD else None
        if refused:
            self.notify(refused, severity="warning")
        elif held in METHOD_HOLD_KINDS:
            self.open_mapping_form(order.account_id, order.ship_method_code)
        elif held in NO_FORM_HOLDS:
            self._open_what_fixes(order.id)
        else:
            self.open_order_form(order.id)

    @work(thread=True, exclusive=True, group="fix", exit_on_error=False)
    def _open_what_fixes(self, order_id: int) -> None:
        """Nothing in the order's form fixes its hold: the detail of the alert holding it,
        whose "to fix" line says what does (as the alert's own e leads there); the order's
        detail should that alert be gone."""
        detail = self.backend.order_detail(order_id)
        alerts = detail.alerts if detail is not None else []
        open_alert = next((a for a in alerts if a.state == AlertState.OPEN), None)
        if open_alert is not None:
            self.call_from_thread(self.open_alert_detail, open_alert.id)
        else:
            self.call_from_thread(self.open_order_detail, order_id)

    def open_mapping_form(self, account_id: int | None, source_code: str = "") -> None:
        from imtui.tui.screens.mapping_form import MappingFormScreen

        self.push_screen(MappingFormScreen(account_id, source_code))

    def open_contacts(self) -> None:
        from imtui.tui.screens.lists import ContactsScreen

        self.push_screen(ContactsScreen(self.account_id, self.account_name))

    def open_outbox(self) -> None:
        from imtui.tui.screens.lists import OutboxScreen

        self.push_screen(OutboxScreen(self.account_id, self.account_name))

    def open_mappings(self) -> None:
        from imtui.tui.screens.lists import MappingsScreen

        if not isinstance(self.screen, MappingsScreen):
            self.push_screen(MappingsScreen(self.account_id, self.account_name))

    def open_audit(self) -> None:
        from imtui.tui.screens.audit import AuditScreen

        if not isinstance(self.screen, AuditScreen):
            self.push_screen(AuditScreen(None, ""))  # everyone's: no account in the title

    def open_setup(self) -> None:
        from imtui.tui.screens.setup import SetupScreen

        if not isinstance(self.screen, SetupScreen):
            self.push_screen(SetupScreen(self.account_id, self.account_name))

    def open_account_form(self) -> None:
        from imtui.tui.screens.connection_form import AccountFormScreen

        self.push_screen(AccountFormScreen())

    def open_connection_form(
        self, connection_id: int | None, account_id: int | None, *, credentials_only: bool = False
    ) -> None:
        from imtui.tui.screens.connection_form import ConnectionFormScreen

        self.push_screen(
            ConnectionFormScreen(connection_id, account_id, credentials_only=credentials_only)
        )

    def open_contact_form(self, contact_id: int | None, account_id: int | None) -> None:
        from imtui.tui.screens.contact_form import ContactFormScreen

        self.push_screen(ContactFormScreen(contact_id, account_id))

    def open_outbox_detail(self, email_id: int) -> None:
        from imtui.tui.screens.detail import OutboxDetailScreen

        self.push_screen(OutboxDetailScreen(email_id))

    def action_show_pane(self, name: str) -> None:
        """Back to the dashboard, on that pane (from a list screen: 1, 2, 3)."""
        while len(self.screen_stack) > 1 and not isinstance(self.screen, DashboardScreen):
            self.pop_screen()
        self.dashboard.show_pane(name)

    def open_fix(self, alert_id: int) -> None:
        """The fix for an alert: the mapping form, the order form, or the alert's detail."""
        self._open_fix(alert_id)

    @work(thread=True, exclusive=True, group="open-fix", exit_on_error=False)
    def _open_fix(self, alert_id: int) -> None:
        detail = self.backend.alert_detail(alert_id)
        self.call_from_thread(self._route_fix, alert_id, detail)

    def _route_fix(self, alert_id: int, detail: Any) -> None:
        if detail is None:
            self.notify(f"no alert {alert_id}", severity="error")
            return
        alert = detail.alert
        form = fix_form(detail)
        if form is FixForm.MAPPING:
            self.open_mapping_form(alert.account_id, detail.ship_method_code)
        elif form is FixForm.ORDER:
            self.open_order_form(alert.order_id)
        else:
            # Nothing here to edit: the alert's detail, which says what fixes it (once).
            from imtui.tui.screens.detail import AlertDetailScreen

            screen = self.screen
            if not (isinstance(screen, AlertDetailScreen) and screen.key == alert_id):
                self.open_alert_detail(alert_id)

    # -- app-wide keys -----------------------------------------------------------------------

    def action_help(self) -> None:
        from imtui.tui.screens.help import HelpScreen, screen_keys

        screen = self.screen
        here = None if isinstance(screen, DashboardScreen | HelpScreen) else screen_keys(screen)
        self.push_screen(HelpScreen(self.user_keymap, here))

    def action_account(self) -> None:
        self._pick_account()

    @work(thread=True, exclusive=True, group="accounts", exit_on_error=False)
    def _pick_account(self) -> None:
        accounts = self.backend.accounts()
        self.call_from_thread(self._show_accounts, accounts)

    def _show_accounts(self, accounts: list[Any]) -> None:
        def chosen(value: int | str | None) -> None:
            if value == "cancel":
                return
            self.account_id = value if isinstance(value, int) else None
            names = {a.id: a.name for a in accounts}
            self.account_name = names.get(self.account_id, "All accounts")
            self.dashboard.set_account(self.account_id)
            self.counts = None
            self.refresh_now()

        from imtui.tui.screens.accounts import AccountScreen

        self.push_screen(AccountScreen(accounts, self.account_id), chosen)
