"""``imtui orders …``: find orders, see everything about one, fix it, send it again now."""

from __future__ import annotations

import click

from imtui.cli.assignments import parse_pairs
from imtui.cli.context import (
    ORDER_KEY,
    AppContext,
    account_id_for,
    account_option,
    append_help,
    json_option,
    page_options,
    pass_app,
)
from imtui.cli.output import (
    TextColumn,
    echo_block,
    echo_fields,
    echo_json,
    emit,
    first_line,
    full_time,
)
from imtui.cli.sending import SEND_HELP, Resend, send_or_queue
from imtui.domain.orders import OrderStatus
from imtui.domain.records import ADDRESS_FIELDS
from imtui.domain.retry import Operation
from imtui.domain.text import printable
from imtui.store import order_reads
from imtui.store.rows import AlertRow, OrderDetail, OrderFilter, RetryRow

# The engine's order actions are imported by the commands that act: a list needs only the store.

EDITABLE_FIELDS = (*ADDRESS_FIELDS, "ship_method_code")
"""What ``--set`` may change: the engine's ``EDITABLE_ORDER_FIELDS``, named here so that the
help needs no engine (tests/test_cli_lazy.py holds the two together)."""

ORDER_COLUMNS = (
    TextColumn("ID", lambda r: r.id, 7, right=True),
    TextColumn("NUMBER", lambda r: r.number, 10),
    TextColumn("STATUS", lambda r: r.status, 9),
    TextColumn("ACCOUNT", lambda r: r.account, 10),
    TextColumn("METHOD", lambda r: r.ship_method_code, 12),
    TextColumn("WMS", lambda r: r.wms_order_id, 8, wide=True),
    TextColumn("TRACKING", lambda r: r.tracking_number, 18, wide=True),
    TextColumn("UPDATED", lambda r: r.updated_at, 11),
    TextColumn("SHIP TO", lambda r: r.ship_name),
)

QUEUE_ONLY_HELP = "Only re-queue it for the worker instead of sending it now."


ACCOUNT_HELP = "Only this account's orders (name or id): two shops may both have a #1001."


@click.group("orders")
def orders_group() -> None:
    """Orders from the shops and their way to the WMS."""


@orders_group.command("list")
@click.option("--status", type=click.Choice([s.value for s in OrderStatus]))
@account_option("Only this account's orders.")
@click.option("--search", metavar="TEXT", help="Order number, WMS reference or ship-to name.")
@page_options
@json_option
@pass_app
def orders_list(
    app: AppContext,
    status: str | None,
    account_key: str | None,
    search: str | None,
    limit: int,
    after: str | None,
    as_json: bool,
) -> None:
    """List orders, newest first."""
    with app.db.read() as session:
        where = OrderFilter(
            status=status, account_id=account_id_for(session, account_key), search=search
        )
        page = order_reads.list_orders(session, where, after=after, limit=limit)
    emit(
        page.rows,
        ORDER_COLUMNS,
        as_json=as_json,
        empty="no orders match",
        next_cursor=page.next_cursor,
    )


@orders_group.command("show")
@click.argument("order_key", metavar="ORDER", type=ORDER_KEY)
@json_option
@pass_app
def orders_show(app: AppContext, order_key: str, as_json: bool) -> None:
    """Everything about one order (id, number like #1001, or WMS reference): lines, address,
    status, its place in the retry queue, every attempt with the remote system's words, and
    its alerts."""
    from imtui.engine import order_actions

    with app.db.read() as session:
        order_id = order_actions.order_for(session, order_key).id or 0
        detail = order_reads.order_detail(session, order_id)
    assert detail is not None
    if as_json:
        echo_json(detail)
    else:
        print_order(detail)


def print_order(detail: OrderDetail) -> None:
    order = detail.order
    status = order.status + (f" ({order.hold_reason})" if order.hold_reason else "")
    click.echo(f"order {printable(order.number)} (id {order.id}): {printable(status)}")
    address = detail.address
    echo_fields(
        [
            ("account", order.account),
            ("reference", order.reference),
            ("WMS order", order.wms_order_id),
            ("tracking", _tracking(detail)),
            ("ship method", f"{order.ship_method_code} {_parens(detail.ship_method_title)}"),
            ("ship to", address.name),
            ("company", address.company or None),
            ("address", " / ".join(p for p in (address.address1, address.address2) if p)),
            ("city", " ".join(p for p in (address.city, address.state, address.zip) if p)),
            ("country", address.country),
            ("phone", address.phone or None),
            ("created", full_time(order.created_at)),
            ("updated", full_time(order.updated_at)),
        ]
    )
    click.echo("lines")
    for line in detail.lines:
        click.echo(f"  {printable(line.sku)} × {line.quantity}")
    _print_retries(detail.retries)
    _print_attempts(detail)
    _print_alerts(detail.alerts)


def _tracking(detail: OrderDetail) -> str | None:
    if not detail.order.tracking_number:
        return None
    carrier = f" ({detail.carrier})" if detail.carrier else ""
    return f"{detail.order.tracking_number}{carrier}, shipped {full_time(detail.shipped_at)}"


def _parens(text: str) -> str:
    return f"({text})" if text else ""


def _print_retries(retries: tuple[RetryRow, ...]) -> None:
    click.echo("retry queue" if retries else "retry queue: not queued")
    for item in retries:
        lease = f", leased by {printable(item.lease_owner)}" if item.lease_owner else ""
        click.echo(
            f"  retry {item.id} {item.operation}: {item.state}, {item.attempts} attempts, "
            f"{item.consecutive_failures} failing in a row, next {full_time(item.next_attempt_at)}"
            f", deadline {full_time(item.deadline_at)}{lease}"
        )
        if item.last_error:
            click.echo(f"    last error ({item.last_failure_class}): {first_line(item.last_error)}")


def _print_attempts(detail: OrderDetail) -> None:
    shown, total = len(detail.attempts), detail.attempts_total
    click.echo(f"attempts ({shown} of {total}, newest first)" if total else "attempts: none")
    for attempt in detail.attempts:
        result = "ok" if attempt.ok else "failed"
        http = f"  HTTP {attempt.http_status}" if attempt.http_status else ""
        click.echo(
            f"  {full_time(attempt.at)}  {attempt.operation}  {result}  "
            f"{printable(attempt.outcome)}{http}"
        )
        if attempt.message:
            echo_block(attempt.message)


def _print_alerts(alerts: tuple[AlertRow, ...]) -> None:
    click.echo("alerts" if alerts else "alerts: none")
    for alert in alerts:
        click.echo(
            f"  alert {alert.id} {alert.state} {alert.kind} ×{alert.count} "
            f"(last {full_time(alert.last_seen)}): {first_line(alert.message)}"
        )


@orders_group.command("edit")
@click.argument("order_key", metavar="ORDER", type=ORDER_KEY)
@click.option(
    "--set",
    "changes",
    multiple=True,
    required=True,
    metavar="FIELD=VALUE",
    help="A field to change: " + ", ".join(EDITABLE_FIELDS) + ".",
)
@click.option("--queue-only", is_flag=True, help=QUEUE_ONLY_HELP)
@account_option(ACCOUNT_HELP)
@pass_app
def orders_edit(
    app: AppContext,
    order_key: str,
    changes: tuple[str, ...],
    queue_only: bool,
    account_key: str | None,
) -> None:
    """Change an order's ship-to address or ship method, then send it to the WMS now."""
    from imtui.engine import order_actions

    fields = parse_pairs(changes, "field")
    with app.db.write() as session:
        account_id = account_id_for(session, account_key)
        item = order_actions.edit_order(
            session,
            order_key=order_key,
            changes=fields,
            actor=app.actor,
            now=app.now(),
            account_id=account_id,
        )
        order = order_actions.order_for(session, order_key, account_id)
        resend = Resend(printable(order.number), item.id or 0, Operation(item.operation))
    send_or_queue(app, [resend], queue_only=queue_only)


append_help(orders_edit, SEND_HELP)


@orders_group.command("resend")
@click.argument("order_keys", metavar="ORDER...", type=ORDER_KEY, nargs=-1, required=True)
@click.option("--queue-only", is_flag=True, help=QUEUE_ONLY_HELP)
@account_option(ACCOUNT_HELP)
@pass_app
def orders_resend(
    app: AppContext, order_keys: tuple[str, ...], queue_only: bool, account_key: str | None
) -> None:
    """Send orders to the WMS again, now (a shipped order gets its tracking resent to the shop).
    A held or skipped order comes back with a fresh retry window. All or nothing: one bad ORDER
    and none is re-queued."""
    from imtui.engine import order_actions

    resends: list[Resend] = []
    with app.db.write() as session:
        account_id = account_id_for(session, account_key)
        for key in order_keys:
            item = order_actions.resend_order(
                session, order_key=key, actor=app.actor, now=app.now(), account_id=account_id
            )
            order = order_actions.order_for(session, key, account_id)
            resends.append(Resend(printable(order.number), item.id or 0, Operation(item.operation)))
    send_or_queue(app, resends, queue_only=queue_only)


append_help(orders_resend, SEND_HELP)
