"""regwatch register load-snapshot and export --format, as an operator runs them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from regwatch.cli import main
from testdb import Databases

RECORDED = "2026-11-02T10:00:00+02:00"


def run(env: dict[str, str], *args: str, stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(
        main, list(args), env=env, input=None if stdin is None else io.BytesIO(stdin)
    )


def database(databases: Databases) -> dict[str, str]:
    env = {"REGWATCH_DATABASE_URL": databases.empty()}
    assert run(env, "init", "--simulated-clock", "2026-11-02").exit_code == 0
    return env


@pytest.fixture
def mirror(databases: Databases) -> dict[str, str]:
    env = database(databases)
    assert run(env, "register", "generate", "--persons", "300").exit_code == 0
    return env


def export(env: dict[str, str], path: Path, file_format: str = "jsonl") -> str:
    result = run(env, "register", "export", "--format", file_format, "--out", str(path))
    assert result.exit_code == 0, result.output
    return path.read_text(encoding="utf-8")


def test_an_export_goes_into_an_empty_mirror_and_comes_out_the_same(
    mirror: dict[str, str], tmp_path: Path, databases: Databases
) -> None:
    written = export(mirror, tmp_path / "persons.csv", "csv")
    assert written.startswith("personalCode,previousCodes,sex,")
    empty = database(databases)

    result = run(
        empty,
        "register",
        "load-snapshot",
        str(tmp_path / "persons.csv"),
        "--recorded-at",
        RECORDED,
        "--full",
    )

    assert result.exit_code == 0, result.output
    assert "300 persons read: 0 unchanged, 0 changed, 300 new" in result.output
    assert "0 persons of the mirror missing from the file" in result.output
    assert export(empty, tmp_path / "again.csv", "csv") == written
    assert export(empty, tmp_path / "a.jsonl") == export(mirror, tmp_path / "b.jsonl")


def test_changes_are_summed_up_by_day(mirror: dict[str, str], tmp_path: Path) -> None:
    lines = export(mirror, tmp_path / "persons.jsonl").splitlines()
    first = json.loads(lines[0])
    first["childrenCount"] += 1
    data = "\n".join([json.dumps(first), *lines[1:20]]) + "\n"

    result = run(
        mirror,
        "register",
        "load-snapshot",
        "-",
        "--recorded-at",
        RECORDED,
        "--administrative",
        stdin=data.encode(),
    )

    assert result.exit_code == 0, result.output
    assert "-: snapshot of 2026-11-02T10:00:00+02:00" in result.output
    assert "20 persons read: 19 unchanged, 1 changed" in result.output
    assert "1 administrative changes written" in result.output
    assert "  2026-11-02: 1 changes" in result.output
    assert "persons of the mirror missing" not in result.output


def test_full_lists_the_missing_in_a_file(
    mirror: dict[str, str], tmp_path: Path
) -> None:
    lines = export(mirror, tmp_path / "persons.jsonl").splitlines()
    (tmp_path / "part.jsonl").write_text("\n".join(lines[2:]) + "\n", encoding="utf-8")

    result = run(
        mirror,
        "register",
        "load-snapshot",
        str(tmp_path / "part.jsonl"),
        "--recorded-at",
        RECORDED,
        "--full",
        "--missing",
        str(tmp_path / "missing.txt"),
    )

    assert result.exit_code == 0, result.output
    assert "2 persons of the mirror missing from the file" in result.output
    missing = (tmp_path / "missing.txt").read_text().split()
    assert sorted(missing) == sorted(
        json.loads(line)["personalCode"] for line in lines[:2]
    )
    assert len(export(mirror, tmp_path / "after.jsonl").splitlines()) == 300


def test_a_refused_file_exits_non_zero_with_its_problems(
    mirror: dict[str, str], tmp_path: Path
) -> None:
    lines = export(mirror, tmp_path / "persons.jsonl").splitlines()
    first = json.loads(lines[0])
    first["childrenCount"] = -1
    data = "\n".join([lines[1], json.dumps(first), "{oops"]) + "\n"
    path = tmp_path / "bad.jsonl"
    path.write_text(data, encoding="utf-8")

    refused = run(
        mirror, "register", "load-snapshot", str(path), "--recorded-at", RECORDED
    )

    assert refused.exit_code == 1
    assert "refused, nothing applied: 2 problem(s)" in refused.output
    assert "line 2: childrenCount must be bigger than or equal to 0" in refused.output
    assert "line 3: not JSON" in refused.output

    skipped = run(
        mirror,
        "register",
        "load-snapshot",
        str(path),
        "--recorded-at",
        RECORDED,
        "--skip-invalid",
        str(tmp_path / "rejects.jsonl"),
    )
    assert skipped.exit_code == 0, skipped.output
    assert "1 unchanged, 0 changed, 0 new, 0 updated without a change, 2 refused" in (
        skipped.output
    )
    rejects = (tmp_path / "rejects.jsonl").read_text().splitlines()
    assert [json.loads(line)["line"] for line in rejects] == [2, 3]


def test_bad_options_get_a_clear_message(
    mirror: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("", encoding="utf-8")

    no_offset = run(
        mirror,
        "register",
        "load-snapshot",
        str(path),
        "--recorded-at",
        "2026-11-02T10:00",
    )
    assert no_offset.exit_code == 2
    assert "has no time zone offset" in no_offset.output

    missing_alone = run(
        mirror,
        "register",
        "load-snapshot",
        str(path),
        "--recorded-at",
        RECORDED,
        "--missing",
        str(tmp_path / "m.txt"),
    )
    assert missing_alone.exit_code == 2
    assert "--missing lists what a --full snapshot lacks" in missing_alone.output
