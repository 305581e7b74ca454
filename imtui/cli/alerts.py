"""``imtui alerts …`` and ``imtui open alert/<id>`` (the link that alert emails carry)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from imtui.cli.context import (
    ALERT_ID,
    AppContext,
    CliError,
    account_id_for,
    account_option,
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
from imtui.domain.alerts import AlertState, state_in_words
from imtui.domain.failures import AlertKind
from imtui.domain.text import plural, printable

if TYPE_CHECKING:
    from imtui.store.rows import AlertDetail, AlertRow, Page

# The store and the engine are imported by the commands that use them: a list needs neither
# the engine nor the detail queries, and `imtui alerts --help` needs no database code at all.

STATE_CHOICES = [*(s.value for s in AlertState), "all"]


def alert_columns(with_state: bool) -> tuple[TextColumn, ...]:
    state = (TextColumn("STATE", lambda r: r.state, 9),) if with_state else ()
    return (
        TextColumn("ID", lambda r: r.id, 6, right=True),
        *state,
        TextColumn("KIND", lambda r: r.kind, 20),
        TextColumn("ORDER", lambda r: r.order_number or r.sku, 9),
        TextColumn("N", lambda r: r.count, 4, right=True),
        TextColumn("LAST SEEN", lambda r: r.last_seen, 11),
        TextColumn("CONNECTION", lambda r: r.connection, 12, wide=True),
        TextColumn("MESSAGE", lambda r: r.message),
    )


@click.group("alerts", short_help="Failures talking to a shop or the WMS.")
def alerts_group() -> None:
    """Alerts: every failure talking to a shop or the WMS, in the remote system's words."""


@alerts_group.command("list")
@click.option("--state", type=click.Choice(STATE_CHOICES), default="open", show_default=True)
@account_option("Only this account's alerts.")
@click.option("--kind", type=click.Choice([k.value for k in AlertKind]))
@page_options
@json_option
@pass_app
def alerts_list(
    app: AppContext,
    state: str,
    account_key: str | None,
    kind: str | None,
    limit: int,
    after: str | None,
    as_json: bool,
) -> None:
    """List alerts, newest first."""
    states = () if state == "all" else (state,)
    page = None if account_key is not None else _light_page(app, states, kind, after, limit)
    if page is None:
        from imtui.store import alert_reads
        from imtui.store.rows import AlertFilter

        with app.db.read() as session:
            where = AlertFilter(
                states=states, account_id=account_id_for(session, account_key), kind=kind
            )
            page = alert_reads.list_alerts(session, where, after=after, limit=limit)
    emit(
        page.rows,
        alert_columns(with_state=state != AlertState.OPEN),
        as_json=as_json,
        empty=f"no {'' if state == 'all' else state + ' '}alerts",
        next_cursor=page.next_cursor,
    )


def _light_page(
    app: AppContext, states: tuple[str, ...], kind: str | None, after: str | None, limit: int
) -> Page[AlertRow] | None:
    """The page read from an SQLite file with sqlite3 alone (imtui.store.light_lists); None
    when that way does not apply or fails — the store's way then reads it, or says why not."""
    import sqlite3

    from imtui.store.first_screen import sqlite_file
    from imtui.store.light_lists import alert_page_sqlite

    path = sqlite_file(app.db_url)
    if path is None or not path.is_file():
        return None
    try:
        return alert_page_sqlite(path, states, kind, after=after, limit=limit)
    except sqlite3.Error:
        return None  # locked, not a database, unreadable: the store says so in one line


@alerts_group.command("show")
@click.argument("alert_id", type=ALERT_ID)
@json_option
@pass_app
def alerts_show(app: AppContext, alert_id: int, as_json: bool) -> None:
    """One alert with its history (raised, repeated, resolved, dismissed)."""
    detail = _read_alert(app, alert_id)
    if as_json:
        echo_json(detail)
        return
    print_alert(detail)
    click.echo("history")
    for event in detail.events:
        extra = f": {printable(event.detail)}" if event.detail else ""
        click.echo(f"  {full_time(event.at)}  {event.event} by {printable(event.actor)}{extra}")


def _read_alert(app: AppContext, alert_id: int) -> AlertDetail:
    from imtui.store import alert_details

    with app.db.read() as session:
        detail = alert_details.alert_detail(session, alert_id)
    if detail is None:
        raise CliError(f"no alert {alert_id}")
    return detail


def print_alert(detail: AlertDetail) -> None:
    alert = detail.alert
    state = state_in_words(
        alert.state, needs_person=alert.needs_person, resolved_by=alert.resolved_by
    )
    click.echo(f"alert {alert.id}: {alert.headline} — {state}")
    resolved = None
    if alert.resolved_at is not None:
        resolved = f"{full_time(alert.resolved_at)} by {alert.resolved_by}"
    echo_fields(
        [
            ("kind", alert.kind),
            ("account", f"{alert.account} ({alert.account_id})"),
            (
                "connection",
                f"{alert.connection} ({alert.connection_id})" if alert.connection else None,
            ),
            ("order", alert.order_number),
            ("sku", alert.sku),
            ("HTTP status", alert.http_status),
            (
                "seen",
                f"{plural(alert.count, 'time')}, first {full_time(alert.first_seen)}, "
                f"last {full_time(alert.last_seen)}",
            ),
            ("resolved", resolved),
        ]
    )
    click.echo("  message")
    echo_block(alert.message)


@alerts_group.command("dismiss")
@click.argument("alert_ids", metavar="ID...", type=ALERT_ID, nargs=-1, required=True)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def alerts_dismiss(app: AppContext, alert_ids: tuple[int, ...], yes: bool) -> None:
    """Close alerts by hand. Asks first unless --yes; without a terminal to ask on, --yes is
    required. All or nothing: one bad ID and none is dismissed."""
    if not yes:
        if not _stdin_is_a_terminal():
            raise CliError(
                "not dismissing without confirmation: stdin is not a terminal; add --yes"
            )
        for alert_id in alert_ids:
            alert = _read_alert(app, alert_id).alert
            click.echo(
                f"alert {alert.id} {alert.state} {alert.kind}: {first_line(alert.message)[:60]}"
            )
        click.confirm(f"Dismiss {len(alert_ids)} alert(s)?", abort=True, err=True)
    from imtui.engine import alert_actions

    with app.db.write() as session:
        for alert_id in alert_ids:
            alert_actions.dismiss(session, alert_id=alert_id, actor=app.actor, now=app.now())
    for alert_id in alert_ids:
        click.echo(f"dismissed alert {alert_id}")


def _stdin_is_a_terminal() -> bool:
    return sys.stdin.isatty()


# -- `imtui open` ---------------------------------------------------------------------------


@click.command("open", short_help="Open the fix for an alert in the dashboard.")
@click.argument("target", metavar="alert/ID")
@click.option(
    "--print",
    "print_only",
    is_flag=True,
    help="Print the alert and the command that fixes it instead (the default without a terminal).",
)
@click.option(
    "--no-worker", is_flag=True, help="Do not run the engine in this process (see 'dashboard')."
)
@pass_app
def open_command(app: AppContext, target: str, print_only: bool, no_worker: bool) -> None:
    """Open the dashboard directly on the fix for an alert (the link in alert emails): the
    ship-method mapping form for an unmapped ship method, the order's form for an address
    problem, the alert itself otherwise. Without a terminal, or with --print, it prints the
    alert and the command that fixes it."""
    kind, _, key = target.strip().partition("/")
    if kind != "alert" or not key.isdigit():
        raise click.BadParameter(f"expected alert/ID, not {target!r}", param_hint="TARGET")
    detail = _read_alert(app, ALERT_ID.convert(key, None, None))
    if print_only or not (sys.stdin.isatty() and sys.stdout.isatty()):
        from imtui.domain.fixes import fix_commands
        from imtui.store.rows import fix_facts

        print_alert(detail)
        for command in fix_commands(fix_facts(detail)):
            click.echo(f"fix: {command}")
        return
    import asyncio

    from imtui.cli.dashboard import log_to_file, run_dashboard
    from imtui.tui.app import StartAt

    log_to_file()
    asyncio.run(
        run_dashboard(app, worker=not no_worker, tick=5.0, start=StartAt(alert_id=int(key)))
    )
