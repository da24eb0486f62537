from __future__ import annotations

import random
import re
from collections import Counter

from regwatch.register.synth import sources
from regwatch.register.synth.places import address_book

ADDRESS_KEYS = {
    "municipalityCode",
    "municipality",
    "place",
    "street",
    "house",
    "flat",
    "postalCode",
}


def _addresses(count: int, seed: int = 1) -> list[dict]:
    book, rng = address_book(), random.Random(seed)
    return [book.address(rng) for _ in range(count)]


def test_an_address_has_every_field_with_a_postal_code_of_lt_and_five_digits():
    names = {m.code: m.full_name for m in sources.municipalities()}
    for address in _addresses(2_000):
        assert set(address) == ADDRESS_KEYS
        assert re.fullmatch(r"LT-\d{5}", address["postalCode"])
        assert address["municipality"] == names[address["municipalityCode"]]
        assert re.fullmatch(r"\d+[A-C]?", address["house"])
        assert address["flat"] is None or address["flat"].isdigit()


def test_a_street_is_a_seed_name_with_its_type_abbreviation():
    streets = {f"{s.name} {s.abbreviation}" for s in sources.streets()}
    abbreviations = set(sources.street_types().values())
    seen = [a["street"] for a in _addresses(2_000) if a["street"] is not None]
    assert seen
    assert set(seen) <= streets
    assert {street.rsplit(" ", 1)[1] for street in seen} <= abbreviations
    assert "Vilniaus g." in streets


def test_the_postal_code_and_place_come_from_the_municipality_in_the_file():
    known = {
        (p.municipality_code, p.place, p.postal_code) for p in sources.postal_places()
    }
    for a in _addresses(2_000):
        assert (a["municipalityCode"], a["place"], a["postalCode"][3:]) in known


def test_the_big_cities_hold_most_people_and_vilnius_the_most():
    counts = Counter(a["municipalityCode"] for a in _addresses(20_000))
    vilnius, kaunas, klaipeda, neringa = (
        counts["13"],
        counts["19"],
        counts["21"],
        counts["23"],
    )
    assert vilnius > kaunas > klaipeda > neringa
    assert 0.17 < vilnius / 20_000 < 0.25  # about 600 of 2,870 thousand
    assert len(counts) > 50


def test_no_one_lives_in_a_garden_community():
    assert not any(a["place"].startswith("SB „") for a in _addresses(5_000))


def test_a_country_abroad_is_an_iso_code_and_the_united_kingdom_leads():
    book, rng = address_book(), random.Random(2)
    countries = Counter(book.country_abroad(rng) for _ in range(2_000))
    assert all(re.fullmatch(r"[A-Z]{2}", c) for c in countries)
    assert countries.most_common(1)[0][0] == "GB"
