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
from regwatch.kinds import ALL_MASK
from regwatch.monitoring.customers import add_customer
from regwatch.monitoring.days import publish_pending
from regwatch.register.events import EventType

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
