"""Fixtures shared by every test: a fresh database on a simulated clock."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import settings

from regwatch.clock import VILNIUS
from regwatch.config import Settings
from regwatch.setup import initialise, open_database
from regwatch.store.engine import Database

# No per-example deadline: a busy CI machine must not turn slowness into
# failures (speed is measured in bench/, never in tests).
settings.register_profile("regwatch", deadline=None)
settings.load_profile("regwatch")

START = datetime(2026, 11, 2, 0, 0, tzinfo=VILNIUS)  # a Monday (All Souls' Day)


@pytest.fixture
def db(tmp_path) -> Database:
    config = Settings(database_url=f"sqlite:///{tmp_path / 'regwatch.db'}")
    database = open_database(config)
    initialise(database, simulated_clock=START)
    yield database
    database.engine.dispose()
