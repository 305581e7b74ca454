"""``imtui demo``: the product against its own sandbox, with a throw-away database."""

from __future__ import annotations

import asyncio

import click

from imtui.demo import run_headless


@click.command("demo", short_help="Watch imtui work against its built-in sandbox.")
@click.option(
    "--seconds",
    type=click.FloatRange(1, 86400),
    default=None,
    help="Stop by itself after this long (default: run until Ctrl-C).",
)
def demo_command(seconds: float | None) -> None:
    """Start the sandbox WMS and shop inside this process, a fresh SQLite database in a
    temporary folder, a seeded stream of orders and faults, and the engine with time running
    240x faster, then print what happens: deliveries, alerts raised and auto-resolved, orders
    held for a person. Ctrl-C stops it."""
    asyncio.run(run_headless(seconds=seconds))
