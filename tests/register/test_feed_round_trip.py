"""The simulator's event file, fed to a copy of the register it started from,
makes the same mirror and the same change log."""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import orjson
import pytest
from sqlalchemy import select

from conftest import START
from regwatch.clock import day_of, day_start, parse_instant
from regwatch.config import Settings
from regwatch.register.export import export_persons
from regwatch.register.ingest import IngestReport, ingest_events
from regwatch.register.synth import SimulationSummary, generate_register, simulate
from regwatch.setup import initialise, open_database
from regwatch.store.engine import Database
from regwatch.store.tables import change_log, register_events

PERSONS = 2_500
SEED = 11
DAYS = 4
RATE_SCALE = 60  # a few hundred events a day from a register this small


def database(url: str) -> Database:
    return open_database(Settings(database_url=url))


@pytest.fixture(scope="module")
def mirrors(databases):
    """Copies of one generated register: the first simulated for DAYS days, the
    others fed the event file that the simulation wrote, whole or a day at a
    time (as the simulation itself takes it in)."""
    template = databases.migrated("template")
    db = database(template)
    initialise(db, simulated_clock=START)
    generate_register(db, PERSONS, SEED, start=START)
    db.engine.dispose()
    copies = {
        name: database(databases.copy(template, name))
        for name in ("simulated", "whole", "daily")
    }
    simulated = copies["simulated"]

    written = io.BytesIO()
    summary = simulate(simulated, DAYS, SEED, rate_scale=RATE_SCALE, out=written)
    events = written.getvalue()
    report = feed(copies["whole"], events, simulated.now())
    for day, lines in sorted(lines_by_day(events).items()):
        feed(copies["daily"], b"".join(lines), day_start(day + timedelta(days=1)))
    yield Mirrors(**copies, summary=summary, report=report, events=events)
    for copy in copies.values():
        copy.engine.dispose()


@dataclass
class Mirrors:
    simulated: Database
    whole: Database
    daily: Database
    summary: SimulationSummary
    report: IngestReport  # of the whole file
    events: bytes


def feed(db: Database, events: bytes, received_at: datetime) -> IngestReport:
    with db.write() as conn:
        return ingest_events(
            conn, io.BytesIO(events), source="simulated.jsonl", received_at=received_at
        )


def lines_by_day(events: bytes) -> dict[date, list[bytes]]:
    days: dict[date, list[bytes]] = {}
    for line in events.splitlines(keepends=True):
        day = day_of(parse_instant(orjson.loads(line)["recordedAt"]))
        days.setdefault(day, []).append(line)
    return days


def change_rows(db: Database) -> list[tuple]:
    """The change log without what depends on the moment of receipt."""
    with db.read() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                select(
                    change_log.c.person_id,
                    change_log.c.recorded_at,
                    change_log.c.day,
                    change_log.c.kinds,
                    change_log.c.previous_code,
                    change_log.c.event_id,
                    change_log.c.administrative,
                ).order_by(change_log.c.change_id)
            )
        ]


def event_rows(db: Database) -> list[tuple]:
    with db.read() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                select(
                    register_events.c.event_id,
                    register_events.c.type,
                    register_events.c.recorded_at,
                    register_events.c.digest,
                ).order_by(register_events.c.event_id)
            )
        ]


def export(db: Database) -> list[dict]:
    with db.read() as conn:
        return list(export_persons(conn))


def test_the_event_file_is_all_the_simulation_recorded(mirrors):
    summary, report = mirrors.summary, mirrors.report
    lines = mirrors.events.splitlines()
    types = Counter(orjson.loads(line)["type"] for line in lines)

    # Enough of a register's life to make the comparisons below mean something.
    assert summary.events > 500
    assert len(types) >= 10
    assert {"BIRTH", "DEATH", "FOREIGNER_ARRIVED"} <= set(types)
    assert types == Counter(summary.by_type)
    assert sorted(lines_by_day(mirrors.events)) == [
        START.date() + timedelta(days=n) for n in range(DAYS)
    ]
    assert (report.lines, report.applied) == (len(lines), summary.events)
    assert (report.duplicates, report.refused) == (0, 0)
    assert report.new_persons == summary.new_persons


def test_fed_a_day_at_a_time_the_change_log_is_the_same(mirrors):
    expected = change_rows(mirrors.simulated)

    assert len(expected) > 500
    assert change_rows(mirrors.daily) == expected


def test_fed_whole_the_change_log_is_the_same(mirrors):
    assert mirrors.report.changes == mirrors.summary.changes
    assert change_rows(mirrors.whole) == change_rows(mirrors.simulated)


@pytest.mark.parametrize("fed", ["whole", "daily"])
def test_the_mirrors_recorded_the_same_events(mirrors, fed):
    expected = event_rows(mirrors.simulated)

    assert len(expected) == mirrors.summary.events
    assert event_rows(getattr(mirrors, fed)) == expected


@pytest.mark.parametrize("fed", ["whole", "daily"])
def test_the_mirrors_export_the_same_persons(mirrors, fed):
    expected = export(mirrors.simulated)

    assert len(expected) == PERSONS + mirrors.summary.new_persons
    assert export(getattr(mirrors, fed)) == expected


def test_the_event_file_fed_again_to_the_simulated_mirror_is_nothing_new(mirrors):
    simulated = mirrors.simulated
    before = change_rows(simulated)

    again = feed(simulated, mirrors.events, simulated.now())

    assert (again.applied, again.changes) == (0, 0)
    assert again.duplicates == mirrors.summary.events
    assert change_rows(simulated) == before
