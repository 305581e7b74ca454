"""``imtui secrets status|rotate``: the key that seals connection credentials (docs/secrets.md)."""

from __future__ import annotations

import click

from imtui.cli.context import AppContext, json_option, pass_app
from imtui.cli.output import echo_fields, echo_json


@click.group("secrets", short_help="The key that seals connection credentials.")
def secrets_group() -> None:
    """Connection credentials are stored sealed with a key (Fernet). The key comes from
    IMTUI_SECRET_KEY (the key itself), else the file IMTUI_SECRET_KEY_FILE names, else
    secret.key in your config folder (created on first use). See docs/secrets.md."""


@secrets_group.command("status")
@json_option
@pass_app
def secrets_status(app: AppContext, as_json: bool) -> None:
    """Where the key comes from, and how many connections are sealed, plain or unreadable
    with it. Shows no key and no credential."""
    from imtui.store.secrets import SecretKeyError, count_rows, current_keyring, key_source

    counts = count_rows(app.db)
    try:
        key = f"{current_keyring().source.describe()}"
    except SecretKeyError as exc:
        key = f"none usable: {exc}"
    if as_json:
        echo_json(
            {
                "key": key,
                "source": key_source().describe(),
                "sealed": counts.sealed,
                "plain": counts.plain,
                "unreadable": counts.unreadable,
            }
        )
        return
    echo_fields(
        [
            ("key", key),
            ("sealed", f"{counts.sealed} connection(s), {counts.unreadable} unreadable with it"),
            ("plain", f"{counts.plain} connection(s) (sealed on the next start)"),
        ],
        indent="",
    )


@secrets_group.command("rotate")
@click.option(
    "--print-new-key",
    is_flag=True,
    help="Print the new key (needed when the key comes from IMTUI_SECRET_KEY, which imtui "
    "cannot rewrite: give the printed key to every process).",
)
@pass_app
def secrets_rotate(app: AppContext, print_new_key: bool) -> None:
    """Seal every connection's credentials with a new key, in one transaction, and put the new
    key where the current one is (the key file). The old key opens nothing afterwards.

    Other processes reading a key file see the new key at once; processes given the key in
    IMTUI_SECRET_KEY need the new one (and a restart)."""
    from imtui.store.secrets import rotate_key

    rotation = rotate_key(app.db, actor=app.actor, now=app.now(), print_new_key=print_new_key)
    where = (
        f"written to {rotation.source.describe()}"
        if rotation.source.writable
        else "printed below: set it as IMTUI_SECRET_KEY for every process now"
    )
    click.echo(f"re-sealed {rotation.resealed} connection(s) with a new key, {where}", err=True)
    if print_new_key:
        click.echo(rotation.new_key.decode("ascii"))
