"""The nine kinds of change and their wire names.

A set of kinds is kept as a bit mask (one bit per kind) wherever it is stored or
combined in SQL: masks OR together in Python and filter with ``&`` in SQLite and
PostgreSQL alike.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable


class Kind(enum.Enum):
    PERSONAL_CODE = "PERSONAL_CODE"
    NAME = "NAME"
    DEATH = "DEATH"
    IDENTITY_DOCUMENT = "IDENTITY_DOCUMENT"
    DECLARED_RESIDENCE = "DECLARED_RESIDENCE"
    MARITAL_STATUS = "MARITAL_STATUS"
    CHILDREN_COUNT = "CHILDREN_COUNT"
    PHOTO = "PHOTO"
    RESIDENCE_PERMIT = "RESIDENCE_PERMIT"

    @property
    def bit(self) -> int:
        return 1 << ALL_KINDS.index(self)


# Wire order: the order in which kinds are listed in every answer.
ALL_KINDS: tuple[Kind, ...] = tuple(Kind)
ALL_MASK = (1 << len(ALL_KINDS)) - 1


class UnknownKindError(ValueError):
    """A kind name that is not one of the nine."""


def parse_kinds(text: str) -> int:
    """Parse ``ALL`` or a comma-separated list of kind names into a mask."""
    text = text.strip()
    if text.upper() == "ALL":
        return ALL_MASK
    names = [part.strip().upper() for part in text.split(",") if part.strip()]
    if not names:
        raise UnknownKindError("no kind given; use ALL or names such as NAME,DEATH")
    unknown = [name for name in names if name not in Kind.__members__]
    if unknown:
        known = ", ".join(kind.value for kind in ALL_KINDS)
        raise UnknownKindError(f"unknown kind {', '.join(unknown)}; known: {known}")
    return to_mask(Kind[name] for name in names)


def to_mask(kinds: Iterable[Kind]) -> int:
    mask = 0
    for kind in kinds:
        mask |= kind.bit
    return mask


def from_mask(mask: int) -> list[Kind]:
    """The kinds in a mask, in wire order."""
    return [kind for kind in ALL_KINDS if mask & kind.bit]


def describe(mask: int) -> str:
    if mask == ALL_MASK:
        return "ALL"
    return ",".join(kind.value for kind in from_mask(mask))
