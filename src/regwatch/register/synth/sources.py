"""The public data files the generator draws from, read once per process.

The files ship inside the package (``synth/data``; origins and licences in its
README.md), so an installed regwatch generates a register without the shared
research folder. Every loader is cached: the first call reads the file, later
calls return the same immutable value.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources


def _open(name: str) -> io.TextIOWrapper:
    path = resources.files("regwatch.register.synth") / "data" / name
    return io.TextIOWrapper(path.open("rb"), encoding="utf-8", newline="")


def _csv_rows(name: str) -> Iterator[dict[str, str]]:
    with _open(name) as handle:
        yield from csv.DictReader(handle)


@dataclass(frozen=True)
class SurnameForms:
    """A male surname and its female forms as the seed file lists them."""

    male: str
    unmarried: str
    married: str
    married_alt: str | None
    neutral: str


@dataclass(frozen=True)
class SurnameVector:
    male: str
    form: str  # "unmarried", "married" or "neutral"
    expected: str


@dataclass(frozen=True)
class Municipality:
    code: str
    short_name: str
    full_name: str
    kind: str  # "miesto", "rajono" or "savivaldybe"


@dataclass(frozen=True)
class PostalPlace:
    municipality_code: str
    place: str
    postal_code: str  # five digits, without the "LT-" prefix
    accuracy: int  # GeoNames: 4 = a town with a post office, 1 or 3 = smaller


@dataclass(frozen=True)
class Street:
    name: str  # genitive, as written in addresses
    abbreviation: str  # "g.", "pr." ...


@dataclass(frozen=True)
class ForeignName:
    group: str
    kind: str  # "given" or "surname"
    male: str
    female: str


@dataclass(frozen=True)
class CalibrationRow:
    metric: str
    year: str
    value: float
    kind: str
    source: str


@cache
def given_names() -> dict[str, tuple[str, ...]]:
    """Given names by sex ("M", "F"), in file order."""
    by_sex: dict[str, list[str]] = {"M": [], "F": []}
    for row in _csv_rows("lt_given_names.csv"):
        by_sex[row["sex"]].append(row["name"])
    return {sex: tuple(names) for sex, names in by_sex.items()}


@cache
def surname_seed() -> tuple[SurnameForms, ...]:
    return tuple(
        SurnameForms(
            male=row["male"],
            unmarried=row["female_unmarried"],
            married=row["female_married"],
            married_alt=row["female_married_alt"] or None,
            neutral=row["female_neutral"],
        )
        for row in _csv_rows("lt_surnames_seed.csv")
    )


@cache
def surname_vectors() -> tuple[SurnameVector, ...]:
    return tuple(
        SurnameVector(row["male"], row["form_kind"], row["expected"])
        for row in _csv_rows("lt_surname_forms_test_vectors.csv")
    )


@cache
def municipalities() -> tuple[Municipality, ...]:
    return tuple(
        Municipality(
            code=row["sav_code"],
            short_name=row["short_name"],
            full_name=row["full_name"],
            kind=row["kind"],
        )
        for row in _csv_rows("lt_municipalities.csv")
    )


@cache
def municipality_weights() -> dict[str, float]:
    """Rough resident counts (thousands) by municipality code; see data/README."""
    return {
        row["sav_code"]: float(row["residents_thousands"])
        for row in _csv_rows("municipality_weights.csv")
    }


@cache
def postal_places() -> tuple[PostalPlace, ...]:
    """The GeoNames postal rows, one per (municipality, place, postal code)."""
    seen: set[tuple[str, str, str]] = set()
    places = []
    with _open("lt_postal_places_geonames.tsv") as handle:
        # Columns: country, postal code, place, county, county code,
        # municipality name, municipality code, -, -, lat, lon, accuracy.
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            key = (fields[6], fields[2], fields[1])
            if key in seen:
                continue
            seen.add(key)
            places.append(PostalPlace(fields[6], fields[2], fields[1], int(fields[11])))
    return tuple(places)


@cache
def streets() -> tuple[Street, ...]:
    return tuple(
        Street(row["name_genitive"], row["usual_type"])
        for row in _csv_rows("lt_street_names_seed.csv")
    )


@cache
def street_types() -> dict[str, str]:
    """Street type word -> its abbreviation in addresses."""
    return {
        row["type"]: row["abbreviation"] for row in _csv_rows("lt_street_types.csv")
    }


@cache
def foreign_names() -> tuple[ForeignName, ...]:
    return tuple(
        ForeignName(row["group"], row["kind"], row["male"], row["female"])
        for row in _csv_rows("foreign_names.csv")
    )


@cache
def name_frequency_facts() -> tuple[dict[str, str], ...]:
    return tuple(_csv_rows("lt_name_frequency_facts.csv"))


@cache
def calibration() -> tuple[CalibrationRow, ...]:
    return tuple(
        CalibrationRow(
            row["metric"], row["year"], float(row["value"]), row["kind"], row["source"]
        )
        for row in _csv_rows("lt_demography_calibration.csv")
    )
