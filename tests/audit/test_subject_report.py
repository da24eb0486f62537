"""The data-subject report of one person, field by field, for a scripted story:
two customers follow a person, the person gets a new code, one customer buys an
extract, the other stops following."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from conftest import START
from factories import add_person, customer, move_clock, replace_code
from regwatch.audit import trail
from regwatch.audit.subject import render_text, subject_report
from regwatch.cli import main
from regwatch.clock import format_instant
from regwatch.errors import NotFound
from regwatch.kinds import Kind, to_mask
from regwatch.monitoring.days import day_changes, publish_pending
from regwatch.monitoring.extracts import person_data
from regwatch.monitoring.lists import load_clients
from regwatch.register.restrictions import set_restricted
from regwatch.store.tables import audit_records

DAY1 = START.date()


def story(db):
    bank = customer(db, "Bank", kinds=to_mask([Kind.PERSONAL_CODE, Kind.NAME]))
    telecom = customer(db, "Telecom")
    ona = add_person(db, sex="F")
    other = add_person(db)
    old_code = ona.personal_code

    move_clock(db, START + timedelta(hours=1))
    load_clients(
        db, bank, add=[old_code, other.personal_code], remove=[], request_id=None
    )
    move_clock(db, START + timedelta(hours=2))
    load_clients(db, telecom, add=[old_code], remove=[], request_id=None)
    new_code = replace_code(db, old_code, 1)  # recorded at 03:00 on day 1

    move_clock(db, START + timedelta(days=1, hours=2))
    publish_pending(db)
    move_clock(db, START + timedelta(days=1, hours=3))
    day_changes(db, bank, DAY1, page_size=None, page_token=None)
    move_clock(db, START + timedelta(days=1, hours=4))
    person_data(db, bank, [new_code], purpose="contract renewal", request_id="ext-1")
    move_clock(db, START + timedelta(days=1, hours=5))
    load_clients(db, telecom, add=[], remove=[new_code], request_id=None)
    move_clock(db, START + timedelta(days=1, hours=6))
    return bank, telecom, ona, old_code, new_code


def iso(hours):
    return format_instant(START + timedelta(hours=hours))


def test_the_report_answers_each_question_field_by_field(db):
    bank, telecom, ona, old_code, new_code = story(db)

    report = subject_report(db, old_code).as_json()  # found by the old code too

    assert report["person"] == {
        "person_id": ona.person_id,
        "current_code": new_code,
        "codes": [
            {"code": old_code, "since": iso(0), "until": iso(3)},
            {"code": new_code, "since": iso(3), "until": None},
        ],
        "restricted": False,
        "restrictions": [],
    }
    assert report["followed"] == [
        {
            "customer_id": bank.customer_id,
            "customer_name": "Bank",
            "loaded_code": old_code,
            "since": iso(1),
            "until": None,
        },
        {
            "customer_id": telecom.customer_id,
            "customer_name": "Telecom",
            "loaded_code": old_code,
            "since": iso(2),
            "until": iso(29),
        },
    ]
    records = {r.operation: r for r in stored(db)}
    assert report["day_answers"] == [
        {
            "customer_id": bank.customer_id,
            "day": DAY1.isoformat(),
            "kinds": ["PERSONAL_CODE"],
            "previous_code": old_code,
            "administrative": False,
            "answer_kept": True,
            "handed_over": [
                {
                    "at": iso(27),
                    "record": records["GetClientsDataChanges"].seq,
                    "trace_id": None,
                }
            ],
        },
        {
            "customer_id": telecom.customer_id,
            "day": DAY1.isoformat(),
            "kinds": ["PERSONAL_CODE"],
            "previous_code": old_code,
            "administrative": False,
            "answer_kept": True,
            "handed_over": [],  # published, never fetched
        },
    ]
    assert report["extracts"] == [
        {
            "customer_id": bank.customer_id,
            "at": iso(28),
            "record": records["GetPersonData"].seq,
            "request_id": "ext-1",
            "trace_id": None,
            "purpose": "contract renewal",
            "returned": True,
            "groups": ["name"],
            "reason": None,
        }
    ]
    assert report["made_at"] == iso(30)


def test_making_the_report_is_itself_on_the_audit_trail(db):
    _, _, ona, old_code, _ = story(db)
    subject_report(db, old_code)
    last = stored(db)[-1]
    assert (last.operation, last.actor, last.customer_id) == (
        "SubjectReport",
        "operator",
        None,
    )
    assert json.loads(last.detail) == {"person_id": ona.person_id}
    assert trail.verify(db).ok


def test_a_person_nobody_follows_gets_an_empty_report(db):
    lonely = add_person(db)
    report = subject_report(db, lonely.personal_code).as_json()
    assert (report["followed"], report["day_answers"], report["extracts"]) == (
        [],
        [],
        [],
    )
    text = render_text(subject_report(db, lonely.personal_code))
    assert "Followed by:\n  nobody" in text


def test_an_unknown_code_is_a_clear_error(db):
    with pytest.raises(NotFound, match="no person in the register has the code"):
        subject_report(db, "33309240064")


def test_the_text_report_and_the_command_line(db):
    bank, telecom, _, old_code, new_code = story(db)
    url = db.engine.url.render_as_string(hide_password=False)
    env = {"REGWATCH_DATABASE_URL": url}
    as_text = CliRunner().invoke(main, ["subject-report", new_code], env=env)
    assert as_text.exit_code == 0, as_text.output
    lines = as_text.output.splitlines()
    assert lines[0] == f"Data-subject report for personal code {new_code}"
    assert f"  {old_code} from {iso(0)} until {iso(3)}" in lines
    assert f"  Bank ({bank.customer_id}), as {old_code}, from {iso(1)} (still)" in lines
    assert (
        f"  Telecom ({telecom.customer_id}), as {old_code}, from {iso(2)} "
        f"until {iso(29)}"
    ) in lines
    assert (
        f"  {DAY1} to {bank.customer_id}: PERSONAL_CODE (previous code {old_code})"
        in lines
    )
    assert "    not fetched" in lines  # the telecom's answer
    assert any(
        line.startswith(
            f"  {iso(28)} by {bank.customer_id}, purpose 'contract renewal'"
        )
        and "returned name" in line
        for line in lines
    )

    as_json = CliRunner().invoke(main, ["subject-report", new_code, "--json"], env=env)
    parsed = json.loads(as_json.output)
    assert parsed["person"]["current_code"] == new_code
    assert len(parsed["followed"]) == 2

    unknown = CliRunner().invoke(main, ["subject-report", "33309240064"], env=env)
    assert unknown.exit_code == 1
    assert "no person in the register has the code '33309240064'" in unknown.output


def stored(db):
    with db.read() as conn:
        return conn.execute(select(audit_records).order_by(audit_records.c.seq)).all()


def test_refused_extracts_and_the_restriction_history_are_in_the_report(db):
    """Who asked and got nothing is told too: a customer that no longer
    follows the person, and one that follows while the data is restricted."""
    bank, telecom, _, old_code, new_code = story(db)
    set_restricted(db, new_code, True, reason="court order")
    move_clock(db, START + timedelta(days=1, hours=7))
    person_data(db, bank, [new_code], purpose="check", request_id=None)
    person_data(db, telecom, [old_code], purpose="win-back", request_id=None)
    move_clock(db, START + timedelta(days=1, hours=8))
    set_restricted(db, new_code, False)

    report = subject_report(db, new_code).as_json()
    seq_of = {row.operation: row.seq for row in stored(db)}
    restricting, lifting = seq_of["RestrictPerson"], seq_of["LiftRestriction"]
    assert report["person"]["restricted"] is False
    assert report["person"]["restrictions"] == [
        {
            "at": iso(30),
            "restricted": True,
            "reason": "court order",
            "record": restricting,
        },
        {"at": iso(32), "restricted": False, "reason": None, "record": lifting},
    ]
    later = [
        (e["customer_id"], e["purpose"], e["returned"], e["groups"], e["reason"])
        for e in report["extracts"][1:]
    ]
    assert later == [
        (bank.customer_id, "check", False, [], "RESTRICTED"),
        (telecom.customer_id, "win-back", False, [], "NOT_ON_LIST"),
    ]
    text = render_text(subject_report(db, new_code))
    assert f"  restricted {iso(30)} (court order)" in text
    assert f"  restriction lifted {iso(32)}" in text
    assert "'win-back': not returned (NOT_ON_LIST)" in text
