"""Print one of each alert email, made by the real code: the engine against the sandbox raises
alerts from real failures, the outbox job sends them through aiosmtplib to an SMTP server on
loopback, and a fake clock moves the hours. The README's examples are this script's output.

    python docs/email_examples.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from imtui.engine import actions, contact_actions
from imtui.engine.clock import FakeClock
from imtui.engine.runtime import Engine
from imtui.notify.mailer import Mailer
from imtui.notify.settings import EmailSettings
from imtui.sandbox import Sandbox
from imtui.store.database import Database
from imtui.store.models import Account
from tests.conftest import add_shop_order, wire_world
from tests.mail_server import Received, mail_server

SHOWN_HEADERS = ("From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted")


def show(title: str, received: Received) -> None:
    message = received.message
    print(f"### {title}\n\n```")
    for name in SHOWN_HEADERS:
        print(f"{name}: {str(message[name]).strip()}")
    print()
    print(received.text.rstrip())
    print("```\n")


async def main() -> None:
    folder = tempfile.mkdtemp()
    db = Database(f"sqlite:///{folder}/imtui.db")
    clock = FakeClock()
    with Sandbox(seed=1) as sandbox, mail_server() as smtp:
        world = wire_world(db, sandbox, clock)
        with db.write() as session:
            account = session.get(Account, world.account_id)
            assert account is not None
            for name, email, frequency in (
                ("Ops desk", "ops@acme.example", "immediately"),
                ("Dana Lee", "dana@acme.example", "hourly"),
            ):
                contact_actions.add_contact(
                    session,
                    account=account,
                    name=name,
                    email=email,
                    frequency=frequency,
                    actor="docs",
                    now=clock.now(),
                )
        for number in (1001, 1002, 1003):
            add_shop_order(sandbox, number, method="SAME_DAY_COURIER")
        for number in range(1004, 1016):
            add_shop_order(sandbox, number, sku="TENT-XL-GRN")
        for number in (1016, 1017):
            add_shop_order(sandbox, number, address={"address1": "", "zip": ""})
        engine = Engine(db, clock=clock)
        settings = EmailSettings(
            host="127.0.0.1",
            port=smtp.port,
            security="none",
            sender="imtui@acme.example",
            public_url="https://imtui.acme.example",
        )
        mailer = Mailer(db, clock=clock, owner="docs:0:0", settings=settings)
        try:
            await engine.run_once()
            await mailer.send_due()
            clock.advance(timedelta(hours=1))
            await mailer.compose_digests()
            await mailer.send_due()
            # The SKU reaches the WMS and the orders are resent: their alerts resolve.
            sandbox.wms.set_stock("TENT-XL-GRN", 40)
            with db.write() as session:
                for number in range(1004, 1016):
                    actions.resend_order(
                        session, order_key=f"#{number}", actor="docs", now=clock.now()
                    )
            await engine.run_once()
            clock.advance(timedelta(hours=1))
            await mailer.compose_digests()
            await mailer.send_due()
        finally:
            await engine.aclose()
            db.dispose()
        to_dana = smtp.sink.to("dana@acme.example")
        to_ops = smtp.sink.to("ops@acme.example")
        show("An unmapped ship method, at once to every contact not off (B8)", to_dana[0])
        rejected = next(r for r in to_ops if "Unknown SKU" in r.subject)
        show("Any alert that needs a person, at once to an “immediately” contact", rejected)
        show("An hourly digest, grouped by kind and connection (B7)", to_dana[1])
        show("The next digest: what closed since the last one listed it", to_dana[2])


if __name__ == "__main__":
    asyncio.run(main())
