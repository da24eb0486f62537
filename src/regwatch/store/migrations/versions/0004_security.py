"""Security: a hash-chained audit trail, restricted persons, failed logins,
client certificates.

The provision records of 0001 become the first records of the audit trail, in
their order, chained as the trail chains new ones; the persons each named are
indexed with the kinds they were given (for a day answer, the kinds of the
frozen answer; for an extract, the contract's kinds at the time).

Revision ID: 0004
Revises: 0003
"""

import json

import sqlalchemy as sa
from alembic import op

from regwatch.audit import trail
from regwatch.kinds import Kind

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("persons") as batch:
        batch.add_column(
            sa.Column(
                "restricted", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("client_certificate", sa.String(length=64)))
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
    rows = conn.execute(
        sa.text(
            "SELECT at, customer_id, operation, request_id, purpose, persons, "
            "detail FROM provisions ORDER BY provision_id"
        )
    ).all()
    seq, prev = 0, trail.GENESIS
    for row in rows:
        seq += 1
        detail = json.loads(row.detail)
        person_ids = detail.pop("person_ids", [])
        kinds = _kinds_given(conn, row, detail, person_ids)
        detail["named"] = [[p, kinds.get(p, 0)] for p in sorted(set(person_ids))]
        fields = {
            "seq": seq,
            "at": row.at,
            "actor": trail.CUSTOMER,
            "customer_id": row.customer_id,
            "operation": row.operation,
            "request_id": row.request_id,
            "trace_id": None,
            "purpose": row.purpose,
            "outcome": "OK",
            "persons": row.persons,
            "detail": trail.canonical(detail),
            "prev_hash": prev,
        }
        prev = trail.record_hash(fields)
        conn.execute(records.insert().values(**fields, hash=prev))
        if detail["named"]:
            conn.execute(
                named.insert(),
                [{"seq": seq, "person_id": p, "kinds": k} for p, k in detail["named"]],
            )
    if seq:
        conn.execute(
            sa.text("INSERT INTO service_state (key, value) VALUES (:k, :v)"),
            {"k": trail.HEAD_KEY, "v": f"{seq} {prev}"},
        )


def _kinds_given(
    conn: sa.Connection, row: sa.Row, detail: dict, person_ids: list[int]
) -> dict[int, int]:
    if row.operation == "GetPersonData":
        mask = sum(Kind[name].bit for name in detail.get("kinds", []))
        return dict.fromkeys(person_ids, mask)
    if row.operation == "GetClientsDataChanges" and person_ids:
        answers = conn.execute(
            sa.text(
                "SELECT person_id, kinds FROM day_answers "
                "WHERE day = :day AND customer_id = :customer"
            ),
            {"day": detail["day"], "customer": row.customer_id},
        )
        return {p: k for p, k in answers if p in set(person_ids)}
    return {}


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
    op.drop_table("audit_records")
    op.drop_table("login_failures")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("client_certificate")
    with op.batch_alter_table("persons") as batch:
        batch.drop_column("restricted")
