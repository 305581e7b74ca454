"""When a failed record is tried again, and when it is given up on (B4, B5, B6).

Pure functions of the policy, the failure and the time: no clock is read here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from imtui.domain.states import OPERATION_WORDS as OPERATION_WORDS
from imtui.domain.states import FailureClass
from imtui.domain.states import Operation as Operation
from imtui.domain.states import RetryState as RetryState

ORDER_RETRY_INTERVAL = timedelta(hours=1)
ORDER_SKIP_WINDOW = timedelta(days=15)
MIN_PUSH_WINDOW = timedelta(days=3)
MAX_PUSH_WINDOW = timedelta(days=30)
PUSH_WINDOW_CYCLES = 288
"""A push is given up after this many polling cycles, kept between 3 and 30 days: polling every
15 minutes or faster gives 3 days, hourly 12 days, every 2.5 hours or slower 30 days."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    interval: timedelta
    """Time between tries: an hour for orders (B4), the polling interval for pushes (B5)."""
    window: timedelta
    """How long after the first failure a record keeps being tried (B6)."""


@dataclass(frozen=True, slots=True)
class RetryDecision:
    state: RetryState
    next_attempt_at: datetime | None
    deadline_at: datetime | None


def push_skip_window(poll_interval: timedelta) -> timedelta:
    """The B6 window for tracking/inventory pushes, from how often the system is contacted."""
    return min(MAX_PUSH_WINDOW, max(MIN_PUSH_WINDOW, poll_interval * PUSH_WINDOW_CYCLES))


def policy_for(operation: Operation, poll_interval: timedelta) -> RetryPolicy:
    if operation in (Operation.DELIVER_ORDER, Operation.CANCEL_ORDER):
        return RetryPolicy(interval=ORDER_RETRY_INTERVAL, window=ORDER_SKIP_WINDOW)
    return RetryPolicy(interval=poll_interval, window=push_skip_window(poll_interval))


def after_failure(
    policy: RetryPolicy,
    failure_class: FailureClass,
    now: datetime,
    deadline_at: datetime | None,
    retry_after: float | None = None,
) -> RetryDecision:
    """What happens to a record whose attempt just failed.

    ``deadline_at`` is None on the first failure of a run of failures; the window starts then.
    """
    deadline = deadline_at if deadline_at is not None else now + policy.window
    if failure_class in (FailureClass.NEEDS_PERSON, FailureClass.LOCAL_HOLD):
        return RetryDecision(RetryState.HELD, None, deadline)
    if now >= deadline:
        return RetryDecision(RetryState.SKIPPED, None, deadline)
    wait = policy.interval
    if retry_after is not None and retry_after > wait.total_seconds():
        wait = timedelta(seconds=retry_after)
    # A connection-level failure pauses the connection; the record itself waits its turn as
    # usual so it goes out on the first cycle after the credential is fixed.
    return RetryDecision(RetryState.DUE, now + wait, deadline)


def requeued(now: datetime) -> RetryDecision:
    """A person changed the record or pressed resend: due now, with a fresh window (B3, B6)."""
    return RetryDecision(RetryState.DUE, now, None)
