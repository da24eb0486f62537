"""The audit trail: one chained record per operation, and a check that finds
every record edited, removed or put in by hand."""

from __future__ import annotations

import json
import re
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, insert, select, text, update
from starlette.testclient import TestClient

from conftest import START
from factories import add_person, at, customer, event, move_clock, record
from regwatch.api.app import create_app
from regwatch.audit import trail
from regwatch.cli import main
from regwatch.kinds import ALL_MASK, Kind, to_mask
from regwatch.monitoring.customers import (
    add_customer,
    disable_customer,
    enable_customer,
    rotate_secret,
)
from regwatch.monitoring.days import day_changes, publish_pending
from regwatch.monitoring.extracts import person_data
from regwatch.monitoring.lists import list_clients, load_clients
from regwatch.register.events import EventType
from regwatch.store.tables import audit_persons, audit_records, service_state


def scenario(db):
    """Two customers through every operation that hands over or changes data."""
    bank, telecom = customer(db, "Bank"), customer(db, "Telecom")
    ona, jonas = add_person(db, sex="F"), add_person(db)
    both = [ona.personal_code, jonas.personal_code]
    load_clients(db, bank, add=both, remove=[], request_id="r1")
    load_clients(db, bank, add=both, remove=[], request_id="r1")  # a repeat
    load_clients(db, telecom, add=[jonas.personal_code], remove=[], request_id=None)
    record(db, event(EventType.NAME_CHANGE, at(db, 2), ona.personal_code, surname="N"))
    move_clock(db, START + timedelta(days=1, hours=2))
    publish_pending(db)
    day_changes(db, bank, START.date(), page_size=None, page_token=None)
    list_clients(db, bank, page_size=1, page_token=None)
    person_data(db, bank, [ona.personal_code], purpose="KYC", request_id="x1")
    load_clients(db, bank, add=[], remove=[ona.personal_code], request_id=None)
    return bank, telecom, ona, jonas


def stored(db):
    with db.read() as conn:
        return conn.execute(select(audit_records).order_by(audit_records.c.seq)).all()


def problems(db, **kwargs):
    return trail.verify(db, **kwargs).problems


def test_each_operation_writes_one_chained_record_with_what_it_handed_over(db):
    bank, telecom, ona, jonas = scenario(db)
    rows = stored(db)
    assert [(r.seq, r.operation, r.customer_id, r.outcome) for r in rows] == [
        (1, "AddCustomer", bank.customer_id, "OK"),
        (2, "AddCustomer", telecom.customer_id, "OK"),
        (3, "LoadClients", bank.customer_id, "OK"),
        (4, "LoadClients", bank.customer_id, "REPEATED"),
        (5, "LoadClients", telecom.customer_id, "OK"),
        (6, "PublishDay", None, "OK"),
        (7, "GetClientsDataChanges", bank.customer_id, "OK"),
        (8, "GetAllClients", bank.customer_id, "OK"),
        (9, "GetPersonData", bank.customer_id, "OK"),
        (10, "LoadClients", bank.customer_id, "OK"),
    ]
    assert rows[0].prev_hash == trail.GENESIS
    assert all(rows[n].prev_hash == rows[n - 1].hash for n in range(1, len(rows)))
    assert [r.request_id for r in rows] == [
        None,
        None,
        "r1",
        "r1",
        None,
        None,
        None,
        None,
        "x1",
        None,
    ]
    assert [r.persons for r in rows] == [0, 0, 2, 0, 1, 0, 1, 1, 1, 1]
    assert [r.actor for r in rows].count("operator") == 3  # customers, publish
    assert rows[5].actor == "operator" and rows[2].actor == "customer"
    assert json.loads(rows[0].detail) == {
        "name": "Bank",
        "company_code": None,
        "kinds": bank.kinds,
    }

    added = json.loads(rows[2].detail)
    assert added == {
        "added": sorted([ona.person_id, jonas.person_id]),
        "removed": [],
        "counts": {"ADDED": 2},
    }
    assert json.loads(rows[9].detail)["removed"] == [ona.person_id]
    changes = json.loads(rows[6].detail)
    assert changes == {
        "day": START.date().isoformat(),
        "administrative": 0,
        "named": [[ona.person_id, to_mask([Kind.NAME])]],
    }
    extract = json.loads(rows[8].detail)
    assert rows[8].purpose == "KYC"
    assert extract["named"] == [[ona.person_id, bank.kinds]]
    assert extract["not_returned"] == {}
    assert "name" in extract["groups"]
    with db.read() as conn:
        index = conn.execute(
            select(
                audit_persons.c.seq, audit_persons.c.person_id, audit_persons.c.kinds
            ).order_by(audit_persons.c.seq)
        ).all()
    assert [tuple(r) for r in index] == [
        (7, ona.person_id, to_mask([Kind.NAME])),
        (9, ona.person_id, bank.kinds),
    ]
    result = trail.verify(db)
    assert result.ok, result.problems
    assert (result.records, result.head_seq, result.head_hash) == (
        10,
        10,
        rows[-1].hash,
    )


def test_a_service_call_refused_before_anything_is_done_writes_no_record(db):
    """The service's own refusal rolls back with its call; the HTTP endpoint
    records refusals (tested below)."""
    bank = customer(db)
    with pytest.raises(Exception, match="purpose"):
        person_data(db, bank, ["33309240064"], purpose=" ", request_id=None)
    assert [r.operation for r in stored(db)] == ["AddCustomer"]


def test_an_edited_record_is_named(db):
    scenario(db)
    with db.write() as conn:
        conn.execute(
            update(audit_records)
            .where(audit_records.c.seq == 9)
            .values(purpose="marketing")
        )
    assert problems(db) == [(9, "its content does not match its hash (edited)")]


def test_an_edited_record_with_a_new_hash_breaks_the_next_link(db):
    scenario(db)
    with db.write() as conn:
        row = conn.execute(select(audit_records).where(audit_records.c.seq == 3)).one()
        fields = {**row._asdict(), "purpose": "changed"}
        del fields["hash"]
        conn.execute(
            update(audit_records)
            .where(audit_records.c.seq == 3)
            .values(purpose="changed", hash=trail.record_hash(fields))
        )
    found = problems(db)
    assert [seq for seq, _ in found] == [4]
    assert "does not link" in found[0][1]


def test_a_removed_record_is_named(db):
    scenario(db)
    with db.write() as conn:
        conn.execute(delete(audit_persons).where(audit_persons.c.seq == 5))
        conn.execute(delete(audit_records).where(audit_records.c.seq == 5))
    assert problems(db) == [(5, "it is missing (removed)")]


def test_records_removed_from_the_end_are_named(db):
    scenario(db)
    with db.write() as conn:
        conn.execute(delete(audit_records).where(audit_records.c.seq >= 7))
        conn.execute(delete(audit_persons).where(audit_persons.c.seq >= 7))
    assert problems(db) == [
        (
            7,
            "it and the records after it up to 10 are missing (removed from the "
            "end of the chain)",
        )
    ]


def test_an_inserted_record_is_named(db):
    scenario(db)
    with db.write() as conn:
        last = conn.execute(
            select(audit_records).where(audit_records.c.seq == 10)
        ).one()
        forged = {**last._asdict(), "seq": 11, "prev_hash": last.hash, "persons": 0}
        forged["detail"] = trail.canonical({"added": [], "removed": []})
        forged["hash"] = trail.record_hash(forged)
        conn.execute(insert(audit_records).values(**forged))
    assert problems(db) == [(11, "it was inserted: the chain's head is record 10")]


def test_a_record_put_in_a_gap_with_the_head_moved_is_named(db):
    """A whole forged tail, head included, is caught by an anchor kept elsewhere."""
    scenario(db)
    anchor = (10, trail.verify(db).head_hash)
    with db.write() as conn:
        conn.execute(delete(audit_records).where(audit_records.c.seq == 10))
        last = conn.execute(select(audit_records).where(audit_records.c.seq == 9)).one()
        forged = {**last._asdict(), "seq": 10, "prev_hash": last.hash}
        forged["purpose"] = "nothing to see"
        forged["hash"] = trail.record_hash(forged)
        conn.execute(insert(audit_records).values(**forged))
        conn.execute(delete(audit_persons).where(audit_persons.c.seq == 10))
        conn.execute(
            insert(audit_persons),
            [
                {"seq": 10, "person_id": p, "kinds": k}
                for p, k in json.loads(forged["detail"])["named"]
            ],
        )
        conn.execute(
            update(service_state)
            .where(service_state.c.key == trail.HEAD_KEY)
            .values(value=f"10 {forged['hash']}")
        )
    assert problems(db) == []  # a consistent rewrite: only an anchor sees it
    assert problems(db, anchor=anchor) == [
        (10, "its hash is not the one kept as anchor")
    ]


def test_a_tampered_persons_index_is_named(db):
    scenario(db)
    with db.write() as conn:
        conn.execute(delete(audit_persons).where(audit_persons.c.seq == 9))
    assert problems(db) == [
        (9, "the persons index (audit_persons) does not match the record")
    ]


def test_appends_from_many_connections_at_once_keep_one_chain(db):
    """Writers in parallel (PostgreSQL: truly at once) take numbers one by one."""
    banks = [customer(db, f"Bank {n}") for n in range(4)]
    people = [add_person(db) for _ in range(4)]
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for _ in range(5):
                load_clients(
                    db,
                    banks[n],
                    add=[people[n].personal_code],
                    remove=[],
                    request_id=None,
                )
                person_data(
                    db,
                    banks[n],
                    [people[n].personal_code],
                    purpose="p",
                    request_id=None,
                )
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    result = trail.verify(db)
    assert result.ok, result.problems
    assert result.records == 44  # the four customers' own records first
    assert [r.seq for r in stored(db)] == list(range(1, 45))


def cli(db, *args):
    url = db.engine.url.render_as_string(hide_password=False)
    return CliRunner().invoke(
        main, list(args), env={"REGWATCH_DATABASE_URL": url}, catch_exceptions=False
    )


def test_audit_verify_on_the_command_line_passes_then_fails_naming_the_record(db):
    scenario(db)
    good = cli(db, "audit", "verify")
    assert good.exit_code == 0, good.output
    assert "audit trail intact: 10 records; head 10:" in good.output
    head = good.output.split("head ")[1].split(" ")[0]
    assert cli(db, "audit", "verify", "--anchor", head).exit_code == 0

    with db.write() as conn:
        conn.execute(text("UPDATE audit_records SET outcome = 'X' WHERE seq = 2"))
    bad = cli(db, "audit", "verify")
    assert bad.exit_code == 1
    assert bad.output.splitlines()[0] == (
        "record 2: its content does not match its hash (edited)"
    )


def test_audit_export_writes_the_span_and_its_chain_checks_out(db, tmp_path):
    scenario(db)
    day = START.date()
    out = tmp_path / "audit.jsonl"
    result = cli(
        db, "audit", "export", "--from", str(day), "--to", str(day), "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    # The day's own records: the loads of the first day, not the next day's.
    assert [line["operation"] for line in lines] == ["AddCustomer"] * 2 + [
        "LoadClients"
    ] * 3
    after = cli(
        db,
        "audit",
        "export",
        "--from",
        str(day + timedelta(days=1)),
        "--to",
        str(day + timedelta(days=1)),
    )
    later = [json.loads(line) for line in after.stdout.splitlines()]
    # The first export is itself on the trail, as the day's last record.
    assert [line["seq"] for line in later] == [6, 7, 8, 9, 10, 11]
    assert later[-1]["operation"] == "ExportAudit"
    assert later[-1]["detail"] == {
        "from": str(day),
        "to": str(day),
        "records": 5,
        "first": 1,
        "last": 5,
    }
    # What an auditor does with the file alone: recompute each hash and link.
    previous = lines[-1]["hash"]
    for line in later:
        assert line["prev_hash"] == previous
        fields = {**line, "detail": trail.canonical(line["detail"])}
        fields["at"] = line["at_us"]
        assert trail.record_hash(fields) == line["hash"]
        previous = line["hash"]
    bad = cli(db, "audit", "export", "--from", str(day), "--to", "2026-01-01")
    assert bad.exit_code == 2 and "--to is before --from" in bad.output


def test_a_refused_call_over_http_is_recorded_with_its_code_and_request_id(db):
    bank, secret = add_customer(db, "Bank", kinds=ALL_MASK)
    client = TestClient(create_app(db), headers={"Content-Type": "text/xml"})
    envelope = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:r="urn:regwatch:monitoring:v1"><s:Body>{}</s:Body></s:Envelope>'
    )
    unpublished = envelope.format(
        "<r:GetClientsDataChanges><r:date>2031-01-01</r:date></r:GetClientsDataChanges>"
    )
    answer = client.post(
        "/soap",
        content=unpublished,
        auth=(bank.customer_id, secret),
        headers={"X-Request-Id": "night-run-7"},
    )
    assert answer.status_code == 500
    hostile = '<!DOCTYPE x [<!ENTITY a "b">]>' + envelope.format("<r:GetAllClients/>")
    client.post("/soap", content=hostile, auth=(bank.customer_id, secret))
    client.post("/soap", content=unpublished, auth=(bank.customer_id, "wrong-secret"))

    rows = stored(db)[1:]  # after the customer's own record
    assert [(r.operation, r.customer_id, r.outcome, r.persons) for r in rows] == [
        ("GetClientsDataChanges", bank.customer_id, "DAY_NOT_PUBLISHED", 0),
        ("UnreadableRequest", bank.customer_id, "FORBIDDEN_XML", 0),
    ]  # a failed login is not the customer's call: the login log has it
    assert rows[0].trace_id == "night-run-7"
    assert trail.verify(db).ok


def test_the_operators_changes_to_a_customer_are_recorded_without_secrets(db):
    bank, first_secret = add_customer(db, "Bank", kinds=ALL_MASK)
    second_secret = rotate_secret(db, bank.customer_id)
    disable_customer(db, bank.customer_id)
    enable_customer(db, bank.customer_id)
    rows = stored(db)
    assert [(r.operation, r.actor, r.customer_id) for r in rows] == [
        ("AddCustomer", "operator", bank.customer_id),
        ("RotateSecret", "operator", bank.customer_id),
        ("DisableCustomer", "operator", bank.customer_id),
        ("EnableCustomer", "operator", bank.customer_id),
    ]
    everything = repr([r._asdict() for r in rows])
    assert first_secret not in everything and second_secret not in everything


def test_the_readme_recipe_checks_an_exported_span_and_catches_an_edit(
    db, tmp_path, monkeypatch
):
    """The auditor's snippet in the README, run as written on a real export."""
    scenario(db)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    security = readme.split("## Security\n", 1)[1].split("\n## ", 1)[0]
    (snippet,) = re.findall(r"```python\n(.*?)```", security, flags=re.DOTALL)
    monkeypatch.chdir(tmp_path)
    result = cli(
        db,
        "audit",
        "export",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-30",
        "--out",
        "audit-november.jsonl",
    )
    assert result.exit_code == 0
    exec(snippet, {})  # passes: every hash recomputes

    exported = (tmp_path / "audit-november.jsonl").read_text().splitlines()
    edited = json.loads(exported[4])
    edited["purpose"] = "something else"
    exported[4] = json.dumps(edited, ensure_ascii=False)
    (tmp_path / "audit-november.jsonl").write_text("\n".join(exported) + "\n")
    with pytest.raises(AssertionError) as caught:
        exec(snippet, {})
    assert str(caught.value) == str(edited["seq"])

    cli(
        db,
        "audit",
        "export",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-30",
        "--out",
        "audit-november.jsonl",
    )
    lines = (tmp_path / "audit-november.jsonl").read_text().splitlines()
    removed = json.loads(lines.pop(2))
    (tmp_path / "audit-november.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(AssertionError) as caught:
        exec(snippet, {})
    assert str(caught.value) == str(removed["seq"] + 1)


def test_a_trimmed_tail_with_the_head_moved_back_takes_an_anchor_to_see(db):
    """The limit the README admits: cutting the last records and moving the
    head back leaves a chain that holds; an anchor kept from before says so."""
    scenario(db)
    anchor = (10, trail.verify(db).head_hash)
    with db.write() as conn:
        nine = conn.execute(
            select(audit_records.c.hash).where(audit_records.c.seq == 8)
        ).scalar_one()
        conn.execute(delete(audit_records).where(audit_records.c.seq >= 9))
        conn.execute(
            update(service_state)
            .where(service_state.c.key == trail.HEAD_KEY)
            .values(value=f"8 {nine}")
        )
    # The persons index still names record 9: a careless trim shows.
    assert problems(db) == [
        (9, "the persons index names a record past the chain's end")
    ]
    with db.write() as conn:
        conn.execute(delete(audit_persons).where(audit_persons.c.seq >= 9))
    assert problems(db) == []
    assert problems(db, anchor=anchor) == [(10, "the anchor record is missing")]


def test_an_export_keeps_the_chain_whole_when_times_are_out_of_order(db):
    """A record stamped earlier than the one before it (its transaction began
    first) is still inside the span of the days around it."""
    scenario(db)
    with db.write() as conn:
        # Record n began at n ms, except record 7, which began before record 6.
        conn.execute(update(audit_records).values(at=audit_records.c.seq * 1000))
        conn.execute(
            update(audit_records).where(audit_records.c.seq == 7).values(at=5500)
        )
        assert trail.span(conn, 6000, 10_001) == (6, 10)
        assert trail.span(conn, 1000, 5501) == (1, 7)
        assert trail.span(conn, 10_001, 20_000) is None


def test_fields_of_the_wrong_type_are_named_not_crashed_on(db):
    """SQLite stores any type in any column: a number for a number, bytes for
    text. verify names such records instead of failing with a traceback."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL refuses values of another type itself")
    scenario(db)
    with db.write() as conn:
        conn.execute(text("UPDATE audit_records SET customer_id = X'62' WHERE seq = 3"))
        conn.execute(
            text(
                "INSERT INTO audit_records SELECT '601a', at, actor, customer_id, "
                "operation, request_id, trace_id, purpose, outcome, persons, detail, "
                "prev_hash, hash FROM audit_records WHERE seq = 10"
            )
        )
    assert problems(db) == [
        (3, "its fields are not of their types (edited)"),
        ("601a", "it was inserted: its number is not a number"),
    ]


def test_an_export_to_the_ends_of_the_calendar_takes_everything(db, tmp_path):
    scenario(db)
    out = tmp_path / "all.jsonl"
    result = cli(
        db,
        "audit",
        "export",
        "--from",
        "0001-01-01",
        "--to",
        "9999-12-31",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 10
