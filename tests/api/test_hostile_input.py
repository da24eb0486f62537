"""Hostile requests through the real HTTP app: each is refused with its own code.

The corpus in ``hostile/`` holds one request a file, named for the attack it
carries; CORPUS below says which machine code each must get. Payloads too big
to keep in the repository (megabytes of elements, attributes or text) are
built here instead. A file that should read a file from the server names it as
``SECRET_FILE_URL``, replaced with a temporary file holding a marker, so that
any leak of its content shows in the answer.

Every refusal must be a SOAP fault with the expected code, small and quick,
with no trace of our internals, logged by its code, and must never reach the
service.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.contextvars import merge_contextvars

from regwatch.api.soap import envelope as soap_envelope
from regwatch.api.soap.contract import xsd_bytes
from regwatch.api.soap.envelope import (
    DEFAULT_LIMITS,
    Limits,
    parse_untrusted,
    read_operation_element,
    validate,
)
from regwatch.config import Settings
from regwatch.errors import LimitExceeded, MalformedRequest

from .soap_samples import envelope, fault, post

HOSTILE = Path(__file__).parent / "hostile"
MARKER = "regwatch-hostile-marker-5c1e"

FORBIDDEN = "FORBIDDEN_XML"
LIMIT = "LIMIT_EXCEEDED"
MALFORMED = "MALFORMED_REQUEST"
VERSION = "VERSION_MISMATCH"

CORPUS = {
    # entities and DTDs, in every spelling the byte scan must see through
    "billion_laughs.xml": FORBIDDEN,
    "quadratic_blowup.xml": FORBIDDEN,
    "external_entity_file.xml": FORBIDDEN,
    "external_entity_network.xml": FORBIDDEN,
    "external_dtd.xml": FORBIDDEN,
    "parameter_entity.xml": FORBIDDEN,
    "entity_declaration_without_doctype.xml": FORBIDDEN,
    "doctype_after_root.xml": FORBIDDEN,
    "doctype_in_cdata.xml": FORBIDDEN,
    "doctype_in_comment.xml": FORBIDDEN,
    "utf16_doctype.xml": FORBIDDEN,
    "utf7_doctype.xml": FORBIDDEN,
    "undefined_entity.xml": MALFORMED,
    # XInclude, never run and refused wherever it stands
    "xinclude.xml": FORBIDDEN,
    "xinclude_in_header.xml": FORBIDDEN,
    "xinclude_old_namespace.xml": FORBIDDEN,
    "xinclude_namespace_by_character_reference.xml": FORBIDDEN,
    # encodings and bytes
    "utf16_be_without_bom.xml": MALFORMED,
    "utf32.xml": MALFORMED,
    "ebcdic.xml": MALFORMED,
    "gzip_compressed.xml.gz": MALFORMED,
    "invalid_utf8.xml": MALFORMED,
    "overlong_utf8.xml": MALFORMED,
    "utf8_surrogate.xml": MALFORMED,
    "nul_byte.xml": MALFORMED,
    "control_character_reference.xml": MALFORMED,
    "character_reference_out_of_range.xml": MALFORMED,
    "empty.xml": MALFORMED,
    "whitespace_only.xml": MALFORMED,
    # sizes
    "deep_nesting.xml": LIMIT,
    "deep_nesting_in_operation.xml": LIMIT,
    "deep_nesting_past_parser_limit.xml": LIMIT,
    "giant_string_purpose.xml": LIMIT,
    "giant_code.xml": LIMIT,
    "giant_code_in_cdata.xml": LIMIT,
    "giant_header_value.xml": LIMIT,
    "long_header_namespace.xml": LIMIT,
    "long_operation_name.xml": LIMIT,
    "giant_number_pagesize.xml": MALFORMED,
    "negative_giant_number_pagesize.xml": MALFORMED,
    "giant_year_date.xml": MALFORMED,
    "five_digit_year_date.xml": MALFORMED,
    # namespaces and envelope shape
    "wrong_envelope_namespace.xml": VERSION,
    "soap12_envelope.xml": VERSION,
    "wrong_operation_namespace.xml": MALFORMED,
    "operation_without_namespace.xml": MALFORMED,
    "not_an_envelope.xml": MALFORMED,
    "header_after_body.xml": MALFORMED,
    "two_operations.xml": MALFORMED,
    "unclosed_tags.xml": MALFORMED,
    "duplicate_attribute.xml": MALFORMED,
    "cdata_unterminated.xml": MALFORMED,
    "cdata_hiding_markup.xml": MALFORMED,
    "unknown_element_in_operation.xml": MALFORMED,
    "unknown_attribute_on_operation.xml": MALFORMED,
}

# What an answer must never show: a trace, our code, libxml2's own words.
INTERNALS = (
    "Traceback",
    'File "',
    ".py",
    "lxml",
    "libxml",
    "XML_PARSE",
    "site-packages",
    "regwatch.",
    "Exception",
)
MOST_BYTES = 4_096  # a fault is a few hundred bytes; this leaves room
MOST_SECONDS = 2.0  # generous for a busy CI machine; the work is milliseconds


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    secret = tmp_path / "secret.txt"
    secret.write_text(f"{MARKER}\n")
    return secret


def corpus_request(name: str, secret_file: Path) -> bytes:
    data = (HOSTILE / name).read_bytes()
    return data.replace(b"SECRET_FILE_URL", secret_file.as_uri().encode())


def refused_code(response: Any) -> str:
    """The machine code of a fault: from its detail, or leading the faultstring
    for the envelope faults that SOAP 1.1 gives no detail."""
    found = fault(response)
    if found["code"] is not None:
        return found["code"]
    faultstring = found["faultstring"] or ""
    return faultstring.split(":", 1)[0]


def assert_refused_quietly(response: Any, seconds: float) -> None:
    assert len(response.content) < MOST_BYTES, response.content[:300]
    assert seconds < MOST_SECONDS
    assert MARKER not in response.text
    for internal in INTERNALS:
        assert internal not in response.text, internal


def timed_post(client: Any, body: bytes, **headers: str) -> tuple[Any, float]:
    started = time.perf_counter()
    response = post(client, body, **headers)
    return response, time.perf_counter() - started


# --- the corpus ------------------------------------------------------------------


def test_every_corpus_file_has_its_code_and_every_code_its_file():
    assert sorted(path.name for path in HOSTILE.iterdir()) == sorted(CORPUS)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_request_is_refused_with_its_code(client, services, secret_file, name):
    with structlog.testing.capture_logs(processors=[merge_contextvars]) as events:
        response, seconds = timed_post(client, corpus_request(name, secret_file))

    assert refused_code(response) == CORPUS[name]
    assert_refused_quietly(response, seconds)
    assert services.calls == []
    faults = [event for event in events if event["event"] == "soap_fault"]
    assert [event["code"] for event in faults] == [CORPUS[name]]
    assert all(MARKER not in repr(event) for event in events)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_request_without_credentials_never_reaches_the_service(
    client, services, secret_file, name
):
    response, seconds = timed_post(
        client, corpus_request(name, secret_file), Authorization=""
    )
    assert response.status_code in (401, 500)
    assert_refused_quietly(response, seconds)
    assert services.calls == []


# --- payloads built here ---------------------------------------------------------


def codes_call(elements: str) -> bytes:
    return envelope(f"<r:LoadClients>{elements}</r:LoadClients>")


def purpose_call(purpose: str) -> bytes:
    body = f"<r:GetPersonData><r:purpose>{purpose}</r:purpose></r:GetPersonData>"
    return envelope(body)


def page_size_call(size: str) -> bytes:
    return envelope(
        f"<r:GetAllClients><r:pageSize>{size}</r:pageSize></r:GetAllClients>"
    )


def attributes(count: int) -> str:
    return " ".join(f'r:a{serial}=""' for serial in range(count))


ELEMENTS = DEFAULT_LIMITS.elements
BUILT: dict[str, tuple[Callable[[], bytes], str]] = {
    "many_elements": (lambda: codes_call("<r:add/>" * ELEMENTS), LIMIT),
    "empty_elements_filling_the_body": (
        # 16 MiB of "<a/>": some 500 MB once parsed, so refused before parsing.
        lambda: b"<a>" + b"<a/>" * (4 * 1024 * 1024 - 4) + b"</a>",
        LIMIT,
    ),
    "many_attributes": (
        lambda: envelope(f"<r:GetAllClients {attributes(ELEMENTS + 1)}/>"),
        LIMIT,
    ),
    "megabyte_purpose": (lambda: purpose_call("x" * 1_000_000), LIMIT),
    "megabyte_code": (lambda: codes_call(f"<r:add>{'3' * 1_000_000}</r:add>"), LIMIT),
    "megabyte_of_digits_in_page_size": (lambda: page_size_call("9" * 1_000_000), LIMIT),
    "text_past_the_parser_limit": (lambda: purpose_call("x" * 11_000_000), LIMIT),
    "name_past_the_parser_limit": (lambda: envelope(f"<r:{'N' * 60_000}/>"), LIMIT),
    "megabyte_header_value": (
        lambda: envelope(
            "<r:GetAllClients/>",
            f'<x:Trace xmlns:x="urn:x">{"t" * 1_000_000}</x:Trace>',
        ),
        LIMIT,
    ),
    "megabyte_operation_namespace": (
        lambda: envelope(f'<o:GetAllClients xmlns:o="urn:{"n" * 1_000_000}"/>'),
        MALFORMED,
    ),
}


@pytest.mark.parametrize("name", sorted(BUILT))
def test_built_payload_is_refused_with_its_code(client, services, name):
    build, code = BUILT[name]
    response, seconds = timed_post(client, build())
    assert refused_code(response) == code
    assert_refused_quietly(response, seconds)
    assert services.calls == []


def test_a_body_full_of_elements_is_refused_without_being_parsed(client, monkeypatch):
    parsed: list[bytes] = []
    real_fromstring = soap_envelope.etree.fromstring

    def counting_fromstring(data: bytes, *args: Any) -> Any:
        parsed.append(data)
        return real_fromstring(data, *args)

    build, _code = BUILT["empty_elements_filling_the_body"]
    with monkeypatch.context() as patched:
        patched.setattr(soap_envelope.etree, "fromstring", counting_fromstring)
        response = post(client, build())
    assert parsed == []
    assert refused_code(response) == LIMIT


# --- where the limits lie ----------------------------------------------------------


def test_element_limit_leaves_room_for_the_most_codes_added_and_removed():
    limits = Limits.for_settings(Settings(max_codes_per_call=10))
    assert limits.elements == 2 * 10 + 1_000
    assert DEFAULT_LIMITS.elements == 2 * Settings().max_codes_per_call + 1_000


def test_element_limit_counts_every_element_of_the_envelope():
    limits = Limits(elements=50)
    # Envelope, Body and LoadClients are three of the fifty.
    read_operation_element(codes_call("<r:add/>" * 47), limits)
    with pytest.raises(LimitExceeded, match="more than 50 elements"):
        read_operation_element(codes_call("<r:add/>" * 48), limits)


def test_attribute_limit_counts_every_attribute():
    limits = Limits(elements=50)
    # The envelope's two namespace declarations are two of the fifty.
    read_operation_element(envelope(f"<r:GetAllClients {attributes(48)}/>"), limits)
    with pytest.raises(LimitExceeded, match="more than 50 attributes"):
        read_operation_element(envelope(f"<r:GetAllClients {attributes(49)}/>"), limits)


def test_nesting_is_refused_one_level_past_the_limit():
    def nested(depth: int) -> bytes:
        return b"<a>" * depth + b"</a>" * depth

    parse_untrusted(nested(32))
    with pytest.raises(LimitExceeded, match="more than 32 deep"):
        parse_untrusted(nested(33))


def test_value_too_long_for_the_contract_is_malformed_and_far_too_long_a_limit():
    long_purpose = read_operation_element(purpose_call("x" * DEFAULT_LIMITS.text))
    with pytest.raises(MalformedRequest) as refused:
        validate(long_purpose)
    assert refused.value.code == MALFORMED
    far_too_long = read_operation_element(purpose_call("x" * (DEFAULT_LIMITS.text + 1)))
    with pytest.raises(LimitExceeded):
        validate(far_too_long)


def test_a_contract_fault_quotes_a_long_value_only_in_part():
    date_ = "2" * 5_000 + "-01-01"
    body = (
        f"<r:GetClientsDataChanges><r:date>{date_}</r:date></r:GetClientsDataChanges>"
    )
    with pytest.raises(MalformedRequest) as refused:
        validate(read_operation_element(envelope(body)))
    assert refused.value.code == MALFORMED
    assert "2" * 60 + "..." in refused.value.message
    assert "2" * 61 not in refused.value.message


# --- odd but harmless: read, not crashed -------------------------------------------


def test_page_size_with_thousands_of_leading_zeros_is_read_as_its_value(
    client, services
):
    response = post(client, page_size_call("0" * 5_000 + "7"))
    assert response.status_code == 200, response.text
    assert services.calls[0][0] == "list_clients"
    assert services.calls[0][2]["page_size"] == 7


@pytest.mark.parametrize(
    "content_length", ["9" * 5_000, "99999999999999999999", "0" * 30 + "20000000"]
)
def test_a_content_length_too_big_to_convert_is_too_large(
    make_client, services, content_length
):
    client = make_client(max_body_bytes=10_000)
    response = post(client, page_size_call("10"), Content_Length=content_length)
    assert refused_code(response) == "REQUEST_TOO_LARGE"
    assert services.calls == []


@pytest.mark.parametrize(
    ("header", "code"),
    [("SOAPAction", "OPERATION_MISMATCH"), ("Content-Type", MALFORMED)],
)
def test_a_megabyte_header_is_not_quoted_back(client, services, header, code):
    response, seconds = timed_post(
        client, page_size_call("10"), **{header: "x" * 1_000_000}
    )
    assert refused_code(response) == code
    assert_refused_quietly(response, seconds)
    assert services.calls == []


def test_the_new_codes_are_documented_for_clients_and_operators():
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    faults = readme.split("## Faults", 1)[1]
    xsd = xsd_bytes().decode()
    for code in (FORBIDDEN, LIMIT):
        assert f"| `{code}` |" in faults
        assert code in xsd


# --- nothing is ever fetched, even past the byte scan -------------------------------


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that records every path asked of it."""
    asked: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(MARKER.encode())

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,))
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def reaching_out(url: str, secret: str) -> dict[str, bytes]:
    """Requests that would read ``secret`` or ask ``url`` if anything resolved
    them; where a value would be quoted back, that is where the entity goes."""
    size = "<r:GetAllClients><r:pageSize>&x;</r:pageSize></r:GetAllClients>"
    xsi = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    xi = 'xmlns:xi="http://www.w3.org/2001/XInclude"'
    return {
        "file entity": envelope(
            size, prolog=f'<!DOCTYPE e [<!ENTITY x SYSTEM "{secret}">]>'
        ),
        "network entity": envelope(
            size, prolog=f'<!DOCTYPE e [<!ENTITY x SYSTEM "{url}/entity">]>'
        ),
        "external DTD": envelope(size, prolog=f'<!DOCTYPE e SYSTEM "{url}/dtd">'),
        "parameter entity": envelope(
            size,
            prolog=f'<!DOCTYPE e [<!ENTITY % p SYSTEM "{url}/parameter"> %p;]>',
        ),
        "XInclude": envelope(
            f"<r:GetAllClients {xi}><r:pageSize>"
            f'<xi:include href="{secret}" parse="text"/></r:pageSize>'
            "</r:GetAllClients>"
        ),
        "stylesheet": envelope(
            "<r:GetAllClients/>",
            prolog=f'<?xml-stylesheet type="text/xsl" href="{url}/stylesheet"?>',
        ),
        "schema location": envelope(
            f'<r:GetAllClients {xsi} xsi:schemaLocation="urn:regwatch:monitoring:v1 '
            f'{url}/schema"/>'
        ),
    }


def test_no_file_or_address_is_read_even_with_the_byte_scan_off(
    client, listener, secret_file, monkeypatch
):
    # The scan of the bytes is the first wall; the parser's settings are the
    # second, and must hold alone.
    monkeypatch.setattr(soap_envelope, "_FORBIDDEN_MARKUP", ())
    url, asked = listener
    for name, body in reaching_out(url, secret_file.as_uri()).items():
        response = post(client, body)
        assert MARKER not in response.text, name
        assert asked == [], name


def test_a_doctype_is_refused_by_the_parser_when_the_scan_misses_it(
    client, secret_file, monkeypatch
):
    monkeypatch.setattr(soap_envelope, "_FORBIDDEN_MARKUP", ())
    response = post(client, corpus_request("external_entity_file.xml", secret_file))
    assert refused_code(response) == FORBIDDEN
    assert MARKER not in response.text
