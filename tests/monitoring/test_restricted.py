"""Restricted persons: followed and reported as usual, never returned by an
extract, and the restriction told only to a customer that follows them."""

from __future__ import annotations

from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import func, select

from conftest import START
from factories import add_person, at, customer, event, move_clock, record
from regwatch.cli import main
from regwatch.kinds import Kind
from regwatch.monitoring.days import day_changes, publish_pending
from regwatch.monitoring.extracts import person_data
from regwatch.monitoring.lists import load_clients
from regwatch.monitoring.models import NotReturned, Outcome
from regwatch.register.events import EventType
from regwatch.register.restrictions import set_restricted
from regwatch.store.tables import audit_persons, charges


def extract(db, who, code):
    (result,) = person_data(db, who, [code], purpose="check", request_id=None)
    return result


def test_a_restricted_person_is_listed_reported_but_not_returned(db):
    bank = customer(db)
    person = add_person(db)
    assert set_restricted(db, person.personal_code, True, reason="court order").changed

    loaded = load_clients(
        db, bank, add=[person.personal_code], remove=[], request_id=None
    )
    assert loaded.results[0].outcome is Outcome.ADDED

    record(
        db, event(EventType.NAME_CHANGE, at(db, 1), person.personal_code, surname="N")
    )
    move_clock(db, START + timedelta(days=1, hours=2))
    publish_pending(db)
    page = day_changes(db, bank, START.date(), page_size=None, page_token=None)
    assert [(p.current_code, p.kinds) for p in page.persons] == [
        (person.personal_code, [Kind.NAME])
    ]

    result = extract(db, bank, person.personal_code)
    assert (result.returned, result.reason, result.groups) == (
        False,
        NotReturned.RESTRICTED,
        {},
    )
    with db.read() as conn:
        items = conn.execute(select(charges.c.item)).scalars().all()
        named = conn.execute(
            select(audit_persons.c.kinds).order_by(audit_persons.c.seq.desc())
        ).first()
    assert [item for item in items] == ["CHANGES"]  # the day's answer only
    assert named.kinds == 0  # the extract named the person, handed over nothing


def test_the_restriction_is_not_told_to_a_customer_that_does_not_follow(db):
    bank = customer(db)
    person = add_person(db)
    set_restricted(db, person.personal_code, True)
    assert extract(db, bank, person.personal_code).reason is NotReturned.NOT_ON_LIST


def test_lifting_the_restriction_returns_the_person_again(db):
    bank = customer(db)
    person = add_person(db)
    load_clients(db, bank, add=[person.personal_code], remove=[], request_id=None)
    set_restricted(db, person.personal_code, True)
    assert extract(db, bank, person.personal_code).reason is NotReturned.RESTRICTED
    lifted = set_restricted(db, person.personal_code, False)
    assert (lifted.restricted, lifted.changed) == (False, True)
    returned = extract(db, bank, person.personal_code)
    assert returned.returned and returned.groups["name"] == person.groups["name"]
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(charges)).scalar() == 1


def test_the_operator_restricts_from_the_command_line(db):
    person = add_person(db)
    env = {"REGWATCH_DATABASE_URL": db.engine.url.render_as_string(hide_password=False)}

    def run(*args):
        return CliRunner().invoke(main, ["register", "restrict", *args], env=env)

    done = run(person.personal_code, "--reason", "court order")
    assert done.exit_code == 0
    assert done.output == f"person {person.personal_code} is restricted\n"
    again = run(person.personal_code)
    assert again.output == (
        f"person {person.personal_code} is restricted (it already was; nothing "
        "changed)\n"
    )
    assert run(person.personal_code, "--lift").output == (
        f"person {person.personal_code} is not restricted\n"
    )
    unknown = run("33309240064")
    assert unknown.exit_code == 1
    assert "no person in the register has the code '33309240064'" in unknown.output
