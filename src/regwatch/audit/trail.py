"""The audit trail: one append-only record per operation that hands over or
changes data, each chained to the one before it by a SHA-256 hash.

A record's hash covers its own fields and the hash of the record before it, so
editing a record breaks its own hash, removing one breaks the link of the next,
and a record put in by hand after the chain's head (kept in ``service_state``)
stands outside the chain. Someone able to rewrite the whole table could rebuild
the chain; against that, ``regwatch audit verify`` prints the head, which the
operator keeps elsewhere and can check later (``--anchor``).

Records are numbered by the chain itself (``seq``), not by the database: the
head row is locked for the rest of the writing transaction, so records are
appended one after another in commit order, by any number of processes. Every
caller appends at the end of its transaction, which keeps that lock short.

Persons are named by their internal ``person_id``, which never changes, so a
record still names the right person after a personal-code change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from regwatch.clock import from_micros, to_micros
from regwatch.store.engine import Database
from regwatch.store.sql import insert_ignoring_duplicates, insert_tuples
from regwatch.store.tables import audit_persons, audit_records, service_state

HEAD_KEY = "audit_head"
GENESIS = "0" * 64

CUSTOMER = "customer"
OPERATOR = "operator"

# The HTTP request id of the call being served, set by the API's access log so
# that a record can be matched with the log lines of the same request.
trace_id: ContextVar[str | None] = ContextVar("regwatch_trace_id", default=None)


@dataclass(frozen=True)
class Record:
    """One audit record as stored."""

    seq: int
    at: int
    actor: str
    customer_id: str | None
    operation: str
    request_id: str | None
    trace_id: str | None
    purpose: str | None
    outcome: str
    persons: int
    detail: str
    prev_hash: str
    hash: str

    def as_json(self) -> dict[str, Any]:
        """The record for an auditor: detail as JSON, the instant both as text
        and as the stored microseconds that the hash covers."""
        return {
            "seq": self.seq,
            "at": from_micros(self.at).isoformat(),
            "at_us": self.at,
            "actor": self.actor,
            "customer_id": self.customer_id,
            "operation": self.operation,
            "request_id": self.request_id,
            "trace_id": self.trace_id,
            "purpose": self.purpose,
            "outcome": self.outcome,
            "persons": self.persons,
            "detail": json.loads(self.detail),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def append(
    conn: Connection,
    now: datetime,
    operation: str,
    *,
    customer_id: str | None,
    actor: str = CUSTOMER,
    request_id: str | None = None,
    purpose: str | None = None,
    outcome: str = "OK",
    persons: int = 0,
    detail: dict[str, Any] | None = None,
    named: Iterable[tuple[int, int]] = (),
) -> int:
    """Append one record in the caller's transaction; return its number.

    ``named`` lists (person_id, kinds handed over) for the data-subject
    report; it must also be in ``detail`` under ``"named"``, where the hash
    covers it (``audit verify`` checks the two agree).
    """
    named = sorted(set(named))
    body = dict(detail or {})
    if named:
        body["named"] = [list(pair) for pair in named]
    detail_text = canonical(body)
    head = _lock_head(conn)
    if head is None:
        # The first record ever: make the head row, then lock it like any
        # other. Two first writers at once both insert; the key keeps one.
        conn.execute(
            insert_ignoring_duplicates(conn, service_state).values(
                key=HEAD_KEY, value=f"0 {GENESIS}"
            )
        )
        head = _lock_head(conn)
    last_seq, last_hash = _parse_head(head)
    seq = last_seq + 1
    fields: dict[str, Any] = {
        "seq": seq,
        "at": to_micros(now),
        "actor": actor,
        "customer_id": customer_id,
        "operation": operation,
        "request_id": request_id,
        "trace_id": trace_id.get(),
        "purpose": purpose,
        "outcome": outcome,
        "persons": persons,
        "detail": detail_text,
        "prev_hash": last_hash,
    }
    digest = record_hash(fields)
    conn.execute(audit_records.insert().values(**fields, hash=digest))
    insert_tuples(
        conn,
        audit_persons,
        ["seq", "person_id", "kinds"],
        [(seq, person_id, kinds) for person_id, kinds in named],
    )
    conn.execute(
        service_state.update()
        .where(service_state.c.key == HEAD_KEY)
        .values(value=f"{seq} {digest}")
    )
    return seq


def _lock_head(conn: Connection) -> str | None:
    """The head row's value, locked to the end of the transaction."""
    return conn.execute(
        select(service_state.c.value)
        .where(service_state.c.key == HEAD_KEY)
        .with_for_update()
    ).scalar()


def append_alone(db: Database, operation: str, **kwargs: Any) -> int:
    """Append a record in a transaction of its own (a refused call, an export)."""
    with db.write() as conn:
        return append(conn, db.now(conn), operation, **kwargs)


def canonical(value: Any) -> str:
    """The one JSON spelling that the hash covers."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_HASHED = (
    "seq",
    "at",
    "actor",
    "customer_id",
    "operation",
    "request_id",
    "trace_id",
    "purpose",
    "outcome",
    "persons",
    "detail",
    "prev_hash",
)


def record_hash(fields: dict[str, Any]) -> str:
    """SHA-256 of a record's fields in a fixed order, the previous hash last."""
    text = canonical([fields[name] for name in _HASHED])
    return hashlib.sha256(text.encode()).hexdigest()


def head(conn: Connection) -> tuple[int, str]:
    """The chain's last record number and hash (0 and the genesis hash if none)."""
    value = conn.execute(
        select(service_state.c.value).where(service_state.c.key == HEAD_KEY)
    ).scalar()
    return _parse_head(value)


def _parse_head(value: str | None) -> tuple[int, str]:
    if value is None:
        return 0, GENESIS
    seq, _, digest = value.partition(" ")
    return int(seq), digest


def records(
    conn: Connection,
    *,
    after: int = 0,
    through: int | None = None,
    batch: int = 1_000,
) -> Iterator[Record]:
    """Records in chain order, numbers past ``after`` up to ``through``, read in
    batches (the trail can be large)."""
    while True:
        query = (
            select(audit_records)
            .where(audit_records.c.seq > after)
            .order_by(audit_records.c.seq)
            .limit(batch)
        )
        if through is not None:
            query = query.where(audit_records.c.seq <= through)
        rows = conn.execute(query).all()
        for row in rows:
            yield Record(**row._asdict())
        if len(rows) < batch:
            return
        after = rows[-1].seq


def span(conn: Connection, since: int, until: int) -> tuple[int, int] | None:
    """The unbroken run of record numbers from the first record at or after
    ``since`` to the last one before ``until`` (instants in microseconds).

    Records are numbered in commit order but stamped with the time their
    transaction began, so times are not quite in number order: an export by
    number range keeps the chain whole for whoever checks it.
    """
    first, last = conn.execute(
        select(func.min(audit_records.c.seq), func.max(audit_records.c.seq)).where(
            audit_records.c.at >= since, audit_records.c.at < until
        )
    ).one()
    return None if first is None else (first, last)


def named_in(conn: Connection, seqs: Sequence[int]) -> dict[int, list[list[int]]]:
    """The audit_persons rows of some records, as each record's detail lists them."""
    found: dict[int, list[list[int]]] = {}
    if not seqs:
        return found
    rows = conn.execute(
        select(audit_persons)
        .where(audit_persons.c.seq.between(min(seqs), max(seqs)))
        .order_by(audit_persons.c.seq, audit_persons.c.person_id)
    )
    for row in rows:
        found.setdefault(row.seq, []).append([row.person_id, row.kinds])
    return found


@dataclass
class Verification:
    """What ``verify`` found: problems by record number, and the head it saw."""

    records: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    # (record number, what is wrong); a number put in by hand may be anything
    problems: list[tuple[Any, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(
    db: Database, *, anchor: tuple[int, str] | None = None, batch: int = 1_000
) -> Verification:
    """Walk the whole chain and name every record that breaks it.

    A record whose stored hash does not match its fields was edited; a number
    missing from the sequence, or a link to a hash that is not the previous
    record's, means records were removed or put in; records past the head kept
    in ``service_state`` were put in by hand, and a head past the last record
    means the last ones were removed. The persons index is held against each
    record's detail. ``anchor`` (a number and hash kept elsewhere) must still
    be in the chain.
    """
    result = Verification()
    # One moment throughout: a record committed while the walk runs would
    # otherwise stand past the head read at its start, like an inserted one.
    with db.snapshot() as conn:
        result.head_seq, result.head_hash = head(conn)
        expected_seq, expected_prev = 1, GENESIS
        anchor_seen = False
        after = -(2**62)
        while True:
            page = list(records(conn, after=after, batch=batch))
            if not page:
                break
            after = page[-1].seq
            numbers = [r.seq for r in page if isinstance(r.seq, int)]
            index = named_in(conn, numbers)
            for orphan in sorted(set(index) - set(numbers)):
                result.problems.append(
                    (orphan, "the persons index names a record that is missing")
                )
            for record in page:
                result.records += 1
                if not isinstance(record.seq, int):  # SQLite takes any type
                    result.problems.append(
                        (record.seq, "it was inserted: its number is not a number")
                    )
                    continue
                try:
                    _check(record, expected_seq, expected_prev, result, index)
                except (TypeError, ValueError):  # a field of another type
                    result.problems.append(
                        (record.seq, "its fields are not of their types (edited)")
                    )
                if anchor is not None and record.seq == anchor[0]:
                    anchor_seen = True
                    if record.hash != anchor[1]:
                        result.problems.append(
                            (record.seq, "its hash is not the one kept as anchor")
                        )
                expected_seq, expected_prev = record.seq + 1, record.hash
        last_seq = expected_seq - 1
        if last_seq < result.head_seq:
            result.problems.append(
                (
                    last_seq + 1,
                    _missing(
                        last_seq + 1, result.head_seq, " from the end of the chain"
                    ),
                )
            )
        elif last_seq == result.head_seq and expected_prev != result.head_hash:
            result.problems.append(
                (last_seq, "it is not the record the chain's head names")
            )
        if anchor is not None and not anchor_seen:
            result.problems.append((anchor[0], "the anchor record is missing"))
        stray = conn.execute(
            select(audit_persons.c.seq)
            .where(audit_persons.c.seq > max(last_seq, 0))
            .order_by(audit_persons.c.seq)
            .limit(1)
        ).scalar()
        if stray is not None:
            result.problems.append(
                (stray, "the persons index names a record past the chain's end")
            )
    return result


def _missing(first: int, last: int, where: str) -> str:
    """The problem of records ``first`` to ``last``, reported at ``first``."""
    if first == last:
        return f"it is missing (removed{where})"
    return f"it and the records after it up to {last} are missing (removed{where})"


def _check(
    record: Record,
    expected_seq: int,
    expected_prev: str,
    result: Verification,
    index: dict[int, list[list[int]]],
) -> None:
    problems = result.problems
    if record.seq > result.head_seq:
        problems.append(
            (
                record.seq,
                f"it was inserted: the chain's head is record {result.head_seq}",
            )
        )
        return
    if record.seq < 1:
        problems.append((record.seq, "it was inserted: chain numbers start at 1"))
        return
    if record.seq > expected_seq:
        problems.append((expected_seq, _missing(expected_seq, record.seq - 1, "")))
    elif record.prev_hash != expected_prev:
        problems.append(
            (
                record.seq,
                "it does not link to the record before it (that one was "
                "replaced, or this one inserted)",
            )
        )
    fields = {name: getattr(record, name) for name in _HASHED}
    if record_hash(fields) != record.hash:
        problems.append((record.seq, "its content does not match its hash (edited)"))
        return
    try:
        stated = json.loads(record.detail).get("named", [])
    except (ValueError, AttributeError):
        stated = None
    if stated != index.get(record.seq, []):
        problems.append(
            (
                record.seq,
                "the persons index (audit_persons) does not match the record",
            )
        )
