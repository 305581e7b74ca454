"""Alert contacts (B7, B8): who is told what, and when.

Pure functions of the contact's frequency, the alert kind and the time: no clock is read here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from imtui.domain.alerts import IMMEDIATE_KINDS, needs_person
from imtui.domain.failures import AlertKind


class Frequency(StrEnum):
    IMMEDIATELY = "immediately"
    """One email per alert, as it opens."""
    HOURLY = "hourly"
    """A digest at the top of every hour (UTC)."""
    DAILY = "daily"
    """A digest once a day, at the configured hour (UTC)."""
    OFF = "off"
    """No email at all, not even for an unmapped ship method."""

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    Frequency.IMMEDIATELY: "every alert immediately",
    Frequency.HOURLY: "hourly digest",
    Frequency.DAILY: "daily digest",
    Frequency.OFF: "off",
}

DIGEST_FREQUENCIES = frozenset({Frequency.HOURLY, Frequency.DAILY})

DEFAULT_DAILY_HOUR = 7
"""Daily digests go out at 07:00 UTC unless configured otherwise (IMTUI_DIGEST_HOUR)."""


def emails_alert_at_once(frequency: Frequency | str, kind: AlertKind | str) -> bool:
    """Whether a new alert of this kind is emailed to the contact as it opens (B7, B8).

    "immediately" contacts get every alert that needs a person; every contact not "off" gets
    the kinds marked immediate (a ship method with no mapping holds orders until someone acts).
    """
    try:
        alert_kind = AlertKind(kind)
    except ValueError:
        return False
    if not needs_person(alert_kind) or frequency == Frequency.OFF:
        return False
    return frequency == Frequency.IMMEDIATELY or alert_kind in IMMEDIATE_KINDS


def next_digest_at(
    frequency: Frequency | str, after: datetime, *, daily_hour: int = DEFAULT_DAILY_HOUR
) -> datetime | None:
    """The first digest time strictly after ``after``: the next full hour, or the next
    ``daily_hour``:00 UTC. None for contacts that get no digest."""
    top_of_hour = after.replace(minute=0, second=0, microsecond=0)
    if frequency == Frequency.HOURLY:
        return top_of_hour + timedelta(hours=1)
    if frequency == Frequency.DAILY:
        today = top_of_hour.replace(hour=daily_hour)
        return today if today > after else today + timedelta(days=1)
    return None


def schedule_after_change(
    old: Frequency | str | None, new: Frequency | str, current: datetime | None, now: datetime
) -> datetime | None:
    """A contact's ``next_digest_at`` after it is added or its frequency changes.

    A digest contact is scheduled by the digest job (it knows the configured hour): None. A
    contact that becomes "immediately" gets one summary at once of what is open and not yet
    sent to it (alerts raised before it was added, or waiting for the digest it has left), so
    switching never drops an alert. "off" gets nothing more.
    """
    if new == Frequency.OFF:
        return None
    if new == Frequency.IMMEDIATELY:
        return now if old != Frequency.IMMEDIATELY else current
    return current if old == new else None
