"""The feed reader never crashes: whatever a line holds, it becomes an event or
a refusal with a reason, and a file is taken in or refused, never half-way.

A damaged line is made from a valid one: bytes dropped, doubled, swapped or
replaced by invalid UTF-8; values turned into other JSON types; keys deleted
or added; huge numbers, deep nesting, very long strings. bench/fuzz_feed.py
runs the same idea over hundreds of thousands of lines.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from conftest import START
from factories import add_person, event
from regwatch import codes
from regwatch.clock import VILNIUS
from regwatch.config import Settings
from regwatch.register.events import EventType, RegisterEvent
from regwatch.register.feed import (
    FeedRefused,
    event_digest,
    event_from_object,
    event_line,
    event_to_object,
    parse_json_object,
)
from regwatch.register.ingest import IngestReport, ingest_events
from regwatch.register.synth import generate_register
from regwatch.register.synth.activity import day_rng, plan_day
from regwatch.setup import initialise, open_database
from regwatch.store.engine import Database
from regwatch.store.tables import (
    change_log,
    feed_batches,
    personal_codes,
    persons,
    register_events,
)

# Fixed seeds and no example database: the same examples on every run.
FUZZ = settings(
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
RECEIVED = START + timedelta(hours=23)
ADDRESS = {
    "municipalityCode": "19",
    "municipality": "Kauno miesto savivaldybė",
    "place": "Kaunas",
    "street": "Laisvės al.",
    "house": "53",
    "flat": None,
    "postalCode": "LT-44309",
}
PERMIT = {
    "type": "TEMPORARY",
    "number": "LP-7001",
    "issuedOn": "2026-11-02",
    "validUntil": "2029-11-01",
}


# --- a small mirror and one valid line of every event type ----------------------------


def valid_events(man: str, woman: str, foreigner: str) -> list[RegisterEvent]:
    """Events that apply, in this order, to the three persons of the mirror."""
    hour = iter(range(1, 30))

    def at_next_hour() -> datetime:
        return START + timedelta(hours=next(hour))

    child = codes.make_code("F", date(2026, 11, 1), 901)
    arriving = codes.make_code("M", date(1991, 3, 8), 902)
    document = {
        "type": "PASSPORT",
        "number": "P0000042",
        "issuedOn": "2026-11-02",
        "validUntil": "2036-11-01",
    }
    photo = {"photoId": "photo-42", "takenOn": "2026-11-01"}
    return [
        event(EventType.NAME_CHANGE, at_next_hour(), man, givenNames="Jonas Petras"),
        event(
            EventType.MARRIAGE,
            at_next_hour(),
            man,
            woman,
            date="2026-11-02",
            surnames={woman: "Kazlauskienė"},
        ),
        event(
            EventType.BIRTH,
            at_next_hour(),
            woman,
            man,
            child={
                "personalCode": child,
                "givenNames": "Ema",
                "surname": "Kazlauskaitė",
                "sex": "F",
                "birthDate": "2026-11-01",
            },
        ),
        event(
            EventType.DOCUMENT_ISSUED,
            at_next_hour(),
            man,
            document=document,
            photo=photo,
        ),
        event(
            EventType.DOCUMENT_INVALIDATED,
            at_next_hour(),
            man,
            number="P0000042",
            reason="LOST",
        ),
        event(EventType.PHOTO_TAKEN, at_next_hour(), woman, photo=photo),
        event(
            EventType.RESIDENCE_DECLARED,
            at_next_hour(),
            woman,
            since="2026-11-02",
            address=ADDRESS,
        ),
        event(EventType.PERMIT_RENEWED, at_next_hour(), foreigner, permit=PERMIT),
        event(EventType.PERMIT_REVOKED, at_next_hour(), foreigner),
        event(
            EventType.FOREIGNER_ARRIVED,
            at_next_hour(),
            person={
                "personalCode": arriving,
                "givenNames": "Taras",
                "surname": "Melnyk",
                "sex": "M",
                "birthDate": "1991-03-08",
                "citizenship": "UA",
            },
            permit=PERMIT,
        ),
        event(
            EventType.CODE_REPLACED,
            at_next_hour(),
            woman,
            newCode=codes.make_code("F", date(1982, 1, 9), 903),
        ),
        event(
            EventType.RECORD_CORRECTED,
            at_next_hour(),
            man,
            reason="a typing error",
            corrections={"childrenCount": 3, "photo": None},
        ),
        event(
            EventType.DEPARTED_ABROAD,
            at_next_hour(),
            man,
            since="2026-11-02",
            country="IE",
        ),
        event(EventType.DEATH, at_next_hour(), man, dateOfDeath="2026-11-02"),
    ]


def rows(db: Database) -> dict[str, list[tuple]]:
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


@pytest.fixture(scope="module")
def mirror(databases):
    """Three persons, the valid lines about them, and every row as it stands."""
    db = open_database(Settings(database_url=databases.migrated("mirror")))
    initialise(db, simulated_clock=START)
    man = add_person(db, sex="M", born=date(1980, 5, 17))
    woman = add_person(db, sex="F", born=date(1982, 1, 9), surname="Petraitytė")
    foreigner = add_person(
        db,
        sex="F",
        born=date(1993, 6, 1),
        citizenship="UA",
        residencePermit={**PERMIT, "status": "VALID"},
    )
    events = valid_events(
        man.personal_code, woman.personal_code, foreigner.personal_code
    )
    yield db, [event_line(e) for e in events], rows(db)
    db.engine.dispose()


# --- damage ---------------------------------------------------------------------------

ODD_TEXT = [
    "",
    " ",
    "NaN",
    "-Infinity",
    "1e999",
    "\u0000",
    "\u202e",
    "\ufeff",
    "ž" * 201,
    "x" * 50_000,
    "0000-00-00",
    "2026-02-29",
    "2024-02-29",
    "0001-01-01",
    "9999-12-31",
    "2026-11-02T24:00:00+02:00",
    "2026-11-02T10:00:00+99:99",
    "2026-11-02T10:00:00",
    "00000000000",
    "99999999999",
    "39912310000",
    "30002300000",
]
ODD_BYTES = [
    b"NaN",
    b"Infinity",
    b"1" * 400,
    b"1e99999",
    b"-",
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b'"\\ud800"',
    b"\x00",
    b"\\",
    b'"',
    b"{",
    b"]",
    b"[" * 1_100,
    b'{"a":' * 1_100,
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(ODD_TEXT),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def places(value: Any, path: tuple = ()) -> list[tuple]:
    """The path of every value in a line object, the object itself first."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += places(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += places(item, (*path, index))
    return found


def changed(value: Any, path: tuple, new: Callable[[Any], Any]) -> Any:
    """A copy of value with the value at path replaced by new(old)."""
    if not path:
        return new(value)
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: changed(value[head], rest, new)}
    copy = list(value)
    copy[head] = changed(copy[head], rest, new)
    return copy


@st.composite
def damaged_values(draw: st.DrawFn, line: bytes) -> bytes:
    """The line with one value replaced or nested deep, or one key removed or
    added."""
    value = orjson.loads(line)
    # Half the time a key of the line itself, where the envelope is checked.
    top = [(key,) for key in value]
    path = draw(st.sampled_from(top) | st.sampled_from(places(value)))
    how = draw(st.sampled_from(["replace", "delete", "add", "nest"]))
    if how == "replace":
        new_value = draw(json_values)
        return orjson.dumps(changed(value, path, lambda _old: new_value))
    if how == "nest":
        marker = "\u0001deep\u0001"
        depth = draw(st.sampled_from([3, 300, 1_000, 1_100]))
        deep = b"[" * depth + b"0" + b"]" * depth
        text = orjson.dumps(changed(value, path, lambda _old: marker))
        return text.replace(orjson.dumps(marker), deep, 1)

    def delete_or_add(old: Any) -> Any:
        if how == "delete" and isinstance(old, dict) and old:
            gone = draw(st.sampled_from(sorted(old)))
            return {key: item for key, item in old.items() if key != gone}
        if how == "delete" and isinstance(old, list) and old:
            return old[1:]
        if how == "add" and isinstance(old, dict):
            key = draw(st.sampled_from(["extra", "type", "data", "", "since"]))
            return {**old, key: draw(json_values)}
        if how == "add" and isinstance(old, list):
            return [*old, draw(json_values)]
        return old

    return orjson.dumps(changed(value, path, delete_or_add))


@st.composite
def damaged_bytes(draw: st.DrawFn, line: bytes) -> bytes:
    """The line with bytes dropped, doubled, swapped, or odd bytes put in."""
    for _ in range(draw(st.integers(1, 3))):
        if len(line) < 2:
            break
        at = draw(st.integers(0, len(line) - 1))
        to = draw(st.integers(at, min(len(line), at + 16)))
        how = draw(st.sampled_from(["drop", "double", "swap", "insert", "digit"]))
        if how == "drop":
            line = line[:at] + line[to:]
        elif how == "double":
            line = line[:to] + line[at:to] + line[to:]
        elif how == "swap" and to > at + 1:
            line = (
                line[:at]
                + line[to - 1 : to]
                + line[at + 1 : to - 1]
                + line[at : at + 1]
                + line[to:]
            )
        elif how == "insert":
            line = line[:at] + draw(st.sampled_from(ODD_BYTES)) + line[at:]
        elif how == "digit" and line[at : at + 1].isdigit():
            line = line[:at] + str(draw(st.integers(0, 9))).encode() + line[at + 1 :]
    return line


def damaged(valid_lines: list[bytes]) -> st.SearchStrategy[bytes]:
    line = st.sampled_from([line.rstrip(b"\n") for line in valid_lines])
    return st.one_of(
        line.flatmap(damaged_values),
        line.flatmap(damaged_bytes),
        line.flatmap(damaged_values).flatmap(damaged_bytes),
    )


def read(line: bytes) -> RegisterEvent | ValueError:
    """The reader's verdict on one line; any other exception escapes."""
    try:
        return event_from_object(parse_json_object(line))
    except ValueError as refusal:
        return refusal


def assert_event_or_reason(outcome: RegisterEvent | ValueError) -> None:
    if isinstance(outcome, ValueError):
        assert str(outcome).strip(), "a refusal must say why"
    else:
        assert isinstance(outcome, RegisterEvent)


# --- (a) and (b): one line through the reader -----------------------------------------


def test_every_valid_line_of_the_corpus_is_read_as_its_event(mirror):
    _db, valid_lines, _rows = mirror
    types = set()
    for line in valid_lines:
        outcome = read(line.rstrip(b"\n"))
        assert isinstance(outcome, RegisterEvent), outcome
        assert event_line(outcome) == line
        types.add(outcome.type)
    assert len(types) == 14


@settings(FUZZ, max_examples=300)
@given(line=st.binary(max_size=400))
def test_random_bytes_are_refused_with_a_reason(line):
    outcome = read(line)
    assert isinstance(outcome, ValueError)  # random bytes are never a valid event
    assert str(outcome).strip()


@settings(FUZZ, max_examples=600)
@given(data=st.data())
def test_a_damaged_line_is_an_event_or_a_refusal_with_a_reason(mirror, data):
    _db, valid_lines, _rows = mirror
    line = data.draw(damaged(valid_lines))
    assert_event_or_reason(read(line))


AWKWARD_LINES = {
    "deep": (
        b'{"a": ' + b"[" * 2_000 + b"]" * 2_000 + b"}",
        "not JSON: depth limit exceeded",
    ),
    "huge number": (
        b'{"formatVersion": 1' + b"0" * 500 + b"}",
        "not JSON: number is infinity when parsed as double",
    ),
    "NaN": (b'{"formatVersion": NaN}', "not JSON: unexpected character"),
    "invalid UTF-8": (
        b'{"eventId": "\xff\xfe"}',
        "not JSON: str is not valid UTF-8",
    ),
    "lone surrogate": (
        b'{"eventId": "\\udc00"}',
        "not JSON: invalid high surrogate in string",
    ),
    "byte order mark": (b"\xef\xbb\xbf{}", "not JSON: UTF-8 byte order mark"),
    "repeated key": (
        b'{"formatVersion": 1, "formatVersion": 1}',
        "the line must contain ['data', 'eventId', 'persons', 'recordedAt', 'type']",
    ),
    "over a megabyte": (
        b'{"k": "' + b"x" * 1_000_001 + b'"}',
        "line is longer than 1000000 bytes",
    ),
    "null": (b"null", "a line must be a JSON object, not null"),
}


@pytest.mark.parametrize(
    ("line", "reason"), AWKWARD_LINES.values(), ids=AWKWARD_LINES.keys()
)
def test_awkward_lines_are_refused_with_their_reason(line, reason):
    outcome = read(line)

    assert isinstance(outcome, ValueError)
    assert str(outcome).startswith(reason), str(outcome)


@pytest.mark.parametrize(
    "recorded_at",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:30:00Z"],
)
def test_a_recording_time_at_the_ends_of_the_calendar_is_refused(mirror, recorded_at):
    _db, valid_lines, _rows = mirror
    line = {**orjson.loads(valid_lines[0]), "recordedAt": recorded_at}

    outcome = read(orjson.dumps(line))

    assert str(outcome) == f"recordedAt {recorded_at!r} is not a time"


# --- a whole file through ingest_events -----------------------------------------------


class _RolledBack(Exception):
    def __init__(self, report: IngestReport) -> None:
        self.report = report


def ingest_and_roll_back(
    db: Database, data: bytes, skip_invalid: bool
) -> IngestReport | FeedRefused:
    """Ingest, then always roll back, so that every example starts the same."""
    try:
        with db.write() as conn:
            report = ingest_events(
                conn,
                io.BytesIO(data),
                source="fuzz.jsonl",
                received_at=RECEIVED,
                skip_invalid=skip_invalid,
            )
            raise _RolledBack(report)
    except _RolledBack as done:
        return done.report
    except FeedRefused as refusal:
        return refusal


@settings(FUZZ, max_examples=120)
@given(data=st.data())
def test_a_file_with_damaged_lines_is_taken_in_or_refused_never_half_way(mirror, data):
    db, valid_lines, before = mirror
    some_line = st.one_of(st.sampled_from(valid_lines), damaged(valid_lines))
    lines = data.draw(st.lists(some_line, min_size=1, max_size=4))
    skip_invalid = data.draw(st.booleans())

    feed = b"\n".join(line.rstrip(b"\n") for line in lines)  # one line each

    outcome = ingest_and_roll_back(db, feed, skip_invalid)

    if isinstance(outcome, FeedRefused):
        assert not skip_invalid
        assert outcome.total == len(outcome.problems) >= 1
        assert all(p.reason.strip() for p in outcome.problems)
        assert {p.line for p in outcome.problems} <= set(range(1, len(lines) + 1))
    else:
        assert isinstance(outcome, IngestReport)
        assert outcome.refused == len(outcome.rejected)
        assert skip_invalid or outcome.refused == 0
    assert rows(db) == before


def test_the_valid_lines_of_the_corpus_apply_together(mirror):
    db, valid_lines, before = mirror

    report = ingest_and_roll_back(db, b"".join(valid_lines), skip_invalid=False)

    assert isinstance(report, IngestReport), report
    assert (report.applied, report.refused, report.new_persons) == (14, 0, 2)
    assert rows(db) == before


# --- (c) a valid event survives being written and read back ---------------------------


@pytest.fixture(scope="module")
def planned_events(databases):
    """Two days of events the simulator plans for a small generated register."""
    db = open_database(Settings(database_url=databases.migrated("planned")))
    initialise(db, simulated_clock=START)
    generate_register(db, 1_500, 4, start=START)
    planned = []
    with db.read() as conn:
        for day in (START.date() + timedelta(days=n) for n in (1, 2)):
            planned += plan_day(conn, day, day_rng(4, day), seed=4, rate_scale=80)
    db.engine.dispose()
    return planned


def test_every_planned_event_survives_writing_and_reading(planned_events):
    assert len(planned_events) > 200
    assert len({e.type for e in planned_events}) >= 10
    for planned in planned_events:
        line = event_line(planned)
        assert line.count(b"\n") == 1 and line.endswith(b"\n")

        read_back = event_from_object(parse_json_object(line.rstrip(b"\n")))

        assert read_back == planned
        assert event_digest(read_back) == event_digest(planned)


text = st.text(min_size=1, max_size=200).filter(lambda s: re.search(r"\S", s))
dates = st.dates(date(1900, 1, 1), date(2099, 12, 31)).map(date.isoformat)
born = st.dates(date(1900, 1, 1), date(1989, 12, 31))
personal_codes_ = st.builds(
    codes.make_code, st.sampled_from("MF"), born, st.integers(0, 999)
)
recording_times = st.datetimes(
    datetime(1990, 1, 1), datetime(2100, 1, 1), timezones=st.just(VILNIUS)
)


@st.composite
def events(draw: st.DrawFn) -> RegisterEvent:
    """A valid event of one of eight types, with arbitrary text and dates."""
    kind = draw(
        st.sampled_from(
            [
                EventType.NAME_CHANGE,
                EventType.DEATH,
                EventType.MARRIAGE,
                EventType.DEPARTED_ABROAD,
                EventType.RESIDENCE_DECLARED,
                EventType.DOCUMENT_INVALIDATED,
                EventType.CODE_REPLACED,
                EventType.PHOTO_TAKEN,
            ]
        )
    )
    person = draw(personal_codes_)
    persons_: tuple[str, ...] = (person,)
    if kind is EventType.NAME_CHANGE:
        keys = draw(
            st.sampled_from([["givenNames"], ["surname"], ["givenNames", "surname"]])
        )
        data: dict[str, Any] = {key: draw(text) for key in keys}
    elif kind is EventType.DEATH:
        data = {"dateOfDeath": draw(dates)}
    elif kind is EventType.MARRIAGE:
        spouse = draw(personal_codes_.filter(lambda code: code != person))
        persons_ = (person, spouse)
        data = {"date": draw(dates), "surnames": {spouse: draw(text)}}
    elif kind is EventType.DEPARTED_ABROAD:
        country = draw(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2))
        data = {"since": draw(dates), "country": country}
    elif kind is EventType.RESIDENCE_DECLARED:
        address = {
            **ADDRESS,
            "place": draw(text),
            "street": draw(st.none() | text),
            "flat": draw(st.none() | text),
        }
        data = {"since": draw(dates), "address": address}
    elif kind is EventType.DOCUMENT_INVALIDATED:
        data = {"number": draw(text), "reason": draw(text)}
    elif kind is EventType.CODE_REPLACED:
        data = {"newCode": draw(personal_codes_)}
    else:
        data = {"photo": {"photoId": draw(text), "takenOn": draw(dates)}}
    event_id = draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}", fullmatch=True))
    return RegisterEvent(event_id, kind, draw(recording_times), persons_, data)


@settings(FUZZ, max_examples=200)
@given(
    planned=events(),
    offset=st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m))),
    shuffle=st.randoms(use_true_random=False),
)
def test_a_valid_event_survives_writing_and_reading_in_any_spelling(
    planned, offset, shuffle
):
    line = event_line(planned)
    assert line.count(b"\n") == 1

    read_back = event_from_object(parse_json_object(line.rstrip(b"\n")))

    assert read_back == planned
    assert event_digest(read_back) == event_digest(planned)
    # Keys in another order and the time at another offset: the same event.
    respelled = list(event_to_object(planned).items())
    shuffle.shuffle(respelled)
    respelled_object = dict(respelled)
    respelled_object["recordedAt"] = planned.recorded_at.astimezone(offset).isoformat()
    assert event_digest(read(orjson.dumps(respelled_object))) == event_digest(planned)
    # Another event under the same id does not pass for it.
    other = RegisterEvent(
        planned.event_id,
        planned.type,
        planned.recorded_at.astimezone(UTC) + timedelta(microseconds=1),
        planned.persons,
        planned.data,
    )
    assert event_digest(other) != event_digest(planned)
