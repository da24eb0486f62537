"""Declared addresses: a municipality, a place in it, a street, a house.

Municipalities are weighted by rough resident counts (municipality_weights.csv),
so Vilnius, Kaunas and Klaipėda get most people. Inside a municipality the
places come from the GeoNames postal file: a city municipality uses its city's
postal codes; a district puts half its people in its seat town (the town named
like the municipality), a fifth in other post-office towns and the rest in
villages. Garden-community entries ("SB „...“") are left out.
"""

from __future__ import annotations

import random
from bisect import bisect
from dataclasses import dataclass
from functools import cache
from itertools import accumulate
from typing import Any

from regwatch.register.synth import sources

_TOWN_ACCURACY = 4
_GARDEN_COMMUNITY = "SB „"

# Where emigrants declare they went: the usual destinations of Lithuanian
# emigration, weighted roughly (the United Kingdom first, then Ireland, Norway,
# Germany). A modelling weight, not a statistic.
_ABROAD = {
    "GB": 30, "DE": 12, "IE": 10, "NO": 10, "US": 6, "NL": 5, "DK": 5, "SE": 5,
    "ES": 4, "FR": 3, "BE": 3, "PL": 3, "IT": 2, "CA": 2,
}  # fmt: skip


@dataclass(frozen=True)
class _Place:
    name: str
    postal_code: str
    kind: str  # "city", "town" or "village"


@dataclass(frozen=True)
class _Municipality:
    code: str
    full_name: str
    places: tuple[_Place, ...]
    cum_weights: tuple[float, ...]

    def pick(self, rng: random.Random) -> _Place:
        return self.places[
            bisect(self.cum_weights, rng.random() * self.cum_weights[-1])
        ]


class AddressBook:
    """Draws declared addresses; build once (``address_book()``), reuse."""

    def __init__(self) -> None:
        weights = sources.municipality_weights()
        by_code: dict[str, list[sources.PostalPlace]] = {}
        for row in sources.postal_places():
            by_code.setdefault(row.municipality_code, []).append(row)
        self.municipalities = tuple(
            _municipality(m, by_code[m.code]) for m in sources.municipalities()
        )
        self._cum = list(accumulate(weights[m.code] for m in self.municipalities))
        self._streets = tuple(
            f"{street.name} {street.abbreviation}" for street in sources.streets()
        )
        self._countries = tuple(_ABROAD)
        self._country_cum = list(accumulate(_ABROAD.values()))

    def municipality(self, rng: random.Random) -> _Municipality:
        index = bisect(self._cum, rng.random() * self._cum[-1])
        return self.municipalities[index]

    def address(self, rng: random.Random) -> dict[str, Any]:
        """A random address in the shape of the declaredResidence group."""
        municipality = self.municipality(rng)
        place = municipality.pick(rng)
        street = None
        if place.kind != "village" or rng.random() < 0.6:
            street = rng.choice(self._streets)
        house = str(1 + min(int(rng.expovariate(1 / 22)), 240))
        if rng.random() < 0.08:
            house += rng.choice("ABC")
        flat = None
        if rng.random() < {"city": 0.75, "town": 0.45, "village": 0.05}[place.kind]:
            flat = str(1 + min(int(rng.expovariate(1 / 30)), 199))
        return {
            "municipalityCode": municipality.code,
            "municipality": municipality.full_name,
            "place": place.name,
            "street": street,
            "house": house,
            "flat": flat,
            "postalCode": "LT-" + place.postal_code,
        }

    def country_abroad(self, rng: random.Random) -> str:
        index = bisect(self._country_cum, rng.random() * self._country_cum[-1])
        return self._countries[index]


@cache
def address_book() -> AddressBook:
    return AddressBook()


def _municipality(
    municipality: sources.Municipality, rows: list[sources.PostalPlace]
) -> _Municipality:
    rows = [row for row in rows if not row.place.startswith(_GARDEN_COMMUNITY)]
    towns = [row for row in rows if row.accuracy == _TOWN_ACCURACY]
    villages = [row for row in rows if row.accuracy != _TOWN_ACCURACY]

    if municipality.kind == "miesto" or not villages:
        shares = [(towns or rows, 1.0, "city")]
    else:
        stem = municipality.short_name.split(" ")[0]
        stem = stem[: max(4, len(stem) - 2)]
        seat = [row for row in towns if row.place.startswith(stem)]
        others = [row for row in towns if row not in seat]
        if seat:
            shares = [
                (seat, 0.5, "town"),
                (others, 0.2, "town"),
                (villages, 0.3, "village"),
            ]
        else:
            shares = [(others, 0.4, "town"), (villages, 0.6, "village")]

    places: list[_Place] = []
    weights: list[float] = []
    for group, share, kind in shares:
        for row in group:
            places.append(_Place(row.place, row.postal_code, kind))
            weights.append(share / len(group))
    return _Municipality(
        code=municipality.code,
        full_name=municipality.full_name,
        places=tuple(places),
        cum_weights=tuple(accumulate(weights)),
    )
