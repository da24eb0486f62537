"""Charges: one per customer, item, day and person, however often it is asked.

The key of the charges table decides: a page fetched twice, or an extract
repeated on the same day, adds no second charge. Who may be charged at all is
the caller's rule: a day's answer leaves out persons whose changes all came from
a register clean-up (monitoring/days.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, func, select

from regwatch.billing.prices import Item, price_on
from regwatch.clock import to_micros
from regwatch.store.sql import insert_one_per_value
from regwatch.store.tables import charges


def charge(
    conn: Connection,
    customer_id: str,
    item: Item,
    day: date,
    person_ids: Iterable[int],
    now: datetime,
) -> None:
    """Record charges for the persons not yet charged for this item and day."""
    price = price_on(day, item)
    insert_one_per_value(
        conn,
        charges,
        {
            "customer_id": customer_id,
            "item": item.value,
            "day": day,
            "charged_at": to_micros(now),
            "price_cents": price.cents,
            "vat_percent": price.vat_percent,
        },
        "person_id",
        sorted(set(person_ids)),
    )


@dataclass(frozen=True)
class ChargeTotal:
    item: Item
    persons: int
    cents: int


def charged_for_day(
    conn: Connection, customer_id: str, item: Item, day: date
) -> ChargeTotal:
    """What a customer has been charged so far for one item and day."""
    # The whole key but the person is given, so this reads one range of it.
    persons, cents = conn.execute(
        select(func.count(), func.sum(charges.c.price_cents))
        .where(charges.c.customer_id == customer_id)
        .where(charges.c.item == item.value)
        .where(charges.c.day == day)
    ).one()
    return ChargeTotal(item, persons, int(cents or 0))


def totals(conn: Connection, customer_id: str) -> list[ChargeTotal]:
    """What a customer has been charged, per item."""
    rows = conn.execute(
        select(charges.c.item, func.count(), func.sum(charges.c.price_cents))
        .where(charges.c.customer_id == customer_id)
        .group_by(charges.c.item)
        .order_by(charges.c.item)
    )
    return [ChargeTotal(Item(item), n, int(cents or 0)) for item, n, cents in rows]
