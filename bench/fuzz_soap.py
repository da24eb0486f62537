"""Fuzzing (not a test): damaged SOAP requests through the reader.

Takes a valid request of every operation and damages it many times over: bytes
dropped, doubled, swapped or replaced by noise; hostile fragments spliced in
(DOCTYPE and entities, CDATA, XInclude, invalid UTF-8, NUL); values replaced by
odd numbers, dates and text; elements nested deep, repeated, renamed or moved
to other namespaces; prologs in other encodings; header entries added,
WS-Security ones too. Each result is read the way the endpoint reads it, with
``read_call``, and must come out as a call or as a ServiceError that blames the
request. Anything else is a crash, printed with the input that caused it, and
the exit status is 1. The slowest inputs are listed as well: a reader that
spends seconds on a small request is a way to tie up every worker.

    .venv/bin/python bench/fuzz_soap.py [--inputs 200000] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable

from regwatch.api.soap.operations import read_call
from regwatch.config import Settings
from regwatch.errors import ServiceError

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS = "urn:regwatch:monitoring:v1"
WSSE = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
)
CODES = ["39001010008", "49002020007", "38703181745"]

OPERATIONS = [
    "<r:LoadClients><r:requestId>load-1</r:requestId>"
    + "".join(f"<r:add>{code}</r:add>" for code in CODES)
    + f"<r:remove>{CODES[0]}</r:remove></r:LoadClients>",
    "<r:GetAllClients><r:pageSize>100</r:pageSize>"
    "<r:pageToken>abc</r:pageToken></r:GetAllClients>",
    "<r:GetClientsDataChanges><r:date>2026-03-29+02:00</r:date>"
    "<r:pageSize>5</r:pageSize></r:GetClientsDataChanges>",
    "<r:GetPersonData><r:requestId>person-1</r:requestId>"
    "<r:purpose>Kredito vertinimas</r:purpose>"
    + "".join(f"<r:personalCodes>{code}</r:personalCodes>" for code in CODES)
    + "</r:GetPersonData>",
]
HEADERS = [
    "",
    '<x:Trace xmlns:x="urn:x" soap:actor="urn:elsewhere">t-1</x:Trace>',
    f'<w:Security xmlns:w="{WSSE}" soap:mustUnderstand="1"><w:UsernameToken>'
    "<w:Username>bank</w:Username><w:Password>s3cret</w:Password>"
    "</w:UsernameToken></w:Security>",
]
PROLOGS = [
    b"",
    b'<?xml version="1.0" encoding="UTF-8"?>',
    b'<?xml version="1.0" encoding="windows-1257"?>',
    b'<?xml version="1.1"?>',
    b'<?xml version="1.0" encoding="UTF-16"?>',
    b'<?xml version="1.0" encoding="UTF-7"?>',
    b'<?xml version="1.0" encoding="ebcdic-cp-us"?>',
    b'<?xml version="1.0" standalone="yes"?>',
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"<!DOCTYPE soap:Envelope>",
    b'<!DOCTYPE e [<!ENTITY x "xx">]>',
    b"<!-- hello -->",
    b'<?xml-stylesheet href="http://127.0.0.1:9/x"?>',
]
FRAGMENTS = [
    b"<!DOCTYPE e>",
    b'<!ENTITY x SYSTEM "file:///etc/hostname">',
    b"<!ENTITY % p 'x'>",
    b"&x;",
    b"&lt;",
    b"&amp;",
    b"&#0;",
    b"&#1;",
    b"&#xD800;",
    b"&#x110000;",
    b"&#99999999999999999999;",
    b"<![CDATA[",
    b"]]>",
    b"<![CDATA[<r:add>1</r:add>]]>",
    b"<!--",
    b"-->",
    b"<?pi?>",
    b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="/etc/hostname"/>',
    b"\xff",
    b"\xfe\xff",
    b"\xc0\xbc",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\x00",
    b"\x1b",
    b"\r",
    b"<",
    b">",
    b"</",
    b"/>",
    b"'",
    b'"',
    b"=",
    b":",
    b"xmlns:r='urn:other'",
    b'xmlns=""',
    b'soap:mustUnderstand="1"',
    b'soap:actor="http://schemas.xmlsoap.org/soap/actor/next"',
    b"<r:add>39001010008</r:add>",
    b"<soap:Body/>",
    b"<soap:Header/>",
]
ODD_VALUES = [
    "",
    " ",
    "0",
    "-1",
    "+1",
    "1.0",
    "1e3",
    "0x10",
    "NaN",
    "INF",
    "2147483647",
    "2147483648",
    "-2147483649",
    "9" * 40,
    "0" * 4_400 + "7",
    "+" + "0" * 20_000 + "1",
    "9" * 20_000,
    "2026-02-29",
    "2024-02-29",
    "0000-01-01",
    "-0001-01-01",
    "12026-01-01",
    "9" * 40 + "-01-01",
    "2026-13-01",
    "2026-01-01+14:00",
    "2026-01-01+14:01",
    "2026-01-01T00:00:00",
    "\u0663\u0669\u0660\u0660\u0661",  # Arabic-Indic digits
    "\uff13\uff19\uff10\uff10\uff11",  # full-width digits
    "39001010008" * 6,
    "x" * 1_001,
    "ž" * 20_000,
    "\u202e",
    "\ufeff",
    "\U0001f600",
]


def valid_requests() -> list[bytes]:
    requests = []
    for operation in OPERATIONS:
        for header in HEADERS:
            header_xml = f"<soap:Header>{header}</soap:Header>" if header else ""
            requests.append(
                (
                    f'<soap:Envelope xmlns:soap="{SOAP}" xmlns:r="{NS}">{header_xml}'
                    f"<soap:Body>{operation}</soap:Body></soap:Envelope>"
                ).encode()
            )
    return requests


MAX_BODY_BYTES = Settings().max_body_bytes
VALUE = re.compile(rb">([^<>]*)</")
ELEMENT = re.compile(rb"<r:(\w+)>[^<>]*</r:\1>")


# --- damage to the bytes --------------------------------------------------------------


def drop(rng: random.Random, data: bytes) -> bytes:
    start = rng.randrange(len(data))
    return data[:start] + data[start + rng.randint(1, 12) :]


def duplicate(rng: random.Random, data: bytes) -> bytes:
    start = rng.randrange(len(data))
    end = min(len(data), start + rng.randint(1, 40))
    return data[:end] + data[start:end] * rng.choice([1, 2, 50]) + data[end:]


def swap(rng: random.Random, data: bytes) -> bytes:
    a, b = sorted(rng.sample(range(len(data)), 2))
    return (
        data[:a] + data[b : b + 1] + data[a + 1 : b] + data[a : a + 1] + data[b + 1 :]
    )


def splice(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + rng.choice(FRAGMENTS) + data[at:]


def noise(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + rng.randbytes(rng.randint(1, 16)) + data[at:]


# --- damage to the values and the structure -------------------------------------------


def odd_value(rng: random.Random, data: bytes) -> bytes:
    values = list(VALUE.finditer(data))
    if not values:
        return data
    value = rng.choice(values)
    new = rng.choice([rng.choice(ODD_VALUES).encode(), rng.choice(FRAGMENTS)])
    if rng.random() < 0.3:  # before the value, not instead of it
        return data[: value.start(1)] + new + data[value.start(1) :]
    return data[: value.start(1)] + new + data[value.end(1) :]


def nest(rng: random.Random, data: bytes) -> bytes:
    values = list(VALUE.finditer(data))
    if not values:
        return data
    value = rng.choice(values)
    depth = rng.choice([1, 31, 33, 100, 257, 2_000])
    tag = rng.choice([b"r:add", b"a", b"soap:Body"])
    opening, closing = b"<" + tag + b">", b"</" + tag + b">"
    inner = data[value.start(1) : value.end(1)]
    deep = opening * depth + inner + closing * depth
    return data[: value.start(1)] + deep + data[value.end(1) :]


def repeat(rng: random.Random, data: bytes) -> bytes:
    elements = list(ELEMENT.finditer(data))
    if not elements:
        return data
    element = rng.choice(elements)
    # Past the element limit only now and then: those inputs are megabytes.
    times = 250_000 if rng.random() < 0.002 else rng.choice([2, 100, 10_000])
    copies = data[element.start() : element.end()] * times
    return data[: element.start()] + copies + data[element.end() :]


def rename(rng: random.Random, data: bytes) -> bytes:
    old, new = rng.choice(
        [
            (NS.encode(), b"urn:regwatch:monitoring:v2"),
            (NS.encode(), b"urn:" + b"n" * 100_000),
            (SOAP.encode(), b"http://www.w3.org/2003/05/soap-envelope"),
            (b"soap:", b""),
            (b"r:", b""),
            (b"GetAllClients", b"GetAllClient"),
            (b"pageSize", b"PageSize"),
            (b"LoadClients", b"L" * 60_000),
            (b"Envelope", b"Envelop"),
            (b"soap:Body", b"soap:Header"),
        ]
    )
    return data.replace(old, new, rng.choice([1, -1]))


def prolog(rng: random.Random, data: bytes) -> bytes:
    return rng.choice(PROLOGS) + data


def attribute(rng: random.Random, data: bytes) -> bytes:
    tags = [match.end() for match in re.finditer(rb"<[a-zA-Z:]+", data)]
    if not tags:
        return data
    at = rng.choice(tags)
    name = rng.choice([b"r:x", b"x", b"soap:mustUnderstand", b"xmlns:q", b"xml:lang"])
    value = rng.choice([b"1", b"", b"urn:" + b"v" * rng.choice([10, 20_000])])
    if rng.random() < 0.002:  # past the attribute limit
        extra = b"".join(b' a%d="1"' % serial for serial in range(300_000))
    else:
        extra = b" " + name + b'="' + value + b'"'
    return data[:at] + extra + data[at:]


def encode_otherwise(rng: random.Random, data: bytes) -> bytes:
    encoding = rng.choice(["utf-16", "utf-16-be", "utf-32", "cp1257", "cp037", "utf-7"])
    return data.decode("utf-8", "replace").encode(encoding, "replace")


BYTE_DAMAGE = [drop, duplicate, swap, splice, noise]
SHAPE_DAMAGE: list[Callable[[random.Random, bytes], bytes]] = [
    odd_value,
    odd_value,
    nest,
    repeat,
    rename,
    prolog,
    attribute,
    encode_otherwise,
]


def damaged(rng: random.Random, requests: list[bytes]) -> bytes:
    data = rng.choice(requests)
    for _ in range(rng.choice([0, 1, 1, 2])):
        data = rng.choice(SHAPE_DAMAGE)(rng, data)
    for _ in range(rng.choice([0, 0, 1, 2, 3])):
        if len(data) >= 2:
            data = rng.choice(BYTE_DAMAGE)(rng, data)
    return data


# --- the run --------------------------------------------------------------------------


def read(data: bytes) -> str:
    """'accepted' or the refusal's code; anything else escapes."""
    if len(data) > MAX_BODY_BYTES:
        return "(over the body limit: the endpoint never reads it)"
    try:
        read_call(data, content_type="text/xml; charset=utf-8", soap_action=None)
    except ServiceError as refusal:
        check_refusal(refusal)
        return refusal.code
    return "accepted"


def check_refusal(refusal: ServiceError) -> None:
    if not refusal.client_error or not refusal.message:
        raise AssertionError(f"{refusal.code} does not blame the request")
    if len(refusal.message) > 3_000:
        raise AssertionError(f"{refusal.code}: a message of {len(refusal.message):,}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--show", type=int, default=3, help="inputs shown per crash")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    requests = valid_requests()
    for request in requests:
        assert read(request) == "accepted", request
    outcomes: Counter[str] = Counter()
    crashes: dict[str, list[bytes]] = {}
    slowest: list[tuple[float, bytes]] = []
    started = time.perf_counter()
    for _ in range(args.inputs):
        data = damaged(rng, requests)
        began = time.perf_counter()
        try:
            outcomes[read(data)] += 1
        except Exception as error:
            outcomes["CRASHED"] += 1
            crashes.setdefault(f"{type(error).__name__}: {error}", []).append(data)
        slowest = sorted([*slowest, (time.perf_counter() - began, data)])[-5:]
    seconds = time.perf_counter() - started

    print(f"{args.inputs:,} damaged requests (seed {args.seed}) in {seconds:.1f} s")
    for outcome, count in outcomes.most_common():
        print(f"  {count:>9,}  {outcome}")
    print("slowest:")
    for took, data in reversed(slowest):
        print(f"  {took * 1000:7.1f} ms  {len(data):>10,} bytes  {data[:80]!r}")
    for crash, inputs in sorted(crashes.items(), key=lambda item: -len(item[1])):
        print(f"\nCRASH x{len(inputs):,}  {crash[:300]}")
        for data in inputs[: args.show]:
            print(f"  {data[:400]!r}")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
