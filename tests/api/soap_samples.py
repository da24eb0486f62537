"""Builders for SOAP tests: request envelopes, answers to read, service results."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime
from typing import Any

from lxml import etree

from regwatch.api.soap.contract import NS, SOAP_ENV, schema
from regwatch.kinds import Kind
from regwatch.monitoring.models import (
    ChangesPage,
    CodeResult,
    ListEntry,
    ListPage,
    ListStatus,
    LoadResult,
    NotReturned,
    Outcome,
    PersonChanges,
    PersonExtract,
)

CUSTOMER_ID = "bank"
SECRET = "s3cret"
CODE = "39001010008"
OTHER_CODE = "49002020007"
TNS = f"{{{NS}}}"


def basic(customer_id: str = CUSTOMER_ID, secret: str = SECRET) -> str:
    pair = f"{customer_id}:{secret}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def envelope(body: str, header: str = "", *, prolog: str = "") -> bytes:
    """A SOAP 1.1 request; ``body`` may use the ``r:`` prefix for our namespace."""
    header_xml = f"<soap:Header>{header}</soap:Header>" if header else ""
    return (
        f'{prolog}<soap:Envelope xmlns:soap="{SOAP_ENV}" xmlns:r="{NS}">'
        f"{header_xml}<soap:Body>{body}</soap:Body></soap:Envelope>"
    ).encode()


def post(client: Any, body: bytes, **headers: str) -> Any:
    """POST a request the way a plain SOAP 1.1 client does."""
    sent = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
    sent.update({name.replace("_", "-"): value for name, value in headers.items()})
    return client.post("/soap", content=body, headers=sent)


def answer(response: Any) -> etree._Element:
    """The operation element of a successful response, checked against the XSD."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    element = body_element(response.content)
    assert_valid(element)
    return element


def body_element(data: bytes) -> etree._Element:
    root = etree.fromstring(data)
    assert root.tag == f"{{{SOAP_ENV}}}Envelope"
    (body,) = root
    assert body.tag == f"{{{SOAP_ENV}}}Body"
    (element,) = body
    return element


def fault(response: Any, status: int = 500) -> dict[str, str | None]:
    """faultcode, faultstring and the ServiceFault code of a fault response."""
    assert response.status_code == status, response.text
    element = body_element(response.content)
    assert element.tag == f"{{{SOAP_ENV}}}Fault"
    detail = element.find("detail")
    code = None
    if detail is not None:
        (service_fault,) = detail
        assert_valid(service_fault)
        code = service_fault.findtext(f"{TNS}code")
    return {
        "faultcode": element.findtext("faultcode"),
        "faultstring": element.findtext("faultstring"),
        "code": code,
    }


def assert_valid(element: etree._Element) -> None:
    validator = schema()
    assert validator.validate(element), validator.error_log


def texts(element: etree._Element, path: str) -> list[str]:
    """Texts of the elements at ``path`` (local names joined by '/')."""
    steps = "/".join(TNS + step for step in path.split("/"))
    return [found.text or "" for found in element.findall(steps)]


def load_result(*results: CodeResult) -> LoadResult:
    counts: dict[Outcome, int] = {}
    for result in results:
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
    return LoadResult(list(results), counts)


def list_entry(code: str = CODE, current: str | None = None) -> ListEntry:
    return ListEntry(
        personal_code=code,
        current_code=current or code,
        added_at=datetime(2026, 3, 1, 10, 30, tzinfo=UTC),
        status=ListStatus.ACTIVE,
    )


def person_changes(code: str = CODE, *kinds: Kind) -> PersonChanges:
    return PersonChanges(code, code, None, list(kinds or (Kind.NAME,)))


def changes_page(*persons: PersonChanges, day: date = date(2026, 3, 29)) -> ChangesPage:
    return ChangesPage(day, list(persons), len(persons), None)


def list_page(*entries: ListEntry) -> ListPage:
    return ListPage(list(entries), len(entries), None)


def full_extract(code: str = CODE) -> PersonExtract:
    """A returned person with every group filled, as the register gives them."""
    return PersonExtract(
        personal_code=code,
        current_code=code,
        birth_date=date(1990, 1, 1),
        sex="M",
        groups={
            "name": {"givenNames": "Jonas", "surname": "Kazlauskas"},
            "death": {"dateOfDeath": "2026-03-28"},
            "identityDocuments": [
                {
                    "type": "PASSPORT",
                    "number": "12345678",
                    "issuedOn": "2020-01-01",
                    "validUntil": "2030-01-01",
                    "status": "INVALID",
                    "invalidReason": "REPLACED",
                },
                {
                    "type": "ID_CARD",
                    "number": "87654321",
                    "issuedOn": "2025-01-01",
                    "validUntil": "2035-01-01",
                    "status": "VALID",
                    "invalidReason": None,
                },
            ],
            "declaredResidence": {
                "status": "DECLARED",
                "since": "2010-01-01",
                "address": {
                    "municipalityCode": "13",
                    "municipality": "Vilniaus miesto savivaldybė",
                    "place": "Vilnius",
                    "street": "Gedimino pr.",
                    "house": "1",
                    "flat": None,
                    "postalCode": "LT-01103",
                },
                "country": None,
            },
            "maritalStatus": {"status": "MARRIED", "since": "2015-06-20"},
            "childrenCount": 2,
            "photo": {"photoId": "ph-1", "takenOn": "2025-01-01"},
            "residencePermit": {
                "type": "TEMPORARY",
                "number": "LP-1",
                "issuedOn": "2024-01-01",
                "validUntil": "2027-01-01",
                "status": "VALID",
            },
        },
    )


def not_returned(code: str = OTHER_CODE) -> PersonExtract:
    return PersonExtract(personal_code=code, reason=NotReturned.NOT_ON_LIST)
