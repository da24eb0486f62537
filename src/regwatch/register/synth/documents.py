"""Identity documents, residence permits and photos, as the groups hold them.

Lithuanian passports and identity cards are valid for 10 years, or 5 years when
issued to a child under 16. A temporary residence permit runs 1-3 years, a
permanent one 5 years (the card's term). Numbers are 8 digits for documents and
9 for permits; the generator draws them from a counter through a bijection so
that no two generated documents share a number, while the simulation draws
them at random (a clash with another person's number changes nothing).
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

ID_CARD = "ID_CARD"
PASSPORT = "PASSPORT"
TEMPORARY = "TEMPORARY"
PERMANENT = "PERMANENT"

_DOCUMENT_SPACE = 10**8
_PERMIT_SPACE = 10**9
# Odd and not a multiple of 5, so n -> n * M mod 10^k is a bijection.
_MIXER = 48_271
_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"


def add_years(day: date, years: int) -> date:
    """The same calendar day ``years`` later (28 February for 29 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def validity_years(born: date, issued: date) -> int:
    return 10 if age_on(born, issued) >= 16 else 5


def document_number(counter: int) -> str:
    return f"{_scramble(counter, 10**4):08d}"


def permit_number(counter: int) -> str:
    return f"{_scramble(counter, 10**5, 10**4):09d}"


def _scramble(counter: int, high: int, low: int | None = None) -> int:
    """A bijection of [0, high * low): consecutive counters give unrelated numbers.

    Each round is an affine map with a multiplier prime to the space, then a
    swap of the high and low parts of the number; both are bijections.
    """
    low = low or high
    space = high * low
    value = counter % space
    for _round in range(4):
        value = (value * _MIXER + 31_337) % space
        value = (value % low) * high + value // low
    return value


def random_document_number(rng: random.Random) -> str:
    return f"{rng.randrange(_DOCUMENT_SPACE):08d}"


def random_permit_number(rng: random.Random) -> str:
    return f"{rng.randrange(_PERMIT_SPACE):09d}"


def foreign_passport_number(rng: random.Random) -> str:
    letters = rng.choice(_LETTERS) + rng.choice(_LETTERS)
    return f"{letters}{rng.randrange(10**7):07d}"


def document(
    kind: str, number: str, issued: date, valid_until: date, today: date
) -> dict[str, Any]:
    """A document as of ``today``: INVALID with reason EXPIRED once it has run out."""
    expired = valid_until < today
    return {
        "type": kind,
        "number": number,
        "issuedOn": issued.isoformat(),
        "validUntil": valid_until.isoformat(),
        "status": "INVALID" if expired else "VALID",
        "invalidReason": "EXPIRED" if expired else None,
    }


def photo(rng: random.Random, taken: date) -> dict[str, str]:
    return {"photoId": f"ph-{rng.getrandbits(64):016x}", "takenOn": taken.isoformat()}


def permit(
    kind: str, number: str, issued: date, valid_until: date, today: date
) -> dict[str, Any]:
    return {
        "type": kind,
        "number": number,
        "issuedOn": issued.isoformat(),
        "validUntil": valid_until.isoformat(),
        "status": "EXPIRED" if valid_until < today else "VALID",
    }


def permit_term(rng: random.Random, kind: str) -> int:
    """Years a new permit of a kind runs: 5 for permanent, mostly 2 for temporary."""
    if kind == PERMANENT:
        return 5
    return rng.choices((1, 2, 3), weights=(25, 50, 25))[0]


def days_before(day: date, rng: random.Random, most: int) -> date:
    return day - timedelta(days=rng.randrange(most + 1))
