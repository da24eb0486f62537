"""Administrative changes (register clean-ups): reported as usual, never charged."""

from __future__ import annotations

from datetime import datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import func, select

from conftest import START
from factories import add_person, at, customer, event, move_clock, record
from regwatch.billing.charges import totals
from regwatch.cli import main
from regwatch.clock import VILNIUS
from regwatch.kinds import Kind, to_mask
from regwatch.monitoring.days import (
    CustomerDayFigures,
    day_changes,
    day_figures,
    publish_pending,
)
from regwatch.monitoring.lists import load_clients
from regwatch.register.events import EventType
from regwatch.store.tables import audit_records, change_log, charges, day_answers

DAY1 = START.date()
DAY2 = DAY1 + timedelta(days=1)


def listed(db, who, count):
    people = [add_person(db) for _ in range(count)]
    codes = [p.personal_code for p in people]
    load_clients(db, who, add=codes, remove=[], request_id=None)
    return people


def rename(db, person, hours, *, administrative=False, received_hours=None):
    recorded = at(db, hours)
    received = at(db, received_hours) if received_hours is not None else recorded
    record(
        db,
        event(
            EventType.NAME_CHANGE,
            recorded,
            person.personal_code,
            surname=f"Naujas{hours}",
        ),
        received_at=received,
        administrative=administrative,
    )


def move_abroad(db, person, hours, *, administrative=False):
    record(
        db,
        event(
            EventType.DEPARTED_ABROAD,
            at(db, hours),
            person.personal_code,
            country="NO",
            since="2026-11-02",
        ),
        administrative=administrative,
    )


def end_day(db, day=DAY1):
    midnight = datetime.combine(
        day + timedelta(days=1), datetime.min.time(), tzinfo=VILNIUS
    )
    move_clock(db, midnight)
    return publish_pending(db)


def fetch(db, who, day=DAY1):
    """The whole answer of a day, one person a page, so every page charges."""
    persons, token = [], None
    while True:
        page = day_changes(db, who, day, page_size=1, page_token=token)
        persons += page.persons
        token = page.next_page_token
        if token is None:
            return persons


def charged(db, who):
    """(persons charged, cents) for day answers, for one customer."""
    with db.read() as conn:
        for total in totals(conn, who.customer_id):
            if total.item.value == "CHANGES":
                return total.persons, total.cents
    return 0, 0


def test_an_administrative_person_is_reported_with_its_kinds_but_never_charged(db):
    bank = customer(db)
    (person,) = listed(db, bank, 1)
    rename(db, person, 1, administrative=True)
    move_abroad(db, person, 2, administrative=True)
    end_day(db)

    first = fetch(db, bank)
    again = fetch(db, bank)

    (reported,) = first
    assert reported.current_code == person.personal_code
    assert reported.kinds == [Kind.NAME, Kind.DECLARED_RESIDENCE]
    assert again == first
    assert charged(db, bank) == (0, 0)
    with db.read() as conn:
        charge_rows = conn.execute(select(func.count()).select_from(charges)).scalar()
        handed_over = conn.execute(
            select(audit_records.c.persons).where(
                audit_records.c.operation == "GetClientsDataChanges"
            )
        ).all()
    assert charge_rows == 0
    # Both fetches handed the person over, so both are on the audit trail.
    assert [row.persons for row in handed_over] == [1, 1]


def test_an_administrative_and_an_ordinary_change_the_same_day_charge_once(db):
    bank = customer(db)
    mixed, cleaned = listed(db, bank, 2)
    rename(db, mixed, 1, administrative=True)
    move_abroad(db, mixed, 2)
    rename(db, cleaned, 3, administrative=True)
    end_day(db)

    fetch(db, bank)
    reported = fetch(db, bank)

    assert [p.current_code for p in reported] == [
        mixed.personal_code,
        cleaned.personal_code,
    ]
    assert reported[0].kinds == [Kind.NAME, Kind.DECLARED_RESIDENCE]
    assert charged(db, bank) == (1, 2)
    with db.read() as conn:
        rows = conn.execute(select(charges.c.person_id, charges.c.day)).all()
    assert rows == [(mixed.person_id, DAY1)]


def test_only_the_changes_a_customer_is_told_of_decide_whether_it_pays(db):
    bank = customer(db, "Bank")
    telecom = customer(db, "Telecom", to_mask([Kind.NAME]))
    (person,) = listed(db, bank, 1)
    load_clients(db, telecom, add=[person.personal_code], remove=[], request_id=None)
    # The clean-up touched the name; the move abroad, which the telecom's
    # contract does not cover, was an ordinary change.
    rename(db, person, 1, administrative=True)
    move_abroad(db, person, 2)
    end_day(db)

    (for_bank,) = fetch(db, bank)
    (for_telecom,) = fetch(db, telecom)

    assert for_bank.kinds == [Kind.NAME, Kind.DECLARED_RESIDENCE]
    assert for_telecom.kinds == [Kind.NAME]
    assert charged(db, bank) == (1, 2)
    assert charged(db, telecom) == (0, 0)


def test_day_totals_count_administrative_changes_apart(db):
    bank = customer(db)
    cleaned, mixed, ordinary = listed(db, bank, 3)
    unlisted = add_person(db)
    rename(db, cleaned, 1, administrative=True)
    rename(db, mixed, 2, administrative=True)
    move_abroad(db, mixed, 3)
    rename(db, ordinary, 4)
    rename(db, unlisted, 5, administrative=True)

    (published,) = end_day(db)
    fetch(db, bank)

    assert (
        published.changed_persons,
        published.administrative_persons,
        published.answers,
        published.administrative_answers,
    ) == (4, 2, 3, 1)
    figures = day_figures(db, DAY1)
    assert (figures.changed_persons, figures.administrative_persons) == (4, 2)
    assert figures.customers == [
        CustomerDayFigures(
            bank.customer_id,
            persons=3,
            administrative=1,
            charged_persons=2,
            charged_cents=4,
        )
    ]
    assert day_changes(db, bank, DAY1, page_size=None, page_token=None).total == 3


def test_an_administrative_change_that_rolls_forward_keeps_its_flag(db):
    bank = customer(db)
    late, other = listed(db, bank, 2)
    rename(db, other, 1)
    end_day(db)

    # Recorded by the register on day 1, reaching the service on day 2.
    rename(db, late, -2, administrative=True, received_hours=1)
    (published,) = end_day(db, DAY2)
    reported = fetch(db, bank, DAY2)

    with db.read() as conn:
        logged = conn.execute(
            select(change_log.c.day, change_log.c.administrative).where(
                change_log.c.person_id == late.person_id
            )
        ).all()
        answer = conn.execute(
            select(day_answers.c.administrative).where(
                day_answers.c.person_id == late.person_id
            )
        ).all()
    assert logged == [(DAY2, True)]
    assert answer == [(True,)]
    assert [p.current_code for p in reported] == [late.personal_code]
    assert reported[0].kinds == [Kind.NAME]
    assert (published.answers, published.administrative_answers) == (1, 1)
    assert [p.current_code for p in fetch(db, bank)] == [other.personal_code]
    assert charged(db, bank) == (1, 2)  # only the ordinary change of day 1


def test_the_operator_sees_the_figures_apart_on_the_command_line(db):
    bank = customer(db)
    cleaned, ordinary = listed(db, bank, 2)
    rename(db, cleaned, 1, administrative=True)
    rename(db, ordinary, 2)
    move_clock(db, START + timedelta(days=1, hours=1))
    database = ["--database", db.engine.url.render_as_string(hide_password=False)]

    published = CliRunner().invoke(main, [*database, "days", "publish"])
    fetch(db, bank)
    shown = CliRunner().invoke(main, [*database, "days", "show", "2026-11-02"])
    unpublished = CliRunner().invoke(main, [*database, "days", "show", "2026-11-03"])

    # The command's own lines come last; log lines may precede them.
    assert published.output.splitlines()[-1] == (
        "published 2026-11-02: changed persons 1 ordinary, 1 administrative; "
        "reported to customers 1 ordinary, 1 administrative"
    )
    assert shown.exit_code == 0
    assert shown.output.splitlines()[-4:] == [
        "2026-11-02, published 2026-11-03T01:00:00+02:00",
        "changed persons: 1 ordinary, 1 administrative",
        "customer   reported  administrative    charged        amount",
        "bank              2               1          1      0.02 EUR",
    ]
    assert cleaned.personal_code not in shown.output
    assert unpublished.exit_code == 1
    assert "2026-11-03 is not published" in unpublished.output
