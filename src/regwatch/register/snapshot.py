"""Snapshot files: the register's persons as they stand, compared with the mirror.

A snapshot holds persons one a line, in the shape of ``regwatch register
export`` (JSON Lines) or in its flat CSV form (snapshot_csv.py), as the register
stood at one moment, ``recorded_at``. Each person is found in the mirror by
personal code, or else by one of their previous codes (their code was then
replaced), compared group by group, and every difference becomes one
change-log row recorded at that moment. A person the mirror does not know is
added without a change. With ``full``, the persons of the mirror that the file
does not name are counted and listed, never deleted.

A file with a problem is refused whole, as event files are (feed.py); with a
rejects stream the good lines are applied and the refused ones written there.

Memory stays flat whatever the size of the file: it is read a few thousand
lines at a time, the persons of such a chunk are fetched in one query and
written back in bulk. Which persons the file named is kept in a temporary
table, and so are family links to persons that come later in the file, until
the whole file is in.

Speed: most lines of a snapshot are persons exactly as the mirror has them.
Their groups are compared as canonical JSON text, byte for byte, before any
schema check (the dearest step, kept for lines that differ), and parsing runs
in a helper process for a long file, so that a million persons take under a
minute on two processors (bench/snapshot_compare.py).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from itertools import islice
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.context import BaseContext
from typing import IO, Any, NamedTuple
from typing import cast as typed

import fastjsonschema
import orjson
import structlog
from sqlalchemy import (
    Column,
    Connection,
    Integer,
    LargeBinary,
    MetaData,
    Row,
    String,
    Table,
    bindparam,
    cast,
    column,
    exists,
    func,
    select,
    table,
    update,
)

from regwatch import codes
from regwatch.clock import day_of, to_micros
from regwatch.register.changes import kinds_changed
from regwatch.register.feed import (
    Problem,
    Problems,
    check_dates,
    line_text,
    parse_json_object,
    person_validator,
    schema,
    schema_error,
    write_rejects,
)
from regwatch.register.mirror import (
    CHANGE_COLUMNS,
    fewer_collections,
    first_open_day,
    note_feed_batch,
    record_from_row,
    report_day,
)
from regwatch.register.records import GROUP_NAMES, Family, PersonRecord
from regwatch.register.snapshot_csv import read_rows, row_text
from regwatch.store.engine import MIRROR_LOCK, lock_for_writing
from regwatch.store.sql import insert_tuples, stage_codes
from regwatch.store.tables import (
    CODE,
    change_log,
    personal_codes,
    persons,
)

log = structlog.get_logger(__name__)

CHUNK = 5_000  # lines of a CSV file taken at a time, persons settled at a time
BLOCK_BYTES = 4 << 20  # of a JSON Lines file taken at a time: some 4,500 persons
HELPER_AFTER = 2 * CHUNK  # lines before parsing moves to a helper process
PARENT_SLOTS = ("spouse", "mother", "father")
_NO_FAMILY = Family().to_json()  # the stored family of a person without links
# A restriction is the operator's flag (regwatch register restrict), not part of
# a snapshot's record: a snapshot neither sets nor clears it.
PERSON_COLUMNS = tuple(
    column.name for column in persons.columns if column.name != "restricted"
)
CODE_COLUMNS = ("code", "person_id", "assigned_at", "replaced_at")

# Private to the connection and emptied before each use (as store.sql does).
_scratch = MetaData()
seen_persons = Table(
    "snapshot_seen",
    _scratch,
    Column("person_id", Integer, primary_key=True),
    Column("line", Integer, nullable=False),
    prefixes=["TEMPORARY"],
)
pending_links = Table(
    "snapshot_links",
    _scratch,
    Column("person_id", Integer, primary_key=True),
    Column("slot", String(8), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("code", CODE, nullable=False),
    Column("line", Integer, nullable=False),
    prefixes=["TEMPORARY"],
)


# --- reading -------------------------------------------------------------------


def format_of(name: str) -> str:
    """The format a file name suggests: .csv is CSV, anything else JSON Lines."""
    return "csv" if name.lower().endswith(".csv") else "jsonl"


@dataclass(slots=True)
class _Chunk:
    """A part of a snapshot file: its persons as one block of JSON lines.

    A JSON Lines file is cut into blocks of whole lines as it is read, so that
    the lines themselves are split and parsed in _prepare_block (in the helper
    process for a long file). A CSV row becomes the JSON object of the same
    person first, so that from here on both formats take one path.
    """

    block: bytes  # JSON objects separated by "\n"; blank lines are skipped
    numbers: Sequence[int]  # the file's line number of each line of the block
    cells: list[list[str]] | None = None  # CSV: each row as read, for rejects
    problems: list[tuple[int, str, str]] = field(default_factory=list)

    def text(self, index: int, start: int, end: int) -> str:
        """A line as read, for a rejects file."""
        if self.cells is not None:
            return row_text(self.cells[index])
        return line_text(self.block[start:end])


def _chunks(stream: IO[bytes], file_format: str, source: str) -> Iterator[_Chunk]:
    if file_format == "csv":
        yield from _csv_chunks(stream, source)
        return
    first, rest = 1, b""
    while data := stream.read(BLOCK_BYTES):
        data = rest + data
        cut = data.rfind(b"\n") + 1
        block, rest = data[:cut], data[cut:]
        if block:
            count = block.count(b"\n")
            yield _Chunk(block, range(first, first + count))
            first += count
    if rest:  # a last line without its line end
        yield _Chunk(rest, range(first, first + 1))


def _csv_chunks(stream: IO[bytes], source: str) -> Iterator[_Chunk]:
    rows = read_rows(stream, _what(source))
    while part := list(islice(rows, CHUNK)):
        chunk = _Chunk(b"", [], [])
        datas = []
        for number, person, cells, problem in part:
            if person is None:
                chunk.problems.append((number, problem, row_text(cells)))
                continue
            assert isinstance(chunk.numbers, list) and chunk.cells is not None
            chunk.numbers.append(number)
            chunk.cells.append(cells)
            datas.append(orjson.dumps(person))
        chunk.block = b"\n".join(datas)
        yield chunk


def _what(source: str) -> str:
    return f"snapshot {source}"


# --- loading -------------------------------------------------------------------


@dataclass
class SnapshotReport:
    source: str
    full: bool
    administrative: bool
    lines: int = 0  # persons read (non-blank lines)
    unchanged: int = 0
    changed: int = 0  # persons with a change-log row
    updated: int = 0  # stored data changed, but no kind of change (see load_snapshot)
    new_persons: int = 0
    refused: int = 0
    links_left_out: int = 0  # with rejects: links to nobody, dropped from applied lines
    missing: int = 0  # with full: persons of the mirror the file does not name
    days: dict[date, int] = field(default_factory=dict)  # change rows by day

    @property
    def changes(self) -> int:
        return sum(self.days.values())

    @property
    def applied(self) -> int:
        return self.unchanged + self.changed + self.updated + self.new_persons


def load_snapshot(
    conn: Connection,
    stream: IO[bytes],
    *,
    source: str,
    file_format: str = "jsonl",
    recorded_at: datetime,
    received_at: datetime,
    full: bool = False,
    administrative: bool = False,
    rejects: IO[str] | None = None,
    missing: IO[str] | None = None,
    helper_after: int | None = HELPER_AFTER,
) -> SnapshotReport:
    """Compare a snapshot file with the mirror; write its differences as changes.

    ``file_format`` is "jsonl" or "csv" (see format_of); ``source`` names the
    file in messages and in the operator's log of feeds.

    Every difference in a group is a change recorded at ``recorded_at`` and
    reported on its day, or on the first unpublished day if that one is
    published. Citizenship, family links and earlier codes the mirror did not
    know are stored without a change (they are no kind); such persons count as
    ``updated``. A line whose code the mirror holds as someone's earlier code
    is refused: the snapshot is older than the mirror.

    Without ``rejects`` a line with a problem refuses the whole file: FeedRefused
    lists the problems by line and the caller's transaction must roll back.
    With it, refused lines are written there and the rest is applied; a family
    link to a code that neither the mirror nor the file holds is then left out
    of the person's family and written there too. With ``full``, the personal
    codes of the mirror's persons that the file does not name go to
    ``missing``, one a line, and are counted; nobody is deleted.

    Lines are parsed in a helper process once more than ``helper_after`` have
    come (None: never), so that a long file keeps two processors busy.
    """
    lock_for_writing(conn, MIRROR_LOCK)
    report = SnapshotReport(source=source, full=full, administrative=administrative)
    loader = _Loader(conn, report, recorded_at, received_at, rejects)
    with fewer_collections():
        chunks = _chunks(stream, file_format, source)
        for lines, refused in _prepared(chunks, loader.today, helper_after):
            loader.take(lines, refused)
    loader.settle_links()

    if loader.problems and rejects is None:
        log.warning(
            "snapshot_refused",
            source=source,
            lines=report.lines,
            problems=loader.problems.total,
        )
        raise loader.problems.refusal(_what(source))
    if full:
        report.missing = _list_missing(conn, missing)
    note_feed_batch(
        conn,
        kind="snapshot",
        source=report.source,
        administrative=report.administrative,
        received_at=received_at,
        recorded_at=recorded_at,
        lines=report.lines,
        applied=report.applied,
        refused=report.refused,
        changes=report.changes,
        new_persons=report.new_persons,
        missing=report.missing,
    )
    log.info(
        "snapshot_loaded",
        source=source,
        full=full,
        administrative=administrative,
        lines=report.lines,
        unchanged=report.unchanged,
        changed=report.changed,
        updated=report.updated,
        new_persons=report.new_persons,
        refused=report.refused,
        links_left_out=report.links_left_out,
        missing=report.missing,
        changes=report.changes,
    )
    return report


@dataclass(slots=True)
class _Line:
    """A line that could be read, and what the comparison needs of it."""

    number: int
    chunk: _Chunk
    index: int  # in the chunk
    start: int  # where the line is in the chunk's block
    end: int
    code: str
    previous: list[str]
    groups_json: bytes | None  # the groups as canonical JSON; None if one is absent
    basics: tuple[Any, Any, Any]  # sex, birth date and citizenship as given
    family: Any  # the family object as given
    plain: bool  # the parts besides the groups passed _plain_frame
    links: list[str]  # the codes the family names (of a plain line; else [])
    _person: dict[str, Any] | None = None

    @property
    def person(self) -> dict[str, Any]:
        """The whole person object, parsed again (only lines that differ need it)."""
        if self._person is None:
            self._person = orjson.loads(self.chunk.block[self.start : self.end])
        return self._person

    def text(self) -> str:
        return self.chunk.text(self.index, self.start, self.end)


# What _prepare finds in a line: the fields of a _Line after its source, or why
# the line is refused. A plain tuple, to cross to a helper process cheaply.
_Prepared = (
    tuple[str, list[str], bytes | None, tuple[Any, Any, Any], Any, bool, list[str]]
    | str
)


def _prepare(data: bytes, today: date) -> _Prepared:
    """Take a line apart: its codes, its groups as canonical JSON, its frame.

    This is all the work on a line that needs no database: it runs while the
    line is at hand (going back to thousands of parsed lines later costs more
    than the rest, in memory caches), and in the helper process for long files.
    """
    try:
        person = parse_json_object(data)
    except ValueError as error:
        return str(error)
    named = _codes_of(person)
    if named is None:
        return _full_check(person, today) or "the personal codes are not text"
    try:
        groups_json: bytes | None = orjson.dumps(
            {name: person[name] for name in GROUP_NAMES}, option=orjson.OPT_SORT_KEYS
        )
    except KeyError:
        groups_json = None
    basics = (person.get("sex"), person.get("birthDate"), person.get("citizenship"))
    family = person.get("family")
    plain = _plain_frame(person)
    links = _link_codes(family) if plain and isinstance(family, dict) else []
    return named[0], named[1], groups_json, basics, family, plain, links


def _prepare_block(
    block: bytes, count: int, today: date
) -> list[tuple[int, int, int, _Prepared]]:
    """``(index, start, end, what _prepare found)`` of each non-blank line."""
    found = []
    start = 0
    for index, part in enumerate(block.split(b"\n")[:count]):
        line = part.rstrip(b"\r")
        if line.strip():
            found.append((index, start, start + len(line), _prepare(line, today)))
        start += len(part) + 1
    return found


# A chunk's readable lines, and (line, reason, text) of those refused as read.
_Taken = tuple[list["_Line"], list[tuple[int, str, str]]]


def _prepared(
    chunks: Iterable[_Chunk], today: date, helper_after: int | None
) -> Iterator[_Taken]:
    """The chunks with their lines prepared, in the order of the file.

    Past ``helper_after`` lines the chunks go to a helper process, two ahead
    of the one being compared: the same work on the other processor, and never
    more than three chunks in memory.
    """
    helper: ProcessPoolExecutor | None = None
    ahead: deque[tuple[_Chunk, Future[list[Any]]]] = deque()
    count = 0
    try:
        for chunk in chunks:
            count += len(chunk.numbers)
            if helper is None and helper_after is not None and count > helper_after:
                helper = ProcessPoolExecutor(1, mp_context=_helper_context())
            if helper is None:
                yield _combine(
                    chunk, _prepare_block(chunk.block, len(chunk.numbers), today)
                )
                continue
            work = helper.submit(_prepare_block, chunk.block, len(chunk.numbers), today)
            ahead.append((chunk, work))
            if len(ahead) > 2:
                waiting, future = ahead.popleft()
                yield _combine(waiting, future.result())
        while ahead:
            waiting, future = ahead.popleft()
            yield _combine(waiting, future.result())
    finally:
        if helper is not None:
            helper.shutdown(cancel_futures=True)


def _combine(chunk: _Chunk, found: list[tuple[int, int, int, _Prepared]]) -> _Taken:
    lines: list[_Line] = []
    refused = list(chunk.problems)
    numbers = chunk.numbers
    for index, start, end, prepared in found:
        if isinstance(prepared, str):
            refused.append((numbers[index], prepared, chunk.text(index, start, end)))
        else:
            lines.append(_Line(numbers[index], chunk, index, start, end, *prepared))
    return lines, refused


def _helper_context() -> BaseContext:
    """fork where there is one: the helper starts at once and needs no importable
    main module; it only parses lines and never touches the inherited database
    connection. Elsewhere spawn."""
    return get_context("fork" if "fork" in get_all_start_methods() else "spawn")


class _Holder(NamedTuple):
    """The mirror's person of a code (a named tuple: SQLAlchemy's Row resolves
    attribute names far slower, and the comparison reads them for every line)."""

    code: str
    replaced_at: int | None
    person_id: int
    personal_code: str
    sex: str
    birth_date: date
    citizenship: str
    groups: bytes  # as stored, in UTF-8: compared with a line's without decoding
    family: str
    seen_on: int | None  # the line of this file that already named the person


@dataclass(slots=True)
class _Entry:
    """A line whose person is known: the mirror's, or a new one."""

    line: _Line
    holder: _Holder | None  # the mirror's person; None for a new person
    replacing: bool  # found through a previous code: the code was replaced
    unknown_previous: list[str]  # previous codes the mirror did not hold
    as_stored: bool = False  # groups, sex, birth date and citizenship as stored
    person_id: int = 0

    @property
    def number(self) -> int:
        return self.line.number


@dataclass
class _Writes:
    """What one chunk writes back, in bulk."""

    new_persons: list[tuple] = field(default_factory=list)
    codes: list[tuple] = field(default_factory=list)
    replaced: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    changes: list[tuple] = field(default_factory=list)
    seen: list[tuple] = field(default_factory=list)
    links: list[tuple] = field(default_factory=list)


class _Loader:
    """One snapshot being loaded: what stays the same from chunk to chunk."""

    def __init__(
        self,
        conn: Connection,
        report: SnapshotReport,
        recorded_at: datetime,
        received_at: datetime,
        rejects: IO[str] | None,
    ) -> None:
        self.conn = conn
        self.report = report
        self.recorded = to_micros(recorded_at)
        self.received = to_micros(received_at)
        self.today = day_of(recorded_at)
        self.day = report_day(recorded_at, first_open_day(conn))
        self.rejects = rejects
        self.problems = Problems()
        self.rejected: list[Problem] = []
        self.next_id = (
            conn.execute(
                select(persons.c.person_id).order_by(persons.c.person_id.desc())
            )
            .scalars()
            .first()
            or 0
        ) + 1
        for scratch in (seen_persons, pending_links):
            scratch.create(conn, checkfirst=True)
            conn.execute(scratch.delete())

    def refuse(self, number: int, reason: str, text: str) -> None:
        if self.rejects is None:
            self.problems.add(number, reason, text)
        else:
            self.rejected.append(Problem(number, reason, text))
        self.report.refused += 1

    # -- one chunk -------------------------------------------------------------

    def take(self, readable: list[_Line], refused: list[tuple[int, str, str]]) -> None:
        self.report.lines += len(readable) + len(refused)
        for number, reason, text in refused:
            self.refuse(number, reason, text)
        holders = self._holders(readable)
        seen = {
            row.person_id: row.seen_on
            for row in holders.values()
            if row.seen_on is not None
        }
        taken: dict[str, int] = {}  # codes of this chunk's accepted lines -> line
        writes = _Writes()
        entries = []
        for line in readable:
            number = line.number
            holder = holders.get(line.code)
            if holder is not None and self._as_stored(line, holder, seen, taken):
                # The common case, kept short: the person as the mirror has them.
                seen[holder.person_id] = taken[line.code] = number
                writes.seen.append((holder.person_id, number))
                if not line.links and holder.family == _NO_FAMILY:
                    self.report.unchanged += 1
                else:
                    entries.append(_Entry(line, holder, False, [], as_stored=True))
                continue
            entry = self._identify(line, holders, seen, taken)
            if isinstance(entry, str):
                self.refuse(number, entry, line.text())
                continue
            if entry.holder is not None:
                # Even if the line is refused below, the person is not missing.
                seen[entry.holder.person_id] = number
                writes.seen.append((entry.holder.person_id, number))
            problem = self._check(entry)
            if problem:
                self.refuse(number, problem, line.text())
                continue
            taken[line.code] = number
            if line.previous:
                taken.update((code, number) for code in line.previous)
            entries.append(entry)

        ids_of_codes = {code: row.person_id for code, row in holders.items()}
        ids_of_codes.update(self._number(entries, writes))
        ids_of_codes.update(self._link_holders(entries, ids_of_codes))
        for entry in entries:
            if entry.as_stored and not entry.unknown_previous:
                stored = entry.holder.family if entry.holder else None
                if _family_text(entry.line.family, ids_of_codes) == stored:
                    self.report.unchanged += 1
                    continue
            self._compare(entry, ids_of_codes, writes)
        self._write(writes)
        if self.rejected and self.rejects is not None:
            write_rejects(self.rejects, self.rejected)
            self.rejected = []

    @staticmethod
    def _as_stored(
        line: _Line, holder: _Holder, seen: dict[int, int], taken: dict[str, int]
    ) -> bool:
        """Whether a line is the mirror's person as stored, named once by their
        own code, with the parts besides the groups plainly right: nothing to
        check, perhaps a family link to compare."""
        return (
            line.plain
            and not line.previous
            and holder.replaced_at is None
            and holder.person_id not in seen
            and line.code not in taken
            and line.groups_json == holder.groups
            and line.basics
            == (holder.sex, holder.birth_date.isoformat(), holder.citizenship)
        )

    def _holders(self, lines: list[_Line]) -> dict[str, _Holder]:
        """The mirror's person of each code the lines name as their own.

        Each row also says on which line of the file the person already was
        (``seen_on``), if an earlier chunk named them.
        """
        wanted = []
        for line in lines:
            wanted.append(line.code)
            wanted.extend(line.previous)
        staged = table(stage_codes(self.conn, wanted), column("code"))
        # IN (SELECT ...) and not a join: with a join SQLite scans every code.
        rows = self.conn.execute(
            select(
                personal_codes.c.code,
                personal_codes.c.replaced_at,
                persons.c.person_id,
                persons.c.personal_code,
                persons.c.sex,
                persons.c.birth_date,
                persons.c.citizenship,
                _utf8(self.conn, persons.c.groups),
                persons.c.family,
                seen_persons.c.line.label("seen_on"),
            )
            .select_from(
                personal_codes.join(
                    persons, persons.c.person_id == personal_codes.c.person_id
                ).outerjoin(
                    seen_persons, seen_persons.c.person_id == persons.c.person_id
                )
            )
            .where(personal_codes.c.code.in_(select(staged.c.code)))
        )
        make = tuple.__new__  # _Holder._make without its Python-level checks
        return {row[0]: make(_Holder, row) for row in rows.all()}

    def _identify(
        self,
        line: _Line,
        holders: dict[str, _Holder],
        seen: dict[int, int],
        taken: dict[str, int],
    ) -> _Entry | str:
        """The line's person, or why the line is refused."""
        code, previous = line.code, line.previous
        holder = holders.get(code)
        if (  # most lines: a person the mirror has, named once, by their code
            holder is not None
            and not previous
            and holder.replaced_at is None
            and holder.person_id not in seen
            and code not in taken
        ):
            return _Entry(
                line=line, holder=holder, replacing=False, unknown_previous=[]
            )
        own = [code, *previous]
        if previous and len(set(own)) != len(own):
            return f"personal code {_repeated(own)} appears twice in this line"
        for each in own:
            holder = holders.get(each)
            first = taken.get(each)
            if first is None and holder is not None:
                first = seen.get(holder.person_id)
            if first is not None:
                return f"personal code {each} is already in the file, on line {first}"

        holder = holders.get(code)
        if holder is not None and holder.replaced_at is not None:
            return (
                f"personal code {code} is an earlier code of a person in the "
                "mirror: the snapshot is older than the mirror"
            )
        replacing = False
        if holder is None:
            found = {holders[c].person_id: holders[c] for c in previous if c in holders}
            if len(found) > 1:
                return (
                    f"the previous codes belong to {len(found)} different persons "
                    "of the mirror"
                )
            holder = next(iter(found.values()), None)
            replacing = holder is not None
        if holder is not None:
            for each in previous:
                if each in holders and holders[each].person_id != holder.person_id:
                    return f"previous code {each} belongs to another person"
        return _Entry(
            line=line,
            holder=holder,
            replacing=replacing,
            unknown_previous=[c for c in previous if c not in holders],
        )

    def _check(self, entry: _Entry) -> str:
        """Why the line is refused, or "" when it may be applied.

        Groups that are byte for byte the mirror's own need no checking; that
        is most lines of a snapshot, and the schema is the dearest step.
        """
        line, holder = entry.line, entry.holder
        entry.as_stored = (
            holder is not None
            and not entry.replacing
            and line.groups_json == holder.groups
            and line.basics
            == (holder.sex, holder.birth_date.isoformat(), holder.citizenship)
        )
        if not entry.as_stored:
            return _full_check(line.person, self.today)
        if line.plain:
            return ""
        try:
            _frame_validator()(line.person)
        except fastjsonschema.JsonSchemaValueException as error:
            return schema_error(error)
        return ""

    def _number(self, entries: list[_Entry], writes: _Writes) -> dict[str, int]:
        """Give new persons their ids; return the codes this chunk claims."""
        claimed: dict[str, int] = {}
        for entry in entries:
            line = entry.line
            if entry.holder is None:
                entry.person_id = self.next_id
                self.next_id += 1
                claimed[line.code] = entry.person_id
                claimed.update((code, entry.person_id) for code in line.previous)
                writes.seen.append((entry.person_id, entry.number))
            else:
                entry.person_id = entry.holder.person_id
                if entry.replacing:
                    claimed[line.code] = entry.person_id
        return claimed

    def _link_holders(
        self, entries: list[_Entry], known: dict[str, int]
    ) -> dict[str, int]:
        """The person of each code the families name that the chunk did not know."""
        wanted: set[str] = set()
        for entry in entries:
            line = entry.line
            wanted.update(line.links if line.plain else _link_codes(line.family))
        wanted -= known.keys()
        if not wanted:
            return {}
        staged = table(stage_codes(self.conn, wanted), column("code"))
        rows = self.conn.execute(
            select(personal_codes.c.code, personal_codes.c.person_id).where(
                personal_codes.c.code.in_(select(staged.c.code))
            )
        )
        return dict(rows.all())

    def _compare(self, entry: _Entry, ids: dict[str, int], writes: _Writes) -> None:
        line, holder, report = entry.line, entry.holder, self.report
        family, links = _resolve_family(line.family, ids)
        if links:
            writes.links.extend(
                (entry.person_id, slot, position, code, entry.number)
                for slot, position, code in links
            )
        if entry.unknown_previous:
            writes.codes.extend(
                _history_rows(entry.unknown_previous, entry.person_id, self.recorded)
            )
        if holder is None:
            writes.codes.append((line.code, entry.person_id, self.recorded, None))
            writes.new_persons.append(self._person_tuple(entry, family))
            report.new_persons += 1
            return

        family_differs = bool(links) or orjson.loads(holder.family) != family
        if entry.as_stored:
            if not family_differs and not entry.unknown_previous:
                report.unchanged += 1
                return
            writes.updates.append(self._person_update(entry, family))
            report.updated += 1
            return

        before = record_from_row(typed(Row, holder))  # a _Holder reads like a Row
        after = _record(entry, family)
        mask = kinds_changed(before, after)
        if entry.replacing:
            writes.codes.append((line.code, entry.person_id, self.recorded, None))
            writes.replaced.append({"old": holder.personal_code, "at": self.recorded})
        if mask:
            writes.changes.append(
                (
                    entry.person_id,
                    self.recorded,
                    self.received,
                    self.day,
                    mask,
                    holder.personal_code if entry.replacing else None,
                    None,
                    report.administrative,
                )
            )
            report.days[self.day] = report.days.get(self.day, 0) + 1
            report.changed += 1
        elif (
            family_differs
            or entry.unknown_previous
            or line.groups_json != holder.groups
            or (after.sex, after.birth_date, after.citizenship)
            != (before.sex, before.birth_date, before.citizenship)
        ):
            report.updated += 1
        else:
            report.unchanged += 1
            return
        writes.updates.append(self._person_update(entry, family))

    def _person_tuple(self, entry: _Entry, family: dict[str, Any]) -> tuple:
        values = self._person_values(entry, family)
        return tuple(values[name] for name in PERSON_COLUMNS)

    def _person_update(self, entry: _Entry, family: dict[str, Any]) -> dict[str, Any]:
        values = self._person_values(entry, family)
        values["b_person_id"] = values.pop("person_id")
        return values

    def _person_values(self, entry: _Entry, family: dict[str, Any]) -> dict[str, Any]:
        record = _record(entry, family)
        return {
            "person_id": entry.person_id,
            "personal_code": record.personal_code,
            "sex": record.sex,
            "birth_date": record.birth_date,
            "citizenship": record.citizenship,
            "died_on": record.died_on,
            "groups": (entry.line.groups_json or b"").decode(),
            "family": record.family.to_json(),
            "updated_at": self.received,
        }

    def _write(self, writes: _Writes) -> None:
        conn = self.conn
        insert_tuples(conn, persons, PERSON_COLUMNS, writes.new_persons)
        insert_tuples(conn, personal_codes, CODE_COLUMNS, writes.codes)
        if writes.replaced:
            conn.execute(
                update(personal_codes)
                .where(personal_codes.c.code == bindparam("old"))
                .values(replaced_at=bindparam("at")),
                writes.replaced,
            )
        if writes.updates:
            # person_id stays out of the SET: naming it would make SQLite check
            # every table that refers to persons.
            conn.execute(
                update(persons)
                .where(persons.c.person_id == bindparam("b_person_id"))
                .values(
                    {
                        name: bindparam(name)
                        for name in PERSON_COLUMNS
                        if name != "person_id"
                    }
                ),
                writes.updates,
            )
        insert_tuples(conn, change_log, CHANGE_COLUMNS, writes.changes)
        insert_tuples(conn, seen_persons, ("person_id", "line"), writes.seen)
        insert_tuples(
            conn,
            pending_links,
            ("person_id", "slot", "position", "code", "line"),
            writes.links,
        )

    # -- after the last chunk --------------------------------------------------

    def settle_links(self) -> None:
        """Fill in the family links that named persons later in the file.

        A link whose code nobody holds once the whole file is in is a problem
        of its line; with a rejects stream it is left out of the family.
        """
        after = 0
        while True:
            person_ids = list(
                self.conn.execute(
                    select(pending_links.c.person_id)
                    .distinct()
                    .where(pending_links.c.person_id > after)
                    .order_by(pending_links.c.person_id)
                    .limit(CHUNK)
                ).scalars()
            )
            if not person_ids:
                break
            self._settle(person_ids)
            after = person_ids[-1]
        if self.rejected and self.rejects is not None:
            write_rejects(self.rejects, self.rejected)
            self.rejected = []

    def _settle(self, person_ids: list[int]) -> None:
        links = self.conn.execute(
            select(
                pending_links,
                personal_codes.c.person_id.label("target"),
            )
            .select_from(
                pending_links.outerjoin(
                    personal_codes, personal_codes.c.code == pending_links.c.code
                )
            )
            .where(pending_links.c.person_id.between(person_ids[0], person_ids[-1]))
        ).all()
        families = {
            person_id: orjson.loads(text)
            for person_id, text in self.conn.execute(
                select(persons.c.person_id, persons.c.family).where(
                    persons.c.person_id.in_(person_ids)
                )
            ).all()
        }
        for link in links:
            family = families[link.person_id]
            if link.target is not None:
                if link.slot == "children":
                    family["children"][link.position] = link.target
                else:
                    family[link.slot] = link.target
                continue
            self._dangling(link.line, link.slot, link.code)
        updates = [
            {
                "b_person_id": person_id,
                # A child left out keeps the placeholder 0: drop it here.
                "family": Family(
                    spouse=family["spouse"],
                    mother=family["mother"],
                    father=family["father"],
                    children=[child for child in family["children"] if child],
                ).to_json(),
            }
            for person_id, family in families.items()
        ]
        self.conn.execute(
            update(persons)
            .where(persons.c.person_id == bindparam("b_person_id"))
            .values(family=bindparam("family")),
            updates,
        )

    def _dangling(self, number: int, slot: str, code: str) -> None:
        reason = f"family.{slot} {code} is neither in the mirror nor in the file"
        if self.rejects is None:
            self.problems.add(number, reason)
        else:
            self.rejected.append(
                Problem(number, reason + "; the line was applied without this link")
            )
            self.report.links_left_out += 1


# --- one line, on its own ------------------------------------------------------


def _codes_of(person: dict[str, Any]) -> tuple[str, list[str]] | None:
    """A line's own code and previous codes, if they have the right types."""
    code, previous = person.get("personalCode"), person.get("previousCodes")
    if not isinstance(code, str) or not isinstance(previous, list):
        return None
    if previous and not all(isinstance(each, str) for each in previous):
        return None
    return code, previous


def _repeated(items: list[str]) -> str:
    return next(item for index, item in enumerate(items) if item in items[:index])


def _full_check(person: dict[str, Any], today: date) -> str:
    """Every check of a line, groups included: why it is refused, or ""."""
    try:
        person_validator()(person)
    except fastjsonschema.JsonSchemaValueException as error:
        return schema_error(error)
    try:
        check_dates(person)
    except ValueError as error:
        return str(error)
    named = [("personalCode", person["personalCode"])]
    named += [(f"previousCodes[{i}]", c) for i, c in enumerate(person["previousCodes"])]
    for where, code in named:
        check = codes.check_code(code, today=today)
        if not check.valid:
            return f"{where} {code!r} is not a valid personal code: {check.message}"
    return _disagreement(person["personalCode"], person["sex"], person["birthDate"])


def _disagreement(code: str, sex: str, birth: str) -> str:
    """Why sex or birth date contradict the personal code, or ""."""
    carried = codes.sex(code)
    if carried is not None and sex != carried:
        return f"sex {sex} does not agree with personal code {code} ({carried})"
    if carried is None:
        return ""  # an exception code carries neither
    # The code's date, with 00 (unknown) parts matching anything.
    year = 1800 + 100 * ((int(code[0]) - 1) // 2) + int(code[1:3])
    month, day = code[3:5], code[5:7]
    if (
        birth[:4] != f"{year:04d}"
        or month not in ("00", birth[5:7])
        or day not in ("00", birth[8:10])
    ):
        shown = f"{year:04d}-{month}-{day}"
        return f"birthDate {birth} does not agree with personal code {code} ({shown})"
    return ""


def _plain_frame(person: dict[str, Any]) -> bool:
    """Whether the parts of a line besides the groups are plainly right.

    A stricter and much quicker test than the schema's, for lines whose groups,
    sex, birth date and citizenship are the mirror's own; a line it does not
    pass goes to the schema, which has the last word and says what is wrong.
    """
    family = person.get("family")
    if person.keys() != _PERSON_KEYS or type(family) is not dict:
        return False
    if family.keys() != _FAMILY_KEYS:
        return False
    previous, children = person["previousCodes"], family["children"]
    if type(previous) is not list or type(children) is not list:
        return False
    if len(previous) > _MAX_PREVIOUS or len(children) > _MAX_CHILDREN:
        return False
    parents = [family[slot] for slot in PARENT_SLOTS if family[slot] is not None]
    return _all_codes(previous + children + parents)


def _all_codes(values: list[Any]) -> bool:
    """Whether every value is a string of 11 ASCII digits (without a loop in
    Python: this runs for every line of a snapshot)."""
    if not values:
        return True
    try:
        joined = "".join(values)
    except TypeError:
        return False
    return set(map(len, values)) == _ELEVEN and joined.isascii() and joined.isdigit()


_ELEVEN = {11}
_PERSON_SCHEMA = schema()["definitions"]["person"]
_PERSON_KEYS = frozenset(_PERSON_SCHEMA["required"])
_FAMILY_KEYS = frozenset(_PERSON_SCHEMA["properties"]["family"]["required"])
_MAX_PREVIOUS = _PERSON_SCHEMA["properties"]["previousCodes"]["maxItems"]
_MAX_CHILDREN = _PERSON_SCHEMA["properties"]["family"]["properties"]["children"][
    "maxItems"
]


@cache
def _frame_validator() -> Any:
    """The person schema with the groups left out: for groups as the mirror has them."""
    definitions = schema()["definitions"]
    person = definitions["person"]
    properties = {
        name: ({} if name in GROUP_NAMES else rule)
        for name, rule in person["properties"].items()
    }
    return fastjsonschema.compile(
        {"definitions": definitions, **person, "properties": properties}
    )


def _link_codes(family: dict[str, Any]) -> list[str]:
    """The codes a (well-formed) family object names."""
    parents = [family[slot] for slot in PARENT_SLOTS if family[slot] is not None]
    return parents + family["children"] if family["children"] else parents


def _family_text(family: dict[str, Any], ids: dict[str, int]) -> str | None:
    """The family as the mirror stores it (Family.to_json), if every code it
    names is known; written out directly, for every line of a snapshot."""
    try:
        spouse, mother, father = family["spouse"], family["mother"], family["father"]
        children = ",".join([str(ids[code]) for code in family["children"]])
        return (
            f'{{"spouse":{"null" if spouse is None else ids[spouse]},'
            f'"mother":{"null" if mother is None else ids[mother]},'
            f'"father":{"null" if father is None else ids[father]},'
            f'"children":[{children}]}}'
        )
    except KeyError:
        return None


def _resolve_family(
    family: dict[str, Any], ids: dict[str, int]
) -> tuple[dict[str, Any], list[tuple[str, int, str]]]:
    """Links by person id, and those not yet known as (slot, position, code).

    An unknown parent or spouse stays None and an unknown child 0 until the
    whole file is in (see settle_links).
    """
    resolved: dict[str, Any] = {}
    pending = []
    for slot in PARENT_SLOTS:
        code = family[slot]
        resolved[slot] = None if code is None else ids.get(code)
        if code is not None and resolved[slot] is None:
            pending.append((slot, 0, code))
    children = []
    for position, code in enumerate(family["children"]):
        child = ids.get(code, 0)
        if not child:
            pending.append(("children", position, code))
        children.append(child)
    resolved["children"] = children
    return resolved, pending


def _record(entry: _Entry, family: dict[str, Any]) -> PersonRecord:
    person = entry.line.person
    return PersonRecord(
        person_id=entry.person_id,
        personal_code=entry.line.code,
        sex=person["sex"],
        birth_date=date.fromisoformat(person["birthDate"]),
        citizenship=person["citizenship"],
        groups={name: person[name] for name in GROUP_NAMES},
        family=Family(
            spouse=family["spouse"],
            mother=family["mother"],
            father=family["father"],
            children=family["children"],
        ),
    )


def _history_rows(earlier: list[str], person_id: int, recorded: int) -> list[tuple]:
    """personal_codes rows of earlier codes, in the order the file lists them.

    The register's own times are not in a snapshot: the codes are given a
    microsecond each just before ``recorded``, which keeps their order (the
    export lists earlier codes by assignment) and each replaced by the next.
    """
    count = len(earlier)
    return [
        (code, person_id, recorded - count + index, recorded - count + index + 1)
        for index, code in enumerate(earlier)
    ]


def _utf8(conn: Connection, text: Any) -> Any:
    """A text column as its UTF-8 bytes, as orjson writes them."""
    if conn.dialect.name == "postgresql":
        return func.convert_to(text, "UTF8")
    return cast(text, LargeBinary)


# --- the whole file ------------------------------------------------------------


def _list_missing(conn: Connection, out: IO[str] | None) -> int:
    """Write the codes of the mirror's persons that the file did not name."""
    absent = (
        select(persons.c.personal_code)
        .where(~exists().where(seen_persons.c.person_id == persons.c.person_id))
        .order_by(persons.c.personal_code)
    )
    count = 0
    for code in conn.execute(absent).scalars():
        count += 1
        if out is not None:
            out.write(code + "\n")
    return count
