"""Each register event, its cascades, and the kinds of change they leave."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from factories import ADDRESS, add_person, at, event, new_code, record
from regwatch.kinds import Kind, from_mask
from regwatch.register.events import EventRefused, EventType
from regwatch.register.mirror import record_from_row
from regwatch.store.tables import change_log, personal_codes, persons


def kinds_of(db, person) -> set[Kind]:
    with db.read() as conn:
        masks = conn.execute(
            select(change_log.c.kinds).where(change_log.c.person_id == person.person_id)
        ).scalars()
        return {kind for mask in masks for kind in from_mask(mask)}


def reload(db, person):
    with db.read() as conn:
        row = conn.execute(
            select(persons).where(persons.c.person_id == person.person_id)
        ).one()
    return record_from_row(row)


def married_couple(db):
    husband = add_person(db, sex="M", born=date(1985, 3, 1))
    wife = add_person(db, sex="F", born=date(1987, 6, 9), surname="Petraitytė")
    record(
        db,
        event(
            EventType.MARRIAGE,
            at(db, 1),
            husband.personal_code,
            wife.personal_code,
            date="2026-11-02",
            surnames={wife.personal_code: "Kazlauskienė"},
        ),
    )
    return husband, wife


def test_birth_counts_a_child_for_each_parent_and_links_them(db):
    husband, wife = married_couple(db)
    child_code = new_code("F", date(2026, 11, 1))

    record(
        db,
        event(
            EventType.BIRTH,
            at(db, 2),
            wife.personal_code,
            husband.personal_code,
            child={
                "personalCode": child_code,
                "givenNames": "Ema",
                "surname": "Kazlauskaitė",
                "sex": "F",
                "birthDate": "2026-11-01",
            },
        ),
    )

    assert kinds_of(db, husband) == {Kind.MARITAL_STATUS, Kind.CHILDREN_COUNT}
    assert kinds_of(db, wife) == {Kind.MARITAL_STATUS, Kind.NAME, Kind.CHILDREN_COUNT}
    for parent in (husband, wife):
        assert reload(db, parent).groups["childrenCount"] == 1
    with db.read() as conn:
        child_id = conn.execute(
            select(personal_codes.c.person_id).where(
                personal_codes.c.code == child_code
            )
        ).scalar_one()
    assert reload(db, husband).family.children == [child_id]
    child = reload(db, type("P", (), {"person_id": child_id}))
    assert (child.family.mother, child.family.father) == (
        wife.person_id,
        husband.person_id,
    )
    assert child.groups["declaredResidence"]["address"] == ADDRESS


def test_marriage_changes_both_marital_statuses_and_the_surname_that_changes(db):
    husband = add_person(db, sex="M")
    wife = add_person(db, sex="F", surname="Petraitytė")

    record(
        db,
        event(
            EventType.MARRIAGE,
            at(db, 1),
            husband.personal_code,
            wife.personal_code,
            date="2026-11-02",
            surnames={wife.personal_code: "Kazlauskienė"},
        ),
    )

    assert kinds_of(db, husband) == {Kind.MARITAL_STATUS}
    assert kinds_of(db, wife) == {Kind.MARITAL_STATUS, Kind.NAME}
    assert reload(db, wife).groups["name"]["surname"] == "Kazlauskienė"
    assert reload(db, wife).family.spouse == husband.person_id


def test_divorce_of_persons_not_married_to_each_other_is_refused(db):
    a, b = add_person(db, sex="M"), add_person(db, sex="F")
    with pytest.raises(EventRefused, match="not married"):
        record(
            db,
            event(
                EventType.DIVORCE,
                at(db, 1),
                a.personal_code,
                b.personal_code,
                date="2026-11-02",
            ),
        )
    assert kinds_of(db, a) == set()


def test_divorce_changes_both_statuses_and_a_returned_maiden_name(db):
    husband, wife = married_couple(db)
    record(
        db,
        event(
            EventType.DIVORCE,
            at(db, 3),
            husband.personal_code,
            wife.personal_code,
            date="2026-11-02",
            surnames={wife.personal_code: "Petraitytė"},
        ),
    )
    assert reload(db, husband).groups["maritalStatus"]["status"] == "DIVORCED"
    assert reload(db, wife).family.spouse is None
    assert Kind.NAME in kinds_of(db, wife)


def test_death_is_death_for_the_deceased_and_widowhood_for_the_spouse(db):
    husband, wife = married_couple(db)

    record(
        db,
        event(
            EventType.DEATH, at(db, 3), husband.personal_code, dateOfDeath="2026-10-28"
        ),
    )

    assert Kind.DEATH in kinds_of(db, husband)
    assert reload(db, husband).died_on == date(2026, 10, 28)
    assert reload(db, wife).groups["maritalStatus"] == {
        "status": "WIDOWED",
        "since": "2026-10-28",
    }


def test_a_dead_person_cannot_die_again_and_nothing_of_the_batch_stays(db):
    person = add_person(db)
    other = add_person(db)
    record(
        db,
        event(
            EventType.DEATH, at(db, 1), person.personal_code, dateOfDeath="2026-11-01"
        ),
    )
    with pytest.raises(EventRefused, match="dead"):
        record(
            db,
            event(
                EventType.NAME_CHANGE, at(db, 2), other.personal_code, surname="Naujas"
            ),
            event(
                EventType.DEATH,
                at(db, 3),
                person.personal_code,
                dateOfDeath="2026-11-02",
            ),
        )
    assert kinds_of(db, other) == set()


def test_new_document_with_photo_replaces_the_old_one_of_its_type(db):
    person = add_person(
        db,
        identityDocuments=[
            {
                "type": "ID_CARD",
                "number": "10000001",
                "issuedOn": "2020-01-01",
                "validUntil": "2030-01-01",
                "status": "VALID",
                "invalidReason": None,
            }
        ],
    )

    record(
        db,
        event(
            EventType.DOCUMENT_ISSUED,
            at(db, 1),
            person.personal_code,
            document={
                "type": "ID_CARD",
                "number": "20000002",
                "issuedOn": "2026-11-02",
                "validUntil": "2036-11-02",
            },
            photo={"photoId": "ph-1", "takenOn": "2026-10-20"},
        ),
    )

    assert kinds_of(db, person) == {Kind.IDENTITY_DOCUMENT, Kind.PHOTO}
    documents = reload(db, person).groups["identityDocuments"]
    assert [(d["number"], d["status"]) for d in documents] == [
        ("10000001", "INVALID"),
        ("20000002", "VALID"),
    ]


def test_invalidated_document_is_an_identity_document_change_only(db):
    person = add_person(
        db,
        identityDocuments=[
            {
                "type": "PASSPORT",
                "number": "P1",
                "issuedOn": "2020-01-01",
                "validUntil": "2030-01-01",
                "status": "VALID",
                "invalidReason": None,
            }
        ],
    )
    record(
        db,
        event(
            EventType.DOCUMENT_INVALIDATED,
            at(db, 1),
            person.personal_code,
            number="P1",
            reason="LOST",
        ),
    )
    assert kinds_of(db, person) == {Kind.IDENTITY_DOCUMENT}


def test_residence_declaration_and_departure_abroad(db):
    person = add_person(db)
    record(
        db,
        event(
            EventType.RESIDENCE_DECLARED,
            at(db, 1),
            person.personal_code,
            since="2026-11-02",
            address={**ADDRESS, "house": "7"},
        ),
    )
    assert kinds_of(db, person) == {Kind.DECLARED_RESIDENCE}
    record(
        db,
        event(
            EventType.DEPARTED_ABROAD,
            at(db, 2),
            person.personal_code,
            since="2026-11-02",
            country="IE",
        ),
    )
    assert reload(db, person).groups["declaredResidence"]["status"] == "ABROAD"


def test_declaring_the_same_residence_again_is_no_change(db):
    person = add_person(db)
    same = reload(db, person).groups["declaredResidence"]
    record(
        db,
        event(
            EventType.RESIDENCE_DECLARED,
            at(db, 1),
            person.personal_code,
            since=same["since"],
            address=same["address"],
        ),
    )
    assert kinds_of(db, person) == set()


@pytest.mark.parametrize("ending", [EventType.PERMIT_REVOKED, EventType.PERMIT_EXPIRED])
def test_residence_permit_issued_renewed_and_ended(db, ending):
    person = add_person(db, citizenship="UA")
    permit = {
        "type": "TEMPORARY",
        "number": "L1",
        "issuedOn": "2026-11-02",
        "validUntil": "2027-11-02",
    }
    record(
        db,
        event(EventType.PERMIT_ISSUED, at(db, 1), person.personal_code, permit=permit),
    )
    record(
        db,
        event(
            EventType.PERMIT_RENEWED,
            at(db, 2),
            person.personal_code,
            permit={**permit, "number": "L2", "validUntil": "2028-11-02"},
        ),
    )
    record(db, event(ending, at(db, 3), person.personal_code))
    assert kinds_of(db, person) == {Kind.RESIDENCE_PERMIT}
    assert reload(db, person).groups["residencePermit"]["number"] == "L2"
    with db.read() as conn:
        assert (
            conn.execute(
                select(change_log.c.change_id).where(
                    change_log.c.person_id == person.person_id
                )
            )
            .all()
            .__len__()
            == 3
        )


def test_permits_are_refused_for_citizens(db):
    person = add_person(db)
    with pytest.raises(EventRefused, match="citizen"):
        record(
            db,
            event(
                EventType.PERMIT_ISSUED,
                at(db, 1),
                person.personal_code,
                permit={
                    "type": "TEMPORARY",
                    "number": "L1",
                    "issuedOn": "2026-11-02",
                    "validUntil": "2027-11-02",
                },
            ),
        )


def test_name_change(db):
    person = add_person(db)
    record(
        db,
        event(
            EventType.NAME_CHANGE,
            at(db, 1),
            person.personal_code,
            givenNames="Jonas Petras",
        ),
    )
    assert kinds_of(db, person) == {Kind.NAME}
    assert reload(db, person).groups["name"]["givenNames"] == "Jonas Petras"


def test_code_replacement_keeps_the_old_code_pointing_to_the_person(db):
    person = add_person(db)
    replacement = new_code("M", date(1980, 5, 17))

    record(
        db,
        event(
            EventType.CODE_REPLACED,
            at(db, 1),
            person.personal_code,
            newCode=replacement,
        ),
    )

    assert kinds_of(db, person) == {Kind.PERSONAL_CODE}
    with db.read() as conn:
        owners = dict(
            conn.execute(
                select(personal_codes.c.code, personal_codes.c.person_id)
            ).all()
        )
        previous = conn.execute(select(change_log.c.previous_code)).scalar_one()
    assert owners[person.personal_code] == owners[replacement] == person.person_id
    assert previous == person.personal_code


def test_a_code_once_given_is_never_given_to_anyone_else(db):
    first, second = add_person(db), add_person(db)
    with pytest.raises(EventRefused, match="already belongs"):
        record(
            db,
            event(
                EventType.CODE_REPLACED,
                at(db, 1),
                second.personal_code,
                newCode=first.personal_code,
            ),
        )


def test_an_invalid_new_code_is_refused(db):
    person = add_person(db)
    with pytest.raises(EventRefused, match="personal code"):
        record(
            db,
            event(
                EventType.CODE_REPLACED,
                at(db, 1),
                person.personal_code,
                newCode="12345678901",
            ),
        )


def test_an_event_about_an_unknown_person_is_refused(db):
    with pytest.raises(EventRefused, match="no person"):
        record(db, event(EventType.NAME_CHANGE, at(db, 1), new_code(), surname="X"))


def test_the_same_event_twice_is_recorded_once(db):
    person = add_person(db)
    once = event(
        EventType.NAME_CHANGE, at(db, 1), person.personal_code, surname="Naujas"
    )
    assert record(db, once).applied == 1
    again = record(db, once)
    assert (again.applied, again.duplicates) == (0, 1)
    with db.read() as conn:
        assert len(conn.execute(select(change_log)).all()) == 1


def test_a_marriage_cannot_rename_a_third_person(db):
    husband, wife, bystander = add_person(db), add_person(db, sex="F"), add_person(db)
    with pytest.raises(EventRefused, match="not in this event"):
        record(
            db,
            event(
                EventType.MARRIAGE,
                at(db, 1),
                husband.personal_code,
                wife.personal_code,
                date="2026-11-02",
                surnames={bystander.personal_code: "Kitas"},
            ),
        )
    assert kinds_of(db, bystander) == set()


@pytest.mark.parametrize("photo", ["ph-1", ["x"], {"photoId": "p"}])
def test_malformed_event_data_is_a_refusal_and_leaves_nothing(db, photo):
    person = add_person(db)
    with pytest.raises(EventRefused):
        record(
            db,
            event(
                EventType.DOCUMENT_ISSUED,
                at(db, 1),
                person.personal_code,
                document={
                    "type": "ID_CARD",
                    "number": "1",
                    "issuedOn": "2026-11-02",
                    "validUntil": "2036-11-02",
                },
                photo=photo,
            ),
        )
    assert reload(db, person).groups["identityDocuments"] == []


def test_a_birth_after_the_fathers_death_is_registered(db):
    husband, wife = married_couple(db)
    record(
        db,
        event(
            EventType.DEATH, at(db, 2), husband.personal_code, dateOfDeath="2026-10-01"
        ),
    )
    record(
        db,
        event(
            EventType.BIRTH,
            at(db, 3),
            wife.personal_code,
            husband.personal_code,
            child={
                "personalCode": new_code("M", date(2026, 11, 1)),
                "givenNames": "Jonas",
                "surname": "Kazlauskas",
                "sex": "M",
                "birthDate": "2026-11-01",
            },
        ),
    )
    assert reload(db, husband).groups["childrenCount"] == 1
