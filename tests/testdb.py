"""Fresh databases for the tests, on SQLite or on PostgreSQL.

Every test that needs a database asks the ``databases`` fixture for one, so the
same test runs on both engines. On SQLite a database is a file in the test's
temporary folder; on PostgreSQL it is a new database on the server named by
``REGWATCH_TEST_POSTGRESQL_URL`` (any database there that a role with CREATEDB
can connect to), created from a migrated template and dropped when the test
session ends.
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from regwatch.store.engine import make_engine
from regwatch.store.migrate import upgrade

POSTGRESQL_ENV = "REGWATCH_TEST_POSTGRESQL_URL"


def backends() -> list[str]:
    """The engines this run covers: SQLite always, PostgreSQL when configured."""
    return ["sqlite", "postgresql"] if os.environ.get(POSTGRESQL_ENV) else ["sqlite"]


class Databases:
    """Makes empty, migrated and copied databases and hands out their URLs."""

    def __init__(self, backend: str, folder: Path) -> None:
        self.backend = backend
        self._folder = folder
        self._numbers = itertools.count(1)
        self._created: list[str] = []
        self._template: str | None = None
        if backend == "postgresql":
            server = make_url(os.environ[POSTGRESQL_ENV])
            self._server = server
            # psycopg wants the plain libpq form of the address.
            self._admin = server.set(drivername="postgresql").render_as_string(
                hide_password=False
            )
            self._prefix = f"rwtest_{os.getpid()}_"

    # --- what the tests call ---------------------------------------------------

    def empty(self, name: str = "db") -> str:
        """The URL of a new database with no tables at all."""
        if self.backend == "sqlite":
            return f"sqlite:///{self._new_path(name)}"
        database = self._new_name()
        self._execute(f'CREATE DATABASE "{database}" TEMPLATE template0')
        return self._url(database)

    def migrated(self, name: str = "db") -> str:
        """The URL of a new database whose schema is at the newest revision."""
        if self._template is None:
            self._template = self.empty("template")
            engine = make_engine(self._template)
            upgrade(engine)
            engine.dispose()
        return self.copy(self._template, name)

    def copy(self, url: str, name: str = "copy") -> str:
        """A new database holding what the one at ``url`` holds now.

        Nothing may be connected to the source while it is copied: dispose of
        its engines first.
        """
        if self.backend == "sqlite":
            source = Path(str(make_url(url).database))
            target = self._new_path(name)
            shutil.copy(source, target)
            return f"sqlite:///{target}"
        source_name = make_url(url).database
        database = self._new_name()
        self._execute(f'CREATE DATABASE "{database}" TEMPLATE "{source_name}"')
        return self._url(database)

    def drop(self, url: str) -> None:
        """Drop one database made here, connections and all, to keep the server
        small through a long run (SQLite files go with the temporary folder)."""
        if self.backend != "postgresql":
            return
        database = make_url(url).database
        if database in self._created:
            self._execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            self._created.remove(database)

    def drop_all(self) -> None:
        if self.backend != "postgresql":
            return
        for database in reversed(self._created):
            self._execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        self._created.clear()

    # --- the work behind them ----------------------------------------------------

    def _new_path(self, name: str) -> Path:
        folder = self._folder / f"{next(self._numbers):04d}"
        folder.mkdir()
        return folder / f"{name}.db"

    def _new_name(self) -> str:
        name = f"{self._prefix}{next(self._numbers)}"
        self._created.append(name)
        return name

    def _url(self, database: str) -> str:
        return self._server.set(database=database).render_as_string(hide_password=False)

    def _execute(self, statement: str) -> None:
        with psycopg.connect(self._admin, autocommit=True) as conn:
            conn.execute(statement)
