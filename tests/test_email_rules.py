"""The pure rules of alert email (B7, B8): which addresses are accepted, who is emailed at once,
when digests fall due, how a digest groups, the retry backoff, and what untrusted text may do
in a header. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default

import pytest

from imtui.domain.contacts import (
    Frequency,
    emails_alert_at_once,
    next_digest_at,
    schedule_after_change,
)
from imtui.domain.digest_email import DigestFacts, digest_email, digest_groups
from imtui.domain.email_address import InvalidEmailAddress, check_email_address, smtp_address
from imtui.domain.emails import AlertFacts, Recipient, first_few, header_text, html_version
from imtui.domain.failures import AlertKind
from imtui.domain.outbox import retry_delay
from imtui.notify.message import Outgoing, build_message, message_bytes
from imtui.notify.settings import EmailSettings

T0 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


# -- addresses --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("ops@example.com", "ops@example.com"),
        ("  Ops.Team+alerts@Example.COM ", "Ops.Team+alerts@example.com"),
        ("o'brien@mail.example.co.uk", "o'brien@mail.example.co.uk"),
        ("support@bücher.example", "support@bücher.example"),
    ],
)
def test_valid_addresses_are_kept_with_their_domain_lower_cased(given: str, kept: str) -> None:
    assert check_email_address(given) == kept


def test_an_international_domain_goes_on_the_wire_idna_encoded() -> None:
    assert smtp_address("support@bücher.example") == "support@xn--bcher-kva.example"


def test_idna_2008_keeps_a_domain_itself_and_refuses_what_is_not_one() -> None:
    """IDNA 2003 sent ``ops@straße.example`` to ``strasse.example``, another domain."""
    assert smtp_address(check_email_address("ops@straße.example")) == "ops@xn--strae-oqa.example"
    for address, said in [
        ("ops@xn--zz.example", "not valid IDNA"),  # punycode that decodes to nothing
        ("ops@corp.local", "special-use or reserved name"),
        ("ops@ex_ample.com", "invalid characters"),
    ]:
        with pytest.raises(InvalidEmailAddress, match=said):
            check_email_address(address)


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("", "required"),
        ("ops", "must look like"),
        ("ops@", "must look like"),
        ("@example.com", "must look like"),
        ("ops@localhost", "needs a dot"),
        ("Ops <ops@example.com>", "bare address"),
        ('"ops"@example.com', "bare address"),
        ("ops@example.com, evil@example.net", "bare address"),
        ("ops@example.com;evil@example.net", "bare address"),
        ("ops@example.com\r\nBcc: evil@example.net", "control characters"),
        ("ops@example.com\u2028bcc@example.net", "control characters"),
        ("ops@exa mple.com", "spaces"),
        ("a@b@example.com", "more than one @"),
        ("ops..team@example.com", "dot where none may be"),
        (".ops@example.com", "dot where none may be"),
        ("ops@-example.com", "not a valid domain"),
        ("ops@example..com", "not a valid domain"),
        ("ops@[127.0.0.1]", "bare address"),
        ("ops@example.123", "top-level domain"),
        ("jörg@example.com", "plain ASCII"),
        ("x" * 65 + "@example.com", "longer than 64"),
        ("ops@" + "a" * 250 + ".com", "longer than 254"),
        ("ops@" + "a" * 64 + ".com", "not a valid domain"),
    ],
)
def test_invalid_addresses_are_refused_with_a_clear_reason(given: str, says: str) -> None:
    with pytest.raises(InvalidEmailAddress, match=says) as caught:
        check_email_address(given)
    assert "\n" not in str(caught.value)


# -- who is told when -------------------------------------------------------------------------


def test_only_immediately_contacts_get_ordinary_person_alerts_at_once() -> None:
    kind = AlertKind.ADDRESS_REJECTED
    assert emails_alert_at_once(Frequency.IMMEDIATELY, kind)
    assert not emails_alert_at_once(Frequency.HOURLY, kind)
    assert not emails_alert_at_once(Frequency.DAILY, kind)
    assert not emails_alert_at_once(Frequency.OFF, kind)


def test_an_unmapped_ship_method_goes_at_once_to_every_contact_not_off() -> None:
    kind = AlertKind.UNMAPPED_SHIP_METHOD
    assert [f for f in Frequency if emails_alert_at_once(f, kind)] == [
        Frequency.IMMEDIATELY,
        Frequency.HOURLY,
        Frequency.DAILY,
    ]


def test_alerts_that_heal_themselves_are_never_emailed() -> None:
    assert not any(emails_alert_at_once(f, AlertKind.UNREACHABLE) for f in Frequency)
    assert not any(emails_alert_at_once(f, AlertKind.RATE_LIMITED) for f in Frequency)


def test_hourly_digests_fall_on_the_next_full_hour() -> None:
    assert next_digest_at(Frequency.HOURLY, T0) == datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    on_the_hour = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    assert next_digest_at(Frequency.HOURLY, on_the_hour) == on_the_hour + timedelta(hours=1)


def test_daily_digests_fall_on_the_next_configured_hour() -> None:
    assert next_digest_at(Frequency.DAILY, T0, daily_hour=7) == datetime(2026, 11, 3, 7, tzinfo=UTC)
    assert next_digest_at(Frequency.DAILY, T0, daily_hour=17) == datetime(
        2026, 11, 2, 17, tzinfo=UTC
    )


def test_no_digest_for_immediately_and_off() -> None:
    assert next_digest_at(Frequency.IMMEDIATELY, T0) is None
    assert next_digest_at(Frequency.OFF, T0) is None


def test_switching_to_immediately_asks_for_one_summary_now_and_off_for_nothing() -> None:
    later = T0 + timedelta(hours=1)
    assert schedule_after_change(Frequency.HOURLY, Frequency.IMMEDIATELY, later, T0) == T0
    assert schedule_after_change(None, Frequency.IMMEDIATELY, None, T0) == T0
    assert schedule_after_change(Frequency.HOURLY, Frequency.OFF, later, T0) is None
    assert schedule_after_change(Frequency.DAILY, Frequency.HOURLY, later, T0) is None
    assert schedule_after_change(Frequency.HOURLY, Frequency.HOURLY, later, T0) == later


def test_email_retries_back_off_to_an_hour_and_never_give_up() -> None:
    delays = [retry_delay(n) for n in range(1, 12)]
    assert delays[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert delays[-1] == timedelta(hours=1)
    assert delays == sorted(delays)
    assert retry_delay(10_000) == timedelta(hours=1)


# -- digests ----------------------------------------------------------------------------------


def facts(
    alert_id: int,
    kind: AlertKind = AlertKind.ADDRESS_REJECTED,
    *,
    connection: str = "3PL",
    connection_id: int = 1,
    order: str | None = None,
    message: str = "ShipTo.Zip is required",
) -> AlertFacts:
    return AlertFacts(
        alert_id=alert_id,
        kind=kind,
        account_id=1,
        account="Acme",
        connection_id=connection_id,
        connection=connection,
        state="open",
        message=message,
        order_number=order if order is not None else f"#{1000 + alert_id}",
        sku=None,
        ship_method_code=None,
        count=1,
        first_seen=T0 + timedelta(minutes=alert_id),
        last_seen=T0 + timedelta(minutes=alert_id),
    )


def test_a_digest_groups_by_kind_and_connection_biggest_first() -> None:
    alerts = [facts(n) for n in range(1, 13)]
    alerts += [facts(20, AlertKind.UNKNOWN_SKU), facts(21, AlertKind.UNKNOWN_SKU)]
    alerts += [facts(30, connection="Other WMS", connection_id=2)]
    groups = digest_groups(alerts)
    assert [(g.kind, g.connection, len(g.alerts)) for g in groups] == [
        (AlertKind.ADDRESS_REJECTED, "3PL", 12),
        (AlertKind.UNKNOWN_SKU, "3PL", 2),
        (AlertKind.ADDRESS_REJECTED, "Other WMS", 1),
    ]
    assert groups[0].title == "12 orders: WMS rejected the address"
    assert first_few(groups[0].labels) == "#1001, #1002, #1003 and 9 more"


def test_a_digest_names_the_first_few_and_says_and_n_more() -> None:
    digest = DigestFacts(
        account_id=1,
        account="Acme",
        recipient=Recipient(contact_id=4, name="Ops", frequency="hourly"),
        at=T0,
        since=T0 - timedelta(hours=1),
        new=tuple(facts(n) for n in range(1, 13)),
        resolved=(facts(40, AlertKind.UNKNOWN_SKU),),
        still_open=2,
    )
    email = digest_email(digest)
    assert email.subject == "[imtui] Acme: 12 new alerts need a person (hourly digest)"
    assert "12 orders: WMS rejected the address — 3PL" in email.text
    assert "#1001, #1002, #1003 and 9 more" in email.text
    assert "imtui alerts list --account 1 --kind address_rejected" in email.text
    assert "Resolved or dismissed since an earlier digest listed them:" in email.text
    assert "1 order: Unknown SKU — #1040" in email.text
    assert "Still open from earlier emails: 2 alerts" in email.text


# -- untrusted text in headers ----------------------------------------------------------------


HOSTILE = (
    "#1001\r\nBcc: evil@example.net\r\n\r\nbody"
    "\u2028X-Injected: 1\u2029\x85=?utf-8?q?=0D=0ABcc:_evil2@example.net?=\x1b[31m"
)


def test_header_text_is_one_line_without_separators_or_encoded_words() -> None:
    text = header_text(HOSTILE)
    assert "\r" not in text and "\n" not in text
    assert not any(ch in text for ch in "\u2028\u2029\x85\x1b")
    assert "=?" not in text and "?=" not in text
    assert "\\r\\nBcc: evil@example.net" in text  # visible, not obeyed


def test_header_text_is_cut_to_a_length() -> None:
    assert len(header_text("x" * 1000)) == 200


def settings() -> EmailSettings:
    return EmailSettings(
        host="127.0.0.1", port=2525, security="none", sender="imtui@alerts.example.com", html=True
    )


def test_a_hostile_subject_and_name_make_exactly_one_header_each() -> None:
    outgoing = Outgoing(
        email_id=1,
        recipient="ops@example.com",
        recipient_name="Ops\r\nBcc: evil@example.net",
        subject=HOSTILE,
        body="<script>alert(1)</script>\r\nline two\u2028",
        message_id="<1.imtui-outbox-1@alerts.example.com>",
        date=T0,
        resend=False,
    )
    raw = message_bytes(build_message(outgoing, settings()))
    parsed = message_from_bytes(raw, policy=default)
    assert parsed.get_all("Subject") is not None and len(parsed.get_all("Subject")) == 1
    assert parsed.get_all("Bcc") is None and parsed.get_all("X-Injected") is None
    assert [str(a.addr_spec) for a in parsed["To"].addresses] == ["ops@example.com"]
    assert b"\nBcc:" not in raw and b"\nX-Injected:" not in raw
    html = parsed.get_body(preferencelist=("html",))
    assert html is not None
    assert "&lt;script&gt;" in html.get_content() and "<script>" not in html.get_content()


def test_the_html_part_escapes_everything() -> None:
    page = html_version('<a href="x">&</a>')
    assert "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;" in page
