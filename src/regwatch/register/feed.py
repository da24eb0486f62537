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

import hashlib
import heapq
import json
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import IO, Any

import fastjsonschema
import orjson

from regwatch import codes
from regwatch.clock import VILNIUS, day_of, parse_instant, to_micros
from regwatch.register.events import EventType, RegisterEvent

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
    """The problems of one file: all counted, the ``limit`` first by line kept.

    Problems are found in two passes (reading, then applying in recording
    order), so the first found are not always the first lines; a bounded heap
    keeps the lowest line numbers whatever the order they come in.
    """

    limit: int | None = PROBLEM_LIMIT  # None: keep them all (for a rejects file)
    _heap: list[tuple[int, int, Problem]] = field(default_factory=list)
    total: int = 0

    def add(self, line: int, reason: str, text: str = "") -> None:
        self.total += 1
        item = (-line, self.total, Problem(line, reason, text))
        if self.limit is None or len(self._heap) < self.limit:
            heapq.heappush(self._heap, item)
        elif line < -self._heap[0][0]:
            heapq.heapreplace(self._heap, item)

    @property
    def listed(self) -> list[Problem]:
        """The problems kept, by line."""
        return sorted((problem for _, _, problem in self._heap), key=_by_line)

    def __bool__(self) -> bool:
        return self.total > 0

    def refusal(self, what: str) -> FeedRefused:
        return FeedRefused(what, self.listed, self.total)


def _by_line(problem: Problem) -> tuple[int, str]:
    return problem.line, problem.reason


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
    """The validator's message in plainer words, with the field's JSON path.

    fastjsonschema names the line object ``data``; here it is "the line", and a
    pattern the schema uses for a known kind of value is named, not quoted.
    """
    path = ".".join(str(part) for part in (error.path or [])[1:])
    where = path or "the line"
    if error.rule == "const":
        return f"{where} must be {json.dumps(error.rule_definition)}"
    names = _pattern_names()
    if error.rule == "pattern" and error.rule_definition in names:
        return f"{where} must be {names[error.rule_definition]}"
    message = str(error.message)
    if message.startswith("data."):
        return message[len("data.") :]
    if message.startswith("data "):
        return "the line " + message[len("data ") :]
    return message


@cache
def _pattern_names() -> dict[str, str]:
    definitions = schema()["definitions"]
    event = definitions["event"]["properties"]
    return {
        definitions["code"]["pattern"]: "a personal code of 11 digits",
        definitions["date"]["pattern"]: "a date written YYYY-MM-DD",
        definitions["country"]["pattern"]: "a country code of two capital letters",
        event["recordedAt"]["pattern"]: "a time with its offset, "
        "like 2026-11-09T10:15:02+02:00",
        event["eventId"]["pattern"]: "1 to 80 of A-Z a-z 0-9 . _ : -, "
        "starting with a letter or digit",
    }


# --- lines ---------------------------------------------------------------------


def parse_json_object(line: bytes) -> dict[str, Any]:
    """A line's JSON object; ValueError saying what is wrong otherwise."""
    if len(line) > MAX_LINE_BYTES:
        raise ValueError(f"line is longer than {MAX_LINE_BYTES} bytes")
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"not JSON: {error}") from None
    if not isinstance(value, dict):
        raise ValueError(f"a line must be a JSON object, not {_json_name(value)}")
    return value


def _json_name(value: Any) -> str:
    """What a parsed JSON value is, in JSON's words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else type(value).__name__


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


# --- events ----------------------------------------------------------------------


def event_from_object(value: dict[str, Any]) -> RegisterEvent:
    """A register event from a line's JSON object; ValueError saying why not."""
    envelope, by_type = event_validators()
    try:
        envelope(value)
        by_type[value["type"]](value)
    except fastjsonschema.JsonSchemaValueException as error:
        raise ValueError(schema_error(error)) from None
    try:
        recorded_at = parse_instant(value["recordedAt"])
        today = day_of(recorded_at)
    except (ValueError, OverflowError):
        raise ValueError(f"recordedAt {value['recordedAt']!r} is not a time") from None
    data = value["data"]
    check_dates(data, "data")
    for index, code in enumerate(value["persons"]):
        _check_code(code, today, f"persons[{index}]")
    for where, code in codes_in_data(value["type"], data):
        _check_code(code, today, where)
    return _event(value, recorded_at)


def _event(value: dict[str, Any], recorded_at: datetime | None = None) -> RegisterEvent:
    """The event of a line object already checked (read again from its file)."""
    return RegisterEvent(
        event_id=value["eventId"],
        type=EventType(value["type"]),
        recorded_at=recorded_at or parse_instant(value["recordedAt"]),
        persons=tuple(value["persons"]),
        data=value["data"],
    )


def codes_in_data(
    kind: EventType | str, data: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    """The personal codes an event's data names, with where (for messages).

    Tolerant of data of the wrong shape: what is missing is simply not named.
    """
    kind = kind.value if isinstance(kind, EventType) else kind
    places = {
        "BIRTH": ("child", "personalCode"),
        "FOREIGNER_ARRIVED": ("person", "personalCode"),
    }
    if kind in places:
        outer, inner = places[kind]
        holder = data.get(outer)
        if isinstance(holder, Mapping) and isinstance(holder.get(inner), str):
            yield f"data.{outer}.{inner}", holder[inner]
    elif kind == "CODE_REPLACED" and isinstance(data.get("newCode"), str):
        yield "data.newCode", data["newCode"]
    surnames = data.get("surnames")
    if isinstance(surnames, Mapping):
        for code in surnames:
            yield "data.surnames", code


def _check_code(code: str, today: date, where: str) -> None:
    check = codes.check_code(code, today=today)
    if not check.valid:
        raise ValueError(
            f"{where} {code!r} is not a valid personal code: {check.message}"
        )


def event_to_object(event: RegisterEvent) -> dict[str, Any]:
    """The line object of an event, in the order the README shows."""
    return {
        "formatVersion": FORMAT_VERSION,
        "eventId": event.event_id,
        "type": event.type.value,
        "recordedAt": event.recorded_at.astimezone(VILNIUS).isoformat(),
        "persons": list(event.persons),
        "data": event.data,
    }


def event_line(event: RegisterEvent) -> bytes:
    """One line of an event file, newline included."""
    return orjson.dumps(event_to_object(event)) + b"\n"


def event_digest(event: RegisterEvent) -> str:
    """What an event says, as a hash: the same event in any spelling (key order,
    time offset) gives the same digest; another event under the same id does not."""
    canonical = orjson.dumps(
        [event.type.value, to_micros(event.recorded_at), event.persons, event.data],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(canonical).hexdigest()


@dataclass(frozen=True, order=True, slots=True)
class IndexEntry:
    """Where a good line of an event file is, in recording order."""

    recorded_at: int  # microseconds, UTC
    event_id: str
    line: int
    offset: int
    length: int


@dataclass
class EventFile:
    """An event file read once: its good lines indexed, its problems listed.

    The lines themselves stay in the file (a copy, for a pipe), so that a
    clean-up of half a million events is sorted by an index of small tuples
    rather than by half a million parsed events held in memory.
    """

    source: IO[bytes]
    index: list[IndexEntry]
    problems: Problems
    lines: int = 0
    repeated_in_file: int = 0  # the same event twice in the file: kept once
    # Each event id read: its digest and its line (a repeat or a clash is told
    # apart by the digest; applying reuses it rather than hashing again).
    seen: dict[str, tuple[str, int]] = field(default_factory=dict)
    _by_id: dict[str, IndexEntry] | None = None

    def digest_of(self, event: RegisterEvent) -> str:
        return self.seen[event.event_id][0]

    def events(self) -> Iterator[RegisterEvent]:
        """The good events in recording order (ties by event id)."""
        for entry in self.index:
            self.source.seek(entry.offset)
            yield _event(orjson.loads(self.source.read(entry.length)))

    def refuse(self, event_id: str, reason: str) -> None:
        """Count a good line's event as refused when applied, with its line."""
        if self._by_id is None:
            self._by_id = {entry.event_id: entry for entry in self.index}
        entry = self._by_id[event_id]
        self.source.seek(entry.offset)
        self.problems.add(entry.line, reason, line_text(self.source.read(entry.length)))


def read_event_file(stream: IO[bytes], limit: int | None = PROBLEM_LIMIT) -> EventFile:
    """Check every line of an event file and index the good ones.

    A stream that cannot seek (a pipe) is copied to a temporary file on the way.
    """
    source = stream if stream.seekable() else _spooled(stream)
    problems = Problems(limit=limit)
    index: list[IndexEntry] = []
    found = EventFile(source, index, problems)
    seen = found.seen
    source.seek(0)
    offset = 0
    for number, (size, raw) in enumerate(_bounded_lines(source), start=1):
        start, offset = offset, offset + size
        found.lines = number
        if raw is None:
            source.seek(start)
            head = line_text(source.read(200))
            source.seek(offset)
            problems.add(number, f"line is longer than {MAX_LINE_BYTES} bytes", head)
            continue
        line = raw.rstrip(b"\r\n")
        if not line.strip():
            continue
        try:
            event = event_from_object(parse_json_object(line))
        except ValueError as error:
            problems.add(number, str(error), line_text(line))
            continue
        digest = event_digest(event)
        earlier = seen.get(event.event_id)
        if earlier is not None:
            if earlier[0] == digest:
                found.repeated_in_file += 1
            else:
                problems.add(
                    number,
                    f"event id {event.event_id} is used on line "
                    f"{earlier[1]} for another event",
                    line_text(line),
                )
            continue
        seen[event.event_id] = (digest, number)
        index.append(
            IndexEntry(
                to_micros(event.recorded_at), event.event_id, number, start, len(line)
            )
        )
    index.sort()
    return found


def _bounded_lines(source: IO[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """``(size, line)`` of each line of a file; ``line`` is None for a line
    longer than MAX_LINE_BYTES, which is skipped through in pieces, so that a
    stray 300 MB line costs a refusal and not 300 MB of memory."""
    while True:
        raw = source.readline(MAX_LINE_BYTES + 2)
        if not raw:
            return
        if len(raw) <= MAX_LINE_BYTES + 1 or raw.endswith(b"\n"):
            yield len(raw), raw
            continue
        size = len(raw)
        while not raw.endswith(b"\n"):
            raw = source.readline(1 << 20)
            if not raw:
                break
            size += len(raw)
        yield size, None


def _spooled(stream: IO[bytes]) -> IO[bytes]:
    copy = tempfile.TemporaryFile(prefix="regwatch-feed-")  # noqa: SIM115 - EventFile owns it
    shutil.copyfileobj(stream, copy, length=1 << 20)
    return copy
