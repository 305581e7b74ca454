"""Send re-queued records now, in this process, and say in one line per record what came of it.

The engine does the sending (claim with a lease, send, record the outcome) exactly as the worker
would; a record a worker holds right now, or one waiting on a paused connection, is left to it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import click
from sqlmodel import Session

from imtui.cli.context import AppContext
from imtui.cli.output import first_line, full_time
from imtui.domain.retry import Operation, RetryState
from imtui.store import account_reads, order_reads, queue_reads
from imtui.store.database import Database
from imtui.store.rows import RetryRow

SEND_FAILED = 3
"""Exit status when a record was sent but did not get through."""

CHUNK = 100

SEND_HELP = (
    "Exit status: 0 when every record got through or is queued, 3 when a send failed "
    "(its line says why)."
)


@dataclass(frozen=True, slots=True)
class Resend:
    label: str
    """How the record is named in the outcome line: "#1001", "retry 12 (#1001)"."""
    item_id: int
    operation: Operation


def send_and_report(app: AppContext, resends: list[Resend]) -> int:
    """Send now, print one line each; the exit status (0, or SEND_FAILED if any failed)."""
    with app.db.read() as session:
        before = {r.item_id: _last_attempt_id(session, r.item_id) for r in resends}
    asyncio.run(_send(app.db, resends))
    failed = False
    with app.db.read() as session:
        for resend in resends:
            line, ok = outcome_line(session, resend, before[resend.item_id])
            failed = failed or not ok
            click.echo(line)
    return SEND_FAILED if failed else 0


def send_or_queue(app: AppContext, resends: list[Resend], *, queue_only: bool) -> None:
    """Send now and exit with SEND_FAILED if any failed; or only say they are queued."""
    if queue_only or not sends_here(app.db):
        for resend in resends:
            click.echo(f"{resend.label}: queued; the worker sends it on its next cycle")
        return
    code = send_and_report(app, resends)
    if code:
        click.get_current_context().exit(code)


def sends_here(database: Database) -> bool:
    """On a team's PostgreSQL only the workers (the owner's login) send: an engineer's session
    queues (it may lack the secret key, and must not pause a connection for it)."""
    if database.is_sqlite:
        return True
    from imtui.store.people import access_of

    with database.read() as session:
        return access_of(session).owner


async def _send(database: Database, resends: list[Resend]) -> None:
    """The engine (httpx, the connectors) is imported only here: ``orders`` and ``queue``
    import this module for their lists too."""
    from imtui.engine.runtime import Engine

    engine = Engine(database)
    try:
        by_operation: dict[Operation, list[int]] = {}
        for resend in resends:
            by_operation.setdefault(resend.operation, []).append(resend.item_id)
        for operation, ids in by_operation.items():
            for start in range(0, len(ids), CHUNK):
                await engine.send_now(operation, ids[start : start + CHUNK])
    finally:
        await engine.aclose()


def _last_attempt_id(session: Session, item_id: int) -> int:
    attempt = queue_reads.last_attempt(session, item_id)
    return attempt.id if attempt is not None else 0


def outcome_line(session: Session, resend: Resend, attempt_before: int) -> tuple[str, bool]:
    """``#1001: delivered (WMS order 17)`` or ``#1001: failed — needs_person: …``; and whether
    nothing failed."""
    item = queue_reads.retry_row(session, resend.item_id)
    attempt = queue_reads.last_attempt(session, resend.item_id)
    if item is None:
        return f"{resend.label}: gone from the queue", False
    if attempt is None or attempt.id <= attempt_before:
        return f"{resend.label}: queued — {_why_not_sent(session, item)}", True
    if attempt.ok:
        return f"{resend.label}: {_success(session, item, attempt.outcome)}", True
    message = first_line(attempt.message) or "(no message)"
    return f"{resend.label}: failed — {attempt.outcome}: {message} ({_what_next(item)})", False


def _success(session: Session, item: RetryRow, outcome: str) -> str:
    if item.operation == Operation.DELIVER_ORDER:
        order = order_reads.order_row(session, item.subject_id)
        wms_id = order.wms_order_id if order is not None else None
        already = " — the WMS already had it" if outcome == "linked" else ""
        return f"delivered{already} (WMS order {wms_id or '?'})"
    if item.operation == Operation.PUSH_TRACKING:
        return "tracking sent to the shop"
    return "stock level sent to the shop"


def _what_next(item: RetryRow) -> str:
    if item.state == RetryState.HELD:
        return "held until the order, mapping or credential changes"
    if item.state == RetryState.SKIPPED:
        return "skipped"
    if item.state == RetryState.DUE:
        return f"next try {full_time(item.next_attempt_at)}"
    return item.state


def _why_not_sent(session: Session, item: RetryRow) -> str:
    connection = account_reads.connection_row(session, item.connection_id)
    if connection is not None and connection.paused:
        reason = first_line(connection.paused_reason) or "credentials rejected"
        return (
            f"connection {connection.id} ({first_line(connection.name)}) is paused: {reason}; "
            f"fix it with 'imtui connection credentials {connection.id} KEY=VALUE …'"
        )
    if item.lease_owner:
        return f"a worker is sending it right now ({first_line(item.lease_owner)})"
    return "the worker sends it on its next cycle"
