"""What ``/`` types, understood: ``key:value`` words narrow a pane the way its indexes allow,
the rest is searched as text. ``status:held method:SAME_DAY_COURIER`` on the orders pane, say,
is every order held for one ship method — ready for "resend all matching".
"""

from __future__ import annotations

from typing import Any, NamedTuple

from imtui.domain.states import OPERATION_WORDS, AlertKind, AlertState, OrderStatus, RetryState
from imtui.store.rows import AlertFilter, AuditFilter, OrderFilter, QueueFilter

OPERATION_OF_WORD = {word: operation for operation, word in OPERATION_WORDS.items()}
OPEN_QUEUE_STATES = (RetryState.DUE, RetryState.HELD, RetryState.SKIPPED)


class FilterError(ValueError):
    """A ``key:value`` the pane does not know; the message says what it does know."""


def _words(text: str) -> tuple[dict[str, str], str]:
    keyed: dict[str, str] = {}
    rest: list[str] = []
    for word in text.split():
        key, sep, value = word.partition(":")
        if sep and key and value and key.isalpha():
            keyed[key.lower()] = value
        else:
            rest.append(word)
    return keyed, " ".join(rest)


class _Problems:
    """Every word a pane does not understand, told at once (not the first only)."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def choice(self, key: str, value: str, allowed: list[str]) -> str | None:
        if value.lower() in allowed:
            return value.lower()
        self.found.append(f"{key}:{value} — {key}: is one of {', '.join(allowed)}")
        return None

    def unknown(self, message: str) -> None:
        self.found.append(message)

    def check(self) -> None:
        if self.found:
            raise FilterError("\n".join(self.found))


class AlertQuery(NamedTuple):
    text: str = ""
    filter: AlertFilter = AlertFilter()
    search: str | None = None
    sort: str = "newest"

    @classmethod
    def parse(cls, text: str, *, account_id: int | None, sort: str) -> AlertQuery:
        keyed, rest = _words(text)
        states: tuple[str, ...] = (AlertState.OPEN,)
        kind = None
        problems = _Problems()
        for key, value in keyed.items():
            if key == "state":
                state = problems.choice(key, value, [*(s.value for s in AlertState), "all"])
                if state is not None:
                    states = () if state == "all" else (state,)
            elif key == "kind":
                kind = problems.choice(key, value, [k.value for k in AlertKind])
            else:
                problems.unknown(f"alerts filter by state:, kind: or text, not {key}:")
        problems.check()
        return cls(
            text,
            AlertFilter(states=states, account_id=account_id, kind=kind),
            rest or None,
            sort,
        )

    def with_account(self, account_id: int | None) -> AlertQuery:
        return self._replace(filter=self.filter._replace(account_id=account_id))

    def open_only(self) -> AlertQuery | None:
        """What this matches that is open — the only alerts a dismissal closes — or None when
        it matches closed alerts only."""
        states = self.filter.states
        if states and AlertState.OPEN not in states:
            return None
        return self._replace(filter=self.filter._replace(states=(AlertState.OPEN,)))


class OrderQuery(NamedTuple):
    text: str = ""
    filter: OrderFilter = OrderFilter()
    ship_method: str | None = None
    sort: str = "newest"

    @classmethod
    def parse(cls, text: str, *, account_id: int | None, sort: str) -> OrderQuery:
        keyed, rest = _words(text)
        status = None
        method = None
        problems = _Problems()
        for key, value in keyed.items():
            if key == "status":
                status = problems.choice(key, value, [s.value for s in OrderStatus])
            elif key == "method":
                method = value
            else:
                problems.unknown(f"orders filter by status:, method: or text, not {key}:")
        problems.check()
        return cls(
            text,
            OrderFilter(status=status, account_id=account_id, search=rest or None),
            method,
            sort,
        )

    def with_account(self, account_id: int | None) -> OrderQuery:
        return self._replace(filter=self.filter._replace(account_id=account_id))


class QueueQuery(NamedTuple):
    text: str = ""
    filter: QueueFilter = QueueFilter()
    search: str | None = None
    sort: str = "next_attempt"

    @classmethod
    def parse(cls, text: str, *, account_id: int | None, sort: str) -> QueueQuery:
        keyed, rest = _words(text)
        states: tuple[str, ...] = OPEN_QUEUE_STATES
        operation = None
        problems = _Problems()
        for key, value in keyed.items():
            if key == "state":
                state = problems.choice(key, value, [*(s.value for s in RetryState), "all"])
                if state is not None:
                    states = () if state == "all" else (state,)
            elif key == "op":
                word = problems.choice(key, value, list(OPERATION_OF_WORD))
                operation = OPERATION_OF_WORD[word] if word is not None else None
            else:
                problems.unknown(f"the queue filters by state:, op: or text, not {key}:")
        problems.check()
        return cls(
            text,
            QueueFilter(states=states, operation=operation, account_id=account_id),
            rest or None,
            sort,
        )

    def with_account(self, account_id: int | None) -> QueueQuery:
        return self._replace(filter=self.filter._replace(account_id=account_id))


AUDIT_KEYS = {
    "who": "actor",
    "actor": "actor",
    "action": "action",
    "did": "action",
    "on": "target",
    "target": "target",
}
"""An audit filter's words → the filter's fields (the short ones are what a person types)."""


class AuditQuery(NamedTuple):
    """The audit log: ``who:dana action:mapping on:order:12`` and text (in any of them)."""

    text: str = ""
    filter: AuditFilter = AuditFilter()
    sort: str = "newest"

    @classmethod
    def parse(cls, text: str) -> AuditQuery:
        keyed, rest = _words(text)
        problems = _Problems()
        values: dict[str, str] = {}
        for key, value in keyed.items():
            if key in AUDIT_KEYS:
                values[AUDIT_KEYS[key]] = value
            else:
                problems.unknown(f"{key}: is not a filter here — who:, action:, on:, or text")
        problems.check()
        return cls(text=text.strip(), filter=AuditFilter(search=rest or None, **values))

    def with_account(self, account_id: int | None) -> AuditQuery:
        return self  # the log is everyone's: an account's entries are not told apart


class MappingQuery(NamedTuple):
    """An account's ship-method mappings (every account's when ``account_id`` is None)."""

    account_id: int | None = None
    sort: str = "code"
    text: str = ""

    def with_account(self, account_id: int | None) -> MappingQuery:
        return self._replace(account_id=account_id)


class SetupQuery(NamedTuple):
    """The accounts in view and their connections (every account when ``account_id`` is
    None)."""

    account_id: int | None = None
    sort: str = "account"
    text: str = ""

    def with_account(self, account_id: int | None) -> SetupQuery:
        return self._replace(account_id=account_id)


class ContactQuery(NamedTuple):
    """An account's alert contacts (all accounts' when ``account_id`` is None)."""

    account_id: int | None = None
    sort: str = "name"
    text: str = ""

    def with_account(self, account_id: int | None) -> ContactQuery:
        return self._replace(account_id=account_id)


OUTBOX_VIEWS: dict[str, tuple[str, ...]] = {
    "all": (),
    "waiting": ("queued", "failing", "sending"),
    "failing": ("failing", "failed"),
    "sent": ("sent",),
    "cancelled": ("cancelled",),
}
"""What ``f`` steps through on the outbox, in order."""


class OutboxQuery(NamedTuple):
    view: str = "all"
    account_id: int | None = None
    sort: str = "newest"

    @property
    def text(self) -> str:
        return "" if self.view == "all" else f"state:{self.view}"

    @property
    def filter(self) -> Any:
        """The store's filter; built by the backend's thread (the email layer's store module
        loads SQLAlchemy, which the screens must not import)."""
        from imtui.store.outbox import OutboxFilter

        return OutboxFilter(states=OUTBOX_VIEWS[self.view], account_id=self.account_id)

    def next_view(self) -> OutboxQuery:
        views = list(OUTBOX_VIEWS)
        return self._replace(view=views[(views.index(self.view) + 1) % len(views)])

    def with_account(self, account_id: int | None) -> OutboxQuery:
        return self._replace(account_id=account_id)
