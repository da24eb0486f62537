"""Operation elements, already valid against the XSD, as plain request values.

Validation has settled structure and types, so these readers only collect
element texts by name; they never need to report a shape error themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from lxml import etree

from regwatch.api.soap.contract import NS
from regwatch.errors import MalformedRequest


@dataclass(frozen=True)
class LoadClientsRequest:
    add: list[str]
    remove: list[str]
    request_id: str | None


@dataclass(frozen=True)
class GetAllClientsRequest:
    page_size: int | None
    page_token: str | None


@dataclass(frozen=True)
class GetClientsDataChangesRequest:
    day: date
    page_size: int | None
    page_token: str | None


@dataclass(frozen=True)
class GetPersonDataRequest:
    codes: list[str]
    purpose: str
    request_id: str | None


def read_load_clients(element: etree._Element) -> LoadClientsRequest:
    return LoadClientsRequest(
        add=_all(element, "add"),
        remove=_all(element, "remove"),
        request_id=_optional(element, "requestId"),
    )


def read_get_all_clients(element: etree._Element) -> GetAllClientsRequest:
    return GetAllClientsRequest(
        page_size=_page_size(element), page_token=_optional(element, "pageToken")
    )


def read_get_clients_data_changes(
    element: etree._Element,
) -> GetClientsDataChangesRequest:
    return GetClientsDataChangesRequest(
        day=parse_day(_required(element, "date")),
        page_size=_page_size(element),
        page_token=_optional(element, "pageToken"),
    )


def read_get_person_data(element: etree._Element) -> GetPersonDataRequest:
    return GetPersonDataRequest(
        codes=_all(element, "personalCodes"),
        purpose=_required(element, "purpose"),
        request_id=_optional(element, "requestId"),
    )


_DAY = re.compile(r"(\d{4})-(\d\d)-(\d\d)(?:Z|[+-]\d\d:\d\d)?", re.ASCII)


def parse_day(text: str) -> date:
    """The calendar day an ``xs:date`` names.

    A time-zone suffix is dropped, never applied: the service's days are
    Vilnius days, and ``2026-03-29+02:00`` still means the 29th. Dates that XML
    Schema allows but a day cannot be (year 0, five-digit or negative years)
    are refused with a fault instead of an exception.
    """
    match = _DAY.fullmatch(text.strip())
    try:
        if match is None:
            raise ValueError
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        raise MalformedRequest(f"date {text.strip()!r} is not a calendar day") from None


def _all(element: etree._Element, name: str) -> list[str]:
    """The texts of every child of that name, in document order."""
    # iterchildren filters by tag inside lxml: on a 100,000-code list this is
    # about twice as fast as looking at each child's tag in Python.
    return [child.text or "" for child in element.iterchildren(f"{{{NS}}}{name}")]


def _required(element: etree._Element, name: str) -> str:
    return element.findtext(f"{{{NS}}}{name}") or ""


def _optional(element: etree._Element, name: str) -> str | None:
    # An empty element counts as absent: some clients send <pageToken/> for
    # "no token" rather than leaving the element out.
    return element.findtext(f"{{{NS}}}{name}") or None


def _page_size(element: etree._Element) -> int | None:
    value = _optional(element, "pageSize")
    if value is None:
        return None
    # The XSD has checked the range but not the leading zeros, and Python
    # will not convert a string of more than 4,300 digits to a number.
    digits = value.strip().lstrip("+").lstrip("0")
    return int(digits or "0")
