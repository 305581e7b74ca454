"""The pure rules: retry timing and windows (B4–B6), alert identity (B1), order checks (B3)."""

from datetime import UTC, datetime, timedelta

from imtui.domain.alerts import AlertScope, fingerprint, needs_person, scope_of
from imtui.domain.failures import AlertKind, FailureClass
from imtui.domain.orders import missing_address_fields, order_reference
from imtui.domain.records import Address
from imtui.domain.retry import (
    Operation,
    RetryState,
    after_failure,
    policy_for,
    push_skip_window,
    requeued,
)

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
FIVE_MIN = timedelta(minutes=5)


def test_orders_retry_hourly_for_fifteen_days_then_skip() -> None:
    policy = policy_for(Operation.DELIVER_ORDER, FIVE_MIN)
    first = after_failure(policy, FailureClass.TRANSIENT, NOW, None)
    assert first.state is RetryState.DUE
    assert first.next_attempt_at == NOW + timedelta(hours=1)
    assert first.deadline_at == NOW + timedelta(days=15)
    later = NOW + timedelta(days=15)
    last = after_failure(policy, FailureClass.TRANSIENT, later, first.deadline_at)
    assert last.state is RetryState.SKIPPED
    assert last.next_attempt_at is None


def test_pushes_retry_on_the_next_polling_cycle() -> None:
    policy = policy_for(Operation.PUSH_TRACKING, timedelta(minutes=10))
    decision = after_failure(policy, FailureClass.OUTCOME_UNKNOWN, NOW, None)
    assert decision.next_attempt_at == NOW + timedelta(minutes=10)


def test_push_window_grows_with_the_polling_interval() -> None:
    assert push_skip_window(timedelta(minutes=1)) == timedelta(days=3)
    assert push_skip_window(timedelta(minutes=15)) == timedelta(days=3)
    assert push_skip_window(timedelta(hours=1)) == timedelta(days=12)
    assert push_skip_window(timedelta(days=1)) == timedelta(days=30)


def test_retry_after_longer_than_the_interval_is_honoured() -> None:
    policy = policy_for(Operation.PUSH_INVENTORY, timedelta(seconds=30))
    decision = after_failure(policy, FailureClass.TRANSIENT, NOW, None, retry_after=120)
    assert decision.next_attempt_at == NOW + timedelta(seconds=120)


def test_failures_that_need_a_person_are_held_not_retried() -> None:
    policy = policy_for(Operation.DELIVER_ORDER, FIVE_MIN)
    for failure_class in (FailureClass.NEEDS_PERSON, FailureClass.LOCAL_HOLD):
        decision = after_failure(policy, failure_class, NOW, None)
        assert decision.state is RetryState.HELD
        assert decision.next_attempt_at is None


def test_requeue_is_due_now_with_a_fresh_window() -> None:
    decision = requeued(NOW)
    assert (decision.state, decision.next_attempt_at, decision.deadline_at) == (
        RetryState.DUE,
        NOW,
        None,
    )


def test_outage_alerts_share_one_identity_per_connection() -> None:
    a = fingerprint(AlertKind.UNREACHABLE, 3, "deliver:1")
    b = fingerprint(AlertKind.UNREACHABLE, 3, "deliver:2")
    assert a == b
    assert scope_of(AlertKind.UNREACHABLE) is AlertScope.CONNECTION


def test_outage_alerts_are_kept_per_channel() -> None:
    # a successful poll must not heal a failing send on the same connection
    assert fingerprint(AlertKind.RATE_LIMITED, 3, "poll:3") != fingerprint(
        AlertKind.RATE_LIMITED, 3, "deliver:1"
    )


def test_record_alerts_are_one_per_record_and_kind() -> None:
    a = fingerprint(AlertKind.UNKNOWN_SKU, 3, "deliver:1")
    b = fingerprint(AlertKind.UNKNOWN_SKU, 3, "deliver:2")
    c = fingerprint(AlertKind.ADDRESS_REJECTED, 3, "deliver:1")
    assert len({a, b, c}) == 3


def test_which_alerts_need_a_person() -> None:
    assert needs_person(AlertKind.UNMAPPED_SHIP_METHOD)
    assert needs_person(AlertKind.SKIPPED)
    assert not needs_person(AlertKind.UNREACHABLE)
    assert not needs_person(AlertKind.RATE_LIMITED)


def test_missing_address_fields_in_form_order() -> None:
    address = Address(name="Ann", address1="", city="Austin", state="", zip="", country="US")
    assert missing_address_fields(address) == ["address1", "state", "zip"]
    assert (
        missing_address_fields(
            Address(name="Bo", address1="1 Rd", city="Lyon", zip="69001", country="FR")
        )
        == []
    )


def test_reference_is_stable_and_safe() -> None:
    assert order_reference("S1", "#1001") == "S1-1001"
    assert order_reference("S1", "#10 01/x") == "S1-1001x"


def test_an_alert_state_in_words_says_needs_a_person_only_while_open() -> None:
    from imtui.domain.alerts import AlertState, state_in_words

    def words(state: AlertState, person: bool, by: str | None = None) -> str:
        return state_in_words(state, needs_person=person, resolved_by=by)

    assert words(AlertState.OPEN, True) == "open, needs a person"
    assert words(AlertState.OPEN, False) == "open"
    assert words(AlertState.RESOLVED, False, "auto") == "resolved automatically"
    assert words(AlertState.RESOLVED, True, "dana") == "resolved by dana (had needed a person)"
    assert words(AlertState.DISMISSED, True, "lee") == "dismissed by lee (had needed a person)"
    assert "needs a person" not in words(AlertState.DISMISSED, True, "lee")
