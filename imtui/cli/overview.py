"""``imtui status`` (the dashboard header's counts, and the outbox's) and ``imtui audit list``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from imtui.cli.context import (
    AppContext,
    account_id_for,
    account_option,
    json_option,
    page_options,
    pass_app,
)
from imtui.cli.output import TextColumn, echo_json, emit, first_line, full_time, jsonable
from imtui.domain.text import printable
from imtui.store import account_reads, overview_reads
from imtui.store.beats import running_elsewhere
from imtui.store.database import describe_url
from imtui.store.first_screen import EmailSummary, read_email_summary
from imtui.store.rows import SetupState

if TYPE_CHECKING:
    from imtui.store.links import Serving

REPLY_SHOWN = 120
"""How much of the mail server's reply the email line shows (it is one line, made printable)."""

AUDIT_COLUMNS = (
    TextColumn("ID", lambda r: r.id, 6, right=True),
    TextColumn("AT", lambda r: r.at, 11),
    TextColumn("ACTOR", lambda r: r.actor, 12),
    TextColumn("ACTION", lambda r: r.action, 20),
    TextColumn("TARGET", lambda r: r.target, 14),
    TextColumn("DETAIL", lambda r: r.detail),
)


@click.command("status", short_help="Open alerts, the retry queue and email, counted.")
@account_option("Only this account.")
@json_option
@pass_app
def status_command(app: AppContext, account_key: str | None, as_json: bool) -> None:
    """What needs attention: open alerts, those needing a person, the retry queue, email that
    does not get through — and whether an engine runs on this database."""
    with app.db.read() as session:
        account_id = account_id_for(session, account_key)
        counts = overview_reads.header_counts(session, now=app.now(), account_id=account_id)
        setup = account_reads.setup_state(session, account_id=account_id)
        email = read_email_summary(session, account_id=account_id)
    off = email_off()
    links = read_servers(app)
    if as_json:
        echo_json(
            {
                **{k: v for k, v in jsonable(counts).items() if k != "setup"},
                "setup": jsonable(setup),
                "email": {**jsonable(email), "off": off},
                "browser_links": None if links is None else [jsonable(s) for s in links],
            }
        )
        return
    click.echo(f"database      {describe_url(app.db.url)}")
    click.echo(
        f"alerts        {counts.open_alerts} open, {counts.needs_person} need a person\n"
        f"retry queue   {counts.due_now} due now, {counts.held} held, {counts.skipped} skipped"
    )
    for line in setup_lines(setup):
        click.echo(f"setup         {line}")
    click.echo(f"email         {email_line(email, off)}")
    click.echo(f"links         {links_line(links)}")
    beat = counts.engine_beat
    if beat is None or not running_elsewhere(beat, app.now()):
        seen = "" if beat is None else f" (last cycle {full_time(beat)})"
        click.echo(f"engine        none running{seen}: start one with 'imtui worker' or 'imtui'")
    else:
        click.echo(f"engine        running (last cycle {full_time(beat)})")


def setup_lines(setup: SetupState) -> list[str]:
    """What is not set up to move an order, and the paused connections, a line each (none
    when all is set up and running)."""
    if not setup.accounts:
        return ["no account yet: imtui account add NAME, then imtui connection add (or A in imtui)"]
    lines = [
        f"{printable(name)}: no {what} connection yet (imtui connection add --account …)"
        for names, what in ((setup.without_source, "shop"), (setup.without_wms, "WMS"))
        for name in names
    ]
    for paused in setup.paused:
        why = "credentials rejected" if paused.rejected else "paused"
        lines.append(
            f"{printable(paused.account)}/{printable(paused.name)} ({paused.id}): {why}: "
            f"{first_line(paused.reason or '?')[:160]}"
        )
    return lines


def read_servers(app: AppContext) -> list[Serving] | None:
    """The ``imtui serve`` processes the database knows (None: this login may not read them —
    only the workers' login does on a team database). The link tables' module (and its
    signing library) is imported here, for ``status`` alone."""
    from imtui.store.database import DatabaseError
    from imtui.store.links import servers

    try:
        with app.db.read() as session:
            return servers(session, app.now())
    except DatabaseError:
        return None


def links_line(links: list[Serving] | None) -> str:
    """Whether alert emails carry links into the browser mode now, and to where."""
    if links is None:
        return "unknown (this login cannot read which imtui serve runs)"
    live = [server for server in links if server.live]
    if not live:
        return "none in emails: no 'imtui serve' running (they carry the commands only)"
    return "; ".join(
        f"in emails, to {printable(s.public_url)} (imtui serve on {printable(s.owner)}, "
        f"last beat {full_time(s.beat_at)})"
        for s in live
    )


def email_off() -> str | None:
    """Why this environment sends no email (None when it does): ``IMTUI_SMTP_HOST`` not set, or
    the settings' one-line refusal. A worker started elsewhere may have other settings."""
    from imtui.notify.settings import EmailSettingsError, load_email_settings

    try:
        settings = load_email_settings()
    except EmailSettingsError as exc:
        return printable(str(exc))
    return None if settings.enabled else "IMTUI_SMTP_HOST is not set"


def email_line(email: EmailSummary, off: str | None) -> str:
    """``3 failing (last: 451 4.3.0 Try again later), 1 refused for good: see 'imtui outbox
    list --state failing --state failed'``; ``0 waiting`` when all is well."""
    line = ", ".join(email_counts(email))
    hint = failing_hint(email)
    if hint:
        line += f": see {hint}"
    return line if off is None else f"off: {off}; {line}"


def email_counts(email: EmailSummary) -> list[str]:
    parts: list[str] = []
    if email.failing:
        reply = shortened(first_line(email.last_failure), REPLY_SHOWN)
        parts.append(f"{email.failing} failing" + (f" (last: {reply})" if reply else ""))
    if email.failed:
        parts.append(f"{email.failed} refused for good (fix the contact)")
    others = email.waiting - email.failing
    if others or not parts:
        oldest = others and not email.failing  # else the oldest may be a failing one
        since = f" (oldest {full_time(email.oldest_waiting_since)})" if oldest else ""
        parts.append(f"{others} {'more ' if email.failing else ''}waiting{since}")
    return parts


def failing_hint(email: EmailSummary) -> str:
    states = [state for state, n in (("failing", email.failing), ("failed", email.failed)) if n]
    if not states:
        return ""
    return "'imtui outbox list " + " ".join(f"--state {state}" for state in states) + "'"


def shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@click.group("audit")
def audit_group() -> None:
    """The audit log: who did what, when."""


@audit_group.command("list")
@page_options
@json_option
@pass_app
def audit_list(app: AppContext, limit: int, after: str | None, as_json: bool) -> None:
    """List audit entries, newest first. On a terminal the table fits its width; piped or
    redirected, every value is printed whole (times to the second), one line per entry."""
    with app.db.read() as session:
        page = overview_reads.list_audit(session, after=after, limit=limit)
    emit(
        page.rows,
        AUDIT_COLUMNS,
        as_json=as_json,
        empty="the audit log is empty",
        next_cursor=page.next_cursor,
        whole_when_piped=True,
    )
