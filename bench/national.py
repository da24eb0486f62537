"""Benchmark (not a test): regwatch at national scale, on SQLite or PostgreSQL.

The issue's figures by default: a register of 3,000,000 persons; one customer
following all of them and ten following 300,000 each; an ordinary day of 30,000
changed persons and a clean-up day of 500,000. ``--persons N`` scales all of
these together, to try it small.

1. The register is generated once and cached as a SQLite file under ``--work``;
   a SQLite run copies the file, a PostgreSQL run COPYs its two tables into a
   fresh database (in a throwaway cluster of its own unless ``--url`` is given).
2. ``regwatch serve`` runs as its own process(es); the customers' lists are
   loaded through the SOAP API by several client connections at once, in
   LoadClients calls of up to 100,000 codes.
3. Each day's changes are written straight into the change log by one
   INSERT ... SELECT over the persons (a shortcut: ingesting 500,000 events
   through the mirror is measured by bench/ingest_events.py, not here; this
   benchmark measures publishing and answering). Each day is then published for
   all customers.
4. GetClientsDataChanges: up to 200 pages of 1,000 of the largest customer's
   clean-up day; GetAllClients: the largest customer's whole list.

Beside each figure, plain SQL does the same set work in the same run (the
insert of the same list rows, the same publishing join, the same page queries),
and the ratio regwatch/plain shows what regwatch itself costs.

    .venv/bin/python bench/national.py --database postgresql [--persons 100000]
    .venv/bin/python bench/national.py --database sqlite [--work DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from lxml import etree
from sqlalchemy import Connection, Date, bindparam, text
from sqlalchemy.engine import make_url

from regwatch.clock import VILNIUS, day_start, to_micros
from regwatch.config import Settings
from regwatch.kinds import ALL_MASK, Kind
from regwatch.monitoring.customers import add_customer
from regwatch.monitoring.days import publish_pending
from regwatch.register.synth.population import generate_register
from regwatch.setup import initialise, open_database
from regwatch.store.engine import Database, set_simulated_clock
from regwatch.store.sql import analyse, copy_tuples

NS = "urn:regwatch:monitoring:v1"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
START = datetime(2026, 11, 4, tzinfo=VILNIUS)  # a Wednesday, no holiday
SEED = 7
ROOT = Path(__file__).resolve().parent.parent
CLUSTER_SCRIPT = ROOT / "scripts" / "pg-test-cluster"
# What a server holding a national register would be given (the test cluster's
# own defaults are sized for a test suite): memory for the hot indexes, and
# checkpoints far enough apart that a bulk load is not written out twice.
SERVER_SETTINGS = os.environ.get(
    "PG_TEST_CLUSTER_SETTINGS",
    "shared_buffers=4GB effective_cache_size=12GB work_mem=64MB "
    "maintenance_work_mem=1GB max_wal_size=16GB checkpoint_timeout=30min "
    "random_page_cost=1.1",
)


@dataclass(frozen=True)
class Scale:
    persons: int

    @property
    def large_list(self) -> int:
        return self.persons

    @property
    def small_list(self) -> int:
        return self.persons // 10

    @property
    def ordinary_day(self) -> int:
        return self.persons // 100

    @property
    def clean_up_day(self) -> int:
        return self.persons // 6


@dataclass
class Row:
    measure: str
    regwatch: str
    plain: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print(f"  {row.measure}: {row.regwatch} (plain {row.plain})", flush=True)


# --- the database under test -------------------------------------------------------


def cached_register(work: Path, persons: int, report: Report) -> Path:
    """The generated register as a regwatch SQLite file, generated on first use."""
    path = work / f"register-{persons}.db"
    if path.exists():
        return path
    part = work / f"register-{persons}.db.part"
    for stale in work.glob(f"register-{persons}.db.part*"):
        stale.unlink()
    print(f"generating {persons:,} persons into {path} (once)", flush=True)
    began = time.perf_counter()
    db = open_database(Settings(database_url=f"sqlite:///{part}"))
    initialise(db, simulated_clock=START)
    generate_register(db, persons, SEED, start=START)
    db.engine.dispose()  # the last connection checkpoints the WAL into the file
    part.rename(path)
    report.notes.append(
        f"register generated in {time.perf_counter() - began:.0f} s (cached)"
    )
    return path


@contextmanager
def postgresql_cluster(work: Path, url: str | None) -> Iterator[str]:
    """A server URL: the one given, or a throwaway cluster's, stopped afterwards."""
    if url:
        yield url
        return
    folder = work / "pg-cluster"
    subprocess.run([str(CLUSTER_SCRIPT), "stop", str(folder)], check=True)
    started = subprocess.run(
        [str(CLUSTER_SCRIPT), "start", str(folder)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PG_TEST_CLUSTER_SETTINGS": SERVER_SETTINGS},
    )
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run([str(CLUSTER_SCRIPT), "stop", str(folder)], check=True)


def fresh_postgresql(server_url: str, name: str) -> str:
    import psycopg

    parsed = make_url(server_url)
    admin = parsed.set(drivername="postgresql", database="postgres")
    dsn = admin.render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return parsed.set(database=name).render_as_string(hide_password=False)


def prepare_sqlite(work: Path, register: Path) -> str:
    target = work / "run-sqlite.db"
    for old in work.glob("run-sqlite.db*"):
        old.unlink()
    shutil.copyfile(register, target)
    return f"sqlite:///{target}"


def prepare_postgresql(url: str, register: Path) -> None:
    """Schema by the migrations, then the cached register's two tables by COPY."""
    db = open_database(Settings(database_url=url))
    initialise(db, simulated_clock=START)
    source = sqlite3.connect(register)
    with db.write() as conn:
        for table in ("persons", "personal_codes"):
            columns = [row[1] for row in source.execute(f"PRAGMA table_info({table})")]
            rows = source.execute(
                f"SELECT {', '.join(columns)} FROM {table} ORDER BY rowid"
            )
            copy_tuples(conn, table, columns, rows)
        analyse(conn, "persons", "personal_codes")
    source.close()
    db.engine.dispose()


# --- the server ------------------------------------------------------------------


def serve_supports_workers() -> bool:
    helptext = subprocess.run(
        [sys.executable, "-m", "regwatch.cli", "serve", "--help"],
        capture_output=True,
        text=True,
    ).stdout
    return "--workers" in helptext


@contextmanager
def server(url: str, workers: int) -> Iterator[tuple[str, subprocess.Popen]]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "regwatch.cli", "serve", "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    process = subprocess.Popen(
        command,
        env={
            **os.environ,
            "REGWATCH_DATABASE_URL": url,
            "REGWATCH_LOG_LEVEL": "WARNING",
        },
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise SystemExit("the server did not start")
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=60)


class PeakMemory:
    """Samples the server's processes: the highest VmHWM of each, and their sum."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _pids(self) -> list[int]:
        found, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*/children"):
                todo += [int(child) for child in task.read_text().split()]
        return found

    def sample(self) -> None:
        try:
            pids = self._pids()
        except OSError:
            return
        for pid in pids:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    self.peaks[pid] = max(self.peaks.get(pid, 0), int(line.split()[1]))

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.sample()

    def stop(self) -> tuple[float, float, int]:
        self.sample()
        self._stop.set()
        self._thread.join()
        values = list(self.peaks.values()) or [0]
        return max(values) / 1024, sum(values) / 1024, len(self.peaks)


def envelope(body: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP}" '
        f'xmlns:r="{NS}"><s:Body>{body}</s:Body></s:Envelope>'
    ).encode()


def soap(client: httpx.Client, auth: tuple[str, str], body: str) -> bytes:
    reply = client.post("/soap", content=envelope(body), auth=auth)
    if reply.status_code != 200:
        raise SystemExit(f"SOAP call failed ({reply.status_code}): {reply.text[:500]}")
    return reply.content


# --- the work ------------------------------------------------------------------


@dataclass
class Customer:
    customer_id: str
    secret: str
    codes: list[str]


def make_customers(db: Database, all_codes: list[str], scale: Scale) -> list[Customer]:
    """One customer following everybody, ten following a tenth each (overlapping).

    Lists come in a shuffled order, as a customer's own list would.
    """
    found = []
    large = list(all_codes)
    random.Random(1).shuffle(large)
    customer, secret = add_customer(db, "National Bank", kinds=ALL_MASK)
    found.append(Customer(customer.customer_id, secret, large))
    for n in range(10):
        picked = random.Random(100 + n).sample(all_codes, scale.small_list)
        customer, secret = add_customer(db, f"Insurer {n + 1}", kinds=ALL_MASK)
        found.append(Customer(customer.customer_id, secret, picked))
    return found


def load_lists(
    base: str, customers: list[Customer], call_size: int, clients: int
) -> tuple[float, int, list[float]]:
    """All lists through LoadClients, ``clients`` calls in flight; wall time."""
    calls: list[tuple[Customer, bytes]] = []
    per_customer = [
        [c.codes[i : i + call_size] for i in range(0, len(c.codes), call_size)]
        for c in customers
    ]
    # Round robin over customers, so that calls in flight are mostly for
    # different customers (calls for one customer queue on its list).
    for round_ in range(max(len(parts) for parts in per_customer)):
        for customer, parts in zip(customers, per_customer, strict=True):
            if round_ < len(parts):
                body = "".join(f"<r:add>{code}</r:add>" for code in parts[round_])
                request = (
                    f"<r:LoadClients><r:requestId>national-{round_}</r:requestId>"
                    f"{body}</r:LoadClients>"
                )
                calls.append((customer, envelope(request)))
    codes = sum(len(c.codes) for c in customers)
    durations: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    with httpx.Client(
        base_url=base,
        timeout=3600,
        limits=limits,
        headers={"Content-Type": "text/xml"},
    ) as client:

        def one(call: tuple[Customer, bytes]) -> None:
            customer, content = call
            began = time.perf_counter()
            reply = client.post(
                "/soap", content=content, auth=(customer.customer_id, customer.secret)
            )
            durations.append(time.perf_counter() - began)
            if reply.status_code != 200 or b"Fault" in reply.content[:2000]:
                raise SystemExit(f"LoadClients failed: {reply.text[:500]}")

        began = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(one, calls))
        return time.perf_counter() - began, codes, durations


# The same list rows again, into a copy of list_entries with the same indexes
# and foreign keys: what the database must do at the least to hold what
# LoadClients stored, checked as strictly.
def plain_list_insert(db: Database) -> float:
    columns = ("customer_id", "person_id", "loaded_code", "added_at", "added_version")
    with db.read() as conn:
        rows = conn.execute(
            text(f"SELECT {', '.join(columns)} FROM list_entries ORDER BY entry_id")
        ).all()
        rows = [tuple(row) for row in rows]
    with db.write() as conn:
        copy_table(conn, "list_entries", "plain_list_entries")
    began = time.perf_counter()
    with db.write() as conn:
        if conn.dialect.name == "postgresql":
            copy_tuples(conn, "plain_list_entries", columns, rows)
        else:
            conn.exec_driver_sql(
                f"INSERT INTO plain_list_entries ({', '.join(columns)}) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
    seconds = time.perf_counter() - began
    with db.write() as conn:
        conn.exec_driver_sql("DROP TABLE plain_list_entries")
    return seconds


def settle(db: Database) -> None:
    """Let the database catch up after the bulk load, as an operator would.

    On PostgreSQL a VACUUM sets the visibility map and hint bits that the first
    readers would otherwise write, and refreshes the statistics; left to
    autovacuum, that work lands in the middle of the measurements that follow.
    """
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("VACUUM (ANALYZE) list_entries")
        else:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def copy_table(conn: Connection, source: str, target: str) -> None:
    """An empty table shaped like ``source``, with its indexes and foreign keys."""
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {target}")
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f"CREATE TABLE {target} (LIKE {source} INCLUDING DEFAULTS "
            "INCLUDING INDEXES)"
        )
        # LIKE leaves foreign keys behind; each is checked on every row stored.
        keys = conn.exec_driver_sql(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'f'",
            (source,),
        ).scalars()
        for n, definition in enumerate(keys):
            conn.exec_driver_sql(
                f"ALTER TABLE {target} ADD CONSTRAINT {target}_fk{n} {definition}"
            )
        return
    statements = conn.exec_driver_sql(
        "SELECT type, sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL",
        (source,),
    ).all()
    for kind, sql in sorted(statements, key=lambda row: row[0] != "table"):
        # The table's text is copied whole, its foreign keys with it.
        sql = sql.replace(f"CREATE TABLE {source}", f"CREATE TABLE {target}")
        sql = sql.replace(f" ON {source} ", f" ON {target} ")
        sql = sql.replace("INDEX ", f"INDEX {target}_", 1) if kind == "index" else sql
        conn.exec_driver_sql(sql)


# Day changes: every step-th person, with one or two kinds each (derived from
# the person_id, a personal code change now and then), recorded across the day.
_WRITE_DAY = text(
    """
    INSERT INTO change_log
        (person_id, recorded_at, received_at, day, kinds, previous_code, event_id,
         administrative)
    SELECT person_id, :start + CAST(person_id % 86000 AS BIGINT) * 1000000,
           :start + CAST(person_id % 86000 AS BIGINT) * 1000000 + 5000000, :day,
           (1 << (person_id % 9)) | (1 << ((person_id / 9) % 9)),
           CASE WHEN person_id % 9 = 0 OR (person_id / 9) % 9 = 0
                THEN personal_code END,
           NULL, :administrative
    FROM persons
    WHERE person_id % :step = :offset
    """
).bindparams(bindparam("day", type_=Date))


def write_day(db: Database, day: date, changed: int, administrative: bool) -> int:
    assert Kind.PERSONAL_CODE.bit == 1
    with db.write() as conn:
        persons = conn.exec_driver_sql("SELECT COUNT(*) FROM persons").scalar_one()
        step = max(1, persons // changed)
        written = conn.execute(
            _WRITE_DAY,
            {
                "start": to_micros(day_start(day)),
                "day": day,
                "step": step,
                "offset": day.toordinal() % step,
                "administrative": administrative,
            },
        ).rowcount
        set_simulated_clock(
            conn, day_start(day + timedelta(days=1)) + timedelta(hours=1)
        )
    return written


# The publishing join written plainly: the day's changes with the list stays
# they fall in, per customer and person, into a table keyed like day_answers.
# (MAX stands in for the OR of kinds: the same rows are read and grouped.)
_PLAIN_PUBLISH = """
    INSERT INTO plain_day_answers (day, customer_id, person_id, loaded_code,
                                   current_code, kinds)
    SELECT c.day, e.customer_id, c.person_id, MAX(e.loaded_code),
           MAX(p.personal_code), MAX(c.kinds & cu.kinds)
    FROM change_log c
    {join} list_entries e
    {join} customers cu
    {join} persons p
    WHERE c.day = {day}
      AND e.person_id = c.person_id
      AND e.added_at <= c.recorded_at
      AND (e.removed_at IS NULL OR e.removed_at > c.recorded_at)
      AND cu.customer_id = e.customer_id
      AND p.person_id = c.person_id
    GROUP BY c.day, e.customer_id, c.person_id
"""


def plain_publish(db: Database, day: date) -> float:
    with db.write() as conn:
        if conn.dialect.name == "postgresql":
            # Comma joins: PostgreSQL's planner picks the order itself.
            join, value = ",", f"DATE '{day.isoformat()}'"
        else:
            # SQLite's own join order scans whole lists (FINDINGS.md).
            join, value = "CROSS JOIN", f"'{day.isoformat()}'"
        conn.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS plain_day_answers (day DATE, "
            "customer_id VARCHAR(64), person_id INTEGER, loaded_code VARCHAR(11), "
            "current_code VARCHAR(11), kinds INTEGER, "
            "PRIMARY KEY (day, customer_id, person_id))"
        )
        began = time.perf_counter()
        conn.exec_driver_sql(_PLAIN_PUBLISH.format(join=join, day=value))
        return time.perf_counter() - began


def read_pages(
    base: str, customer: Customer, day: date, pages: int, size: int
) -> tuple[list[float], list[int]]:
    """GetClientsDataChanges page after page; times, and the key after each page."""
    times: list[float] = []
    keys: list[int] = []
    token = None
    with httpx.Client(
        base_url=base, timeout=600, headers={"Content-Type": "text/xml"}
    ) as client:
        for _ in range(pages):
            token_xml = f"<r:pageToken>{token}</r:pageToken>" if token else ""
            began = time.perf_counter()
            content = soap(
                client,
                (customer.customer_id, customer.secret),
                f"<r:GetClientsDataChanges><r:date>{day}</r:date>"
                f"<r:pageSize>{size}</r:pageSize>{token_xml}"
                "</r:GetClientsDataChanges>",
            )
            times.append(time.perf_counter() - began)
            tree = etree.fromstring(content)
            keys.append(len(tree.findall(f".//{{{NS}}}person")))
            token = tree.findtext(f".//{{{NS}}}nextPageToken")
            if not token:
                break
    return times, keys


def plain_pages(
    db: Database, customer_id: str, day: date, pages: int, size: int
) -> list[float]:
    """The same page query, page after page, by plain SQL."""
    times = []
    after = 0
    day_value: Any = day if db.engine.dialect.name == "postgresql" else day.isoformat()
    mark = "%s" if db.engine.dialect.name == "postgresql" else "?"
    sql = (
        f"SELECT * FROM day_answers WHERE day = {mark} AND customer_id = {mark} "
        f"AND person_id > {mark} ORDER BY person_id LIMIT {size + 1}"
    )
    with db.read() as conn:
        for _ in range(pages):
            began = time.perf_counter()
            rows = conn.exec_driver_sql(sql, (day_value, customer_id, after)).all()
            times.append(time.perf_counter() - began)
            if len(rows) <= size:
                break
            after = rows[size - 1].person_id
    return times


def walk_list(base: str, customer: Customer, size: int) -> tuple[float, int, int]:
    """The whole list by GetAllClients: time, persons, pages."""
    seen = pages = 0
    token = None
    began = time.perf_counter()
    with httpx.Client(
        base_url=base, timeout=600, headers={"Content-Type": "text/xml"}
    ) as client:
        while True:
            token_xml = f"<r:pageToken>{token}</r:pageToken>" if token else ""
            content = soap(
                client,
                (customer.customer_id, customer.secret),
                f"<r:GetAllClients><r:pageSize>{size}</r:pageSize>{token_xml}"
                "</r:GetAllClients>",
            )
            pages += 1
            tree = etree.fromstring(content)
            seen += len(tree.findall(f".//{{{NS}}}client"))
            token = tree.findtext(f".//{{{NS}}}nextPageToken")
            if not token:
                break
    return time.perf_counter() - began, seen, pages


def plain_walk(db: Database, customer_id: str, size: int) -> float:
    """The same keyset walk over the list joined with persons, by plain SQL."""
    # The bound is put as regwatch puts it on each engine (lists._after_entry):
    # the same index range, so the ratio shows regwatch's own cost.
    if db.engine.dialect.name == "postgresql":
        mark, bound = "%s", "(e.customer_id, e.entry_id) > (%s, %s)"
    else:
        mark, bound = "?", "e.customer_id = ? AND e.entry_id > ?"
    sql = (
        "SELECT e.entry_id, e.loaded_code, e.added_at, p.personal_code, p.died_on "
        "FROM list_entries e JOIN persons p ON p.person_id = e.person_id "
        f"WHERE e.customer_id = {mark} AND e.removed_at IS NULL AND {bound} "
        f"ORDER BY e.entry_id LIMIT {size + 1}"
    )
    after = 0
    began = time.perf_counter()
    with db.read() as conn:
        while True:
            rows = conn.exec_driver_sql(sql, (customer_id, customer_id, after)).all()
            if len(rows) <= size:
                break
            after = rows[size - 1].entry_id
    return time.perf_counter() - began


# --- the table --------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def machine_facts(db: Database) -> str:
    memory = "?"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GB RAM"
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    with db.read() as conn:
        if conn.dialect.name == "postgresql":
            shown = {
                name: conn.exec_driver_sql(f"SHOW {name}").scalar_one()
                for name in (
                    "server_version",
                    "shared_buffers",
                    "work_mem",
                    "max_wal_size",
                    "random_page_cost",
                    "fsync",
                    "synchronous_commit",
                )
            }
            version = shown.pop("server_version")
            settings = ", ".join(f"{name}={value}" for name, value in shown.items())
            engine = f"PostgreSQL {version} ({settings})"
        else:
            engine = "SQLite " + sqlite3.sqlite_version
    return (
        f"{os.cpu_count()} cores ({model}), {memory}, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, {engine}"
        f" (SQLite library {sqlite3.sqlite_version})"
    )


def print_table(report: Report, title: str, facts: str) -> None:
    print(f"\n### {title}\n\n{facts}\n")
    print("| measure | regwatch | plain SQL | ratio | target | met |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in report.rows:
        ratio = "" if row.ratio is None else f"{row.ratio:.1f}"
        met = "" if row.met is None else ("yes" if row.met else "**no**")
        print(
            f"| {row.measure} | {row.regwatch} | {row.plain} | {ratio} | "
            f"{row.target} | {met} |"
        )
    for note in report.notes:
        print(f"\n- {note}", end="")
    print()


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    result = action()
    return time.perf_counter() - began, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), required=True)
    parser.add_argument("--url", help="a PostgreSQL server to use instead of a new one")
    parser.add_argument("--persons", type=int, default=3_000_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/regwatch-national"))
    parser.add_argument("--call-size", type=int, default=100_000)
    parser.add_argument(
        "--clients",
        type=int,
        help="connections at once (default 4 on PostgreSQL; 1 on SQLite, where "
        "writes take turns and more callers only queue, past the busy timeout)",
    )
    parser.add_argument("--workers", type=int, default=2, help="if serve has --workers")
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--page-size", type=int, default=1_000)
    parser.add_argument("--walk-page-size", type=int, default=10_000)
    args = parser.parse_args()

    if args.clients is None:
        args.clients = 4 if args.database == "postgresql" else 1
    scale = Scale(args.persons)
    args.work.mkdir(parents=True, exist_ok=True)
    report = Report()
    register = cached_register(args.work, scale.persons, report)
    with sqlite3.connect(register) as source:
        all_codes = [
            code
            for (code,) in source.execute(
                "SELECT personal_code FROM persons ORDER BY person_id"
            )
        ]

    with (
        postgresql_cluster(args.work, args.url)
        if args.database == "postgresql"
        else _no_cluster() as server_url
    ):
        began = time.perf_counter()
        if args.database == "postgresql":
            url = fresh_postgresql(server_url, "regwatch_national")
            prepare_postgresql(url, register)
        else:
            url = prepare_sqlite(args.work, register)
        report.notes.append(
            f"register of {scale.persons:,} persons put in place in "
            f"{time.perf_counter() - began:.0f} s"
        )
        db = open_database(Settings(database_url=url))
        run(db, url, args, scale, all_codes, report)
        facts = machine_facts(db)
        db.engine.dispose()
    print_table(
        report,
        f"regwatch national benchmark, {args.database}, {scale.persons:,} persons",
        facts,
    )


@contextmanager
def _no_cluster() -> Iterator[str]:
    yield ""


def run(
    db: Database,
    url: str,
    args: argparse.Namespace,
    scale: Scale,
    all_codes: list[str],
    report: Report,
) -> None:
    customers = make_customers(db, all_codes, scale)
    largest = customers[0]
    workers = args.workers if serve_supports_workers() else 1
    report.notes.append(
        f"server: `regwatch serve` with {workers} worker process(es); "
        f"{args.clients} client connections at once"
    )

    with server(url, workers) as (base, process):
        memory = PeakMemory(process.pid)
        print("loading lists", flush=True)
        seconds, codes, durations = load_lists(
            base, customers, args.call_size, args.clients
        )
        plain = plain_list_insert(db)
        rate = codes / seconds
        report.add(
            Row(
                f"LoadClients, {codes:,} codes in calls of {args.call_size:,}",
                f"{seconds:.1f} s = {rate:,.0f} codes/s "
                f"(call p50 {statistics.median(durations):.2f} s, "
                f"max {max(durations):.2f} s)",
                f"{plain:.1f} s insert of the same rows",
                seconds / plain,
                "≥100,000 codes/s",
                rate >= 100_000,
            )
        )
        settle(db)

        ordinary = START.date()
        clean_up = ordinary + timedelta(days=1)
        for day, changed, administrative, limit in (
            (ordinary, scale.ordinary_day, False, 5),
            (clean_up, scale.clean_up_day, True, 60),
        ):
            written = write_day(db, day, changed, administrative)
            seconds, published = timed(lambda: publish_pending(db))
            plain = plain_publish(db, day)
            (one,) = published
            report.add(
                Row(
                    f"publish {'clean-up' if administrative else 'ordinary'} day "
                    f"({written:,} changed persons, {one.answers:,} answers)",
                    f"{seconds:.2f} s",
                    f"{plain:.2f} s",
                    seconds / plain,
                    f"<{limit} s",
                    seconds < limit,
                )
            )

        print("reading pages", flush=True)
        # The clean-up day gives the 200 pages; its answers are administrative,
        # so no page records a charge. The ordinary day's pages (fewer) each
        # record a charge for every person on them, as most days' pages do.
        for day, what in ((clean_up, "clean-up day"), (ordinary, "ordinary day")):
            times, _ = read_pages(base, largest, day, args.pages, args.page_size)
            plain_times = plain_pages(
                db, largest.customer_id, day, len(times), args.page_size
            )
            p95, plain_p95 = percentile(times, 0.95), percentile(plain_times, 0.95)
            report.add(
                Row(
                    f"GetClientsDataChanges, {what}, {len(times)} pages of "
                    f"{args.page_size:,}"
                    + (", each charging its persons" if day == ordinary else ""),
                    f"p50 {statistics.median(times) * 1000:.0f} ms, "
                    f"p95 {p95 * 1000:.0f} ms",
                    f"p50 {statistics.median(plain_times) * 1000:.1f} ms, "
                    f"p95 {plain_p95 * 1000:.1f} ms",
                    p95 / plain_p95,
                    "p95 <50 ms",
                    p95 < 0.05,
                )
            )

        print("walking the largest list", flush=True)
        seconds, seen, pages = walk_list(base, largest, args.walk_page_size)
        plain = plain_walk(db, largest.customer_id, args.walk_page_size)
        report.add(
            Row(
                f"GetAllClients walk, {seen:,} persons in {pages} pages",
                f"{seconds:.1f} s",
                f"{plain:.1f} s",
                seconds / plain,
            )
        )
        largest_process, all_processes, count = memory.stop()
    report.add(
        Row(
            f"server peak memory (VmHWM), {count} process(es)",
            f"largest {largest_process:.0f} MB, all {all_processes:.0f} MB",
            target="<1 GB",
            met=all_processes < 1024,
        )
    )


if __name__ == "__main__":
    main()
