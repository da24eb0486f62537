"""Security: a hash-chained audit trail, restricted persons, failed logins,
client certificates.

The provision records of 0001 become the first records of the audit trail, in
their order, chained as the trail chains new ones; the persons each named are
indexed with the kinds they were given (for a day answer, the kinds of the
frozen answer; for an extract, the contract's kinds at the time, whose groups
the record lists as the trail does). The hashing is written out here rather
than imported, so that this migration keeps meaning what it meant if the
trail's code changes; a test holds the two to the same result.

The new columns are added in place (ALTER TABLE ... ADD COLUMN): a batch
rebuild of ``persons`` on SQLite would drop a table that personal codes refer
to, which its foreign keys refuse.

Revision ID: 0004
Revises: 0003
"""

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


GENESIS = "0" * 64
HEAD_KEY = "audit_head"
BATCH = 1_000

# The kinds of 0001's extract records, and the group each hands over; as
# regwatch.kinds and regwatch.register.records had them when this was written.
KIND_BITS = {
    "PERSONAL_CODE": 1,
    "NAME": 2,
    "DEATH": 4,
    "IDENTITY_DOCUMENT": 8,
    "DECLARED_RESIDENCE": 16,
    "MARITAL_STATUS": 32,
    "CHILDREN_COUNT": 64,
    "PHOTO": 128,
    "RESIDENCE_PERMIT": 256,
}
GROUPS = {
    "NAME": "name",
    "DEATH": "death",
    "IDENTITY_DOCUMENT": "identityDocuments",
    "DECLARED_RESIDENCE": "declaredResidence",
    "MARITAL_STATUS": "maritalStatus",
    "CHILDREN_COUNT": "childrenCount",
    "PHOTO": "photo",
    "RESIDENCE_PERMIT": "residencePermit",
}


def upgrade() -> None:
    op.add_column(
        "persons",
        sa.Column(
            "restricted", sa.Boolean(), server_default=sa.false(), nullable=False
        ),
    )
    op.add_column("customers", sa.Column("client_certificate", sa.String(length=64)))
    op.create_table(
        "login_failures",
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.BigInteger(), nullable=False),
        sa.Column("locked_until", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_login_failures")),
    )
    records = op.create_table(
        "audit_records",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=10), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=True),
        sa.Column("operation", sa.String(length=40), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("trace_id", sa.String(length=128), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("persons", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_records")),
    )
    op.create_index(
        op.f("ix_audit_records_customer_id_at"),
        "audit_records",
        ["customer_id", "at"],
    )
    op.create_index(op.f("ix_audit_records_at"), "audit_records", ["at"])
    named = op.create_table(
        "audit_persons",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("kinds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("seq", "person_id", name=op.f("pk_audit_persons")),
    )
    op.create_index(op.f("ix_audit_persons_person_id"), "audit_persons", ["person_id"])
    _move_provisions(records, named)
    op.drop_table("provisions")


def _move_provisions(records: sa.Table, named: sa.Table) -> None:
    conn = op.get_bind()
    seq, prev, after = 0, GENESIS, -1
    while True:  # in batches: the provision log can be large
        rows = conn.execute(
            sa.text(
                "SELECT provision_id, at, customer_id, operation, request_id, "
                "purpose, persons, detail FROM provisions "
                "WHERE provision_id > :after ORDER BY provision_id LIMIT :n"
            ),
            {"after": after, "n": BATCH},
        ).all()
        if not rows:
            break
        after = rows[-1].provision_id
        for row in rows:
            seq += 1
            detail = json.loads(row.detail)
            person_ids = sorted(set(detail.pop("person_ids", [])))
            kinds = _kinds_given(conn, row, detail, person_ids)
            detail["named"] = [[p, kinds.get(p, 0)] for p in person_ids]
            fields = {
                "seq": seq,
                "at": row.at,
                "actor": "customer",
                "customer_id": row.customer_id,
                "operation": row.operation,
                "request_id": row.request_id,
                "trace_id": None,
                "purpose": row.purpose,
                "outcome": "OK",
                "persons": row.persons,
                "detail": _canonical(detail),
                "prev_hash": prev,
            }
            prev = record_hash(fields)
            conn.execute(records.insert().values(**fields, hash=prev))
            if detail["named"]:
                conn.execute(
                    named.insert(),
                    [
                        {"seq": seq, "person_id": p, "kinds": k}
                        for p, k in detail["named"]
                    ],
                )
    conn.execute(
        sa.text("INSERT INTO service_state (key, value) VALUES (:k, :v)"),
        {"k": HEAD_KEY, "v": f"{seq} {prev}"},
    )


def _kinds_given(
    conn: sa.Connection, row: sa.Row, detail: dict, person_ids: list[int]
) -> dict[int, int]:
    """What each person of a provision record was given, as kind bits.

    An extract record's kinds become the groups they hand over, as the trail
    writes extract records now.
    """
    if row.operation == "GetPersonData":
        names = detail.pop("kinds", [])
        detail["groups"] = sorted(GROUPS[name] for name in names if name in GROUPS)
        mask = sum(KIND_BITS[name] for name in names)
        return dict.fromkeys(person_ids, mask)
    if row.operation != "GetClientsDataChanges":
        return {}
    given: dict[int, int] = {}
    for start in range(0, len(person_ids), BATCH):
        answers = conn.execute(
            sa.text(
                "SELECT person_id, kinds FROM day_answers WHERE day = :day "
                "AND customer_id = :customer AND person_id IN :ids"
            ).bindparams(sa.bindparam("ids", expanding=True)),
            {
                "day": detail["day"],
                "customer": row.customer_id,
                "ids": person_ids[start : start + BATCH],
            },
        )
        given.update({p: k for p, k in answers})
    return given


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(fields: dict) -> str:
    """The trail's record hash (audit/trail.py), as it was when this was written."""
    order = (
        "seq",
        "at",
        "actor",
        "customer_id",
        "operation",
        "request_id",
        "trace_id",
        "purpose",
        "outcome",
        "persons",
        "detail",
        "prev_hash",
    )
    return hashlib.sha256(_canonical([fields[k] for k in order]).encode()).hexdigest()


def downgrade() -> None:
    kept = op.get_bind().execute(sa.text("SELECT count(*) FROM audit_records"))
    if kept.scalar():
        raise RuntimeError(
            "the audit trail holds records and a downgrade would destroy them; "
            "export them (regwatch audit export) and empty audit_records first"
        )
    op.create_table(
        "provisions",
        sa.Column("provision_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("operation", sa.String(length=40), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("persons", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("provision_id", name=op.f("pk_provisions")),
    )
    op.execute("DELETE FROM service_state WHERE key = 'audit_head'")
    op.drop_index(op.f("ix_audit_persons_person_id"), table_name="audit_persons")
    op.drop_table("audit_persons")
    op.drop_index(op.f("ix_audit_records_customer_id_at"), table_name="audit_records")
    op.drop_index(op.f("ix_audit_records_at"), table_name="audit_records")
    op.drop_table("audit_records")
    op.drop_table("login_failures")
    # In place, as they were added (SQLite 3.35+ drops a column itself).
    op.execute("ALTER TABLE customers DROP COLUMN client_certificate")
    op.execute("ALTER TABLE persons DROP COLUMN restricted")
