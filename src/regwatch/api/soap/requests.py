"""Operation elements, already valid against the XSD, as plain request values.

Validation has settled structure and types, so these readers only collect
element texts by name; they never need to report a shape error themselves.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from lxml import etree

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
    texts = _texts(element)
    return LoadClientsRequest(
        add=texts["add"],
        remove=texts["remove"],
        request_id=_optional(texts, "requestId"),
    )


def read_get_all_clients(element: etree._Element) -> GetAllClientsRequest:
    texts = _texts(element)
    return GetAllClientsRequest(
        page_size=_page_size(texts), page_token=_optional(texts, "pageToken")
    )


def read_get_clients_data_changes(
    element: etree._Element,
) -> GetClientsDataChangesRequest:
    texts = _texts(element)
    return GetClientsDataChangesRequest(
        day=parse_day(texts["date"][0]),
        page_size=_page_size(texts),
        page_token=_optional(texts, "pageToken"),
    )


def read_get_person_data(element: etree._Element) -> GetPersonDataRequest:
    texts = _texts(element)
    return GetPersonDataRequest(
        codes=texts["personalCodes"],
        purpose=texts["purpose"][0],
        request_id=_optional(texts, "requestId"),
    )


_DAY = re.compile(r"(\d{4})-(\d\d)-(\d\d)(?:Z|[+-]\d\d:\d\d)?")


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


def _texts(element: etree._Element) -> defaultdict[str, list[str]]:
    """Each child's text under its local name, in document order."""
    texts: defaultdict[str, list[str]] = defaultdict(list)
    for child in element:
        texts[child.tag.rpartition("}")[2]].append(child.text or "")
    return texts


def _optional(texts: dict[str, list[str]], name: str) -> str | None:
    # An empty element counts as absent: some clients send <pageToken/> for
    # "no token" rather than leaving the element out.
    values = texts.get(name)
    return values[0] if values and values[0] else None


def _page_size(texts: dict[str, list[str]]) -> int | None:
    value = _optional(texts, "pageSize")
    return None if value is None else int(value)
