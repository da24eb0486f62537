"""Reading register feeds: event files and snapshot files, line by line.

Both are JSON Lines described by the JSON Schema ``schemas/feed-v1.schema.json``
(definitions ``event`` and ``person``). A line is checked in three steps: it must
be JSON, it must match the schema, and what the schema cannot say (a real date,
a personal code with its check digit) is checked here. What needs the mirror (an
unknown person, a divorce of two unmarried persons) is found when the line is
applied; either way a refusal names the line.

A refused file is refused whole: ``Problems`` collects every problem (listing the
first ``PROBLEM_LIMIT``) and ``FeedRefused`` carries them to the caller, who
rolls the transaction back. With ``--skip-invalid`` the refused lines go to a
rejects file instead, as JSON Lines ``{"line", "reason", "text"}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from typing import IO, Any

import fastjsonschema
import orjson

SCHEMA_FILE = "feed-v1.schema.json"
FORMAT_VERSION = 1
PROBLEM_LIMIT = 100
MAX_LINE_BYTES = 1_000_000  # a register event or person is a few kilobytes


@dataclass(frozen=True)
class Problem:
    """One refused line: where, why, and the line as it was read."""

    line: int
    reason: str
    text: str = ""

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class Problems:
    """The problems of one file: all counted, the first ``limit`` kept."""

    limit: int = PROBLEM_LIMIT
    listed: list[Problem] = field(default_factory=list)
    total: int = 0

    def add(self, line: int, reason: str, text: str = "") -> None:
        self.total += 1
        if len(self.listed) < self.limit:
            self.listed.append(Problem(line, reason, text))

    def __bool__(self) -> bool:
        return self.total > 0

    def refusal(self, what: str) -> FeedRefused:
        return FeedRefused(what, sorted(self.listed, key=lambda p: p.line), self.total)


class FeedRefused(Exception):
    """A feed with problems, refused whole: nothing of it was applied."""

    def __init__(self, what: str, problems: list[Problem], total: int) -> None:
        self.what = what
        self.problems = problems
        self.total = total
        more = total - len(problems)
        lines = [str(p) for p in problems]
        if more > 0:
            lines.append(f"... and {more} more")
        super().__init__(
            f"{what} refused, nothing applied: {total} problem(s)\n" + "\n".join(lines)
        )


def write_rejects(stream: IO[str], problems: list[Problem]) -> None:
    """Refused lines as JSON Lines: the line number, the reason, the text."""
    for problem in sorted(problems, key=lambda p: p.line):
        record = {"line": problem.line, "reason": problem.reason, "text": problem.text}
        stream.write(json.dumps(record, ensure_ascii=False) + "\n")


# --- the schema --------------------------------------------------------------


@cache
def schema() -> dict[str, Any]:
    text = resources.files("regwatch.register").joinpath("schemas", SCHEMA_FILE)
    loaded: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return loaded


def _compile(subschema: dict[str, Any]) -> Any:
    definitions = schema()["definitions"]
    return fastjsonschema.compile({"definitions": definitions, **subschema})


@cache
def person_validator() -> Any:
    return _compile({"$ref": "#/definitions/person"})


@cache
def event_validators() -> tuple[Any, dict[str, Any]]:
    """The event envelope's validator, and each type's validator of the rest.

    The schema states each type's form as an ``if``/``then`` in ``allOf``, which
    any JSON Schema tool understands; checking the envelope first and then only
    the type's own ``then`` is the same verdict at a fraction of the time.
    """
    event = schema()["definitions"]["event"]
    envelope = _compile({key: value for key, value in event.items() if key != "allOf"})
    by_type: dict[str, Any] = {}
    for branch in event["allOf"]:
        condition = branch["if"]["properties"]["type"]
        names = condition.get("enum") or [condition["const"]]
        check = _compile({"type": "object", **branch["then"]})
        for name in names:
            by_type[name] = check
    return envelope, by_type


def schema_error(error: fastjsonschema.JsonSchemaValueException) -> str:
    """The validator's message, with the JSON path written the usual way."""
    message = str(error.message)
    return message.replace("data.", "", 1) if message.startswith("data.") else message


# --- lines ---------------------------------------------------------------------


def numbered_lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines with their 1-based numbers; line ends stripped."""
    for number, raw in enumerate(stream, start=1):
        line = raw.rstrip(b"\r\n")
        if line.strip():
            yield number, line


def parse_json_object(line: bytes) -> dict[str, Any]:
    """A line's JSON object; ValueError saying what is wrong otherwise."""
    if len(line) > MAX_LINE_BYTES:
        raise ValueError(f"line is longer than {MAX_LINE_BYTES} bytes")
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"not JSON: {error}") from None
    if not isinstance(value, dict):
        raise ValueError(f"a line must be a JSON object, not {type(value).__name__}")
    return value


def check_dates(value: Any, path: str = "") -> None:
    """Every YYYY-MM-DD string under a date key must be a real date."""
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if isinstance(item, str) and key in DATE_KEYS:
                try:
                    date.fromisoformat(item)
                except ValueError:
                    raise ValueError(f"{where} {item!r} is not a real date") from None
            elif isinstance(item, dict | list):
                check_dates(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_dates(item, f"{path}[{index}]")


DATE_KEYS = frozenset(
    {
        "birthDate",
        "dateOfDeath",
        "date",
        "since",
        "issuedOn",
        "validUntil",
        "takenOn",
    }
)


def line_text(line: bytes) -> str:
    """A line as text for a rejects file, whatever its bytes were."""
    return line.decode("utf-8", errors="replace")
