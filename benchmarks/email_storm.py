"""A storm by email: ``python benchmarks/email_storm.py``.

N alerts of one cause (an unknown SKU on N orders) open for an account with three alert
contacts ("immediately"), in batches of 200 per transaction as the engine's outcome batches do.
Printed, next to their targets:

- alerts/s while the storm is raised, next to a baseline measured in the same run: the same
  alerts raised for an account with no contact (what telling people costs the engine);
- the emails written (target: 3, one per contact) and the notices (target: 3 × N);
- the time to compose and send the three storm emails through a real SMTP server on loopback
  (aiosmtpd), and the size of the largest (target: under 1 s and under 64 kB, however big N);
- the cap: N alerts of N different causes to one contact (20 emails in 10 minutes, then one
  summary): emails sent, emails folded, and that the summary went out.

Run:  python benchmarks/email_storm.py [--alerts 10000] [--db sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlmodel import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from imtui.domain.failures import AlertKind
from imtui.domain.outbox import GATHER, EmailKind, OutboxState
from imtui.engine import account_actions, contact_actions
from imtui.engine.clock import FakeClock
from imtui.notify.mailer import Mailer
from imtui.notify.settings import EmailSettings
from imtui.store.alerts import AlertSubject, raise_alert
from imtui.store.database import Database
from imtui.store.models import AlertNotice, OutboxEmail
from tests.mail_server import mail_server

BATCH = 200
TARGET_SEND_S = 1.0
TARGET_BYTES = 64 * 1024


def new_database(kind: str) -> Database:
    if kind == "postgres":
        from tests.conftest import postgres_schema_url

        base = os.environ.get(
            "IMTUI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        )
        url = postgres_schema_url(base).__enter__()
        return Database(url)
    return Database(f"sqlite:///{tempfile.mkdtemp()}/imtui.db")


def account_with_contacts(db: Database, clock: FakeClock, name: str, contacts: int) -> int:
    with db.write() as session:
        account = account_actions.add_account(
            session, name=name, kind="merchant", actor="b", now=clock.now()
        )
        for n in range(contacts):
            contact_actions.add_contact(
                session,
                account=account,
                name=f"Ops {n}",
                email=f"ops{n}@{name.lower()}.example",
                frequency="immediately",
                actor="b",
                now=clock.now(),
            )
        return account.id or 0


def raise_storm(
    db: Database, clock: FakeClock, account_id: int, alerts: int, *, causes: bool
) -> float:
    """Seconds to raise ``alerts`` alerts (one SKU, or one SKU each when ``causes``)."""
    started = time.perf_counter()
    for first in range(0, alerts, BATCH):
        with db.write() as session:
            for n in range(first, min(alerts, first + BATCH)):
                sku = f"SKU-{n}" if causes else "TENT-XL-GRN"
                raise_alert(
                    session,
                    account_id=account_id,
                    connection_id=None,
                    kind=AlertKind.UNKNOWN_SKU,
                    message=f"InvalidSku: Sku '{sku}' not found for customer 1",
                    now=clock.now(),
                    about=AlertSubject(
                        order_number=f"#{100000 + n}", sku=sku, subject=f"deliver:{account_id}:{n}"
                    ),
                )
    return time.perf_counter() - started


def counts(db: Database, account_id: int) -> tuple[int, int]:
    with db.read() as session:
        emails = session.exec(
            select(func.count(OutboxEmail.id)).where(OutboxEmail.account_id == account_id)
        ).one()
        notices = session.exec(
            select(func.count(AlertNotice.id))
            .join(OutboxEmail, OutboxEmail.id == AlertNotice.outbox_id)
            .where(OutboxEmail.account_id == account_id)
        ).one()
    return int(emails), int(notices)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    n = args.alerts
    db = new_database(args.db)
    clock = FakeClock()
    quiet = account_with_contacts(db, clock, "Quiet", 0)
    told = account_with_contacts(db, clock, "Acme", 3)
    capped = account_with_contacts(db, clock, "Capped", 1)

    baseline = raise_storm(db, clock, quiet, n, causes=False)
    storm = raise_storm(db, clock, told, n, causes=False)
    emails, notices = counts(db, told)
    print(f"{n:,} alerts of one cause, {args.db}, batches of {BATCH}")
    print(f"  raised, no contacts (baseline)  {n / baseline:8,.0f} alerts/s")
    ratio = storm / baseline
    print(f"  raised, 3 contacts              {n / storm:8,.0f} alerts/s  ({ratio:.2f}× the time)")
    print(f"  emails written                  {emails:8,}            target 3")
    print(f"  notices                         {notices:8,}            target {3 * n:,}")

    with mail_server() as smtp:
        settings = EmailSettings(  # type: ignore[arg-type]
            host="127.0.0.1", port=smtp.port, security="none", sender="imtui@bench.example"
        )
        mailer = Mailer(db, clock=clock, owner="bench:0:0", settings=settings)
        clock.advance(GATHER)
        started = time.perf_counter()
        report = await mailer.send_due()
        sent_s = time.perf_counter() - started
        largest = max(len(r.data) for r in smtp.received)
        target = f"target 3 in ≤ {TARGET_SEND_S:.0f} s"
        print(f"  storm emails composed and sent  {report.sent:8,} in {sent_s:.2f} s   {target}")
        size, most = f"{largest / 1024:8.1f} kB", f"{TARGET_BYTES // 1024} kB"
        print(f"  largest storm email             {size}         target ≤ {most}")

        raise_storm(db, clock, capped, 100, causes=True)
        clock.advance(GATHER)
        first = await mailer.send_due()
        clock.advance(timedelta(minutes=10))
        later = await mailer.send_due()
        with db.read() as session:
            summaries = session.exec(
                select(func.count(OutboxEmail.id)).where(
                    OutboxEmail.account_id == capped,
                    OutboxEmail.kind == EmailKind.SUMMARY,
                    OutboxEmail.state == OutboxState.SENT,
                )
            ).one()
        print(
            f"  cap: 100 causes to one contact   {first.sent} sent, {first.folded} folded, "
            f"{later.sent} summary sent ({summaries} in the outbox)   target 20 + 1"
        )
    db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
