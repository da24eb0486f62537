"""What the monitoring services return: plain values, free of any wire format."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from regwatch.kinds import Kind


@dataclass(frozen=True)
class Customer:
    customer_id: str
    name: str
    company_code: str | None
    kinds: int  # mask of the kinds the contract covers


class Outcome(enum.Enum):
    ADDED = "ADDED"
    ALREADY_ON_LIST = "ALREADY_ON_LIST"
    REMOVED = "REMOVED"
    NOT_ON_LIST = "NOT_ON_LIST"
    INVALID_CODE = "INVALID_CODE"
    NOT_FOUND = "NOT_FOUND"


@dataclass(frozen=True)
class CodeResult:
    personal_code: str  # as the caller sent it
    outcome: Outcome
    current_code: str | None = None  # the person's current code, when resolved


@dataclass(frozen=True)
class LoadResult:
    results: list[CodeResult]
    counts: dict[Outcome, int]


class ListStatus(enum.Enum):
    ACTIVE = "ACTIVE"
    DECEASED = "DECEASED"


@dataclass(frozen=True)
class ListEntry:
    personal_code: str  # as loaded
    current_code: str
    added_at: datetime
    status: ListStatus


@dataclass(frozen=True)
class ListPage:
    entries: list[ListEntry]
    total: int
    next_page_token: str | None


@dataclass(frozen=True)
class PersonChanges:
    personal_code: str  # as loaded on the list
    current_code: str
    previous_code: str | None  # where PERSONAL_CODE changed that day
    kinds: list[Kind]


@dataclass(frozen=True)
class ChangesPage:
    day: date
    persons: list[PersonChanges]
    total: int
    next_page_token: str | None


class NotReturned(enum.Enum):
    INVALID_CODE = "INVALID_CODE"
    NOT_FOUND = "NOT_FOUND"
    NOT_ON_LIST = "NOT_ON_LIST"
    RESTRICTED = "RESTRICTED"


@dataclass(frozen=True)
class PersonExtract:
    personal_code: str  # as requested
    current_code: str | None = None
    reason: NotReturned | None = None  # None when returned
    birth_date: date | None = None
    sex: str | None = None
    # Only the groups the contract covers, under their wire names.
    groups: dict[str, Any] = field(default_factory=dict)

    @property
    def returned(self) -> bool:
        return self.reason is None
