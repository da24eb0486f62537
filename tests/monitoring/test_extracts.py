"""GetPersonData: listed persons only, contract groups only, charged per day."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from factories import add_person, customer, new_code
from regwatch.billing.charges import totals
from regwatch.errors import MalformedRequest, RequestIdReused
from regwatch.kinds import Kind, to_mask
from regwatch.monitoring.extracts import person_data
from regwatch.monitoring.lists import load_clients
from regwatch.monitoring.models import NotReturned
from regwatch.store.tables import audit_records


def test_only_listed_persons_are_returned_with_only_the_contract_groups(db):
    telecom = customer(db, "Telecom", to_mask([Kind.NAME, Kind.DEATH]))
    listed, unlisted = add_person(db), add_person(db)
    load_clients(db, telecom, add=[listed.personal_code], remove=[], request_id=None)

    results = person_data(
        db,
        telecom,
        [listed.personal_code, unlisted.personal_code, new_code(), "bad"],
        purpose="contract renewal",
        request_id="x-1",
    )

    assert [r.reason for r in results] == [
        None,
        NotReturned.NOT_ON_LIST,
        NotReturned.NOT_FOUND,
        NotReturned.INVALID_CODE,
    ]
    returned = results[0]
    assert returned.groups == {"name": listed.groups["name"], "death": None}
    assert returned.current_code == listed.personal_code


def test_each_returned_person_is_charged_once_a_day_and_the_purpose_is_kept(db):
    bank = customer(db)
    person = add_person(db)
    load_clients(db, bank, add=[person.personal_code], remove=[], request_id=None)
    for _ in range(2):
        person_data(
            db, bank, [person.personal_code], purpose="KYC refresh", request_id=None
        )
    with db.read() as conn:
        (total,) = totals(conn, bank.customer_id)
        rows = conn.execute(
            select(audit_records).where(audit_records.c.operation == "GetPersonData")
        ).all()
    assert (total.item.value, total.persons, total.cents) == ("EXTRACT", 1, 2)
    assert [row.purpose for row in rows] == ["KYC refresh", "KYC refresh"]
    assert json.loads(rows[0].detail)["named"] == [[person.person_id, bank.kinds]]


def test_an_extract_without_a_purpose_is_refused(db):
    bank = customer(db)
    with pytest.raises(MalformedRequest, match="purpose"):
        person_data(db, bank, ["33309240064"], purpose="  ", request_id=None)


def test_a_request_id_reused_for_other_codes_is_refused(db):
    bank = customer(db)
    a, b = add_person(db), add_person(db)
    load_clients(
        db, bank, add=[a.personal_code, b.personal_code], remove=[], request_id=None
    )
    first = person_data(db, bank, [a.personal_code], purpose="KYC", request_id="x-1")
    again = person_data(db, bank, [a.personal_code], purpose="KYC", request_id="x-1")
    assert again == first
    with pytest.raises(RequestIdReused):
        person_data(db, bank, [b.personal_code], purpose="KYC", request_id="x-1")
