"""The dashboard's one way into the product: reads through the store's read modules
(:mod:`imtui.store.order_reads`, :mod:`~imtui.store.alert_reads`, …) and
:mod:`imtui.store.windows`, actions through the engine's action modules
(:mod:`imtui.engine.order_actions`, …), sends through the engine. Every method here but the
async ones blocks on the database: call them from a thread worker, never from the event loop.

This module is the heavy half of the dashboard (SQLAlchemy, the engine, httpx): the app imports
it in a worker after its first paint, never at start. The engine itself is built later still,
once the first rows are on screen (:meth:`Backend.build_engine`, :meth:`Backend.start_engine`).

The engine runs in this process but never on the app's event loop: on a
:class:`~imtui.service.ServiceThread`, a thread with a loop of its own, so the CPU a storm of
sends costs never holds up a key. Every engine coroutine here is awaited through it.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from imtui.domain.alerts import CHANNEL_OPERATIONS
from imtui.domain.contacts import DEFAULT_DAILY_HOUR
from imtui.domain.records import Address
from imtui.domain.retry import Operation, RetryState
from imtui.engine import (
    action_rules,
    alert_actions,
    contact_actions,
    mapping_actions,
    order_actions,
)
from imtui.engine.clock import Clock, SystemClock, reading_at, speed_of
from imtui.notify.settings import EmailSettingsError, load_email_settings
from imtui.store import (
    account_reads,
    alert_details,
    alert_reads,
    contacts,
    order_reads,
    outbox,
    overview_reads,
    queue_reads,
    windows,
)
from imtui.store.beats import running_elsewhere
from imtui.store.changes import ChangeProbe
from imtui.store.contacts import ContactRow
from imtui.store.database import Database, describe_url, one_line
from imtui.store.outbox import OutboxCounts, OutboxDetail, OutboxRow
from imtui.store.people import access_of, actor_of
from imtui.store.rows import (
    CONTACT_SORTS,
    MAPPING_SORTS,
    AccountRow,
    AlertDetail,
    AlertRow,
    AttemptRow,
    AuditRow,
    HeaderCounts,
    MappingRow,
    OrderDetail,
    OrderRow,
    Position,
    RetryRow,
    Window,
    window_of_list,
)
from imtui.tui.filters import (
    AlertQuery,
    AuditQuery,
    ContactQuery,
    MappingQuery,
    OrderQuery,
    OutboxQuery,
    QueueQuery,
)
from imtui.tui.messages import EngineNotStarted, Refused
from imtui.tui.setup_backend import SetupBackend

if TYPE_CHECKING:
    from imtui.engine.runtime import Engine
    from imtui.service import Service, ServiceThread

    EngineFactory = Callable[[Database], tuple[Engine, Service | None]]

T = TypeVar("T")

BULK_PAGE = 500

ENGINE_NICE = 10
"""How much lower the engine's thread's CPU priority is than the screen's: in a storm of
sends the engine, its database threads and the screen all want the two cores, and a key must
not wait for the engine's time slice. Delivery is I/O-bound and keeps its rate (benchmarks/
dashboard.py --only storm, 2 cores: key → repaint p95 15-35 ms with it, 27-71 ms without)."""


@dataclass(slots=True)
class ActionReport:
    """What a (bulk) action did: how many rows, what to send now, what went wrong."""

    done: int = 0
    to_send: dict[Operation, list[int]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def send(self, operation: str, item_id: int) -> None:
        self.to_send.setdefault(Operation(operation), []).append(item_id)

    def summary(self, verb: str) -> str:
        text = f"{verb} {self.done}"
        if self.errors:
            text += f"; {len(self.errors)} refused: {self.errors[0]}"
        return text


NAMED_FAILURES = 2
"""How many failures a send-now result names, with the remote system's words."""


@dataclass(frozen=True, slots=True)
class SendResult:
    """What sending rows at once came to, and why the ones that did not get through failed."""

    total: int = 0
    sent: int = 0
    failures: tuple[RetryRow, ...] = ()
    """The first few rows still waiting, as they are after the try (last error, next try)."""
    left: dict[str, int] = field(default_factory=dict)
    """How many rows not sent are in each queue state ("held", "due", …)."""
    left_to_workers: bool = False
    """Nothing was sent here: on a team database the workers send (see Backend.sends_here)."""

    def summary(self) -> str:
        """ "sent 0 of 6 now; 4 held for a person, 2 to be tried again — #1007, #1008: <the
        remote's words>": what happened first, then why, each reason once."""
        if self.left_to_workers:
            return f"queued {self.total}: the workers send them on their next cycle"
        text = f"sent {self.sent} of {self.total} now"
        held = self.left.get(RetryState.HELD, 0)
        later = sum(n for state, n in self.left.items() if state != RetryState.HELD)
        counts = [f"{held} held for a person"] if held else []
        counts += [f"{later} to be tried again"] if later else []
        if counts:
            text += "; " + ", ".join(counts)
        by_reason: dict[str, list[str]] = {}
        for row in self.failures:
            reason = (row.last_error or row.state).splitlines()[0]
            by_reason.setdefault(reason, []).append(row.subject_label)
        if by_reason:
            text += " — " + "; ".join(f"{', '.join(o)}: {r}" for r, o in by_reason.items())
        if sum(self.left.values()) > len(self.failures):
            text += " (see the queue)"
        return text


class Backend(SetupBackend):
    def __init__(
        self,
        database: Database,
        engine: Engine | None = None,
        *,
        service: Service | None = None,
        actor: str | None = None,
        engine_factory: EngineFactory | None = None,
        runs_worker: bool = False,
    ) -> None:
        """Either an ``engine`` (and the ``service`` running it), already built, or an
        ``engine_factory`` that builds them in :meth:`build_engine`; ``runs_worker`` says
        whether the factory's will run the engine's cycle here (for the header meanwhile).
        A service running on a :class:`~imtui.service.ServiceThread` already (the demo's) is
        used there and left to whoever started it; any other runs on a thread made here."""
        self.db = database
        self.engine = engine
        self.service = service
        self.actor = actor or self._read(actor_of)
        self.access = self._read(access_of)
        """Who is at the keyboard and what they may do: the screens hide the keys of what
        they may not, and say why when one is pressed anyway."""
        self.probe = ChangeProbe(database)
        self._engine_factory = engine_factory
        self._expects_worker = runs_worker
        self._clock: Clock = engine.clock if engine is not None else SystemClock()
        self._runner: ServiceThread | None = service.thread if service is not None else None
        self._owns_runner = False
        """Whether :attr:`_runner` was made here (and so is stopped here)."""
        self._runner_lock = threading.Lock()
        self._engine_closed = False
        """Once stopping began, no engine thread is made any more."""

    @property
    def clock(self) -> Clock:
        return self._clock

    def now(self) -> datetime:
        return self._clock.now()

    @property
    def where(self) -> str:
        return describe_url(self.db.url)

    def close(self) -> None:
        self.probe.close()

    # -- reads ------------------------------------------------------------------------------

    def _read(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self.db.read() as session:
            return work(session, *args, **kwargs)

    def changed(self) -> bool:
        return self.probe.changed()

    def header(self, account_id: int | None) -> HeaderCounts:
        """The header's counts, with how far the accounts in view are set up (the first-run
        screen, the paused connections), in one read."""

        def read(session: Any) -> HeaderCounts:
            counts = overview_reads.header_counts(session, now=self.now(), account_id=account_id)
            return counts._replace(setup=account_reads.setup_state(session, account_id=account_id))

        return self._read(read)

    def audit(self, query: AuditQuery, position: Position, size: int) -> Window[AuditRow]:
        return self._read(windows.audit_window, query.filter, position, size=size)

    def accounts(self) -> list[AccountRow]:
        return self._read(account_reads.list_accounts)

    def alerts(self, query: AlertQuery, position: Position, size: int) -> Window[AlertRow]:
        return self._read(
            windows.alerts_window,
            query.filter,
            position,
            size=size,
            sort=query.sort,
            search=query.search,
        )

    def orders(self, query: OrderQuery, position: Position, size: int) -> Window[OrderRow]:
        return self._read(
            windows.orders_window,
            query.filter,
            position,
            size=size,
            sort=query.sort,
            ship_method=query.ship_method,
        )

    def queue(self, query: QueueQuery, position: Position, size: int) -> Window[RetryRow]:
        return self._read(
            windows.queue_window,
            query.filter,
            position,
            size=size,
            sort=query.sort,
            search=query.search,
        )

    def order_detail(self, order_id: int) -> OrderDetail | None:
        return self._read(order_reads.order_detail, order_id, attempts_limit=200)

    def alert_rows(self, alert_ids: list[int]) -> list[AlertRow]:
        return self._read(alert_reads.alert_rows, alert_ids)

    def held_behind(self, alert_ids: list[int]) -> int:
        return self._read(alert_details.held_behind, alert_ids)

    def alert_detail(self, alert_id: int) -> AlertDetail | None:
        return self._read(alert_details.alert_detail, alert_id)

    def retry_row(self, item_id: int) -> RetryRow | None:
        return self._read(queue_reads.retry_row, item_id)

    def last_attempt(self, item_id: int) -> AttemptRow | None:
        return self._read(queue_reads.last_attempt, item_id)

    def mappings(self, account_id: int | None = None) -> list[MappingRow]:
        return self._read(account_reads.list_mappings, account_id=account_id)

    def mapping_window(
        self, query: MappingQuery, position: Position, size: int
    ) -> Window[MappingRow]:
        every = self.mappings(query.account_id)
        return window_of_list(every, position, size, MAPPING_SORTS[query.sort])

    def delete_mappings(self, mapping_ids: Iterable[int]) -> ActionReport:
        """Delete these mappings (by id); orders with their methods are held from then on."""

        def delete(session: Any, mapping_id: int) -> str:
            return mapping_actions.delete_mapping_by_id(
                session, mapping_id=mapping_id, actor=self.actor, now=self.now()
            )

        return self._each(mapping_ids, delete)

    def count_alerts(self, query: AlertQuery) -> int:
        return self._read(windows.count_alerts, query.filter, query.search)

    def count_orders(self, query: OrderQuery) -> int:
        return self._read(windows.count_orders, query.filter, query.ship_method)

    def count_queue(self, query: QueueQuery) -> int:
        return self._read(windows.count_queue, query.filter, query.search)

    # -- actions (each in its own write transaction, audited by the action itself) ----------

    def _each(
        self, ids: Iterable[int], act: Callable[[Any, int], Any], *, sends: bool = False
    ) -> ActionReport:
        """``act(session, id)`` for each row in its own write, so one refused row does not undo
        the others; with ``sends``, what it returns is a queue row to send now."""
        report = ActionReport()
        for row_id in ids:
            try:
                with self.db.write() as session:
                    result = act(session, row_id)
                    if sends:
                        report.send(result.operation, result.id or 0)
                report.done += 1
            except action_rules.ActionError as exc:
                report.errors.append(str(exc))
        return report

    def resend_orders(self, order_ids: Iterable[int]) -> ActionReport:
        return self._each(
            order_ids,
            lambda session, order_id: order_actions.resend_order(
                session, order_key=str(order_id), actor=self.actor, now=self.now()
            ),
            sends=True,
        )

    def resend_items(self, item_ids: Iterable[int]) -> ActionReport:
        return self._each(
            item_ids,
            lambda session, item_id: order_actions.resend_item(
                session, item_id=item_id, actor=self.actor, now=self.now()
            ),
            sends=True,
        )

    def resend_for_alerts(self, alert_ids: Iterable[int]) -> ActionReport:
        """Resend what each alert is about: its order, its row in the queue, or — for an
        outage of a connection and channel — every row on it waiting for its next try."""
        report = ActionReport()
        item_ids: list[int] = []
        for alert_id in alert_ids:
            detail = self.alert_detail(alert_id)
            if detail is None:
                report.errors.append(f"no alert {alert_id}")
                continue
            alert = detail.alert
            operation, _, subject = (alert.subject or "").partition(":")
            if operation in CHANNEL_OPERATIONS and subject.isdigit():
                item = self._read(
                    windows.retry_row_for, CHANNEL_OPERATIONS[operation], int(subject)
                )
                if item is not None:
                    item_ids.append(item.id)
                    continue
            if operation in CHANNEL_OPERATIONS and not subject and alert.connection_id:
                waiting = self._read(
                    windows.due_on_connection, alert.connection_id, CHANNEL_OPERATIONS[operation]
                )
                if waiting:
                    item_ids += waiting
                    continue
            if alert.order_id is not None:
                partial = self.resend_orders([alert.order_id])
                report.done += partial.done
                report.errors += partial.errors
                for op, ids in partial.to_send.items():
                    report.to_send.setdefault(op, []).extend(ids)
            else:
                report.errors.append(
                    f"alert {alert_id} is about the connection: it is retried every cycle"
                )
        partial = self.resend_items(item_ids)
        report.done += partial.done
        report.errors += partial.errors
        for op, ids in partial.to_send.items():
            report.to_send.setdefault(op, []).extend(ids)
        return report

    def dismiss_alerts(self, alert_ids: Iterable[int]) -> ActionReport:
        return self._each(
            alert_ids,
            lambda session, alert_id: alert_actions.dismiss(
                session, alert_id=alert_id, actor=self.actor, now=self.now()
            ),
        )

    def edit_order(self, order_id: int, changes: dict[str, str]) -> ActionReport:
        """Raises Refused when the change is refused; nothing is changed then."""
        report = ActionReport()
        try:
            with self.db.write() as session:
                item = order_actions.edit_order(
                    session,
                    order_key=str(order_id),
                    changes=changes,
                    actor=self.actor,
                    now=self.now(),
                )
                report.send(item.operation, item.id or 0)
        except action_rules.ActionError as exc:
            raise Refused(str(exc)) from exc
        report.done = 1
        return report

    @staticmethod
    def address_problems(fields: dict[str, str]) -> dict[str, list[str]]:
        """Each problem with a ship-to address, by field (no database: safe on the loop)."""
        problems: dict[str, list[str]] = {}
        for error in order_actions.address_errors(Address(**fields)):
            problems.setdefault(error.field, []).append(error.message)
        return problems

    def set_mapping(
        self, account_id: int, source_code: str, carrier: str, mode: str, billing_code: str
    ) -> int:
        """Raises Refused when refused. Returns how many held orders it released (B9)."""
        try:
            with self.db.write() as session:
                account = action_rules.account_for(session, str(account_id))
                _, released = mapping_actions.set_mapping(
                    session,
                    account=account,
                    source_code=source_code,
                    carrier=carrier,
                    mode=mode,
                    billing_code=billing_code or "Prepaid",
                    actor=self.actor,
                    now=self.now(),
                )
        except action_rules.ActionError as exc:
            raise Refused(str(exc)) from exc
        return released

    # -- alert contacts and the outbox (the email layer) ---------------------------------------

    def contacts(self, query: ContactQuery, position: Position, size: int) -> Window[ContactRow]:
        every = self._read(contacts.list_contacts, account_id=query.account_id)
        return window_of_list(every, position, size, CONTACT_SORTS[query.sort])

    def contact(self, contact_id: int) -> ContactRow | None:
        return self._read(contacts.contact_row, contact_id)

    @staticmethod
    def contact_problems(name: str, email: str, frequency: str) -> dict[str, list[str]]:
        """Each problem with a contact's fields, by field (no database: safe on the loop)."""
        problems: dict[str, list[str]] = {}
        for error in contact_actions.contact_errors(name=name, email=email, frequency=frequency):
            problems.setdefault(error.field, []).append(error.message)
        return problems

    def save_contact(
        self, contact_id: int | None, account_id: int, name: str, email: str, frequency: str
    ) -> str:
        """Add (``contact_id`` None) or change a contact; Refused when the input is refused."""
        try:
            with self.db.write() as session:
                if contact_id is None:
                    account = action_rules.account_for(session, str(account_id))
                    contact = contact_actions.add_contact(
                        session,
                        account=account,
                        name=name,
                        email=email,
                        frequency=frequency,
                        actor=self.actor,
                        now=self.now(),
                    )
                    return f"added {contact.name} <{contact.email}>"
                contact = contact_actions.edit_contact(
                    session,
                    contact_id=contact_id,
                    name=name,
                    email=email,
                    frequency=frequency,
                    actor=self.actor,
                    now=self.now(),
                )
                return f"saved {contact.name} <{contact.email}>"
        except action_rules.ActionError as exc:
            raise Refused(str(exc)) from exc

    def delete_contacts(self, contact_ids: Iterable[int]) -> ActionReport:
        return self._each(
            contact_ids,
            lambda session, contact_id: contact_actions.delete_contact(
                session, contact_id=contact_id, actor=self.actor, now=self.now()
            ),
        )

    def outbox(self, query: OutboxQuery, position: Position, size: int) -> Window[OutboxRow]:
        return self._read(windows.outbox_window, query.filter, position, size=size, sort=query.sort)

    def outbox_counts(self, account_id: int | None) -> OutboxCounts:
        return self._read(outbox.outbox_counts, account_id=account_id)

    def outbox_detail(self, email_id: int) -> OutboxDetail | None:
        return self._read(outbox.outbox_detail, email_id)

    def send_emails_now(self, email_ids: Iterable[int]) -> ActionReport:
        return self._each(
            email_ids,
            lambda session, email_id: contact_actions.send_email_now(
                session, email_id=email_id, actor=self.actor, now=self.now()
            ),
        )

    def cancel_emails(self, email_ids: Iterable[int]) -> ActionReport:
        return self._each(
            email_ids,
            lambda session, email_id: contact_actions.cancel_email(
                session, email_id=email_id, actor=self.actor, now=self.now()
            ),
        )

    # -- "all matching the filter" ------------------------------------------------------------

    def _all_ids(self, page_of: Callable[..., list[int]], *args: Any) -> list[int]:
        ids: list[int] = []
        after: int | None = None
        while True:
            page = self._read(page_of, *args, after_id=after, limit=BULK_PAGE)
            ids += page
            if len(page) < BULK_PAGE:
                return ids
            after = page[-1]

    def matching_order_ids(self, query: OrderQuery) -> list[int]:
        return self._all_ids(windows.order_ids, query.filter, query.ship_method)

    def matching_alert_ids(self, query: AlertQuery) -> list[int]:
        return self._all_ids(windows.alert_ids, query.filter, query.search)

    def matching_item_ids(self, query: QueueQuery) -> list[int]:
        return self._all_ids(windows.retry_item_ids, query.filter, query.search)

    # -- the engine ---------------------------------------------------------------------------

    def build_engine(self) -> None:
        """Build the engine, its service and the thread they run on, if a factory was given
        (blocking: the imports of the engine, httpx and APScheduler are most of the cost; call
        it from a thread)."""
        self._engine_thread()

    def _engine_thread(self) -> ServiceThread | None:
        """The thread the engine runs on, made the first time (blocking; from a thread)."""
        with self._runner_lock:
            if self._runner is not None or self._engine_closed:
                return self._runner
            from imtui.service import ServiceThread

            if self.engine is None:
                if self._engine_factory is None:
                    return None
                engine, service = self._engine_factory(self.db)
                self._runner = ServiceThread(engine, service, nice=ENGINE_NICE)
                self.engine, self.service = engine, service
                self._clock = engine.clock
            elif self.service is not None and not self.service.scheduler.scheduler.running:
                self._runner = ServiceThread(self.engine, self.service, nice=ENGINE_NICE)
            else:
                # An engine handed in without the service to run it (or with one running
                # already, elsewhere) stays its caller's, on the caller's loop: its HTTP clients
                # belong to that loop. Sends go through one of this backend's own, alike.
                from imtui.engine.runtime import Engine

                given = self.engine
                self._runner = ServiceThread(
                    Engine(self.db, clock=given.clock, settings=given.settings, owner=given.owner),
                    nice=ENGINE_NICE,
                )
            self._owns_runner = True
            return self._runner

    async def _runner_ready(self) -> ServiceThread | None:
        return self._runner or await asyncio.to_thread(self._engine_thread)

    async def start_engine(self) -> None:
        """Start the service's periodic jobs on the engine's thread, unless they run already
        (the demo's). Raises EngineNotStarted, in one line, when the service could not start
        (a database another process holds): the app says so and tries again later."""
        runner = await self._runner_ready()
        service = self.service
        if runner is None or service is None or service.scheduler.scheduler.running:
            return
        try:
            await runner.start()
        except Exception as exc:  # a locked database, a lost server: say it, retry later
            raise EngineNotStarted(one_line(exc)) from exc

    def stop_engine_soon(self, grace: float = 10.0) -> None:
        """Begin :meth:`stop_engine` without waiting for it (the app, as it leaves)."""
        with self._runner_lock:
            self._engine_closed = True
            runner = self._runner if self._owns_runner else None
        if runner is not None:
            runner.stop_soon(grace)

    async def stop_engine(self, grace: float = 10.0) -> None:
        """Stop the engine's thread made here — the service started on it, the engine's HTTP
        clients — within ``grace`` seconds and a small margin; nothing else (the demo's thread
        is the demo's to stop)."""
        self.stop_engine_soon(grace)
        if self._runner is not None and self._owns_runner:
            await self._runner.stop(grace)

    async def send_now(self, to_send: dict[Operation, list[int]]) -> SendResult:
        """Send these rows at once in this process (B4), on the engine's thread: how many got
        through, and the remote system's words for the first few that did not."""
        total = sum(len(ids) for ids in to_send.values())
        if not self.sends_here:
            return SendResult(total=total, left_to_workers=True)
        runner = await self._runner_ready()
        if runner is None:
            return SendResult(total=total)
        engine = runner.engine
        succeeded = 0
        for operation, item_ids in to_send.items():
            for start in range(0, len(item_ids), 100):
                batch = item_ids[start : start + 100]
                stats = await runner.run(partial(engine.send_now, operation, batch))
                succeeded += stats.succeeded
        if succeeded == total:
            return SendResult(total=total, sent=succeeded)
        ids = [item_id for item_ids in to_send.values() for item_id in item_ids]
        rows, left = await asyncio.to_thread(
            self._read, queue_reads.waiting_rows, ids, NAMED_FAILURES
        )
        return SendResult(total=total, sent=succeeded, failures=tuple(rows), left=left)

    @property
    def sends_here(self) -> bool:
        """Whether "send now" sends in this process. On a team's PostgreSQL only the workers
        (the owner's login) send: an engineer's session may lack the secret key, and must not
        pause a merchant's connection for it (docs/design.md, "A team on one PostgreSQL")."""
        return self.db.is_sqlite or self.access.owner

    def wake(self) -> None:
        """Run the next cycle now (after a new mapping released held orders); from any thread."""
        runner = self._runner
        if runner is not None and runner.service is not None:
            runner.wake()
        elif self.service is not None:  # handed in running on another loop: it hops there
            self.service.wake()

    # What follows reads, as plain attributes, what the engine's thread writes (its scheduler's
    # next run and last error, the mailer's settings): safe from the app's thread as it is.

    @property
    def runs_worker(self) -> bool:
        return self.service is not None or self._expects_worker

    def next_run(self) -> datetime | None:
        """When the engine's next cycle starts, on the engine's clock (the demo's runs fast:
        its details and ages read that clock, so the header must too)."""
        if self.service is None or not self.service.scheduler.scheduler.running:
            return None
        when = self.service.scheduler.next_run_time
        return None if when is None else reading_at(self._clock, when)

    def engine_elsewhere(self, counts: HeaderCounts | None) -> bool | None:
        """For a dashboard running no engine: whether one runs elsewhere on this database
        (None: this one runs it, or nothing was read yet)."""
        if self.runs_worker or counts is None:
            return None
        return running_elsewhere(counts.engine_beat, self.now())

    def clock_speed(self) -> float | None:
        """How much faster than real time the engine's clock runs (the demo), if it does."""
        return speed_of(self._clock)

    def email_off(self) -> str | None:
        """Why this process sends no alert email, if it does not (None when a separate worker
        sends it: that process's settings are not known here)."""
        return None if self.service is None else self.service.mailer.why_off()

    def digest_hour(self) -> int:
        """The hour (UTC) daily digests go out: the email jobs' setting here, else what a
        separate worker reads from the environment, else the default."""
        if self.service is not None:
            return self.service.mailer.settings.digest_hour
        try:
            return load_email_settings().digest_hour
        except EmailSettingsError:  # another setting is wrong: this one may still be right
            raw = os.environ.get("IMTUI_DIGEST_HOUR", "").strip()
            return int(raw) if raw.isdigit() and int(raw) < 24 else DEFAULT_DAILY_HOUR

    def worker_error(self) -> str | None:
        return None if self.service is None else self.service.scheduler.last_error
