"""regwatch register ingest, as an operator runs it on a file or a pipe."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from conftest import START
from factories import add_person, event, move_clock, new_code
from regwatch.cli import main
from regwatch.config import Settings
from regwatch.register.events import EventType
from regwatch.register.feed import event_line
from regwatch.setup import open_database
from regwatch.store.engine import Database
from regwatch.store.tables import change_log


@pytest.fixture
def operator(databases):
    """An initialised database on the simulated clock, at 06:00 on its first day."""
    env = {"REGWATCH_DATABASE_URL": databases.empty()}
    assert run(env, "init", "--simulated-clock", "2026-11-02").exit_code == 0
    db = open_database(Settings(database_url=env["REGWATCH_DATABASE_URL"]))
    move_clock(db, START + timedelta(hours=6))
    yield env, db
    db.engine.dispose()


def run(env: dict[str, str], *args: str, stdin: io.IOBase | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, input=stdin)


def timing_removed(output: str) -> str:
    """The output with its one "(took 0.3 s)" taken out, so it can be compared."""
    cleaned, found = re.subn(r" \(took \d+\.\d s\)", "", output)
    assert found == 1, output
    return cleaned


class PipedStdin(io.BytesIO):
    """Standard input fed by a pipe: it cannot seek, and it is named as Python
    names it (CliRunner's own stand-in has no name at all)."""

    name = "<stdin>"

    def seekable(self) -> bool:
        return False


def renames(db: Database, *surnames: str) -> list[bytes]:
    """One name change a line, each of a new person, an hour apart from 01:00."""
    return [
        event_line(
            event(
                EventType.NAME_CHANGE,
                START + timedelta(hours=hour),
                add_person(db).personal_code,
                surname=surname,
            )
        )
        for hour, surname in enumerate(surnames, start=1)
    ]


def change_rows(db: Database) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(change_log)).scalar_one()


def test_a_file_is_applied_and_a_second_run_says_nothing_new(operator, tmp_path):
    env, db = operator
    feed = tmp_path / "events.jsonl"
    feed.write_bytes(b"".join(renames(db, "Pirmas", "Antras", "Trečias")))

    first = run(env, "register", "ingest", str(feed))
    second = run(env, "register", "ingest", str(feed))

    assert first.exit_code == 0, first.output
    assert timing_removed(first.stdout) == (
        f"{feed}: 3 lines, 3 events applied, 0 recorded before, 0 refused\n"
        "3 changes written, 0 new persons\n"
        "  2026-11-02: 3 changes\n"
    )
    assert second.exit_code == 0, second.output
    assert timing_removed(second.stdout) == (
        f"nothing new: all 3 events of {feed} were recorded before; "
        "the mirror is unchanged\n"
    )
    assert change_rows(db) == 3


def test_a_refused_file_exits_non_zero_listing_its_problems_by_line(operator, tmp_path):
    env, db = operator
    good = renames(db, "Pirmas", "Antras")
    stranger = new_code()
    unknown = event_line(
        event(EventType.NAME_CHANGE, START + timedelta(hours=3), stranger, surname="X")
    )
    feed = tmp_path / "events.jsonl"
    feed.write_bytes(good[0] + unknown + b"[]\n" + good[1])

    result = run(env, "register", "ingest", str(feed))

    assert result.exit_code == 1
    assert result.stdout == ""
    assert (
        f"Error: event file {feed} refused, nothing applied: 2 problem(s)\n"
        f"line 2: no person with code {stranger} in the register\n"
        "line 3: a line must be a JSON object, not an array\n"
    ) in result.stderr
    assert change_rows(db) == 0


def test_a_dash_reads_the_events_from_standard_input(operator):
    env, db = operator
    lines = renames(db, "Pirmas", "Antras")

    result = run(env, "register", "ingest", "-", stdin=PipedStdin(b"".join(lines)))

    assert result.exit_code == 0, result.output
    assert timing_removed(result.stdout).splitlines()[0] == (
        "-: 2 lines, 2 events applied, 0 recorded before, 0 refused"
    )
    assert change_rows(db) == 2


def test_skip_invalid_applies_the_good_lines_and_writes_the_rejects(operator, tmp_path):
    env, db = operator
    good = renames(db, "Pirmas", "Antras")
    broken = '{"formatVersion": 1, "eventId": "šitas'
    feed, rejects = tmp_path / "events.jsonl", tmp_path / "rejects.jsonl"
    feed.write_bytes(good[0] + b"\n" + broken.encode() + b"\n" + good[1])

    result = run(env, "register", "ingest", str(feed), "--skip-invalid", str(rejects))

    assert result.exit_code == 0, result.output
    assert timing_removed(result.stdout).splitlines() == [
        f"{feed}: 4 lines, 2 events applied, 0 recorded before, 1 refused",
        "2 changes written, 0 new persons",
        "  2026-11-02: 2 changes",
        "refused lines written to the rejects file (1)",
    ]
    (reject,) = [json.loads(line) for line in rejects.read_text("utf-8").splitlines()]
    assert (reject["line"], reject["text"]) == (3, broken)
    assert reject["reason"].startswith("not JSON: ")
    assert change_rows(db) == 2


def test_skip_invalid_with_nothing_to_skip_leaves_no_stale_rejects(operator, tmp_path):
    env, db = operator
    feed, rejects = tmp_path / "events.jsonl", tmp_path / "rejects.jsonl"
    feed.write_bytes(b"".join(renames(db, "Pirmas")))
    rejects.write_text('{"line": 7, "reason": "from an earlier run"}\n', "utf-8")

    result = run(env, "register", "ingest", str(feed), "--skip-invalid", str(rejects))

    assert result.exit_code == 0, result.output
    assert rejects.read_text("utf-8") == ""


def test_an_administrative_file_says_its_changes_are_administrative(operator, tmp_path):
    env, db = operator
    feed = tmp_path / "cleanup.jsonl"
    feed.write_bytes(b"".join(renames(db, "Pirmas", "Antras")))

    result = run(env, "register", "ingest", str(feed), "--administrative")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == (
        "2 administrative changes written, 0 new persons"
    )
    with db.read() as conn:
        flags = conn.execute(select(change_log.c.administrative)).scalars().all()
    assert flags == [True, True]
