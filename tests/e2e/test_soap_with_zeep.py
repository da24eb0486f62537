"""Black box: a real server, and zeep given nothing but the WSDL's address."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import requests
import zeep
from zeep.exceptions import Fault
from zeep.transports import Transport

from conftest import START
from factories import add_person, at, event, move_clock, new_code, record
from regwatch.api.app import create_app
from regwatch.api.server import run_in_thread
from regwatch.kinds import ALL_MASK, Kind, to_mask
from regwatch.monitoring.customers import add_customer
from regwatch.monitoring.days import publish_pending
from regwatch.register.events import EventType

NS = "urn:regwatch:monitoring:v1"


def client_for(base_url: str, customer_id: str, secret: str) -> zeep.Client:
    session = requests.Session()
    session.auth = (customer_id, secret)
    return zeep.Client(f"{base_url}/soap?wsdl", transport=Transport(session=session))


def fault_code(fault: Fault) -> str:
    return fault.detail.find(f"{{{NS}}}ServiceFault/{{{NS}}}code").text


@pytest.fixture
def served(db):
    with run_in_thread(create_app(db)) as base_url:
        yield base_url


def test_all_four_operations_through_zeep(db, served):
    bank, bank_secret = add_customer(db, "Bank", kinds=ALL_MASK)
    telecom, telecom_secret = add_customer(db, "Telecom", kinds=to_mask([Kind.NAME]))
    renamed, recoded, dying, unlisted = (add_person(db) for _ in range(4))
    client = client_for(served, bank.customer_id, bank_secret)
    listed = [renamed.personal_code, recoded.personal_code, dying.personal_code]

    # LoadClients: one outcome per code, in order; a repeat gives the first answer.
    answer = client.service.LoadClients(
        requestId="first", add=[*listed, "not-a-code", new_code()]
    )
    assert [r.outcome for r in answer.result] == [
        "ADDED",
        "ADDED",
        "ADDED",
        "INVALID_CODE",
        "NOT_FOUND",
    ]
    assert (answer.counts.added, answer.counts.invalidCode) == (3, 1)
    again = client.service.LoadClients(
        requestId="first", add=[*listed, "not-a-code", answer.result[4].personalCode]
    )
    assert [r.outcome for r in again.result] == [r.outcome for r in answer.result]

    # GetAllClients
    page = client.service.GetAllClients(pageSize=2)
    assert page.total == 3 and len(page.client) == 2 and page.nextPageToken
    rest = client.service.GetAllClients(pageSize=2, pageToken=page.nextPageToken)
    walked = [c.personalCode for c in page.client + rest.client]
    assert walked == listed and rest.nextPageToken is None
    assert {c.status for c in page.client + rest.client} == {"ACTIVE"}

    # The register changes; the day ends and is published.
    replacement = new_code()
    record(
        db,
        event(
            EventType.NAME_CHANGE,
            at(db, 1),
            renamed.personal_code,
            surname="Naujokas",
        ),
        event(
            EventType.CODE_REPLACED,
            at(db, 2),
            recoded.personal_code,
            newCode=replacement,
        ),
        event(
            EventType.DEATH,
            at(db, 3),
            dying.personal_code,
            dateOfDeath="2026-11-01",
        ),
        received_at=at(db, 3),
    )
    move_clock(db, START + timedelta(days=1))
    publish_pending(db)

    # GetClientsDataChanges
    changes = client.service.GetClientsDataChanges(date=START.date())
    assert changes.total == 3 and changes.nextPageToken is None
    by_code = {p.personalCode: p for p in changes.person}
    assert by_code[renamed.personal_code].changes == ["NAME"]
    assert by_code[recoded.personal_code].changes == ["PERSONAL_CODE"]
    assert by_code[recoded.personal_code].currentPersonalCode == replacement
    assert by_code[recoded.personal_code].previousPersonalCode == recoded.personal_code
    assert by_code[dying.personal_code].changes == ["DEATH"]
    statuses = client.service.GetAllClients().client
    assert [c.status for c in statuses] == ["ACTIVE", "ACTIVE", "DECEASED"]

    # GetPersonData: by the old code too; the unlisted person is not returned.
    extract = client.service.GetPersonData(
        personalCodes=[
            recoded.personal_code,
            renamed.personal_code,
            unlisted.personal_code,
        ],
        purpose="black-box test",
    )
    first, second, third = extract  # zeep unwraps a one-part response
    assert (first.returned, first.currentPersonalCode) == (True, replacement)
    assert second.name.surname == "Naujokas"
    assert (third.returned, third.reason) == (False, "NOT_ON_LIST")

    # The telecom sees none of it: its list is empty, its answer is empty.
    other = client_for(served, telecom.customer_id, telecom_secret)
    empty = other.service.GetClientsDataChanges(date=START.date())
    assert (empty.total, empty.person) == (0, [])


def test_faults_carry_a_machine_code_zeep_can_read(db, served):
    bank, secret = add_customer(db, "Bank", kinds=ALL_MASK)
    client = client_for(served, bank.customer_id, secret)

    with pytest.raises(Fault) as unpublished:
        client.service.GetClientsDataChanges(date=START.date())
    assert fault_code(unpublished.value) == "DAY_NOT_PUBLISHED"

    with pytest.raises(Fault) as unknown:
        client.service.GetClientsDataChanges(date=START.date() - timedelta(days=3))
    assert fault_code(unknown.value) == "UNKNOWN_DAY"

    with pytest.raises(Fault) as old:
        client.service.GetClientsDataChanges(date=date(2020, 1, 1))
    assert fault_code(old.value) == "DAY_OUTSIDE_RETENTION"

    intruder = client_for(served, bank.customer_id, "wrong-secret-000")
    with pytest.raises(Fault) as refused:
        intruder.service.GetAllClients()
    assert fault_code(refused.value) == "NOT_AUTHENTICATED"
