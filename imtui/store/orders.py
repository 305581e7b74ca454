"""Orders as the store keeps them, and the conversions to and from the plain records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, col, select

from imtui.domain.fixes import names_printed_as
from imtui.domain.orders import OrderStatus, order_reference
from imtui.domain.records import ADDRESS_FIELDS, Address, OrderLine, SourceOrder
from imtui.domain.shop_updates import ShopVersion, to_text
from imtui.domain.text import printable
from imtui.store.models import Connection, Order
from imtui.store.models import OrderLine as OrderLineRow
from imtui.store.queue import among


def address_of(order: Order) -> Address:
    return Address(**{name: getattr(order, f"ship_{name}") or "" for name in ADDRESS_FIELDS})


def set_address(order: Order, address: Address) -> None:
    for name in ADDRESS_FIELDS:
        setattr(order, f"ship_{name}", getattr(address, name))


def edited_fields(order: Order) -> set[str]:
    """The shop-owned fields a person has changed here (B11: not followed silently)."""
    return {name for name in order.edited_fields.split(",") if name}


def lines_of(session: Session, order_id: int) -> tuple[OrderLine, ...]:
    rows = session.exec(
        select(OrderLineRow).where(OrderLineRow.order_id == order_id).order_by(col(OrderLineRow.id))
    )
    return tuple(OrderLine(sku=row.sku, quantity=row.quantity) for row in rows)


def replace_lines(session: Session, order_id: int, lines: tuple[OrderLine, ...]) -> None:
    """The order's lines become these (the shop changed them, B11)."""
    session.execute(delete(OrderLineRow).where(col(OrderLineRow.order_id) == order_id))
    for line in lines:
        session.add(OrderLineRow(order_id=order_id, sku=line.sku, quantity=line.quantity))


@dataclass(frozen=True, slots=True)
class OrderToSend:
    """What a delivery needs of an order: read for a whole claimed batch as plain rows, which
    cost a third of what loading the batch's ORM objects did."""

    id: int
    account_id: int
    status: str
    reference: str
    ship_method_code: str
    ship_method_title: str
    address: Address


_TO_SEND = (
    col(Order.id),
    col(Order.account_id),
    col(Order.status),
    col(Order.reference),
    col(Order.ship_method_code),
    col(Order.ship_method_title),
    *(col(getattr(Order, f"ship_{name}")) for name in ADDRESS_FIELDS),
)


def orders_to_send(session: Session, order_ids: list[int]) -> dict[int, OrderToSend]:
    """The orders with these ids, by id."""
    rows = session.execute(select(*_TO_SEND).where(among(session, col(Order.id), order_ids)))
    return {
        order_id: OrderToSend(
            order_id, account_id, status, reference, code, title, Address(*(v or "" for v in ship))
        )
        for order_id, account_id, status, reference, code, title, *ship in rows
    }


def lines_by_order(session: Session, order_ids: list[int]) -> dict[int, tuple[OrderLine, ...]]:
    """The lines of these orders, in the order they were stored."""
    found: dict[int, list[OrderLine]] = {order_id: [] for order_id in order_ids}
    if order_ids:
        rows = session.execute(
            select(col(OrderLineRow.order_id), col(OrderLineRow.sku), col(OrderLineRow.quantity))
            .where(among(session, col(OrderLineRow.order_id), order_ids))
            .order_by(col(OrderLineRow.id))
        )
        for order_id, sku, quantity in rows:
            found[order_id].append(OrderLine(sku=sku, quantity=quantity))
    return {order_id: tuple(lines) for order_id, lines in found.items()}


def reference_prefix(connection: Connection) -> str:
    return str(connection.settings.get("reference_prefix") or f"S{connection.id}")


QUANTITY_LIMIT = 2**31 - 1
"""The largest line quantity kept (a 32-bit integer column on PostgreSQL)."""

_FIELD_WORDS = {
    "source_order_id": "shop id",
    "number": "name",
    "reference": "WMS reference",
    "ship_method_code": "ship-method code",
    "ship_method_title": "ship-method title",
}


def refusal_to_store(session: Session, connection: Connection, source: SourceOrder) -> str | None:
    """Why this shop order cannot be stored as it is, in words for its alert; None when it can.

    Checked before the insert, the same on SQLite (which would keep an over-long value) and
    PostgreSQL (which would refuse it), so one bad order is set aside with its reason instead
    of failing the whole page it came in.
    """
    reference = order_reference(reference_prefix(connection), source.number)
    values = {
        "source_order_id": source.remote_id,
        "number": source.number,
        "reference": reference,
        "ship_method_code": source.ship_method_code,
        "ship_method_title": source.ship_method_title,
        **{f"ship_{name}": getattr(source.ship_to or Address(), name) for name in ADDRESS_FIELDS},
    }
    # SQLModel gives a table class its __table__ when the class is made; its types omit it
    columns = Order.__table__.columns  # type: ignore[attr-defined]
    for name, value in values.items():
        limit = getattr(columns[name].type, "length", None)
        if limit is not None and len(value) > limit:
            words = _FIELD_WORDS.get(name, name.replace("ship_", "ship-to ").replace("_", " "))
            return f"its {words} is {len(value):,} characters long; at most {limit:,} are kept"
    # SQLModel gives a table class its __table__ when the class is made; its types omit it
    sku_limit = OrderLineRow.__table__.columns["sku"].type.length  # type: ignore[attr-defined]
    for line in source.lines:
        if len(line.sku) > sku_limit:
            return (
                f"a line's SKU is {len(line.sku):,} characters long; at most {sku_limit} are kept"
            )
        if not -QUANTITY_LIMIT <= line.quantity <= QUANTITY_LIMIT:
            return f"a line's quantity ({line.quantity}) is beyond what can be kept"
    holder = session.exec(
        select(Order.number).where(
            Order.reference == reference,
            (Order.source_connection_id != connection.id)
            | (Order.source_order_id != source.remote_id),
        )
    ).first()
    if holder is not None:
        return (
            f"its WMS reference {reference} is already order {holder}'s "
            "(two shop names that differ only in punctuation)"
        )
    return None


def known_order(session: Session, connection: Connection, source: SourceOrder) -> Order | None:
    """The order imtui already has for this shop order, if any."""
    return session.exec(
        select(Order).where(
            Order.source_connection_id == connection.id,
            Order.source_order_id == source.remote_id,
        )
    ).first()


def insert_source_order(
    session: Session, connection: Connection, source: SourceOrder, now: datetime
) -> Order | None:
    """Store an order the shop reported, once: None when it is already known."""
    assert connection.id is not None
    known = session.exec(
        select(Order.id).where(
            Order.source_connection_id == connection.id,
            Order.source_order_id == source.remote_id,
        )
    ).first()
    if known is not None:
        return None
    order = Order(
        account_id=connection.account_id,
        source_connection_id=connection.id,
        source_order_id=source.remote_id,
        number=source.number,
        reference=order_reference(reference_prefix(connection), source.number),
        ship_method_code=source.ship_method_code,
        ship_method_title=source.ship_method_title,
        status=OrderStatus.QUEUED,
        source_version=to_text(ShopVersion.of(source)),
        created_at=now,
        updated_at=now,
    )
    set_address(order, source.ship_to or Address())
    session.add(order)
    session.flush()
    assert order.id is not None
    for line in source.lines:
        session.add(OrderLineRow(order_id=order.id, sku=line.sku, quantity=line.quantity))
    return order


def find_order(session: Session, key: str, account_id: int | None = None) -> Order | None:
    """An order by id, by shop number ("#1001" or "1001") or by WMS reference; failing those,
    by its number as :func:`~imtui.domain.text.printable` shows it (see
    :func:`_find_by_printed_number`). With ``account_id``, only that account's: two shops
    both have a "#1001", and a command an email prints for one must not touch the other."""
    if key.isdigit():
        order = session.get(Order, int(key))
        if order is not None and account_id in (None, order.account_id):
            return order
    query = select(Order).where(col(Order.number).in_(_with_hash(key)) | (Order.reference == key))
    if account_id is not None:
        query = query.where(Order.account_id == account_id)
    order = session.exec(query.order_by(col(Order.id))).first()
    if order is not None:
        return order
    found = _find_by_printed_number(session, key)
    return found if found is not None and account_id in (None, found.account_id) else None


def _with_hash(number: str) -> list[str]:
    """A number as typed, and with the shop's "#" in front if it was left out."""
    return [number] if number.startswith("#") else [number, f"#{number}"]


def _find_by_printed_number(session: Session, key: str) -> Order | None:
    """The order whose number ``printable`` shows as ``key`` — "#37\\r\\n06" typed with
    backslashes, as every list, email and fix command prints the number "#37", CR, LF, "06".

    Only asked when no order has ``key`` itself as its number, and only an exact match: the
    few names that print as ``key`` (:func:`names_printed_as`, at most 64) are looked up
    through the index on ``order.number``, and each one found is checked again against
    ``printable``. Orders are numbered across accounts as in the plain look-up above; the
    lowest id wins there and here."""
    names = names_printed_as(key)
    if not names:
        return None
    candidates = [number for name in names for number in _with_hash(name)]
    printed = set(_with_hash(key))
    found = session.exec(
        select(Order).where(col(Order.number).in_(candidates)).order_by(col(Order.id))
    )
    return next((order for order in found if printable(order.number) in printed), None)
