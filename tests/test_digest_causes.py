"""A digest groups by cause, not only by kind (issue 11): within "6 orders: Unknown SKU" a line
per SKU with its count, biggest first; and a digest that only reports dismissals says so. Pure:
facts in, text out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from imtui.domain.alerts import AlertState
from imtui.domain.digest_email import (
    DigestFacts,
    closed_word,
    digest_email,
    digest_groups,
    digest_subject,
)
from imtui.domain.emails import AlertFacts, Recipient
from imtui.domain.failures import AlertKind

T0 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def facts(
    alert_id: int,
    kind: AlertKind = AlertKind.UNKNOWN_SKU,
    *,
    order: str | None = None,
    sku: str | None = None,
    method: str | None = None,
    state: str = AlertState.OPEN,
    resolved_by: str | None = None,
    held: tuple[str, ...] = (),
) -> AlertFacts:
    return AlertFacts(
        alert_id=alert_id,
        kind=kind,
        account_id=1,
        account="Acme",
        connection_id=1,
        connection="3PL",
        state=state,
        message="Sku not found",
        order_number=order if order is not None else f"#{1000 + alert_id}",
        sku=sku,
        ship_method_code=method,
        count=1,
        first_seen=T0 + timedelta(minutes=alert_id),
        last_seen=T0 + timedelta(minutes=alert_id),
        resolved_by=resolved_by,
        held_orders=held,
        held_total=len(held),
    )


def digest(new: tuple[AlertFacts, ...] = (), resolved: tuple[AlertFacts, ...] = ()) -> DigestFacts:
    return DigestFacts(
        account_id=1,
        account="Acme",
        recipient=Recipient(contact_id=4, name="Ops", frequency="hourly"),
        at=T0,
        since=T0 - timedelta(hours=1),
        new=new,
        resolved=resolved,
        still_open=0,
    )


def group_text(text: str, title: str) -> list[str]:
    """The lines of one group: its title up to the blank line after it."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    end = lines.index("", start)
    return lines[start:end]


# -- causes -----------------------------------------------------------------------------------


def test_unknown_skus_are_sub_grouped_by_sku_with_counts_biggest_first() -> None:
    mug = facts(1, order="#1010", sku="MUG-01")
    tents = tuple(facts(n, order=f"#{1000 + n}", sku="TENT-XL-GRN") for n in range(4, 9))

    email = digest_email(digest(new=(mug, *tents)))

    assert group_text(email.text, "6 orders: Unknown SKU") == [
        "6 orders: Unknown SKU — 3PL",
        '    SKU "TENT-XL-GRN" — 5 orders: #1004, #1005, #1006 and 2 more',
        '    SKU "MUG-01" — 1 order: #1010',
        "    Latest: Sku not found",
        "    Fix: imtui orders resend --account 1 '#1010' '#1004' '#1005' '#1006' '#1007'",
        "         (the other 1: imtui alerts list --account 1 --kind unknown_sku)",
        "    Open: imtui open alert/1",
    ]


def test_one_sku_for_the_whole_group_is_named_once() -> None:
    alerts = tuple(facts(n, sku="TENT-XL-GRN") for n in (1, 2))

    lines = group_text(digest_email(digest(new=alerts)).text, "2 orders")

    assert lines[:3] == [
        "2 orders: Unknown SKU — 3PL",
        "    #1001, #1002",
        '    Cause: SKU "TENT-XL-GRN"',
    ]


def test_unknown_carriers_are_sub_grouped_by_ship_method() -> None:
    alerts = (
        facts(1, AlertKind.UNKNOWN_CARRIER, method="FEDEX_2DAY"),
        facts(2, AlertKind.UNKNOWN_CARRIER, method="DHL_X"),
        facts(3, AlertKind.UNKNOWN_CARRIER, method="DHL_X"),
    )

    lines = group_text(digest_email(digest(new=alerts)).text, "3 orders")

    assert lines[1:3] == [
        '    Ship method "DHL_X" — 2 orders: #1002, #1003',
        '    Ship method "FEDEX_2DAY" — 1 order: #1001',
    ]


def test_unmapped_ship_methods_count_the_orders_they_hold() -> None:
    alerts = (
        facts(1, AlertKind.UNMAPPED_SHIP_METHOD, method="NOPE", held=("#1001",)),
        facts(2, AlertKind.UNMAPPED_SHIP_METHOD, method="EXPRESS", held=("#1002", "#1003")),
    )

    lines = group_text(digest_email(digest(new=alerts)).text, "2 ship methods")

    assert lines[1:3] == [
        '    Ship method "EXPRESS" — 2 orders held: #1002, #1003',
        '    Ship method "NOPE" — 1 order held: #1001',
    ]


def test_kinds_without_a_cause_keep_one_line_of_records() -> None:
    alerts = tuple(facts(n, AlertKind.ADDRESS_REJECTED) for n in (1, 2, 3, 4))

    lines = group_text(digest_email(digest(new=alerts)).text, "4 orders")

    assert lines[1] == "    #1001, #1002, #1003 and 1 more"
    assert not any("Cause" in line or "SKU" in line for line in lines)


def test_many_skus_name_the_biggest_and_count_the_rest() -> None:
    alerts = tuple(facts(n, sku=f"SKU-{n}") for n in range(1, 9))
    alerts += (facts(20, sku="SKU-1"),)

    lines = group_text(digest_email(digest(new=alerts)).text, "9 orders")

    assert lines[1] == '    SKU "SKU-1" — 2 orders: #1001, #1020'
    assert lines[2:6] == [f'    SKU "SKU-{n}" — 1 order: #{1000 + n}' for n in range(2, 6)]
    assert lines[6] == "    and 3 other SKUs — 3 orders"


def test_an_alert_without_its_sku_is_said_to_be_so() -> None:
    alerts = (facts(1, sku="MUG-01"), facts(2, sku=None))

    lines = group_text(digest_email(digest(new=alerts)).text, "2 orders")

    assert lines[1:3] == [
        '    SKU "MUG-01" — 1 order: #1001',
        "    SKU not recorded — 1 order: #1002",
    ]


def test_a_hostile_sku_is_one_escaped_line() -> None:
    alerts = (facts(1, sku="A\r\nBcc: x@evil\x1b[31m"), facts(2, sku="B"), facts(3, sku="B"))

    text = digest_email(digest(new=alerts)).text

    assert '    SKU "A\\r\\nBcc: x@evil\\x1b[31m" — 1 order: #1001' in text
    assert "\r" not in text and "\x1b" not in text


def test_groups_stay_grouped_by_kind_and_connection() -> None:
    alerts = [facts(n, sku="A") for n in (1, 2)] + [facts(3, AlertKind.ADDRESS_REJECTED)]
    assert [(g.kind, len(g.alerts)) for g in digest_groups(alerts)] == [
        (AlertKind.UNKNOWN_SKU, 2),
        (AlertKind.ADDRESS_REJECTED, 1),
    ]


# -- closed alerts ----------------------------------------------------------------------------


def dismissed(alert_id: int) -> AlertFacts:
    return facts(alert_id, state=AlertState.DISMISSED, resolved_by="ann")


def resolved(alert_id: int) -> AlertFacts:
    return facts(alert_id, state=AlertState.RESOLVED, resolved_by="auto")


def test_a_digest_of_only_dismissals_says_dismissed_not_resolved() -> None:
    email = digest_email(digest(resolved=(dismissed(1), dismissed(2))))

    assert email.subject == "[imtui] Acme: 2 alerts dismissed (hourly digest)"
    assert "Dismissed since an earlier digest listed them:" in email.text
    assert "resolved" not in email.text.lower()


def test_a_digest_of_dismissals_and_resolutions_says_closed() -> None:
    facts_ = digest(resolved=(dismissed(1), resolved(2)))

    assert digest_subject(facts_) == "[imtui] Acme: 2 alerts closed (hourly digest)"
    assert "Resolved or dismissed since an earlier digest listed them:" in digest_email(facts_).text


def test_a_digest_of_automatic_resolutions_says_resolved() -> None:
    assert digest_subject(digest(resolved=(resolved(1),))) == (
        "[imtui] Acme: 1 alert resolved (hourly digest)"
    )


def test_how_alerts_closed() -> None:
    assert closed_word([dismissed(1)]) == "dismissed"
    assert closed_word([resolved(1)]) == "resolved"
    assert closed_word([facts(1, state=AlertState.RESOLVED, resolved_by="ann")]) == "resolved"
    assert closed_word([dismissed(1), resolved(2)]) == "closed"
    assert closed_word([facts(1, state=AlertState.DISMISSED, resolved_by="auto")]) == "closed"


def test_new_alerts_decide_the_subject_whatever_closed() -> None:
    subject = digest_subject(digest(new=(facts(1, sku="A"),), resolved=(dismissed(2),)))
    assert subject == "[imtui] Acme: 1 new alert needs a person (hourly digest)"
