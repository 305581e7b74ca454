"""``imtui serve`` (the browser mode behind emailed links) and ``imtui link-session`` (the app
one browser session runs; started by the server, not by people)."""

from __future__ import annotations

import ipaddress
import logging
import os

import click

from imtui.cli.context import AppContext, CliError, pass_app
from imtui.cli.logs import setup_logging

log = logging.getLogger("imtui.serve")

NEEDS_URL = (
    "imtui serve needs IMTUI_PUBLIC_URL, the address browsers reach it at: "
    "https://imtui.example.com behind a TLS proxy, or http://127.0.0.1:8470 to try it here"
)


@click.command("serve", short_help="Serve the fixes emailed links open, in a browser.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8470, show_default=True, help="Port."
)
@click.option(
    "--sessions",
    type=click.IntRange(1, 500),
    default=8,
    show_default=True,
    help="Browser sessions at once (each runs a process); more wait.",
)
@click.option(
    "--idle-minutes",
    type=click.FloatRange(0.05, 24 * 60),
    default=15.0,
    show_default=True,
    help="A session nobody types into for this long ends.",
)
@pass_app
def serve_command(
    app: AppContext, host: str, port: int, sessions: int, idle_minutes: float
) -> None:
    """Serve the browser mode: each emailed link (signed, for one alert, opening one session,
    valid IMTUI_LINK_DAYS days) opens that alert's fix in the browser, and nothing else.
    Listens on loopback by default: put a TLS reverse proxy at IMTUI_PUBLIC_URL in front of it
    (see the README). While it runs, alert emails carry the links; without it, commands only."""
    from datetime import timedelta

    from imtui.notify.links import keys_for_serving
    from imtui.notify.settings import EmailSettingsError, load_email_settings
    from imtui.web.server import BrowserServer, ServeOptions
    from imtui.web.sessions import Sessions

    try:
        settings = load_email_settings()
    except EmailSettingsError as exc:
        raise CliError(str(exc)) from None
    if settings.public_url is None:
        raise CliError(NEEDS_URL)
    setup_logging()
    keys = keys_for_serving(app.db)
    if not _is_loopback(host) and not settings.public_url.startswith("https:"):
        log.warning("listening on %s without TLS: put a TLS proxy in front of it", host)
    server = BrowserServer(
        app.db,
        keys,
        ServeOptions(public_url=settings.public_url, host=host, port=port, db_url=app.db_url),
        sessions=Sessions(cap=sessions, idle=timedelta(minutes=idle_minutes)),
        clock=app.clock,
    )
    try:
        server.run()
    except OSError as exc:
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command("link-session", hidden=True)
@pass_app
def link_session_command(app: AppContext) -> None:
    """One browser session's app: started by ``imtui serve`` for a link it checked, with the
    alert, the audit's name for the link's holder and their address in IMTUI_LINK_ALERT,
    IMTUI_LINK_ACTOR and IMTUI_LINK_CONTACT."""
    alert = os.environ.get("IMTUI_LINK_ALERT", "")
    actor = os.environ.get("IMTUI_LINK_ACTOR", "")
    if not alert.isdecimal() or not actor:
        raise CliError("imtui link-session is started by imtui serve, for one emailed link")
    from imtui.tui.link_app import run_link_session

    contact = os.environ.get("IMTUI_LINK_CONTACT") or actor
    run_link_session(app.db, alert_id=int(alert), actor=actor, contact_label=contact)
