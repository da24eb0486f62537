"""A change recorded before the service began is reported on its first day.

Nothing is ever published before the first day, so a change left on its own
earlier day would never reach a customer.
"""

from __future__ import annotations

import io
from datetime import date, timedelta

from sqlalchemy import select

from conftest import START
from factories import add_person, at, event, record
from regwatch.register.events import EventType
from regwatch.register.export import dump_line, export_persons
from regwatch.register.snapshot import load_snapshot
from regwatch.store.tables import change_log


def _days(db) -> list[date]:
    with db.read() as conn:
        return list(conn.execute(select(change_log.c.day)).scalars())


def test_an_event_recorded_years_before_the_first_day_is_reported_on_it(db):
    person = add_person(db)
    long_ago = START - timedelta(days=3 * 365)

    record(
        db,
        event(
            EventType.DEATH, long_ago, person.personal_code, dateOfDeath="2023-10-01"
        ),
    )

    assert _days(db) == [START.date()]


def test_a_snapshot_recorded_before_the_first_day_is_reported_on_it(db):
    person = add_person(db)
    with db.read() as conn:
        (document,) = list(export_persons(conn))
    document["name"] = {**document["name"], "surname": "Naujienė"}
    with db.write() as conn:
        load_snapshot(
            conn,
            io.BytesIO(dump_line(document).encode() + b"\n"),
            source="old.jsonl",
            recorded_at=START - timedelta(days=40),
            received_at=at(db, 1),
        )

    assert person.personal_code == document["personalCode"]
    assert _days(db) == [START.date()]
