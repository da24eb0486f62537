"""Dates an event gives must fall in the lives of the persons it concerns."""

from __future__ import annotations

from datetime import date

import pytest

from factories import add_person, at, event, record
from regwatch.register.events import EventRefused, EventType


def test_a_death_before_the_birth_is_refused(db):
    person = add_person(db, born=date(1991, 6, 1))
    with pytest.raises(
        EventRefused,
        match=r"dateOfDeath 1800-01-01 is before \d{11} was born \(1991-06-01\)",
    ):
        record(
            db,
            event(
                EventType.DEATH,
                at(db, 1),
                person.personal_code,
                dateOfDeath="1800-01-01",
            ),
        )


def test_a_death_after_the_day_it_was_recorded_is_refused(db):
    person = add_person(db)
    with pytest.raises(
        EventRefused, match="dateOfDeath 2027-01-01 is after the day it was recorded"
    ):
        record(
            db,
            event(
                EventType.DEATH,
                at(db, 1),
                person.personal_code,
                dateOfDeath="2027-01-01",
            ),
        )


def test_a_marriage_before_a_spouse_was_born_is_refused(db):
    bride = add_person(db, sex="F", born=date(1996, 2, 2))
    groom = add_person(db, born=date(1988, 3, 3))
    with pytest.raises(
        EventRefused, match=r"date 1900-01-01 is before \d{11} was born"
    ):
        record(
            db,
            event(
                EventType.MARRIAGE,
                at(db, 1),
                bride.personal_code,
                groom.personal_code,
                date="1900-01-01",
            ),
        )
