from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from sqlalchemy import func, select
from synth_factories import (
    START,
    TODAY,
    age,
    dump,
    generated_database,
    records,
)

from regwatch import codes
from regwatch.clock import day_start, to_micros
from regwatch.register.records import PersonRecord
from regwatch.register.synth import GenerationRefused, generate_register
from regwatch.store.tables import change_log, personal_codes

PERSONS = 4_000


@pytest.fixture(scope="module")
def register(databases) -> dict[int, PersonRecord]:
    """One generated register, read back, for the tests that only look."""
    db = generated_database(databases.empty(), PERSONS)
    try:
        return records(db)
    finally:
        db.engine.dispose()


def _living(register: dict[int, PersonRecord]) -> list[PersonRecord]:
    return [r for r in register.values() if r.died_on is None]


def test_the_same_seed_generates_the_same_register(databases):
    first = generated_database(databases.empty(), 1_500, seed=11)
    second = generated_database(databases.empty(), 1_500, seed=11)
    assert dump(first) == dump(second)


def test_another_seed_generates_another_register(databases):
    first = generated_database(databases.empty(), 500, seed=1)
    second = generated_database(databases.empty(), 500, seed=2)
    assert dump(first)["persons"] != dump(second)["persons"]


def test_generation_writes_the_persons_asked_for_with_ids_from_one(register):
    assert sorted(register) == list(range(1, PERSONS + 1))


def test_generation_refuses_a_mirror_that_already_holds_persons(databases):
    db = generated_database(databases.empty(), 100)
    before = dump(db)
    with pytest.raises(GenerationRefused, match="not empty"):
        generate_register(db, 100, 1, start=START)
    assert dump(db) == before


def test_generation_writes_nothing_to_the_change_log(databases):
    db = generated_database(databases.empty(), 300)
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(change_log)).scalar() == 0


def test_every_personal_code_is_valid_unique_and_tells_birth_date_and_sex(register):
    seen = set()
    for record in register.values():
        assert codes.check_code(record.personal_code, TODAY).valid
        assert codes.birth_date(record.personal_code) == record.birth_date
        assert codes.sex(record.personal_code) == record.sex
        seen.add(record.personal_code)
    assert len(seen) == len(register)


def test_each_person_has_one_code_row_assigned_at_birth(databases):
    db = generated_database(databases.empty(), 500)
    people = records(db)
    with db.read() as conn:
        rows = conn.execute(select(personal_codes)).all()
    assert len(rows) == len(people)
    for row in rows:
        person = people[row.person_id]
        assert row.code == person.personal_code
        assert row.assigned_at == to_micros(day_start(person.birth_date))
        assert row.replaced_at is None


def test_ages_run_from_newborns_to_1925_with_fewer_old_people(register):
    births = [r.birth_date for r in register.values()]
    assert min(births) >= date(1925, 1, 1)
    assert max(births) <= TODAY
    ages = Counter(min(age(r) // 10, 9) for r in register.values())
    assert ages[4] > ages[8] > ages[9]  # forties > eighties > nineties
    assert 0.15 < sum(ages[d] for d in (0, 1)) / len(register) < 0.25


def test_one_to_two_percent_have_died_recently_and_no_longer_have_a_spouse(register):
    dead = [r for r in register.values() if r.died_on is not None]
    assert 0.01 <= len(dead) / len(register) <= 0.02
    for record in dead:
        assert record.birth_date <= record.died_on < TODAY
        assert record.groups["death"] == {"dateOfDeath": record.died_on.isoformat()}
        assert record.family.spouse is None
    assert sum(age(r) >= 70 for r in dead) > len(dead) / 2  # mostly the old


def test_spouses_point_to_each_other_and_are_married_a_man_and_a_woman(register):
    couples = 0
    for record in register.values():
        spouse_id = record.family.spouse
        if spouse_id is None:
            continue
        spouse = register[spouse_id]
        assert spouse.family.spouse == record.person_id
        assert {record.sex, spouse.sex} == {"M", "F"}
        for person in (record, spouse):
            assert person.died_on is None
            assert person.groups["maritalStatus"]["status"] == "MARRIED"
            assert age(person) >= 18
        assert record.groups["maritalStatus"] == spouse.groups["maritalStatus"]
        couples += 1
    assert couples / 2 > PERSONS * 0.15


def test_living_married_persons_always_have_their_spouse_in_the_register(register):
    for record in _living(register):
        if record.groups["maritalStatus"]["status"] == "MARRIED":
            assert record.family.spouse is not None


def test_the_register_holds_divorced_and_widowed_persons_with_a_date(register):
    statuses = Counter(r.groups["maritalStatus"]["status"] for r in _living(register))
    assert statuses["DIVORCED"] > PERSONS * 0.03
    assert statuses["WIDOWED"] > PERSONS * 0.03
    for record in _living(register):
        marital = record.groups["maritalStatus"]
        if marital["status"] != "SINGLE":
            assert record.birth_date < date.fromisoformat(marital["since"]) <= TODAY


def test_children_are_15_years_or_more_younger_than_both_parents(register):
    linked = 0
    for record in register.values():
        for parent_id in (record.family.mother, record.family.father):
            if parent_id is None:
                continue
            parent = register[parent_id]
            assert (record.birth_date - parent.birth_date).days >= 15 * 365
            assert record.person_id in parent.family.children
            linked += 1
        mother = record.family.mother
        if mother is not None:
            assert register[mother].sex == "F"
            assert (record.birth_date - register[mother].birth_date).days <= 46 * 366
        if record.family.father is not None:
            assert register[record.family.father].sex == "M"
    assert linked > PERSONS * 0.3


def test_children_count_is_the_number_of_linked_children(register):
    parents = 0
    for record in register.values():
        assert record.groups["childrenCount"] == len(record.family.children)
        for child in record.family.children:
            assert record.person_id in (
                register[child].family.mother,
                register[child].family.father,
            )
        parents += bool(record.family.children)
    assert parents > PERSONS * 0.2


def test_a_child_with_a_father_carries_his_surname(register):
    for record in register.values():
        father_id = record.family.father
        if father_id is None or record.sex != "M":
            continue
        assert (
            record.groups["name"]["surname"]
            == (register[father_id].groups["name"]["surname"])
        )


def test_most_wives_carry_the_married_form_of_their_husbands_surname(register):
    wives = [
        r
        for r in register.values()
        if r.sex == "F" and r.family.spouse is not None and r.citizenship == "LT"
    ]
    taken = [
        w
        for w in wives
        if w.groups["name"]["surname"].endswith(("ienė", "ė"))
        and register[w.family.spouse].groups["name"]["surname"][:3]
        in w.groups["name"]["surname"]
    ]
    assert len(taken) > 0.75 * len(wives)


def test_about_seven_and_a_half_percent_are_foreigners_all_with_a_valid_permit(
    register,
):
    foreigners = [r for r in register.values() if r.citizenship != "LT"]
    assert 0.055 < len(foreigners) / len(register) < 0.095
    assert len({r.citizenship for r in foreigners}) >= 5
    kinds = Counter()
    for record in foreigners:
        permit = record.groups["residencePermit"]
        assert permit is not None
        assert len(permit["number"]) == 9 and permit["number"].isdigit()
        if record.died_on is None:
            assert permit["status"] == "VALID"
            assert permit["issuedOn"] <= TODAY.isoformat() < permit["validUntil"]
        kinds[permit["type"]] += 1
    assert kinds["TEMPORARY"] > kinds["PERMANENT"] > 0
    citizens = [r for r in register.values() if r.citizenship == "LT"]
    assert all(r.groups["residencePermit"] is None for r in citizens)


def test_families_share_citizenship(register):
    for record in register.values():
        for relative in (record.family.spouse, record.family.mother):
            if relative is not None:
                assert register[relative].citizenship == record.citizenship


def test_documents_are_valid_into_the_future_or_marked_invalid(register):
    expired = 0
    numbers: set[str] = set()
    for record in register.values():
        for document in record.groups["identityDocuments"]:
            assert document["type"] in ("ID_CARD", "PASSPORT")
            assert document["issuedOn"] < document["validUntil"]
            if document["status"] == "VALID":
                assert document["validUntil"] >= TODAY.isoformat()
                assert document["invalidReason"] is None
            else:
                assert document["invalidReason"] in ("EXPIRED", "REPLACED")
                expired += document["invalidReason"] == "EXPIRED"
            assert document["number"] not in numbers
            numbers.add(document["number"])
    assert expired > 0


def test_most_adults_hold_a_valid_document_and_a_photo(register):
    adults = [r for r in _living(register) if age(r) >= 18]
    with_document = [
        r
        for r in adults
        if any(d["status"] == "VALID" for d in r.groups["identityDocuments"])
    ]
    with_photo = [r for r in adults if r.groups["photo"] is not None]
    assert len(with_document) > 0.8 * len(adults)
    assert len(with_photo) > 0.75 * len(adults)


def test_declared_residence_is_mostly_declared_some_abroad_and_some_none(register):
    statuses = Counter(
        r.groups["declaredResidence"]["status"] for r in register.values()
    )
    assert statuses["DECLARED"] > 0.9 * PERSONS
    assert 0.01 < statuses["ABROAD"] / PERSONS < 0.06
    assert 0.002 < statuses["NONE"] / PERSONS < 0.025
    for record in register.values():
        residence = record.groups["declaredResidence"]
        assert (residence["address"] is not None) == (residence["status"] == "DECLARED")
        assert (residence["country"] is not None) == (residence["status"] == "ABROAD")
        assert record.birth_date.isoformat() <= residence["since"] <= TODAY.isoformat()


def test_a_married_couple_and_their_small_children_share_one_address(register):
    for record in _living(register):
        spouse = record.family.spouse
        if spouse is not None:
            assert (
                record.groups["declaredResidence"]["address"]
                == register[spouse].groups["declaredResidence"]["address"]
            )
        mother = record.family.mother
        if mother is not None and age(record) < 18 and register[mother].died_on is None:
            assert (
                record.groups["declaredResidence"]["address"]
                == register[mother].groups["declaredResidence"]["address"]
            )
