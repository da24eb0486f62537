"""The first schema: register mirror, lists, days, charges, provisions.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

KIND_NAMES = (
    "PERSONAL_CODE",
    "NAME",
    "DEATH",
    "IDENTITY_DOCUMENT",
    "DECLARED_RESIDENCE",
    "MARITAL_STATUS",
    "CHILDREN_COUNT",
    "PHOTO",
    "RESIDENCE_PERMIT",
)


def upgrade() -> None:
    kind_bits = op.create_table(
        "kind_bits",
        sa.Column("bit", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("bit", name=op.f("pk_kind_bits")),
    )
    # The nine kinds, fixed in wire order (regwatch.kinds); publishing joins them.
    op.bulk_insert(
        kind_bits,
        [{"bit": 1 << i, "name": name} for i, name in enumerate(KIND_NAMES)],
    )
    op.create_table(
        "api_requests",
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("operation", sa.String(length=40), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("response", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "customer_id", "request_id", name=op.f("pk_api_requests")
        ),
    )
    op.create_table(
        "charges",
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("item", sa.String(length=20), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("charged_at", sa.BigInteger(), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("vat_percent", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "customer_id", "item", "day", "person_id", name=op.f("pk_charges")
        ),
    )
    op.create_table(
        "customers",
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("company_code", sa.String(length=20), nullable=True),
        sa.Column("kinds", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("disabled_at", sa.BigInteger(), nullable=True),
        sa.Column("list_version", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customers")),
    )
    op.create_table(
        "day_answers",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("loaded_code", sa.String(length=11), nullable=False),
        sa.Column("current_code", sa.String(length=11), nullable=False),
        sa.Column("previous_code", sa.String(length=11), nullable=True),
        sa.Column("kinds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "customer_id", "person_id", name=op.f("pk_day_answers")
        ),
    )
    op.create_table(
        "day_totals",
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("persons", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "day", name=op.f("pk_day_totals")),
    )
    op.create_table(
        "persons",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("personal_code", sa.String(length=11), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("citizenship", sa.String(length=3), nullable=False),
        sa.Column("died_on", sa.Date(), nullable=True),
        sa.Column("groups", sa.Text(), nullable=False),
        sa.Column("family", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_persons")),
        sa.UniqueConstraint("personal_code", name=op.f("uq_persons_personal_code")),
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
    op.create_table(
        "published_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("published_at", sa.BigInteger(), nullable=False),
        sa.Column("changed_persons", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_published_days")),
    )
    op.create_table(
        "register_events",
        sa.Column("event_id", sa.String(length=80), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_register_events")),
    )
    op.create_table(
        "service_state",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_service_state")),
    )
    op.create_table(
        "change_log",
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kinds", sa.Integer(), nullable=False),
        sa.Column("previous_code", sa.String(length=11), nullable=True),
        sa.Column("event_id", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.person_id"],
            name=op.f("fk_change_log_person_id_persons"),
        ),
        sa.PrimaryKeyConstraint("change_id", name=op.f("pk_change_log")),
    )
    with op.batch_alter_table("change_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_change_log_day_person_id"),
            ["day", "person_id"],
            unique=False,
        )

    op.create_table(
        "list_entries",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("loaded_code", sa.String(length=11), nullable=False),
        sa.Column("added_at", sa.BigInteger(), nullable=False),
        sa.Column("removed_at", sa.BigInteger(), nullable=True),
        sa.Column("added_version", sa.Integer(), nullable=False),
        sa.Column("removed_version", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
            name=op.f("fk_list_entries_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.person_id"],
            name=op.f("fk_list_entries_person_id_persons"),
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_list_entries")),
    )
    with op.batch_alter_table("list_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_list_entries_customer_id_entry_id"),
            ["customer_id", "entry_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_list_entries_person_id_customer_id"),
            ["person_id", "customer_id"],
            unique=False,
        )
        batch_op.create_index(
            "uq_list_entries_open",
            ["customer_id", "person_id"],
            unique=True,
            sqlite_where=sa.text("removed_at IS NULL"),
            postgresql_where=sa.text("removed_at IS NULL"),
        )

    op.create_table(
        "personal_codes",
        sa.Column("code", sa.String(length=11), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("assigned_at", sa.BigInteger(), nullable=False),
        sa.Column("replaced_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.person_id"],
            name=op.f("fk_personal_codes_person_id_persons"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_personal_codes")),
    )
    with op.batch_alter_table("personal_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_personal_codes_person_id"), ["person_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("personal_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_personal_codes_person_id"))

    op.drop_table("personal_codes")
    with op.batch_alter_table("list_entries", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_list_entries_open",
            sqlite_where=sa.text("removed_at IS NULL"),
            postgresql_where=sa.text("removed_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_list_entries_person_id_customer_id"))
        batch_op.drop_index(batch_op.f("ix_list_entries_customer_id_entry_id"))

    op.drop_table("list_entries")
    with op.batch_alter_table("change_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_change_log_day_person_id"))

    op.drop_table("change_log")
    op.drop_table("service_state")
    op.drop_table("register_events")
    op.drop_table("published_days")
    op.drop_table("provisions")
    op.drop_table("persons")
    op.drop_table("kind_bits")
    op.drop_table("day_totals")
    op.drop_table("day_answers")
    op.drop_table("customers")
    op.drop_table("charges")
    op.drop_table("api_requests")
