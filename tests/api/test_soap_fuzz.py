"""The SOAP reader never crashes: whatever the bytes and headers, ``read_call``
returns a call or raises a ServiceError that blames the request, with a short
message; never another exception, which the endpoint would answer with
INTERNAL_ERROR.

Inputs are random bytes, and valid requests of every operation damaged: bytes
dropped, doubled or swapped, hostile fragments spliced in (entities, DOCTYPE,
CDATA, invalid UTF-8, deep nesting, long runs of digits), values replaced.
bench/fuzz_soap.py runs the same idea over hundreds of thousands of inputs.
"""

from __future__ import annotations

import re
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regwatch.api.soap.operations import SoapCall, read_call
from regwatch.api.soap.requests import (
    GetAllClientsRequest,
    GetClientsDataChangesRequest,
    GetPersonDataRequest,
    LoadClientsRequest,
)
from regwatch.errors import ServiceError

from .soap_samples import CODE, OTHER_CODE, envelope

# Fixed seeds and no example database: the same examples on every run.
FUZZ = settings(
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
LONGEST_MESSAGE = 3_000  # our own words plus at most 2,000 of libxml2's

VALID = [
    envelope(
        f"<r:LoadClients><r:requestId>load-1</r:requestId><r:add>{CODE}</r:add>"
        f"<r:add>{OTHER_CODE}</r:add><r:remove>{OTHER_CODE}</r:remove>"
        "</r:LoadClients>",
        prolog='<?xml version="1.0" encoding="UTF-8"?>',
    ),
    envelope(
        "<r:GetAllClients><r:pageSize>100</r:pageSize>"
        "<r:pageToken>abc</r:pageToken></r:GetAllClients>",
        '<x:Trace xmlns:x="urn:x" soap:actor="urn:elsewhere">t-1</x:Trace>',
    ),
    envelope(
        "<r:GetClientsDataChanges><r:date>2026-03-29+02:00</r:date>"
        "<r:pageSize>5</r:pageSize></r:GetClientsDataChanges>"
    ),
    envelope(
        "<r:GetPersonData><r:requestId>person-1</r:requestId>"
        "<r:purpose>Kredito vertinimas</r:purpose>"
        f"<r:personalCodes>{CODE}</r:personalCodes></r:GetPersonData>"
    ),
    envelope(
        "<r:GetPersonData><r:purpose>Šiaulių bankas</r:purpose>"
        f"<r:personalCodes> {CODE} </r:personalCodes></r:GetPersonData>",
        prolog='<?xml version="1.0" encoding="windows-1257"?>',
    )
    .decode()
    .encode("cp1257"),
]
FRAGMENTS = [
    b"<!DOCTYPE e>",
    b'<!ENTITY x SYSTEM "file:///etc/hostname">',
    b"&x;",
    b"&amp;",
    b"&#0;",
    b"&#x110000;",
    b"&#x160;",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"<?pi data?>",
    b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="x"/>',
    b"\xff",
    b"\xc0\xbc",
    b"\xed\xa0\x80",
    b"\x00",
    b"\xef\xbb\xbf",
    b'<?xml version="1.0" encoding="UTF-16"?>',
    b"<a>" * 40,
    b"</a>",
    b"<",
    b">",
    b"'",
    b'"',
    b"=",
    b":",
    b'xmlns:r="urn:other"',
    b'soap:mustUnderstand="1"',
    b"9" * 40,
    b"0" * 5_000,
    b"x" * 20_000,
    b"-",
    b"+14:00",
    b"Z",
]
SOAP_ACTIONS = [None, '""', "urn:regwatch:monitoring:v1/GetAllClients", "Other"]
VALUE = re.compile(rb">([^<>]*)</")


def verdict(body: bytes, content_type: str | None, soap_action: str | None) -> str:
    """'accepted' or the refusal's code; any other exception escapes."""
    try:
        call = read_call(body, content_type=content_type, soap_action=soap_action)
    except ServiceError as refusal:
        assert refusal.client_error, refusal.code
        assert 0 < len(refusal.message) <= LONGEST_MESSAGE, refusal.code
        return refusal.code
    assert_well_typed(call)
    return "accepted"


def assert_well_typed(call: SoapCall) -> None:
    """What the service functions count on, whatever the reader was given."""
    request = call.request
    if isinstance(request, LoadClientsRequest):
        assert all(len(code) <= 64 for code in [*request.add, *request.remove])
    elif isinstance(request, GetPersonDataRequest):
        assert all(len(code) <= 64 for code in request.codes)
        assert 1 <= len(request.purpose) <= 1_000
    elif isinstance(request, GetClientsDataChangesRequest):
        assert isinstance(request.day, date)
    else:
        assert isinstance(request, GetAllClientsRequest)
    page_size = getattr(request, "page_size", None)
    assert page_size is None or 1 <= page_size < 2**31


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """A valid request with one to four kinds of damage done to it."""
    body = draw(st.sampled_from(VALID))
    for _ in range(draw(st.integers(1, 4))):
        how = draw(
            st.sampled_from(["drop", "double", "swap", "splice", "value", "prefix"])
        )
        at = draw(st.integers(0, len(body) - 1))
        to = draw(st.integers(at, min(len(body), at + 24)))
        if how == "drop":
            body = body[:at] + body[to:]
        elif how == "double":
            body = body[:to] + body[at:to] + body[to:]
        elif how == "swap" and to > at + 1:
            first, last = body[at : at + 1], body[to - 1 : to]
            body = body[:at] + last + body[at + 1 : to - 1] + first + body[to:]
        elif how == "splice":
            body = body[:at] + draw(st.sampled_from(FRAGMENTS)) + body[at:]
        elif how in ("value", "prefix"):
            values = list(VALUE.finditer(body))
            if values:
                value = draw(st.sampled_from(values))
                new = draw(st.sampled_from(FRAGMENTS) | odd_text)
                end = value.end(1) if how == "value" else value.start(1)
                body = body[: value.start(1)] + new + body[end:]
    return body


odd_text = st.text(max_size=30).map(lambda text: text.encode("utf-8", "surrogatepass"))
# Numbers and dates that the XSD may pass and Python may still choke on: signs,
# thousands of leading zeros (Python converts at most 4,300 digits), years
# of any length.
numbers = st.builds(
    lambda sign, zeros, digits: f"{sign}{'0' * zeros}{digits}",
    st.sampled_from(["", "+", "-", " "]),
    st.sampled_from([0, 1, 4_400, 20_000]),
    st.from_regex(r"[0-9]{1,25}", fullmatch=True),
)
dates = st.from_regex(
    r"-?[0-9]{1,30}-[0-9]{1,3}-[0-9]{1,3}(Z|[+-][0-9]{2}:[0-9]{2})?", fullmatch=True
)


@settings(FUZZ, max_examples=1_500)
@given(body=st.binary(max_size=600))
def test_random_bytes_are_read_or_refused(body):
    verdict(body, "text/xml", None)


@settings(FUZZ, max_examples=5_000)
@given(body=damaged(), soap_action=st.sampled_from(SOAP_ACTIONS))
def test_damaged_requests_are_read_or_refused(body, soap_action):
    verdict(body, "text/xml; charset=utf-8", soap_action)


@settings(FUZZ, max_examples=400)
@given(text=st.text(max_size=80) | numbers | dates)
def test_any_text_in_any_value_is_read_or_refused(text):
    # Characters XML cannot carry are escaped by no one here: they reach the
    # parser as they are, the way a careless client sends them.
    for body in VALID[:4]:
        for value in VALUE.finditer(body):
            new = text.encode("utf-8", "surrogatepass")
            verdict(
                body[: value.start(1)] + new + body[value.end(1) :], "text/xml", None
            )


@settings(FUZZ, max_examples=300)
@given(content_type=st.none() | st.text(max_size=60), soap_action=st.none() | st.text())
def test_any_headers_are_read_or_refused(content_type, soap_action):
    verdict(VALID[1], content_type, soap_action)


def test_every_valid_request_is_accepted():
    assert [verdict(body, "text/xml", None) for body in VALID] == ["accepted"] * 5
