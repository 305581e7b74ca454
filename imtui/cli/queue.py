"""``imtui queue …``: the retry queue as the database holds it."""

from __future__ import annotations

from datetime import datetime

import click

from imtui.cli.context import (
    RETRY_ITEM_ID,
    AppContext,
    account_id_for,
    account_option,
    append_help,
    json_option,
    page_options,
    pass_app,
)
from imtui.cli.output import TextColumn, emit, first_line, short_time
from imtui.cli.sending import SEND_HELP, Resend, send_or_queue
from imtui.domain.retry import OPERATION_WORDS, Operation, RetryState
from imtui.domain.text import printable
from imtui.store import queue_reads
from imtui.store.rows import QueueFilter, RetryRow

ACTIVE = (RetryState.DUE, RetryState.HELD, RetryState.SKIPPED)
STATE_CHOICES = [*(s.value for s in RetryState), "active", "all"]
SHORT_OPERATION = OPERATION_WORDS


def _next(row: RetryRow, now: datetime) -> str:
    if row.lease_owner and row.lease_expires_at and row.lease_expires_at > now:
        return "sending"
    return short_time(row.next_attempt_at) if row.state == RetryState.DUE else "—"


def queue_columns(now: datetime) -> tuple[TextColumn, ...]:
    return (
        TextColumn("ID", lambda r: r.id, 6, right=True),
        TextColumn("OP", lambda r: SHORT_OPERATION.get(r.operation, r.operation), 9),
        TextColumn("SUBJECT", lambda r: r.subject_label, 10),
        TextColumn("STATE", lambda r: r.state, 7),
        TextColumn("TRIES", lambda r: f"{r.attempts}/{r.consecutive_failures}", 6, right=True),
        TextColumn("NEXT", lambda r: _next(r, now), 11),
        TextColumn("DEADLINE", lambda r: r.deadline_at, 11),
        TextColumn("LEASE", lambda r: r.lease_owner, 24, wide=True),
        TextColumn("LAST ERROR", lambda r: first_line(r.last_error) or None),
    )


@click.group("queue", short_help="The retry queue: due, held, skipped, done.")
def queue_group() -> None:
    """The retry queue: what is due, held for a person, skipped or done."""


@queue_group.command("list")
@click.option(
    "--state",
    type=click.Choice(STATE_CHOICES),
    default="active",
    show_default=True,
    help="active = due, held and skipped. Due rows are listed soonest first.",
)
@click.option("--operation", type=click.Choice([o.value for o in Operation]))
@account_option("Only this account's rows.")
@page_options
@json_option
@pass_app
def queue_list(
    app: AppContext,
    state: str,
    operation: str | None,
    account_key: str | None,
    limit: int,
    after: str | None,
    as_json: bool,
) -> None:
    """List the retry queue. TRIES is attempts/failures in a row; NEXT says "sending" while a
    worker holds the row's lease (the LEASE column on wide terminals and in --json)."""
    states = {"active": ACTIVE, "all": ()}.get(state, (state,))
    with app.db.read() as session:
        where = QueueFilter(
            states=tuple(states),
            operation=operation,
            account_id=account_id_for(session, account_key),
        )
        page = queue_reads.list_queue(session, where, after=after, limit=limit)
    emit(
        page.rows,
        queue_columns(app.now()),
        as_json=as_json,
        empty="the queue is empty",
        next_cursor=page.next_cursor,
    )


@queue_group.command("resend")
@click.argument("item_ids", metavar="ITEM_ID...", type=RETRY_ITEM_ID, nargs=-1, required=True)
@click.option("--queue-only", is_flag=True, help="Only re-queue them for the worker.")
@pass_app
def queue_resend(app: AppContext, item_ids: tuple[int, ...], queue_only: bool) -> None:
    """Try retry items again now, with a fresh retry window (also held and skipped ones).
    All or nothing: one bad ITEM_ID and none is re-queued."""
    from imtui.engine import order_actions

    resends: list[Resend] = []
    with app.db.write() as session:
        for item_id in item_ids:
            item = order_actions.resend_item(
                session, item_id=item_id, actor=app.actor, now=app.now()
            )
            label = f"retry {item.id} ({printable(item.subject_label)})"
            resends.append(Resend(label, item.id or 0, Operation(item.operation)))
    send_or_queue(app, resends, queue_only=queue_only)


append_help(queue_resend, SEND_HELP)
