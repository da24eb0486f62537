"""Publishing days and answering them: GetClientsDataChanges.

A day is published once, after it has ended. Publishing joins the day's change
log with every customer's list history and contract, and freezes the result:
from then on the answer for that day is a read, the same on every fetch. A
change that arrives after its day was published was already given the first
open day when it was written (register/mirror.py), so nothing is lost and no
published answer changes.

Changes from a register clean-up (administrative changes) are reported like any
other, but a person whose answer rests only on them is never charged, and the
operator sees them counted apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import structlog
from sqlalchemy import Connection, Date, bindparam, case, func, select, text

from regwatch.audit import trail
from regwatch.billing.charges import charge, charged_for_day
from regwatch.billing.prices import Item
from regwatch.clock import day_bounds_micros, day_of, from_micros, to_micros
from regwatch.errors import DayNotPublished, DayOutsideRetention, UnknownDay
from regwatch.kinds import Kind, from_mask
from regwatch.monitoring import paging
from regwatch.monitoring.models import ChangesPage, Customer, PersonChanges
from regwatch.store.engine import (
    FIRST_DAY_KEY,
    MIRROR_LOCK,
    Database,
    lock_for_writing,
    read_state,
)
from regwatch.store.tables import change_log, day_answers, day_totals, published_days

log = structlog.get_logger(__name__)


# Joins one day's changes with the lists. The day's changes drive the join
# (CROSS JOIN fixes SQLite's join order; left to itself it scanned a whole
# customer's list, see FINDINGS.md), each change finds the list stays of its
# person by index, and a stay counts only if it covered the moment the change
# was recorded. Kinds outside a customer's contract are dropped before the
# kinds are added up, so a person whose only changes are out of scope is not
# reported at all. SUM(DISTINCT bit) is an OR of the kinds both databases know.
# The answer is administrative when every change behind it, as this customer
# sees it, is: an ordinary change the customer is not told of (out of scope, or
# recorded while the person was not listed) does not make it chargeable.
#
# PostgreSQL picks the order itself (it treats CROSS JOIN as a plain join). On
# the national benchmark (EXPLAIN ANALYZE, 6,000,000 list stays): for a day of
# 30,000 changes it probes ix_list_entries_person_id_customer_id per change,
# 0.75 s, provided random_page_cost says the indexes are in memory (1.1); at
# the default of 4 it read all the stays instead, 1.6 s. For a clean-up day of
# 500,000 changes reading all the stays into a hash join is the right plan.
_PUBLISH_ANSWERS = text(
    """
    INSERT INTO day_answers
        (customer_id, day, person_id, loaded_code, current_code, previous_code,
         kinds, administrative)
    SELECT e.customer_id, :day, c.person_id, MAX(e.loaded_code),
           MAX(p.personal_code), NULL, SUM(DISTINCT k.bit),
           MIN(CASE WHEN c.administrative THEN 1 ELSE 0 END) = 1
    FROM change_log c
    CROSS JOIN list_entries e
    CROSS JOIN customers cu
    CROSS JOIN kind_bits k
    CROSS JOIN persons p
    WHERE c.day = :day
      AND e.person_id = c.person_id
      AND e.added_at <= c.recorded_at
      AND (e.removed_at IS NULL OR e.removed_at > c.recorded_at)
      AND cu.customer_id = e.customer_id
      AND (c.kinds & k.bit) <> 0
      AND (cu.kinds & k.bit) <> 0
      AND p.person_id = c.person_id
    GROUP BY e.customer_id, c.person_id
    """
).bindparams(bindparam("day", type_=Date))

# The code a person had before the first code change of the day that the
# customer may see: one recorded while the person was on its list. Only for
# answers that report PERSONAL_CODE, which are few.
_PUBLISH_PREVIOUS_CODES = text(
    """
    UPDATE day_answers
    SET previous_code = (
        SELECT c.previous_code FROM change_log c
        CROSS JOIN list_entries e
        WHERE c.day = day_answers.day
          AND c.person_id = day_answers.person_id
          AND (c.kinds & :bit) <> 0
          AND e.customer_id = day_answers.customer_id
          AND e.person_id = c.person_id
          AND e.added_at <= c.recorded_at
          AND (e.removed_at IS NULL OR e.removed_at > c.recorded_at)
        ORDER BY c.recorded_at, c.change_id
        LIMIT 1)
    WHERE day = :day AND (kinds & :bit) <> 0
    """
).bindparams(bindparam("day", type_=Date))

# The code a person is reported under is the one the customer loaded for the
# latest of its stays on the list; only persons with more than one stay need
# this second look. The EXISTS is answered from ix_list_entries_closed, which
# holds closed stays only; without it PostgreSQL read every stay each publish.
_PUBLISH_LOADED_CODES = text(
    """
    UPDATE day_answers
    SET loaded_code = (
        SELECT e.loaded_code FROM list_entries e
        WHERE e.customer_id = day_answers.customer_id
          AND e.person_id = day_answers.person_id
          AND e.added_at < :day_end
        ORDER BY e.entry_id DESC
        LIMIT 1)
    WHERE day = :day
      AND EXISTS (
        SELECT 1 FROM list_entries e
        WHERE e.customer_id = day_answers.customer_id
          AND e.person_id = day_answers.person_id
          AND e.removed_at IS NOT NULL)
    """
).bindparams(bindparam("day", type_=Date))

_PUBLISH_TOTALS = text(
    """
    INSERT INTO day_totals (customer_id, day, persons, administrative)
    SELECT customer_id, day, COUNT(*),
           SUM(CASE WHEN administrative THEN 1 ELSE 0 END)
    FROM day_answers
    WHERE day = :day
    GROUP BY customer_id, day
    """
).bindparams(bindparam("day", type_=Date))


@dataclass(frozen=True)
class PublishedDay:
    day: date
    changed_persons: int  # persons with at least one change that day
    answers: int  # (customer, person) pairs reported
    administrative_persons: int  # of changed_persons: clean-up changes only
    administrative_answers: int  # of answers: reported, never charged


@dataclass(frozen=True)
class CustomerDayFigures:
    customer_id: str
    persons: int  # reported in the day's answer
    administrative: int  # of those, reported but not chargeable
    charged_persons: int  # charged so far: a person is charged on first fetch
    charged_cents: int


@dataclass(frozen=True)
class DayFigures:
    """A published day as the operator sees it."""

    day: date
    published_at: datetime
    changed_persons: int
    administrative_persons: int
    customers: list[CustomerDayFigures]


def first_day(conn: Connection) -> date:
    value = read_state(conn, FIRST_DAY_KEY)
    if value is None:
        raise RuntimeError("the database was not initialised; run regwatch init")
    return date.fromisoformat(value)


def last_published(conn: Connection) -> date | None:
    return conn.execute(select(func.max(published_days.c.day))).scalar()


def publish_pending(db: Database) -> list[PublishedDay]:
    """Publish, in order, every day that has ended and is not yet published.

    Each day is published in its own transaction; a day is never published twice
    (its row in published_days is the guard).
    """
    published: list[PublishedDay] = []
    while True:
        with db.write() as conn:
            # Publishing and recording changes exclude each other, so that no
            # change can be dated to a day while that day is being frozen.
            lock_for_writing(conn, MIRROR_LOCK)
            now = db.now(conn)
            last = last_published(conn)
            day = first_day(conn) if last is None else last + timedelta(days=1)
            if day >= day_of(now):
                return published
            published.append(_publish(conn, day, now))
            trail.append(
                conn,
                now,
                "PublishDay",
                customer_id=None,
                actor=trail.OPERATOR,
                detail={"day": day.isoformat(), **_counts(published[-1])},
            )
        log.info("day_published", day=day.isoformat(), **_counts(published[-1]))


def _counts(day: PublishedDay) -> dict[str, int]:
    return {
        "changed_persons": day.changed_persons,
        "administrative_persons": day.administrative_persons,
        "answers": day.answers,
        "administrative_answers": day.administrative_answers,
    }


def _changed_persons(conn: Connection, day: date) -> tuple[int, int]:
    """Persons changed on a day, and of them those changed only administratively.

    A published day's change log never changes (late changes roll forward), so
    this gives the same figures at publishing and at any later look.
    """
    only_administrative = func.min(case((change_log.c.administrative, 1), else_=0))
    per_person = (
        select(only_administrative.label("administrative"))
        .where(change_log.c.day == day)
        .group_by(change_log.c.person_id)
        .subquery()
    )
    changed, administrative = conn.execute(
        select(func.count(), func.coalesce(func.sum(per_person.c.administrative), 0))
    ).one()
    return int(changed), int(administrative)


def _publish(conn: Connection, day: date, now: datetime) -> PublishedDay:
    changed, administrative = _changed_persons(conn, day)
    conn.execute(
        published_days.insert().values(
            day=day, published_at=to_micros(now), changed_persons=changed
        )
    )
    conn.execute(_PUBLISH_ANSWERS, {"day": day})
    conn.execute(_PUBLISH_PREVIOUS_CODES, {"day": day, "bit": Kind.PERSONAL_CODE.bit})
    day_end = day_bounds_micros(day)[1]
    conn.execute(_PUBLISH_LOADED_CODES, {"day": day, "day_end": day_end})
    conn.execute(_PUBLISH_TOTALS, {"day": day})
    answers, administrative_answers = conn.execute(
        select(
            func.coalesce(func.sum(day_totals.c.persons), 0),
            func.coalesce(func.sum(day_totals.c.administrative), 0),
        ).where(day_totals.c.day == day)
    ).one()
    return PublishedDay(
        day,
        changed,
        int(answers),
        administrative_persons=administrative,
        administrative_answers=int(administrative_answers),
    )


def day_figures(db: Database, day: date) -> DayFigures:
    """A published day's figures for the operator, administrative ones apart.

    Charges are those made so far: a person is charged when first fetched.
    """
    with db.read() as conn:
        published_at = conn.execute(
            select(published_days.c.published_at).where(published_days.c.day == day)
        ).scalar()
        if published_at is None:
            raise DayNotPublished(f"{day} is not published")
        changed, administrative = _changed_persons(conn, day)
        totals = conn.execute(
            select(day_totals)
            .where(day_totals.c.day == day)
            .order_by(day_totals.c.customer_id)
        ).all()
        customers = []
        for row in totals:
            charged = charged_for_day(conn, row.customer_id, Item.CHANGES, day)
            customers.append(
                CustomerDayFigures(
                    row.customer_id,
                    row.persons,
                    row.administrative,
                    charged.persons,
                    charged.cents,
                )
            )
    return DayFigures(
        day, from_micros(published_at), changed, administrative, customers
    )


def check_day(conn: Connection, day: date, now: datetime, retention_days: int) -> None:
    """Refuse a day that cannot be answered, saying why."""
    today = day_of(now)
    if day < today - timedelta(days=retention_days):
        raise DayOutsideRetention(
            f"{day} is older than the retention window of {retention_days} days"
        )
    if day < first_day(conn):
        raise UnknownDay(f"{day} is before the service began ({first_day(conn)})")
    if day >= today:
        raise DayNotPublished(f"{day} has not ended yet; it is published after it ends")
    published = conn.execute(
        select(published_days.c.day).where(published_days.c.day == day)
    ).first()
    if published is None:
        raise DayNotPublished(f"{day} has ended but is not published yet")


def day_changes(
    db: Database,
    customer: Customer,
    day: date,
    *,
    page_size: int | None,
    page_token: str | None,
) -> ChangesPage:
    """One page of the customer's frozen answer for a published day.

    The first time a person of a day's answer is handed to the customer, a
    charge is recorded; fetching the same page again charges nothing more. A
    person whose answer is administrative is handed over and audited, never
    charged.
    """
    size = paging.page_size(db, page_size)
    walk = f"day:{day.isoformat()}"
    with db.write() as conn:
        now = db.now(conn)
        check_day(conn, day, now, db.settings.retention_days)
        after = 0
        if page_token is not None:
            after = paging.read_token(conn, page_token, customer.customer_id, walk)["k"]
        rows = conn.execute(
            select(day_answers)
            .where(day_answers.c.customer_id == customer.customer_id)
            .where(day_answers.c.day == day)
            .where(day_answers.c.person_id > after)
            .order_by(day_answers.c.person_id)
            .limit(size + 1)
        ).all()
        more = len(rows) > size
        rows = rows[:size]
        total = (
            conn.execute(
                select(day_totals.c.persons)
                .where(day_totals.c.customer_id == customer.customer_id)
                .where(day_totals.c.day == day)
            ).scalar()
            or 0
        )
        token = (
            paging.make_token(conn, customer.customer_id, walk, k=rows[-1].person_id)
            if more
            else None
        )
        chargeable = [row.person_id for row in rows if not row.administrative]
        charge(conn, customer.customer_id, Item.CHANGES, day, chargeable, now)
        trail.append(
            conn,
            now,
            "GetClientsDataChanges",
            customer_id=customer.customer_id,
            persons=len(rows),
            detail={
                "day": day.isoformat(),
                "administrative": len(rows) - len(chargeable),
            },
            named=[(row.person_id, row.kinds) for row in rows],
        )

    log.info(
        "day_answer_read",
        customer_id=customer.customer_id,
        day=day.isoformat(),
        persons=len(rows),
        administrative=len(rows) - len(chargeable),
        total=total,
    )
    persons = [
        PersonChanges(
            personal_code=row.loaded_code,
            current_code=row.current_code,
            previous_code=row.previous_code
            if row.kinds & Kind.PERSONAL_CODE.bit
            else None,
            kinds=from_mask(row.kinds),
        )
        for row in rows
    ]
    return ChangesPage(day, persons, total, token)
