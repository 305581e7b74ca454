"""What a digest email says (B7): the new alerts of an hour or a day grouped by kind and
connection, then by cause (the SKU, the ship method, the field), and the alerts an earlier
digest listed that have closed since. Pure, like :mod:`imtui.domain.emails`, whose rules for
untrusted text it follows."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from imtui.domain.alerts import AUTO_ACTOR, AlertState
from imtui.domain.causes import capitalized, combined_fixes
from imtui.domain.contacts import Frequency
from imtui.domain.emails import (
    INDENT,
    SUBJECT_PREFIX,
    AlertFacts,
    EmailContent,
    Recipient,
    alert_fix,
    first_few,
    footer,
    header_text,
    natural_key,
    one_line,
    prose_line,
    record_label,
    when,
)
from imtui.domain.failures import AlertKind
from imtui.domain.text import plural

SHOWN_CAUSES = 5
"""Causes (SKUs, ship methods) named per digest group before "and N other …"."""


@dataclass(frozen=True, slots=True)
class DigestFacts:
    account_id: int
    account: str
    recipient: Recipient
    at: datetime
    since: datetime | None
    """The previous digest to this contact; None for its first."""
    new: tuple[AlertFacts, ...]
    """Open alerts that need a person and were never sent to this contact."""
    resolved: tuple[AlertFacts, ...]
    """Alerts an earlier digest listed that have closed since."""
    still_open: int
    """Alerts sent to this contact earlier that are still open."""

    @property
    def is_empty(self) -> bool:
        return not self.new and not self.resolved


@dataclass(frozen=True, slots=True)
class DigestGroup:
    """The alerts of one kind on one connection: "12 orders: Unknown SKU"."""

    kind: str
    connection: str | None
    alerts: tuple[AlertFacts, ...]

    @property
    def headline(self) -> str:
        return self.alerts[0].headline

    @property
    def labels(self) -> list[str]:
        return [record_label(alert)[1] for alert in self.alerts]

    @property
    def noun(self) -> str:
        nouns = {record_label(alert)[0] for alert in self.alerts}
        return nouns.pop() if len(nouns) == 1 else "record"

    @property
    def title(self) -> str:
        count = len(self.alerts)
        return f"{plural(count, self.noun)}: {self.headline}"

    @property
    def causes(self) -> list[CauseGroup]:
        return cause_groups(self.alerts)


# -- causes -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CauseGroup:
    """The alerts of a digest group that share one cause: the orders of one unknown SKU."""

    cause: str | None
    """``SKU "TENT-XL-GRN"``, ``Ship method "EXPRESS"``; None for a kind that has no cause
    beyond itself (and ``… not recorded`` for an alert that does not say)."""
    alerts: tuple[AlertFacts, ...]

    @property
    def holds_orders(self) -> bool:
        """An unmapped ship method: its alerts are the methods, the orders are counted."""
        return self.alerts[0].kind == AlertKind.UNMAPPED_SHIP_METHOD and all(
            alert.ship_method_code is not None for alert in self.alerts
        )

    @property
    def size(self) -> int:
        """How many records the cause holds up: orders, or for a method the orders held."""
        if self.holds_orders:
            return sum(alert.held_total or alert.count for alert in self.alerts)
        return len(self.alerts)


_CAUSES: dict[str, tuple[str, Callable[[AlertFacts], str | None]]] = {
    AlertKind.UNKNOWN_SKU: ("SKU", lambda alert: alert.sku),
    AlertKind.UNMAPPED_SHIP_METHOD: ("ship method", lambda alert: alert.ship_method_code),
    AlertKind.UNKNOWN_CARRIER: ("ship method", lambda alert: alert.ship_method_code),
}
"""What alerts of one kind can differ by: the SKU the WMS does not know, the ship method."""


def cause_name(alert: AlertFacts) -> str | None:
    """``SKU "TENT-XL-GRN"`` for an unknown SKU; None for a kind with no cause to name."""
    named = _CAUSES.get(alert.kind)
    if named is None:
        return None
    what, value_of = named
    value = value_of(alert)
    if value is None:
        return f"{capitalized(what)} not recorded"
    return f'{capitalized(what)} "{one_line(value, 60)}"'


def cause_groups(alerts: Sequence[AlertFacts]) -> list[CauseGroup]:
    """Alerts (of one digest group, in its order) by cause; biggest first, then oldest."""
    by_cause: dict[str | None, list[AlertFacts]] = {}
    for alert in alerts:
        by_cause.setdefault(cause_name(alert), []).append(alert)
    groups = [CauseGroup(cause=cause, alerts=tuple(members)) for cause, members in by_cause.items()]
    return sorted(groups, key=lambda group: (-group.size, group.alerts[0].first_seen))


def digest_groups(alerts: Iterable[AlertFacts]) -> list[DigestGroup]:
    """Group by alert kind and connection; biggest group first, then oldest. Within a group,
    records in the order they first failed (those of one cycle by number: #2 before #10)."""
    groups: dict[tuple[str, int | None], list[AlertFacts]] = {}
    for alert in sorted(alerts, key=lambda a: (a.first_seen, natural_key(record_label(a)[1]))):
        groups.setdefault((alert.kind, alert.connection_id), []).append(alert)
    ordered = sorted(groups.values(), key=lambda members: (-len(members), members[0].first_seen))
    return [
        DigestGroup(kind=members[0].kind, connection=members[0].connection, alerts=tuple(members))
        for members in ordered
    ]


# -- digests ----------------------------------------------------------------------------------


_DIGEST_NAMES = {
    Frequency.HOURLY: "Hourly digest",
    Frequency.DAILY: "Daily digest",
}
SUMMARY_NAME = "Summary of open alerts"


def digest_name(frequency: str) -> str:
    return _DIGEST_NAMES.get(Frequency(frequency), SUMMARY_NAME)


def closed_word(alerts: Iterable[AlertFacts]) -> str:
    """How closed alerts closed: "dismissed" when people dismissed every one, "resolved" when
    every one was resolved, "closed" for a mix."""
    ways = {_closed_way(alert) for alert in alerts}
    return ways.pop() if len(ways) == 1 else "closed"


def _closed_way(alert: AlertFacts) -> str:
    if alert.state == AlertState.DISMISSED and alert.resolved_by not in (None, AUTO_ACTOR):
        return "dismissed"
    if alert.state == AlertState.RESOLVED:
        return "resolved"
    return "closed"


def digest_subject(digest: DigestFacts) -> str:
    account = header_text(digest.account, 60)
    name = digest_name(digest.recipient.frequency).lower()
    if digest.new:
        verb = "needs" if len(digest.new) == 1 else "need"
        news = f"{plural(len(digest.new), 'new alert')} {verb} a person"
    else:
        news = f"{plural(len(digest.resolved), 'alert')} {closed_word(digest.resolved)}"
    return header_text(f"{SUBJECT_PREFIX} {account}: {news} ({name})")


def closed_heading(alerts: Iterable[AlertFacts]) -> str:
    """The heading of a digest's closed alerts, in the words of how they closed."""
    how = {"dismissed": "Dismissed", "resolved": "Resolved"}.get(
        closed_word(alerts), "Resolved or dismissed"
    )
    return f"{how} since an earlier digest listed them:"


def digest_email(digest: DigestFacts) -> EmailContent:
    """One email for the alerts of an hour or a day, grouped by kind and connection."""
    name = digest_name(digest.recipient.frequency)
    lines = [f"{name} for {one_line(digest.account, 80)} — {when(digest.at)}"]
    if digest.new:
        count = len(digest.new)
        news = f"{plural(count, 'alert')} need{'s' if count == 1 else ''} a person"
        if digest.since:
            lines.append(f"{news}, new since {when(digest.since)}.")
        else:
            lines.append(f"{news}, open and not emailed to you before.")
        for group in digest_groups(digest.new):
            lines += ["", *_group_lines(group, digest.account_id)]
    if digest.resolved:
        lines += ["", closed_heading(digest.resolved)]
        for group in digest_groups(digest.resolved):
            lines.append(f"{INDENT}{group.title} — {first_few(group.labels)}")
    if digest.still_open:
        lines += [
            "",
            f"Still open from earlier emails: {plural(digest.still_open, 'alert')} — "
            f"imtui alerts list --account {digest.account_id}",
        ]
    lines += footer(digest.recipient, digest.account, name.lower(), "")
    return EmailContent(subject=digest_subject(digest), text="\n".join(lines) + "\n")


def _group_lines(group: DigestGroup, account_id: int) -> list[str]:
    title = group.title
    if group.connection:
        title += f" — {one_line(group.connection, 60)}"
    latest = max(group.alerts, key=lambda a: (a.last_seen, a.alert_id))
    lines = [
        title,
        *(INDENT + line for line in _cause_lines(group)),
        f"{INDENT}Latest: {prose_line(latest.message)}",
    ]
    listing = f"imtui alerts list --account {account_id} --kind {group.kind}"
    fixes = [fix for fix in map(alert_fix, group.alerts) if fix]
    commands = combined_fixes(fixes, len(group.alerts), group.alerts[0])
    if len(group.alerts) > 1 and not any(listing in command for command in commands):
        lines.append(f"{INDENT}All: {listing}")
    for index, command in enumerate(commands):
        lines.append(f"{INDENT}{'Fix: ' if index == 0 else ' ' * 5}{command}")
    lines.append(f"{INDENT}Open: imtui open alert/{group.alerts[0].alert_id}")
    return lines


def _cause_lines(group: DigestGroup) -> list[str]:
    """The group's records; a line per cause when its alerts have several (biggest first),
    or the one cause they share named once."""
    causes = group.causes
    if len(causes) > 1:
        lines = [_cause_line(cause, group.noun) for cause in causes[:SHOWN_CAUSES]]
        return lines + _other_causes(causes[SHOWN_CAUSES:], group.noun)
    [only] = causes
    lines = [first_few(group.labels)]
    if only.cause is not None and not only.holds_orders:
        # (an unmapped ship method's label is the method already: "NOPE (3 orders)")
        lines.append(f"Cause: {only.cause}")
    return lines


def _cause_line(cause: CauseGroup, noun: str) -> str:
    """``SKU "TENT-XL-GRN" — 5 orders: #1004, #1005, #1006 and 2 more``."""
    if cause.holds_orders:
        held = [one_line(number, 60) for alert in cause.alerts for number in alert.held_orders]
        line = f"{cause.cause} — {plural(cause.size, 'order')} held"
        return f"{line}: {first_few(held)}" if held else line
    labels = [record_label(alert)[1] for alert in cause.alerts]
    return f"{cause.cause or 'Other'} — {plural(cause.size, noun)}: {first_few(labels)}"


def _other_causes(rest: Sequence[CauseGroup], noun: str) -> list[str]:
    """``and 4 other SKUs — 6 orders``."""
    if not rest:
        return []
    named = _CAUSES.get(rest[0].alerts[0].kind)
    causes = f"other {named[0] if named else 'cause'}"
    records = "order" if rest[0].holds_orders else noun
    count = sum(cause.size for cause in rest)
    return [f"and {plural(len(rest), causes)} — {plural(count, records)}"]
