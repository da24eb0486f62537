"""Register feeds: event digests, administrative changes, the feed log.

Administrative changes are also counted apart in the published days: a flag on
each frozen answer and a count per customer and day.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("register_events") as batch:
        batch.add_column(sa.Column("digest", sa.String(length=64), nullable=True))
    with op.batch_alter_table("change_log") as batch:
        batch.add_column(
            sa.Column(
                "administrative",
                sa.Boolean(),
                server_default=sa.false(),
                nullable=False,
            )
        )
    with op.batch_alter_table("day_answers") as batch:
        batch.add_column(
            sa.Column(
                "administrative",
                sa.Boolean(),
                server_default=sa.false(),
                nullable=False,
            )
        )
    with op.batch_alter_table("day_totals") as batch:
        batch.add_column(
            sa.Column(
                "administrative", sa.Integer(), server_default="0", nullable=False
            )
        )
    op.create_table(
        "feed_batches",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=400), nullable=False),
        sa.Column("administrative", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.BigInteger(), nullable=True),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("applied", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("new_persons", sa.Integer(), nullable=False),
        sa.Column("missing", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_feed_batches")),
    )


def downgrade() -> None:
    op.drop_table("feed_batches")
    with op.batch_alter_table("day_totals") as batch:
        batch.drop_column("administrative")
    with op.batch_alter_table("day_answers") as batch:
        batch.drop_column("administrative")
    with op.batch_alter_table("change_log") as batch:
        batch.drop_column("administrative")
    with op.batch_alter_table("register_events") as batch:
        batch.drop_column("digest")
