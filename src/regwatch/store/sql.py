"""Small SQL helpers that read the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection, Date, Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite

CHUNK = 5_000


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """Slices of a sequence, to keep IN lists and executemany batches bounded."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def batches(items: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    """Lists of up to ``size`` items from any iterable, read lazily."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def update_tuples(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    key: str,
    rows: Sequence[tuple],
) -> None:
    """UPDATE ``columns`` of many rows found by ``key``: each tuple gives the new
    values in the order of ``columns``, then the key. Same path as insert_tuples.
    """
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        sets = ", ".join(f"{column} = ?" for column in columns)
        conn.exec_driver_sql(
            f"UPDATE {table.name} SET {sets} WHERE {key} = ?",
            _dates_as_text(table, [*columns, key], rows),
        )
        return
    # Bind names differ from the column names: SQLAlchemy keeps those for itself.
    statement = (
        table.update()
        .where(table.c[key] == bindparam("k_"))
        .values({column: bindparam(f"v_{column}") for column in columns})
    )
    conn.execute(
        statement,
        [
            {
                **{f"v_{c}": v for c, v in zip(columns, row[:-1], strict=True)},
                "k_": row[-1],
            }
            for row in rows
        ],
    )


def insert_ignoring_duplicates(conn: Connection, table: Table) -> Any:
    """An INSERT that skips rows whose key exists (a unique key decides, no race)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


def insert_one_per_value(
    conn: Connection,
    table: Table,
    fixed: dict[str, Any],
    column: str,
    values: Sequence[Any],
) -> None:
    """One row per value of ``column``, the other columns as in ``fixed``;
    rows whose key exists already are skipped (the unique key decides).

    PostgreSQL gets one statement whatever the count: the values travel as one
    array and unnest() makes the rows. An executemany there is a statement per
    row (psycopg pipelines them, but the server still plans and runs each):
    8 ms of a 17 ms page of 1,000 charges, measured. SQLite runs in-process,
    where the driver's executemany is the fast path.
    """
    if not values:
        return
    if conn.dialect.name == "postgresql":
        names = [*fixed, column]
        marks = [f"%({name})s" for name in fixed]
        conn.exec_driver_sql(
            f"INSERT INTO {table.name} ({', '.join(names)}) "
            f"SELECT {', '.join(marks)}, value FROM unnest(%(values)s) AS value "
            "ON CONFLICT DO NOTHING",
            {**fixed, "values": list(values)},
        )
        return
    for part in chunks(values):
        conn.execute(
            insert_ignoring_duplicates(conn, table),
            [{**fixed, column: value} for value in part],
        )


def insert_tuples(
    conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[tuple]
) -> None:
    """Insert many rows given as plain tuples, in the caller's transaction.

    PostgreSQL takes them by COPY, several times faster than any INSERT; SQLite
    takes them by the driver's own executemany. Either way no dict is built and
    no parameters are compiled per row, which cost more than the insert itself
    (FINDINGS.md). ``rows`` may be any iterable: it is read once, lazily.
    """
    if conn.dialect.name == "postgresql":
        copy_tuples(conn, table.name, columns, rows)
        return
    rows = rows if isinstance(rows, Sequence) else list(rows)
    if not rows:
        return
    marks = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})",
        _dates_as_text(table, columns, rows),
    )


def copy_tuples(
    conn: Connection, table_name: str, columns: Sequence[str], rows: Iterable[tuple]
) -> int:
    """COPY rows into a PostgreSQL table, in the caller's transaction; the count.

    psycopg writes each value with the same adapter it uses for a bound
    parameter (a date as a date, an int as an int, None as NULL), so the rows
    stored are those SQLAlchemy's INSERT would store. Dates given as ISO text,
    as the SQLite paths prepare them, read back as the same date.
    """
    driver = conn.connection.driver_connection
    statement = f"COPY {table_name} ({', '.join(columns)}) FROM STDIN"
    written = 0
    with driver.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        for row in rows:
            copy.write_row(row)
            written += 1
    return written


def analyse(conn: Connection, *table_names: str) -> None:
    """Refresh the planner's statistics after a bulk load (PostgreSQL).

    Autovacuum catches up only after the transaction commits and a while later;
    until then the planner sees the table as it was (often as empty) and picks
    nested loops over millions of rows. SQLite's planner is steered by the
    shape of the queries instead, and ANALYZE there rewrites sqlite_stat1 in
    the writer's transaction for little gain, so it is left alone.
    """
    if conn.dialect.name == "postgresql":
        for name in table_names:
            conn.exec_driver_sql(f"ANALYZE {name}")


def stage_codes(conn: Connection, codes: Iterable[str]) -> str:
    """Put a call's personal codes in a temporary table; return its name.

    One join against the staged codes then replaces thousands of IN lists. The
    table is private to the connection and emptied before each use.
    """
    name = "staged_codes"
    unique = [(code,) for code in dict.fromkeys(codes)]
    if conn.dialect.name == "postgresql":
        # ON COMMIT DROP: nothing lingers on a pooled connection, and a fresh
        # table needs no DELETE. ANALYZE gives the planner the real row count
        # (a new temporary table is otherwise guessed at ~2,500 rows, and the
        # resolving join then picks nested loops for 100,000 codes).
        conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} "
            "(code VARCHAR(11) PRIMARY KEY) ON COMMIT DROP"
        )
        conn.exec_driver_sql(f"TRUNCATE {name}")
        copy_tuples(conn, name, ("code",), unique)
        conn.exec_driver_sql(f"ANALYZE {name}")
        return name
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} (code VARCHAR(11) PRIMARY KEY)"
    )
    conn.exec_driver_sql(f"DELETE FROM {name}")
    if unique:
        conn.exec_driver_sql(f"INSERT INTO {name} (code) VALUES (?)", unique)
    return name


def _dates_as_text(
    table: Table, columns: Sequence[str], rows: Sequence[tuple]
) -> list[tuple]:
    """Dates as ISO text, the form SQLAlchemy's Date type stores on SQLite.

    (sqlite3's own date adapter would do the same, but it is deprecated.)
    """
    positions = [
        i for i, name in enumerate(columns) if isinstance(table.c[name].type, Date)
    ]
    if not positions:
        return list(rows)
    converted = []
    for row in rows:
        values = list(row)
        for i in positions:
            if isinstance(values[i], date):
                values[i] = values[i].isoformat()
        converted.append(tuple(values))
    return converted
