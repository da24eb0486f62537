"""Small databases for the generator's tests, and ways to read them back."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from regwatch.clock import VILNIUS, day_of, to_micros
from regwatch.register.mirror import record_from_row
from regwatch.register.records import PersonRecord
from regwatch.register.synth import generate_register
from regwatch.store.engine import CLOCK_KEY, Database, make_engine
from regwatch.store.tables import (
    change_log,
    metadata,
    personal_codes,
    persons,
    register_events,
    service_state,
)

START = datetime(2026, 3, 2, 9, 30, tzinfo=VILNIUS)  # a Monday morning
TODAY = day_of(START)


def new_database(url: str, clock: datetime | None = START) -> Database:
    """An empty mirror at ``url``, on a simulated clock unless None."""
    engine = make_engine(url)
    metadata.create_all(engine)
    if clock is not None:
        with engine.begin() as conn:
            conn.execute(
                service_state.insert().values(
                    key=CLOCK_KEY, value=str(to_micros(clock))
                )
            )
    return Database(engine)


def generated_database(
    url: str, persons_wanted: int = 3_000, seed: int = 7
) -> Database:
    db = new_database(url)
    generate_register(db, persons_wanted, seed, start=START)
    return db


def dump(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the generator and the simulation write, in a stable order."""
    tables = {
        "persons": (persons, persons.c.person_id),
        "personal_codes": (personal_codes, personal_codes.c.code),
        "change_log": (change_log, change_log.c.change_id),
        "register_events": (register_events, register_events.c.event_id),
    }
    with db.read() as conn:
        return {
            name: [tuple(row) for row in conn.execute(select(table).order_by(key))]
            for name, (table, key) in tables.items()
        }


def records(db: Database) -> dict[int, PersonRecord]:
    with db.read() as conn:
        return {
            row.person_id: record_from_row(row)
            for row in conn.execute(select(persons).order_by(persons.c.person_id))
        }


def age(record: PersonRecord, on: date = TODAY) -> int:
    born = record.birth_date
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))
