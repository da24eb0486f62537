"""Fixtures for the API tests: the app over stand-in services.

The services are faked so that these tests pin the adapter (the wire, the
faults, the logs) and nothing else; the services have tests of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import create_engine
from starlette.applications import Starlette
from starlette.testclient import TestClient

from regwatch.api.app import create_app
from regwatch.config import Settings
from regwatch.errors import NotAuthenticated
from regwatch.kinds import ALL_MASK
from regwatch.monitoring import customers, days, extracts, lists
from regwatch.monitoring.models import Customer
from regwatch.store.engine import Database

from .soap_samples import (
    CUSTOMER_ID,
    SECRET,
    basic,
    changes_page,
    list_page,
    load_result,
)

CUSTOMER = Customer(CUSTOMER_ID, "Bank", None, kinds=ALL_MASK)


@dataclass
class FakeServices:
    """Stand-ins for the service functions: canned answers, recorded calls.

    Set ``error`` to make every service call raise it.
    """

    load_result: Any = field(default_factory=load_result)
    list_page: Any = field(default_factory=list_page)
    changes_page: Any = field(default_factory=changes_page)
    extracts: list[Any] = field(default_factory=list)
    error: Exception | None = None
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = field(
        default_factory=list
    )

    def authenticate(
        self, db: Database, customer_id: str, secret: str, **context: Any
    ) -> Customer:
        if (customer_id, secret) != (CUSTOMER_ID, SECRET):
            raise NotAuthenticated("unknown customer or wrong secret")
        return CUSTOMER

    def answer(self, name: str, result: Any) -> Any:
        def service(db: Database, *args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args, kwargs))
            if self.error is not None:
                raise self.error
            return getattr(self, result)

        return service


@pytest.fixture
def services(monkeypatch: pytest.MonkeyPatch) -> FakeServices:
    fake = FakeServices()
    monkeypatch.setattr(customers, "authenticate", fake.authenticate)
    monkeypatch.setattr(
        lists, "load_clients", fake.answer("load_clients", "load_result")
    )
    monkeypatch.setattr(lists, "list_clients", fake.answer("list_clients", "list_page"))
    monkeypatch.setattr(days, "day_changes", fake.answer("day_changes", "changes_page"))
    monkeypatch.setattr(extracts, "person_data", fake.answer("person_data", "extracts"))
    return fake


@pytest.fixture
def make_client(services: FakeServices) -> Iterator[Callable[..., TestClient]]:
    """A factory of authenticated test clients; keyword arguments are Settings."""
    with ExitStack() as stack:

        def make(**settings: Any) -> TestClient:
            db = app_database(Settings(database_url="sqlite://", **settings))
            client = TestClient(create_app(db), headers={"Authorization": basic()})
            return stack.enter_context(client)

        yield make


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


@pytest.fixture
def app(services: FakeServices) -> Starlette:
    """The app with default settings over the fake services, for real servers."""
    return create_app(app_database(Settings(database_url="sqlite://")))


def app_database(settings: Settings) -> Database:
    # The fakes never touch the database; /health does.
    return Database(create_engine(settings.database_url), settings=settings)
