"""An index of closed list stays; planner statistics for the kinds table.

Publishing a day looks for persons with more than one stay on a customer's
list. Without an index of the closed stays PostgreSQL answered that by reading
the whole of list_entries on every publish: 0.3 s for 6,000,000 rows on the
national benchmark, for a handful of matches.

kind_bits holds nine rows that never change, below the 50 changed rows that
make autovacuum analyse a table, so it never had statistics: the planner took
it for some 600 rows and overestimated the publishing join seventyfold.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    closed = sa.column("removed_at").is_not(None)
    op.create_index(
        "ix_list_entries_closed",
        "list_entries",
        ["customer_id", "person_id"],
        sqlite_where=closed,
        postgresql_where=closed,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ANALYZE kind_bits")


def downgrade() -> None:
    op.drop_index("ix_list_entries_closed", table_name="list_entries")
