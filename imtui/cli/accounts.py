"""``imtui account …`` and ``imtui connection …``. Credential values are never printed: lists
and ``show`` name the keys only, masked (``client_secret=••••``)."""

from __future__ import annotations

import asyncio

import click

from imtui.cli.assignments import SECRET_HELP, parse_pairs, parse_secrets
from imtui.cli.context import (
    CONNECTION_KEY,
    AppContext,
    CliError,
    account_id_for,
    account_option,
    append_help,
    json_option,
    pass_app,
)
from imtui.cli.output import TextColumn, echo_fields, echo_json, emit, full_time
from imtui.domain.platforms import PLATFORM_FIELDS as PLATFORMS
from imtui.domain.text import SECRET_MASK, hide_url_passwords, printable
from imtui.store import account_reads
from imtui.store.rows import ConnectionRow

ACCOUNT_COLUMNS = (
    TextColumn("ID", lambda r: r.id, 5, right=True),
    TextColumn("KIND", lambda r: r.kind, 10),
    TextColumn("CONNS", lambda r: r.connections, 5, right=True),
    TextColumn("CREATED", lambda r: r.created_at, 11),
    TextColumn("NAME", lambda r: r.name),
)

CONNECTION_COLUMNS = (
    TextColumn("ID", lambda r: r.id, 4, right=True),
    TextColumn("ACCOUNT", lambda r: r.account, 10),
    TextColumn("NAME", lambda r: r.name, 12),
    TextColumn("PLATFORM", lambda r: r.platform, 8),
    TextColumn("POLL", lambda r: f"{r.poll_interval_s}s", 6, right=True),
    TextColumn("STATE", lambda r: "PAUSED" if r.paused else "active", 6),
    TextColumn("CREDENTIALS", lambda r: masked(r.credential_keys), 30, wide=True),
    TextColumn("URL", lambda r: r.base_url),
)


def refuse_unreadable(rows: list[ConnectionRow]) -> None:
    """Credentials this process cannot open (no key, or not theirs) are one line saying where
    the key was looked for, not a list that quietly shows none (the dashboard marks each
    row instead)."""
    for row in rows:
        if row.credentials_unreadable:
            raise CliError(row.credentials_unreadable)


def masked(keys: tuple[str, ...]) -> str:
    return " ".join(f"{key}={SECRET_MASK}" for key in keys)


# -- accounts ---------------------------------------------------------------------------------


@click.group("account", short_help="Warehouse and merchant accounts.")
def account_group() -> None:
    """Warehouse and merchant accounts: alerts, contacts and connections belong to one."""


@account_group.command("add")
@click.argument("name")
@click.option(
    "--kind",
    type=click.Choice(["merchant", "warehouse"]),
    default="merchant",
    show_default=True,
)
@pass_app
def account_add(app: AppContext, name: str, kind: str) -> None:
    """Add an account called NAME."""
    from imtui.engine import account_actions

    with app.db.write() as session:
        account = account_actions.add_account(
            session, name=name, kind=kind, actor=app.actor, now=app.now()
        )
    click.echo(f"added account {account.id}: {printable(account.name)} ({account.kind})")


@account_group.command("list")
@json_option
@pass_app
def account_list(app: AppContext, as_json: bool) -> None:
    """List the accounts."""
    with app.db.read() as session:
        rows = account_reads.list_accounts(session)
    emit(
        rows,
        ACCOUNT_COLUMNS,
        as_json=as_json,
        empty="no accounts yet: add one with 'imtui account add NAME'",
    )


# -- connections ------------------------------------------------------------------------------


@click.group("connection")
def connection_group() -> None:
    """The shops and the WMS an account talks to."""


def _platform_help() -> str:
    lines = []
    for info in PLATFORMS.values():
        settings = ", ".join(info.setting_keys) or "none"
        lines.append(
            f"{info.name} ({info.role}): credentials {', '.join(info.credential_keys)}; "
            f"settings {settings}"
        )
    return "; ".join(lines)


@connection_group.command("add")
@account_option("The account (name or id); may be left out when there is only one.")
@click.option("--name", required=True, help="A name for the connection, unique in the account.")
@click.option("--platform", required=True, type=click.Choice(sorted(PLATFORMS)))
@click.option("--url", "base_url", required=True, help="The base URL, http(s)://host[:port].")
@click.option("--credential", "credentials", multiple=True, metavar="KEY=VALUE", help=SECRET_HELP)
@click.option("--setting", "settings", multiple=True, metavar="KEY=VALUE", help="A setting.")
@click.option(
    "--poll",
    type=click.IntRange(10, 7 * 86400),
    default=300,
    show_default=True,
    help="Seconds between polls of this system.",
)
@pass_app
def connection_add(
    app: AppContext,
    account_key: str | None,
    name: str,
    platform: str,
    base_url: str,
    credentials: tuple[str, ...],
    settings: tuple[str, ...],
    poll: int,
) -> None:
    """Connect an account to a shop or a WMS.

    \b
    Example:
      imtui connection add --account acme --name wms --platform wms_3pl \\
        --url https://secure-wms.example.com --credential client_id=@WMS_ID \\
        --credential client_secret=- --credential user_login_id=1 \\
        --setting customer_id=1 --setting facility_id=1
    """
    from imtui.connectors.registry import connection_problems  # httpx: only to add one
    from imtui.engine import account_actions, action_rules

    setting_values = parse_pairs(settings, "setting")
    secrets = parse_secrets(credentials)
    problems = connection_problems(platform, base_url.strip(), secrets, setting_values)
    if problems:
        raise CliError("; ".join(problems))
    with app.db.write() as session:
        account = action_rules.account_for(session, account_key)
        connection = account_actions.add_connection(
            session,
            account=account,
            name=name,
            platform=platform,
            base_url=base_url,
            credentials=secrets,
            settings=setting_values,
            poll_interval_s=poll,
            actor=app.actor,
            now=app.now(),
        )
    click.echo(
        f"added connection {connection.id}: {printable(connection.name)} "
        f"({connection.platform}, {connection.role}) for account {printable(account.name)} "
        f"→ {printable(hide_url_passwords(connection.base_url))}; "
        f"credentials {masked(tuple(sorted(secrets)))}"
    )


append_help(connection_add, f"Platforms: {_platform_help()}.")


@connection_group.command("list")
@account_option("Only this account's connections.")
@json_option
@pass_app
def connection_list(app: AppContext, account_key: str | None, as_json: bool) -> None:
    """List connections (credential values are never shown)."""
    with app.db.read() as session:
        account_id = account_id_for(session, account_key)
        rows = account_reads.list_connections(session, account_id=account_id)
    refuse_unreadable(rows)
    emit(
        rows,
        CONNECTION_COLUMNS,
        as_json=as_json,
        empty="no connections yet: add one with 'imtui connection add'",
    )


@connection_group.command("show")
@click.argument("connection_key", metavar="CONN", type=CONNECTION_KEY)
@json_option
@pass_app
def connection_show(app: AppContext, connection_key: str, as_json: bool) -> None:
    """Show one connection (by id or name); credential values are masked."""
    from imtui.engine import account_actions

    with app.db.read() as session:
        connection = account_actions.connection_for(session, connection_key)
        row = account_reads.connection_row(session, connection.id or 0)
    assert row is not None
    refuse_unreadable([row])
    if as_json:
        echo_json(row)
        return
    info = PLATFORMS.get(row.platform)
    required = info.credential_keys if info else ()
    missing = [key for key in required if key not in row.credential_keys]
    creds = masked(row.credential_keys) + "".join(f" {key}=(missing)" for key in missing)
    click.echo(f"connection {row.id}: {printable(row.name)}")
    echo_fields(
        [
            ("account", f"{row.account} ({row.account_id})"),
            ("platform", f"{row.platform} ({info.title if info else '?'}), role {row.role}"),
            ("url", row.base_url),
            ("credentials", creds or "none"),
            ("settings", " ".join(f"{k}={v}" for k, v in sorted(row.settings.items())) or "none"),
            ("poll every", f"{row.poll_interval_s} s"),
            ("last polled", full_time(row.last_polled_at)),
            ("next poll", full_time(row.next_poll_at)),
            ("state", f"PAUSED: {row.paused_reason or '?'}" if row.paused else "active"),
        ]
    )
    if row.paused:
        click.echo(
            f"fix: imtui connection credentials {row.id} "
            + " ".join(f"{key}=-" for key in required)
        )
        click.echo(
            f"or, once the cause is gone: imtui connection test {row.id}, "
            f"then imtui connection resume {row.id}"
        )


@connection_group.command("credentials")
@click.argument("connection_key", metavar="CONN", type=CONNECTION_KEY)
@click.argument("pairs", metavar="KEY=VALUE...", nargs=-1, required=True)
@pass_app
def connection_credentials(app: AppContext, connection_key: str, pairs: tuple[str, ...]) -> None:
    """Change credentials of CONN (id or name). This un-pauses the connection and makes
    everything waiting on it due at once.

    Each KEY=VALUE may take its VALUE from an environment variable (KEY=@ENVVAR) or from
    standard input (KEY=-, prompted without echo on a terminal), which keeps secrets out of
    ps; @@ at the start stands for a literal @.
    """
    from imtui.engine import account_actions

    secrets = parse_secrets(pairs)
    with app.db.write() as session:
        was_paused = account_actions.connection_for(session, connection_key).paused
        connection = account_actions.update_credentials(
            session,
            connection_key=connection_key,
            credentials=secrets,
            actor=app.actor,
            now=app.now(),
        )
    resumed = "; un-paused, waiting records are due now" if was_paused else ""
    click.echo(
        f"connection {connection.id} ({printable(connection.name)}): changed "
        f"{masked(tuple(sorted(secrets)))}{resumed}"
    )


@connection_group.command("test")
@click.argument("connection_key", metavar="CONN", type=CONNECTION_KEY)
@json_option
@pass_app
def connection_test(app: AppContext, connection_key: str, as_json: bool) -> None:
    """Test CONN (id or name): its token and one small read against the remote (the shop's
    name; the WMS's customer and facility), timed. Nothing changes, there or here: the queue,
    the alerts and a pause stay as they are.

    Exit status 0 when the remote answered as it should; 1 with one line saying what it
    answered (in its own words) and how imtui would treat that (the failure class).
    """
    from imtui.engine import account_actions
    from imtui.engine.connection_check import check_stored_connection

    with app.db.read() as session:
        connection = account_actions.connection_for(session, connection_key)
    check = asyncio.run(check_stored_connection(connection))
    said = f"{_label(connection.id, connection.name)}: {printable(check.summary())}"
    if as_json:
        echo_json(check)
    elif check.ok:
        click.echo(said)
    if not check.ok:
        raise CliError(said)


@connection_group.command("pause")
@click.argument("connection_key", metavar="CONN", type=CONNECTION_KEY)
@click.option("--reason", default="", help="Why, shown with the connection while it is paused.")
@pass_app
def connection_pause(app: AppContext, connection_key: str, reason: str) -> None:
    """Pause CONN (id or name): nothing is read from or sent to it until it is resumed. Its
    records wait; none fails or is given up for the pause."""
    from imtui.engine import connection_actions

    with app.db.write() as session:
        connection = connection_actions.pause_connection(
            session, connection_key=connection_key, reason=reason, actor=app.actor, now=app.now()
        )
    click.echo(
        f"{_label(connection.id, connection.name)}: paused; its records wait until "
        f"'imtui connection resume {connection.id}'"
    )


@connection_group.command("resume")
@click.argument("connection_key", metavar="CONN", type=CONNECTION_KEY)
@pass_app
def connection_resume(app: AppContext, connection_key: str) -> None:
    """Resume CONN (id or name), paused by a person or for a remote's refusal: it is polled,
    and everything waiting on it is due, at once. Credentials that cannot be opened or lack a
    key are refused (replace them: it would only stop again)."""
    from imtui.engine import connection_actions

    with app.db.write() as session:
        connection = connection_actions.resume_connection(
            session, connection_key=connection_key, actor=app.actor, now=app.now()
        )
    click.echo(f"{_label(connection.id, connection.name)}: resumed; waiting records are due now")


@connection_group.command("edit")
@click.argument("connection_key", metavar="CONN", type=CONNECTION_KEY)
@click.option("--name", "new_name", help="A new name, unique in the account.")
@click.option("--url", "base_url", help="A new base URL, http(s)://host[:port].")
@click.option(
    "--poll", type=click.IntRange(10, 7 * 86400), help="Seconds between polls of this system."
)
@click.option(
    "--setting",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="A setting to change; KEY= (nothing after =) removes an optional one.",
)
@pass_app
def connection_edit(
    app: AppContext,
    connection_key: str,
    new_name: str | None,
    base_url: str | None,
    poll: int | None,
    settings: tuple[str, ...],
) -> None:
    """Change CONN's (id or name) name, URL, polling interval or settings, checked as 'imtui
    connection add' checks them; settings not named stay as they are. Its platform cannot
    change, nor its credentials here ('imtui connection credentials'). A paused connection
    stays paused."""
    from imtui.engine import account_actions, connection_actions

    if new_name is None and base_url is None and poll is None and not settings:
        raise click.UsageError("nothing to change: give --name, --url, --poll or --setting")
    values = parse_pairs(settings, "setting")
    with app.db.write() as session:
        before = connection_actions.Editable.of(
            account_actions.connection_for(session, connection_key)
        )
        connection = connection_actions.edit_connection(
            session,
            connection_key=connection_key,
            name=new_name,
            base_url=base_url,
            poll_interval_s=poll,
            settings=values,
            actor=app.actor,
            now=app.now(),
        )
        changes = before.changes_to(connection_actions.Editable.of(connection))
    label = _label(connection.id, connection.name)
    if not changes:
        click.echo(f"{label}: nothing changed")
        return
    still = (
        f"; still paused: 'imtui connection test {connection.id}', then "
        f"'imtui connection resume {connection.id}'"
        if connection.paused
        else ""
    )
    click.echo(f"{label}: changed {printable(', '.join(changes))}{still}")


def _label(connection_id: int | None, name: str) -> str:
    return f"connection {connection_id} ({printable(name)})"
