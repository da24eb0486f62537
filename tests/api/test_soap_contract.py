"""The contract files, and every answer the writers produce, held against the XSD."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from lxml import etree
from sqlalchemy.exc import OperationalError

from regwatch.api.soap import responses
from regwatch.api.soap.contract import NS, wsdl_bytes, xsd_bytes
from regwatch.api.soap.envelope import response_envelope
from regwatch.api.soap.faults import MustUnderstand, fault_for
from regwatch.errors import DayNotPublished, InternalError, NotAuthenticated
from regwatch.kinds import Kind
from regwatch.monitoring.models import (
    CodeResult,
    ListPage,
    Outcome,
    PersonChanges,
    PersonExtract,
)

from .soap_samples import (
    CODE,
    OTHER_CODE,
    assert_valid,
    body_element,
    changes_page,
    full_extract,
    list_entry,
    list_page,
    load_result,
    not_returned,
    person_changes,
    texts,
)

WSDL = "{http://schemas.xmlsoap.org/wsdl/}"
SOAP_BINDING = "{http://schemas.xmlsoap.org/wsdl/soap/}"
OPERATIONS = {"LoadClients", "GetAllClients", "GetClientsDataChanges", "GetPersonData"}


def written(xml: str) -> etree._Element:
    """A writer's output as it travels: inside an envelope, valid, parsed back."""
    element = body_element(response_envelope(xml))
    assert_valid(element)
    return element


def test_wsdl_declares_the_four_operations_each_with_the_service_fault():
    wsdl = etree.fromstring(wsdl_bytes("https://example.test/soap"))
    (port_type,) = wsdl.iter(f"{WSDL}portType")
    operations = port_type.findall(f"{WSDL}operation")
    assert {op.get("name") for op in operations} == OPERATIONS
    for operation in operations:
        assert operation.find(f"{WSDL}fault").get("message") == "tns:ServiceFault"


def test_wsdl_messages_are_wrapped_with_one_part_named_parameters():
    wsdl = etree.fromstring(wsdl_bytes("https://example.test/soap"))
    for message in wsdl.iter(f"{WSDL}message"):
        (part,) = message.findall(f"{WSDL}part")
        if message.get("name") != "ServiceFault":
            assert part.get("name") == "parameters"
            assert part.get("element") in {
                f"tns:{name}{suffix}"
                for name in OPERATIONS
                for suffix in ("", "Response")
            }


def test_wsdl_names_the_given_address_for_service_and_schema():
    wsdl = etree.fromstring(wsdl_bytes("https://regwatch.example.test/soap"))
    (address,) = wsdl.iter(f"{SOAP_BINDING}address")
    assert address.get("location") == "https://regwatch.example.test/soap"
    (schema_import,) = wsdl.iter("{http://www.w3.org/2001/XMLSchema}import")
    assert (
        schema_import.get("schemaLocation") == "https://regwatch.example.test/soap?xsd"
    )
    assert schema_import.get("namespace") == NS


def test_xsd_is_qualified_and_types_open_value_lists_as_plain_strings():
    xsd = etree.fromstring(xsd_bytes())
    assert xsd.get("targetNamespace") == NS
    assert xsd.get("elementFormDefault") == "qualified"
    assert not list(xsd.iter("{http://www.w3.org/2001/XMLSchema}enumeration"))


def test_load_clients_answer_with_no_codes_still_carries_all_counts():
    element = written(responses.load_clients(load_result()))
    assert texts(element, "result") == []
    assert texts(element, "counts/added") == ["0"]
    assert texts(element, "counts/notFound") == ["0"]


def test_load_clients_answer_keeps_order_current_codes_and_counts():
    result = load_result(
        CodeResult(CODE, Outcome.ADDED, CODE),
        CodeResult("12345", Outcome.INVALID_CODE),
        CodeResult(OTHER_CODE, Outcome.ALREADY_ON_LIST, "50001010006"),
    )
    element = written(responses.load_clients(result))
    assert texts(element, "result/personalCode") == [CODE, "12345", OTHER_CODE]
    assert texts(element, "result/currentPersonalCode") == [CODE, "50001010006"]
    assert texts(element, "result/outcome") == [
        "ADDED",
        "INVALID_CODE",
        "ALREADY_ON_LIST",
    ]
    assert texts(element, "counts/added") == ["1"]
    assert texts(element, "counts/invalidCode") == ["1"]


def test_code_as_sent_is_escaped_in_the_answer():
    result = load_result(CodeResult("<a&b>", Outcome.INVALID_CODE))
    element = written(responses.load_clients(result))
    assert texts(element, "result/personalCode") == ["<a&b>"]


def test_get_all_clients_answers_empty_one_and_several_entries():
    assert texts(written(responses.get_all_clients(list_page())), "total") == ["0"]
    one = written(responses.get_all_clients(list_page(list_entry())))
    assert texts(one, "client/personalCode") == [CODE]
    assert texts(one, "client/addedAt") == ["2026-03-01T12:30:00+02:00"]
    several = ListPage([list_entry(), list_entry(OTHER_CODE)], 5, "next-token")
    element = written(responses.get_all_clients(several))
    assert texts(element, "total") == ["5"]
    assert texts(element, "nextPageToken") == ["next-token"]


def test_get_clients_data_changes_answers_empty_one_and_code_change():
    empty = written(responses.get_clients_data_changes(changes_page()))
    assert texts(empty, "date") == ["2026-03-29"]
    assert texts(empty, "total") == ["0"]
    changed_code = PersonChanges(
        CODE, OTHER_CODE, CODE, [Kind.PERSONAL_CODE, Kind.NAME]
    )
    element = written(
        responses.get_clients_data_changes(
            changes_page(changed_code, person_changes(OTHER_CODE, Kind.DEATH))
        )
    )
    assert texts(element, "person/previousPersonalCode") == [CODE]
    assert texts(element, "person/changes") == ["PERSONAL_CODE", "NAME", "DEATH"]


def test_get_person_data_answers_empty_returned_and_not_returned():
    assert texts(written(responses.get_person_data([])), "person") == []
    element = written(responses.get_person_data([full_extract(), not_returned()]))
    assert texts(element, "person/returned") == ["true", "false"]
    assert texts(element, "person/reason") == ["NOT_ON_LIST"]
    assert texts(element, "person/name/surname") == ["Kazlauskas"]
    assert texts(element, "person/identityDocuments/document/number") == [
        "12345678",
        "87654321",
    ]
    assert texts(element, "person/declaredResidence/address/flat") == []
    assert texts(element, "person/childrenCount") == ["2"]


def test_groups_left_out_when_absent_or_none_and_unknown_keys_ignored():
    extract = PersonExtract(
        personal_code=CODE,
        current_code=CODE,
        groups={
            "death": None,
            "identityDocuments": [],
            "maritalStatus": {"status": "SINGLE", "since": None, "later": "x"},
            "declaredResidence": {"status": "ABROAD", "address": None, "country": "NO"},
        },
    )
    element = written(responses.get_person_data([extract]))
    assert texts(element, "person/death") == []
    (documents,) = element.iter(f"{{{NS}}}identityDocuments")
    assert (documents.get("count"), len(documents)) == ("0", 0)
    assert texts(element, "person/maritalStatus/status") == ["SINGLE"]
    assert texts(element, "person/declaredResidence/country") == ["NO"]


def test_fault_detail_is_a_qualified_service_fault_with_code_and_message():
    fault = fault_for(
        DayNotPublished("2026-03-30 is not published yet"), request_id="r"
    )
    element = body_element(fault.body)
    assert element.findtext("faultcode") == "soap:Client"
    (detail,) = element.find("detail")
    assert_valid(detail)
    assert detail.findtext(f"{{{NS}}}code") == "DAY_NOT_PUBLISHED"
    assert fault.status == 500


def test_server_side_errors_are_soap_server_faults():
    fault = fault_for(InternalError("database gone"), request_id="r")
    assert body_element(fault.body).findtext("faultcode") == "soap:Server"


def test_unexpected_exception_becomes_internal_error_without_its_text():
    fault = fault_for(KeyError("secret internals"), request_id="req-1")
    element = body_element(fault.body)
    assert element.findtext("faultcode") == "soap:Server"
    assert "internals" not in fault.body.decode()
    assert "req-1" in element.findtext("faultstring")


@pytest.mark.parametrize(
    "driver_error",
    [
        sqlite3.OperationalError("database is locked"),
        psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"),
        psycopg.errors.DeadlockDetected("deadlock detected"),
    ],
)
def test_a_database_too_busy_to_take_the_call_is_a_retryable_busy_fault(
    driver_error,
):
    error = OperationalError(
        "UPDATE customers SET list_version=%(v)s", {"v": "39001010001"}, driver_error
    )
    fault = fault_for(error, request_id="req-7")
    element = body_element(fault.body)
    assert element.findtext("faultcode") == "soap:Server"
    assert element.findtext(f".//{{{NS}}}code") == "SERVICE_BUSY"
    assert "retry" in element.findtext("faultstring")
    assert fault.headers == {"Retry-After": "10"}
    # Neither the statement nor its parameters reach the caller.
    assert "UPDATE" not in fault.body.decode()
    assert "39001010001" not in fault.body.decode()


def test_any_other_database_failure_stays_an_internal_error():
    error = OperationalError("SELECT 1", {}, sqlite3.OperationalError("disk I/O error"))
    fault = fault_for(error, request_id="req-8")
    assert body_element(fault.body).findtext(f".//{{{NS}}}code") == "INTERNAL_ERROR"
    assert "disk" not in fault.body.decode()


def test_not_authenticated_is_401_with_a_basic_challenge():
    fault = fault_for(NotAuthenticated("unknown customer"), request_id="r")
    assert fault.status == 401
    assert fault.headers == {"WWW-Authenticate": 'Basic realm="regwatch"'}


def test_must_understand_fault_has_its_soap_code_and_no_detail():
    fault = fault_for(MustUnderstand("header x"), request_id="r")
    element = body_element(fault.body)
    assert element.findtext("faultcode") == "soap:MustUnderstand"
    assert element.find("detail") is None
    assert element.findtext("faultstring").startswith("MUST_UNDERSTAND: ")
