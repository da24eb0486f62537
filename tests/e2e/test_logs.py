"""The logs of a whole scenario: structured, with ids, no secret, no code at INFO."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import structlog
from starlette.testclient import TestClient

from conftest import START
from factories import add_person, at, event, move_clock, record
from regwatch.api.app import create_app
from regwatch.audit import trail
from regwatch.audit.subject import subject_report
from regwatch.kinds import ALL_MASK
from regwatch.monitoring.customers import add_customer, rotate_secret
from regwatch.monitoring.days import publish_pending
from regwatch.register.events import EventType
from regwatch.register.restrictions import set_restricted
from regwatch.store.tables import login_failures

NS = "urn:regwatch:monitoring:v1"
CODE_LIKE = re.compile(r"\d{11}")


def soap(body: str) -> str:
    return (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        f'xmlns:r="{NS}"><s:Body>{body}</s:Body></s:Envelope>'
    )


def test_a_scenario_logs_ids_and_never_a_secret_or_a_personal_code(db):
    bank, secret = add_customer(db, "Bank", kinds=ALL_MASK)
    people = [add_person(db) for _ in range(3)]
    codes = "".join(f"<r:add>{p.personal_code}</r:add>" for p in people)

    merge = [structlog.contextvars.merge_contextvars]
    with structlog.testing.capture_logs(processors=merge) as logs:
        client = TestClient(create_app(db), headers={"Content-Type": "text/xml"})
        auth = (bank.customer_id, secret)
        client.post(
            "/soap", content=soap(f"<r:LoadClients>{codes}</r:LoadClients>"), auth=auth
        )
        client.post(
            "/soap",
            content=soap("<r:GetAllClients/>"),
            auth=(bank.customer_id, "a-wrong-secret"),
        )
        record(
            db,
            event(
                EventType.NAME_CHANGE,
                at(db, 1),
                people[0].personal_code,
                surname="Naujas",
            ),
            received_at=at(db, 1),
        )
        move_clock(db, START + timedelta(days=1))
        publish_pending(db)
        client.post(
            "/soap",
            auth=auth,
            content=soap(
                f"<r:GetClientsDataChanges><r:date>{START.date()}</r:date>"
                "</r:GetClientsDataChanges>"
            ),
        )
        client.post(
            "/soap",
            auth=auth,
            content=soap(
                "<r:GetPersonData><r:purpose>check</r:purpose><r:personalCodes>"
                f"{people[1].personal_code}</r:personalCodes></r:GetPersonData>"
            ),
        )
        client.post(
            "/soap",
            auth=auth,
            content=soap(
                "<r:GetClientsDataChanges><r:date>2031-01-01</r:date>"
                "</r:GetClientsDataChanges>"
            ),
        )

    requests_logged = [e for e in logs if e["event"] == "http_request"]
    assert len(requests_logged) == 5
    assert all(e.get("request_id") for e in requests_logged)
    assert {e.get("customer_id") for e in requests_logged} >= {bank.customer_id}
    names = {e["event"] for e in logs}
    assert {
        "clients_loaded",
        "day_published",
        "day_answer_read",
        "extract_served",
        "soap_fault",
    } <= names
    at_info = [
        e for e in logs if logging.getLevelName(e["log_level"].upper()) >= logging.INFO
    ]
    for entry in at_info:
        # Request ids are random hex and may hold 11 digits in a row.
        text = repr({k: v for k, v in entry.items() if k != "request_id"})
        assert secret not in text
        assert "a-wrong-secret" not in text
        assert not CODE_LIKE.search(text), entry
        assert not any(p.personal_code in repr(entry) for p in people), entry


WSSE = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
)


def with_token(customer_id: str, secret: str, body: str) -> str:
    return (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        f'xmlns:r="{NS}"><s:Header><wsse:Security xmlns:wsse="{WSSE}" '
        's:mustUnderstand="1"><wsse:UsernameToken>'
        f"<wsse:Username>{customer_id}</wsse:Username>"
        f"<wsse:Password>{secret}</wsse:Password>"
        "</wsse:UsernameToken></wsse:Security></s:Header>"
        f"<s:Body>{body}</s:Body></s:Envelope>"
    )


def test_a_security_scenario_logs_who_and_which_request_but_no_secret_or_code(db):
    """Logins by token, failures until delayed, a rotation, a restriction, a
    refused hostile call, an extract of a restricted person, a subject report
    and an audit check: every line has its ids, none a secret or a code."""
    bank, secret = add_customer(db, "Bank", kinds=ALL_MASK)
    people = [add_person(db) for _ in range(2)]
    codes = "".join(f"<r:add>{p.personal_code}</r:add>" for p in people)
    wrong = "not-the-secret-at-all"
    client = TestClient(create_app(db), headers={"Content-Type": "text/xml"})

    merge = [structlog.contextvars.merge_contextvars]
    with structlog.testing.capture_logs(processors=merge) as logs:
        loaded = client.post(
            "/soap",
            content=with_token(
                bank.customer_id, secret, f"<r:LoadClients>{codes}</r:LoadClients>"
            ),
        )
        assert loaded.status_code == 200
        for _ in range(6):
            client.post(
                "/soap",
                content=with_token(bank.customer_id, wrong, "<r:GetAllClients/>"),
            )
        delayed = client.post(
            "/soap", content=soap("<r:GetAllClients/>"), auth=(bank.customer_id, secret)
        )
        assert delayed.status_code == 429
        clear_login_failures(db)
        new_secret = rotate_secret(db, bank.customer_id)
        set_restricted(db, people[0].personal_code, True, reason="court order")
        client.post(
            "/soap",
            auth=(bank.customer_id, new_secret),
            content='<!DOCTYPE x [<!ENTITY e "e">]>' + soap("<r:GetAllClients/>"),
        )
        extract = client.post(
            "/soap",
            auth=(bank.customer_id, new_secret),
            content=soap(
                "<r:GetPersonData><r:purpose>check</r:purpose><r:personalCodes>"
                f"{people[0].personal_code}</r:personalCodes></r:GetPersonData>"
            ),
        )
        assert b"RESTRICTED" in extract.content
        subject_report(db, people[0].personal_code)
        assert trail.verify(db).ok

    requests_logged = [e for e in logs if e["event"] == "http_request"]
    assert len(requests_logged) == 10
    assert all(e.get("request_id") for e in requests_logged)
    assert [e["status"] for e in requests_logged] == [200] + [401] * 5 + [429] * 2 + [
        500,
        200,
    ]
    known = [e for e in requests_logged if e["status"] in (200, 500)]
    assert {e.get("customer_id") for e in known} == {bank.customer_id}
    names = [e["event"] for e in logs]
    assert names.count("login_refused") == 5
    assert "login_delayed" in names
    assert {"clients_loaded", "extract_served", "soap_fault"} <= set(names)
    faults = [e["code"] for e in logs if e["event"] == "soap_fault"]
    assert faults == ["NOT_AUTHENTICATED"] * 5 + ["LOGIN_DELAYED"] * 2 + [
        "FORBIDDEN_XML"
    ]
    for entry in logs:
        text = repr(entry)
        for hidden in (secret, new_secret, wrong):
            assert hidden not in text, entry
        level = logging.getLevelName(entry["log_level"].upper())
        if level >= logging.INFO:
            without_ids = repr({k: v for k, v in entry.items() if k != "request_id"})
            assert not CODE_LIKE.search(without_ids), entry


def clear_login_failures(db) -> None:
    """The operator's way out of the delay the test ran into: wait, or this."""
    with db.write() as conn:
        conn.execute(login_failures.delete())
