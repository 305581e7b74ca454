"""The SMTP connection as real servers want it: STARTTLS or implicit TLS with the certificate
checked, and a login — against aiosmtpd on loopback with a throw-away certificate. A refused
login or an unusable TLS setup keeps the mail queued with one line saying why, and the password
appears nowhere."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from imtui.domain.failures import AlertKind
from imtui.domain.outbox import GATHER
from imtui.engine import account_actions, contact_actions
from imtui.engine.clock import FakeClock
from imtui.notify.mailer import Mailer
from imtui.notify.settings import EmailSettings
from imtui.store.alerts import AlertSubject, raise_alert
from imtui.store.database import Database
from imtui.store.queue import worker_identity
from tests.conftest import ACTOR
from tests.mail_server import MailServer, mail_server

USER = "imtui"
PASSWORD = "s3cret-smtp-password"
SENDER = "imtui@alerts.example.com"


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1: (cert.pem, key.pem), made in this process (no
    openssl run: the test stays in the fast lane)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def server_context(certificate: tuple[str, str]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


def settings(server: MailServer, security: str, ca_file: str | None, **extra: Any) -> EmailSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "security": security,
        "sender": SENDER,
        "timeout": 5.0,
        "username": USER,
        "password": PASSWORD,
        "ca_file": ca_file,
        **extra,
    }
    return EmailSettings(**values)


@pytest.fixture
def queued(db: Database, clock: FakeClock) -> Database:
    """One alert email in the outbox."""
    with db.write() as session:
        account = account_actions.add_account(
            session, name="Acme", kind="merchant", actor=ACTOR, now=clock.now()
        )
        contact_actions.add_contact(
            session,
            account=account,
            name="Ops",
            email="ops@example.com",
            frequency="immediately",
            actor=ACTOR,
            now=clock.now(),
        )
        raise_alert(
            session,
            account_id=account.id or 0,
            connection_id=None,
            kind=AlertKind.ADDRESS_REJECTED,
            message="ShipTo.Zip is required",
            now=clock.now(),
            about=AlertSubject(order_number="#1001", subject="deliver:1"),
        )
    clock.advance(GATHER)  # its first email has gathered the burst: due now
    return db


@pytest.fixture
def starttls_server(certificate: tuple[str, str]) -> Iterator[MailServer]:
    with mail_server(
        tls_context=server_context(certificate),
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    ) as server:
        yield server


@pytest.fixture
def tls_server(certificate: tuple[str, str]) -> Iterator[MailServer]:
    # aiosmtpd does not count a TLS-from-the-start connection as TLS for AUTH: it is one.
    with mail_server(
        server_context(certificate),
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,
    ) as server:
        yield server


async def send(db: Database, clock: FakeClock, email_settings: EmailSettings) -> Any:
    mailer = Mailer(db, clock=clock, owner=worker_identity(), settings=email_settings)
    return await mailer.send_due()


async def test_starttls_with_a_login_delivers(
    queued: Database, clock: FakeClock, starttls_server: MailServer, certificate
) -> None:
    report = await send(queued, clock, settings(starttls_server, "starttls", certificate[0]))
    assert report.sent == 1
    assert [r.rcpt_tos for r in starttls_server.received] == [["ops@example.com"]]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
async def test_implicit_tls_with_a_login_delivers(
    queued: Database, clock: FakeClock, tls_server: MailServer, certificate
) -> None:
    report = await send(queued, clock, settings(tls_server, "tls", certificate[0]))
    assert report.sent == 1 and len(tls_server.received) == 1


async def test_a_refused_login_keeps_the_mail_queued_and_never_shows_the_password(
    queued: Database, clock: FakeClock, starttls_server: MailServer, certificate
) -> None:
    wrong = settings(starttls_server, "starttls", certificate[0], password="not-it")
    report = await send(queued, clock, wrong)
    assert report.sent == 0
    assert "refused the login: 535" in (report.unavailable or "")
    assert "not-it" not in (report.unavailable or "") and PASSWORD not in repr(wrong)
    assert starttls_server.received == []


async def test_an_unknown_certificate_is_refused_unless_its_ca_is_given(
    queued: Database, clock: FakeClock, starttls_server: MailServer
) -> None:
    report = await send(queued, clock, settings(starttls_server, "starttls", None))
    assert report.sent == 0 and "CERTIFICATE_VERIFY_FAILED" in (report.unavailable or "")
    assert starttls_server.received == []


async def test_starttls_is_required_when_asked_for(
    queued: Database, clock: FakeClock, certificate
) -> None:
    with mail_server() as plain:
        report = await send(queued, clock, settings(plain, "starttls", certificate[0]))
    assert report.sent == 0 and "STARTTLS" in (report.unavailable or "")
    assert plain.received == []
