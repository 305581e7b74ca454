"""``imtui status`` (the dashboard header's counts) and ``imtui audit list``."""

from __future__ import annotations

import click

from imtui.cli.context import (
    AppContext,
    account_id_for,
    account_option,
    json_option,
    page_options,
    pass_app,
)
from imtui.cli.output import Column, echo_json, emit, full_time
from imtui.store import listing
from imtui.store.beats import running_elsewhere
from imtui.store.database import describe_url

AUDIT_COLUMNS = (
    Column("ID", lambda r: r.id, 6, right=True),
    Column("AT", lambda r: r.at, 11),
    Column("ACTOR", lambda r: r.actor, 12),
    Column("ACTION", lambda r: r.action, 20),
    Column("TARGET", lambda r: r.target, 14),
    Column("DETAIL", lambda r: r.detail),
)


@click.command("status", short_help="Open alerts and the retry queue, counted.")
@account_option("Only this account.")
@json_option
@pass_app
def status_command(app: AppContext, account_key: str | None, as_json: bool) -> None:
    """What needs attention: open alerts, those needing a person, the retry queue — and
    whether an engine runs on this database."""
    with app.db.read() as session:
        counts = listing.header_counts(
            session, now=app.now(), account_id=account_id_for(session, account_key)
        )
    if as_json:
        echo_json(counts)
        return
    click.echo(f"database      {describe_url(app.db.url)}")
    click.echo(
        f"alerts        {counts.open_alerts} open, {counts.needs_person} need a person\n"
        f"retry queue   {counts.due_now} due now, {counts.held} held, {counts.skipped} skipped"
    )
    beat = counts.engine_beat
    if beat is None or not running_elsewhere(beat, app.now()):
        seen = "" if beat is None else f" (last cycle {full_time(beat)})"
        click.echo(f"engine        none running{seen}: start one with 'imtui worker' or 'imtui'")
    else:
        click.echo(f"engine        running (last cycle {full_time(beat)})")


@click.group("audit")
def audit_group() -> None:
    """The audit log: who did what, when."""


@audit_group.command("list")
@page_options
@json_option
@pass_app
def audit_list(app: AppContext, limit: int, after: str | None, as_json: bool) -> None:
    """List audit entries, newest first."""
    with app.db.read() as session:
        page = listing.list_audit(session, after=after, limit=limit)
    emit(
        page.rows,
        AUDIT_COLUMNS,
        as_json=as_json,
        empty="the audit log is empty",
        next_cursor=page.next_cursor,
    )
