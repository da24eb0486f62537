"""A person's record in the register mirror, group by group.

The nine groups are plain JSON values under the names GetPersonData returns them
(``name``, ``death``, ``identityDocuments`` ...), so that the mirror, the export
and the extract speak one vocabulary. Two records are compared group by group by
value (see changes.py).

Group shapes (``None`` where the register holds nothing):

- ``name``: ``{"givenNames": str, "surname": str}``
- ``death``: ``{"dateOfDeath": "YYYY-MM-DD"}`` or None
- ``identityDocuments``: list of ``{"type": "PASSPORT"|"ID_CARD", "number",
  "issuedOn", "validUntil", "status": "VALID"|"INVALID", "invalidReason"}``
- ``declaredResidence``: ``{"status": "DECLARED"|"ABROAD"|"NONE", "since",
  "address": {...} or None, "country": ISO code or None}``
- ``maritalStatus``: ``{"status": "SINGLE"|"MARRIED"|"DIVORCED"|"WIDOWED",
  "since": date or None}``
- ``childrenCount``: int
- ``photo``: ``{"photoId": str, "takenOn": date}`` or None
- ``residencePermit``: ``{"type": "TEMPORARY"|"PERMANENT", "number", "issuedOn",
  "validUntil", "status": "VALID"|"REVOKED"|"EXPIRED"}`` or None
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson

from regwatch.kinds import Kind

# The group that holds each kind, by its wire name. PERSONAL_CODE is the code
# itself, kept outside the groups because it is also the person's key.
GROUP_OF_KIND: dict[Kind, str] = {
    Kind.NAME: "name",
    Kind.DEATH: "death",
    Kind.IDENTITY_DOCUMENT: "identityDocuments",
    Kind.DECLARED_RESIDENCE: "declaredResidence",
    Kind.MARITAL_STATUS: "maritalStatus",
    Kind.CHILDREN_COUNT: "childrenCount",
    Kind.PHOTO: "photo",
    Kind.RESIDENCE_PERMIT: "residencePermit",
}
GROUP_NAMES: tuple[str, ...] = tuple(GROUP_OF_KIND.values())


def empty_groups() -> dict[str, Any]:
    return {
        "name": {"givenNames": "", "surname": ""},
        "death": None,
        "identityDocuments": [],
        "declaredResidence": {
            "status": "NONE",
            "since": None,
            "address": None,
            "country": None,
        },
        "maritalStatus": {"status": "SINGLE", "since": None},
        "childrenCount": 0,
        "photo": None,
        "residencePermit": None,
    }


@dataclass
class Family:
    """Links to relatives, by person_id (internal; rendered as codes outside)."""

    spouse: int | None = None
    mother: int | None = None
    father: int | None = None
    children: list[int] = field(default_factory=list)

    def to_json(self) -> str:
        return orjson.dumps(
            {
                "spouse": self.spouse,
                "mother": self.mother,
                "father": self.father,
                "children": self.children,
            }
        ).decode()

    @classmethod
    def from_json(cls, text: str | bytes) -> Family:
        data = orjson.loads(text)
        return cls(
            spouse=data.get("spouse"),
            mother=data.get("mother"),
            father=data.get("father"),
            children=list(data.get("children") or []),
        )


@dataclass
class PersonRecord:
    person_id: int
    personal_code: str
    sex: str  # "M" or "F"
    birth_date: date
    citizenship: str  # ISO 3166-1 alpha-2; "LT" for citizens
    groups: dict[str, Any] = field(default_factory=empty_groups)
    family: Family = field(default_factory=Family)

    def copy(self) -> PersonRecord:
        return PersonRecord(
            person_id=self.person_id,
            personal_code=self.personal_code,
            sex=self.sex,
            birth_date=self.birth_date,
            citizenship=self.citizenship,
            groups=orjson.loads(orjson.dumps(self.groups)),
            family=Family(
                self.family.spouse,
                self.family.mother,
                self.family.father,
                list(self.family.children),
            ),
        )

    @property
    def died_on(self) -> date | None:
        death = self.groups.get("death")
        return date.fromisoformat(death["dateOfDeath"]) if death else None

    @property
    def is_foreigner(self) -> bool:
        return self.citizenship != "LT"

    def groups_json(self) -> str:
        return dump_groups(self.groups)


def dump_groups(groups: dict[str, Any]) -> str:
    """Canonical JSON: equal groups always give equal text (keys sorted, compact,
    UTF-8 unescaped; the same text json.dumps gives with sort_keys, compact
    separators and ensure_ascii=False, which wrote the first mirrors)."""
    return orjson.dumps(groups, option=orjson.OPT_SORT_KEYS).decode()
