"""Snapshot files: compared with the mirror, written to the change log."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from conftest import START
from factories import (
    ADDRESS,
    add_person,
    at,
    event,
    move_clock,
    new_code,
    record,
    replace_code,
)
from regwatch import codes
from regwatch.clock import VILNIUS, to_micros
from regwatch.config import Settings
from regwatch.kinds import Kind, to_mask
from regwatch.monitoring.days import publish_pending
from regwatch.register import snapshot
from regwatch.register.events import EventType
from regwatch.register.export import dump_line, export_persons
from regwatch.register.feed import FeedRefused
from regwatch.register.records import dump_groups
from regwatch.register.snapshot import SnapshotReport, format_of, load_snapshot
from regwatch.register.snapshot_csv import (
    COLUMNS,
    person_cells,
    person_from_cells,
    read_rows,
    write_csv,
)
from regwatch.register.synth.activity import simulate
from regwatch.register.synth.population import generate_register
from regwatch.setup import initialise, open_database
from regwatch.store.engine import Database
from regwatch.store.tables import (
    change_log,
    feed_batches,
    personal_codes,
    persons,
)
from testdb import Databases

RECORDED = datetime(2026, 11, 2, 10, 0, tzinfo=VILNIUS)
CODE_REPLACED = EventType.CODE_REPLACED
README = Path(__file__).resolve().parents[2] / "README.md"


# --- helpers -----------------------------------------------------------------------


def exported(db: Database) -> list[dict[str, Any]]:
    with db.read() as conn:
        return list(export_persons(conn))


def jsonl(documents: list[Any]) -> bytes:
    """A snapshot file: dicts as JSON lines, text lines as they are."""
    lines = [d if isinstance(d, str) else json.dumps(d) for d in documents]
    return ("\n".join(lines) + "\n").encode()


def load(
    db: Database,
    data: bytes,
    *,
    file_format: str = "jsonl",
    recorded_at: datetime = RECORDED,
    **options: Any,
) -> SnapshotReport:
    with db.write() as conn:
        return load_snapshot(
            conn,
            io.BytesIO(data),
            source="test.snapshot",
            file_format=file_format,
            recorded_at=recorded_at,
            received_at=db.now(conn),
            **options,
        )


def change_rows(db: Database) -> list[Any]:
    with db.read() as conn:
        return conn.execute(select(change_log).order_by(change_log.c.change_id)).all()


def count(db: Database, table: Any) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def mirror_state(db: Database) -> tuple[list[Any], list[Any], int]:
    with db.read() as conn:
        return (
            conn.execute(select(persons).order_by(persons.c.person_id)).all(),
            conn.execute(select(personal_codes).order_by(personal_codes.c.code)).all(),
            conn.execute(select(func.count()).select_from(change_log)).scalar_one(),
        )


def export_text(db: Database) -> str:
    return "".join(dump_line(document) + "\n" for document in exported(db))


def export_csv(db: Database) -> str:
    out = io.StringIO()
    write_csv(out, exported(db))
    return out.getvalue()


def fresh_database(databases: Databases) -> Database:
    database = open_database(Settings(database_url=databases.migrated()))
    initialise(database, simulated_clock=START)
    return database


@pytest.fixture
def empty_db(databases: Databases) -> Any:
    database = fresh_database(databases)
    yield database
    database.engine.dispose()


def same_person(code: str) -> str:
    """Another valid code with the sex and birth date of this one."""
    born = codes.birth_date(code)
    assert born is not None
    return codes.make_code(codes.sex(code) or "M", born, 990 + int(code[-2]))


def the_person(documents: list[dict[str, Any]], code: str) -> dict[str, Any]:
    return next(d for d in documents if d["personalCode"] == code)


# --- comparing ---------------------------------------------------------------------


def test_a_snapshot_equal_to_the_mirror_writes_no_change(db: Database) -> None:
    for _ in range(3):
        add_person(db)
    report = load(db, jsonl(exported(db)))

    assert (report.lines, report.unchanged, report.changed) == (3, 3, 0)
    assert change_rows(db) == []
    with db.read() as conn:
        batch = conn.execute(select(feed_batches)).one()
    assert (batch.kind, batch.source, batch.lines, batch.applied) == (
        "snapshot",
        "test.snapshot",
        3,
        3,
    )
    assert batch.recorded_at == to_micros(RECORDED)


DEATH = {"dateOfDeath": "2026-10-30"}
DOCUMENT = {
    "type": "ID_CARD",
    "number": "30000001",
    "issuedOn": "2026-10-01",
    "validUntil": "2036-10-01",
    "status": "VALID",
    "invalidReason": None,
}
ABROAD = {"status": "ABROAD", "since": "2026-10-01", "address": None, "country": "NO"}
MARRIED = {"status": "MARRIED", "since": "2026-10-10"}
PHOTO = {"photoId": "ph-0001", "takenOn": "2026-10-01"}
PERMIT = {
    "type": "TEMPORARY",
    "number": "LT-TRP-1",
    "issuedOn": "2026-10-01",
    "validUntil": "2027-10-01",
    "status": "VALID",
}


@pytest.mark.parametrize(
    ("group", "value", "kind"),
    [
        ("name", {"givenNames": "Jonas", "surname": "Petraitis"}, Kind.NAME),
        ("death", DEATH, Kind.DEATH),
        ("identityDocuments", [DOCUMENT], Kind.IDENTITY_DOCUMENT),
        ("declaredResidence", ABROAD, Kind.DECLARED_RESIDENCE),
        ("maritalStatus", MARRIED, Kind.MARITAL_STATUS),
        ("childrenCount", 2, Kind.CHILDREN_COUNT),
        ("photo", PHOTO, Kind.PHOTO),
        ("residencePermit", PERMIT, Kind.RESIDENCE_PERMIT),
    ],
)
def test_each_group_that_differs_is_its_kind(
    db: Database, group: str, value: Any, kind: Kind
) -> None:
    person = add_person(db, citizenship="UA")
    other = add_person(db)
    documents = exported(db)
    the_person(documents, person.personal_code)[group] = value

    report = load(db, jsonl(documents))

    assert (report.changed, report.unchanged) == (1, 1)
    (row,) = change_rows(db)
    assert (row.person_id, row.kinds, row.previous_code) == (
        person.person_id,
        kind.bit,
        None,
    )
    assert row.recorded_at == to_micros(RECORDED)
    assert row.day == date(2026, 11, 2)
    assert row.administrative is False
    stored = the_person(exported(db), person.personal_code)
    assert stored[group] == value
    assert other.person_id != person.person_id


def test_several_groups_make_one_change_with_their_kinds(db: Database) -> None:
    person = add_person(db)
    documents = exported(db)
    line = the_person(documents, person.personal_code)
    line["death"] = DEATH
    line["maritalStatus"] = {"status": "WIDOWED", "since": "2026-10-30"}

    load(db, jsonl(documents))

    (row,) = change_rows(db)
    assert row.kinds == to_mask([Kind.DEATH, Kind.MARITAL_STATUS])
    with db.read() as conn:
        died_on = conn.execute(
            select(persons.c.died_on).where(persons.c.person_id == person.person_id)
        ).scalar_one()
    assert died_on == date(2026, 10, 30)


def test_citizenship_and_family_are_stored_without_a_change(db: Database) -> None:
    mother = add_person(db, sex="F", born=date(1960, 3, 3))
    child = add_person(db, born=date(1990, 4, 4))
    documents = exported(db)
    the_person(documents, child.personal_code)["citizenship"] = "PL"
    the_person(documents, child.personal_code)["family"]["mother"] = (
        mother.personal_code
    )

    report = load(db, jsonl(documents))

    assert (report.updated, report.changed, report.unchanged) == (1, 0, 1)
    assert change_rows(db) == []
    stored = the_person(exported(db), child.personal_code)
    assert stored["citizenship"] == "PL"
    assert stored["family"]["mother"] == mother.personal_code


def test_the_same_snapshot_twice_writes_changes_once(db: Database) -> None:
    person = add_person(db)
    documents = exported(db)
    the_person(documents, person.personal_code)["photo"] = PHOTO
    data = jsonl(documents)

    first = load(db, data)
    second = load(db, data, recorded_at=RECORDED + timedelta(hours=1))

    assert (first.changed, second.changed, second.unchanged) == (1, 0, 1)
    assert len(change_rows(db)) == 1


def test_a_code_found_through_previous_codes_is_a_replacement(db: Database) -> None:
    person = add_person(db)
    replacement = new_code()
    documents = exported(db)
    line = the_person(documents, person.personal_code)
    line["personalCode"] = replacement
    line["previousCodes"] = [person.personal_code]
    line["name"] = {"givenNames": "Jonas", "surname": "Naujokas"}

    report = load(db, jsonl(documents))

    assert report.changed == 1
    (row,) = change_rows(db)
    assert row.kinds == to_mask([Kind.PERSONAL_CODE, Kind.NAME])
    assert row.previous_code == person.personal_code
    with db.read() as conn:
        history = dict(
            conn.execute(
                select(personal_codes.c.code, personal_codes.c.replaced_at).where(
                    personal_codes.c.person_id == person.person_id
                )
            ).all()
        )
    assert history == {person.personal_code: to_micros(RECORDED), replacement: None}
    (again,) = exported(db)
    assert again["personalCode"] == replacement
    assert again["previousCodes"] == [person.personal_code]


def test_a_new_person_is_added_with_history_and_later_relatives(db: Database) -> None:
    parent = add_person(db, sex="F", born=date(1970, 1, 5))
    documents = exported(db)
    first_code, second_code, child_code = (
        new_code("F", date(1970, 1, 5)),
        new_code("F", date(1970, 1, 5)),
        new_code("M", date(2000, 6, 1)),
    )
    sister = {
        **documents[0],
        "personalCode": new_code("F", date(1970, 1, 5)),
        "previousCodes": [first_code, second_code],
        "family": {"spouse": None, "mother": None, "father": None, "children": []},
    }
    sister["family"]["children"] = [child_code]  # a person further down the file
    child = {
        **documents[0],
        "personalCode": child_code,
        "sex": "M",
        "birthDate": "2000-06-01",
        "family": {
            "spouse": None,
            "mother": sister["personalCode"],
            "father": None,
            "children": [],
        },
    }

    report = load(db, jsonl([*documents, sister, child]), full=True)

    assert (report.new_persons, report.unchanged, report.changed) == (2, 1, 0)
    assert change_rows(db) == []
    again = exported(db)
    assert [d["personalCode"] for d in again] == [
        parent.personal_code,
        sister["personalCode"],
        child_code,
    ]
    assert again[1]["previousCodes"] == [first_code, second_code]
    assert again[1]["family"]["children"] == [child_code]
    assert again[2]["family"]["mother"] == sister["personalCode"]


def test_links_across_chunks_wait_until_the_file_is_in(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot, "BLOCK_BYTES", 1500)  # two or three persons
    documents = []
    born = date(1980, 5, 17)
    family_codes = [new_code("M", born) for _ in range(7)]
    for index, code in enumerate(family_codes):
        person = {
            "personalCode": code,
            "previousCodes": [],
            "sex": "M",
            "birthDate": born.isoformat(),
            "citizenship": "LT",
            "name": {"givenNames": "Jonas", "surname": f"Kazlauskas{index}"},
            "death": None,
            "identityDocuments": [],
            "declaredResidence": {
                "status": "DECLARED",
                "since": "2010-01-01",
                "address": dict(ADDRESS),
                "country": None,
            },
            "maritalStatus": {"status": "SINGLE", "since": None},
            "childrenCount": 0,
            "photo": None,
            "residencePermit": None,
            # Each names the one after it, and the last the first.
            "family": {
                "spouse": family_codes[(index + 1) % len(family_codes)],
                "mother": None,
                "father": None,
                "children": [family_codes[index - 1], family_codes[0]],
            },
        }
        documents.append(person)
    data = jsonl(documents)

    load(db, data)

    assert exported(db) == documents


# --- the day, the flag, the missing ------------------------------------------------


def test_a_change_on_a_published_day_rolls_forward(db: Database) -> None:
    person = add_person(db)
    move_clock(db, START + timedelta(days=1, hours=2))
    assert [d.day for d in publish_pending(db)] == [date(2026, 11, 2)]
    documents = exported(db)
    the_person(documents, person.personal_code)["childrenCount"] = 1

    report = load(db, jsonl(documents))

    (row,) = change_rows(db)
    assert row.day == date(2026, 11, 3)
    assert row.recorded_at == to_micros(RECORDED)
    assert report.days == {date(2026, 11, 3): 1}


def test_an_administrative_snapshot_marks_its_changes(db: Database) -> None:
    person = add_person(db)
    documents = exported(db)
    the_person(documents, person.personal_code)["childrenCount"] = 3

    load(db, jsonl(documents), administrative=True)

    (row,) = change_rows(db)
    assert row.administrative is True
    with db.read() as conn:
        assert conn.execute(select(feed_batches.c.administrative)).scalar_one()


def test_a_full_snapshot_lists_the_missing_and_deletes_nobody(db: Database) -> None:
    kept, gone, also_gone = add_person(db), add_person(db), add_person(db)
    documents = [the_person(exported(db), kept.personal_code)]
    missing = io.StringIO()

    report = load(db, jsonl(documents), full=True, missing=missing)

    assert report.missing == 2
    assert sorted(missing.getvalue().split()) == sorted(
        [gone.personal_code, also_gone.personal_code]
    )
    assert count(db, persons) == 3
    with db.read() as conn:
        assert conn.execute(select(feed_batches.c.missing)).scalar_one() == 2


def test_a_snapshot_that_is_not_full_counts_nobody_missing(db: Database) -> None:
    add_person(db)
    report = load(db, b"")
    assert (report.lines, report.missing) == (0, 0)


# --- refusals ----------------------------------------------------------------------


def a_file_with_every_problem(db: Database) -> tuple[bytes, dict[int, str]]:
    """A snapshot with one good changed line and a problem on each other line."""
    person = add_person(db)
    replaced = add_person(db, born=date(1975, 2, 2))
    earlier = replaced.personal_code
    current = replace_code(db, earlier, hours=1)
    other = add_person(db, born=date(1990, 9, 9))
    documents = exported(db)
    good = the_person(documents, person.personal_code)
    good["childrenCount"] = 1
    base = the_person(documents, other.personal_code)

    def variant(**changes: Any) -> dict[str, Any]:
        return json.loads(json.dumps({**base, **changes}))

    fresh = new_code("M", date(1990, 9, 9))
    bad_check = fresh[:10] + str((int(fresh[10]) + 1) % 10)
    wrong_date = {"status": "MARRIED", "since": "2021-02-30"}
    lines: list[Any] = [
        good,  # 1
        '{"personalCode": "3800101',  # 2: broken
        variant(personalCode=new_code("M", date(1990, 9, 9)), sex="X"),  # 3
        variant(personalCode=new_code("M", date(1990, 9, 9)), maritalStatus=wrong_date),
        variant(personalCode=bad_check),  # 5
        variant(personalCode=fresh),  # 6: the first of two
        variant(personalCode=fresh),  # 7: the code again
        variant(  # 8: a relative nobody has
            personalCode=new_code("M", date(1990, 9, 9)),
            family={
                "spouse": new_code("F"),
                "mother": None,
                "father": None,
                "children": [],
            },
        ),
        variant(personalCode=earlier),  # 9: the mirror knows it as earlier
        variant(personalCode=new_code("F", date(1990, 9, 9))),  # 10: sex
        variant(personalCode=new_code("M", date(1991, 9, 9))),  # 11: birth date
        variant(  # 12: previous codes of two persons
            personalCode=new_code("M", date(1990, 9, 9)),
            previousCodes=[other.personal_code, current],
        ),
    ]
    expected = {
        2: "not JSON",
        3: "sex must be one of",
        4: "maritalStatus.since '2021-02-30' is not a real date",
        5: "is not a valid personal code: check digit",
        7: f"personal code {fresh} is already in the file, on line 6",
        8: "family.spouse",
        9: "snapshot is older than the mirror",
        10: "sex M does not agree with personal code",
        11: "birthDate 1990-09-09 does not agree with personal code",
        12: "previous codes belong to 2 different persons",
    }
    return jsonl(lines), expected


def test_a_file_with_problems_is_refused_whole_with_every_line(db: Database) -> None:
    data, expected = a_file_with_every_problem(db)
    before = mirror_state(db)

    with pytest.raises(FeedRefused) as refused:
        load(db, data)

    message = str(refused.value)
    assert f"{len(expected)} problem(s)" in message
    for number, reason in expected.items():
        line = next(
            text for text in message.splitlines() if text.startswith(f"line {number}:")
        )
        assert reason in line
    assert [p.line for p in refused.value.problems] == sorted(expected)
    assert mirror_state(db) == before
    assert count(db, feed_batches) == 0


def test_skip_invalid_applies_the_good_lines_and_rejects_the_rest(
    db: Database,
) -> None:
    data, expected = a_file_with_every_problem(db)
    rejects = io.StringIO()
    changes_before = len(change_rows(db))

    report = load(db, data, rejects=rejects)

    written = [json.loads(line) for line in rejects.getvalue().splitlines()]
    by_line = {record["line"]: record for record in written}
    assert set(by_line) == set(expected)
    assert "applied without this link" in by_line[8]["reason"]
    assert by_line[3]["text"] == data.splitlines()[2].decode()
    assert report.changed == 1
    assert report.new_persons == 2  # line 6 and line 8 (without its spouse)
    assert report.links_left_out == 1
    assert report.refused == len(expected) - 1
    assert len(change_rows(db)) == changes_before + 1


def test_a_previous_code_of_another_person_is_refused(db: Database) -> None:
    person, other = add_person(db), add_person(db)
    documents = exported(db)
    the_person(documents, person.personal_code)["previousCodes"] = [other.personal_code]
    with pytest.raises(
        FeedRefused, match=r"line 1: previous code .* belongs to another"
    ):
        load(db, jsonl(documents))


def test_a_person_named_twice_by_two_codes_is_refused(db: Database) -> None:
    person = add_person(db)
    (line,) = exported(db)
    moved = {
        **line,
        "personalCode": new_code(),
        "previousCodes": [line["personalCode"]],
    }
    with pytest.raises(FeedRefused, match=r"line 2: personal code .* on line 1"):
        load(db, jsonl([line, moved]))
    assert exported(db)[0]["personalCode"] == person.personal_code


def test_lines_keep_their_numbers_across_blocks(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot, "BLOCK_BYTES", 700)  # about one person a block
    for _ in range(3):
        add_person(db)
    first, second, third = (json.dumps(d).encode() for d in exported(db))
    data = b"\r\n".join([first, b"", b"  ", second, b"{broken", third, b"[]"])

    with pytest.raises(FeedRefused) as refused:
        load(db, data)  # CRLF line ends, blank lines, no line end at the last

    assert [(p.line, p.text) for p in refused.value.problems] == [
        (5, "{broken"),
        (7, "[]"),
    ]
    report = load(db, data, rejects=io.StringIO())
    assert (report.lines, report.unchanged, report.refused) == (5, 3, 2)


def test_the_problem_list_is_capped_and_counted(db: Database) -> None:
    data = jsonl(["not json"] * 150)
    with pytest.raises(FeedRefused) as refused:
        load(db, data)
    assert refused.value.total == 150
    assert len(refused.value.problems) == 100
    assert "... and 50 more" in str(refused.value)


# --- the round trip ----------------------------------------------------------------


@pytest.fixture
def register(db: Database) -> Database:
    """A generated register with a day of activity and a few code changes."""
    generate_register(db, 1200, 11, start=START)
    with db.read() as conn:
        some = conn.execute(
            select(persons.c.personal_code)
            .where(persons.c.died_on.is_(None))
            .order_by(persons.c.person_id)
            .limit(3)
        ).scalars()
        chosen = list(some)
    for hours, code in enumerate(chosen, start=1):
        record(db, event(CODE_REPLACED, at(db, hours), code, newCode=same_person(code)))
    move_clock(db, START + timedelta(hours=5))
    simulate(db, 1, 11, rate_scale=5)
    return db


def test_an_export_loaded_into_an_empty_mirror_exports_the_same(
    register: Database, empty_db: Database
) -> None:
    original = export_text(register)
    assert '"previousCodes": ["' in original

    report = load(empty_db, original.encode(), full=True)
    assert report.new_persons == report.lines == original.count("\n")
    assert report.missing == 0
    assert change_rows(empty_db) == []
    assert export_text(empty_db) == original

    again = load(empty_db, original.encode(), full=True)
    assert (again.unchanged, again.changed, again.updated) == (again.lines, 0, 0)


def test_the_same_round_trip_through_csv(
    register: Database, empty_db: Database
) -> None:
    original = export_csv(register)

    load(empty_db, original.encode(), file_format="csv", full=True)

    assert export_csv(empty_db) == original
    assert export_text(empty_db) == export_text(register)
    again = load(empty_db, original.encode(), file_format="csv")
    assert again.unchanged == again.lines


def test_the_round_trip_with_a_helper_process(
    register: Database,
    empty_db: Database,
    monkeypatch: pytest.MonkeyPatch,
    databases: Databases,
) -> None:
    monkeypatch.setattr(snapshot, "BLOCK_BYTES", 100_000)
    monkeypatch.setattr(snapshot, "CHUNK", 100)
    original = export_text(register)

    report = load(empty_db, original.encode(), full=True, helper_after=0)
    compared = load(register, original.encode(), helper_after=0)

    assert report.new_persons == report.lines
    assert export_text(empty_db) == original
    assert compared.unchanged == compared.lines

    as_csv = export_csv(register)
    other = fresh_database(databases)
    load(other, as_csv.encode(), file_format="csv", full=True, helper_after=0)
    assert export_csv(other) == as_csv
    other.engine.dispose()


def test_stored_groups_are_the_canonical_text(register: Database) -> None:
    with register.read() as conn:
        stored = conn.execute(select(persons.c.groups).limit(200)).scalars().all()
    for text in stored:
        groups = json.loads(text)
        assert orjson.dumps(groups, option=orjson.OPT_SORT_KEYS).decode() == text
        assert dump_groups(groups) == text


# --- the CSV form ------------------------------------------------------------------


def test_a_csv_row_holds_what_a_line_holds(db: Database) -> None:
    add_person(db, citizenship="UA")
    (document,) = exported(db)
    document["identityDocuments"] = [
        {**DOCUMENT, "number": "A:1;2\\3", "status": "INVALID", "invalidReason": "x:y"},
        DOCUMENT,
    ]
    document["residencePermit"] = PERMIT
    document["photo"] = PHOTO
    document["previousCodes"] = [new_code(), new_code()]
    document["family"]["children"] = [new_code(), new_code()]

    row = dict(zip(COLUMNS, person_cells(document), strict=True))

    assert person_from_cells(row) == document
    assert row["documents"].startswith("ID_CARD:A\\:1\\;2\\\\3:2026-10-01:")


def test_csv_rows_are_numbered_by_their_first_line(db: Database) -> None:
    add_person(db)
    (document,) = exported(db)
    document["name"]["givenNames"] = "Jonas\nAntanas"
    out = io.StringIO()
    writer = csv.writer(out)
    for row in (COLUMNS, person_cells(document), [], person_cells(document)):
        writer.writerow(row)  # a header, two rows of two lines, a blank between

    rows = list(read_rows(io.BytesIO(out.getvalue().encode()), "x"))

    assert [number for number, *_ in rows] == [2, 5]
    assert rows[0][1] == document


def test_a_csv_header_that_does_not_fit_refuses_the_file(db: Database) -> None:
    header = ",".join(name for name in COLUMNS if name != "photoId") + ",extra\n"
    with pytest.raises(
        FeedRefused,
        match="line 1: the header row lacks the columns photoId; "
        "has unknown columns extra",
    ):
        load(db, header.encode(), file_format="csv", rejects=io.StringIO())


def test_csv_rows_with_problems_are_refused_by_line(db: Database) -> None:
    add_person(db)
    out = io.StringIO()
    write_csv(out, exported(db))
    good = out.getvalue().splitlines()[1]
    data = (
        "\n".join(
            [
                ",".join(COLUMNS),
                good.replace(",0,", ",many,", 1),  # 2: childrenCount not a number
                "a,b",  # 3
                good.replace("ID_CARD", "X") if "ID_CARD" in good else good + ",x",  # 4
            ]
        ).encode()
        + b"\n\xff,\n"
    )
    with pytest.raises(FeedRefused) as refused:
        load(db, data, file_format="csv")
    reasons = {p.line: p.reason for p in refused.value.problems}
    assert "childrenCount must be integer" in reasons[2]
    assert reasons[3] == f"the row has 2 cells, the header {len(COLUMNS)}"
    assert 4 in reasons
    assert reasons[5] == "not UTF-8 text"


def test_the_format_follows_the_file_name() -> None:
    assert format_of("persons.CSV") == "csv"
    assert format_of("persons.jsonl") == "jsonl"
    assert format_of("-") == "jsonl"


# --- the README --------------------------------------------------------------------


def _readme_section() -> str:
    text = README.read_text(encoding="utf-8")
    return text.split("## Snapshot files\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_examples_are_snapshot_lines_the_loader_takes(
    db: Database,
) -> None:
    section = _readme_section()
    (jsonl_block,) = re.findall(r"```json\n(.*?)```", section, flags=re.DOTALL)
    (csv_block,) = re.findall(r"```csv\n(.*?)```", section, flags=re.DOTALL)

    from_jsonl = load(db, jsonl_block.encode(), recorded_at=RECORDED)
    from_csv = load(db, csv_block.encode(), file_format="csv")

    assert from_jsonl.new_persons == from_jsonl.lines == 1
    assert from_csv.unchanged == from_csv.lines == 1
    assert all(f"`{name}`" in section for name in COLUMNS)
    code = json.loads(jsonl_block)["personalCode"]
    assert codes.check_code(code, today=date(2026, 11, 2)).valid


def test_a_code_replaced_for_a_wrong_birth_date_exports_a_line_a_snapshot_takes(db):
    """The record follows what its new code states, so its export agrees with it."""
    person = add_person(db, sex="F", born=date(1961, 3, 9))
    corrected = codes.make_code("F", date(1961, 9, 3), 417)
    record(
        db,
        event(
            EventType.CODE_REPLACED, at(db, 1), person.personal_code, newCode=corrected
        ),
    )
    with db.read() as conn:
        (line,) = [
            dump_line(d) for d in export_persons(conn) if d["personalCode"] == corrected
        ]
    assert json.loads(line)["birthDate"] == "1961-09-03"

    report = load(db, line.encode() + b"\n")

    assert (report.changes, report.refused) == (0, 0)
