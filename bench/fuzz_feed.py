"""Fuzzing (not a test): damaged event lines through the feed reader.

Takes one valid line of every event type, damages it many times over (bytes
dropped, doubled, swapped or made invalid UTF-8; values turned into other JSON
types, keys deleted or added, huge numbers, deep nesting, very long strings,
dates and instants at the ends of the calendar) and reads each result the way
an event file is read: ``parse_json_object`` then ``event_from_object``. Each
line must come out as an event or as a ValueError with a message; anything else
is a crash, printed with the line that caused it, and the exit status is 1.

    .venv/bin/python bench/fuzz_feed.py [--lines 200000] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any

import orjson

from regwatch import codes
from regwatch.register.feed import event_from_object, parse_json_object

RECORDED_AT = "2026-11-03T10:15:00+02:00"
ADDRESS = {
    "municipalityCode": "13",
    "municipality": "Vilniaus miesto savivaldybė",
    "place": "Vilnius",
    "street": "Gedimino pr.",
    "house": "9",
    "flat": None,
    "postalCode": "LT-01103",
}
PERMIT = {
    "type": "TEMPORARY",
    "number": "LP-000123",
    "issuedOn": "2026-11-03",
    "validUntil": "2029-11-02",
}

# Values a damaged field may take: every JSON type, and the awkward ones.
ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**63 - 1,
    -(2**63),
    1.5,
    -0.0,
    1e308,
    "",
    " ",
    "NaN",
    "Infinity",
    "-inf",
    "1e999",
    "\u0000",
    "\u202e",
    "ž" * 300,
    "x" * 100_000,
    [],
    {},
    [None],
    {"": None},
    "0000-00-00",
    "2026-02-29",
    "2024-02-29",
    "0001-01-01",
    "9999-12-31",
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-14:00",
    "2026-11-03T24:00:00+02:00",
    "2026-11-03T10:15:00+99:99",
    "2026-11-03T10:15:00.1234567+02:00",
    "00000000000",
    "99999999999",
    "39912310000",
    "30002300000",
]
# Raw text spliced into a line: JSON that orjson refuses, and bytes that are
# not UTF-8 at all.
ODD_BYTES = [
    b"NaN",
    b"-Infinity",
    b"1" * 400,
    b"1e99999",
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",  # a UTF-16 surrogate written as UTF-8
    b'"\\ud800"',
    b"\x00",
    b"\\",
    b'"',
    b"{",
    b"]",
    b"[" * 2_000,
]


def valid_objects() -> list[dict[str, Any]]:
    """One valid line object of every event type."""
    born = date(1980, 5, 17)
    man = codes.make_code("M", born, 11)
    woman = codes.make_code("F", date(1982, 1, 9), 12)
    child = codes.make_code("F", date(2026, 11, 1), 13)
    foreigner = codes.make_code("M", date(1990, 7, 30), 14)
    new_code = codes.make_code("M", born, 15)

    def line(kind: str, persons: list[str], data: dict[str, Any]) -> dict[str, Any]:
        return {
            "formatVersion": 1,
            "eventId": f"fuzz-{kind.lower()}",
            "type": kind,
            "recordedAt": RECORDED_AT,
            "persons": persons,
            "data": data,
        }

    newborn = {
        "personalCode": child,
        "givenNames": "Ema",
        "surname": "Kazlauskaitė",
        "sex": "F",
        "birthDate": "2026-11-01",
    }
    arriving = {
        "personalCode": foreigner,
        "givenNames": "Oleh",
        "surname": "Shevchenko",
        "sex": "M",
        "birthDate": "1990-07-30",
        "citizenship": "UA",
    }
    document = {
        "type": "ID_CARD",
        "number": "AB1234567",
        "issuedOn": "2026-11-03",
        "validUntil": "2036-11-02",
    }
    photo = {"photoId": "ph-1", "takenOn": "2026-11-01"}
    return [
        line("BIRTH", [woman, man], {"child": newborn}),
        line("DEATH", [man], {"dateOfDeath": "2026-11-01"}),
        line(
            "MARRIAGE", [man, woman], {"date": "2026-11-03", "surnames": {woman: "K"}}
        ),
        line("DIVORCE", [man, woman], {"date": "2026-11-03"}),
        line("NAME_CHANGE", [man], {"givenNames": "Jonas Petras"}),
        line("DOCUMENT_ISSUED", [man], {"document": document, "photo": photo}),
        line("DOCUMENT_INVALIDATED", [man], {"number": "AB1", "reason": "LOST"}),
        line("PHOTO_TAKEN", [man], {"photo": photo}),
        line("RESIDENCE_DECLARED", [man], {"since": "2026-11-03", "address": ADDRESS}),
        line("DEPARTED_ABROAD", [man], {"since": "2026-11-03", "country": "NO"}),
        line("PERMIT_ISSUED", [foreigner], {"permit": PERMIT}),
        line("PERMIT_RENEWED", [foreigner], {"permit": PERMIT}),
        line("PERMIT_REVOKED", [foreigner], {}),
        line("PERMIT_EXPIRED", [foreigner], {}),
        line("CODE_REPLACED", [man], {"newCode": new_code}),
        line(
            "FOREIGNER_ARRIVED",
            [],
            {
                "person": arriving,
                "permit": PERMIT,
                "residence": {"since": "2026-11-03", "address": ADDRESS},
            },
        ),
        line(
            "RECORD_CORRECTED",
            [man],
            {
                "reason": "a typing error",
                "corrections": {
                    "name": {"givenNames": "Jonas", "surname": "Kazlauskas"},
                    "death": None,
                    "childrenCount": 2,
                    "maritalStatus": {"status": "SINGLE", "since": None},
                    "identityDocuments": [
                        {**document, "status": "VALID", "invalidReason": None}
                    ],
                },
            },
        ),
    ]


# --- damage to the bytes --------------------------------------------------------------


def drop(rng: random.Random, line: bytes) -> bytes:
    start = rng.randrange(len(line))
    return line[:start] + line[start + rng.randint(1, 8) :]


def duplicate(rng: random.Random, line: bytes) -> bytes:
    start = rng.randrange(len(line))
    end = min(len(line), start + rng.randint(1, 20))
    return line[:end] + line[start:end] + line[end:]


def swap(rng: random.Random, line: bytes) -> bytes:
    a, b = sorted(rng.sample(range(len(line)), 2))
    return (
        line[:a] + line[b : b + 1] + line[a + 1 : b] + line[a : a + 1] + line[b + 1 :]
    )


def splice(rng: random.Random, line: bytes) -> bytes:
    at = rng.randrange(len(line) + 1)
    return line[:at] + rng.choice(ODD_BYTES) + line[at:]


def noise(rng: random.Random, line: bytes) -> bytes:
    return bytes(rng.randrange(256) for _ in range(rng.randint(1, 200)))


# --- damage to the values -------------------------------------------------------------


def _places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every value inside a line object, the object itself first."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _places(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _places(item, (*path, index))
    return found


def _change(value: Any, path: tuple[Any, ...], new: Callable[[Any], Any]) -> Any:
    if not path:
        return new(value)
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _change(value[head], rest, new)}
    copy = list(value)
    copy[head] = _change(copy[head], rest, new)
    return copy


def _somewhere(rng: random.Random, line: dict, new: Callable[[Any], Any]) -> bytes:
    path = rng.choice(_places(line))
    return orjson.dumps(_change(line, path, new))


def odd_value(rng: random.Random, line: dict) -> bytes:
    return _somewhere(rng, line, lambda _old: rng.choice(ODD_VALUES))


def delete_key(rng: random.Random, line: dict) -> bytes:
    def without_one(value: Any) -> Any:
        if isinstance(value, dict) and value:
            gone = rng.choice(list(value))
            return {key: item for key, item in value.items() if key != gone}
        if isinstance(value, list) and value:
            return value[1:]
        return value

    return _somewhere(rng, line, without_one)


def add_key(rng: random.Random, line: dict) -> bytes:
    names = ["extra", "type", "data", "persons", "", "__proto__", "since", "date"]

    def with_one_more(value: Any) -> Any:
        if isinstance(value, dict):
            return {**value, rng.choice(names): rng.choice(ODD_VALUES)}
        if isinstance(value, list):
            return [*value, rng.choice(ODD_VALUES)]
        return value

    return _somewhere(rng, line, with_one_more)


def nest(rng: random.Random, line: dict) -> bytes:
    """A value wrapped in up to 1,100 arrays or objects, deeper than orjson reads
    (written as text: orjson will not write that deep either)."""
    marker = "\u0001nested\u0001"
    text = _somewhere(rng, line, lambda _old: marker)
    depth = rng.choice([2, 50, 500, 1_000, 1_100])
    opening, closing = (b"[", b"]") if rng.random() < 0.5 else (b'{"a":', b"}")
    deep = opening * depth + b"0" + closing * depth
    return text.replace(orjson.dumps(marker), deep, 1)


def digits(rng: random.Random, line: dict) -> bytes:
    """Change a digit of a date, instant or code: a near miss of a valid line."""
    text = bytearray(orjson.dumps(line))
    places = [i for i, byte in enumerate(text) if chr(byte).isdigit()]
    for _ in range(rng.randint(1, 3)):
        text[rng.choice(places)] = ord(str(rng.randrange(10)))
    return bytes(text)


BYTE_DAMAGE = [drop, duplicate, swap, splice, noise]
VALUE_DAMAGE = [odd_value, delete_key, add_key, nest, digits]


def damaged(rng: random.Random, objects: list[dict]) -> bytes:
    line = rng.choice(objects)
    text = rng.choice(VALUE_DAMAGE)(rng, line)
    for _ in range(rng.choice([0, 0, 1, 2])):
        if len(text) >= 2:  # every byte damage needs two bytes to work on
            text = rng.choice(BYTE_DAMAGE)(rng, text)
    return text


# --- the run --------------------------------------------------------------------------


def read(line: bytes) -> str:
    """'accepted', 'refused', or raises what the reader raised."""
    try:
        event_from_object(parse_json_object(line))
    except ValueError as error:
        if not str(error):
            raise AssertionError("a refusal without a message") from error
        return "refused"
    return "accepted"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--show", type=int, default=5, help="crashes shown per kind")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    objects = valid_objects()
    for line in objects:
        assert read(orjson.dumps(line)) == "accepted", line
    outcomes: Counter[str] = Counter()
    crashes: dict[str, list[bytes]] = {}
    started = time.perf_counter()
    for _ in range(args.lines):
        line = damaged(rng, objects)
        try:
            outcomes[read(line)] += 1
        except Exception as error:
            outcomes["crashed"] += 1
            crashes.setdefault(f"{type(error).__name__}: {error}", []).append(line)
    seconds = time.perf_counter() - started

    print(
        f"{args.lines:,} damaged lines (seed {args.seed}) in {seconds:.1f} s: "
        f"{outcomes['accepted']:,} accepted, {outcomes['refused']:,} refused, "
        f"{outcomes['crashed']:,} crashed"
    )
    for crash, lines in sorted(crashes.items(), key=lambda item: -len(item[1])):
        print(f"\nCRASH x{len(lines):,}  {crash}")
        for line in lines[: args.show]:
            print(f"  {line[:400]!r}")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
