"""The operator's published prices, by the day they take effect.

A charge records the price in force on the day it arose, so a later price list
never changes what was already charged.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date


class Item(enum.Enum):
    CHANGES = "CHANGES"  # a person reported in a day's answer
    EXTRACT = "EXTRACT"  # a person returned by an extract


@dataclass(frozen=True)
class Price:
    cents: int
    vat_percent: int


@dataclass(frozen=True)
class PriceList:
    effective: date
    prices: dict[Item, Price]


# As published by the operator (SPEC.md, "Prices"). The one-off and monthly fees
# are invoiced by contract, not charged per call, so they are not listed here.
PRICE_LISTS: tuple[PriceList, ...] = (
    PriceList(
        effective=date(2024, 1, 1),
        prices={Item.CHANGES: Price(2, 0), Item.EXTRACT: Price(2, 0)},
    ),
)


def price_on(day: date, item: Item) -> Price:
    """The price of an item on a day: the newest list in effect then."""
    in_force = [p for p in PRICE_LISTS if p.effective <= day]
    if not in_force:
        raise LookupError(f"no price list is in force on {day}")
    return max(in_force, key=lambda p: p.effective).prices[item]
