"""One cause, one message (B7, B8): what makes two alerts "the same problem" for email, and
what an email about a cause says — the first one, the updates that thread under it, and the
summary a contact gets instead of more emails once over the cap. Pure, like
:mod:`imtui.domain.emails`, whose rules for untrusted text it follows.

A cause is the alert kind and what the alerts share: the SKU of an unknown SKU, the ship method
of a method that is unmapped or names an unknown carrier, otherwise the connection. Two hundred
orders held for one unknown SKU are one cause: one email lists them, and the orders held after
it went out are told as replies in its thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from imtui.domain.emails import (
    INDENT,
    LOCAL_KINDS,
    MAX_MESSAGE,
    SUBJECT_PREFIX,
    AlertFacts,
    EmailContent,
    Recipient,
    body_text,
    field_lines,
    first_few,
    footer,
    header_text,
    one_line,
    what_next,
    when,
)
from imtui.domain.failures import METHOD_HOLD_KINDS, AlertKind
from imtui.domain.fixes import resend_head
from imtui.domain.links import link_mark
from imtui.domain.text import plural

MAX_KEY = 400
"""Characters of a cause key (the column's size)."""
NAMED = 20
"""Records named in a cause email before "and N more"."""
FIX_SHOWN = 5
"""Orders named in one suggested command; the rest are listed by the command after it."""
DISTINCT_FIXES = 3
"""Different commands shown before "and N more"."""
REPLY_PREFIX = "Re: "


class CauseBy(StrEnum):
    SKU = "sku"
    METHOD = "method"
    CONNECTION = "connection"


@dataclass(frozen=True, slots=True)
class Cause:
    kind: str
    by: CauseBy
    value: str

    @property
    def key(self) -> str:
        """Stored on the outbox row: the emails of one contact and one cause find each other."""
        return f"{self.kind}|{self.by}|{self.value}"[:MAX_KEY]


def cause_of(alert: AlertFacts) -> Cause:
    if alert.kind == AlertKind.UNKNOWN_SKU and alert.sku:
        return Cause(alert.kind, CauseBy.SKU, alert.sku)
    if alert.kind in METHOD_HOLD_KINDS and alert.ship_method_code is not None:
        return Cause(alert.kind, CauseBy.METHOD, alert.ship_method_code)
    return Cause(alert.kind, CauseBy.CONNECTION, str(alert.connection_id or 0))


@dataclass(frozen=True, slots=True)
class Told:
    """One alert as a cause email lists it, with the command that fixes it."""

    alert: AlertFacts
    fix: str | None
    """The one runnable command line, None when nothing is to be run."""


@dataclass(frozen=True, slots=True)
class CauseFacts:
    """What one email about one cause tells."""

    told: tuple[Told, ...]
    """The open alerts this email tells (at most a few hundred, oldest first)."""
    told_total: int
    open_total: int
    """Open alerts of this cause in the account, the ones earlier emails told included."""
    thread_subject: str | None = None
    """The subject of the thread's first email, for a later one; None for a first."""

    @property
    def first(self) -> AlertFacts:
        return self.told[0].alert

    @property
    def cause(self) -> Cause:
        return cause_of(self.first)


# -- what a cause is called --------------------------------------------------------------------


def cause_title(facts: CauseFacts, joiner: str = " — ") -> str:
    """One line naming the cause and how many records it holds, for a heading:
    'SKU "TENT-XL-GRN" unknown to the WMS — 200 orders held'. A subject joins with ", ": a
    non-ASCII dash makes Python fold the subject into an encoded word with a doubled space."""
    first = facts.first
    cause = facts.cause
    count = facts.told_total
    value = header_text(cause.value, 60)
    if cause.by is CauseBy.SKU:
        return f'SKU "{value}" unknown to the WMS{joiner}{_held(facts)}'
    if cause.kind == AlertKind.UNMAPPED_SHIP_METHOD:
        held = first.held_total or count
        return f'ship method "{value}" has no mapping{joiner}{plural(held, "order")} held'
    if cause.by is CauseBy.METHOD:
        return f'carrier of ship method "{value}" unknown to the WMS{joiner}{_held(facts)}'
    where = header_text(first.connection or f"connection {first.connection_id}", 60)
    if _connection_wide(first):
        return f"{first.headline}{joiner}{where}"
    if count == 1:
        return f"{first.headline}{joiner}{_label(first)}"
    return f"{first.headline}{joiner}{plural(count, _noun(first))} ({where})"


SUBJECT_JOINER = ", "


def capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


def _held(facts: CauseFacts) -> str:
    if facts.told_total == 1:
        return f"{_noun(facts.first)} {_label(facts.first)} held"
    return f"{plural(facts.told_total, _noun(facts.first))} held"


def _noun(alert: AlertFacts) -> str:
    return "order" if alert.order_number else "record"


def _label(alert: AlertFacts) -> str:
    if alert.order_number:
        return one_line(alert.order_number, 60)
    if alert.sku:
        return f"SKU {one_line(alert.sku, 60)}"
    if alert.about:
        return one_line(alert.about, 80)
    return f"alert {alert.alert_id}"


def _connection_wide(alert: AlertFacts) -> bool:
    return alert.connection_id is not None and alert.order_number is None and alert.sku is None


def cause_subject(facts: CauseFacts) -> str:
    """A first email's subject names the cause; a later one answers it ("Re: …", the same
    words), so that every mail program files them as one thread."""
    if facts.thread_subject is not None:
        return header_text(REPLY_PREFIX + facts.thread_subject.removeprefix(REPLY_PREFIX))
    account = header_text(facts.first.account, 60)
    return header_text(f"{SUBJECT_PREFIX} {account}: {cause_title(facts, SUBJECT_JOINER)}")


# -- the email --------------------------------------------------------------------------------


def cause_email(facts: CauseFacts, recipient: Recipient) -> EmailContent:
    """The email for the open alerts of one cause that this contact was not told yet."""
    first = facts.first
    lines = [f"{one_line(first.account, 80)}: {capitalized(cause_title(facts))}", ""]
    if facts.thread_subject is not None:
        earlier = facts.open_total - facts.told_total
        lines += [
            f"{plural(facts.told_total, 'more ' + _noun(first))} since the last email about "
            f"this; {facts.open_total:,} open in all"
            + (f" ({earlier:,} told before)." if earlier > 0 else "."),
            "",
        ]
    lines += _summary_fields(facts)
    lines += ["", *_said(facts), ""]
    if first.kind != AlertKind.UNMAPPED_SHIP_METHOD:  # (what _said tells it already)
        lines += [*what_next(first.kind), ""]
    lines.append("Fix:")
    lines += [INDENT + line for line in cause_fix_lines(facts, recipient)]
    reference = f"alert {first.alert_id}" + (" and others" if facts.told_total > 1 else "")
    lines += footer(recipient, first.account, reference, _why(first))
    return EmailContent(subject=cause_subject(facts), text="\n".join(lines) + "\n")


def _why(alert: AlertFacts) -> str:
    if alert.kind == AlertKind.UNMAPPED_SHIP_METHOD:
        return "Unmapped ship methods are emailed at once, whatever the frequency."
    return ""


def _summary_fields(facts: CauseFacts) -> list[str]:
    first = facts.first
    cause = facts.cause
    records = [_label(told.alert) for told in facts.told]
    named = first_few(records, NAMED) if records else ""
    if facts.told_total > len(records):
        named = f"{named} and {facts.told_total - len(records):,} more"
    records_line: str | None
    if first.kind == AlertKind.UNMAPPED_SHIP_METHOD:
        held = first.held_total or len(first.held_orders)
        shown = [one_line(number, 60) for number in first.held_orders]
        named = first_few(shown, NAMED) if shown else ""
        records_line = f"{held:,} — {named}" if named else f"{held:,}"
        label = "Orders held"
    else:
        records_line = named if facts.told_total > 1 or not first.order_number else None
        label = "Orders" if first.order_number else "Records"
    return field_lines(
        [
            (label, records_line),
            ("Order", _label(first) if _names_one_order(facts) else None),
            ("SKU", one_line(cause.value, 80) if cause.by is CauseBy.SKU else None),
            ("Ship method", one_line(cause.value, 80) if cause.by is CauseBy.METHOD else None),
            ("Account", one_line(first.account, 80)),
            ("Connection", one_line(first.connection, 80) if first.connection else None),
            ("First seen", when(min(told.alert.first_seen for told in facts.told))),
        ]
    )


def _names_one_order(facts: CauseFacts) -> bool:
    first = facts.first
    return (
        facts.told_total == 1
        and first.order_number is not None
        and first.kind != AlertKind.UNMAPPED_SHIP_METHOD
    )


def _said(facts: CauseFacts) -> list[str]:
    """The remote system's words: once when every record got the same answer, else the first
    few answers with their records."""
    first = facts.first
    if first.kind == AlertKind.UNMAPPED_SHIP_METHOD:
        return [
            "These orders ask for a ship method that is not mapped to a WMS carrier and mode.",
            "They are held, not sent: mapping the method releases every one of them on the next",
            "cycle, unedited.",
        ]
    who = "imtui found" if first.kind in LOCAL_KINDS else _who(first)
    messages: dict[str, list[str]] = {}
    for told in facts.told:
        messages.setdefault(told.alert.message, []).append(_label(told.alert))
    if len(messages) == 1:
        message = body_text(first.message[:MAX_MESSAGE])
        heading = f"{who}:" if facts.told_total == 1 else f"{who} (to each of them):"
        return [heading, *(INDENT + line for line in (message.splitlines() or ["(no message)"]))]
    lines = [f"{who}:"]
    for index, (message, labels) in enumerate(messages.items()):
        if index == DISTINCT_FIXES:
            lines.append(f"{INDENT}… and {plural(len(messages) - index, 'other answer')}")
            break
        shown = body_text(message[:MAX_MESSAGE]).splitlines() or ["(no message)"]
        lines.append(f"{INDENT}{first_few(labels)}:")
        lines += [INDENT * 2 + line for line in shown[:5]]
    return lines


def _who(alert: AlertFacts) -> str:
    return f"{one_line(alert.connection, 80) if alert.connection else 'The remote system'} said"


def cause_fix_lines(facts: CauseFacts, recipient: Recipient) -> list[str]:
    """The commands that fix what the email tells: one resend naming the orders (the first
    ten; the rest by the listing after it), one command when all share it, else the first few
    and a count. Then the way into the dashboard, and into the browser mode when it is served
    (a mark the link replaces as the email is sent: :mod:`imtui.domain.links`)."""
    fixes = [told.fix for told in facts.told if told.fix]
    lines = combined_fixes(fixes, facts.told_total, facts.first)
    lines.append(f"imtui open alert/{facts.first.alert_id}")
    if recipient.links:
        lines.append(f"or in a browser: {link_mark(facts.first.alert_id)}")
    return lines


def combined_fixes(fixes: Sequence[str], total: int, first: AlertFacts) -> list[str]:
    """One resend naming the first few orders (one ``--`` before them when a name starts with
    "-"), one command when all share it, else the first few commands and a count."""
    if not fixes:
        return []
    listing = f"imtui alerts list --account {first.account_id} --kind {first.kind}"
    distinct = list(dict.fromkeys(fixes))
    if len(distinct) == 1 and total <= 1:
        return distinct
    head = resend_head(first.account_id) + " "
    if all(fix.startswith(head) for fix in distinct):
        orders = [fix.removeprefix(head) for fix in distinct]
        guarded = any(order.startswith("-- ") for order in orders)
        words = [order.removeprefix("-- ") for order in orders[:FIX_SHOWN]]
        lines = [head + ("-- " if guarded else "") + " ".join(words)]
        if total > FIX_SHOWN:
            lines.append(f"(the other {total - FIX_SHOWN:,}: {listing})")
        return lines
    if len(distinct) == 1:
        return distinct
    lines = distinct[:DISTINCT_FIXES]
    if total > DISTINCT_FIXES:
        lines.append(f"(and {total - DISTINCT_FIXES:,} more like them: {listing})")
    return lines


# -- over the cap: one summary ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SummaryFacts:
    """The alerts a contact over the cap was not sent one by one, by cause."""

    causes: tuple[CauseFacts, ...]
    """The first few hundred of them, by cause."""
    total: int
    """All of them: those beyond the listed ones are counted, with the command that lists them."""
    cap: int
    cap_minutes: int

    @property
    def listed(self) -> int:
        return sum(cause.told_total for cause in self.causes)


def summary_email(summary: SummaryFacts, recipient: Recipient) -> EmailContent:
    first = summary.causes[0].first
    account = one_line(first.account, 80)
    count = plural(summary.total, "alert")
    lines = [
        f"{count} in one email — {account}",
        "",
        f"You were sent {plural(summary.cap, 'email')} within {summary.cap_minutes} minutes, "
        "the most one",
        "contact gets (IMTUI_EMAIL_CAP): what opened since is folded into this email instead.",
        "Nothing is dropped; every alert is below, by cause.",
    ]
    for cause in sorted(summary.causes, key=lambda c: -c.told_total):
        records = [_label(told.alert) for told in cause.told]
        lines += ["", capitalized(cause_title(cause)), INDENT + first_few(records)]
        lines += [INDENT + line for line in cause_fix_lines(cause, recipient)]
    unlisted = summary.total - summary.listed
    if unlisted > 0:
        lines += [
            "",
            f"And {plural(unlisted, 'more alert')} than fit here: "
            f"imtui alerts list --account {first.account_id}",
        ]
    lines += footer(recipient, first.account, "summary", "")
    subject = header_text(
        f"{SUBJECT_PREFIX} {header_text(first.account, 60)}: {count} folded into one email "
        f"(over {plural(summary.cap, 'email')} in {summary.cap_minutes} minutes)"
    )
    return EmailContent(subject=subject, text="\n".join(lines) + "\n")
