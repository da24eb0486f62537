"""The migrations create exactly the tables the code describes."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from regwatch.kinds import ALL_KINDS
from regwatch.store.tables import kind_bits, metadata


def test_migrated_schema_matches_the_table_definitions(db):
    with db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_kind_bits_hold_the_nine_kinds_in_wire_order(db):
    with db.read() as conn:
        rows = conn.execute(select(kind_bits).order_by(kind_bits.c.bit)).all()
    assert [(row.bit, row.name) for row in rows] == [
        (kind.bit, kind.value) for kind in ALL_KINDS
    ]
