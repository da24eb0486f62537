"""Register events and how each one applies to the mirror, cascades included.

An event names the persons it concerns by personal code and carries its data as
JSON-able values. Applying it changes records through a ``Workspace``; the
workspace remembers each record as it was before the event touched it, so the
kinds of change (changes.py) come from comparing records, never from what the
event claims to have changed.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from regwatch.register.records import Family, PersonRecord, empty_groups

SEXES = ("M", "F")
DOCUMENT_TYPES = ("ID_CARD", "PASSPORT")
PERMIT_TYPES = ("TEMPORARY", "PERMANENT")


class EventType(enum.Enum):
    BIRTH = "BIRTH"
    DEATH = "DEATH"
    MARRIAGE = "MARRIAGE"
    DIVORCE = "DIVORCE"
    NAME_CHANGE = "NAME_CHANGE"
    DOCUMENT_ISSUED = "DOCUMENT_ISSUED"
    DOCUMENT_INVALIDATED = "DOCUMENT_INVALIDATED"
    RESIDENCE_DECLARED = "RESIDENCE_DECLARED"
    DEPARTED_ABROAD = "DEPARTED_ABROAD"
    PERMIT_ISSUED = "PERMIT_ISSUED"
    PERMIT_RENEWED = "PERMIT_RENEWED"
    PERMIT_REVOKED = "PERMIT_REVOKED"
    PERMIT_EXPIRED = "PERMIT_EXPIRED"
    CODE_REPLACED = "CODE_REPLACED"


@dataclass(frozen=True)
class RegisterEvent:
    event_id: str
    type: EventType
    recorded_at: datetime  # when the register recorded it (timezone-aware)
    persons: tuple[str, ...]  # personal codes of the persons it concerns
    data: Mapping[str, Any]


class EventRefused(ValueError):
    """An event that cannot apply to the mirror as it stands."""


class Workspace(Protocol):
    """Records as an event sees them; every record handed out may be changed."""

    def person(self, code: str) -> PersonRecord:
        """The person a code (current or earlier) belongs to; EventRefused if none."""
        ...

    def person_by_id(self, person_id: int) -> PersonRecord: ...

    def add_person(self, record: PersonRecord) -> PersonRecord:
        """Register a new person (record.person_id is assigned here)."""
        ...

    def replace_code(self, record: PersonRecord, new_code: str) -> None:
        """Give a person a new code; the old one keeps pointing to them."""
        ...


def apply_event(workspace: Workspace, event: RegisterEvent) -> None:
    """Apply one event to the records it concerns and to those it cascades to."""
    _APPLIERS[event.type](workspace, event)


# --- helpers ----------------------------------------------------------------


def _alive(workspace: Workspace, code: str) -> PersonRecord:
    record = workspace.person(code)
    if record.groups["death"] is not None:
        raise EventRefused(f"person {code} is dead")
    return record


def _the_person(event: RegisterEvent, count: int = 1) -> tuple[str, ...]:
    if len(event.persons) != count:
        raise EventRefused(
            f"{event.type.value} concerns {count} person(s), got {len(event.persons)}"
        )
    return event.persons


def _date(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise EventRefused(f"{key} is missing")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise EventRefused(f"{key} {value!r} is not a date") from None
    return value


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise EventRefused(f"{key} is missing")
    return value


def _set_surnames(workspace: Workspace, event: RegisterEvent) -> None:
    """New surnames of the event's own persons (a marriage or a divorce)."""
    surnames = event.data.get("surnames") or {}
    if not isinstance(surnames, Mapping):
        raise EventRefused("surnames must map personal codes to surnames")
    for code, surname in surnames.items():
        if code not in event.persons:
            raise EventRefused(f"surnames names {code}, who is not in this event")
        if not isinstance(surname, str) or not surname.strip():
            raise EventRefused(f"the new surname of {code} is empty")
        record = workspace.person(code)
        record.groups["name"] = {**record.groups["name"], "surname": surname}


def _one_of(data: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = _text(data, key)
    if value not in allowed:
        raise EventRefused(f"{key} {value!r} is not one of {', '.join(allowed)}")
    return value


def _mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise EventRefused(f"{key} is missing or not an object")
    return value


# --- the appliers -----------------------------------------------------------------


def _birth(workspace: Workspace, event: RegisterEvent) -> None:
    if not 1 <= len(event.persons) <= 2:
        raise EventRefused("a birth names one or two parents")
    # A parent may have died before the birth is registered: no _alive here.
    parents = [workspace.person(code) for code in event.persons]
    child = _mapping(event.data, "child")
    born = _date(child, "birthDate")
    mother = next((p for p in parents if p.sex == "F"), None)
    father = next((p for p in parents if p.sex == "M"), None)
    if len(parents) == 2 and (mother is None or father is None):
        raise EventRefused("two parents of the same sex are recorded by adoption")

    groups = empty_groups()
    groups["name"] = {
        "givenNames": _text(child, "givenNames"),
        "surname": _text(child, "surname"),
    }
    home = (mother or parents[0]).groups["declaredResidence"]
    groups["declaredResidence"] = {**home, "since": born}
    record = workspace.add_person(
        PersonRecord(
            person_id=0,
            personal_code=_text(child, "personalCode"),
            sex=_one_of(child, "sex", SEXES),
            birth_date=date.fromisoformat(born),
            citizenship=child.get("citizenship") or parents[0].citizenship,
            groups=groups,
            family=Family(
                mother=mother.person_id if mother else None,
                father=father.person_id if father else None,
            ),
        )
    )
    for parent in parents:
        parent.groups["childrenCount"] += 1
        parent.family.children.append(record.person_id)


def _death(workspace: Workspace, event: RegisterEvent) -> None:
    (code,) = _the_person(event)
    deceased = _alive(workspace, code)
    died = _date(event.data, "dateOfDeath")
    deceased.groups["death"] = {"dateOfDeath": died}
    if deceased.family.spouse is not None:
        spouse = workspace.person_by_id(deceased.family.spouse)
        spouse.groups["maritalStatus"] = {"status": "WIDOWED", "since": died}
        spouse.family.spouse = None
        deceased.family.spouse = None


def _marriage(workspace: Workspace, event: RegisterEvent) -> None:
    a_code, b_code = _the_person(event, 2)
    a, b = _alive(workspace, a_code), _alive(workspace, b_code)
    if a.person_id == b.person_id:
        raise EventRefused("a person cannot marry themselves")
    for record in (a, b):
        if record.groups["maritalStatus"]["status"] == "MARRIED":
            raise EventRefused(f"person {record.personal_code} is already married")
    married = _date(event.data, "date")
    for record, other in ((a, b), (b, a)):
        record.groups["maritalStatus"] = {"status": "MARRIED", "since": married}
        record.family.spouse = other.person_id
    _set_surnames(workspace, event)


def _divorce(workspace: Workspace, event: RegisterEvent) -> None:
    a_code, b_code = _the_person(event, 2)
    a, b = workspace.person(a_code), workspace.person(b_code)
    if a.family.spouse != b.person_id or b.family.spouse != a.person_id:
        raise EventRefused(f"{a.personal_code} and {b.personal_code} are not married")
    divorced = _date(event.data, "date")
    for record in (a, b):
        record.groups["maritalStatus"] = {"status": "DIVORCED", "since": divorced}
        record.family.spouse = None
    _set_surnames(workspace, event)


def _name_change(workspace: Workspace, event: RegisterEvent) -> None:
    (code,) = _the_person(event)
    record = _alive(workspace, code)
    name = dict(record.groups["name"])
    if not event.data.get("givenNames") and not event.data.get("surname"):
        raise EventRefused("a name change gives givenNames, surname or both")
    for key in ("givenNames", "surname"):
        if event.data.get(key):
            name[key] = _text(event.data, key)
    record.groups["name"] = name


def _document_issued(workspace: Workspace, event: RegisterEvent) -> None:
    (code,) = _the_person(event)
    record = _alive(workspace, code)
    document = _mapping(event.data, "document")
    new = {
        "type": _one_of(document, "type", DOCUMENT_TYPES),
        "number": _text(document, "number"),
        "issuedOn": _date(document, "issuedOn"),
        "validUntil": _date(document, "validUntil"),
        "status": "VALID",
        "invalidReason": None,
    }
    # A new document of a type replaces the valid one of that type.
    documents = [
        {**doc, "status": "INVALID", "invalidReason": "REPLACED"}
        if doc["type"] == new["type"] and doc["status"] == "VALID"
        else doc
        for doc in record.groups["identityDocuments"]
    ]
    record.groups["identityDocuments"] = [*documents, new]
    if event.data.get("photo") is not None:
        photo = _mapping(event.data, "photo")
        record.groups["photo"] = {
            "photoId": _text(photo, "photoId"),
            "takenOn": _date(photo, "takenOn"),
        }


def _document_invalidated(workspace: Workspace, event: RegisterEvent) -> None:
    (code,) = _the_person(event)
    record = workspace.person(code)
    number = _text(event.data, "number")
    reason = _text(event.data, "reason")
    documents = record.groups["identityDocuments"]
    matches = [d for d in documents if d["number"] == number and d["status"] == "VALID"]
    if not matches:
        raise EventRefused(f"person {code} has no valid document {number}")
    record.groups["identityDocuments"] = [
        {**doc, "status": "INVALID", "invalidReason": reason}
        if doc["number"] == number and doc["status"] == "VALID"
        else doc
        for doc in documents
    ]


def _residence_declared(workspace: Workspace, event: RegisterEvent) -> None:
    (code,) = _the_person(event)
    record = _alive(workspace, code)
    address = _mapping(event.data, "address")
    record.groups["declaredResidence"] = {
        "status": "DECLARED",
        "since": _date(event.data, "since"),
        "address": dict(address),
        "country": None,
    }


def _departed_abroad(workspace: Workspace, event: RegisterEvent) -> None:
    (code,) = _the_person(event)
    record = _alive(workspace, code)
    record.groups["declaredResidence"] = {
        "status": "ABROAD",
        "since": _date(event.data, "since"),
        "address": None,
        "country": _text(event.data, "country"),
    }


def _permit_issued(workspace: Workspace, event: RegisterEvent) -> None:
    (code,) = _the_person(event)
    record = _alive(workspace, code)
    if not record.is_foreigner:
        raise EventRefused(f"person {code} is a citizen; permits are for foreigners")
    permit = _mapping(event.data, "permit")
    record.groups["residencePermit"] = {
        "type": _one_of(permit, "type", PERMIT_TYPES),
        "number": _text(permit, "number"),
        "issuedOn": _date(permit, "issuedOn"),
        "validUntil": _date(permit, "validUntil"),
        "status": "VALID",
    }


def _permit_renewed(workspace: Workspace, event: RegisterEvent) -> None:
    (code,) = _the_person(event)
    if workspace.person(code).groups["residencePermit"] is None:
        raise EventRefused(f"person {code} has no residence permit to renew")
    _permit_issued(workspace, event)


def _permit_ended(status: str) -> Callable[[Workspace, RegisterEvent], None]:
    def apply(workspace: Workspace, event: RegisterEvent) -> None:
        (code,) = _the_person(event)
        record = workspace.person(code)
        permit = record.groups["residencePermit"]
        if permit is None or permit["status"] != "VALID":
            raise EventRefused(f"person {code} has no valid residence permit")
        record.groups["residencePermit"] = {**permit, "status": status}

    return apply


def _code_replaced(workspace: Workspace, event: RegisterEvent) -> None:
    (code,) = _the_person(event)
    record = workspace.person(code)
    workspace.replace_code(record, _text(event.data, "newCode"))


_APPLIERS: dict[EventType, Callable[[Workspace, RegisterEvent], None]] = {
    EventType.BIRTH: _birth,
    EventType.DEATH: _death,
    EventType.MARRIAGE: _marriage,
    EventType.DIVORCE: _divorce,
    EventType.NAME_CHANGE: _name_change,
    EventType.DOCUMENT_ISSUED: _document_issued,
    EventType.DOCUMENT_INVALIDATED: _document_invalidated,
    EventType.RESIDENCE_DECLARED: _residence_declared,
    EventType.DEPARTED_ABROAD: _departed_abroad,
    EventType.PERMIT_ISSUED: _permit_issued,
    EventType.PERMIT_RENEWED: _permit_renewed,
    EventType.PERMIT_REVOKED: _permit_ended("REVOKED"),
    EventType.PERMIT_EXPIRED: _permit_ended("EXPIRED"),
    EventType.CODE_REPLACED: _code_replaced,
}
