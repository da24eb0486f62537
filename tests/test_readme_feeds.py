"""The examples the README gives of the feed formats are valid lines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from regwatch.register.events import EventType
from regwatch.register.feed import event_from_object, parse_json_object

README = Path(__file__).resolve().parents[1] / "README.md"


def _json_lines(section: str) -> list[bytes]:
    text = README.read_text(encoding="utf-8")
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```json\n(.*?)```", body, flags=re.DOTALL)
    return [line.encode() for block in blocks for line in block.splitlines() if line]


def test_the_event_examples_are_events_the_reader_takes() -> None:
    lines = _json_lines("Register event files")
    kinds = [event_from_object(parse_json_object(line)).type for line in lines]
    assert kinds == [EventType.RESIDENCE_DECLARED, EventType.DEATH]


def test_every_event_type_is_in_the_readme_table() -> None:
    text = README.read_text(encoding="utf-8")
    table = text.split("## Register event files\n", 1)[1].split("\n## ", 1)[0]
    missing = [kind.value for kind in EventType if f"`{kind.value}`" not in table]
    assert missing == []


@pytest.mark.parametrize("kind", list(EventType))
def test_every_event_type_has_its_form_in_the_schema(kind: EventType) -> None:
    from regwatch.register.feed import event_validators

    _, by_type = event_validators()
    assert kind.value in by_type


def test_the_snapshot_examples_are_one_person_in_both_formats() -> None:
    import csv

    from regwatch import codes
    from regwatch.register.feed import person_validator
    from regwatch.register.snapshot_csv import person_from_cells

    (line,) = _json_lines("Snapshot files")
    person = parse_json_object(line)
    person_validator()(person)
    for code in (person["personalCode"], *person["previousCodes"]):
        assert codes.is_valid(code, today=codes.birth_date(code)), code

    text = README.read_text(encoding="utf-8")
    body = text.split("## Snapshot files\n", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```csv\n(.*?)```", body, flags=re.DOTALL)
    (row,) = csv.DictReader(block.splitlines())
    assert person_from_cells(row) == person
