"""Failed logins, counted per customer id and per client address.

After a few failures, further attempts for that customer id (or from that
address) are refused, without their secret being checked, until a delay has
passed; the delay doubles with each further failure, up to a cap. The counts
live in the database, so every API process on every machine sees the same
ones, and an attempt refused while delayed is neither checked nor counted.

The customer's cap is short: whoever knows a customer id can make that
customer's logins wait, and must not be able to lock it out for long. The
address's cap is long, and a success does not clear it, so that one address
cannot guess at many customer ids. Unknown customer ids are counted exactly
like known ones: a delay must not tell which ids exist.
"""

from __future__ import annotations

import ipaddress
import itertools
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, and_, or_, select

from regwatch.errors import LoginDelayed
from regwatch.store.sql import insert_ignoring_duplicates
from regwatch.store.tables import login_failures

CUSTOMER = "customer"
ADDRESS = "address"

_SECOND = 1_000_000  # stored times are microseconds
_KEY_LENGTH = 128


@dataclass(frozen=True)
class Policy:
    free_failures: int  # failures before the first delay
    first_delay: int  # seconds, after the last free failure
    max_delay: int  # seconds
    forget_after: int  # seconds without a failure after which the count restarts


POLICIES = {
    CUSTOMER: Policy(free_failures=5, first_delay=2, max_delay=60, forget_after=900),
    ADDRESS: Policy(free_failures=20, first_delay=2, max_delay=900, forget_after=3600),
}

# Rows nobody has failed on for longer than their scope remembers are removed
# now and then, by whichever process happens to record a failure.
_PURGE_EVERY = 100
_recorded = itertools.count(1)


Key = tuple[str, str]  # (scope, key)


def keys_for(customer_id: str, address: str | None) -> list[Key]:
    """The counters one attempt touches, in the order rows are locked."""
    keys = [(CUSTOMER, customer_id[:_KEY_LENGTH])]
    if address is not None:
        keys.append((ADDRESS, address_key(address)))
    return sorted(keys)


def address_key(host: str) -> str:
    """The counter of a client address: IPv6 clients by their /64 network.

    One IPv6 host usually holds a whole /64, so counting single addresses would
    give it billions of fresh counters.
    """
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:_KEY_LENGTH]  # not an IP (a test client, a socket path)
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def check(conn: Connection, keys: list[Key], now: int) -> int:
    """Refuse with LoginDelayed while any of ``keys`` is delayed.

    Returns the customer id's count of recent failures, so that a success
    knows whether there is a count to clear.
    """
    rows = conn.execute(select(login_failures).where(_any_of(keys))).all()
    locked_until = max((row.locked_until for row in rows), default=0)
    if locked_until > now:
        raise LoginDelayed(math.ceil((locked_until - now) / _SECOND))
    return sum(
        row.failures
        for row in rows
        if row.scope == CUSTOMER and not _forgotten(row, now)
    )


def reserve(conn: Connection, keys: list[Key], now: int) -> list[Key]:
    """Count an attempt as failed before its secret is checked, or refuse it.

    Checking and counting under the rows' locks, in one transaction, is what
    makes the limit hold against attempts sent side by side: each one waits
    for the one before to be counted, and the sixth finds the delay the fifth
    set, however long their hash checks take. A success gives the attempt back
    (``succeeded``). Returns the keys this attempt delays if it fails.
    """
    return record_failure(conn, keys, now, refuse_if_delayed=True)


def succeeded(conn: Connection, keys: list[Key]) -> None:
    """A reserved attempt was right: forget the customer id's failures, and
    give the address back the one failure the reservation counted."""
    for scope, key in keys:
        if scope == CUSTOMER:
            conn.execute(login_failures.delete().where(_any_of([(scope, key)])))
        else:
            _give_back(conn, scope, key)


def release(conn: Connection, keys: list[Key]) -> None:
    """A reserved attempt was never decided (no hash check could be had):
    give every key back the failure the reservation counted."""
    for scope, key in keys:
        _give_back(conn, scope, key)


def _give_back(conn: Connection, scope: str, key: str) -> None:
    row = conn.execute(
        select(login_failures).where(_any_of([(scope, key)])).with_for_update()
    ).one_or_none()
    if row is None:
        return
    failures = row.failures - 1
    if failures <= 0:
        conn.execute(login_failures.delete().where(_any_of([(scope, key)])))
        return
    delay = delay_after(scope, failures)
    conn.execute(
        login_failures.update()
        .where(_any_of([(scope, key)]))
        .values(
            failures=failures,
            locked_until=row.last_failure_at + delay * _SECOND if delay else 0,
        )
    )


def record_failure(
    conn: Connection, keys: list[Key], now: int, *, refuse_if_delayed: bool = False
) -> list[Key]:
    """Count one failure against each key; return the keys it delays.

    With ``refuse_if_delayed``, a key already delayed refuses the attempt
    (LoginDelayed) and nothing is counted.
    """
    conn.execute(
        insert_ignoring_duplicates(conn, login_failures),
        [
            {
                "scope": scope,
                "key": key,
                "failures": 0,
                "last_failure_at": now,
                "locked_until": 0,
            }
            for scope, key in keys
        ],
    )
    # Locked row by row in one order, so two attempts never wait on each other
    # crosswise (SQLite's write transaction already runs alone).
    rows = conn.execute(
        select(login_failures)
        .where(_any_of(keys))
        .order_by(login_failures.c.scope, login_failures.c.key)
        .with_for_update()
    ).all()
    locked_until = max((row.locked_until for row in rows), default=0)
    if refuse_if_delayed and locked_until > now:
        raise LoginDelayed(math.ceil((locked_until - now) / _SECOND))
    delayed = []
    for row in rows:
        failures = 1 if _forgotten(row, now) else row.failures + 1
        delay = delay_after(row.scope, failures)
        conn.execute(
            login_failures.update()
            .where(_any_of([(row.scope, row.key)]))
            .values(
                failures=failures,
                last_failure_at=now,
                locked_until=now + delay * _SECOND if delay else 0,
            )
        )
        if delay:
            delayed.append((row.scope, row.key))
    if next(_recorded) % _PURGE_EVERY == 0:
        forget_stale(conn, now)
    return delayed


def delay_after(scope: str, failures: int) -> int:
    """Seconds an attempt waits after ``failures`` recent failures (0: none)."""
    policy = POLICIES[scope]
    beyond = failures - policy.free_failures
    if beyond < 0:
        return 0
    # Past the cap's exponent the doubling no longer matters (and 2**n is big).
    doublings = min(beyond, policy.max_delay.bit_length())
    return min(policy.max_delay, policy.first_delay * 2**doublings)


def clear_customer(conn: Connection, customer_id: str) -> None:
    """Forget a customer id's failures (after a success)."""
    conn.execute(
        login_failures.delete().where(_any_of([(CUSTOMER, customer_id[:_KEY_LENGTH])]))
    )


def forget_stale(conn: Connection, now: int) -> int:
    """Remove the counts that no longer delay anyone or count towards a delay."""
    removed = 0
    for scope, policy in POLICIES.items():
        removed += conn.execute(
            login_failures.delete().where(
                login_failures.c.scope == scope,
                login_failures.c.last_failure_at < now - policy.forget_after * _SECOND,
                login_failures.c.locked_until <= now,
            )
        ).rowcount
    return removed


def _forgotten(row: Row[Any], now: int) -> bool:
    quiet = now - row.last_failure_at
    return bool(quiet > POLICIES[row.scope].forget_after * _SECOND)


def _any_of(keys: list[Key]) -> ColumnElement[bool]:
    return or_(
        *(
            and_(login_failures.c.scope == scope, login_failures.c.key == key)
            for scope, key in keys
        )
    )
