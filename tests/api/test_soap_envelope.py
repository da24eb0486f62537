"""Reading untrusted envelopes: what is refused, and what odd input is accepted."""

from __future__ import annotations

from datetime import date

import pytest

from regwatch.api.soap.envelope import (
    check_content_type,
    check_soap_action,
    parse_untrusted,
    read_operation_element,
)
from regwatch.api.soap.faults import MustUnderstand, VersionMismatch
from regwatch.api.soap.requests import parse_day
from regwatch.errors import LimitExceeded, MalformedRequest, OperationMismatch

from .soap_samples import TNS, envelope

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<lolz>&lol3;</lolz>"""


def test_doctype_is_refused_before_parsing():
    with pytest.raises(MalformedRequest, match="DOCTYPE"):
        parse_untrusted(BILLION_LAUGHS)


def test_utf16_is_refused_because_the_doctype_scan_cannot_read_it():
    data = '<?xml version="1.0" encoding="UTF-16"?><a/>'.encode("utf-16")
    with pytest.raises(MalformedRequest, match="UTF-8"):
        parse_untrusted(data)


def test_exotic_declared_encoding_is_refused():
    with pytest.raises(MalformedRequest, match="UTF-8"):
        parse_untrusted(b'<?xml version="1.0" encoding="UTF-7"?><a/>')


def test_windows_1257_declared_in_the_prolog_is_decoded():
    data = '<?xml version="1.0" encoding="windows-1257"?><a>Šiaulių</a>'
    assert parse_untrusted(data.encode("cp1257")).text == "Šiaulių"


def test_nesting_deeper_than_libxml2_allows_is_a_limit():
    with pytest.raises(LimitExceeded, match="256 deep"):
        parse_untrusted(b"<a>" * 300 + b"</a>" * 300)


def test_undeclared_entity_is_not_well_formed():
    with pytest.raises(MalformedRequest, match="not well-formed"):
        parse_untrusted(b"<a>&xxe;</a>")


def test_comments_inside_a_code_do_not_split_it():
    assert parse_untrusted(b"<a>3900101<!-- x -->0008</a>").text == "39001010008"


def test_body_element_is_found_past_headers_addressed_elsewhere():
    header = (
        '<x:Trace xmlns:x="urn:x" soap:mustUnderstand="1" '
        'soap:actor="urn:some-other-node"/><x:Info xmlns:x="urn:x"/>'
    )
    element = read_operation_element(envelope("<r:GetAllClients/>", header))
    assert element.tag == f"{TNS}GetAllClients"


def test_header_for_us_that_must_be_understood_is_refused():
    header = '<x:Security xmlns:x="urn:x" soap:mustUnderstand="1"/>'
    with pytest.raises(MustUnderstand):
        read_operation_element(envelope("<r:GetAllClients/>", header))


def test_soap_12_envelope_is_a_version_mismatch():
    data = (
        b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope">'
        b"<e:Body/></e:Envelope>"
    )
    with pytest.raises(VersionMismatch):
        read_operation_element(data)


@pytest.mark.parametrize(
    "body",
    ["", "<r:GetAllClients/><r:GetAllClients/>"],
    ids=["empty", "two operations"],
)
def test_body_must_hold_exactly_one_element(body):
    with pytest.raises(MalformedRequest, match="exactly one"):
        read_operation_element(envelope(body))


def test_root_that_is_not_an_envelope_is_malformed():
    with pytest.raises(MalformedRequest, match="not a SOAP envelope"):
        read_operation_element(b"<LoadClients/>")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        '""',
        '"urn:regwatch:monitoring:v1/LoadClients"',
        "urn:regwatch:monitoring:v1/LoadClients",
        '"http://tempuri.org/IMonitoring/LoadClients"',
        "LoadClients",
    ],
)
def test_soap_action_absent_empty_or_naming_the_operation_is_accepted(header):
    check_soap_action(header, "LoadClients")


@pytest.mark.parametrize(
    "header", ['"urn:regwatch:monitoring:v1/GetPersonData"', "urn:other:Thing"]
)
def test_soap_action_naming_something_else_is_a_mismatch(header):
    with pytest.raises(OperationMismatch, match="LoadClients"):
        check_soap_action(header, "LoadClients")


@pytest.mark.parametrize(
    "header", ["text/xml", "text/xml; charset=utf-8", 'Text/XML; charset="UTF-8"']
)
def test_text_xml_with_or_without_charset_is_accepted(header):
    check_content_type(header)


@pytest.mark.parametrize(
    "header", [None, "application/soap+xml", "application/x-www-form-urlencoded"]
)
def test_other_content_types_are_refused(header):
    with pytest.raises(MalformedRequest, match="text/xml"):
        check_content_type(header)


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-29",
        "2026-03-29+02:00",
        "2026-03-29-11:00",
        "2026-03-29Z",
        " 2026-03-29 ",
    ],
)
def test_a_date_names_its_calendar_day_whatever_the_zone_suffix(text):
    assert parse_day(text) == date(2026, 3, 29)


@pytest.mark.parametrize("text", ["0000-01-01", "-0001-01-01", "12026-01-01"])
def test_schema_valid_dates_outside_python_are_faults_not_crashes(text):
    with pytest.raises(MalformedRequest, match="calendar day"):
        parse_day(text)
