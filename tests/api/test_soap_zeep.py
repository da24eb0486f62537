"""The contract as a real SOAP client sees it: zeep over HTTP, from the WSDL."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
import requests
import zeep
from lxml import etree
from zeep.exceptions import Fault
from zeep.transports import Transport

from regwatch.api.server import run_in_thread
from regwatch.errors import DayNotPublished
from regwatch.kinds import Kind
from regwatch.monitoring.models import CodeResult, Outcome

from .soap_samples import (
    CODE,
    CUSTOMER_ID,
    OTHER_CODE,
    SECRET,
    changes_page,
    full_extract,
    list_entry,
    list_page,
    load_result,
    not_returned,
    person_changes,
)


@pytest.fixture
def base_url(app):
    with run_in_thread(app) as url:
        yield url


@pytest.fixture
def soap(base_url):
    session = requests.Session()
    session.auth = (CUSTOMER_ID, SECRET)
    with session:
        client = zeep.Client(
            f"{base_url}/soap?wsdl", transport=Transport(session=session)
        )
        yield client.service


def test_zeep_reads_the_address_from_the_served_wsdl(base_url):
    client = zeep.Client(f"{base_url}/soap?wsdl")
    assert client.service._binding_options["address"] == f"{base_url}/soap"


def test_zeep_load_clients_lists_and_counts(soap, services):
    assert soap.LoadClients(add=[]).result == []
    services.load_result = load_result(CodeResult(CODE, Outcome.ADDED, CODE))
    one = soap.LoadClients(requestId="r-1", add=[CODE])
    assert [(r.personalCode, r.outcome) for r in one.result] == [(CODE, "ADDED")]
    assert one.counts.added == 1
    assert services.calls[-1][2] == {"add": [CODE], "remove": [], "request_id": "r-1"}


def test_zeep_get_all_clients_empty_and_one(soap, services):
    empty = soap.GetAllClients()
    assert (empty.total, empty.client, empty.nextPageToken) == (0, [], None)
    services.list_page = list_page(list_entry())
    (entry,) = soap.GetAllClients(pageSize=10).client
    assert entry.currentPersonalCode == CODE
    assert entry.addedAt.utcoffset() is not None


def test_zeep_get_clients_data_changes_empty_and_one(soap, services):
    empty = soap.GetClientsDataChanges(date=date(2026, 3, 29))
    assert (empty.date, empty.total, empty.person) == (date(2026, 3, 29), 0, [])
    services.changes_page = changes_page(person_changes(CODE, Kind.DEATH))
    (person,) = soap.GetClientsDataChanges(date=date(2026, 3, 29)).person
    assert person.changes == ["DEATH"]


def test_zeep_get_person_data_empty_one_and_two(soap, services):
    assert soap.GetPersonData(purpose="check", personalCodes=[]) == []
    services.extracts = [full_extract()]
    (person,) = soap.GetPersonData(purpose="check", personalCodes=[CODE])
    assert person.returned is True
    assert person.name.surname == "Kazlauskas"
    assert [d.number for d in person.identityDocuments.document] == [
        "12345678",
        "87654321",
    ]
    assert person.declaredResidence.address.postalCode == "LT-01103"
    services.extracts = [replace(full_extract(), groups={"identityDocuments": []})]
    (person,) = soap.GetPersonData(purpose="check", personalCodes=[CODE])
    assert person.identityDocuments.document == []
    assert person.death is None
    services.extracts = [full_extract(), not_returned()]
    two = soap.GetPersonData(purpose="check", personalCodes=[CODE, OTHER_CODE])
    assert [p.reason for p in two] == [None, "NOT_ON_LIST"]


def test_zeep_reads_the_typed_fault_detail(soap, services):
    services.error = DayNotPublished("2026-03-30 is not published yet")
    with pytest.raises(Fault) as raised:
        soap.GetClientsDataChanges(date=date(2026, 3, 30))
    assert raised.value.code == "soap:Client"
    assert raised.value.message == "2026-03-30 is not published yet"
    (detail,) = raised.value.detail
    assert detail.findtext("{urn:regwatch:monitoring:v1}code") == "DAY_NOT_PUBLISHED"


def test_zeep_parses_a_must_understand_fault_without_detail(soap):
    header = etree.Element("{urn:example:security}Token")
    header.set("{http://schemas.xmlsoap.org/soap/envelope/}mustUnderstand", "1")
    with pytest.raises(Fault) as raised:
        soap.GetAllClients(_soapheaders=[header])
    assert raised.value.code == "soap:MustUnderstand"
    assert raised.value.message.startswith("MUST_UNDERSTAND: ")
    assert raised.value.detail is None
