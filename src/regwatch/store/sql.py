"""Small SQL helpers that read the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection, Date, Table, bindparam, text
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


def insert_tuples(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple]
) -> None:
    """Insert many rows given as plain tuples, in the caller's transaction.

    On SQLite the tuples go straight to the driver's executemany: building a
    dict and compiling parameters per row costs more than the insert itself
    (FINDINGS.md). Elsewhere SQLAlchemy's executemany does the work.
    """
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        marks = ", ".join("?" for _ in columns)
        conn.exec_driver_sql(
            f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})",
            _dates_as_text(table, columns, rows),
        )
        return
    conn.execute(table.insert(), [dict(zip(columns, row, strict=True)) for row in rows])


def stage_codes(conn: Connection, codes: Iterable[str]) -> str:
    """Put a call's personal codes in a temporary table; return its name.

    One join against the staged codes then replaces thousands of IN lists. The
    table is private to the connection and emptied before each use.
    """
    name = "staged_codes"
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} (code VARCHAR(11) PRIMARY KEY)"
    )
    conn.exec_driver_sql(f"DELETE FROM {name}")
    unique = [(code,) for code in dict.fromkeys(codes)]
    if not unique:
        return name
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"INSERT INTO {name} (code) VALUES (?)", unique)
    else:
        conn.execute(
            text(f"INSERT INTO {name} (code) VALUES (:code)"),
            [{"code": code} for (code,) in unique],
        )
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
