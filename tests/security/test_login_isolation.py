"""Logging in: nothing tells B which ids are customers' or whose secret is whose.

Crossed credentials are refused in the words used for an unknown id, and a
wrong secret for a real id costs the service the same work as an unknown id:
one password-hash check and the same SQL statements (counted, never timed).
"""

from __future__ import annotations

import itertools
from typing import Any

from regwatch.monitoring import customers, logins

from .isolation import fault, get_all_clients, post, statements


def test_crossed_credentials_are_refused_like_an_unknown_customer(world):
    a, b = world.a, world.b

    crossed = [
        post(world.client, (b.customer_id, a.secret), get_all_clients()),
        post(world.client, (a.customer_id, b.secret), get_all_clients()),
    ]
    unknown = post(world.client, ("gama", a.secret), get_all_clients())

    refused = fault(unknown)
    assert (refused.status, refused.code) == (401, "NOT_AUTHENTICATED")
    for response in crossed:
        assert fault(response) == refused
        challenge = response.headers["www-authenticate"]
        assert challenge == unknown.headers["www-authenticate"]


class CountingHasher:
    """The password hasher, counting the secrets it verifies."""

    def __init__(self, hasher: Any) -> None:
        self._hasher = hasher
        self.verified = 0

    def verify(self, *args: Any, **kwargs: Any) -> Any:
        self.verified += 1
        return self._hasher.verify(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._hasher, name)


def test_a_wrong_secret_costs_what_an_unknown_customer_id_costs(world, monkeypatch):
    hasher = CountingHasher(customers._HASHER)
    monkeypatch.setattr(customers, "_HASHER", hasher)
    # Stale failure counts are purged every so many failures in the process,
    # whoever fails: counted afresh here, so that no purge falls in between.
    monkeypatch.setattr(logins, "_recorded", itertools.count(1))
    post(world.client, ("delta", "warming-up-secret"), get_all_clients())

    def cost(customer_id: str, secret: str) -> tuple[int, list[str]]:
        before = hasher.verified
        with statements(world.db) as seen:
            response = post(world.client, (customer_id, secret), get_all_clients())
        assert response.status_code == 401
        return hasher.verified - before, seen

    known = cost(world.b.customer_id, world.a.secret)
    unknown = cost("gama", world.a.secret)

    assert known[0] == unknown[0] == 1
    assert known[1] == unknown[1]
