"""Fixtures shared by every test: a fresh database on a simulated clock.

Every test that takes a database runs once per engine: on SQLite, and on
PostgreSQL as well when REGWATCH_TEST_POSTGRESQL_URL names a server.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from hypothesis import settings
from sqlalchemy import Engine

import regwatch.store.engine
from regwatch.clock import VILNIUS
from regwatch.config import Settings
from regwatch.setup import initialise, open_database
from regwatch.store.engine import Database
from testdb import Databases, backends

# No per-example deadline: a busy CI machine must not turn slowness into
# failures (speed is measured in bench/, never in tests).
settings.register_profile("regwatch", deadline=None)
settings.load_profile("regwatch")

START = datetime(2026, 11, 2, 0, 0, tzinfo=VILNIUS)  # a Monday (All Souls' Day)


@pytest.fixture(scope="session", params=backends())
def backend(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def databases(backend: str, tmp_path_factory) -> Iterator[Databases]:
    """Fresh databases on this run's engine (see tests/testdb.py)."""
    made = Databases(backend, tmp_path_factory.mktemp(f"databases-{backend}"))
    yield made
    made.drop_all()


@pytest.fixture(autouse=True)
def _engines_closed(monkeypatch) -> Iterator[None]:
    """Close every engine a test opened when it ends, wherever it was opened.

    Tests open databases freely (the command line runs in-process, helpers copy
    and generate them). A psycopg connection left to the garbage collector
    warns, and the warning would surface in whichever later test happened to
    trigger the collection; closing here keeps each test's leftovers its own.
    """
    opened: list[Engine] = []
    create = regwatch.store.engine.create_engine

    def recording(*args, **kwargs) -> Engine:  # type: ignore[no-untyped-def]
        engine = create(*args, **kwargs)
        opened.append(engine)
        return engine

    monkeypatch.setattr(regwatch.store.engine, "create_engine", recording)
    yield
    for engine in opened:
        engine.dispose()


@pytest.fixture
def db(databases: Databases) -> Iterator[Database]:
    url = databases.migrated()
    database = open_database(Settings(database_url=url))
    initialise(database, simulated_clock=START)
    yield database
    database.engine.dispose()
    databases.drop(url)


@pytest.fixture
def hash_checks(monkeypatch) -> list[str]:
    """Records every Argon2 check a login makes, by the hash checked against."""
    from regwatch.monitoring import customers

    checked: list[str] = []
    verify = customers._verify

    def counting(db: Database, stored_hash: str, secret: str) -> bool:
        checked.append(stored_hash)
        return verify(db, stored_hash, secret)

    monkeypatch.setattr(customers, "_verify", counting)
    return checked
