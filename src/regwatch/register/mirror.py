"""Recording register events in the mirror and writing the change log.

One call records a batch of events in one transaction: each event is applied in
order of recording time, each touched person's record is compared before and
after, and the differences become change-log rows. Records are written back in
bulk, every few thousand events.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import structlog
from sqlalchemy import Connection, Row, bindparam, func, insert, select, update

from regwatch import codes
from regwatch.clock import day_of, from_micros, to_micros
from regwatch.register.changes import kinds_changed
from regwatch.register.events import EventRefused, RegisterEvent, apply_event
from regwatch.register.records import Family, PersonRecord
from regwatch.store.engine import MIRROR_LOCK, lock_for_writing
from regwatch.store.sql import chunks, insert_tuples
from regwatch.store.tables import (
    change_log,
    personal_codes,
    persons,
    published_days,
    register_events,
)

log = structlog.get_logger(__name__)


def record_from_row(row: Row) -> PersonRecord:
    return PersonRecord(
        person_id=row.person_id,
        personal_code=row.personal_code,
        sex=row.sex,
        birth_date=row.birth_date,
        citizenship=row.citizenship,
        groups=json.loads(row.groups),
        family=Family.from_json(row.family),
    )


def person_row(record: PersonRecord, now_micros: int) -> dict:
    return {
        "person_id": record.person_id,
        "personal_code": record.personal_code,
        "sex": record.sex,
        "birth_date": record.birth_date,
        "citizenship": record.citizenship,
        "died_on": record.died_on,
        "groups": record.groups_json(),
        "family": record.family.to_json(),
        "updated_at": now_micros,
    }


def first_open_day(conn: Connection) -> date | None:
    """The first day not yet published, or None when nothing is published."""
    last = conn.execute(select(func.max(published_days.c.day))).scalar()
    return None if last is None else last + timedelta(days=1)


def report_day(recorded_at: datetime, open_day: date | None) -> date:
    """The day a change is reported on: its own, or the first open one if later."""
    day = day_of(recorded_at)
    return day if open_day is None or day >= open_day else open_day


@dataclass
class RecordingSummary:
    applied: int = 0
    duplicates: int = 0
    changes: int = 0
    new_persons: int = 0
    days: dict[date, int] = field(default_factory=dict)


class MirrorWorkspace:
    """The Workspace of events.py over a database connection, batch-cached."""

    def __init__(self, conn: Connection, now_micros: int) -> None:
        self._conn = conn
        self._now = now_micros
        self._by_id: dict[int, PersonRecord] = {}
        self._id_of_code: dict[str, int] = {}
        self._next_id = (
            conn.execute(select(func.max(persons.c.person_id))).scalar() or 0
        ) + 1
        self.new_ids: set[int] = set()
        self.code_rows: list[dict] = []  # new personal_codes rows
        self.replaced: list[tuple[str, int]] = []  # (old code, replaced_at)
        self._before: dict[int, PersonRecord] = {}
        self._event_at = now_micros
        # The ids of the records the batch's events touched, for flush().
        self.dirty: set[int] = set()

    # -- loading --------------------------------------------------------------

    def prefetch(self, codes_wanted: Iterable[str]) -> None:
        wanted = sorted({c for c in codes_wanted if c not in self._id_of_code})
        for part in chunks(wanted):
            rows = self._conn.execute(
                select(personal_codes.c.code, persons)
                .join(persons, persons.c.person_id == personal_codes.c.person_id)
                .where(personal_codes.c.code.in_(part))
            )
            for row in rows:
                self._id_of_code[row.code] = row.person_id
                if row.person_id not in self._by_id:
                    self._by_id[row.person_id] = record_from_row(row)

    def _touch(self, record: PersonRecord) -> PersonRecord:
        if record.person_id not in self._before:
            self._before[record.person_id] = record.copy()
        return record

    def person(self, code: str) -> PersonRecord:
        if code not in self._id_of_code:
            self.prefetch([code])
        person_id = self._id_of_code.get(code)
        if person_id is None:
            raise EventRefused(f"no person with code {code} in the register")
        return self.person_by_id(person_id)

    def person_by_id(self, person_id: int) -> PersonRecord:
        record = self._by_id.get(person_id)
        if record is None:
            row = self._conn.execute(
                select(persons).where(persons.c.person_id == person_id)
            ).one_or_none()
            if row is None:
                raise EventRefused(f"no person with id {person_id} in the register")
            record = self._by_id[person_id] = record_from_row(row)
        return self._touch(record)

    # -- changing -------------------------------------------------------------

    def _claim_code(self, code: str, event_day: date) -> None:
        check = codes.check_code(code, today=event_day)
        if not check.valid:
            raise EventRefused(f"personal code {code!r}: {check.message}")
        if code in self._id_of_code:
            raise EventRefused(f"personal code {code} already belongs to a person")
        exists = self._conn.execute(
            select(personal_codes.c.person_id).where(personal_codes.c.code == code)
        ).first()
        if exists is not None:
            raise EventRefused(f"personal code {code} already belongs to a person")

    def add_person(self, record: PersonRecord) -> PersonRecord:
        self._claim_code(record.personal_code, day_of_micros(self._event_at))
        record.person_id = self._next_id
        self._next_id += 1
        self._by_id[record.person_id] = record
        self._id_of_code[record.personal_code] = record.person_id
        self.new_ids.add(record.person_id)
        self.code_rows.append(
            {
                "code": record.personal_code,
                "person_id": record.person_id,
                "assigned_at": self._event_at,
                "replaced_at": None,
            }
        )
        return record

    def replace_code(self, record: PersonRecord, new_code: str) -> None:
        self._claim_code(new_code, day_of_micros(self._event_at))
        old = record.personal_code
        self._touch(record)
        record.personal_code = new_code
        self._id_of_code[new_code] = record.person_id
        self.code_rows.append(
            {
                "code": new_code,
                "person_id": record.person_id,
                "assigned_at": self._event_at,
                "replaced_at": None,
            }
        )
        self.replaced.append((old, self._event_at))

    # -- one event --------------------------------------------------------------

    def apply(self, event: RegisterEvent) -> list[tuple[PersonRecord, PersonRecord]]:
        """Apply an event; return (before, after) of each existing person it changed.

        A refused event leaves every record as it was.
        """
        self._before = {}
        self._event_at = to_micros(event.recorded_at)
        marks = (len(self.code_rows), len(self.replaced), set(self.new_ids))
        try:
            apply_event(self, event)
        except EventRefused:
            self._undo(*marks)
            raise
        except (KeyError, TypeError, AttributeError, ValueError) as error:
            # Data of an unexpected shape: a refusal, never a crash half-way.
            self._undo(*marks)
            raise EventRefused(
                f"malformed {event.type.value} data: {error!r}"
            ) from None
        pairs = []
        for person_id, before in self._before.items():
            if person_id in self.new_ids:
                continue
            pairs.append((before, self._by_id[person_id]))
        self.dirty.update(self._before)  # the keys: person ids
        return pairs

    def _undo(self, code_rows: int, replaced: int, new_ids: set[int]) -> None:
        for person_id, before in self._before.items():
            self._by_id[person_id] = before
        for row in self.code_rows[code_rows:]:
            self._id_of_code.pop(row["code"], None)
        for person_id in self.new_ids - new_ids:
            del self._by_id[person_id]
        del self.code_rows[code_rows:]
        del self.replaced[replaced:]
        self.new_ids = new_ids

    # -- writing back -------------------------------------------------------------

    def flush(self) -> None:
        now = self._now
        new_rows = [person_row(self._by_id[i], now) for i in sorted(self.new_ids)]
        if new_rows:
            self._conn.execute(insert(persons), new_rows)
        # Only the columns a record can change: naming person_id in the SET
        # would make SQLite check every table that refers to persons.
        changed = [
            {
                "b_person_id": record.person_id,
                "personal_code": record.personal_code,
                "died_on": record.died_on,
                "groups": record.groups_json(),
                "family": record.family.to_json(),
                "updated_at": now,
            }
            for record in (self._by_id[i] for i in sorted(self.dirty))
            if record.person_id not in self.new_ids
        ]
        if changed:
            self._conn.execute(
                update(persons)
                .where(persons.c.person_id == bindparam("b_person_id"))
                .values(
                    personal_code=bindparam("personal_code"),
                    died_on=bindparam("died_on"),
                    groups=bindparam("groups"),
                    family=bindparam("family"),
                    updated_at=bindparam("updated_at"),
                ),
                changed,
            )
        if self.code_rows:
            self._conn.execute(insert(personal_codes), self.code_rows)
        if self.replaced:
            self._conn.execute(
                update(personal_codes)
                .where(personal_codes.c.code == bindparam("old"))
                .values(replaced_at=bindparam("at")),
                [{"old": old, "at": at} for old, at in self.replaced],
            )


def day_of_micros(micros: int) -> date:
    return day_of(from_micros(micros))


def record_events(
    conn: Connection,
    events: Iterable[RegisterEvent],
    *,
    received_at: datetime,
    administrative: bool = False,
) -> RecordingSummary:
    """Record events in the mirror and their changes in the change log.

    Events are applied in order of recording time. An event id seen before is
    skipped, so the same feed twice changes nothing the second time. A refused
    event raises EventRefused and, the caller's transaction being rolled back,
    nothing of the batch stays. Records are written back every CHUNK events, so
    that a clean-up day of hundreds of thousands of events fits in memory.
    """
    lock_for_writing(conn, MIRROR_LOCK)
    received = to_micros(received_at)
    batch = sorted(events, key=lambda e: (e.recorded_at, e.event_id))
    summary = RecordingSummary()
    batch = _drop_known(conn, batch, summary)
    open_day = first_open_day(conn)
    for part in chunks(batch):
        _record_chunk(conn, part, received, open_day, summary, administrative)
    if batch:
        insert_tuples(
            conn,
            register_events,
            ("event_id", "type", "recorded_at", "received_at"),
            [
                (e.event_id, e.type.value, to_micros(e.recorded_at), received)
                for e in batch
            ],
        )
        log.info(
            "events_recorded",
            applied=summary.applied,
            duplicates=summary.duplicates,
            changes=summary.changes,
            new_persons=summary.new_persons,
        )
    return summary


def _record_chunk(
    conn: Connection,
    events: Sequence[RegisterEvent],
    received: int,
    open_day: date | None,
    summary: RecordingSummary,
    administrative: bool,
) -> None:
    workspace = MirrorWorkspace(conn, received)
    workspace.prefetch(code for event in events for code in event.persons)
    change_rows = []
    for event in events:
        try:
            pairs = workspace.apply(event)
        except EventRefused as refusal:
            raise EventRefused(f"event {event.event_id}: {refusal}") from None
        day = report_day(event.recorded_at, open_day)
        recorded = to_micros(event.recorded_at)
        for before, after in pairs:
            mask = kinds_changed(before, after)
            if not mask:
                continue
            previous = before.personal_code
            change_rows.append(
                (
                    after.person_id,
                    recorded,
                    received,
                    day,
                    mask,
                    previous if previous != after.personal_code else None,
                    event.event_id,
                    administrative,
                )
            )
            summary.days[day] = summary.days.get(day, 0) + 1
        summary.applied += 1

    workspace.flush()
    insert_tuples(
        conn,
        change_log,
        (
            "person_id",
            "recorded_at",
            "received_at",
            "day",
            "kinds",
            "previous_code",
            "event_id",
            "administrative",
        ),
        change_rows,
    )
    summary.changes += len(change_rows)
    summary.new_persons += len(workspace.new_ids)


def _drop_known(
    conn: Connection, batch: list[RegisterEvent], summary: RecordingSummary
) -> list[RegisterEvent]:
    ids = [event.event_id for event in batch]
    known: set[str] = set()
    for part in chunks(sorted(set(ids))):
        known.update(
            conn.execute(
                select(register_events.c.event_id).where(
                    register_events.c.event_id.in_(part)
                )
            ).scalars()
        )
    fresh, seen = [], set()
    for event in batch:
        if event.event_id in known or event.event_id in seen:
            summary.duplicates += 1
            continue
        seen.add(event.event_id)
        fresh.append(event)
    return fresh
