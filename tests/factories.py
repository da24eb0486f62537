"""Small factories: persons, events and customers for tests."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from typing import Any

from regwatch import codes
from regwatch.clock import to_micros
from regwatch.kinds import ALL_MASK
from regwatch.monitoring.customers import add_customer
from regwatch.monitoring.models import Customer
from regwatch.register.events import EventType, RegisterEvent
from regwatch.register.mirror import RecordingSummary, person_row, record_events
from regwatch.register.records import Family, PersonRecord, empty_groups
from regwatch.store.engine import Database, read_simulated_clock, set_simulated_clock
from regwatch.store.tables import personal_codes, persons

_serials = itertools.count(1)
_event_ids = itertools.count(1)

ADDRESS = {
    "municipalityCode": "13",
    "municipality": "Vilniaus miesto savivaldybė",
    "place": "Vilnius",
    "street": "Gedimino pr.",
    "house": "1",
    "flat": None,
    "postalCode": "LT-01103",
}


def new_code(sex: str = "M", born: date = date(1980, 5, 17)) -> str:
    return codes.make_code(sex, born, next(_serials) % 1000)


def add_person(
    db: Database,
    *,
    sex: str = "M",
    born: date = date(1980, 5, 17),
    citizenship: str = "LT",
    surname: str | None = None,
    **groups: Any,
) -> PersonRecord:
    """Insert a person directly into the mirror (no change is recorded)."""
    person_groups = empty_groups()
    person_groups["name"] = {
        "givenNames": "Jonas" if sex == "M" else "Ona",
        "surname": surname or ("Kazlauskas" if sex == "M" else "Kazlauskaitė"),
    }
    person_groups["declaredResidence"] = {
        "status": "DECLARED",
        "since": "2010-01-01",
        "address": dict(ADDRESS),
        "country": None,
    }
    person_groups.update(groups)
    with db.write() as conn:
        person_id = (
            conn.execute(
                persons.select()
                .with_only_columns(persons.c.person_id)
                .order_by(persons.c.person_id.desc())
                .limit(1)
            ).scalar()
            or 0
        ) + 1
        record = PersonRecord(
            person_id=person_id,
            personal_code=new_code(sex, born),
            sex=sex,
            birth_date=born,
            citizenship=citizenship,
            groups=person_groups,
            family=Family(),
        )
        now = to_micros(read_simulated_clock(conn))
        conn.execute(persons.insert().values(**person_row(record, now)))
        conn.execute(
            personal_codes.insert().values(
                code=record.personal_code,
                person_id=person_id,
                assigned_at=now,
                replaced_at=None,
            )
        )
    return record


def event(kind: EventType, at: datetime, *persons_: str, **data: Any) -> RegisterEvent:
    return RegisterEvent(
        event_id=f"test-{next(_event_ids)}",
        type=kind,
        recorded_at=at,
        persons=tuple(persons_),
        data=data,
    )


def customer(db: Database, name: str = "Bank", kinds: int = ALL_MASK) -> Customer:
    created, _secret = add_customer(db, name, kinds=kinds, secret="s3cret-for-tests")
    return created


def move_clock(db: Database, to: datetime) -> None:
    with db.write() as conn:
        set_simulated_clock(conn, to)


def at(db: Database, hours: float) -> datetime:
    """An instant some hours after the database clock."""
    with db.read() as conn:
        return read_simulated_clock(conn) + timedelta(hours=hours)


def record(
    db: Database,
    *events: RegisterEvent,
    received_at: datetime | None = None,
    administrative: bool = False,
) -> RecordingSummary:
    """Record events in one transaction, received when the last one was recorded."""
    received = received_at or max(e.recorded_at for e in events)
    with db.write() as conn:
        return record_events(
            conn, events, received_at=received, administrative=administrative
        )


def replace_code(db: Database, current: str, hours: float) -> str:
    """Give a person a new code, `hours` after the clock; return the new code.

    The new code states the same sex and birth date as the old one.
    """
    replacement = new_code(
        codes.sex(current) or "M", codes.birth_date(current) or date(1980, 5, 17)
    )
    record(
        db, event(EventType.CODE_REPLACED, at(db, hours), current, newCode=replacement)
    )
    return replacement
