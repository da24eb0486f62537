"""Engine set-up and the one way to run a transaction.

SQLite: WAL (readers never wait for the writer), a busy timeout instead of
immediate "database is locked" errors, and write transactions that take the
write lock at BEGIN (``BEGIN IMMEDIATE``) so that two writers queue up instead of
failing half-way when they try to upgrade a read lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Connection, Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from regwatch.clock import Clock, SystemClock, from_micros, require_aware, to_micros
from regwatch.config import Settings
from regwatch.store.tables import service_state

CLOCK_KEY = "simulated_clock"
# The service's first day: nothing is reported on a day before it.
FIRST_DAY_KEY = "first_day"


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)

    engine = create_engine(url, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("regwatch_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


class Database:
    """An engine and the clock the service runs by.

    With a simulated clock stored in the database (``regwatch init
    --simulated-clock``), ``now()`` reads it on every call, so a server sees the
    time that ``regwatch register simulate`` left behind.
    """

    def __init__(
        self,
        engine: Engine,
        clock: Clock | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.engine = engine
        self._clock = clock
        self.settings = settings or Settings()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: committed whole, or rolled back whole."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(regwatch_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A read transaction that sees one moment from its first to its last
        statement, however many it runs: REPEATABLE READ on PostgreSQL (whose
        default lets each statement see what committed meanwhile); SQLite's
        read transaction already does this."""
        with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    def now(self, conn: Connection | None = None) -> datetime:
        """The service's time; read in ``conn``'s transaction when one is given."""
        if self._clock is not None:
            return self._clock.now()
        if conn is not None:
            simulated = read_simulated_clock(conn)
        else:
            with self.read() as own:
                simulated = read_simulated_clock(own)
        return simulated if simulated is not None else SystemClock().now()


def read_simulated_clock(conn: Connection) -> datetime | None:
    value = conn.execute(
        select(service_state.c.value).where(service_state.c.key == CLOCK_KEY)
    ).scalar()
    return None if value is None else from_micros(int(value))


def set_simulated_clock(conn: Connection, instant: datetime) -> None:
    """Move the simulated clock (never backwards)."""
    current = read_simulated_clock(conn)
    if current is None:
        raise RuntimeError("this database runs on the wall clock")
    instant = require_aware(instant)
    if instant < current:
        raise ValueError(f"the clock cannot go back from {current} to {instant}")
    conn.execute(
        service_state.update()
        .where(service_state.c.key == CLOCK_KEY)
        .values(value=str(to_micros(instant)))
    )


def read_state(conn: Connection, key: str) -> str | None:
    return conn.execute(
        select(service_state.c.value).where(service_state.c.key == key)
    ).scalar()


def write_state(conn: Connection, key: str, value: str) -> None:
    updated = conn.execute(
        service_state.update().where(service_state.c.key == key).values(value=value)
    ).rowcount
    if not updated:
        conn.execute(service_state.insert().values(key=key, value=value))


# Keys of the transaction-level locks that serialise work which must not
# interleave on PostgreSQL: changes to the register mirror (and the change log)
# against each other and against publishing a day. SQLite needs none: its
# write transactions (BEGIN IMMEDIATE) already run one at a time.
MIRROR_LOCK = 7_301_001


def lock_for_writing(conn: Connection, key: int) -> None:
    """Hold a database-wide lock until the transaction ends (PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


# SQLSTATEs of a PostgreSQL statement that gave up waiting or lost a race:
# lock_not_available, deadlock_detected, serialization_failure, query_canceled
# (statement_timeout). The transaction was rolled back; the call may be retried.
_BUSY_STATES = {"55P03", "40P01", "40001", "57014"}


def is_busy(error: BaseException) -> bool:
    """Whether the database refused work because it was busy, not broken.

    SQLite says "database is locked" when a writer waited out the busy timeout
    for the single write lock; PostgreSQL gives one of the SQLSTATEs above;
    the pool times out when every connection of the process is taken.
    """
    if isinstance(error, PoolTimeout):  # no pooled connection came free
        return True
    if not isinstance(error, OperationalError):
        return False
    if "database is locked" in str(error.orig):
        return True
    return getattr(error.orig, "sqlstate", None) in _BUSY_STATES
