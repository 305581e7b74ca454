"""The words a record's state is in: what failed, what an alert is about, where an order
or a retry stands, what a person may do. Plain enums and the constants made of them, with no
dataclasses: the dashboard needs these before its first paint, and a frozen dataclass costs
more to define than everything here (the modules that define the rules re-export them).
"""

from __future__ import annotations

from enum import StrEnum


class FailureClass(StrEnum):
    """How the engine treats a failure; one row of the failure-class table each."""

    TRANSIENT = "transient"
    """Connect refused/timeout, DNS, 429/503: retry per policy (wait at least Retry-After)."""
    OUTCOME_UNKNOWN = "outcome_unknown"
    """Other 5xx, read timeout, reset, HTML/truncated body on a send: look up before resending."""
    DUPLICATE = "duplicate"
    """The remote already has this reference: a success, link the existing record."""
    NEEDS_PERSON = "needs_person"
    """Validation (400/422): not retried until a person changes the record (B3)."""
    CONNECTION = "connection"
    """401 after one token refresh, 403: the connection pauses until its credential changes."""
    LOCAL_HOLD = "local_hold"
    """Checked locally before any send (unmapped ship method, missing address): never sent."""

    @property
    def retried_automatically(self) -> bool:
        return self in (FailureClass.TRANSIENT, FailureClass.OUTCOME_UNKNOWN)


class AlertKind(StrEnum):
    """What the alert is about, in the operator's words. Repeats of one kind on one subject
    update one alert (B1)."""

    UNREACHABLE = "unreachable"
    RATE_LIMITED = "rate_limited"
    REMOTE_ERROR = "remote_error"
    BAD_RESPONSE = "bad_response"
    ADDRESS_REJECTED = "address_rejected"
    UNKNOWN_SKU = "unknown_sku"
    UNKNOWN_CARRIER = "unknown_carrier"
    VALIDATION = "validation"
    CREDENTIALS_REJECTED = "credentials_rejected"
    BAD_CONFIGURATION = "bad_configuration"
    UNMAPPED_SHIP_METHOD = "unmapped_ship_method"
    INCOMPLETE_ADDRESS = "incomplete_address"
    SKIPPED = "skipped"
    ORDER_NOT_TAKEN = "order_not_taken"
    """A shop order imtui could not store (a name too long, a reference another order has):
    the shop's other orders go on; this one waits for a change in the shop."""
    SHOP_CHANGE = "shop_change"
    """The shop changed or cancelled an order in a way imtui must not follow by itself (B11):
    it is in the WMS already, it shipped, or a person edited the same fields here."""
    EMAIL_REFUSED = "email_refused"
    """The mail server refused an alert contact's address for good (550 user unknown): that
    contact hears nothing until a person corrects or deletes it."""

    @property
    def headline(self) -> str:
        return _TITLES[self]


_TITLES: dict[AlertKind, str] = {
    AlertKind.UNREACHABLE: "Cannot reach the remote system",
    AlertKind.RATE_LIMITED: "Rate limited by the remote system",
    AlertKind.REMOTE_ERROR: "Remote server error",
    AlertKind.BAD_RESPONSE: "Unreadable response",
    AlertKind.ADDRESS_REJECTED: "WMS rejected the address",
    AlertKind.UNKNOWN_SKU: "Unknown SKU",
    AlertKind.UNKNOWN_CARRIER: "Unknown carrier or service",
    AlertKind.VALIDATION: "Rejected by the remote system",
    AlertKind.CREDENTIALS_REJECTED: "Credentials rejected",
    AlertKind.BAD_CONFIGURATION: "Connection settings are unusable",
    AlertKind.UNMAPPED_SHIP_METHOD: "Ship method has no mapping",
    AlertKind.INCOMPLETE_ADDRESS: "Incomplete ship-to address",
    AlertKind.SKIPPED: "Skipped after repeated failures",
    AlertKind.ORDER_NOT_TAKEN: "Shop order could not be taken in",
    AlertKind.SHOP_CHANGE: "Order changed in the shop",
    AlertKind.EMAIL_REFUSED: "Contact's address refused by the mail server",
}

METHOD_HOLD_KINDS = (AlertKind.UNMAPPED_SHIP_METHOD, AlertKind.UNKNOWN_CARRIER)
"""Why an order waits for its ship method's mapping: saving the mapping releases it (B9)."""


class Operation(StrEnum):
    DELIVER_ORDER = "deliver_order"
    """Send an order to the WMS; the target connection is the WMS."""
    PUSH_TRACKING = "push_tracking"
    """Fulfil a shipped order in its shop with the tracking number; the target is the shop."""
    PUSH_INVENTORY = "push_inventory"
    """Set a SKU's available quantity in a shop; the target is the shop."""
    CANCEL_ORDER = "cancel_order"
    """Cancel in the WMS an order the shop cancelled (B11); the target is the WMS."""

    @property
    def word(self) -> str:
        """What a person reads and types for it, everywhere: tables, filters, help."""
        return OPERATION_WORDS[self]


OPERATION_WORDS = {
    Operation.DELIVER_ORDER: "deliver",
    Operation.PUSH_TRACKING: "tracking",
    Operation.PUSH_INVENTORY: "inventory",
    Operation.CANCEL_ORDER: "cancel",
}


class RetryState(StrEnum):
    DUE = "due"
    """Waiting for next_attempt_at (or due now)."""
    HELD = "held"
    """Needs a person (B3): not tried until the record, mapping or credential changes."""
    SKIPPED = "skipped"
    """Past its deadline (B6): not tried until someone resends it."""
    DONE = "done"
    CANCELLED = "cancelled"
    """The order was cancelled in the shop: nothing more to send for it (B11)."""


class AlertState(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    """Resolved automatically when a retry succeeded (B2)."""
    DISMISSED = "dismissed"
    """Closed by a person."""


class AlertScope(StrEnum):
    CONNECTION = "connection"
    """About the remote system as a whole (down, rate limiting, credentials): one alert per
    connection and kind however many records it hits, so an outage is one alert, not a flood."""
    RECORD = "record"
    """About one order, SKU or push: one alert per record and kind."""


class OrderStatus(StrEnum):
    QUEUED = "queued"
    """Waiting to be delivered to the WMS (first try or a retry)."""
    HELD = "held"
    """Needs a person: unmapped ship method, incomplete address, or rejected by the WMS."""
    DELIVERED = "delivered"
    """The WMS has it."""
    SHIPPED = "shipped"
    """The WMS closed it with tracking; the tracking is on its way to the shop."""
    FULFILLED = "fulfilled"
    """The shop has the tracking."""
    SKIPPED = "skipped"
    """Gave up after its retry window (B6)."""
    CANCELLING = "cancelling"
    """Cancelled in the shop once it may have reached the WMS: being cancelled there (B11)."""
    CANCELLED = "cancelled"
    """Cancelled in the shop: never sent, or cancelled in the WMS (B11)."""


NOT_IN_WMS = (OrderStatus.QUEUED, OrderStatus.HELD, OrderStatus.SKIPPED)
"""On its way to the WMS, not there yet: what an edit may change and a delivery moves on."""
NOT_EDITABLE = "only orders on their way to the WMS can be edited"


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Role.VIEWER: 1, Role.OPERATOR: 2, Role.ADMIN: 3}


class Act(StrEnum):
    """What a person may want to do, each with the role it needs."""

    RESEND = "resend"
    DISMISS = "dismiss"
    EDIT_ORDER = "edit orders"
    MAP_METHODS = "change ship-method mappings"
    SEND_EMAIL = "send or cancel emails"
    CHANGE_CONTACTS = "change contacts"
    CHANGE_ACCOUNTS = "add accounts"
    CHANGE_CONNECTIONS = "change connections and credentials"
    CHANGE_PEOPLE = "change who may use imtui"

    @property
    def needs(self) -> Role:
        return NEEDS[self]


NEEDS: dict[Act, Role] = {
    Act.RESEND: Role.OPERATOR,
    Act.DISMISS: Role.OPERATOR,
    Act.EDIT_ORDER: Role.OPERATOR,
    Act.MAP_METHODS: Role.OPERATOR,
    Act.SEND_EMAIL: Role.OPERATOR,
    Act.CHANGE_CONTACTS: Role.ADMIN,
    Act.CHANGE_ACCOUNTS: Role.ADMIN,
    Act.CHANGE_CONNECTIONS: Role.ADMIN,
    Act.CHANGE_PEOPLE: Role.ADMIN,
}

ALL_ACCOUNTS_ACTS = frozenset({Act.CHANGE_ACCOUNTS, Act.CHANGE_PEOPLE})
"""Acts about no single account: only a person scoped to every account may do them."""
