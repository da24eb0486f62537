"""PHOTO_TAKEN, FOREIGNER_ARRIVED and RECORD_CORRECTED: what each leaves, and
what each refuses; and every planned event against the feed's JSON Schema."""

from __future__ import annotations

import json
from datetime import date, timedelta
from importlib import resources
from typing import Any

import jsonschema
import pytest
from sqlalchemy import select

from factories import ADDRESS, add_person, at, event, new_code, record
from regwatch import codes
from regwatch.kinds import Kind, from_mask
from regwatch.register.events import EventRefused, EventType
from regwatch.register.mirror import record_from_row
from regwatch.register.records import PersonRecord
from regwatch.register.synth import generate_register
from regwatch.register.synth.activity import day_rng, plan_day
from regwatch.store.engine import Database
from regwatch.store.tables import change_log, personal_codes, persons

PERMIT = {
    "type": "TEMPORARY",
    "number": "123456789",
    "issuedOn": "2026-11-02",
    "validUntil": "2028-11-02",
}
PHOTO = {"photoId": "ph-42", "takenOn": "2026-10-30"}


def kinds_of(db: Database, person: PersonRecord) -> list[set[Kind]]:
    """The kinds of each change-log row of a person, oldest first."""
    with db.read() as conn:
        masks = conn.execute(
            select(change_log.c.kinds)
            .where(change_log.c.person_id == person.person_id)
            .order_by(change_log.c.change_id)
        ).scalars()
        return [set(from_mask(mask)) for mask in masks]


def by_code(db: Database, code: str) -> PersonRecord:
    """The person a code (current or earlier) belongs to, as the mirror holds them."""
    with db.read() as conn:
        row = conn.execute(
            select(persons)
            .join(personal_codes, personal_codes.c.person_id == persons.c.person_id)
            .where(personal_codes.c.code == code)
        ).one()
    return record_from_row(row)


def newcomer(
    sex: str = "F", born: date = date(1994, 2, 11), **changes: Any
) -> dict[str, Any]:
    return {
        "personalCode": new_code(sex, born),
        "givenNames": "Olena",
        "surname": "Kovalenko",
        "sex": sex,
        "birthDate": born.isoformat(),
        "citizenship": "UA",
        **changes,
    }


def code_with_unknown_date(sex: str, year: int, month: int = 0) -> str:
    """A code with a 00 day (and month, unless one is given), as old records have."""
    century = {1800: 1, 1900: 3, 2000: 5}[year // 100 * 100] + (sex == "F")
    first_ten = f"{century}{year % 100:02d}{month:02d}00123"
    return first_ten + str(codes.check_digit(first_ten))


# --- PHOTO_TAKEN ----------------------------------------------------------------------


def test_a_photo_taken_becomes_the_persons_photo_and_changes_nothing_else(db):
    person, bystander = add_person(db), add_person(db)

    record(
        db, event(EventType.PHOTO_TAKEN, at(db, 1), person.personal_code, photo=PHOTO)
    )

    assert kinds_of(db, person) == [{Kind.PHOTO}]
    assert by_code(db, person.personal_code).groups["photo"] == PHOTO
    assert kinds_of(db, bystander) == []


def test_the_same_photo_again_is_no_change(db):
    person = add_person(db, photo=dict(PHOTO))
    record(
        db, event(EventType.PHOTO_TAKEN, at(db, 1), person.personal_code, photo=PHOTO)
    )
    assert kinds_of(db, person) == []


def test_a_photo_of_a_dead_person_is_refused(db):
    person = add_person(db)
    record(
        db,
        event(
            EventType.DEATH, at(db, 1), person.personal_code, dateOfDeath="2026-11-01"
        ),
    )
    with pytest.raises(EventRefused, match=f"person {person.personal_code} is dead"):
        record(
            db,
            event(EventType.PHOTO_TAKEN, at(db, 2), person.personal_code, photo=PHOTO),
        )


@pytest.mark.parametrize(
    "photo", [None, "ph-1", {"photoId": "ph-1"}, {**PHOTO, "takenOn": "30.10.2026"}]
)
def test_a_photo_without_an_id_and_a_date_is_refused(db, photo):
    person = add_person(db)
    with pytest.raises(EventRefused, match=person.personal_code):
        record(
            db,
            event(EventType.PHOTO_TAKEN, at(db, 1), person.personal_code, photo=photo),
        )
    assert by_code(db, person.personal_code).groups["photo"] is None


# --- FOREIGNER_ARRIVED ----------------------------------------------------------------


def test_an_arrival_adds_a_foreigner_with_a_valid_permit_and_a_declared_residence(db):
    person = newcomer()

    summary = record(
        db,
        event(
            EventType.FOREIGNER_ARRIVED,
            at(db, 1),
            person=person,
            permit=PERMIT,
            residence={"since": "2026-10-28", "address": ADDRESS},
        ),
    )

    arrived = by_code(db, person["personalCode"])
    assert (arrived.sex, arrived.birth_date, arrived.citizenship) == (
        "F",
        date(1994, 2, 11),
        "UA",
    )
    assert arrived.groups["name"] == {"givenNames": "Olena", "surname": "Kovalenko"}
    assert arrived.groups["residencePermit"] == {**PERMIT, "status": "VALID"}
    assert arrived.groups["declaredResidence"] == {
        "status": "DECLARED",
        "since": "2026-10-28",
        "address": ADDRESS,
        "country": None,
    }
    assert arrived.groups["death"] is None and arrived.groups["childrenCount"] == 0
    # A new person is not a change of anyone followed.
    assert (summary.new_persons, summary.changes) == (1, 0)


def test_an_arrival_without_a_residence_has_none_declared(db):
    person = newcomer(sex="M", born=date(2001, 7, 30), citizenship="IN")
    record(
        db, event(EventType.FOREIGNER_ARRIVED, at(db, 1), person=person, permit=PERMIT)
    )
    arrived = by_code(db, person["personalCode"])
    assert arrived.groups["declaredResidence"]["status"] == "NONE"
    assert arrived.is_foreigner


def test_the_arrived_person_then_takes_part_in_events_by_their_code(db):
    person = newcomer()
    record(
        db, event(EventType.FOREIGNER_ARRIVED, at(db, 1), person=person, permit=PERMIT)
    )
    record(db, event(EventType.PERMIT_REVOKED, at(db, 2), person["personalCode"]))
    arrived = by_code(db, person["personalCode"])
    assert arrived.groups["residencePermit"]["status"] == "REVOKED"
    assert kinds_of(db, arrived) == [{Kind.RESIDENCE_PERMIT}]


@pytest.mark.parametrize(
    ("changes", "refusal"),
    [
        ({"citizenship": "LT"}, "citizenship LT"),
        ({"sex": "M"}, "sex F, the data say M"),
        ({"birthDate": "1994-02-12"}, "disagree with birthDate 1994-02-12"),
        ({"birthDate": "1995-02-11"}, "disagree with birthDate 1995-02-11"),
        ({"personalCode": "7" * 11}, "not a personal code"),
        ({"citizenship": "Ukraine"}, "two-letter country code"),
        ({"givenNames": " "}, "givenNames is missing"),
    ],
)
def test_an_arrival_that_does_not_hold_together_is_refused(db, changes, refusal):
    person = {**newcomer(), **changes}
    with pytest.raises(EventRefused, match=refusal) as refused:
        record(
            db,
            event(EventType.FOREIGNER_ARRIVED, at(db, 1), person=person, permit=PERMIT),
        )
    assert person["personalCode"] in str(refused.value)
    with db.read() as conn:
        assert conn.execute(select(persons)).all() == []


def test_an_arrival_with_a_code_already_given_is_refused(db):
    resident = add_person(db, sex="F", born=date(1994, 2, 11), citizenship="UA")
    person = newcomer(personalCode=resident.personal_code)
    with pytest.raises(EventRefused, match="already belongs"):
        record(
            db,
            event(EventType.FOREIGNER_ARRIVED, at(db, 1), person=person, permit=PERMIT),
        )


def test_an_arrival_names_no_existing_person(db):
    resident = add_person(db)
    with pytest.raises(EventRefused, match="concerns 0 person"):
        record(
            db,
            event(
                EventType.FOREIGNER_ARRIVED,
                at(db, 1),
                resident.personal_code,
                person=newcomer(),
                permit=PERMIT,
            ),
        )


@pytest.mark.parametrize(
    ("month", "born", "accepted"),
    [
        (0, "1941-09-23", True),  # only the year is stated
        (0, "1942-09-23", False),
        (9, "1941-09-23", True),  # the month is stated too
        (10, "1941-09-23", False),
    ],
)
def test_a_code_with_an_unknown_date_part_checks_only_what_it_states(
    db, month, born, accepted
):
    code = code_with_unknown_date("M", 1941, month)
    person = newcomer(sex="M", personalCode=code, birthDate=born)
    arrival = event(
        EventType.FOREIGNER_ARRIVED, at(db, 1), person=person, permit=PERMIT
    )
    if accepted:
        record(db, arrival)
        assert by_code(db, code).birth_date == date.fromisoformat(born)
    else:
        with pytest.raises(EventRefused, match="disagree with birthDate"):
            record(db, arrival)


# --- BIRTH: the child's code must fit the child ---------------------------------------


@pytest.mark.parametrize(
    ("code_of", "refusal"),
    [
        (("M", date(2026, 11, 1)), "sex M, the data say F"),
        (("F", date(2026, 10, 31)), "disagree with birthDate 2026-11-01"),
    ],
)
def test_a_birth_whose_code_does_not_fit_the_child_is_refused(db, code_of, refusal):
    mother = add_person(db, sex="F", born=date(1992, 4, 4))
    child_code = new_code(*code_of)
    with pytest.raises(EventRefused, match=refusal) as refused:
        record(
            db,
            event(
                EventType.BIRTH,
                at(db, 1),
                mother.personal_code,
                child={
                    "personalCode": child_code,
                    "givenNames": "Ema",
                    "surname": "Kazlauskaitė",
                    "sex": "F",
                    "birthDate": "2026-11-01",
                },
            ),
        )
    assert f"the child {child_code}" in str(refused.value)
    assert by_code(db, mother.personal_code).groups["childrenCount"] == 0


# --- RECORD_CORRECTED -----------------------------------------------------------------


def test_a_corrected_name_is_a_name_change_and_nothing_else(db):
    person = add_person(db, sex="F", surname="Kazlauskiene")
    right = {"givenNames": "Ona", "surname": "Kazlauskienė"}

    record(
        db,
        event(
            EventType.RECORD_CORRECTED,
            at(db, 1),
            person.personal_code,
            corrections={"name": right},
            reason="misspelled name",
        ),
    )

    assert kinds_of(db, person) == [{Kind.NAME}]
    assert by_code(db, person.personal_code).groups["name"] == right


def test_one_correction_may_replace_several_groups_whole(db):
    person = add_person(db, citizenship="BY")
    residence = {
        "status": "DECLARED",
        "since": "2010-01-21",
        "address": {**ADDRESS, "flat": "4"},
        "country": None,
    }
    permit = {**PERMIT, "status": "EXPIRED"}

    record(
        db,
        event(
            EventType.RECORD_CORRECTED,
            at(db, 1),
            person.personal_code,
            corrections={
                "declaredResidence": residence,
                "residencePermit": permit,
                "childrenCount": 2,
            },
        ),
    )

    corrected = by_code(db, person.personal_code)
    assert kinds_of(db, person) == [
        {Kind.DECLARED_RESIDENCE, Kind.RESIDENCE_PERMIT, Kind.CHILDREN_COUNT}
    ]
    assert corrected.groups["declaredResidence"] == residence
    assert corrected.groups["residencePermit"] == permit
    assert corrected.groups["childrenCount"] == 2


def test_every_group_can_be_corrected_in_one_event(db):
    person = add_person(db, citizenship="GE")
    document = {
        "type": "PASSPORT",
        "number": "GE1234567",
        "issuedOn": "2020-01-01",
        "validUntil": "2030-01-01",
        "status": "VALID",
        "invalidReason": None,
    }
    corrections = {
        "name": {"givenNames": "Giorgi", "surname": "Beridze"},
        "death": {"dateOfDeath": "2026-10-30"},
        "identityDocuments": [document],
        "declaredResidence": {
            "status": "ABROAD",
            "since": "2026-01-01",
            "address": None,
            "country": "GE",
        },
        "maritalStatus": {"status": "DIVORCED", "since": "2019-05-05"},
        "childrenCount": 1,
        "photo": PHOTO,
        "residencePermit": {**PERMIT, "status": "REVOKED"},
    }

    record(
        db,
        event(
            EventType.RECORD_CORRECTED,
            at(db, 1),
            person.personal_code,
            corrections=corrections,
        ),
    )

    corrected = by_code(db, person.personal_code)
    assert {group: corrected.groups[group] for group in corrections} == corrections
    assert corrected.died_on == date(2026, 10, 30)
    assert kinds_of(db, person) == [set(Kind) - {Kind.PERSONAL_CODE}]


def test_annulling_a_wrongly_recorded_death_touches_no_relative(db):
    husband = add_person(db, sex="M", born=date(1950, 1, 5))
    wife = add_person(db, sex="F", born=date(1952, 8, 19))
    record(
        db,
        event(
            EventType.MARRIAGE,
            at(db, 1),
            husband.personal_code,
            wife.personal_code,
            date="2026-11-02",
        ),
        event(
            EventType.DEATH, at(db, 2), husband.personal_code, dateOfDeath="2026-11-02"
        ),
    )

    record(
        db,
        event(
            EventType.RECORD_CORRECTED,
            at(db, 3),
            husband.personal_code,
            corrections={"death": None},
            reason="death recorded for the wrong person",
        ),
    )

    alive_again = by_code(db, husband.personal_code)
    assert alive_again.groups["death"] is None and alive_again.died_on is None
    with db.read() as conn:
        died_on = conn.execute(
            select(persons.c.died_on).where(persons.c.person_id == husband.person_id)
        ).scalar_one()
    assert died_on is None
    assert kinds_of(db, husband)[-1] == {Kind.DEATH}
    # The widow's record is corrected by an event of its own, if at all.
    assert by_code(db, wife.personal_code).groups["maritalStatus"]["status"] == (
        "WIDOWED"
    )
    assert len(kinds_of(db, wife)) == 2  # the marriage and the widowhood only


@pytest.mark.parametrize(
    ("corrections", "refusal"),
    [
        ({"nickname": "Jonukas"}, "unknown groups: nickname"),
        ({"name": {"givenNames": "Jonas"}}, "name correction .*surname is missing"),
        ({"childrenCount": -1}, "childrenCount correction .*not 0-100"),
        ({"childrenCount": True}, "not a whole number"),
        ({"death": {"dateOfDeath": "yesterday"}}, "is not a date"),
        (
            {"declaredResidence": {"status": "DECLARED", "since": None}},
            "address is missing",
        ),
        (
            {
                "declaredResidence": {
                    "status": "ABROAD",
                    "since": None,
                    "address": ADDRESS,
                    "country": "IE",
                }
            },
            "no Lithuanian address",
        ),
        ({"maritalStatus": {"status": "ENGAGED", "since": None}}, "not one of"),
        ({"identityDocuments": {"number": "1"}}, "not a list"),
        ({"residencePermit": {**PERMIT, "status": "VALID"}}, "is a citizen"),
        ({}, "correct nothing"),
    ],
)
def test_a_correction_that_is_not_a_whole_known_group_is_refused(
    db, corrections, refusal
):
    person = add_person(db)
    with pytest.raises(EventRefused, match=refusal) as refused:
        record(
            db,
            event(
                EventType.RECORD_CORRECTED,
                at(db, 1),
                person.personal_code,
                corrections=corrections,
            ),
        )
    assert person.personal_code in str(refused.value)
    assert kinds_of(db, person) == []


def test_a_correction_names_exactly_one_person(db):
    one, other = add_person(db), add_person(db)
    with pytest.raises(EventRefused, match="concerns 1 person"):
        record(
            db,
            event(
                EventType.RECORD_CORRECTED,
                at(db, 1),
                one.personal_code,
                other.personal_code,
                corrections={"childrenCount": 1},
            ),
        )


# --- planned events against the feed schema -------------------------------------------


def feed_schema() -> dict[str, Any]:
    text = (
        resources.files("regwatch.register")
        .joinpath("schemas/feed-v1.schema.json")
        .read_text(encoding="utf-8")
    )
    return json.loads(text)


def as_line(planned) -> dict[str, Any]:
    """An event as one line of a feed carries it (JSON through and through)."""
    return json.loads(
        json.dumps(
            {
                "formatVersion": 1,
                "eventId": planned.event_id,
                "type": planned.type.value,
                "recordedAt": planned.recorded_at.isoformat(),
                "persons": list(planned.persons),
                "data": planned.data,
            }
        )
    )


def test_planned_events_of_every_type_are_valid_feed_lines(db):
    schema = feed_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(
        {"definitions": schema["definitions"], "$ref": "#/definitions/event"}
    )
    generate_register(db, 2_000, 5, start=at(db, 10))

    # Nine weeks on, some permits have run out (PERMIT_EXPIRED), and a high rate
    # makes even the rarest type (CODE_REPLACED) appear in three days.
    first = date(2027, 1, 4)
    planned = []
    with db.read() as conn:
        for offset in range(3):
            day = first + timedelta(days=offset)
            planned += plan_day(conn, day, day_rng(5, day), seed=5, rate_scale=600)

    assert {e.type for e in planned} == set(EventType)
    for line in map(as_line, planned):
        errors = [error.message for error in validator.iter_errors(line)]
        assert errors == [], (line["type"], errors)
