"""Several processes on one database at once: nothing lost, nothing doubled.

Every party here is a real operating-system process: an interpreter started
with 'spawn' (as an API worker is), or the regwatch command itself. Each opens
its own engine and connects before it is let go together with the others, so
that they meet inside the database rather than one after the other.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from factories import customer
from regwatch.billing.prices import Item, price_on
from regwatch.clock import day_of
from regwatch.config import Settings
from regwatch.kinds import Kind, to_mask
from regwatch.monitoring.days import day_changes, publish_pending
from regwatch.monitoring.extracts import person_data
from regwatch.monitoring.lists import list_clients, load_clients
from regwatch.monitoring.models import Customer
from regwatch.register.synth.activity import simulate
from regwatch.register.synth.population import generate_register
from regwatch.setup import open_database
from regwatch.store.engine import MIRROR_LOCK, Database
from regwatch.store.tables import (
    api_requests,
    charges,
    day_answers,
    day_totals,
    list_entries,
    persons,
    published_days,
)

SPAWN = multiprocessing.get_context("spawn")
TIMEOUT = 60.0
REGWATCH = [sys.executable, "-m", "regwatch.cli"]  # the command, from this venv


# --- a crew of processes that run jobs together ----------------------------------


@dataclass(frozen=True)
class Done:
    """What one process returned, or the error it met."""

    value: Any = None
    error: str | None = None


class Crew:
    """Two processes, started once, that run each job at the same moment.

    Starting an interpreter and importing regwatch costs seconds; the work
    raced here costs milliseconds. So the processes stay up for the module
    and take one job each per round, while every job opens its own engine and
    disposes of it, as a separate server would.
    """

    SIZE = 2

    def __init__(self) -> None:
        self._barrier = SPAWN.Barrier(self.SIZE)
        self._results = SPAWN.Queue()
        self._inboxes = [SPAWN.Queue() for _ in range(self.SIZE)]
        self._processes = [
            SPAWN.Process(
                target=_crew_member,
                args=(inbox, self._barrier, self._results, index),
                daemon=True,
            )
            for index, inbox in enumerate(self._inboxes)
        ]
        for process in self._processes:
            process.start()

    def run(self, db: Database, job: Callable[..., Any], *calls: tuple) -> list:
        """``job(db, *call)`` in each process, let go together; their values."""
        assert len(calls) == self.SIZE
        url = url_of(db)
        for inbox, call in zip(self._inboxes, calls, strict=True):
            inbox.put((url, job, call))
        done = dict(self._results.get(timeout=TIMEOUT) for _ in calls)
        errors = [done[i].error for i in range(self.SIZE) if done[i].error]
        if errors:
            self._barrier.reset()  # a member may have left without waiting
        assert errors == []
        return [done[i].value for i in range(self.SIZE)]

    def close(self) -> None:
        for inbox in self._inboxes:
            inbox.put(None)
        for process in self._processes:
            process.join(TIMEOUT)


def _crew_member(inbox, barrier, results, index) -> None:  # type: ignore[no-untyped-def]
    while (task := inbox.get()) is not None:
        url, job, call = task
        db = open_database(Settings(database_url=url))
        try:
            with db.read() as conn:  # connect first: the race is in the work
                conn.execute(text("SELECT 1"))
            barrier.wait(TIMEOUT)
            results.put((index, Done(value=job(db, *call))))
        except BaseException as error:
            results.put((index, Done(error=f"{type(error).__name__}: {error}")))
        finally:
            db.engine.dispose()


@pytest.fixture(scope="module")
def crew() -> Iterator[Crew]:
    made = Crew()
    yield made
    made.close()


def url_of(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


# --- the jobs (module functions, so that a spawned process finds them) -----------


def load_job(
    db: Database, who: Customer, add: list[str], remove: list[str], request_id: str
) -> list[str]:
    result = load_clients(db, who, add=add, remove=remove, request_id=request_id)
    return [r.outcome.value for r in result.results]


def fetch_day_job(db: Database, who: Customer, day: date, page_size: int) -> list:
    codes, token = [], None
    while True:
        page = day_changes(db, who, day, page_size=page_size, page_token=token)
        codes += [p.current_code for p in page.persons]
        token = page.next_page_token
        if token is None:
            return codes


def extract_job(
    db: Database, who: Customer, codes: list[str], request_id: str
) -> list[str | None]:
    results = person_data(db, who, codes, purpose="KYC", request_id=request_id)
    return [r.current_code for r in results]


# --- data and what to look at -----------------------------------------------------


def register_of(db: Database, count: int) -> list[str]:
    """A generated register of ``count`` persons; their codes."""
    generate_register(db, count, seed=5, start=db.now())
    with db.read() as conn:
        return list(
            conn.execute(
                select(persons.c.personal_code).order_by(persons.c.person_id)
            ).scalars()
        )


def stays_per_person(db: Database, who: Customer) -> Counter:
    """person_id -> how many open stays the customer's list holds for them."""
    with db.read() as conn:
        return Counter(
            conn.execute(
                select(list_entries.c.person_id)
                .where(list_entries.c.customer_id == who.customer_id)
                .where(list_entries.c.removed_at.is_(None))
            ).scalars()
        )


def list_total(db: Database, who: Customer) -> int:
    return list_clients(db, who, page_size=1, page_token=None).total


def charged(db: Database, item: Item) -> Counter:
    """(customer, day, person) -> how many charge rows there are for it."""
    with db.read() as conn:
        return Counter(
            conn.execute(
                select(charges.c.customer_id, charges.c.day, charges.c.person_id).where(
                    charges.c.item == item.value
                )
            ).all()
        )


# --- LoadClients --------------------------------------------------------------------


def test_two_processes_adding_the_same_persons_add_each_exactly_once(db, crew):
    bank = customer(db)
    codes = register_of(db, 1500)

    answers = crew.run(
        db, load_job, (bank, codes, [], "first"), (bank, codes, [], "second")
    )

    # As if one call had come after the other: for every person one says ADDED
    # and the other ALREADY_ON_LIST; which call went first is chance.
    for said in zip(*answers, strict=True):
        assert sorted(said) == ["ADDED", "ALREADY_ON_LIST"]
    stays = stays_per_person(db, bank)
    assert len(stays) == len(codes)
    assert set(stays.values()) == {1}
    assert list_total(db, bank) == len(codes)


def test_two_copies_of_one_request_in_two_processes_are_applied_once(db, crew):
    bank = customer(db)
    codes = register_of(db, 1500)

    first, second = crew.run(
        db, load_job, (bank, codes, [], "same"), (bank, codes, [], "same")
    )

    assert first == second == ["ADDED"] * len(codes)
    stays = stays_per_person(db, bank)
    assert len(stays) == len(codes)
    assert set(stays.values()) == {1}
    with db.read() as conn:
        claims = conn.execute(select(func.count()).select_from(api_requests)).scalar()
    assert claims == 1


def test_an_add_and_a_remove_at_once_end_as_one_after_the_other(db, crew):
    bank = customer(db)
    codes = register_of(db, 1500)
    listed = codes[::2]
    load_clients(db, bank, add=listed, remove=[], request_id=None)

    added, removed = crew.run(
        db, load_job, (bank, codes, [], "add-all"), (bank, [], codes, "remove-all")
    )

    n, listed_n = len(codes), len(listed)
    if list_total(db, bank) == 0:  # the add went first
        assert Counter(added) == {"ALREADY_ON_LIST": listed_n, "ADDED": n - listed_n}
        assert Counter(removed) == {"REMOVED": n}
        assert stays_per_person(db, bank) == {}
    else:  # the remove went first
        assert Counter(removed) == {"REMOVED": listed_n, "NOT_ON_LIST": n - listed_n}
        assert Counter(added) == {"ADDED": n}
        assert list_total(db, bank) == n
        assert set(stays_per_person(db, bank).values()) == {1}


# --- publishing -------------------------------------------------------------------


def followed_changes(db: Database, days: int) -> list[Customer]:
    """Two customers following a register through ``days`` days of changes."""
    codes = register_of(db, 800)
    bank = customer(db, "Bank")
    telecom = customer(db, "Telecom", to_mask([Kind.NAME, Kind.DECLARED_RESIDENCE]))
    for who in (bank, telecom):
        load_clients(db, who, add=codes, remove=[], request_id=None)
    simulate(db, days, seed=3, rate_scale=100)
    return [bank, telecom]


def frozen_answers(db: Database) -> tuple[set, set]:
    with db.read() as conn:
        return (
            set(conn.execute(select(day_answers)).all()),
            set(conn.execute(select(day_totals)).all()),
        )


@contextmanager
def publishing_held(db: Database) -> Iterator[Callable[[int], None]]:
    """Hold the lock that publishing takes, from outside the service.

    Yields a function that waits (on PostgreSQL, by watching pg_locks) until
    that many others are queued behind the lock. The lock is let go when the
    block ends.
    """
    url = make_url(url_of(db))
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(str(url.database), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")  # the write lock every writer queues for

        def queued(_count: int) -> None:
            time.sleep(1.0)  # SQLite cannot show who waits: give them time

        try:
            yield queued
        finally:
            conn.execute("COMMIT")
            conn.close()
        return

    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as pg:
        pg.execute("SELECT pg_advisory_lock(%s)", (MIRROR_LOCK,))

        def queued(count: int) -> None:
            deadline = time.monotonic() + TIMEOUT
            while time.monotonic() < deadline:
                waiting = pg.execute(
                    "SELECT count(*) FROM pg_locks l"
                    " JOIN pg_database d ON d.oid = l.database"
                    " WHERE l.locktype = 'advisory' AND NOT l.granted"
                    " AND d.datname = current_database()"
                ).fetchone()
                if waiting is not None and waiting[0] >= count:
                    return
                time.sleep(0.02)
            raise AssertionError(f"fewer than {count} processes queued for the lock")

        try:
            yield queued
        finally:
            pg.execute("SELECT pg_advisory_unlock(%s)", (MIRROR_LOCK,))


def regwatch_command(db: Database, *args: str) -> subprocess.Popen:
    """``regwatch ARGS`` in a new process, on this database."""
    env = {**os.environ, "REGWATCH_DATABASE_URL": url_of(db)}
    return subprocess.Popen(
        [*REGWATCH, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("pending", [1, 3])
def test_two_publishers_started_together_publish_each_day_once(db, databases, pending):
    customers = followed_changes(db, pending)
    db.engine.dispose()  # a database is copied with nothing connected to it
    reference = open_database(Settings(database_url=databases.copy(url_of(db))))
    expected_days = [day.day for day in publish_pending(reference)]
    expected = frozen_answers(reference)
    reference.engine.dispose()
    assert len(expected_days) == pending and expected[0]

    with publishing_held(db) as queued:
        publishers = [regwatch_command(db, "days", "publish") for _ in range(2)]
        queued(len(publishers))
    outputs = [publisher.communicate(timeout=TIMEOUT) for publisher in publishers]

    assert [publisher.returncode for publisher in publishers] == [0, 0]
    assert all("Traceback" not in err for _out, err in outputs)
    reported = [
        line.split()[1].rstrip(":")
        for out, _err in outputs
        for line in out.splitlines()
        if line.startswith("published ")
    ]
    assert sorted(reported) == [day.isoformat() for day in expected_days]
    if pending == 1:  # one did the work, the other found it done
        assert sorted(out.strip().splitlines()[0] for out, _ in outputs)[0] == (
            "nothing to publish"
        )
    with db.read() as conn:
        days = conn.execute(select(published_days.c.day)).scalars().all()
        assert conn.execute(select(func.count()).select_from(charges)).scalar() == 0
    assert sorted(days) == expected_days
    assert frozen_answers(db) == expected

    # What the customers are then charged for is what they were told, once.
    for who in customers:
        for day in expected_days:
            fetch_day_job(db, who, day, 50)
            fetch_day_job(db, who, day, 50)
    chargeable = {
        (row.customer_id, row.day, row.person_id)
        for row in expected[0]
        if not row.administrative
    }
    assert charged(db, Item.CHANGES) == Counter(chargeable)


# --- charges ----------------------------------------------------------------------


def test_two_processes_reading_one_day_charge_each_person_once(db, crew):
    bank, _telecom = followed_changes(db, 1)
    (day,) = [published.day for published in publish_pending(db)]
    with db.read() as conn:
        answer = conn.execute(
            select(day_answers.c.person_id, day_answers.c.administrative)
            .where(day_answers.c.customer_id == bank.customer_id)
            .where(day_answers.c.day == day)
        ).all()
    chargeable = {(bank.customer_id, day, pid) for pid, admin in answer if not admin}
    assert len(chargeable) > 20  # pages of both sizes overlap many times

    # Pages of different sizes, so that the two walks overlap unevenly.
    first, second = crew.run(db, fetch_day_job, (bank, day, 7), (bank, day, 11))

    assert first == second and len(first) == len(answer)
    assert charged(db, Item.CHANGES) == Counter(chargeable)
    with db.read() as conn:
        cents = conn.execute(select(func.sum(charges.c.price_cents))).scalar()
    assert cents == len(chargeable) * price_on(day, Item.CHANGES).cents


@pytest.mark.parametrize("request_ids", [("one", "other"), ("same", "same")])
def test_two_processes_extracting_the_same_persons_charge_each_once(
    db, crew, request_ids
):
    bank = customer(db)
    codes = register_of(db, 600)
    listed = codes[:400]
    load_clients(db, bank, add=listed, remove=[], request_id=None)

    first, second = crew.run(
        db,
        extract_job,
        (bank, codes, request_ids[0]),
        (bank, codes, request_ids[1]),
    )

    assert first == second
    assert sum(code is not None for code in first) == len(listed)
    rows = charged(db, Item.EXTRACT)
    assert len(rows) == len(listed)
    assert set(rows.values()) == {1}
    assert {day for _customer, day, _person in rows} == {day_of(db.now())}


# --- serve --workers --------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # The command name in parentheses may hold spaces; the parent follows it.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def socket_inodes(port: int, state: str) -> set[str]:
    """Inodes of the TCP sockets on local ``port`` in ``state`` (/proc/net/tcp:
    0A listening, 01 established)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, in_state, inode = fields[1], fields[3], fields[9]
        if in_state == state and int(local.split(":")[1], 16) == port:
            found.add(inode)
    return found


def sockets_of(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def worker_pids(log_file: Path, server: subprocess.Popen, count: int) -> list[int]:
    """The pids of the first ``count`` workers that say they started."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        assert server.poll() is None, log_file.read_text()
        pids = [
            int(line.split("pid=")[1].split()[0])
            for line in log_file.read_text().splitlines()
            if line.startswith("event=api_worker_started")
        ]
        if len(pids) >= count:
            return pids
        time.sleep(0.1)
    raise AssertionError(f"fewer than {count} workers started")


@pytest.mark.parametrize("stop", ["SIGTERM to the server", "Ctrl-C"])
def test_serve_with_two_workers_answers_on_one_port_and_stops_whole(db, tmp_path, stop):
    port = free_port()
    log_file = tmp_path / "server.log"
    with log_file.open("w") as log:
        server = subprocess.Popen(
            [*REGWATCH, "serve", "--workers", "2", "--port", str(port)],
            env={**os.environ, "REGWATCH_DATABASE_URL": url_of(db)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal gives
        )
    clients: list[httpx.Client] = []
    try:
        started = worker_pids(log_file, server, 2)
        assert len(set(started)) == 2
        assert set(started) <= children_of(server.pid)
        (listening,) = socket_inodes(port, "0A")
        assert all(listening in sockets_of(pid) for pid in started)

        # Each client keeps its connection open, so the worker that accepted it
        # can be seen holding it; connect until both have taken some.
        def taken_by(pid: int) -> set[str]:
            return sockets_of(pid) & socket_inodes(port, "01")

        while len(clients) < 200 and not all(taken_by(pid) for pid in started):
            client = httpx.Client(base_url=f"http://127.0.0.1:{port}")
            clients.append(client)
            request_id = f"probe-{len(clients)}"
            answer = client.get("/health", headers={"X-Request-Id": request_id})
            assert answer.status_code == 200
            assert answer.headers["X-Request-Id"] == request_id
        assert all(taken_by(pid) for pid in started)
    finally:
        for client in clients:
            client.close()
        if server.poll() is None and stop == "Ctrl-C":
            os.killpg(server.pid, signal.SIGINT)  # the whole group, as a terminal does
        elif server.poll() is None:
            server.send_signal(signal.SIGTERM)
        returncode = server.wait(TIMEOUT)

    assert returncode == 0
    assert not any(running(pid) for pid in started)
    log_text = log_file.read_text()
    assert "Traceback" not in log_text
    for pid in started:
        assert f"event=api_worker_stopped pid={pid}" in log_text
    for n in range(1, len(clients) + 1):
        assert f"request_id=probe-{n} " in log_text
