"""The migrations create exactly the tables the code describes."""

from __future__ import annotations

import importlib
import json

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text

from regwatch.audit import trail
from regwatch.audit.subject import subject_report
from regwatch.config import Settings
from regwatch.kinds import ALL_KINDS
from regwatch.store.engine import Database, make_engine
from regwatch.store.migrate import alembic_config
from regwatch.store.tables import audit_persons, audit_records, kind_bits, metadata


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


MIGRATION_0004 = importlib.import_module(
    "regwatch.store.migrations.versions.0004_security"
)


def at_0003_with_a_person_and_provisions(databases):
    """A database as 0003 left it, holding what 0004 must carry over."""
    url = databases.empty("provisions")
    engine = make_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0003")
        conn.execute(
            text(
                "INSERT INTO persons (person_id, personal_code, sex, birth_date, "
                "citizenship, groups, family, updated_at) VALUES "
                "(7, '33309240064', 'M', '1933-09-24', 'LT', '{}', '{}', 1)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO personal_codes (code, person_id, assigned_at) "
                "VALUES ('33309240064', 7, 1)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO customers (customer_id, name, kinds, secret_hash, "
                "created_at) VALUES ('bank', 'Bank', 3, 'x', 1)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO day_answers (day, customer_id, person_id, loaded_code, "
                "current_code, kinds) VALUES "
                "('2026-11-02', 'bank', 7, '33309240064', '33309240064', 2)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO provisions (at, customer_id, operation, request_id, "
                "purpose, persons, detail) VALUES "
                "(10, 'bank', 'GetClientsDataChanges', NULL, NULL, 1, "
                """'{"day":"2026-11-02","person_ids":[7]}'),"""
                "(20, 'bank', 'GetPersonData', 'r-1', 'KYC', 1, "
                """'{"kinds":["PERSONAL_CODE","NAME"],"person_ids":[7]}')"""
            )
        )
    return url, engine


def test_provision_records_become_the_start_of_a_valid_audit_chain(databases):
    """Migration 0004 moves 0001's provision log into the chained trail, on a
    database with persons in it (which a rebuild of persons would refuse)."""
    url, engine = at_0003_with_a_person_and_provisions(databases)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    db = Database(engine, settings=Settings(database_url=url))
    result = trail.verify(db)
    assert result.ok and result.records == 2
    with db.read() as conn:
        moved = conn.execute(select(audit_records).order_by(audit_records.c.seq)).all()
        named = conn.execute(select(audit_persons).order_by(audit_persons.c.seq)).all()
        restricted = conn.execute(text("SELECT restricted FROM persons")).scalar()
    assert [(r.operation, r.request_id, r.purpose, r.at) for r in moved] == [
        ("GetClientsDataChanges", None, None, 10),
        ("GetPersonData", "r-1", "KYC", 20),
    ]
    assert [(r.seq, r.person_id, r.kinds) for r in named] == [(1, 7, 2), (2, 7, 3)]
    assert json.loads(moved[1].detail) == {"groups": ["name"], "named": [[7, 3]]}
    assert not restricted
    (extract,) = subject_report(db, "33309240064").extracts
    assert (extract.purpose, extract.groups, extract.returned) == (
        "KYC",
        ["name"],
        True,
    )
    engine.dispose()
    databases.drop(url)


def test_0004_goes_back_only_while_the_trail_is_empty(databases):
    url, engine = at_0003_with_a_person_and_provisions(databases)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM provisions"))
        command.upgrade(alembic_config(conn), "head")
        command.downgrade(alembic_config(conn), "0003")
        command.upgrade(alembic_config(conn), "head")
    db = Database(engine, settings=Settings(database_url=url))
    trail.append_alone(db, "AddCustomer", customer_id="bank", actor=trail.OPERATOR)
    refused = pytest.raises(RuntimeError, match="the audit trail holds records")
    with refused, engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0003")
    engine.dispose()
    databases.drop(url)


def test_the_migration_hashes_records_as_the_trail_does():
    fields = {
        "seq": 3,
        "at": 1_790_000_000_000_000,
        "actor": "customer",
        "customer_id": "bank",
        "operation": "GetPersonData",
        "request_id": "r-1",
        "trace_id": None,
        "purpose": "Sutarties atnaujinimas",
        "outcome": "OK",
        "persons": 1,
        "detail": '{"groups":["name"],"named":[[7,3]]}',
        "prev_hash": "ab" * 32,
    }
    assert MIGRATION_0004.record_hash(fields) == trail.record_hash(fields)
