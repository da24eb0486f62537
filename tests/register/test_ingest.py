"""Event files through ingest_events: refused whole, skipped line by line, fed
twice, out of order, late, administrative, and read from a pipe."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

import orjson
import pytest
from sqlalchemy import select

from conftest import START
from factories import add_person, at, event, move_clock, new_code, record
from regwatch.clock import to_micros
from regwatch.kinds import Kind, from_mask
from regwatch.monitoring.days import publish_pending
from regwatch.register.events import EventType, RegisterEvent
from regwatch.register.feed import (
    FeedRefused,
    Problem,
    event_line,
    event_to_object,
)
from regwatch.register.ingest import IngestReport, ingest_events
from regwatch.register.mirror import record_from_row
from regwatch.register.records import PersonRecord
from regwatch.store.engine import Database
from regwatch.store.tables import (
    change_log,
    feed_batches,
    personal_codes,
    persons,
    register_events,
)

SOURCE = "feed.jsonl"
DAY1 = START.date()
DAY2 = DAY1 + timedelta(days=1)
TYPES = [kind.value for kind in EventType]


def ingest(
    db: Database,
    *lines: bytes,
    received_at: datetime | None = None,
    stream: io.IOBase | None = None,
    **options: bool,
) -> IngestReport:
    """Feed lines (or a stream) in one transaction, as the CLI does."""
    received = received_at or at(db, 23)
    with db.write() as conn:
        return ingest_events(
            conn,
            stream or io.BytesIO(b"".join(lines)),
            source=SOURCE,
            received_at=received,
            **options,
        )


def state(db: Database) -> dict[str, list[tuple]]:
    """Every row an ingest may write."""
    tables = {
        "persons": (persons, persons.c.person_id),
        "personal_codes": (personal_codes, personal_codes.c.code),
        "change_log": (change_log, change_log.c.change_id),
        "register_events": (register_events, register_events.c.event_id),
        "feed_batches": (feed_batches, feed_batches.c.batch_id),
    }
    with db.read() as conn:
        return {
            name: [tuple(row) for row in conn.execute(select(table).order_by(key))]
            for name, (table, key) in tables.items()
        }


def refusal(db: Database, *lines: bytes) -> FeedRefused:
    """The refusal of a file, after checking that it left every table as it was."""
    before = state(db)
    with pytest.raises(FeedRefused) as caught:
        ingest(db, *lines)
    assert state(db) == before
    return caught.value


class Change(NamedTuple):
    person_id: int
    recorded_at: int
    day: date
    kinds: set[Kind]
    event_id: str
    administrative: bool


def changes(db: Database) -> list[Change]:
    """The change log in the order it was written."""
    with db.read() as conn:
        rows = conn.execute(
            select(
                change_log.c.person_id,
                change_log.c.recorded_at,
                change_log.c.day,
                change_log.c.kinds,
                change_log.c.event_id,
                change_log.c.administrative,
            ).order_by(change_log.c.change_id)
        ).all()
    return [
        Change(person, recorded, day, set(from_mask(kinds)), event_id, administrative)
        for person, recorded, day, kinds, event_id, administrative in rows
    ]


def reload(db: Database, person: PersonRecord) -> PersonRecord:
    with db.read() as conn:
        row = conn.execute(
            select(persons).where(persons.c.person_id == person.person_id)
        ).one()
    return record_from_row(row)


def renamed(
    db: Database, person: PersonRecord, hours: float, surname: str
) -> RegisterEvent:
    return event(
        EventType.NAME_CHANGE, at(db, hours), person.personal_code, surname=surname
    )


def text(line: bytes) -> str:
    return line.rstrip(b"\n").decode()


def without(event_: RegisterEvent, key: str) -> bytes:
    line = event_to_object(event_)
    del line[key]
    return orjson.dumps(line) + b"\n"


def with_value(event_: RegisterEvent, key: str, value: object) -> bytes:
    return orjson.dumps({**event_to_object(event_), key: value}) + b"\n"


# --- a file with one bad line is refused whole ----------------------------------------


def _unknown_person(db, person):
    stranger = new_code()
    line = event_line(
        event(EventType.NAME_CHANGE, at(db, 2), stranger, surname="Niekas")
    )
    return line, re.escape(f"no person with code {stranger} in the register")


def _impossible_date(db, person):
    line = event_line(
        event(
            EventType.DEATH, at(db, 2), person.personal_code, dateOfDeath="2026-02-30"
        )
    )
    return line, re.escape("data.dateOfDeath '2026-02-30' is not a real date")


def _bad_check_digit(db, person):
    code = person.personal_code
    wrong = code[:10] + str((int(code[10]) + 1) % 10)
    line = event_line(event(EventType.NAME_CHANGE, at(db, 2), wrong, surname="X"))
    return line, re.escape(
        f"persons[0] {wrong!r} is not a valid personal code: "
        f"check digit (digit 11) is {wrong[10]}, expected {code[10]}"
    )


def _unknown_type(db, person):
    line = with_value(renamed(db, person, 2, "X"), "type", "BAPTISM")
    return line, re.escape(f"type must be one of {TYPES}")


def _broken_line(db, person):
    return b'{"formatVersion": 1, "eventId": "cut-short"\n', "not JSON: .+"


def _json_array(db, person):
    return b'[1, "two", 3]\n', re.escape("a line must be a JSON object, not an array")


def _json_string(db, person):
    return b'"an event"\n', re.escape("a line must be a JSON object, not a string")


def _missing_field(db, person):
    line = without(renamed(db, person, 2, "X"), "recordedAt")
    return line, re.escape("the line must contain ['recordedAt'] properties")


def _wrong_format_version(db, person):
    line = with_value(renamed(db, person, 2, "X"), "formatVersion", 2)
    return line, re.escape("formatVersion must be 1")


REFUSALS: dict[str, Callable] = {
    "unknown person": _unknown_person,
    "impossible date": _impossible_date,
    "bad check digit": _bad_check_digit,
    "unknown type": _unknown_type,
    "broken line": _broken_line,
    "JSON array": _json_array,
    "JSON string": _json_string,
    "missing field": _missing_field,
    "wrong formatVersion": _wrong_format_version,
}


@pytest.mark.parametrize("make", REFUSALS.values(), ids=REFUSALS.keys())
def test_one_bad_line_refuses_the_file_naming_its_line_and_nothing_is_applied(db, make):
    person, other = add_person(db), add_person(db, sex="F")
    bad, reason = make(db, person)
    good_before = event_line(renamed(db, person, 1, "Pirmas"))
    good_after = event_line(renamed(db, other, 3, "Trečia"))

    refused = refusal(db, good_before, b"\n", bad, good_after)

    (problem,) = refused.problems
    assert (problem.line, problem.text) == (3, text(bad))
    assert re.fullmatch(reason, problem.reason), problem.reason
    assert refused.total == 1
    assert str(refused) == (
        f"event file {SOURCE} refused, nothing applied: 1 problem(s)\n"
        f"line 3: {problem.reason}"
    )
    assert reload(db, person).groups["name"]["surname"] == "Kazlauskas"


def test_an_event_id_used_twice_in_the_file_for_other_content_is_refused(db):
    person = add_person(db)
    first = renamed(db, person, 1, "Pirmas")
    other = RegisterEvent(
        first.event_id, first.type, first.recorded_at, first.persons, {"surname": "X"}
    )

    refused = refusal(
        db,
        event_line(first),
        event_line(renamed(db, person, 2, "B")),
        event_line(other),
    )

    assert refused.problems == [
        Problem(
            3,
            f"event id {first.event_id} is used on line 1 for another event",
            text(event_line(other)),
        )
    ]


def test_an_event_id_recorded_before_with_other_content_is_refused(db):
    person = add_person(db)
    first = renamed(db, person, 1, "Pirmas")
    ingest(db, event_line(first))
    other = RegisterEvent(
        first.event_id, first.type, first.recorded_at, first.persons, {"surname": "X"}
    )

    refused = refusal(db, event_line(renamed(db, person, 2, "B")), event_line(other))

    assert refused.problems == [
        Problem(
            2,
            f"event id {first.event_id} was recorded before with other content",
            text(event_line(other)),
        )
    ]
    assert reload(db, person).groups["name"]["surname"] == "Pirmas"


def test_every_problem_of_a_file_is_listed_in_line_order(db):
    person = add_person(db)
    stranger = new_code()
    # Line 1 is refused only when applied (second pass), lines 3 and 4 when read
    # (first pass): the listing is still by line.
    lines = [
        event_line(event(EventType.NAME_CHANGE, at(db, 5), stranger, surname="N")),
        event_line(renamed(db, person, 1, "Geras")),
        b"not json at all\n",
        with_value(renamed(db, person, 2, "X"), "formatVersion", "1"),
    ]

    refused = refusal(db, *lines)

    assert [p.line for p in refused.problems] == [1, 3, 4]
    assert (
        refused.problems[0].reason == f"no person with code {stranger} in the register"
    )
    assert refused.total == 3
    assert str(refused).splitlines()[0] == (
        f"event file {SOURCE} refused, nothing applied: 3 problem(s)"
    )
    assert [line.split(":")[0] for line in str(refused).splitlines()[1:]] == [
        "line 1",
        "line 3",
        "line 4",
    ]


def test_the_listing_stops_at_one_hundred_problems_but_all_are_counted(db):
    person = add_person(db)
    lines = [event_line(renamed(db, person, 1, "Geras"))]
    lines += [b"{broken\n"] * 150

    refused = refusal(db, *lines)

    assert [p.line for p in refused.problems] == list(range(2, 102))
    assert refused.total == 150
    listed = str(refused).splitlines()
    assert listed[0] == f"event file {SOURCE} refused, nothing applied: 150 problem(s)"
    assert len(listed) == 1 + 100 + 1
    assert listed[-1] == "... and 50 more"


# --- --skip-invalid -------------------------------------------------------------------


def test_skipping_invalid_lines_applies_the_good_ones_and_hands_back_the_rest(db):
    first, second = add_person(db), add_person(db, sex="F")
    stranger = new_code()
    unknown = event_line(
        event(EventType.NAME_CHANGE, at(db, 2), stranger, surname="Niekas")
    )
    lines = [
        event_line(renamed(db, first, 1, "Pirmas")),
        b"{broken\n",
        unknown,
        event_line(renamed(db, second, 3, "Antra")),
    ]

    report = ingest(db, *lines, skip_invalid=True)

    assert (report.lines, report.applied, report.refused, report.changes) == (
        4,
        2,
        2,
        2,
    )
    assert [(p.line, p.text) for p in report.rejected] == [
        (2, "{broken"),
        (3, text(unknown)),
    ]
    assert report.rejected[0].reason.startswith("not JSON: ")
    assert (
        report.rejected[1].reason == f"no person with code {stranger} in the register"
    )
    assert reload(db, first).groups["name"]["surname"] == "Pirmas"
    assert reload(db, second).groups["name"]["surname"] == "Antra"
    assert [c.person_id for c in changes(db)] == [first.person_id, second.person_id]
    with db.read() as conn:
        batch = conn.execute(select(feed_batches)).one()
    assert (batch.lines, batch.applied, batch.refused, batch.kind) == (
        4,
        2,
        2,
        "events",
    )


def test_skipping_keeps_every_refused_line_beyond_the_listing_limit(db):
    report = ingest(db, *[b"[]\n"] * 130, skip_invalid=True)

    assert (report.applied, report.refused) == (0, 130)
    assert [p.line for p in report.rejected] == list(range(1, 131))


# --- the same file twice --------------------------------------------------------------


def test_the_same_file_twice_changes_nothing_the_second_time(db):
    husband, wife = add_person(db), add_person(db, sex="F", surname="Petraitytė")
    child = new_code("F", date(2026, 11, 1))
    events = [
        event(
            EventType.MARRIAGE,
            at(db, 1),
            husband.personal_code,
            wife.personal_code,
            date="2026-11-02",
            surnames={wife.personal_code: "Kazlauskienė"},
        ),
        event(
            EventType.BIRTH,
            at(db, 2),
            wife.personal_code,
            husband.personal_code,
            child={
                "personalCode": child,
                "givenNames": "Ema",
                "surname": "Kazlauskaitė",
                "sex": "F",
                "birthDate": "2026-11-01",
            },
        ),
        renamed(db, husband, 3, "Kazlauskis"),
    ]
    lines = [event_line(e) for e in events]

    first = ingest(db, *lines)
    after_first = state(db)
    second = ingest(db, *lines)

    assert (first.applied, first.duplicates, first.new_persons) == (3, 0, 1)
    assert first.changes == 5  # husband 3 (marital, children, name), wife 2
    assert (second.applied, second.duplicates, second.changes) == (0, 3, 0)
    assert (second.new_persons, second.refused, second.nothing_new) == (0, 0, True)
    now = state(db)
    assert now["change_log"] == after_first["change_log"]
    assert now["register_events"] == after_first["register_events"]
    assert now["persons"] == after_first["persons"]
    assert len(now["feed_batches"]) == 2


def test_an_event_seen_again_in_another_spelling_is_a_duplicate(db):
    person = add_person(db)
    renaming = renamed(db, person, 1, "Naujas")
    ingest(db, event_line(renaming))
    # The keys in reverse order, the time in UTC rather than in Vilnius time.
    respelled = dict(reversed(event_to_object(renaming).items()))
    respelled["recordedAt"] = renaming.recorded_at.astimezone(UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert respelled["recordedAt"] == "2026-11-01T23:00:00Z"

    report = ingest(db, orjson.dumps(respelled))

    assert (report.applied, report.duplicates, report.changes) == (0, 1, 0)


def test_the_same_event_twice_in_one_file_is_applied_once(db):
    person = add_person(db)
    line = event_line(renamed(db, person, 1, "Naujas"))

    report = ingest(db, line, line)

    assert (report.applied, report.duplicates, report.changes) == (1, 1, 1)


# --- order, days and flags ------------------------------------------------------------


def test_events_given_out_of_order_are_applied_in_recording_order(db):
    person = add_person(db)
    document = {
        "type": "ID_CARD",
        "number": "AB0000001",
        "issuedOn": "2026-11-02",
        "validUntil": "2036-11-01",
    }
    issued = event(
        EventType.DOCUMENT_ISSUED, at(db, 9), person.personal_code, document=document
    )
    death = event(
        EventType.DEATH, at(db, 10), person.personal_code, dateOfDeath="2026-11-01"
    )

    # In file order the document would come after the death, and be refused.
    report = ingest(db, event_line(death), event_line(issued))

    assert (report.applied, report.refused) == (2, 0)
    assert [(c.recorded_at, c.kinds, c.event_id) for c in changes(db)] == [
        (to_micros(issued.recorded_at), {Kind.IDENTITY_DOCUMENT}, issued.event_id),
        (to_micros(death.recorded_at), {Kind.DEATH}, death.event_id),
    ]
    after = reload(db, person)
    assert after.groups["death"] == {"dateOfDeath": "2026-11-01"}
    assert [d["number"] for d in after.groups["identityDocuments"]] == ["AB0000001"]


def test_a_newborn_renamed_before_the_birth_line_is_found_by_recording_time(db):
    mother = add_person(db, sex="F", born=date(1990, 4, 4))
    child = new_code("M", date(2026, 11, 1))
    birth = event(
        EventType.BIRTH,
        at(db, 8),
        mother.personal_code,
        child={
            "personalCode": child,
            "givenNames": "Jonas",
            "surname": "Kazlauskas",
            "sex": "M",
            "birthDate": "2026-11-01",
        },
    )
    rename = event(EventType.NAME_CHANGE, at(db, 9), child, givenNames="Jokūbas")

    report = ingest(db, event_line(rename), event_line(birth))

    assert (report.applied, report.new_persons) == (2, 1)
    with db.read() as conn:
        row = conn.execute(
            select(persons).where(persons.c.personal_code == child)
        ).one()
    assert record_from_row(row).groups["name"] == {
        "givenNames": "Jokūbas",
        "surname": "Kazlauskas",
    }


def test_a_newborn_renamed_in_the_same_file_has_the_name_change_logged(db):
    mother = add_person(db, sex="F", born=date(1990, 4, 4))
    child = new_code("M", date(2026, 11, 1))
    birth = event(
        EventType.BIRTH,
        at(db, 8),
        mother.personal_code,
        child={
            "personalCode": child,
            "givenNames": "Jonas",
            "surname": "Kazlauskas",
            "sex": "M",
            "birthDate": "2026-11-01",
        },
    )
    rename = event(EventType.NAME_CHANGE, at(db, 9), child, givenNames="Jokūbas")

    ingest(db, event_line(birth), event_line(rename))

    # As it would be had the two come in two files.
    assert [(c.person_id, c.kinds, c.event_id) for c in changes(db)] == [
        (mother.person_id, {Kind.CHILDREN_COUNT}, birth.event_id),
        (mother.person_id + 1, {Kind.NAME}, rename.event_id),
    ]


def test_events_recorded_at_the_same_instant_are_applied_in_event_id_order(db):
    person = add_person(db)
    instant = at(db, 4)
    later_id = RegisterEvent(
        "b-2",
        EventType.NAME_CHANGE,
        instant,
        (person.personal_code,),
        {"surname": "Antras"},
    )
    earlier_id = RegisterEvent(
        "b-10",
        EventType.NAME_CHANGE,
        instant,
        (person.personal_code,),
        {"surname": "Pirmas"},
    )

    ingest(db, event_line(later_id), event_line(earlier_id))

    # "b-10" sorts before "b-2": the name of "b-2" is the one that stays.
    assert reload(db, person).groups["name"]["surname"] == "Antras"
    assert [c.event_id for c in changes(db)] == ["b-10", "b-2"]


def test_a_late_event_of_a_published_day_rolls_forward_to_the_first_open_day(db):
    early_person, late_person = add_person(db), add_person(db)
    early = renamed(db, early_person, 10, "Laiku")
    late = renamed(db, late_person, 20, "Vėluoja")  # also recorded on day 1
    ingest(db, event_line(early), received_at=at(db, 11))
    move_clock(db, START + timedelta(days=1))
    assert [day.day for day in publish_pending(db)] == [DAY1]

    report = ingest(db, event_line(late), received_at=at(db, 2))

    assert report.days == {DAY2: 1}
    assert [(c.person_id, c.recorded_at, c.day) for c in changes(db)] == [
        (early_person.person_id, to_micros(early.recorded_at), DAY1),
        (late_person.person_id, to_micros(late.recorded_at), DAY2),
    ]


def test_an_administrative_ingest_marks_its_changes_administrative(db):
    ordinary, cleaned = add_person(db), add_person(db)
    ingest(db, event_line(renamed(db, ordinary, 1, "Paprastas")))

    report = ingest(
        db, event_line(renamed(db, cleaned, 2, "Sutvarkytas")), administrative=True
    )

    assert report.administrative is True
    assert [(c.person_id, c.administrative) for c in changes(db)] == [
        (ordinary.person_id, False),
        (cleaned.person_id, True),
    ]
    with db.read() as conn:
        flags = conn.execute(
            select(feed_batches.c.administrative).order_by(feed_batches.c.batch_id)
        ).scalars()
        assert list(flags) == [False, True]


# --- a pipe ---------------------------------------------------------------------------


class Pipe(io.BytesIO):
    """Bytes that can be read once, front to back, like standard input."""

    def seekable(self) -> bool:
        return False

    def seek(self, *_args: object) -> int:
        raise io.UnsupportedOperation("a pipe cannot seek")

    def tell(self) -> int:
        raise io.UnsupportedOperation("a pipe cannot tell")


def test_a_pipe_is_read_like_a_file(db):
    first, second = add_person(db), add_person(db, sex="F")
    # Out of order on purpose: applying in recording order needs a second look.
    lines = [
        event_line(renamed(db, second, 5, "Antra")),
        event_line(renamed(db, first, 1, "Pirmas")),
    ]
    pipe = Pipe(b"".join(lines))

    report = ingest(db, stream=pipe)

    assert (report.lines, report.applied, report.changes) == (2, 2, 2)
    assert not pipe.closed
    assert [c.person_id for c in changes(db)] == [first.person_id, second.person_id]


def test_a_refused_pipe_names_the_line_and_its_text(db):
    person = add_person(db)
    stranger = new_code()
    unknown = event_line(event(EventType.NAME_CHANGE, at(db, 1), stranger, surname="N"))
    lines = [event_line(renamed(db, person, 2, "Geras")), unknown]
    before = state(db)

    with pytest.raises(FeedRefused) as caught:
        ingest(db, stream=Pipe(b"".join(lines)))

    assert caught.value.problems == [
        Problem(2, f"no person with code {stranger} in the register", text(unknown))
    ]
    assert state(db) == before


def test_blank_lines_and_crlf_line_ends_keep_the_line_numbers(db):
    person = add_person(db)
    good = event_line(renamed(db, person, 1, "Geras")).replace(b"\n", b"\r\n")

    refused = refusal(db, good, b"\r\n", b"   \n", b"[]\r\n")

    assert [(p.line, p.text) for p in refused.problems] == [(4, "[]")]


def test_an_event_recorded_through_the_factories_is_a_duplicate_in_a_file(db):
    person = add_person(db)
    renaming = renamed(db, person, 1, "Naujas")
    record(db, renaming)

    report = ingest(db, event_line(renaming))

    assert (report.applied, report.duplicates, report.nothing_new) == (0, 1, True)
