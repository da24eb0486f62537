"""Publishing days and GetClientsDataChanges: every rule SPEC.md decides."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from conftest import START
from factories import (
    add_person,
    at,
    customer,
    event,
    move_clock,
    new_code,
    record,
    replace_code,
)
from regwatch.billing.charges import totals
from regwatch.clock import VILNIUS
from regwatch.errors import (
    DayNotPublished,
    DayOutsideRetention,
    InvalidPageToken,
    UnknownDay,
)
from regwatch.kinds import Kind, to_mask
from regwatch.monitoring.days import day_changes, publish_pending
from regwatch.monitoring.lists import load_clients
from regwatch.register.events import EventType
from regwatch.store.tables import charges

DAY1 = START.date()
DAY2 = DAY1 + timedelta(days=1)


def load(db, who, add=(), remove=()):
    load_clients(db, who, add=list(add), remove=list(remove), request_id=None)


def rename(db, person, hours, surname="Naujas", received_hours=None):
    """A name change recorded `hours` after the clock."""
    recorded = at(db, hours)
    received = at(db, received_hours) if received_hours is not None else recorded
    record(
        db,
        event(
            EventType.NAME_CHANGE,
            recorded,
            person.personal_code,
            surname=surname + str(hours),
        ),
        received_at=received,
    )


def end_day(db, day=DAY1):
    move_clock(
        db,
        datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=VILNIUS),
    )
    return publish_pending(db)


def answer(db, who, day=DAY1, page_size=None):
    persons, token = [], None
    while True:
        page = day_changes(db, who, day, page_size=page_size, page_token=token)
        persons += page.persons
        token = page.next_page_token
        if token is None:
            return persons


def test_a_change_is_reported_only_while_the_person_was_listed(db):
    bank = customer(db)
    before, during, after = add_person(db), add_person(db), add_person(db)
    rename(db, before, 1)  # changed before being listed
    move_clock(db, at(db, 2))
    load(db, bank, add=[p.personal_code for p in (before, during, after)])
    rename(db, during, 1)
    move_clock(db, at(db, 2))
    load(db, bank, remove=[after.personal_code])
    rename(db, after, 1)  # changed after being removed

    end_day(db)

    assert [p.current_code for p in answer(db, bank)] == [during.personal_code]


def test_unpublished_today_future_early_and_old_days_are_refused(db):
    bank = customer(db)
    with pytest.raises(DayNotPublished, match="not ended"):
        day_changes(db, bank, DAY1, page_size=None, page_token=None)
    with pytest.raises(DayNotPublished):
        day_changes(
            db, bank, DAY1 + timedelta(days=30), page_size=None, page_token=None
        )
    with pytest.raises(UnknownDay):
        day_changes(db, bank, DAY1 - timedelta(days=1), page_size=None, page_token=None)
    move_clock(db, START + timedelta(days=1))  # the day ended, nobody published
    with pytest.raises(DayNotPublished, match="not published"):
        day_changes(db, bank, DAY1, page_size=None, page_token=None)
    with pytest.raises(DayOutsideRetention):
        day_changes(
            db, bank, DAY1 - timedelta(days=200), page_size=None, page_token=None
        )


def test_an_empty_published_day_is_an_empty_answer_not_an_error(db):
    bank = customer(db)
    end_day(db)
    page = day_changes(db, bank, DAY1, page_size=None, page_token=None)
    assert (page.persons, page.total, page.next_page_token) == ([], 0, None)


def test_each_ended_day_is_published_once_and_in_order(db):
    move_clock(db, START + timedelta(days=3, hours=5))
    assert [d.day for d in publish_pending(db)] == [
        DAY1,
        DAY1 + timedelta(days=1),
        DAY1 + timedelta(days=2),
    ]
    assert publish_pending(db) == []


def test_a_published_day_never_changes_and_late_changes_roll_forward(db):
    bank = customer(db)
    early, late = add_person(db), add_person(db)
    load(db, bank, add=[early.personal_code, late.personal_code])
    rename(db, early, 3)
    end_day(db)
    first = answer(db, bank)

    # Recorded by the register on day 1, reaching the service on day 2.
    rename(db, late, -2, received_hours=1)

    assert answer(db, bank) == first
    end_day(db, DAY2)
    assert [p.current_code for p in answer(db, bank, DAY2)] == [late.personal_code]


def test_contract_scope_hides_other_kinds_and_persons_with_only_those(db):
    telecom = customer(db, "Telecom", to_mask([Kind.NAME, Kind.DEATH]))
    renamed, moved = add_person(db), add_person(db)
    load(db, telecom, add=[renamed.personal_code, moved.personal_code])
    record(
        db,
        event(
            EventType.MARRIAGE,
            at(db, 1),
            renamed.personal_code,
            moved.personal_code,
            date="2026-11-02",
            surnames={moved.personal_code: "Kazlauskienė"},
        ),
        event(
            EventType.DEPARTED_ABROAD,
            at(db, 2),
            renamed.personal_code,
            country="NO",
            since="2026-11-02",
        ),
        received_at=at(db, 2),
    )
    end_day(db)

    (reported,) = answer(db, telecom)
    assert reported.current_code == moved.personal_code
    assert reported.kinds == [Kind.NAME]


def test_several_changes_of_one_person_come_back_once_with_all_kinds(db):
    bank = customer(db)
    person = add_person(db)
    load(db, bank, add=[person.personal_code])
    rename(db, person, 1)
    record(
        db,
        event(
            EventType.DEPARTED_ABROAD,
            at(db, 2),
            person.personal_code,
            country="NO",
            since="2026-11-02",
        ),
        received_at=at(db, 2),
    )
    rename(db, person, 3)
    end_day(db)
    (reported,) = answer(db, bank)
    assert reported.kinds == [Kind.NAME, Kind.DECLARED_RESIDENCE]


def test_a_code_change_is_followed_and_carries_the_previous_code(db):
    bank = customer(db)
    telecom = customer(db, "Telecom", to_mask([Kind.NAME]))
    person = add_person(db)
    load(db, bank, add=[person.personal_code])
    load(db, telecom, add=[person.personal_code])
    replacement = new_code()
    record(
        db,
        event(
            EventType.CODE_REPLACED,
            at(db, 1),
            person.personal_code,
            newCode=replacement,
        ),
        received_at=at(db, 1),
    )
    rename(db, person, 2)
    end_day(db)

    (for_bank,) = answer(db, bank)
    assert (for_bank.personal_code, for_bank.current_code, for_bank.previous_code) == (
        person.personal_code,
        replacement,
        person.personal_code,
    )
    assert for_bank.kinds == [Kind.PERSONAL_CODE, Kind.NAME]
    (for_telecom,) = answer(db, telecom)
    assert for_telecom.previous_code is None
    assert for_telecom.kinds == [Kind.NAME]


def test_pages_are_stable_and_each_person_is_charged_once(db):
    bank = customer(db)
    people = [add_person(db) for _ in range(5)]
    load(db, bank, add=[p.personal_code for p in people])
    for hours, person in enumerate(people, start=1):
        rename(db, person, hours)
    end_day(db)

    first = day_changes(db, bank, DAY1, page_size=2, page_token=None)
    all_persons = answer(db, bank, page_size=2)
    again = answer(db, bank, page_size=3)

    assert first.total == 5
    assert [p.current_code for p in all_persons] == [p.personal_code for p in people]
    assert again == all_persons
    with db.read() as conn:
        (total,) = totals(conn, bank.customer_id)
        count = conn.execute(select(func.count()).select_from(charges)).scalar()
    assert (total.persons, total.cents, count) == (5, 10, 5)


def test_a_day_token_does_not_open_another_day_or_customer(db):
    bank, other = customer(db, "Bank"), customer(db, "Other")
    people = [add_person(db) for _ in range(3)]
    load(db, bank, add=[p.personal_code for p in people])
    for hours, person in enumerate(people, start=1):
        rename(db, person, hours)
    end_day(db)
    end_day(db, DAY2)
    token = day_changes(db, bank, DAY1, page_size=1, page_token=None).next_page_token

    with pytest.raises(InvalidPageToken):
        day_changes(db, bank, DAY2, page_size=1, page_token=token)
    with pytest.raises(InvalidPageToken):
        day_changes(db, other, DAY1, page_size=1, page_token=token)


def test_the_day_of_a_change_is_the_vilnius_day_it_was_recorded(db):
    bank = customer(db)
    person = add_person(db)
    load(db, bank, add=[person.personal_code])
    # 23:30 in Vilnius is 21:30 UTC: still the same day in Vilnius.
    rename(db, person, 23.5)
    end_day(db)
    assert len(answer(db, bank)) == 1
    assert date.fromisoformat("2026-11-02") == DAY1


def test_the_previous_code_is_the_one_before_the_change_the_customer_may_see(db):
    bank = customer(db)
    person = add_person(db)
    second = replace_code(db, person.personal_code, 1)  # before the bank listed B
    move_clock(db, at(db, 2))
    load(db, bank, add=[second])
    third = replace_code(db, second, 1)
    end_day(db)

    (reported,) = answer(db, bank)
    assert (reported.previous_code, reported.current_code) == (second, third)


def test_a_person_is_reported_under_the_code_of_the_latest_stay(db):
    bank = customer(db)
    person = add_person(db)
    load(db, bank, add=[person.personal_code])
    rename(db, person, 1)
    replacement = replace_code(db, person.personal_code, 2)
    move_clock(db, at(db, 3))
    load(db, bank, remove=[replacement])
    load(db, bank, add=[replacement])
    end_day(db)

    (reported,) = answer(db, bank)
    assert reported.personal_code == replacement
