"""Recording register events in the mirror and writing the change log.

One call records a batch of events in one transaction: each event is applied in
order of recording time, each touched person's record is compared before and
after, and the differences become change-log rows. Records are written back in
bulk, every few thousand events.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import chain, pairwise

import orjson
import structlog
from sqlalchemy import Connection, Row, bindparam, func, insert, select, update

from regwatch import codes
from regwatch.audit import trail
from regwatch.clock import day_of, from_micros, to_micros
from regwatch.register.changes import kinds_changed
from regwatch.register.events import EventRefused, RegisterEvent, apply_event
from regwatch.register.feed import codes_in_data, event_digest
from regwatch.register.records import Family, PersonRecord
from regwatch.store.engine import (
    FIRST_DAY_KEY,
    MIRROR_LOCK,
    lock_for_writing,
    read_state,
)
from regwatch.store.sql import batches, chunks, insert_tuples, update_tuples
from regwatch.store.tables import (
    change_log,
    feed_batches,
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
        groups=orjson.loads(row.groups),
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
    """The first day a change can still be reported on: the day after the last
    published one, or the service's first day while nothing is published (a
    change recorded before the service began is reported on its first day).
    None only for a database without a first day."""
    last = conn.execute(select(func.max(published_days.c.day))).scalar()
    if last is not None:
        return last + timedelta(days=1)
    first = read_state(conn, FIRST_DAY_KEY)
    return None if first is None else date.fromisoformat(first)


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
    refused: int = 0
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
        self.added: list[int] = []  # new_ids in the order they came, for undo
        self.code_rows: list[dict] = []  # new personal_codes rows
        self.replaced: list[tuple[str, int]] = []  # (old code, replaced_at)
        self.recoded: list[int] = []  # ids of persons given a new code
        self._absent: set[str] = set()  # codes looked up and not found
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
            # Codes nobody has: a birth's or a replacement's new code, usually.
            self._absent.update(c for c in part if c not in self._id_of_code)

    def _touch(self, record: PersonRecord) -> PersonRecord:
        if record.person_id not in self._before:
            self._before[record.person_id] = record.copy()
        return record

    def person(self, code: str) -> PersonRecord:
        if code not in self._id_of_code and code not in self._absent:
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
        if code in self._absent:
            return
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
        self.added.append(record.person_id)
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
        # A code is replaced when what it states was wrong (a birth date, a
        # sex): the record takes what the new code states, so that it never
        # contradicts its own code. An exception code states nothing.
        record.sex = codes.sex(new_code) or record.sex
        record.birth_date = codes.birth_date(new_code) or record.birth_date
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
        self.recoded.append(record.person_id)

    # -- one event --------------------------------------------------------------

    def apply(self, event: RegisterEvent) -> list[tuple[PersonRecord, PersonRecord]]:
        """Apply an event; return (before, after) of each existing person it changed.

        A refused event leaves every record as it was.
        """
        self._before = {}
        self._event_at = to_micros(event.recorded_at)
        marks = (
            len(self.code_rows),
            len(self.replaced),
            len(self.recoded),
            len(self.added),
        )
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
        # Persons this very event created are new, not changed; one created by
        # an earlier event of the batch and changed now is an ordinary change.
        created = set(self.added[marks[3] :])
        pairs = [
            (before, self._by_id[person_id])
            for person_id, before in self._before.items()
            if person_id not in created
        ]
        self.dirty.update(self._before)  # the keys: person ids
        return pairs

    def _undo(self, code_rows: int, replaced: int, recoded: int, added: int) -> None:
        for person_id, before in self._before.items():
            self._by_id[person_id] = before
        for row in self.code_rows[code_rows:]:
            self._id_of_code.pop(row["code"], None)
        for person_id in self.added[added:]:
            del self._by_id[person_id]
            self.new_ids.discard(person_id)
        del self.code_rows[code_rows:]
        del self.replaced[replaced:]
        del self.recoded[recoded:]
        del self.added[added:]

    # -- writing back -------------------------------------------------------------

    def flush(self) -> None:
        now = self._now
        new_rows = [person_row(self._by_id[i], now) for i in sorted(self.new_ids)]
        if new_rows:
            self._conn.execute(insert(persons), new_rows)
        # Only the columns that changed go into the SET: a personal_code in the
        # SET clause would make the database rewrite its unique-index entry for
        # every row, though only a code replacement changes it.
        changed = [
            (
                record.died_on,
                record.groups_json(),
                record.family.to_json(),
                now,
                record.person_id,
            )
            for record in (self._by_id[i] for i in sorted(self.dirty))
            if record.person_id not in self.new_ids
        ]
        update_tuples(
            self._conn,
            persons,
            ("died_on", "groups", "family", "updated_at"),
            "person_id",
            changed,
        )
        recoded = [
            (record.personal_code, record.sex, record.birth_date, now, record.person_id)
            for record in (
                self._by_id[person_id]
                for person_id in sorted(set(self.recoded) - self.new_ids)
            )
        ]
        update_tuples(
            self._conn,
            persons,
            ("personal_code", "sex", "birth_date", "updated_at"),
            "person_id",
            recoded,
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


def note_feed_batch(
    conn: Connection,
    *,
    kind: str,
    source: str,
    administrative: bool,
    received_at: datetime,
    recorded_at: datetime | None = None,
    **counts: int,
) -> None:
    """One row of the feed log: a feed taken in, and what became of it; and
    its audit record (the persons it changed are in the change log).

    ``counts``: lines, applied, duplicates, refused, changes, new_persons,
    missing (those not given are 0). Called at the end of the feed's
    transaction, so the audit trail's head is held only while it commits.
    """
    figures = dict.fromkeys(FEED_COUNTS, 0)
    unknown = set(counts) - set(FEED_COUNTS)
    if unknown:
        raise TypeError(f"not counts of a feed: {sorted(unknown)}")
    figures.update(counts)
    conn.execute(
        insert(feed_batches).values(
            kind=kind,
            source=source[:400],
            administrative=administrative,
            received_at=to_micros(received_at),
            recorded_at=None if recorded_at is None else to_micros(recorded_at),
            **figures,
        )
    )
    trail.append(
        conn,
        received_at,
        "TakeFeed",
        customer_id=None,
        actor=trail.OPERATOR,
        persons=figures["changes"],
        detail={
            "kind": kind,
            "source": source[:400],
            "administrative": administrative,
            "recorded_at": None if recorded_at is None else to_micros(recorded_at),
            **figures,
        },
    )


FEED_COUNTS = (
    "lines",
    "applied",
    "duplicates",
    "refused",
    "changes",
    "new_persons",
    "missing",
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
    """Record events, in any order, in the mirror and their changes in the log.

    The events are put in recording order first; see ``record_stream``. A
    refused event raises EventRefused.
    """
    return record_stream(
        conn,
        sorted(events, key=recording_order),
        received_at=received_at,
        administrative=administrative,
    )


def recording_order(event: RegisterEvent) -> tuple[datetime, str]:
    return event.recorded_at, event.event_id


def record_stream(
    conn: Connection,
    events: Iterable[RegisterEvent],
    *,
    received_at: datetime,
    administrative: bool = False,
    on_refused: Callable[[RegisterEvent, str], None] | None = None,
    digest_of: Callable[[RegisterEvent], str] = event_digest,
) -> RecordingSummary:
    """Record a stream of events, already in recording order, in the mirror.

    Each event is applied to the records it concerns, and the differences of
    each record before and after become change-log rows (administrative ones
    when the batch is a register clean-up). An event id seen before with the
    same content is skipped, so the same feed twice changes nothing the second
    time; the same id with other content is refused.

    A refused event leaves the mirror as it was. Without ``on_refused`` it
    raises EventRefused (the caller's transaction then drops the whole batch);
    with it, the refusal is handed over and the stream goes on. The stream is
    taken CHUNK events at a time, so that a clean-up day of hundreds of
    thousands of events goes through in bounded memory. ``digest_of`` gives an
    event's content digest; a reader that hashed the lines already passes its
    own lookup.
    """
    lock_for_writing(conn, MIRROR_LOCK)
    if conn.dialect.name == "sqlite":
        # A busy day rewrites tens of thousands of scattered pages; with the
        # default 2 MB page cache they spill to the WAL over and over. The
        # cache grows only as pages are used, so small feeds cost nothing.
        conn.exec_driver_sql(f"PRAGMA cache_size = -{WRITE_CACHE_KIB}")
    batch = _Batch(conn, to_micros(received_at), administrative, on_refused, digest_of)
    previous: tuple[datetime, str] | None = None
    with fewer_collections():
        for part in batches(events, CHUNK):
            first = recording_order(part[0])
            if previous is not None and first < previous:
                raise ValueError("events must come in recording order")
            for before, after in pairwise(part):
                if recording_order(after) < recording_order(before):
                    raise ValueError("events must come in recording order")
            previous = recording_order(part[-1])
            batch.record(part)
    summary = batch.summary
    if summary.applied or summary.duplicates or summary.refused:
        log.debug(
            "events_recorded",
            applied=summary.applied,
            duplicates=summary.duplicates,
            refused=summary.refused,
            changes=summary.changes,
            new_persons=summary.new_persons,
            administrative=administrative,
        )
    return summary


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Let the cyclic garbage collector run less often while a feed is applied.

    A chunk of events or snapshot lines makes tens of thousands of small dicts
    that live until it is written; each full collection walks them all again,
    which cost a quarter to a third of the time of a load. Records hold no
    cycles, so reference counting frees them either way.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(200_000, thresholds[1], thresholds[2])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


class _Batch:
    """One call of record_stream: what stays the same from chunk to chunk."""

    def __init__(
        self,
        conn: Connection,
        received: int,
        administrative: bool,
        on_refused: Callable[[RegisterEvent, str], None] | None,
        digest_of: Callable[[RegisterEvent], str],
    ) -> None:
        self.conn = conn
        self.digest_of = digest_of
        self.received = received
        self.administrative = administrative
        self.on_refused = on_refused
        self.open_day = first_open_day(conn)
        self.summary = RecordingSummary()

    def refuse(self, event: RegisterEvent, reason: str) -> None:
        self.summary.refused += 1
        if self.on_refused is None:
            raise EventRefused(f"event {event.event_id}: {reason}")
        self.on_refused(event, reason)

    def record(self, events: Sequence[RegisterEvent]) -> None:
        conn, summary = self.conn, self.summary
        events = self._drop_known(events)
        workspace = MirrorWorkspace(conn, self.received)
        workspace.prefetch(
            code
            for event in events
            for code in chain(
                event.persons, (c for _, c in codes_in_data(event.type, event.data))
            )
        )
        change_rows, applied = [], []
        for event in events:
            try:
                pairs = workspace.apply(event)
            except EventRefused as refusal:
                self.refuse(event, str(refusal))
                continue
            applied.append(event)
            day = report_day(event.recorded_at, self.open_day)
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
                        self.received,
                        day,
                        mask,
                        previous if previous != after.personal_code else None,
                        event.event_id,
                        self.administrative,
                    )
                )
                summary.days[day] = summary.days.get(day, 0) + 1
        workspace.flush()
        insert_tuples(conn, change_log, CHANGE_COLUMNS, change_rows)
        insert_tuples(
            conn,
            register_events,
            ("event_id", "type", "recorded_at", "received_at", "digest"),
            [
                (
                    e.event_id,
                    e.type.value,
                    to_micros(e.recorded_at),
                    self.received,
                    self.digest_of(e),
                )
                for e in applied
            ],
        )
        summary.applied += len(applied)
        summary.changes += len(change_rows)
        summary.new_persons += len(workspace.new_ids)

    def _drop_known(self, events: Sequence[RegisterEvent]) -> list[RegisterEvent]:
        """The events not recorded before; an old id with new content is refused."""
        ids = sorted({event.event_id for event in events})
        known: dict[str, str | None] = {}
        for part in chunks(ids):
            known.update(
                self.conn.execute(
                    select(register_events.c.event_id, register_events.c.digest).where(
                        register_events.c.event_id.in_(part)
                    )
                ).all()
            )
        fresh, seen = [], set()
        for event in events:
            if event.event_id in seen:
                self.summary.duplicates += 1
                continue
            seen.add(event.event_id)
            if event.event_id not in known:
                fresh.append(event)
                continue
            digest = known[event.event_id]
            if digest is None or digest == self.digest_of(event):
                self.summary.duplicates += 1
            else:
                self.refuse(
                    event,
                    f"event id {event.event_id} was recorded before with other content",
                )
        return fresh


CHUNK = 5_000
WRITE_CACHE_KIB = 256 * 1024
CHANGE_COLUMNS = (
    "person_id",
    "recorded_at",
    "received_at",
    "day",
    "kinds",
    "previous_code",
    "event_id",
    "administrative",
)
