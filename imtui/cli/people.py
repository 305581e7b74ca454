"""``imtui people …`` and ``imtui whoami``: who may use imtui on this database, and as what
(docs/design.md, "People and roles")."""

from __future__ import annotations

import click

from imtui.cli.context import AppContext, json_option, pass_app
from imtui.cli.output import TextColumn, emit
from imtui.domain.text import printable
from imtui.store.people import access_of, account_names, list_people

PEOPLE_COLUMNS = (
    TextColumn("LOGIN", lambda r: r.login, 20),
    TextColumn("ROLE", lambda r: r.role, 8),
    TextColumn("ACCOUNTS", lambda r: "all" if r.all_accounts else ", ".join(r.accounts) or "none"),
)


@click.group("people", short_help="Who may see and do what.")
def people_group() -> None:
    """People and roles: viewer (reads), operator (resends, dismisses, edits orders and
    mappings), admin (accounts, connections, credentials, contacts, people), each on some
    accounts or on all. The database's owner is admin of every account."""


@people_group.command("list")
@json_option
@pass_app
def people_list(app: AppContext, as_json: bool) -> None:
    """List the people of this database."""
    with app.db.read() as session:
        rows = list_people(session)
    emit(rows, PEOPLE_COLUMNS, as_json=as_json, empty="nobody yet: the database's owner only")


@people_group.command("add")
@click.argument("login")
@click.option(
    "--role", required=True, type=click.Choice(["viewer", "operator", "admin"]), help="Role."
)
@click.option(
    "--account",
    "accounts",
    multiple=True,
    metavar="ACCOUNT",
    help="An account they may see and act on (name or id; repeat). None: every account.",
)
@pass_app
def people_add(app: AppContext, login: str, role: str, accounts: tuple[str, ...]) -> None:
    """Let LOGIN (an OS login on SQLite, a database role on PostgreSQL) use imtui as ROLE, or
    change their role and accounts."""
    from imtui.engine import people_actions

    with app.db.write() as session:
        detail = people_actions.add_person(
            session, login=login, role=role, accounts=list(accounts), actor=app.actor, now=app.now()
        )
        setup = people_actions.role_setup(session, login)
    click.echo(f"{printable(login)}: {printable(detail)}")
    if setup:
        click.echo(f"to let them log in, run on the server as a superuser: {setup}")


@people_group.command("remove")
@click.argument("login")
@pass_app
def people_remove(app: AppContext, login: str) -> None:
    """LOGIN may no longer use imtui here (their database role, if any, stays)."""
    from imtui.engine import people_actions

    with app.db.write() as session:
        people_actions.remove(session, login=login, actor=app.actor, now=app.now())
    click.echo(f"removed {printable(login)}")


@click.command("whoami")
@pass_app
def whoami_command(app: AppContext) -> None:
    """Who imtui takes you for on this database, and what you may do."""
    with app.db.read() as session:
        access = access_of(session)
        names = account_names(session)
    if access.role is None:
        click.echo(f"{printable(access.login)}: not an imtui user of this database")
        return
    if access.accounts is None:
        scope = "every account"
    else:
        scope = ", ".join(printable(names.get(a, f"#{a}")) for a in sorted(access.accounts))
    owner = " (the database's owner)" if access.owner else ""
    click.echo(f"{printable(access.login)}: {access.role} of {scope or 'no account'}{owner}")
