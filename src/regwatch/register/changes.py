"""Kinds of change, found by comparing a record before and after, group by group."""

from __future__ import annotations

from regwatch.kinds import Kind
from regwatch.register.records import GROUP_OF_KIND, PersonRecord


def kinds_changed(before: PersonRecord, after: PersonRecord) -> int:
    """The mask of kinds whose group differs between two records of one person.

    Every group is compared by value, so a cascade (a spouse widowed by a death,
    a parent's children count after a birth) is found without the event having
    to name it.
    """
    mask = 0
    if before.personal_code != after.personal_code:
        mask |= Kind.PERSONAL_CODE.bit
    for kind, group in GROUP_OF_KIND.items():
        if before.groups.get(group) != after.groups.get(group):
            mask |= kind.bit
    return mask
