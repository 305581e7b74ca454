"""What a digest email says (B7): the new alerts of an hour or a day grouped by kind and
connection, then by cause (the SKU, the ship method, the field), and the alerts an earlier
digest listed that have closed since. Pure, like :mod:`imtui.domain.emails`, whose rules for
untrusted text it follows."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from imtui.domain.contacts import Frequency
from imtui.domain.emails import (
    INDENT,
    SUBJECT_PREFIX,
    AlertFacts,
    EmailContent,
    Recipient,
    first_few,
    fix_lines,
    footer,
    header_text,
    one_line,
    prose_line,
    record_label,
    when,
)
from imtui.domain.text import plural


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


def digest_groups(alerts: Iterable[AlertFacts]) -> list[DigestGroup]:
    """Group by alert kind and connection; biggest group first, then oldest. Within a group,
    records in the order they first failed (those of one cycle by number: #2 before #10)."""
    groups: dict[tuple[str, int | None], list[AlertFacts]] = {}
    for alert in sorted(alerts, key=lambda a: (a.first_seen, _natural(record_label(a)[1]))):
        groups.setdefault((alert.kind, alert.connection_id), []).append(alert)
    ordered = sorted(groups.values(), key=lambda members: (-len(members), members[0].first_seen))
    return [
        DigestGroup(kind=members[0].kind, connection=members[0].connection, alerts=tuple(members))
        for members in ordered
    ]


def _natural(label: str) -> tuple[tuple[int, int | str], ...]:
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", label)
    )


# -- digests ----------------------------------------------------------------------------------


_DIGEST_NAMES = {
    Frequency.HOURLY: "Hourly digest",
    Frequency.DAILY: "Daily digest",
}
SUMMARY_NAME = "Summary of open alerts"


def digest_name(frequency: str) -> str:
    return _DIGEST_NAMES.get(Frequency(frequency), SUMMARY_NAME)


def digest_subject(digest: DigestFacts) -> str:
    account = header_text(digest.account, 60)
    name = digest_name(digest.recipient.frequency).lower()
    if digest.new:
        verb = "needs" if len(digest.new) == 1 else "need"
        news = f"{plural(len(digest.new), 'new alert')} {verb} a person"
    else:
        news = f"{plural(len(digest.resolved), 'alert')} resolved"
    return header_text(f"{SUBJECT_PREFIX} {account}: {news} ({name})")


def digest_email(digest: DigestFacts, *, public_url: str | None = None) -> EmailContent:
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
            lines += ["", *_group_lines(group, digest.account_id, public_url)]
    if digest.resolved:
        lines += ["", "Resolved or dismissed since an earlier digest listed them:"]
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


def _group_lines(group: DigestGroup, account_id: int, public_url: str | None) -> list[str]:
    title = group.title
    if group.connection:
        title += f" — {one_line(group.connection, 60)}"
    latest = max(group.alerts, key=lambda a: (a.last_seen, a.alert_id))
    lines = [
        title,
        INDENT + first_few(group.labels),
        f"{INDENT}Latest: {prose_line(latest.message)}",
    ]
    if len(group.alerts) > 1:
        lines.append(f"{INDENT}All: imtui alerts list --account {account_id} --kind {group.kind}")
        label = "First: "
    else:
        label = "Fix: "
    command, *urls = fix_lines(group.alerts[0].alert_id, public_url)
    lines.append(f"{INDENT}{label}{command}")
    lines += [f"{INDENT}{' ' * len(label)}{url}" for url in urls]
    return lines
