"""The SOAP endpoint over HTTP: contract, round trips, faults, logs."""

from __future__ import annotations

from datetime import date

import pytest
import structlog
from structlog.contextvars import merge_contextvars

from regwatch.api.soap.contract import xsd_bytes
from regwatch.errors import DayNotPublished, TooManyCodes
from regwatch.kinds import Kind
from regwatch.monitoring.models import CodeResult, Outcome

from .soap_samples import (
    CODE,
    OTHER_CODE,
    SECRET,
    answer,
    basic,
    changes_page,
    envelope,
    fault,
    full_extract,
    list_entry,
    list_page,
    load_result,
    not_returned,
    person_changes,
    post,
    texts,
)

LOAD = f"<r:LoadClients><r:add>{CODE}</r:add></r:LoadClients>"
PASSWD_MARKER = "root:"


def test_wsdl_names_the_address_the_caller_used(client):
    response = client.get("/soap?wsdl")
    assert response.status_code == 200
    assert 'location="http://testserver/soap"' in response.text
    assert 'schemaLocation="http://testserver/soap?xsd"' in response.text


def test_wsdl_names_the_public_url_when_one_is_configured(make_client):
    client = make_client(public_url="https://regwatch.example.test/")
    response = client.get("/soap?WSDL")
    assert 'location="https://regwatch.example.test/soap"' in response.text


def test_xsd_is_served_where_the_wsdl_imports_it(client):
    response = client.get("/soap?xsd")
    assert response.status_code == 200
    assert response.content == xsd_bytes()


def test_health_answers_ok(client):
    assert client.get("/health").json() == {"status": "ok"}


def test_load_clients_round_trip(client, services):
    services.load_result = load_result(
        CodeResult(CODE, Outcome.ADDED, CODE), CodeResult(OTHER_CODE, Outcome.REMOVED)
    )
    body = (
        "<r:LoadClients><r:requestId>req-7</r:requestId>"
        f"<r:add> {CODE} </r:add><r:add>12345</r:add>"
        f"<r:remove>{OTHER_CODE}</r:remove></r:LoadClients>"
    )
    element = answer(post(client, envelope(body)))
    assert services.calls == [
        (
            "load_clients",
            (services.calls[0][1][0],),
            {
                "add": [f" {CODE} ", "12345"],
                "remove": [OTHER_CODE],
                "request_id": "req-7",
            },
        )
    ]
    assert texts(element, "result/outcome") == ["ADDED", "REMOVED"]
    assert texts(element, "counts/removed") == ["1"]


def test_get_all_clients_round_trip_with_one_entry(client, services):
    services.list_page = list_page(list_entry())
    body = (
        "<r:GetAllClients><r:pageSize>50</r:pageSize><r:pageToken/></r:GetAllClients>"
    )
    element = answer(post(client, envelope(body)))
    ((_, _, kwargs),) = services.calls
    assert kwargs == {"page_size": 50, "page_token": None}
    assert texts(element, "total") == ["1"]
    assert texts(element, "client/currentPersonalCode") == [CODE]


def test_get_clients_data_changes_round_trip_ignores_zone_suffix(client, services):
    services.changes_page = changes_page(person_changes(CODE, Kind.DEATH))
    body = (
        "<r:GetClientsDataChanges><r:date>2026-03-29+02:00</r:date>"
        "<r:pageToken>abc</r:pageToken></r:GetClientsDataChanges>"
    )
    element = answer(post(client, envelope(body)))
    ((_, args, kwargs),) = services.calls
    assert args[1:] == (date(2026, 3, 29),)
    assert kwargs == {"page_size": None, "page_token": "abc"}
    assert texts(element, "person/changes") == ["DEATH"]


def test_get_person_data_round_trip(client, services):
    services.extracts = [full_extract(), not_returned()]
    body = (
        "<r:GetPersonData><r:purpose>contract renewal</r:purpose>"
        f"<r:personalCodes>{CODE}</r:personalCodes>"
        f"<r:personalCodes>{OTHER_CODE}</r:personalCodes></r:GetPersonData>"
    )
    element = answer(post(client, envelope(body)))
    ((_, args, kwargs),) = services.calls
    assert args[1:] == ([CODE, OTHER_CODE],)
    assert kwargs == {"purpose": "contract renewal", "request_id": None}
    assert texts(element, "person/returned") == ["true", "false"]


def test_empty_answers_are_valid_and_keep_their_totals(client):
    assert texts(answer(post(client, envelope("<r:GetAllClients/>"))), "total") == ["0"]
    element = answer(post(client, envelope("<r:LoadClients/>")))
    assert texts(element, "counts/added") == ["0"]
    purpose_only = "<r:GetPersonData><r:purpose>x</r:purpose></r:GetPersonData>"
    assert len(answer(post(client, envelope(purpose_only)))) == 0


def test_windows_1257_request_is_decoded_from_its_prolog(client, services):
    purpose = "Sutarties pildymas, Šiaulių skyrius"
    body = f"<r:GetPersonData><r:purpose>{purpose}</r:purpose></r:GetPersonData>"
    prolog = '<?xml version="1.0" encoding="windows-1257"?>'
    data = envelope(body, prolog=prolog).decode().encode("cp1257")
    answer(post(client, data, Content_Type="text/xml; charset=windows-1257"))
    ((_, _, kwargs),) = services.calls
    assert kwargs["purpose"] == purpose


def test_matching_soap_action_is_accepted(client):
    action = '"urn:regwatch:monitoring:v1/LoadClients"'
    answer(post(client, envelope(LOAD), SOAPAction=action))


def test_soap_action_naming_another_operation_is_a_fault(client, services):
    action = '"urn:regwatch:monitoring:v1/GetPersonData"'
    response = post(client, envelope(LOAD), SOAPAction=action)
    assert fault(response)["code"] == "OPERATION_MISMATCH"
    assert services.calls == []


def test_malformed_xml_is_a_client_fault(client):
    found = fault(post(client, b"<soap:Envelope"))
    assert found["faultcode"] == "soap:Client"
    assert found["code"] == "MALFORMED_REQUEST"


def test_schema_invalid_body_is_a_fault_naming_the_problem(client, services):
    body = "<r:GetAllClients><r:pageSize>many</r:pageSize></r:GetAllClients>"
    found = fault(post(client, envelope(body)))
    assert found["code"] == "MALFORMED_REQUEST"
    assert "pageSize" in found["faultstring"]
    assert services.calls == []


def test_code_longer_than_the_schema_allows_is_a_fault(client):
    body = f"<r:LoadClients><r:add>{'1' * 65}</r:add></r:LoadClients>"
    assert fault(post(client, envelope(body)))["code"] == "MALFORMED_REQUEST"


def test_unknown_operation_is_a_fault(client):
    found = fault(post(client, envelope("<r:DeleteEverything/>")))
    assert found["code"] == "MALFORMED_REQUEST"
    assert "unknown operation" in found["faultstring"]


def test_wrong_content_type_is_a_fault(client):
    response = post(client, envelope(LOAD), Content_Type="application/soap+xml")
    assert fault(response)["code"] == "MALFORMED_REQUEST"


def test_missing_credentials_are_a_401_fault_with_a_challenge(client, services):
    response = client.post(
        "/soap",
        content=envelope(LOAD),
        headers={"Content-Type": "text/xml", "Authorization": ""},
    )
    assert fault(response, 401)["code"] == "NOT_AUTHENTICATED"
    assert response.headers["www-authenticate"] == 'Basic realm="regwatch"'
    assert services.calls == []


@pytest.mark.parametrize(
    "authorization",
    [basic(secret="wrong"), "Basic !!!not-base64", "Bearer abc", basic("", SECRET)],
)
def test_wrong_credentials_are_a_401_fault(client, authorization):
    response = post(client, envelope(LOAD), Authorization=authorization)
    assert fault(response, 401)["code"] == "NOT_AUTHENTICATED"


def test_body_declared_too_large_is_refused_before_reading(make_client, services):
    client = make_client(max_body_bytes=100)
    assert fault(post(client, envelope(LOAD)))["code"] == "REQUEST_TOO_LARGE"
    assert services.calls == []


def test_streamed_body_is_cut_off_at_the_limit(make_client):
    client = make_client(max_body_bytes=1000)

    def chunks():
        yield envelope(LOAD)[:-30]
        for _ in range(100):
            yield b"<!-- padding -->" * 10

    response = client.post(
        "/soap", content=chunks(), headers={"Content-Type": "text/xml"}
    )
    assert "content-length" not in response.request.headers
    assert fault(response)["code"] == "REQUEST_TOO_LARGE"


@pytest.mark.parametrize(
    "payload",
    [
        '<!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
        '<!DOCTYPE e [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>',
        '<!DOCTYPE e [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>',
    ],
    ids=["external entity", "parameter entity", "entity expansion"],
)
def test_doctype_payloads_are_refused_and_never_echo_a_file(client, services, payload):
    body = "<r:LoadClients><r:add>&x;</r:add></r:LoadClients>"
    response = post(client, envelope(body, prolog=payload))
    assert fault(response)["code"] == "FORBIDDEN_XML"
    assert PASSWD_MARKER not in response.text
    assert services.calls == []


def test_entity_reference_without_doctype_never_echoes_a_file(client):
    body = "<r:GetPersonData><r:purpose>&xxe;</r:purpose></r:GetPersonData>"
    response = post(client, envelope(body))
    assert fault(response)["code"] == "MALFORMED_REQUEST"
    assert PASSWD_MARKER not in response.text


def test_header_we_must_understand_is_a_must_understand_fault(client, services):
    header = '<w:Action xmlns:w="urn:ws-addressing" soap:mustUnderstand="1"/>'
    response = post(client, envelope(LOAD, header))
    found = fault(response)
    assert found["faultcode"] == "soap:MustUnderstand"
    assert found["code"] is None  # SOAP 1.1: no detail for header faults
    assert services.calls == []


def test_optional_headers_are_ignored(client):
    header = '<w:To xmlns:w="urn:ws-addressing" soap:mustUnderstand="0">x</w:To>'
    answer(post(client, envelope(LOAD, header)))


@pytest.mark.parametrize(
    ("error", "faultcode", "code"),
    [
        (
            DayNotPublished("2026-03-30 is not published"),
            "soap:Client",
            "DAY_NOT_PUBLISHED",
        ),
        (
            TooManyCodes("at most 100000 codes per call"),
            "soap:Client",
            "TOO_MANY_CODES",
        ),
        (
            RuntimeError("cannot reach postgres://u:pw@db"),
            "soap:Server",
            "INTERNAL_ERROR",
        ),
    ],
)
def test_service_errors_become_faults_with_their_code(
    client, services, error, faultcode, code
):
    services.error = error
    found = fault(post(client, envelope(LOAD)))
    assert (found["faultcode"], found["code"]) == (faultcode, code)
    assert "pw@db" not in found["faultstring"]


def test_request_id_is_echoed_when_sane_and_replaced_when_not(client):
    sane = post(client, envelope(LOAD), X_Request_Id="abc-123")
    assert sane.headers["x-request-id"] == "abc-123"
    odd = post(client, envelope(LOAD), X_Request_Id="a b\tc" + "x" * 200)
    assert len(odd.headers["x-request-id"]) == 32


def test_one_access_event_per_request_with_ids_and_no_personal_codes(client):
    with structlog.testing.capture_logs(processors=[merge_contextvars]) as events:
        post(client, envelope(LOAD), X_Request_Id="trace-1")
    (access,) = [event for event in events if event["event"] == "http_request"]
    assert access["method"] == "POST"
    assert access["path"] == "/soap"
    assert access["operation"] == "LoadClients"
    assert access["status"] == 200
    assert access["duration_ms"] >= 0
    assert access["request_id"] == "trace-1"
    assert access["customer_id"] == "bank"
    for event in events:
        assert CODE not in repr(event)
        assert SECRET not in repr(event)


def test_faults_are_logged_by_code_without_the_message(client, services):
    services.error = DayNotPublished(f"person {CODE} is not published")
    with structlog.testing.capture_logs(processors=[merge_contextvars]) as events:
        post(client, envelope(LOAD))
    info = [event for event in events if event["log_level"] == "info"]
    assert [event["event"] for event in info] == ["soap_fault", "http_request"]
    assert info[0]["code"] == "DAY_NOT_PUBLISHED"
    assert CODE not in repr(info)
