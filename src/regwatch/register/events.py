"""Register events and how each one applies to the mirror, cascades included.

An event names the persons it concerns by personal code and carries its data as
JSON-able values. Applying it changes records through a ``Workspace``; the
workspace remembers each record as it was before the event touched it, so the
kinds of change (changes.py) come from comparing records, never from what the
event claims to have changed.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from regwatch import codes
from regwatch.clock import day_of
from regwatch.register.records import (
    GROUP_NAMES,
    Family,
    PersonRecord,
    empty_groups,
)

SEXES = ("M", "F")
DOCUMENT_TYPES = ("ID_CARD", "PASSPORT")
DOCUMENT_STATUSES = ("VALID", "INVALID")
PERMIT_TYPES = ("TEMPORARY", "PERMANENT")
PERMIT_STATUSES = ("VALID", "REVOKED", "EXPIRED")
RESIDENCE_STATUSES = ("DECLARED", "ABROAD", "NONE")
MARITAL_STATUSES = ("SINGLE", "MARRIED", "DIVORCED", "WIDOWED")
CITIZENS = "LT"
MOST_CHILDREN = 100  # the bound of childrenCount in the feed schema


class EventType(enum.Enum):
    BIRTH = "BIRTH"
    DEATH = "DEATH"
    MARRIAGE = "MARRIAGE"
    DIVORCE = "DIVORCE"
    NAME_CHANGE = "NAME_CHANGE"
    DOCUMENT_ISSUED = "DOCUMENT_ISSUED"
    DOCUMENT_INVALIDATED = "DOCUMENT_INVALIDATED"
    PHOTO_TAKEN = "PHOTO_TAKEN"
    RESIDENCE_DECLARED = "RESIDENCE_DECLARED"
    DEPARTED_ABROAD = "DEPARTED_ABROAD"
    PERMIT_ISSUED = "PERMIT_ISSUED"
    PERMIT_RENEWED = "PERMIT_RENEWED"
    PERMIT_REVOKED = "PERMIT_REVOKED"
    PERMIT_EXPIRED = "PERMIT_EXPIRED"
    CODE_REPLACED = "CODE_REPLACED"
    FOREIGNER_ARRIVED = "FOREIGNER_ARRIVED"
    RECORD_CORRECTED = "RECORD_CORRECTED"


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


@contextmanager
def _about(subject: str) -> Iterator[None]:
    """Prefix the refusals raised inside with what, and whom, they concern."""
    try:
        yield
    except EventRefused as refusal:
        raise EventRefused(f"{subject}: {refusal}") from None


def _date(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise EventRefused(f"{key} is missing")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise EventRefused(f"{key} {value!r} is not a date") from None
    return value


def _in_life(event: RegisterEvent, persons: tuple[PersonRecord, ...], key: str) -> str:
    """A date of the event's data that must fall in the persons' lives as the
    register can know them: not before any of their births, and not after the
    day the register recorded it."""
    value = _date(event.data, key)
    when = date.fromisoformat(value)
    recorded_day = day_of(event.recorded_at)
    if when > recorded_day:
        raise EventRefused(f"{key} {value} is after the day it was recorded")
    for person in persons:
        if when < person.birth_date:
            raise EventRefused(
                f"{key} {value} is before {person.personal_code} was born "
                f"({person.birth_date.isoformat()})"
            )
    return value


def _date_or_none(data: Mapping[str, Any], key: str) -> str | None:
    return None if data.get(key) is None else _date(data, key)


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise EventRefused(f"{key} is missing")
    return value


def _text_or_none(data: Mapping[str, Any], key: str) -> str | None:
    return None if data.get(key) is None else _text(data, key)


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


def _country(data: Mapping[str, Any], key: str) -> str:
    value = _text(data, key)
    if len(value) != 2 or not value.isascii() or not value.isupper():
        raise EventRefused(f"{key} {value!r} is not a two-letter country code")
    return value


def _address(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    """An address in the shape the declaredResidence group holds, and only that."""
    address = _mapping(data, key)
    with _about(key):
        return {
            "municipalityCode": _text(address, "municipalityCode"),
            "municipality": _text(address, "municipality"),
            "place": _text(address, "place"),
            "street": _text_or_none(address, "street"),
            "house": _text_or_none(address, "house"),
            "flat": _text_or_none(address, "flat"),
            "postalCode": _text(address, "postalCode"),
        }


def _new_document(document: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": _one_of(document, "type", DOCUMENT_TYPES),
        "number": _text(document, "number"),
        "issuedOn": _date(document, "issuedOn"),
        "validUntil": _date(document, "validUntil"),
    }


def _new_permit(permit: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": _one_of(permit, "type", PERMIT_TYPES),
        "number": _text(permit, "number"),
        "issuedOn": _date(permit, "issuedOn"),
        "validUntil": _date(permit, "validUntil"),
        "status": "VALID",
    }


def _photo(photo: Mapping[str, Any]) -> dict[str, Any]:
    return {"photoId": _text(photo, "photoId"), "takenOn": _date(photo, "takenOn")}


@dataclass(frozen=True)
class _Newcomer:
    """Who a birth or an arrival adds to the register, before the record exists."""

    code: str
    sex: str
    born: date
    name: dict[str, str]


def _newcomer(data: Mapping[str, Any], role: str) -> _Newcomer:
    """The new person's identity, with a code that agrees with sex and birth date."""
    with _about(role):
        code = _text(data, "personalCode")
    with _about(f"{role} {code}"):
        newcomer = _Newcomer(
            code=code,
            sex=_one_of(data, "sex", SEXES),
            born=date.fromisoformat(_date(data, "birthDate")),
            name={
                "givenNames": _text(data, "givenNames"),
                "surname": _text(data, "surname"),
            },
        )
        _code_agrees(newcomer)
    return newcomer


def _code_agrees(newcomer: _Newcomer) -> None:
    """Refuse a code whose sex or birth date contradicts the data given with it.

    An exception code (first digit 9) states neither; a 00 month or day states
    no such part, so only the parts a code does state are compared.
    """
    code, born = newcomer.code, newcomer.born
    if codes.normalise(code) != code:
        raise EventRefused("a personal code is exactly 11 digits 0-9")
    try:
        stated_sex = codes.sex(code)
    except codes.InvalidCodeError as error:
        raise EventRefused(f"not a personal code ({error})") from None
    if stated_sex is None:
        return
    if stated_sex != newcomer.sex:
        raise EventRefused(
            f"the code is of sex {stated_sex}, the data say {newcomer.sex}"
        )

    # Each unknown part takes the given date's; what the code states must then
    # make exactly the given date (an impossible date cannot).
    month = code[3:5] if code[3:5] != "00" else f"{born.month:02d}"
    day = code[5:7] if code[5:7] != "00" else f"{born.day:02d}"
    try:
        agrees = codes.birth_date(code[:3] + month + day + code[7:]) == born
    except codes.InvalidCodeError:
        agrees = False
    if not agrees:
        raise EventRefused(
            f"the code's birth date digits {code[1:7]} (YYMMDD) disagree with "
            f"birthDate {born.isoformat()}"
        )


# --- the appliers -----------------------------------------------------------------


def _birth(workspace: Workspace, event: RegisterEvent) -> None:
    if not 1 <= len(event.persons) <= 2:
        raise EventRefused("a birth names one or two parents")
    # A parent may have died before the birth is registered: no _alive here.
    parents = [workspace.person(code) for code in event.persons]
    child = _mapping(event.data, "child")
    newborn = _newcomer(child, "the child")
    mother = next((p for p in parents if p.sex == "F"), None)
    father = next((p for p in parents if p.sex == "M"), None)
    if len(parents) == 2 and (mother is None or father is None):
        raise EventRefused("two parents of the same sex are recorded by adoption")

    groups = empty_groups()
    groups["name"] = newborn.name
    home = (mother or parents[0]).groups["declaredResidence"]
    groups["declaredResidence"] = {**home, "since": newborn.born.isoformat()}
    with _about(f"the child {newborn.code}"):
        citizenship = (
            _country(child, "citizenship")
            if child.get("citizenship") is not None
            else parents[0].citizenship
        )
    record = workspace.add_person(
        PersonRecord(
            person_id=0,
            personal_code=newborn.code,
            sex=newborn.sex,
            birth_date=newborn.born,
            citizenship=citizenship,
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
    died = _in_life(event, (deceased,), "dateOfDeath")
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
    married = _in_life(event, (a, b), "date")
    for record, other in ((a, b), (b, a)):
        record.groups["maritalStatus"] = {"status": "MARRIED", "since": married}
        record.family.spouse = other.person_id
    _set_surnames(workspace, event)


def _divorce(workspace: Workspace, event: RegisterEvent) -> None:
    a_code, b_code = _the_person(event, 2)
    a, b = workspace.person(a_code), workspace.person(b_code)
    if a.family.spouse != b.person_id or b.family.spouse != a.person_id:
        raise EventRefused(f"{a.personal_code} and {b.personal_code} are not married")
    divorced = _in_life(event, (a, b), "date")
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
    new = {
        **_new_document(_mapping(event.data, "document")),
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
        record.groups["photo"] = _photo(_mapping(event.data, "photo"))


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


def _photo_taken(workspace: Workspace, event: RegisterEvent) -> None:
    """A photo stored on its own, e.g. with an application for a document that
    is not issued yet: it becomes the person's photo."""
    (code,) = _the_person(event)
    record = _alive(workspace, code)
    with _about(f"the photo of person {code}"):
        record.groups["photo"] = _photo(_mapping(event.data, "photo"))


def _residence_declared(workspace: Workspace, event: RegisterEvent) -> None:
    (code,) = _the_person(event)
    record = _alive(workspace, code)
    record.groups["declaredResidence"] = {
        "status": "DECLARED",
        "since": _date(event.data, "since"),
        "address": _address(event.data, "address"),
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
    record.groups["residencePermit"] = _new_permit(_mapping(event.data, "permit"))


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


def _foreigner_arrived(workspace: Workspace, event: RegisterEvent) -> None:
    """A foreigner enters the register: a new person holding a valid residence
    permit and, where the event gives one, a declared residence.

    Citizenship LT is refused: a citizen does not arrive as a foreigner.
    """
    _the_person(event, 0)
    person = _mapping(event.data, "person")
    newcomer = _newcomer(person, "the arriving person")
    with _about(f"the arriving person {newcomer.code}"):
        citizenship = _country(person, "citizenship")
        if citizenship == CITIZENS:
            raise EventRefused(
                "citizenship LT: a citizen does not arrive as a foreigner"
            )
        groups = empty_groups()
        groups["name"] = newcomer.name
        groups["residencePermit"] = _new_permit(_mapping(event.data, "permit"))
        if event.data.get("residence") is not None:
            residence = _mapping(event.data, "residence")
            groups["declaredResidence"] = {
                "status": "DECLARED",
                "since": _date(residence, "since"),
                "address": _address(residence, "address"),
                "country": None,
            }
    workspace.add_person(
        PersonRecord(
            person_id=0,
            personal_code=newcomer.code,
            sex=newcomer.sex,
            birth_date=newcomer.born,
            citizenship=citizenship,
            groups=groups,
        )
    )


def _record_corrected(workspace: Workspace, event: RegisterEvent) -> None:
    """The register corrects a wrong record: each group named in ``corrections``
    is replaced, whole, by the value given.

    The correction concerns this one record and cascades to no relative:
    annulling a wrongly recorded death (``"death": null``) leaves the spouse's
    marital status as it is, a corrected marital status links or unlinks no
    spouse, and a corrected children count touches no child. Where relatives'
    records are wrong too, the register corrects each of them in its own event.
    """
    (code,) = _the_person(event)
    # A dead person's record may be corrected too (a death recorded by mistake).
    record = workspace.person(code)
    corrections = _mapping(event.data, "corrections")
    unknown = sorted(str(group) for group in corrections if group not in GROUP_NAMES)
    if unknown:
        raise EventRefused(
            f"the corrections of person {code} name unknown groups: "
            f"{', '.join(unknown)}; the groups are {', '.join(GROUP_NAMES)}"
        )
    if not corrections:
        raise EventRefused(f"the corrections of person {code} correct nothing")
    if event.data.get("reason") is not None:
        with _about(f"the correction of person {code}"):
            _text(event.data, "reason")

    corrected: dict[str, Any] = {}
    for group in GROUP_NAMES:
        if group in corrections:
            with _about(f"the {group} correction of person {code}"):
                corrected[group] = _CORRECTED_GROUP[group](corrections[group])
    if corrected.get("residencePermit") is not None and not record.is_foreigner:
        raise EventRefused(f"person {code} is a citizen; permits are for foreigners")
    record.groups.update(corrected)


# --- whole groups, as a correction gives them ----------------------------------------


def _object(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise EventRefused("the value is not an object")
    return value


def _nullable(
    check: Callable[[Mapping[str, Any]], Any],
) -> Callable[[Any], Any]:
    def checked(value: Any) -> Any:
        return None if value is None else check(_object(value))

    return checked


def _name_group(value: Any) -> dict[str, Any]:
    name = _object(value)
    return {"givenNames": _text(name, "givenNames"), "surname": _text(name, "surname")}


def _death_group(death: Mapping[str, Any]) -> dict[str, Any]:
    return {"dateOfDeath": _date(death, "dateOfDeath")}


def _documents_group(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise EventRefused("the value is not a list of documents")
    documents = []
    for item in value:
        document = _object(item)
        documents.append(
            {
                **_new_document(document),
                "status": _one_of(document, "status", DOCUMENT_STATUSES),
                "invalidReason": _text_or_none(document, "invalidReason"),
            }
        )
    return documents


def _residence_group(value: Any) -> dict[str, Any]:
    residence = _object(value)
    status = _one_of(residence, "status", RESIDENCE_STATUSES)
    address, country = residence.get("address"), residence.get("country")
    # Each status has its own place: an address at home, a country abroad.
    if status == "DECLARED":
        address = _address(residence, "address")
        if country is not None:
            raise EventRefused("a residence DECLARED in Lithuania has no country")
    elif status == "ABROAD":
        country = _country(residence, "country")
        if address is not None:
            raise EventRefused("a residence ABROAD has no Lithuanian address")
    elif address is not None or country is not None:
        raise EventRefused("a residence of status NONE has neither address nor country")
    return {
        "status": status,
        "since": _date_or_none(residence, "since"),
        "address": address,
        "country": country,
    }


def _marital_group(value: Any) -> dict[str, Any]:
    marital = _object(value)
    return {
        "status": _one_of(marital, "status", MARITAL_STATUSES),
        "since": _date_or_none(marital, "since"),
    }


def _children_group(value: Any) -> int:
    # bool is an int in Python; a true or false count is a feed's mistake.
    if isinstance(value, bool) or not isinstance(value, int):
        raise EventRefused(f"the count {value!r} is not a whole number")
    if not 0 <= value <= MOST_CHILDREN:
        raise EventRefused(f"the count {value} is not 0-{MOST_CHILDREN}")
    return value


def _permit_group(permit: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **_new_permit(permit),
        "status": _one_of(permit, "status", PERMIT_STATUSES),
    }


_CORRECTED_GROUP: dict[str, Callable[[Any], Any]] = {
    "name": _name_group,
    "death": _nullable(_death_group),
    "identityDocuments": _documents_group,
    "declaredResidence": _residence_group,
    "maritalStatus": _marital_group,
    "childrenCount": _children_group,
    "photo": _nullable(_photo),
    "residencePermit": _nullable(_permit_group),
}


_APPLIERS: dict[EventType, Callable[[Workspace, RegisterEvent], None]] = {
    EventType.BIRTH: _birth,
    EventType.DEATH: _death,
    EventType.MARRIAGE: _marriage,
    EventType.DIVORCE: _divorce,
    EventType.NAME_CHANGE: _name_change,
    EventType.DOCUMENT_ISSUED: _document_issued,
    EventType.DOCUMENT_INVALIDATED: _document_invalidated,
    EventType.PHOTO_TAKEN: _photo_taken,
    EventType.RESIDENCE_DECLARED: _residence_declared,
    EventType.DEPARTED_ABROAD: _departed_abroad,
    EventType.PERMIT_ISSUED: _permit_issued,
    EventType.PERMIT_RENEWED: _permit_renewed,
    EventType.PERMIT_REVOKED: _permit_ended("REVOKED"),
    EventType.PERMIT_EXPIRED: _permit_ended("EXPIRED"),
    EventType.CODE_REPLACED: _code_replaced,
    EventType.FOREIGNER_ARRIVED: _foreigner_arrived,
    EventType.RECORD_CORRECTED: _record_corrected,
}
