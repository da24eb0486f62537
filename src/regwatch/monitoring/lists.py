"""The customer's list: LoadClients and GetAllClients.

A list is kept as history: each stay of a person on a customer's list is one
row with the time it began and, once removed, the time it ended. Nothing is
deleted, so publishing a day can ask whether the person was listed at the
moment each change was recorded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime

import structlog
from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    func,
    or_,
    select,
    text,
    tuple_,
    update,
)

from regwatch import codes
from regwatch.audit import trail
from regwatch.clock import day_of, from_micros, to_micros
from regwatch.errors import TooManyCodes
from regwatch.monitoring import paging, requests
from regwatch.monitoring.models import (
    CodeResult,
    Customer,
    ListEntry,
    ListPage,
    ListStatus,
    LoadResult,
    Outcome,
)
from regwatch.store.engine import Database
from regwatch.store.sql import insert_tuples, stage_codes
from regwatch.store.tables import customers, list_entries, persons

OPERATION = "LoadClients"

log = structlog.get_logger(__name__)


def load_clients(
    db: Database,
    customer: Customer,
    *,
    add: Sequence[str],
    remove: Sequence[str],
    request_id: str | None,
) -> LoadResult:
    """Add persons to and remove them from the customer's list, in one transaction.

    Every code gets one outcome, in input order (``add`` first, then
    ``remove``). A code that was replaced by a newer one resolves to its person.
    With a requestId, a repeat of the same call returns the first answer and
    changes nothing; the same id with other content is refused.
    """
    limit = db.settings.max_codes_per_call
    if len(add) + len(remove) > limit:
        raise TooManyCodes(
            f"{len(add) + len(remove)} codes in one call; at most {limit} "
            "(send bigger lists in several calls)"
        )
    request_id = requests.check_request_id(request_id)
    fingerprint = requests.digest(OPERATION, list(add), list(remove))

    with db.write() as conn:
        _take_turn(conn, customer.customer_id)
        now = db.now(conn)
        if request_id is not None:
            earlier = requests.claim(
                conn, customer.customer_id, request_id, OPERATION, fingerprint, now
            )
            if not earlier.new:
                trail.append(
                    conn,
                    now,
                    OPERATION,
                    customer_id=customer.customer_id,
                    request_id=request_id,
                    outcome="REPEATED",
                )
                log.info("clients_load_repeated", customer_id=customer.customer_id)
                return _result_from_json(earlier.answer, add, remove)
        result, added, removed = _apply(conn, customer, add, remove, now)
        if request_id is not None:
            requests.store_answer(
                conn, customer.customer_id, request_id, _result_to_json(result)
            )
        trail.append(
            conn,
            now,
            OPERATION,
            customer_id=customer.customer_id,
            request_id=request_id,
            persons=len(added) + len(removed),
            detail={
                "added": added,
                "removed": removed,
                "counts": {o.value: n for o, n in result.counts.items() if n},
            },
        )
    log.info(
        "clients_loaded",
        customer_id=customer.customer_id,
        **{outcome.value.lower(): n for outcome, n in result.counts.items()},
    )
    return result


TURN_TIMEOUT_S = 60


def _take_turn(conn: Connection, customer_id: str) -> None:
    """Make the LoadClients calls of one customer run one after the other.

    Two calls deciding from the same list at once would both find a person not
    listed and both add it (the second insert then breaks the unique key of
    open stays: an IntegrityError for its caller), or one would remove a stay
    the other has just answered ALREADY_ON_LIST for. Skipping duplicate rows
    (ON CONFLICT DO NOTHING) would keep the list right but tell both callers
    ADDED; retrying on a unique violation would work, but the calls queue on the
    customer's row anyway (its list_version), so queuing there from the start
    costs only the overlap of their reads and gives every caller the answer of
    some serial order, with no retry loop. Taken before the clock is read, so
    that the times stamped on the list follow the same order. On SQLite the
    write transaction (BEGIN IMMEDIATE) has already done this; FOR UPDATE is
    left out there.

    A call waits for its turn as long as a SQLite writer waits for the write
    lock (60 s), then gives up with nothing done and is answered SERVICE_BUSY;
    left unbounded, queued calls would each hold a pooled connection.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{TURN_TIMEOUT_S}s'")
    conn.execute(
        select(customers.c.list_version)
        .where(customers.c.customer_id == customer_id)
        .with_for_update()
    )


def _apply(
    conn: Connection,
    customer: Customer,
    add: Sequence[str],
    remove: Sequence[str],
    now: datetime,
) -> tuple[LoadResult, list[int], list[int]]:
    """The outcomes, and the persons added and removed (by person_id)."""
    today = day_of(now)
    normal = {sent: codes.accepted(sent, today) for sent in (*add, *remove)}
    known = _resolve(conn, customer.customer_id, normal.values())

    results: list[CodeResult] = []
    to_add: dict[int, str] = {}  # person_id -> code as loaded
    to_close: dict[int, int] = {}  # entry id -> person_id
    for sent, adding in [(t, True) for t in add] + [(t, False) for t in remove]:
        code = normal[sent]
        if code is None:
            results.append(CodeResult(sent, Outcome.INVALID_CODE))
            continue
        if code not in known:
            results.append(CodeResult(sent, Outcome.NOT_FOUND))
            continue
        person_id, current, entry_id = known[code]
        listed = person_id in to_add or (
            entry_id is not None and entry_id not in to_close
        )
        if adding:
            outcome = Outcome.ALREADY_ON_LIST if listed else Outcome.ADDED
            if not listed:
                to_add[person_id] = code
        else:
            outcome = Outcome.REMOVED if listed else Outcome.NOT_ON_LIST
            if listed and person_id in to_add:
                del to_add[person_id]  # added and removed in one call: no stay
            elif listed and entry_id is not None:
                to_close[entry_id] = person_id
        results.append(CodeResult(sent, outcome, current))

    _write(conn, customer.customer_id, to_add, set(to_close), to_micros(now))
    counts = Counter(result.outcome for result in results)
    return (
        LoadResult(results, {outcome: counts[outcome] for outcome in Outcome}),
        sorted(to_add),
        sorted(to_close.values()),
    )


# Every staged code that names a person (by its current or an earlier code),
# with the person's current code and the customer's open stay, if any.
_RESOLVE = """
    SELECT s.code, pc.person_id, p.personal_code, e.entry_id
    FROM {staged} s
    JOIN personal_codes pc ON pc.code = s.code
    JOIN persons p ON p.person_id = pc.person_id
    LEFT JOIN list_entries e
      ON e.person_id = pc.person_id
     AND e.customer_id = :customer_id
     AND e.removed_at IS NULL
"""


def _resolve(
    conn: Connection, customer_id: str, wanted: Iterable[str | None]
) -> dict[str, tuple[int, str, int | None]]:
    """code -> (person_id, current code, open entry_id or None)."""
    staged = stage_codes(conn, (code for code in wanted if code is not None))
    rows = conn.execute(
        text(_RESOLVE.format(staged=staged)), {"customer_id": customer_id}
    )
    return {
        code: (person_id, current, entry) for code, person_id, current, entry in rows
    }


def _write(
    conn: Connection,
    customer_id: str,
    to_add: dict[int, str],
    to_close: set[int],
    now: int,
) -> None:
    version = _next_list_version(conn, customer_id)
    insert_tuples(
        conn,
        list_entries,
        ("customer_id", "person_id", "loaded_code", "added_at", "added_version"),
        [
            (customer_id, person_id, code, now, version)
            for person_id, code in to_add.items()
        ],
    )
    if to_close:
        conn.execute(
            update(list_entries)
            .where(list_entries.c.entry_id == bindparam("b_entry_id"))
            .values(removed_at=now, removed_version=version),
            [{"b_entry_id": entry_id} for entry_id in sorted(to_close)],
        )


def _next_list_version(conn: Connection, customer_id: str) -> int:
    conn.execute(
        update(customers)
        .where(customers.c.customer_id == customer_id)
        .values(list_version=customers.c.list_version + 1)
    )
    return _list_version(conn, customer_id)


def _list_version(conn: Connection, customer_id: str) -> int:
    return int(
        conn.execute(
            select(customers.c.list_version).where(
                customers.c.customer_id == customer_id
            )
        ).scalar_one()
    )


# The stored answer of a call with a requestId. A repeat carries the same codes
# in the same order (its digest matched), so the answer keeps one letter per
# code for the outcome and only those current codes that differ from the code
# sent: for a call of 100,000 codes that is some 100 kB of JSON instead of
# several MB to build, compress and store inside the call's transaction.
# Letters spelled out, not derived from the enum's order: stored answers are
# kept, and a new or reordered outcome must not change what an old one reads as.
_OUTCOME_LETTERS = {
    Outcome.ADDED: "A",
    Outcome.ALREADY_ON_LIST: "L",
    Outcome.REMOVED: "R",
    Outcome.NOT_ON_LIST: "N",
    Outcome.INVALID_CODE: "I",
    Outcome.NOT_FOUND: "F",
}
_LETTER_OUTCOMES = {letter: outcome for outcome, letter in _OUTCOME_LETTERS.items()}


def _result_to_json(result: LoadResult) -> dict:
    return {
        "outcomes": "".join(_OUTCOME_LETTERS[r.outcome] for r in result.results),
        "current": {
            str(n): r.current_code
            for n, r in enumerate(result.results)
            if r.current_code is not None and r.current_code != r.personal_code
        },
        "resolved": "".join(
            "1" if r.current_code is not None else "0" for r in result.results
        ),
    }


def _result_from_json(
    data: dict, add: Sequence[str], remove: Sequence[str]
) -> LoadResult:
    if "results" in data:  # stored before answers were kept compact
        results = [
            CodeResult(code, Outcome(outcome), current)
            for code, outcome, current in data["results"]
        ]
    else:
        current = data["current"]
        results = [
            CodeResult(
                sent,
                _LETTER_OUTCOMES[letter],
                current.get(str(n), sent) if resolved == "1" else None,
            )
            for n, (sent, letter, resolved) in enumerate(
                zip([*add, *remove], data["outcomes"], data["resolved"], strict=True)
            )
        ]
    counts = Counter(result.outcome for result in results)
    return LoadResult(results, {outcome: counts[outcome] for outcome in Outcome})


def _after_entry(conn: Connection, customer_id: str, after: int) -> ColumnElement:
    """The customer's entries past ``after``, put so that each planner reads
    them from the (customer_id, entry_id) index and nowhere else.

    PostgreSQL, given ``entry_id > after``, preferred the primary key: it walks
    entry ids in order and filters out other customers' entries. Lists loaded
    side by side interleave, so with one customer of 3,000,000 and ten of
    300,000 (bench/national.py) a page of 10,000 read past some 770,000 others'
    rows, 245 ms a page (EXPLAIN ANALYZE). As a row comparison on the index's
    own columns the bound is an index condition there only: 10,000 rows read.
    SQLite cannot take a row comparison as a range on that index and would read
    the list from its start every page, so it keeps the plain bound, which it
    already uses with the customer as the index's prefix.
    """
    if conn.dialect.name == "postgresql":
        return tuple_(list_entries.c.customer_id, list_entries.c.entry_id) > tuple_(
            customer_id, after
        )
    return list_entries.c.entry_id > after


def list_clients(
    db: Database,
    customer: Customer,
    *,
    page_size: int | None,
    page_token: str | None,
) -> ListPage:
    """One page of the customer's list, in the order persons were added.

    A walk sees the list as it stood at its first page: persons added or removed
    while the customer pages through it neither appear nor vanish half-way, and
    ``total`` stays the same on every page.
    """
    size = paging.page_size(db, page_size)
    with db.write() as conn:
        if page_token is None:
            version, after = _list_version(conn, customer.customer_id), 0
            total = None
        else:
            state = paging.read_token(conn, page_token, customer.customer_id, "list")
            version, after, total = state["v"], state["k"], state["n"]

        listed_then = and_(
            list_entries.c.customer_id == customer.customer_id,
            list_entries.c.added_version <= version,
            or_(
                list_entries.c.removed_version.is_(None),
                list_entries.c.removed_version > version,
            ),
        )
        if total is None:
            total = conn.execute(
                select(func.count()).select_from(list_entries).where(listed_then)
            ).scalar_one()
        rows = conn.execute(
            select(
                list_entries.c.entry_id,
                list_entries.c.person_id,
                list_entries.c.loaded_code,
                list_entries.c.added_at,
                persons.c.personal_code,
                persons.c.died_on,
            )
            .join(persons, persons.c.person_id == list_entries.c.person_id)
            .where(listed_then, _after_entry(conn, customer.customer_id, after))
            .order_by(list_entries.c.entry_id)
            .limit(size + 1)
        ).all()
        more = len(rows) > size
        rows = rows[:size]
        token = (
            paging.make_token(
                conn,
                customer.customer_id,
                "list",
                v=version,
                k=rows[-1].entry_id,
                n=total,
            )
            if more
            else None
        )
        trail.append(
            conn,
            db.now(conn),
            "GetAllClients",
            customer_id=customer.customer_id,
            persons=len(rows),
            detail={
                "list_version": version,
                "persons": [row.person_id for row in rows],
            },
        )
    entries = [
        ListEntry(
            personal_code=row.loaded_code,
            current_code=row.personal_code,
            added_at=from_micros(row.added_at),
            status=ListStatus.DECEASED if row.died_on else ListStatus.ACTIVE,
        )
        for row in rows
    ]
    return ListPage(entries, total, token)
