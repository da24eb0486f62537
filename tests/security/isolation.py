"""Two real customers over one real database, called through the HTTP app.

The test modules of this folder have customer B try everything against customer
A. This module builds that world and speaks SOAP to it the way a client does:
request bodies, answers and faults, and what the database holds afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from lxml import etree
from sqlalchemy import event as sql_event
from sqlalchemy import select
from starlette.testclient import TestClient

from factories import add_person, at, event, move_clock, record
from regwatch.api.app import create_app
from regwatch.api.soap.contract import NS, SOAP_ENV
from regwatch.clock import VILNIUS
from regwatch.kinds import ALL_MASK
from regwatch.monitoring.customers import add_customer
from regwatch.monitoring.days import publish_pending
from regwatch.register.events import EventType
from regwatch.register.records import PersonRecord
from regwatch.store.engine import Database
from regwatch.store.tables import api_requests, audit_persons, audit_records, charges

R = {"r": NS}
PURPOSE = "contract renewal"
# What stands in for a personal code when two answers are compared.
CODE = "<personal code>"


@dataclass(frozen=True)
class Party:
    customer_id: str
    secret: str

    @property
    def auth(self) -> tuple[str, str]:
        return self.customer_id, self.secret


@dataclass
class World:
    """Two customers over one database, and the persons they follow.

    ``a_only`` are on A's list only, ``b_only`` on B's only, ``shared`` on both,
    and ``nobody`` are in the register but on no list.
    """

    db: Database
    client: TestClient
    a: Party
    b: Party
    a_only: list[PersonRecord]
    b_only: list[PersonRecord]
    shared: PersonRecord
    nobody: list[PersonRecord]

    def call(self, who: Party, operation: str, **headers: str) -> httpx.Response:
        return post(self.client, who.auth, operation, **headers)


@contextmanager
def two_customers(db: Database) -> Iterator[World]:
    """A and B with their lists loaded through the app, and persons to spare."""
    # Ids of the same length: the token tests swap one for the other in place.
    alfa, alfa_secret = add_customer(db, "Alfa", kinds=ALL_MASK)
    beta, beta_secret = add_customer(db, "Beta", kinds=ALL_MASK)
    assert (alfa.customer_id, beta.customer_id) == ("alfa", "beta")
    a_only = [add_person(db) for _ in range(3)]
    b_only = [add_person(db, sex="F") for _ in range(2)]
    shared = add_person(db)
    nobody = [add_person(db) for _ in range(4)]

    with TestClient(create_app(db)) as client:
        made = World(
            db,
            client,
            Party(alfa.customer_id, alfa_secret),
            Party(beta.customer_id, beta_secret),
            a_only,
            b_only,
            shared,
            nobody,
        )
        for who, persons in ((made.a, [*a_only, shared]), (made.b, [*b_only, shared])):
            loaded = ok(made.call(who, load_clients(add=codes_of(persons))))
            assert texts(loaded, "r:result/r:outcome") == ["ADDED"] * len(persons)
        yield made


# --- SOAP on the wire ---------------------------------------------------------


def post(
    client: TestClient, auth: tuple[str, str], operation: str, **headers: str
) -> httpx.Response:
    body = (
        f'<s:Envelope xmlns:s="{SOAP_ENV}" xmlns:r="{NS}">'
        f"<s:Body>{operation}</s:Body></s:Envelope>"
    )
    return client.post(
        "/soap",
        content=body.encode(),
        auth=auth,
        headers={"Content-Type": "text/xml; charset=utf-8", **headers},
    )


def leaf(name: str, value: object | None) -> str:
    return "" if value is None else f"<r:{name}>{value}</r:{name}>"


def load_clients(
    add: Sequence[str] = (), remove: Sequence[str] = (), request_id: str | None = None
) -> str:
    return (
        "<r:LoadClients>"
        + leaf("requestId", request_id)
        + "".join(leaf("add", code) for code in add)
        + "".join(leaf("remove", code) for code in remove)
        + "</r:LoadClients>"
    )


def get_all_clients(page_size: int | None = None, token: str | None = None) -> str:
    return (
        "<r:GetAllClients>"
        + leaf("pageSize", page_size)
        + leaf("pageToken", token)
        + "</r:GetAllClients>"
    )


def get_changes(
    day: date, page_size: int | None = None, token: str | None = None
) -> str:
    return (
        "<r:GetClientsDataChanges>"
        + leaf("date", day.isoformat())
        + leaf("pageSize", page_size)
        + leaf("pageToken", token)
        + "</r:GetClientsDataChanges>"
    )


def get_person_data(
    codes: list[str], purpose: str = PURPOSE, request_id: str | None = None
) -> str:
    return (
        "<r:GetPersonData>"
        + leaf("requestId", request_id)
        + leaf("purpose", purpose)
        + "".join(leaf("personalCodes", code) for code in codes)
        + "</r:GetPersonData>"
    )


def ok(response: httpx.Response) -> etree._Element:
    """The operation element of a successful answer."""
    assert response.status_code == 200, response.text
    (element,) = etree.fromstring(response.content).find(f"{{{SOAP_ENV}}}Body")
    return element


@dataclass(frozen=True)
class Fault:
    status: int
    code: str | None
    message: str
    body: bytes


def fault(response: httpx.Response) -> Fault:
    assert response.status_code in (401, 500), response.text
    (element,) = etree.fromstring(response.content).find(f"{{{SOAP_ENV}}}Body")
    assert element.tag == f"{{{SOAP_ENV}}}Fault"
    return Fault(
        response.status_code,
        element.findtext("detail/r:ServiceFault/r:code", namespaces=R),
        element.findtext("faultstring") or "",
        response.content,
    )


def texts(element: etree._Element, path: str) -> list[str]:
    return [found.text for found in element.iterfind(path, namespaces=R)]


def codes_of(persons: list[PersonRecord]) -> list[str]:
    return [person.personal_code for person in persons]


def masked(body: bytes, *codes: str) -> bytes:
    """An answer with the given personal codes blotted out, to compare two."""
    for code in codes:
        body = body.replace(code.encode(), CODE.encode())
    return body


def walk(
    world: World, who: Party, page: Callable[[str | None], str]
) -> list[etree._Element]:
    """Every page of a paged walk, as operation elements."""
    pages: list[etree._Element] = []
    token = None
    while True:
        pages.append(ok(world.call(who, page(token))))
        token = pages[-1].findtext("r:nextPageToken", namespaces=R)
        if token is None:
            return pages


# --- the register's days ------------------------------------------------------


def today(db: Database) -> date:
    return at(db, 0).astimezone(VILNIUS).date()


def rename(db: Database, *persons: PersonRecord) -> None:
    """A name change for each person, an hour after the clock."""
    record(
        db,
        *(
            event(EventType.NAME_CHANGE, at(db, 1), p.personal_code, surname="Nauja")
            for p in persons
        ),
    )


def end_day(db: Database) -> date:
    """Move to the next day and publish the one that ended; return that one."""
    ended = today(db)
    next_start = datetime.combine(ended + timedelta(days=1), datetime.min.time())
    move_clock(db, next_start.replace(tzinfo=VILNIUS))
    assert [p.day for p in publish_pending(db)] == [ended]
    return ended


# --- what the database holds --------------------------------------------------


def charged(db: Database, customer_id: str) -> set[tuple[str, int]]:
    """(item, person_id) of every charge of the customer."""
    with db.read() as conn:
        rows = conn.execute(
            select(charges.c.item, charges.c.person_id).where(
                charges.c.customer_id == customer_id
            )
        )
        return {(item, person_id) for item, person_id in rows}


def handed_over(db: Database, customer_id: str) -> set[int]:
    """Persons the audit trail says were given to the customer, by person_id."""
    with db.read() as conn:
        rows = conn.execute(
            select(audit_persons.c.person_id)
            .join(audit_records, audit_records.c.seq == audit_persons.c.seq)
            .where(audit_records.c.customer_id == customer_id)
            .where(audit_persons.c.kinds != 0)  # named, but given nothing
        )
        return set(rows.scalars())


def stored_requests(db: Database, customer_id: str) -> list[tuple]:
    with db.read() as conn:
        rows = conn.execute(
            select(api_requests)
            .where(api_requests.c.customer_id == customer_id)
            .order_by(api_requests.c.request_id)
        )
        return [tuple(row) for row in rows]


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The text of every SQL statement run on the database inside the block."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    sql_event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sql_event.remove(db.engine, "before_cursor_execute", note)


def work(world: World, who: Party, operation: str) -> tuple[list[str], bytes]:
    """The statements one call runs, and its answer."""
    with statements(world.db) as seen:
        response = world.call(who, operation)
    assert response.status_code == 200, response.text
    return seen, response.content


def next_token(element: etree._Element) -> str:
    token = element.findtext("r:nextPageToken", namespaces=R)
    assert token, "the page should not be the last"
    return token
