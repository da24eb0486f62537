from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select
from synth_factories import (
    START,
    TODAY,
    age,
    dump,
    generated_database,
    new_database,
    records,
)

from regwatch import codes
from regwatch.clock import VILNIUS, day_of, day_start, from_micros, to_micros
from regwatch.kinds import from_mask
from regwatch.register.events import EventType
from regwatch.register.synth import SimulationRefused, generate_register, simulate
from regwatch.register.synth.activity import SimulationSummary, day_rng, plan_day
from regwatch.register.synth.rates import RATES, is_holiday
from regwatch.register.synth.sources import calibration
from regwatch.store.engine import Database, make_engine, read_simulated_clock
from regwatch.store.tables import change_log, personal_codes, register_events

PERSONS = 3_000
WEEK_SCALE = 40


@pytest.fixture(scope="module")
def template(databases):
    """A generated register, copied by the tests that change it (its URL)."""
    url = databases.empty("template")
    generated_database(url, PERSONS).engine.dispose()
    return url


def copy_of(databases, template: str) -> Database:
    return Database(make_engine(databases.copy(template)))


@pytest.fixture(scope="module")
def week(template, databases) -> Iterator[tuple[Database, SimulationSummary]]:
    """The template after a simulated week (Monday 2 - Sunday 8 March 2026)."""
    db = copy_of(databases, template)
    summary = simulate(db, 7, 3, rate_scale=WEEK_SCALE)
    yield db, summary
    db.engine.dispose()


def _kinds_by_day(db: Database) -> dict[date, Counter]:
    found: dict[date, Counter] = {}
    with db.read() as conn:
        for row in conn.execute(select(change_log.c.day, change_log.c.kinds)):
            counter = found.setdefault(row.day, Counter())
            counter.update(kind.value for kind in from_mask(row.kinds))
    return found


# --- the clock and the days -----------------------------------------------------------


def test_simulate_leaves_the_clock_at_the_midnight_ending_the_last_day(week):
    db, summary = week
    end = day_start(TODAY + timedelta(days=7))
    with db.read() as conn:
        assert read_simulated_clock(conn) == end
    assert summary.first_day == TODAY
    assert summary.last_day == TODAY + timedelta(days=6)
    assert summary.clock == end
    assert end.astimezone(VILNIUS).time().hour == 0


def test_events_come_after_the_starting_clock_and_within_their_days(week):
    db, _ = week
    end = to_micros(day_start(TODAY + timedelta(days=7)))
    with db.read() as conn:
        recorded = conn.execute(select(register_events.c.recorded_at)).scalars().all()
        changes = conn.execute(select(change_log.c.recorded_at, change_log.c.day))
        for row in changes:
            assert day_of(from_micros(row.recorded_at)) == row.day
    assert recorded
    assert min(recorded) > to_micros(START)
    assert max(recorded) < end


def test_a_day_of_23_hours_ends_at_its_own_midnight(databases):
    db = new_database(databases.empty(), datetime(2026, 3, 28, 10, tzinfo=VILNIUS))
    generate_register(db, 500, 1, start=datetime(2026, 3, 28, 10, tzinfo=VILNIUS))
    simulate(db, 2, 1, rate_scale=50)  # Sunday 29 March has no 03:00
    with db.read() as conn:
        clock = read_simulated_clock(conn)
        recorded = conn.execute(select(register_events.c.recorded_at)).scalars().all()
    assert clock == datetime(2026, 3, 30, 0, 0, tzinfo=VILNIUS)
    assert (
        clock - datetime(2026, 3, 29, 0, 0, tzinfo=VILNIUS)
    ).total_seconds() == 23 * 3600
    assert clock == day_start(date(2026, 3, 30))
    assert max(recorded) < to_micros(clock)


def test_simulate_refuses_a_database_on_the_wall_clock(databases):
    db = new_database(databases.empty(), clock=None)
    generate_register(db, 50, 1, start=START)
    with pytest.raises(SimulationRefused, match="simulated clock"):
        simulate(db, 1, 1)


def test_progress_is_told_each_day_and_its_events(template, databases):
    db = copy_of(databases, template)
    told: list[tuple[date, int]] = []
    summary = simulate(
        db, 3, 5, rate_scale=10, progress=lambda d, n: told.append((d, n))
    )
    assert [day for day, _ in told] == [TODAY + timedelta(days=i) for i in range(3)]
    assert sum(n for _, n in told) == summary.events > 0


# --- reproducibility ------------------------------------------------------------------


def test_the_same_seed_on_the_same_register_records_the_same_days(template, databases):
    first = copy_of(databases, template)
    second = copy_of(databases, template)
    simulate(first, 2, 9, rate_scale=20)
    simulate(second, 2, 9, rate_scale=20)
    assert dump(first) == dump(second)


def test_another_seed_records_other_events(template, databases):
    first = copy_of(databases, template)
    second = copy_of(databases, template)
    simulate(first, 1, 1, rate_scale=20)
    simulate(second, 1, 2, rate_scale=20)
    assert dump(first)["change_log"] != dump(second)["change_log"]


def test_plan_day_writes_nothing_and_plans_the_same_events_twice(template, databases):
    db = copy_of(databases, template)
    before = dump(db)
    with db.read() as conn:
        first = plan_day(conn, TODAY, day_rng(4, TODAY), seed=4, rate_scale=30)
        again = plan_day(conn, TODAY, day_rng(4, TODAY), seed=4, rate_scale=30)
    assert first == again
    assert len(first) > 50
    assert dump(db) == before


def test_event_ids_name_seed_and_day_and_count_in_recording_order(week):
    db, _ = week
    with db.read() as conn:
        rows = conn.execute(
            select(register_events).order_by(
                register_events.c.recorded_at, register_events.c.event_id
            )
        ).all()
    by_day: dict[str, list[str]] = {}
    for row in rows:
        match = re.fullmatch(r"sim-3-(\d{8})-(\d{6})", row.event_id)
        assert match is not None
        assert match[1] == f"{day_of(from_micros(row.recorded_at)):%Y%m%d}"
        by_day.setdefault(match[1], []).append(match[2])
    for numbers in by_day.values():
        assert numbers == sorted(numbers)
        assert numbers[0] == "000001"


# --- what happens, and how often ------------------------------------------------------


def test_each_kind_of_change_is_recorded_about_as_often_as_its_rate(week):
    db, summary = week
    counts = Counter()
    for day_counts in _kinds_by_day(db).values():
        counts.update(day_counts)
    per_rate = PERSONS / 100_000 * WEEK_SCALE * 7  # one week at 1 per 100,000
    assert 0.4 < counts["DEATH"] / (3.5 * per_rate) < 1.8
    assert 0.5 < counts["IDENTITY_DOCUMENT"] / (33 * per_rate) < 1.5
    assert 0.5 < counts["DECLARED_RESIDENCE"] / (24 * per_rate) < 1.5
    # Permits of persons already registered: 14 less the 3.2 that come with an
    # arrival, since a new person's record is no change.
    assert 0.4 < counts["RESIDENCE_PERMIT"] / (10.8 * per_rate) < 1.5
    assert 0.4 < counts["CHILDREN_COUNT"] / (4.7 * per_rate) < 1.8
    assert 0.3 < counts["MARITAL_STATUS"] / (4.4 * per_rate) < 2.5
    assert counts["PHOTO"] > 0.5 * counts["IDENTITY_DOCUMENT"]
    assert counts["NAME"] > 0
    # New persons: births (2.45) and arrivals of foreigners (3.2).
    assert 0.4 < summary.new_persons / (5.65 * per_rate) < 1.8
    assert 0.4 < summary.by_type["FOREIGNER_ARRIVED"] / (3.2 * per_rate) < 1.8
    assert 0.4 < summary.by_type["PHOTO_TAKEN"] / (3.1 * per_rate) < 1.8


def test_documents_and_declarations_are_rare_at_weekends(week):
    db, _ = week
    by_day = _kinds_by_day(db)
    office = ("IDENTITY_DOCUMENT", "DECLARED_RESIDENCE")
    weekdays = [sum(c[k] for k in office) for d, c in by_day.items() if d.weekday() < 5]
    weekend = [sum(c[k] for k in office) for d, c in by_day.items() if d.weekday() >= 5]
    assert len(weekend) == 2
    assert sum(weekend) / 2 < 0.35 * sum(weekdays) / len(weekdays)


def test_most_events_are_recorded_in_office_hours(week):
    db, _ = week
    with db.read() as conn:
        recorded = conn.execute(select(register_events.c.recorded_at)).scalars().all()
    hours = [from_micros(at).astimezone(VILNIUS).hour for at in recorded]
    assert sum(8 <= hour < 17 for hour in hours) > 0.8 * len(hours)


def test_the_rate_scale_multiplies_the_events_of_a_day(template):
    engine = make_engine(template)
    with Database(engine).read() as conn:
        small = plan_day(conn, TODAY, day_rng(6, TODAY), seed=6, rate_scale=5)
        large = plan_day(conn, TODAY, day_rng(6, TODAY), seed=6, rate_scale=40)
    engine.dispose()
    assert 5 < len(large) / len(small) < 12


def test_the_rates_agree_with_the_calibration_file():
    facts = {(row.metric, row.year): row.value for row in calibration()}
    population = facts["resident_population_1jan", "2026"]

    def per_day(count: float) -> float:
        return count / population * 100_000 / 365

    def close(rate: float, expected: float, within: float = 0.2) -> bool:
        return abs(rate - expected) <= within * expected

    assert close(RATES[EventType.DEATH], per_day(facts["deaths", "2025"]))
    births = per_day(facts["births_registered_incl_abroad", "2024"])
    assert close(RATES[EventType.BIRTH], births)
    assert close(RATES[EventType.MARRIAGE], per_day(facts["marriages", "2022"]))
    assert close(RATES[EventType.DIVORCE], per_day(facts["divorces", "2022"]))
    documents = per_day(facts["id_cards_plus_passports_issued", "2024"])
    assert close(RATES[EventType.DOCUMENT_ISSUED], documents)
    declarations = (
        RATES[EventType.RESIDENCE_DECLARED] + RATES[EventType.DEPARTED_ABROAD]
    )
    assert close(declarations, per_day(facts["declared_residence_changes", "2024"]))
    assert close(RATES[EventType.DEPARTED_ABROAD], per_day(facts["emigrants", "2025"]))
    code_changes = per_day(facts["personal_code_changes", "2024"])
    assert close(RATES[EventType.CODE_REPLACED], code_changes, within=0.3)
    name_changes = per_day(facts["name_or_surname_changes", "2019"])
    assert close(RATES[EventType.NAME_CHANGE], name_changes)
    # Three immigrants in four were foreigners (the 2023 row's note).
    arrivals = per_day(facts["immigrants", "2025"] * 0.75)
    assert close(RATES[EventType.FOREIGNER_ARRIVED], arrivals)


def test_lithuanian_public_holidays_are_known():
    assert is_holiday(date(2026, 2, 16))
    assert is_holiday(date(2026, 3, 11))
    assert is_holiday(date(2026, 4, 5))  # Easter Sunday 2026
    assert is_holiday(date(2026, 4, 6))  # and Monday
    assert is_holiday(date(2027, 3, 29))  # Easter Monday 2027
    assert not is_holiday(date(2026, 3, 2))


# --- the events make sense ------------------------------------------------------------


@pytest.fixture(scope="module")
def busy_day(template):
    """One planned day at a high rate, with the register it was planned on."""
    engine = make_engine(template)
    db = Database(engine)
    with db.read() as conn:
        events = plan_day(conn, TODAY, day_rng(8, TODAY), seed=8, rate_scale=120)
    by_code = {r.personal_code: r for r in records(db).values()}
    engine.dispose()
    return events, by_code


def test_no_person_takes_part_in_two_events_of_a_day(busy_day):
    events, by_code = busy_day
    seen: set[int] = set()
    for event in events:
        involved = {by_code[code].person_id for code in event.persons}
        if event.type in (EventType.DEATH, EventType.BIRTH):
            for code in event.persons:  # the widowed spouse, the other parent
                spouse = by_code[code].family.spouse
                if spouse is not None:
                    involved.add(spouse)
        assert not involved & seen, event
        seen |= involved
    assert len(seen) > 200


def test_births_have_a_living_mother_of_18_to_45_and_a_valid_new_code(busy_day):
    events, by_code = busy_day
    births = [e for e in events if e.type is EventType.BIRTH]
    assert births
    for event in births:
        parents = [by_code[code] for code in event.persons]
        mother = next(p for p in parents if p.sex == "F")
        father = next((p for p in parents if p.sex == "M"), None)
        assert mother.died_on is None and 18 <= age(mother) <= 45
        if mother.family.spouse is not None:
            assert father is not None and father.person_id == mother.family.spouse
        child = event.data["child"]
        born = date.fromisoformat(child["birthDate"])
        assert TODAY - timedelta(days=31) <= born <= TODAY
        assert codes.check_code(child["personalCode"], TODAY).valid
        assert codes.birth_date(child["personalCode"]) == born
        assert codes.sex(child["personalCode"]) == child["sex"]
        assert child["personalCode"] not in by_code
        if father is not None and child["sex"] == "M":
            assert child["surname"] == father.groups["name"]["surname"]


def test_marriages_join_two_unmarried_living_adults_of_opposite_sex(busy_day):
    events, by_code = busy_day
    marriages = [e for e in events if e.type is EventType.MARRIAGE]
    assert marriages
    renamed = 0
    for event in marriages:
        bride, groom = (by_code[code] for code in event.persons)
        assert {bride.sex, groom.sex} == {"M", "F"}
        for person in (bride, groom):
            assert person.died_on is None and age(person) >= 18
            assert person.groups["maritalStatus"]["status"] != "MARRIED"
        assert groom.person_id not in (bride.family.mother, bride.family.father)
        for code, surname in event.data.get("surnames", {}).items():
            assert by_code[code].sex == "F"
            renamed += surname.endswith("ienė")
    assert renamed > len(marriages) / 2


def test_divorces_part_a_married_couple(busy_day):
    events, by_code = busy_day
    divorces = [e for e in events if e.type is EventType.DIVORCE]
    assert divorces
    for event in divorces:
        one, other = (by_code[code] for code in event.persons)
        assert one.family.spouse == other.person_id
        assert other.family.spouse == one.person_id


def test_deaths_come_mostly_to_the_old(busy_day):
    events, by_code = busy_day
    deaths = [by_code[e.persons[0]] for e in events if e.type is EventType.DEATH]
    assert len(deaths) > 10
    assert sum(age(p) >= 65 for p in deaths) > 0.6 * len(deaths)


def test_permit_events_concern_foreigners_and_fit_their_permit(busy_day):
    events, by_code = busy_day
    permits = [e for e in events if e.type.value.startswith("PERMIT_")]
    assert {e.type for e in permits} >= {
        EventType.PERMIT_ISSUED,
        EventType.PERMIT_RENEWED,
        EventType.PERMIT_REVOKED,
    }
    for event in permits:
        person = by_code[event.persons[0]]
        assert person.citizenship != "LT"
        if "permit" in event.data:
            permit = event.data["permit"]
            assert permit["type"] in ("TEMPORARY", "PERMANENT")
            assert len(permit["number"]) == 9
            assert permit["issuedOn"] == TODAY.isoformat() < permit["validUntil"]


def test_document_events_concern_citizens_and_mostly_carry_a_photo(busy_day):
    events, by_code = busy_day
    issued = [e for e in events if e.type is EventType.DOCUMENT_ISSUED]
    lost = [e for e in events if e.type is EventType.DOCUMENT_INVALIDATED]
    assert issued and lost
    assert sum("photo" in e.data for e in issued) > 0.8 * len(issued)
    for event in issued:
        assert by_code[event.persons[0]].citizenship == "LT"
        assert event.data["document"]["type"] in ("ID_CARD", "PASSPORT")
    for event in lost:
        numbers = [
            d["number"]
            for d in by_code[event.persons[0]].groups["identityDocuments"]
            if d["status"] == "VALID"
        ]
        assert event.data["number"] in numbers
        assert event.data["reason"] in ("LOST", "STOLEN", "EXPIRED")


def test_arrivals_are_foreigners_with_a_fitting_code_no_one_holds(busy_day):
    events, by_code = busy_day
    arrivals = [e for e in events if e.type is EventType.FOREIGNER_ARRIVED]
    assert len(arrivals) > 5
    planned_codes = [e.data["person"]["personalCode"] for e in arrivals] + [
        e.data["child"]["personalCode"] for e in events if e.type is EventType.BIRTH
    ]
    assert len(set(planned_codes)) == len(planned_codes)
    for event in arrivals:
        person, permit = event.data["person"], event.data["permit"]
        code = person["personalCode"]
        assert event.persons == ()
        assert person["citizenship"] != "LT"
        assert code not in by_code and codes.check_code(code, TODAY).valid
        assert codes.sex(code) == person["sex"]
        assert codes.birth_date(code) == date.fromisoformat(person["birthDate"])
        assert permit["type"] == "TEMPORARY"
        assert permit["issuedOn"] == TODAY.isoformat() < permit["validUntil"]
        if "residence" in event.data:
            assert person["birthDate"] <= event.data["residence"]["since"]
    assert sum("residence" in e.data for e in arrivals) > len(arrivals) / 2


def test_photos_are_taken_of_the_living_in_the_days_before(busy_day):
    events, by_code = busy_day
    photos = [e for e in events if e.type is EventType.PHOTO_TAKEN]
    assert len(photos) > 5
    for event in photos:
        person = by_code[event.persons[0]]
        taken = date.fromisoformat(event.data["photo"]["takenOn"])
        assert person.died_on is None
        assert TODAY - timedelta(days=3) <= taken <= TODAY


def test_corrections_replace_one_group_with_a_value_that_differs(template):
    engine = make_engine(template)
    db = Database(engine)
    with db.read() as conn:
        events = [
            e
            for e in plan_day(conn, TODAY, day_rng(8, TODAY), seed=8, rate_scale=900)
            if e.type is EventType.RECORD_CORRECTED
        ]
    by_code = {r.personal_code: r for r in records(db).values()}
    engine.dispose()
    assert len(events) > 5
    corrected = Counter()
    for event in events:
        person = by_code[event.persons[0]]
        ((group, value),) = event.data["corrections"].items()
        corrected[group] += 1
        assert value != person.groups[group]
        if group == "name":  # one letter respelt
            assert person.citizenship == "LT"
            before = person.groups["name"]
            (part,) = [k for k in value if value[k] != before[k]]
            pairs = zip(before[part], value[part], strict=True)
            assert sum(old != new for old, new in pairs) == 1
        else:
            assert group == "declaredResidence"
            assert {**value, "since": None} == {**person.groups[group], "since": None}
            assert value["since"] <= TODAY.isoformat()
    assert set(corrected) == {"name", "declaredResidence"}


# --- the register after a week --------------------------------------------------------


def test_the_register_stays_consistent_after_a_week(week):
    db, summary = week
    people = records(db)
    last_day = TODAY + timedelta(days=6)
    assert len(people) == PERSONS + summary.new_persons
    assert sorted(people) == list(range(1, len(people) + 1))
    for record in people.values():
        assert record.groups["childrenCount"] == len(record.family.children)
        assert codes.check_code(record.personal_code, last_day).valid
        spouse = record.family.spouse
        if spouse is not None:
            assert people[spouse].family.spouse == record.person_id
            assert record.groups["maritalStatus"]["status"] == "MARRIED"
            assert record.died_on is None
    with db.read() as conn:
        current = conn.execute(
            select(personal_codes.c.code).where(personal_codes.c.replaced_at.is_(None))
        ).scalars()
        assert sorted(current) == sorted(r.personal_code for r in people.values())
