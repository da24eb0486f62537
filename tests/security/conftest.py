"""The two customers every isolation test sets against each other."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from regwatch.store.engine import Database

from .isolation import World, two_customers


@pytest.fixture
def world(db: Database) -> Iterator[World]:
    with two_customers(db) as made:
        yield made
