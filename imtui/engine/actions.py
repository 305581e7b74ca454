"""What a person can do — from the CLI or the dashboard, the same functions: each validates its
input, changes the store, re-queues what the change unblocks (B3, B9) and writes the audit log.

Every function runs inside the caller's write transaction and raises :class:`ActionError`
with one line for a person when the input is wrong; nothing is changed then.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from imtui.connectors.registry import PLATFORMS, connection_problems, unknown_keys
from imtui.domain.alerts import AlertState
from imtui.domain.failures import METHOD_HOLD_KINDS, AlertKind
from imtui.domain.orders import NOT_IN_WMS, OrderStatus, missing_address_fields
from imtui.domain.people import Act
from imtui.domain.records import Address
from imtui.domain.retry import Operation, RetryState
from imtui.domain.text import hide_url_passwords
from imtui.engine.connections import ENGINE_SETTING_KEYS
from imtui.engine.outcomes import subject_of
from imtui.store.alerts import dismiss_alert, resolve_alerts_for
from imtui.store.audit import record_action
from imtui.store.connections import WMS, find_account, find_connections, wms_of_account
from imtui.store.models import (
    Account,
    Alert,
    Connection,
    Order,
    RetryItem,
    ShipMethodMapping,
)
from imtui.store.orders import (
    ADDRESS_FIELDS,
    address_of,
    edited_fields,
    find_order,
    set_address,
)
from imtui.store.people import access_of
from imtui.store.queue import enqueue_delivery, make_due_for_connection, requeue


class ActionError(Exception):
    """Bad input for an action; the message is one line for a person."""


def require(session: Session, act: Act, account_id: int | None = None) -> None:
    """Refuse, in one line, what this session's person may not do (imtui.domain.people).
    Every action asks before it changes anything; on PostgreSQL row-level security holds the
    same line in the database."""
    refusal = access_of(session).refusal(act, account_id)
    if refusal is not None:
        raise ActionError(refusal)


# -- accounts and connections ---------------------------------------------------------------


def add_account(session: Session, *, name: str, kind: str, actor: str, now: datetime) -> Account:
    require(session, Act.CHANGE_ACCOUNTS)
    name = _clean_text(name, "account name", max_length=200)
    if kind not in ("merchant", "warehouse"):
        raise ActionError(f"account kind must be merchant or warehouse, not {kind!r}")
    if session.exec(select(Account).where(Account.name == name)).first() is not None:
        raise ActionError(f"account {name!r} already exists")
    account = Account(name=name, kind=kind, created_at=now)
    session.add(account)
    session.flush()
    record_action(
        session,
        actor=actor,
        action="account.add",
        target=f"account:{account.id}",
        now=now,
        detail=name,
    )
    return account


def account_for(session: Session, key: str | None) -> Account:
    """The named account, or the only one when there is just one."""
    if key:
        account = find_account(session, key)
        if account is None:
            raise ActionError(f"no account {key!r}")
        return account
    accounts = list(session.exec(select(Account).limit(2)))
    if len(accounts) == 1:
        return accounts[0]
    if not accounts:
        raise ActionError("no account yet: add one with 'imtui account add NAME'")
    raise ActionError("several accounts: say which with --account")


def validate_base_url(url: str) -> str:
    """A base URL every request is built on: http(s), a host, a port if any, a path if any —
    and nothing that cannot be part of one (a space, a control character, a ?query or a
    #fragment), refused now rather than failing on every request later."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ActionError(f"not an http(s) URL: {url!r}")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise ActionError(f"a URL has no spaces or control characters: {url!r}")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ActionError(f"a base URL has no ?query or #fragment: {url!r}")
    try:
        _ = parts.port
    except ValueError as exc:
        raise ActionError(f"bad port in URL {url!r}") from exc
    return url.rstrip("/")


def add_connection(
    session: Session,
    *,
    account: Account,
    name: str,
    platform: str,
    base_url: str,
    credentials: dict[str, str],
    settings: dict[str, Any],
    poll_interval_s: int,
    actor: str,
    now: datetime,
) -> Connection:
    require(session, Act.CHANGE_CONNECTIONS, account.id)
    name = _clean_text(name, "connection name", max_length=200)
    base_url = validate_base_url(base_url)
    connector_settings = {k: v for k, v in settings.items() if k not in ENGINE_SETTING_KEYS}
    problems = connection_problems(platform, base_url, credentials, connector_settings)
    problems += unknown_keys(platform, credentials, connector_settings)
    if problems:
        raise ActionError("; ".join(problems))
    info = PLATFORMS[platform]
    if poll_interval_s < 10 or poll_interval_s > 7 * 86400:
        raise ActionError("poll interval must be between 10 seconds and 7 days")
    if info.role == WMS and wms_of_account(session, account.id) is not None:  # type: ignore[arg-type]
        raise ActionError(f"account {account.name!r} already has a WMS connection")
    account_name = account.name  # read now: after a failed flush the session cannot
    taken = session.exec(
        select(Connection.id).where(Connection.account_id == account.id, Connection.name == name)
    ).first()
    if taken is not None:
        raise ActionError(f"account {account_name!r} already has a connection {name!r}")
    connection = Connection(
        account_id=account.id,  # type: ignore[arg-type]
        name=name,
        role=info.role,
        platform=platform,
        base_url=base_url,
        credentials=dict(credentials),
        settings=dict(settings),
        poll_interval_s=poll_interval_s,
        created_at=now,
        updated_at=now,
    )
    session.add(connection)
    try:
        session.flush()
    except IntegrityError as exc:  # added by another process meanwhile
        raise ActionError(f"account {account_name!r} already has a connection {name!r}") from exc
    if info.role == WMS:
        _queue_orders_waiting_for_a_wms(session, account, connection, now)
    record_action(
        session,
        actor=actor,
        action="connection.add",
        target=f"connection:{connection.id}",
        now=now,
        detail=f"{platform} {hide_url_passwords(base_url)}",
    )
    return connection


def _queue_orders_waiting_for_a_wms(
    session: Session, account: Account, wms: Connection, now: datetime
) -> None:
    queued = select(RetryItem.subject_id).where(
        RetryItem.operation == Operation.DELIVER_ORDER, RetryItem.account_id == account.id
    )
    for order in session.exec(
        select(Order).where(
            Order.account_id == account.id,
            Order.status == OrderStatus.QUEUED,
            col(Order.id).not_in(queued),
        )
    ):
        enqueue_delivery(session, order, wms.id, now)  # type: ignore[arg-type]


def update_credentials(
    session: Session,
    *,
    connection_key: str,
    credentials: dict[str, str],
    actor: str,
    now: datetime,
) -> Connection:
    """New credentials un-pause the connection and make everything waiting on it due (B3)."""
    connection = connection_for(session, connection_key)
    info = PLATFORMS[connection.platform]
    unknown = sorted(set(credentials) - set(info.credential_keys))
    if unknown:
        raise ActionError(f"{connection.platform} has no credential {', '.join(unknown)}")
    from imtui.store.secrets import Unreadable

    stored = connection.credentials
    if isinstance(stored, Unreadable):
        # Merging over what cannot be opened would drop the keys not given: only a complete
        # set replaces it (the way back after a lost key).
        missing = [key for key in info.credential_keys if key not in credentials]
        if missing:
            raise ActionError(
                f"the stored credentials of connection {connection.id} cannot be opened "
                f"({stored.reason}); give all of {', '.join(info.credential_keys)} to replace them"
            )
        stored = {}
    connection.credentials = {**stored, **credentials}
    connection.paused = False
    connection.paused_reason = None
    connection.next_poll_at = now
    connection.updated_at = now
    session.add(connection)
    make_due_for_connection(session, connection.id, now)  # type: ignore[arg-type]
    record_action(
        session,
        actor=actor,
        action="connection.credentials",
        target=f"connection:{connection.id}",
        now=now,
        detail="changed " + ", ".join(sorted(credentials)),
    )
    return connection


def connection_for(session: Session, key: str) -> Connection:
    """The connection named by id or name; a name two accounts use is refused, naming each
    (the wrong account's credentials must never be changed by a guess)."""
    found = find_connections(session, key)
    if not found:
        raise ActionError(f"no connection {key!r}")
    if len(found) > 1:
        ids = {c.account_id for c in found}
        accounts = {
            a.id: a.name for a in session.exec(select(Account).where(col(Account.id).in_(ids)))
        }
        each = ", ".join(f"{c.id} ({accounts.get(c.account_id, '?')})" for c in found)
        raise ActionError(
            f"connection name {key!r} is used by several accounts: {each}; use the id"
        )
    return found[0]


# -- orders ---------------------------------------------------------------------------------


def order_for(session: Session, key: str, account_id: int | None = None) -> Order:
    order = find_order(session, key.strip(), account_id)
    if order is None:
        where = f" in account {account_id}" if account_id is not None else ""
        raise ActionError(f"no order {key!r}{where}")
    return order


def resend_order(
    session: Session,
    *,
    order_key: str,
    actor: str,
    now: datetime,
    account_id: int | None = None,
) -> RetryItem:
    """ "Resend to WMS" (B4): due now, with a fresh retry window — also for a skipped one (B6).
    A shipped order whose tracking did not reach the shop gets its tracking resent instead."""
    order = order_for(session, order_key, account_id)
    require(session, Act.RESEND, order.account_id)
    _refuse_cancelled(order)
    if order.status in (OrderStatus.SHIPPED,):
        item = _item_for(session, Operation.PUSH_TRACKING, order.id)  # type: ignore[arg-type]
        if item is None:
            raise ActionError(f"order {order.number} has no tracking push to resend")
    elif order.status == OrderStatus.FULFILLED or (
        order.status == OrderStatus.DELIVERED and order.wms_order_id
    ):
        raise ActionError(f"order {order.number} is already {order.status}: nothing to resend")
    else:
        item = _delivery_item(session, order, now)
        order.status = OrderStatus.QUEUED
        order.updated_at = now
        session.add(order)
    requeue(session, item, now)
    record_action(
        session,
        actor=actor,
        action=f"{item.operation}.resend",
        target=f"order:{order.id}",
        now=now,
        detail=order.number,
    )
    return item


def resend_item(session: Session, *, item_id: int, actor: str, now: datetime) -> RetryItem:
    item = session.get(RetryItem, item_id)
    if item is None:
        raise ActionError(f"no retry item {item_id}")
    require(session, Act.RESEND, item.account_id)
    if item.state == RetryState.DONE:
        raise ActionError(f"retry item {item_id} already succeeded")
    if item.state == RetryState.CANCELLED:
        raise ActionError(f"retry item {item_id} is for an order cancelled in the shop")
    if item.operation == Operation.DELIVER_ORDER:
        order = session.get(Order, item.subject_id)
        if order is not None and order.status in (OrderStatus.HELD, OrderStatus.SKIPPED):
            order.status = OrderStatus.QUEUED
            order.updated_at = now
            session.add(order)
    requeue(session, item, now)
    record_action(
        session,
        actor=actor,
        action=f"{item.operation}.resend",
        target=f"retry:{item.id}",
        now=now,
        detail=item.subject_label,
    )
    return item


EDITABLE_ORDER_FIELDS = (*ADDRESS_FIELDS, "ship_method_code")


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


def address_errors(address: Address) -> list[FieldError]:
    """Every problem with a ship-to address, per field, for a form or one CLI line."""
    errors = [FieldError(name, "required") for name in missing_address_fields(address)]
    country = address.country.strip()
    if country and not re.fullmatch(r"[A-Za-z]{2}", country):
        errors.append(FieldError("country", "two-letter country code, e.g. US"))
    if (
        country.upper() == "US"
        and address.zip.strip()
        and not re.fullmatch(r"\d{5}(-\d{4})?", address.zip.strip())
    ):
        errors.append(FieldError("zip", "US ZIP code: 12345 or 12345-6789"))
    for name in ADDRESS_FIELDS:
        value = getattr(address, name)
        if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
            errors.append(FieldError(name, "contains control characters"))
        if len(value) > 200:
            errors.append(FieldError(name, "longer than 200 characters"))
    return errors


def edit_order(
    session: Session,
    *,
    order_key: str,
    changes: dict[str, str],
    actor: str,
    now: datetime,
    account_id: int | None = None,
) -> RetryItem:
    """Change the ship-to address or ship method; the order is sent again at once (B3, B4)."""
    order = order_for(session, order_key, account_id)
    require(session, Act.EDIT_ORDER, order.account_id)
    _refuse_cancelled(order)
    unknown = sorted(set(changes) - set(EDITABLE_ORDER_FIELDS))
    if unknown:
        raise ActionError(
            f"cannot edit {', '.join(unknown)}: editable are " + ", ".join(EDITABLE_ORDER_FIELDS)
        )
    if order.status not in NOT_IN_WMS:
        raise ActionError(f"order {order.number} is already {order.status} in the WMS")
    current = address_of(order)
    fields = {name: getattr(current, name) for name in ADDRESS_FIELDS}
    fields.update({k: v.strip() for k, v in changes.items() if k in ADDRESS_FIELDS})
    if "country" in changes:
        fields["country"] = fields["country"].upper()
    address = Address(**fields)
    errors = address_errors(address)
    if errors:
        raise ActionError("invalid address: " + "; ".join(f"{e.field} {e.message}" for e in errors))
    before = {name: getattr(current, name) for name in ADDRESS_FIELDS if name in changes}
    edited = {name for name in ADDRESS_FIELDS if getattr(current, name) != getattr(address, name)}
    set_address(order, address)
    if "ship_method_code" in changes:
        before["ship_method_code"] = order.ship_method_code
        code = _clean_text(changes["ship_method_code"], "ship method", 200)
        if code != order.ship_method_code:
            order.ship_method_title = ""  # the shop's title named the old method
            edited.add("ship_method_code")
        order.ship_method_code = code
    # A shop's later change to these is not followed silently (B11, domain/shop_updates.py).
    order.edited_fields = ",".join(sorted(edited | edited_fields(order)))
    order.status = OrderStatus.QUEUED
    order.hold_reason = None
    order.updated_at = now
    session.add(order)
    item = _delivery_item(session, order, now)
    requeue(session, item, now)
    # The address now passes the local check: the alert that said it did not is fixed by this
    # edit, whatever holds the order next. (A WMS rejection waits for the WMS to accept it.)
    resolve_alerts_for(
        session,
        connection_id=None,
        subject=subject_of(item),
        kinds=(AlertKind.INCOMPLETE_ADDRESS,),
        include_connection_alerts=False,
        now=now,
        detail="address edited",
        actor=actor,
    )
    changed = ", ".join(f"{k}: {before.get(k, '')!r} → {v!r}" for k, v in changes.items())
    record_action(
        session,
        actor=actor,
        action="order.edit",
        target=f"order:{order.id}",
        now=now,
        detail=f"{order.number}: {changed}",
    )
    return item


def _refuse_cancelled(order: Order) -> None:
    if order.status in (OrderStatus.CANCELLED, OrderStatus.CANCELLING):
        raise ActionError(f"order {order.number} was cancelled in the shop: nothing to send")


def _delivery_item(session: Session, order: Order, now: datetime) -> RetryItem:
    item = _item_for(session, Operation.DELIVER_ORDER, order.id)  # type: ignore[arg-type]
    if item is not None:
        return item
    wms = wms_of_account(session, order.account_id)
    if wms is None or wms.id is None:
        raise ActionError("the account has no WMS connection to send to")
    return enqueue_delivery(session, order, wms.id, now)


def _item_for(session: Session, operation: Operation, subject_id: int) -> RetryItem | None:
    return session.exec(
        select(RetryItem).where(
            RetryItem.operation == operation, RetryItem.subject_id == subject_id
        )
    ).first()


# -- ship-method mappings ---------------------------------------------------------------------


def set_mapping(
    session: Session,
    *,
    account: Account,
    source_code: str,
    carrier: str,
    mode: str,
    billing_code: str = "Prepaid",
    actor: str,
    now: datetime,
) -> tuple[ShipMethodMapping, int]:
    """Map a ship method and release every order held for it (B9). Returns (mapping, released)."""
    require(session, Act.MAP_METHODS, account.id)
    source_code = _clean_text(source_code, "ship method code", 200, strip=False)
    carrier = _clean_text(carrier, "carrier", 100)
    mode = _clean_text(mode, "mode", 100)
    billing_code = _clean_text(billing_code, "billing code", 100)
    mapping = session.exec(
        select(ShipMethodMapping).where(
            ShipMethodMapping.account_id == account.id,
            ShipMethodMapping.source_code == source_code,
        )
    ).first()
    if mapping is None:
        mapping = ShipMethodMapping(
            account_id=account.id,
            source_code=source_code,  # type: ignore[arg-type]
            carrier=carrier,
            mode=mode,
            created_at=now,
            updated_at=now,
        )
    mapping.carrier, mapping.mode, mapping.billing_code = carrier, mode, billing_code
    mapping.updated_at = now
    session.add(mapping)
    released = release_held_for_method(session, account.id, source_code, now, actor=actor)  # type: ignore[arg-type]
    record_action(
        session,
        actor=actor,
        action="mapping.set",
        target=f"method:{source_code}",
        now=now,
        detail=f"→ {carrier} {mode} ({billing_code}); released {released}",
    )
    return mapping, released


def release_held_for_method(
    session: Session, account_id: int, source_code: str, now: datetime, *, actor: str
) -> int:
    """Every order held for this ship method goes on the next cycle, unedited (B9, B3)."""
    held = session.exec(
        select(Order, RetryItem)
        .join(
            RetryItem,
            (RetryItem.subject_id == Order.id) & (RetryItem.operation == Operation.DELIVER_ORDER),
        )
        .where(
            Order.account_id == account_id,
            Order.ship_method_code == source_code,
            RetryItem.state == RetryState.HELD,
            col(Order.hold_reason).in_(METHOD_HOLD_KINDS),
        )
    )
    released = 0
    for order, item in held:
        order.status = OrderStatus.QUEUED
        order.hold_reason = None
        order.updated_at = now
        session.add(order)
        requeue(session, item, now)
        released += 1
    resolve_alerts_for(
        session,
        connection_id=None,
        subject=f"method:{account_id}:{source_code}",
        include_connection_alerts=False,
        now=now,
        detail="mapping added",
        actor=actor,
    )
    return released


def delete_mapping(
    session: Session, *, account: Account, source_code: str, actor: str, now: datetime
) -> None:
    require(session, Act.MAP_METHODS, account.id)
    mapping = session.exec(
        select(ShipMethodMapping).where(
            ShipMethodMapping.account_id == account.id,
            ShipMethodMapping.source_code == source_code,
        )
    ).first()
    if mapping is None:
        raise ActionError(f"no mapping for ship method {source_code!r}")
    session.delete(mapping)
    record_action(
        session, actor=actor, action="mapping.delete", target=f"method:{source_code}", now=now
    )


# -- alerts -----------------------------------------------------------------------------------


def dismiss(session: Session, *, alert_id: int, actor: str, now: datetime) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise ActionError(f"no alert {alert_id}")
    require(session, Act.DISMISS, alert.account_id)
    if alert.state != AlertState.OPEN:
        raise ActionError(f"alert {alert_id} is already {alert.state}")
    dismiss_alert(session, alert, actor=actor, now=now)
    record_action(
        session,
        actor=actor,
        action="alert.dismiss",
        target=f"alert:{alert_id}",
        now=now,
        detail=alert.kind,
    )
    return alert


def _clean_text(value: str, what: str, max_length: int, *, strip: bool = True) -> str:
    text = value.strip() if strip else value
    if not text.strip():
        raise ActionError(f"{what} must not be empty")
    if len(text) > max_length:
        raise ActionError(f"{what} is longer than {max_length} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text):
        raise ActionError(f"{what} contains control characters")
    return text
