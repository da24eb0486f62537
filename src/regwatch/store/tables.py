"""The tables. Instants are UTC microseconds (see regwatch.clock); days are dates.

Alembic's migrations in ``store/migrations`` create exactly these; a test keeps
the two in step.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    false,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

CODE = String(11)

service_state = Table(
    "service_state",
    metadata,
    Column("key", String(40), primary_key=True),
    Column("value", Text, nullable=False),
)

# --- the register mirror -------------------------------------------------------

persons = Table(
    "persons",
    metadata,
    Column("person_id", Integer, primary_key=True),
    Column("personal_code", CODE, nullable=False, unique=True),
    Column("sex", String(1), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("citizenship", String(3), nullable=False),
    # Kept beside the death group so that list status needs no JSON.
    Column("died_on", Date),
    # The nine groups (less the code itself) as canonical JSON; see records.py.
    Column("groups", Text, nullable=False),
    # Links to spouse, parents and children, by person_id, as JSON.
    Column("family", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    # The register restricts the processing of this person's data: the person
    # may be followed and is reported as changed, but no extract returns them.
    Column("restricted", Boolean, nullable=False, server_default=false()),
)

personal_codes = Table(
    "personal_codes",
    metadata,
    Column("code", CODE, primary_key=True),
    Column("person_id", Integer, ForeignKey("persons.person_id"), nullable=False),
    Column("assigned_at", BigInteger, nullable=False),
    Column("replaced_at", BigInteger),
    Index(None, "person_id"),
)

register_events = Table(
    "register_events",
    metadata,
    Column("event_id", String(80), primary_key=True),
    Column("type", String(40), nullable=False),
    Column("recorded_at", BigInteger, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    # sha256 of the event's canonical JSON: an id sent again with other content
    # is refused rather than silently taken for a duplicate.
    Column("digest", String(64)),
)

# One row per feed the mirror took in (an event file, a snapshot, a simulated
# day): what came, when, and what became of it, for the operator.
feed_batches = Table(
    "feed_batches",
    metadata,
    Column("batch_id", Integer, primary_key=True),
    Column("kind", String(20), nullable=False),  # events | snapshot | simulation
    Column("source", String(400), nullable=False),
    Column("administrative", Boolean, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("recorded_at", BigInteger),  # a snapshot's --recorded-at
    Column("lines", Integer, nullable=False),
    Column("applied", Integer, nullable=False),
    Column("duplicates", Integer, nullable=False),
    Column("refused", Integer, nullable=False),
    Column("changes", Integer, nullable=False),
    Column("new_persons", Integer, nullable=False),
    Column("missing", Integer, nullable=False),  # --full: mirror persons not in file
)

change_log = Table(
    "change_log",
    metadata,
    Column("change_id", Integer, primary_key=True),
    Column("person_id", Integer, ForeignKey("persons.person_id"), nullable=False),
    # When the register recorded the change: decides list membership.
    Column("recorded_at", BigInteger, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    # The day it is reported on: the Vilnius day of recorded_at, or the first
    # unpublished day when that day was already published (roll-forward).
    Column("day", Date, nullable=False),
    Column("kinds", Integer, nullable=False),
    Column("previous_code", CODE),
    Column("event_id", String(80)),
    # A register clean-up: reported as usual, never charged.
    Column("administrative", Boolean, nullable=False, server_default=false()),
    Index(None, "day", "person_id"),
)

# A constant table of the nine kind bits, so that SQL can split a mask into kinds
# and add them back up with SUM(DISTINCT bit): an OR that both databases know.
kind_bits = Table(
    "kind_bits",
    metadata,
    Column("bit", Integer, primary_key=True),
    Column("name", String(40), nullable=False),
)

# --- customers and what they follow ------------------------------------------

customers = Table(
    "customers",
    metadata,
    Column("customer_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("company_code", String(20)),
    Column("kinds", Integer, nullable=False),
    Column("secret_hash", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("disabled_at", BigInteger),
    # Counts the customer's LoadClients calls; stamps the list entries each
    # call adds or closes, so a GetAllClients walk can see the list as it was at
    # its first page whatever the clock does (a simulated clock stands still).
    Column("list_version", Integer, nullable=False, server_default="0"),
    # SHA-256 of the customer's TLS client certificate (DER), as hex, when the
    # operator requires mutual TLS for this customer; see api/auth.py.
    Column("client_certificate", String(64)),
)

# Failed logins, per customer id and per client address, for slowing down
# whoever guesses secrets; see api/auth.py.
login_failures = Table(
    "login_failures",
    metadata,
    Column("scope", String(10), primary_key=True),  # customer | address
    Column("key", String(128), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", BigInteger, nullable=False),
    Column("locked_until", BigInteger, nullable=False),
)

# One row per period on a list: never deleted, so that "was the person listed
# when the change was recorded" can always be answered.
list_entries = Table(
    "list_entries",
    metadata,
    Column("entry_id", Integer, primary_key=True),
    Column(
        "customer_id", String(64), ForeignKey("customers.customer_id"), nullable=False
    ),
    Column("person_id", Integer, ForeignKey("persons.person_id"), nullable=False),
    Column("loaded_code", CODE, nullable=False),
    Column("added_at", BigInteger, nullable=False),
    Column("removed_at", BigInteger),
    Column("added_version", Integer, nullable=False),
    Column("removed_version", Integer),
    Index(None, "person_id", "customer_id"),
    Index(None, "customer_id", "entry_id"),
    Index(
        "uq_list_entries_open",
        "customer_id",
        "person_id",
        unique=True,
        sqlite_where=Column("removed_at").is_(None),
        postgresql_where=Column("removed_at").is_(None),
    ),
    # Closed stays only: few, and what publishing asks for when it picks the
    # code a person was loaded under (a person with more than one stay).
    Index(
        "ix_list_entries_closed",
        "customer_id",
        "person_id",
        sqlite_where=Column("removed_at").is_not(None),
        postgresql_where=Column("removed_at").is_not(None),
    ),
)

api_requests = Table(
    "api_requests",
    metadata,
    Column("customer_id", String(64), primary_key=True),
    Column("request_id", String(128), primary_key=True),
    Column("operation", String(40), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("response", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# --- days ---------------------------------------------------------------------

published_days = Table(
    "published_days",
    metadata,
    Column("day", Date, primary_key=True),
    Column("published_at", BigInteger, nullable=False),
    Column("changed_persons", Integer, nullable=False),
)

# The frozen answer of a published day, per customer. The key leads with the day:
# publishing works on one day across all customers, a page reads one day of one
# customer, and both find their rows by the key's prefix.
day_answers = Table(
    "day_answers",
    metadata,
    Column("day", Date, primary_key=True),
    Column("customer_id", String(64), primary_key=True),
    Column("person_id", Integer, primary_key=True),
    Column("loaded_code", CODE, nullable=False),
    Column("current_code", CODE, nullable=False),
    Column("previous_code", CODE),
    Column("kinds", Integer, nullable=False),
    # Every change behind this answer came from a register clean-up: it is
    # reported as usual and never charged.
    Column("administrative", Boolean, nullable=False, server_default=false()),
)

day_totals = Table(
    "day_totals",
    metadata,
    Column("customer_id", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("persons", Integer, nullable=False),  # all reported, administrative too
    Column("administrative", Integer, nullable=False, server_default="0"),
)

# --- billing and audit -------------------------------------------------------------

charges = Table(
    "charges",
    metadata,
    Column("customer_id", String(64), primary_key=True),
    Column("item", String(20), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("person_id", Integer, primary_key=True),
    Column("charged_at", BigInteger, nullable=False),
    Column("price_cents", Integer, nullable=False),
    Column("vat_percent", Integer, nullable=False),
)

# The audit trail: one record per operation that hands over or changes data,
# append-only and chained by hash (see audit/trail.py).
audit_records = Table(
    "audit_records",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(10), nullable=False),  # customer | operator
    Column("customer_id", String(64)),
    Column("operation", String(40), nullable=False),
    Column("request_id", String(128)),  # the caller's requestId
    Column("trace_id", String(128)),  # the HTTP request id (X-Request-Id)
    Column("purpose", Text),
    Column("outcome", String(40), nullable=False),
    Column("persons", Integer, nullable=False),
    # Canonical JSON: the persons involved (by person_id) and what they got.
    Column("detail", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index(None, "customer_id", "at"),
    Index(None, "at"),  # an export of a span of days
)

# Which records name which person, with the kinds handed over (0 for a
# person named but given nothing): the data-subject report's way in. Derived
# from the records' detail, and checked against it by `audit verify`.
audit_persons = Table(
    "audit_persons",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("person_id", Integer, primary_key=True),
    Column("kinds", Integer, nullable=False),
    Index(None, "person_id"),
)
