"""``imtui mapping …``: which WMS carrier and mode each shop ship method becomes (B9)."""

from __future__ import annotations

import sys

import click

from imtui.cli.context import (
    AppContext,
    CliError,
    account_id_for,
    account_option,
    json_option,
    pass_app,
)
from imtui.cli.output import TextColumn, emit
from imtui.domain.text import plural, printable
from imtui.store import account_reads
from imtui.store.rows import MappingRow

ACCOUNT_HELP = "The account (name or id); may be left out when there is only one."

MAPPING_COLUMNS = (
    TextColumn("ID", lambda r: r.id, 5, right=True),
    TextColumn("ACCOUNT", lambda r: r.account, 12),
    TextColumn("CARRIER", lambda r: r.carrier, 10),
    TextColumn("MODE", lambda r: r.mode, 12),
    TextColumn("BILLING", lambda r: r.billing_code, 9),
    TextColumn("DELIVERED", lambda r: r.delivered_at or "not yet", 11),
    TextColumn("UPDATED", lambda r: r.updated_at, 11, wide=True),
    TextColumn("SHIP METHOD CODE", lambda r: r.source_code),
)
"""80 columns: DELIVERED is when the WMS last took an order through the mapping ("not yet":
its carrier and mode are unproven); UPDATED shows from 120 columns."""


@click.group("mapping", short_help="Ship method code → WMS carrier and mode.")
def mapping_group() -> None:
    """Ship-method mappings: a shop's ship method code → the WMS carrier and mode."""


@mapping_group.command("list")
@account_option("Only this account's mappings.")
@json_option
@pass_app
def mapping_list(app: AppContext, account_key: str | None, as_json: bool) -> None:
    """List the ship-method mappings."""
    with app.db.read() as session:
        rows = account_reads.list_mappings(session, account_id=account_id_for(session, account_key))
    emit(rows, MAPPING_COLUMNS, as_json=as_json, empty="no mappings yet")


@mapping_group.command("set")
@click.argument("code")
@click.option("--carrier", required=True, help="The WMS carrier, e.g. UPS.")
@click.option("--mode", required=True, help="The WMS mode (service), e.g. 92.")
@click.option("--billing", default="Prepaid", show_default=True, help="The billing code.")
@account_option(ACCOUNT_HELP)
@pass_app
def mapping_set(
    app: AppContext, code: str, carrier: str, mode: str, billing: str, account_key: str | None
) -> None:
    """Map ship method CODE to a WMS carrier and mode. Every order held because CODE had no
    mapping is released and goes to the WMS on the worker's next cycle."""
    from imtui.engine import action_rules, mapping_actions

    with app.db.write() as session:
        account = action_rules.account_for(session, account_key)
        mapping, released = mapping_actions.set_mapping(
            session,
            account=account,
            source_code=code,
            carrier=carrier,
            mode=mode,
            billing_code=billing,
            actor=app.actor,
            now=app.now(),
        )
    click.echo(
        f"mapped {printable(mapping.source_code)} → {printable(mapping.carrier)} "
        f"{printable(mapping.mode)} ({printable(mapping.billing_code)}) for account "
        f"{printable(account.name)}; released {plural(released, 'held order')}"
    )


@mapping_group.command("delete")
@click.argument("code")
@account_option(ACCOUNT_HELP)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def mapping_delete(app: AppContext, code: str, account_key: str | None, yes: bool) -> None:
    """Delete the mapping of ship method CODE: orders with that ship method are held from then
    on, until it is mapped again. Asks first unless --yes; without a terminal to ask on, --yes
    is required."""
    from imtui.engine import action_rules, mapping_actions

    if not yes:
        confirm_delete(app, code, account_key)
    with app.db.write() as session:
        account = action_rules.account_for(session, account_key)
        mapping_actions.delete_mapping(
            session, account=account, source_code=code, actor=app.actor, now=app.now()
        )
    click.echo(f"deleted the mapping of {printable(code)} for account {printable(account.name)}")


def confirm_delete(app: AppContext, code: str, account_key: str | None) -> None:
    """Ask before a deletion that holds every later order of the method; a typo'd code or
    account is told first, and a script without --yes is refused rather than left waiting."""
    mapping = read_mapping(app, code, account_key)
    if not _stdin_is_a_terminal():
        raise CliError(
            f"the mapping of {printable(code)} was not deleted (no terminal to ask on): "
            "add --yes to delete without asking"
        )
    click.confirm(
        f"Delete the mapping of {printable(code)} to {printable(mapping.carrier)} "
        f"{printable(mapping.mode)}? Orders with this ship method are held from then on.",
        default=False,
        abort=True,
        err=True,
    )


def read_mapping(app: AppContext, code: str, account_key: str | None) -> MappingRow:
    """The mapping to delete, or the one line :func:`delete_mapping` would refuse with."""
    from imtui.engine import action_rules

    with app.db.read() as session:
        account = action_rules.account_for(session, account_key)
        rows = account_reads.list_mappings(session, account_id=account.id)
    for row in rows:
        if row.source_code == code:
            return row
    raise CliError(f"no mapping for ship method {code!r}")


def _stdin_is_a_terminal() -> bool:
    return sys.stdin.isatty()
