"""``imtui contacts …`` (who is emailed an account's alerts, and how often) and ``imtui outbox …``
(the emails: queued, failing with the server's reply, sent). The SMTP password is never shown:
``imtui outbox settings`` masks it."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TYPE_CHECKING

import click

from imtui.cli.context import (
    CONTACT_ID,
    EMAIL_ID,
    AppContext,
    CliError,
    account_id_for,
    account_option,
    json_option,
    page_options,
    pass_app,
)
from imtui.cli.output import TextColumn, echo_block, echo_fields, echo_json, emit, first_line
from imtui.domain.contacts import Frequency
from imtui.domain.emails import when
from imtui.domain.text import printable
from imtui.store import contacts as contact_store
from imtui.store import outbox as outbox_store

if TYPE_CHECKING:
    from imtui.notify.mailer import SendReport
    from imtui.notify.settings import EmailSettings
    from imtui.store.digests import ComposedDigest
    from imtui.store.models import AlertContact

# The engine's actions, the mailer and the email settings are imported by the commands that use
# them: the lists need only the store.

FREQUENCY_CHOICE = click.Choice([f.value for f in Frequency])
FREQUENCY_HELP = (
    "immediately: an email per alert; hourly / daily: a digest (daily at IMTUI_DIGEST_HOUR, "
    "UTC); off: nothing. Unmapped ship methods are emailed at once unless off."
)

CONTACT_COLUMNS = (
    TextColumn("ID", lambda r: r.id, 5, right=True),
    TextColumn("ACCOUNT", lambda r: r.account, 12),
    TextColumn("FREQUENCY", lambda r: r.frequency, 11),
    TextColumn("WAITING", lambda r: r.waiting or None, 7, right=True),
    TextColumn("NEXT DIGEST", lambda r: r.next_digest_at, 11, wide=True),
    TextColumn("NAME", lambda r: r.name, 16),
    TextColumn("EMAIL", lambda r: r.email),
)


def outbox_columns(now: datetime) -> tuple[TextColumn, ...]:
    def when(row: outbox_store.OutboxRow) -> datetime | str | None:
        if row.state == "sent":
            return row.sent_at
        if row.state in ("queued", "failing"):
            due = row.next_attempt_at
            return "now" if due is not None and due <= now else due
        return None

    return (
        TextColumn("ID", lambda r: r.id, 6, right=True),
        TextColumn("STATE", lambda r: r.state, 9),
        TextColumn("KIND", lambda r: r.kind, 6, wide=True),
        TextColumn("TRY", lambda r: r.attempts, 3, right=True),
        TextColumn("NEXT/SENT", when, 11),
        TextColumn("TO", lambda r: r.recipient, 18),
        TextColumn("SUBJECT", lambda r: r.subject, 40, wide=True),
        TextColumn(
            "SERVER REPLY", lambda r: first_line(r.last_error or r.smtp_reply) or r.subject or None
        ),
    )


# -- contacts ---------------------------------------------------------------------------------


@click.group("contacts", short_help="Who is emailed an account's alerts, and how often.")
def contacts_group() -> None:
    """Alert contacts: the people emailed an account's alerts that need a person (no login)."""


@contacts_group.command("add")
@click.argument("name")
@click.argument("email")
@click.option(
    "--frequency",
    type=FREQUENCY_CHOICE,
    default=Frequency.IMMEDIATELY.value,
    show_default=True,
    help=FREQUENCY_HELP,
)
@account_option("The account (name or id); may be left out when there is only one.")
@pass_app
def contacts_add(
    app: AppContext, name: str, email: str, frequency: str, account_key: str | None
) -> None:
    """Add NAME <EMAIL> as an alert contact."""
    from imtui.engine import action_rules, contact_actions

    with app.db.write() as session:
        account = action_rules.account_for(session, account_key)
        contact = contact_actions.add_contact(
            session,
            account=account,
            name=name,
            email=email,
            frequency=frequency,
            actor=app.actor,
            now=app.now(),
        )
    click.echo(f"added {describe(contact)} for account {printable(account.name)}")


@contacts_group.command("list")
@account_option("Only this account's contacts.")
@json_option
@pass_app
def contacts_list(app: AppContext, account_key: str | None, as_json: bool) -> None:
    """List alert contacts. WAITING counts their emails not sent yet."""
    with app.db.read() as session:
        rows = contact_store.list_contacts(session, account_id=account_id_for(session, account_key))
    emit(
        rows,
        CONTACT_COLUMNS,
        as_json=as_json,
        empty="no contacts yet: add one with 'imtui contacts add NAME EMAIL'",
    )


@contacts_group.command("edit")
@click.argument("contact_id", metavar="ID", type=CONTACT_ID)
@click.option("--name")
@click.option("--email")
@click.option("--frequency", type=FREQUENCY_CHOICE, help=FREQUENCY_HELP)
@pass_app
def contacts_edit(
    app: AppContext,
    contact_id: int,
    name: str | None,
    email: str | None,
    frequency: str | None,
) -> None:
    """Change a contact's name, address or frequency. Emails not sent yet follow a new address;
    switching to off cancels them."""
    if name is None and email is None and frequency is None:
        raise click.UsageError("nothing to change: give --name, --email or --frequency")
    from imtui.engine import contact_actions

    with app.db.write() as session:
        contact = contact_actions.edit_contact(
            session,
            contact_id=contact_id,
            name=name,
            email=email,
            frequency=frequency,
            actor=app.actor,
            now=app.now(),
        )
    click.echo(describe(contact))


@contacts_group.command("delete")
@click.argument("contact_ids", metavar="ID...", type=CONTACT_ID, nargs=-1, required=True)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def contacts_delete(app: AppContext, contact_ids: tuple[int, ...], yes: bool) -> None:
    """Delete contacts; their emails not sent yet are cancelled. Asks first unless --yes;
    without a terminal to ask on, --yes is required. All or nothing."""
    if not yes:
        if not sys.stdin.isatty():
            raise CliError("not deleting without confirmation: stdin is not a terminal; add --yes")
        with app.db.read() as session:
            for contact_id in contact_ids:
                row = contact_store.contact_row(session, contact_id)
                if row is None:
                    raise CliError(f"no contact {contact_id}")
                click.echo(f"contact {row.id}: {printable(row.name)} <{printable(row.email)}>")
        click.confirm(f"Delete {len(contact_ids)} contact(s)?", abort=True, err=True)
    from imtui.engine import contact_actions

    with app.db.write() as session:
        cancelled = [
            contact_actions.delete_contact(
                session, contact_id=contact_id, actor=app.actor, now=app.now()
            )
            for contact_id in contact_ids
        ]
    for contact_id, count in zip(contact_ids, cancelled, strict=True):
        extra = f"; cancelled {count} unsent email(s)" if count else ""
        click.echo(f"deleted contact {contact_id}{extra}")


@contacts_group.command("digest")
@click.argument("contact_id", metavar="ID", type=CONTACT_ID)
@click.option(
    "--preview", is_flag=True, help="Print the next digest as it would go out; change nothing."
)
@click.option("--send", is_flag=True, help="Compose it now and queue it in the outbox.")
@pass_app
def contacts_digest(app: AppContext, contact_id: int, preview: bool, send: bool) -> None:
    """See a contact's digest without waiting for it. --preview prints the subject and text of
    the digest it would get at its next digest time, if nothing changes until then; --send
    composes it now and queues it (the alerts it lists are not listed again; the next digest
    time stays)."""
    if preview == send:
        raise click.UsageError("give one of --preview or --send")
    from imtui.engine import contact_actions
    from imtui.store.digests import preview_digest

    settings = _settings()
    if preview:
        with app.db.read() as session:
            contact = contact_actions.digest_contact(session, contact_id)
            composed = preview_digest(
                session,
                contact,
                now=app.now(),
                daily_hour=settings.digest_hour,
            )
        _echo_preview(contact_id, composed)
        return
    with app.db.write() as session:
        email = contact_actions.send_digest_now(
            session,
            contact_id=contact_id,
            actor=app.actor,
            now=app.now(),
        )
    if email is None:
        click.echo(f"nothing new for contact {contact_id}: no digest sent")
    else:
        click.echo(
            f"queued digest for contact {contact_id} as email {email.id} "
            f"(sent by the outbox job, or now: imtui outbox send {email.id})"
        )


def _echo_preview(contact_id: int, composed: ComposedDigest) -> None:
    facts = composed.pending.facts
    if composed.content is None:
        since = f" since {when(facts.since)}" if facts.since else ""
        click.echo(f"nothing new for contact {contact_id}{since}: no digest at {when(facts.at)}")
        return
    click.echo(f"Subject: {composed.content.subject}\n")
    click.echo(composed.content.text, nl=False)


# -- the outbox -------------------------------------------------------------------------------


@click.group("outbox", short_help="Alert emails: queued, failing, sent.")
def outbox_group() -> None:
    """The email outbox: every alert email and digest, queued, failing (with the SMTP server's
    reply), sent or cancelled. The worker sends what is due."""


@outbox_group.command("list")
@click.option(
    "--state",
    "states",
    type=click.Choice(outbox_store.SHOWN_STATES),
    multiple=True,
    help="Only these states (repeatable); failing = queued after a failed attempt.",
)
@account_option("Only this account's emails.")
@page_options
@json_option
@pass_app
def outbox_list(
    app: AppContext,
    states: tuple[str, ...],
    account_key: str | None,
    limit: int,
    after: str | None,
    as_json: bool,
) -> None:
    """List emails, newest first."""
    with app.db.read() as session:
        where = outbox_store.OutboxFilter(
            states=states, account_id=account_id_for(session, account_key)
        )
        page = outbox_store.list_outbox(session, where, after=after, limit=limit)
    emit(
        page.rows,
        outbox_columns(app.now()),
        as_json=as_json,
        empty="the outbox is empty",
        next_cursor=page.next_cursor,
    )


@outbox_group.command("show")
@click.argument("email_id", metavar="ID", type=EMAIL_ID)
@json_option
@pass_app
def outbox_show(app: AppContext, email_id: int, as_json: bool) -> None:
    """One email: where it is, the server's last reply, and its text."""
    with app.db.read() as session:
        detail = outbox_store.outbox_detail(session, email_id)
    if detail is None:
        raise CliError(f"no email {email_id} in the outbox")
    if as_json:
        echo_json(detail)
        return
    email = detail.email
    click.echo(f"email {email.id}: {email.kind} — {email.state}")
    echo_fields(
        [
            ("to", f"{email.recipient_name} <{email.recipient}>"),
            ("account", f"{email.account} ({email.account_id})"),
            ("subject", email.subject),
            ("alerts", ", ".join(str(a) for a in detail.alert_ids) or None),
            ("attempts", email.attempts),
            ("next attempt", email.next_attempt_at if email.state != "sent" else None),
            ("last error", first_line(email.last_error) or None),
            ("sent", email.sent_at),
            ("server reply", first_line(email.smtp_reply) or None),
            ("message-id", email.message_id),
        ]
    )
    click.echo("  text")
    echo_block(detail.body or "(composed just before the first attempt)")


@outbox_group.command("send")
@click.argument("email_ids", metavar="[ID]...", type=EMAIL_ID, nargs=-1)
@pass_app
def outbox_send(app: AppContext, email_ids: tuple[int, ...]) -> None:
    """Send what is due now, from this process, with the IMTUI_SMTP_* settings; given IDs are
    made due first (also failing ones waiting for their next try). Exit status 3 when an email
    did not get through."""
    settings = _settings()
    if not settings.enabled:
        raise CliError("email is off: set IMTUI_SMTP_HOST (see 'imtui outbox settings')")
    import asyncio

    from imtui.engine import contact_actions
    from imtui.notify.mailer import Mailer
    from imtui.store.queue import worker_identity

    if email_ids:
        with app.db.write() as session:
            for email_id in email_ids:
                contact_actions.send_email_now(
                    session, email_id=email_id, actor=app.actor, now=app.now()
                )
    mailer = Mailer(app.db, clock=app.clock, owner=worker_identity(), settings=settings)
    report = asyncio.run(mailer.send_due())
    click.echo(_summary(report))
    if report.failed or report.refused:
        click.get_current_context().exit(3)


def _summary(report: SendReport) -> str:
    parts = [f"sent {report.sent}", f"failed {report.failed}"]
    if report.cancelled:
        parts.append(f"cancelled {report.cancelled} (alert closed or contact gone)")
    if report.refused:
        parts.append(f"refused {report.refused} for good (fix the contact's address)")
    if report.folded:
        parts.append(f"folded {report.folded} into a summary (over the cap)")
    if report.deferred:
        parts.append(f"{report.deferred} waiting for their thread's first email")
    if report.resent:
        parts.append(f"{report.resent} resent after an interrupted attempt")
    line = ", ".join(parts)
    if report.unavailable:
        line += f" — {printable(report.unavailable)}"
    elif report.failed:
        failures = [r for r in report.replies if not r.startswith("2")]
        if failures:
            line += f" — last reply: {first_line(failures[-1])}"
    return line


@outbox_group.command("cancel")
@click.argument("email_ids", metavar="ID...", type=EMAIL_ID, nargs=-1, required=True)
@pass_app
def outbox_cancel(app: AppContext, email_ids: tuple[int, ...]) -> None:
    """Never send these queued emails. All or nothing."""
    from imtui.engine import contact_actions

    with app.db.write() as session:
        for email_id in email_ids:
            contact_actions.cancel_email(session, email_id=email_id, actor=app.actor, now=app.now())
    for email_id in email_ids:
        click.echo(f"cancelled email {email_id}")


@outbox_group.command("settings")
def outbox_settings() -> None:
    """Show the email settings in effect (from IMTUI_SMTP_*, IMTUI_PUBLIC_URL and
    IMTUI_DIGEST_HOUR); the password is masked."""
    echo_fields(_settings().describe(), indent="")


def _settings() -> EmailSettings:
    from imtui.notify.settings import EmailSettingsError, load_email_settings

    try:
        return load_email_settings()
    except EmailSettingsError as exc:
        raise CliError(str(exc)) from None


def describe(contact: AlertContact) -> str:
    """``contact 3: Ann <ann@x.io> (hourly digest)`` — one line, safe for the terminal."""
    return (
        f"contact {contact.id}: {printable(contact.name)} <{printable(contact.email)}> "
        f"({Frequency(contact.frequency).description})"
    )
