"""Opening a database and making a new one ready (regwatch init)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import OperationalError, ProgrammingError

from regwatch.clock import day_of, to_micros
from regwatch.config import Settings
from regwatch.monitoring.paging import ensure_token_key
from regwatch.store.engine import (
    CLOCK_KEY,
    FIRST_DAY_KEY,
    Database,
    make_engine,
    read_simulated_clock,
    read_state,
    write_state,
)
from regwatch.store.migrate import upgrade


class AlreadyInitialised(RuntimeError):
    pass


class DatabaseNotReady(RuntimeError):
    """The database is missing, unreachable or not initialised."""


def open_database(settings: Settings | None = None) -> Database:
    settings = settings or Settings.from_env()
    return Database(make_engine(settings.database_url), settings=settings)


def initialise(db: Database, *, simulated_clock: datetime | None = None) -> bool:
    """Create or upgrade the schema; on a new database, fix its first day.

    With a simulated clock the database keeps its own time from then on. Returns
    False when the database was already initialised (the schema is still
    brought up to date).
    """
    upgrade(db.engine)
    with db.write() as conn:
        if read_state(conn, FIRST_DAY_KEY) is not None:
            if simulated_clock is not None and read_simulated_clock(conn) is None:
                raise AlreadyInitialised("this database already runs on the wall clock")
            if simulated_clock is not None:
                raise AlreadyInitialised("this database already has its clock")
            return False
        if simulated_clock is not None:
            write_state(conn, CLOCK_KEY, str(to_micros(simulated_clock)))
        start = simulated_clock or db.now(conn)
        write_state(conn, FIRST_DAY_KEY, day_of(start).isoformat())
        ensure_token_key(conn)
    return True


def check_ready(db: Database) -> None:
    """Refuse, saying what to do, unless the database is there and initialised.

    A missing SQLite file is not created here: a mistyped path should not leave
    an empty database behind.
    """
    url = db.engine.url
    is_file = url.get_backend_name() == "sqlite" and url.database not in (
        None,
        "",
        ":memory:",
    )
    if is_file and not Path(str(url.database)).is_file():
        raise DatabaseNotReady(
            f"no database at {url.database}; run `regwatch init` first"
        )
    try:
        with db.read() as conn:
            ready = read_state(conn, FIRST_DAY_KEY) is not None
    except (OperationalError, ProgrammingError):
        ready = False
    if not ready:
        raise DatabaseNotReady(
            f"the database {url.render_as_string(hide_password=True)} is not "
            "initialised; run `regwatch init` first"
        )
