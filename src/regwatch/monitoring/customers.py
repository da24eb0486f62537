"""Customers, their contracts and their credentials.

A secret is shown once, when it is made, and stored only as an Argon2 hash.
Verifying a hash is slow by design, so a successful check is remembered for a
short while in this process, keyed by the stored hash: a new secret (a new hash)
invalidates it at once, in every process, since each request reads the stored
hash anew. A customer may also be bound to a TLS client certificate, kept as
the SHA-256 of its DER form.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
import threading
import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Row, select

from regwatch.audit import trail
from regwatch.clock import Clock, SystemClock, from_micros, to_micros
from regwatch.errors import NotAuthenticated, NotFound, ServiceBusy, ServiceError
from regwatch.kinds import ALL_MASK
from regwatch.monitoring import logins
from regwatch.monitoring.models import Customer
from regwatch.store.engine import Database
from regwatch.store.tables import customers

log = structlog.get_logger(__name__)

_HASHER = PasswordHasher()
_VERIFIED_FOR_SECONDS = 300
_verified: dict[tuple[str, str, str], float] = {}
_verified_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()

# How long a login may wait for one of the process's few hash checks before it
# is answered SERVICE_BUSY (a flood of logins must not pile up for ever).
_CHECK_WAIT_SECONDS = 10
_WRONG = "unknown customer or wrong secret"
_WALL_CLOCK = SystemClock()
_PEM_CERTIFICATE = re.compile(
    r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.DOTALL
)


class CustomerExists(ServiceError):
    code = "CUSTOMER_EXISTS"


def new_secret() -> str:
    return secrets.token_urlsafe(24)


def _checked_secret(secret: str) -> str:
    if len(secret) < 12:
        raise ServiceError("a secret has at least 12 characters")
    return secret


def customer_id_for(name: str) -> str:
    """A readable id from the name: lower case ASCII words joined by hyphens.

    Letters with diacritics keep their base letter (Ąžuolas -> azuolas).
    """
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_name = decomposed.encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")
    return slug[:48] or "customer"


def add_customer(
    db: Database,
    name: str,
    *,
    kinds: int,
    company_code: str | None = None,
    secret: str | None = None,
) -> tuple[Customer, str]:
    """Create a customer with a contract for ``kinds``; return it and its secret.

    The id is made from the name; a name already taken gets a numbered id.
    """
    if not name.strip():
        raise ServiceError("a customer needs a name")
    if not 0 < kinds <= ALL_MASK:
        raise ServiceError("a contract covers at least one kind of change")
    if company_code is not None and not re.fullmatch(r"\d{9}", company_code):
        raise ServiceError(f"company code {company_code!r} is not 9 digits")
    secret = _checked_secret(secret or new_secret())

    secret_hash = _HASHER.hash(secret)
    with db.write() as conn:
        base = customer_id_for(name)
        taken = set(
            conn.execute(
                select(customers.c.customer_id).where(
                    customers.c.customer_id.like(base + "%")
                )
            ).scalars()
        )
        customer_id, n = base, 1
        while customer_id in taken:
            n += 1
            customer_id = f"{base}-{n}"
        conn.execute(
            customers.insert().values(
                customer_id=customer_id,
                name=name.strip(),
                company_code=company_code,
                kinds=kinds,
                secret_hash=secret_hash,
                created_at=to_micros(db.now(conn)),
            )
        )
        _audit(
            conn,
            db,
            "AddCustomer",
            customer_id,
            name=name.strip(),
            company_code=company_code,
            kinds=kinds,
        )
    return Customer(customer_id, name.strip(), company_code, kinds), secret


@dataclass(frozen=True)
class CustomerEntry:
    """A customer as the operator sees it: never its secret."""

    customer_id: str
    name: str
    company_code: str | None
    kinds: int
    created_at: datetime
    disabled_at: datetime | None
    certificate_required: bool


def authenticate(
    db: Database,
    customer_id: str,
    secret: str,
    *,
    address: str | None = None,
    certificate: str | None = None,
    clock: Clock | None = None,
) -> Customer:
    """The customer whose id and secret these are; NotAuthenticated otherwise.

    A disabled customer is refused like an unknown one. A customer with a
    client certificate on record must also present it (``certificate``: the
    SHA-256 of its DER form, as lower-case hex). Failures are counted per
    customer id and per client ``address``; while either is delayed, the
    attempt is refused with LoginDelayed before its secret is looked at.

    The message is the same whatever was wrong, and an unknown id costs the same
    one hash check as a known one, so that nothing tells which ids exist.
    """
    now = to_micros((clock or _WALL_CLOCK).now())
    well_formed = _WELL_FORMED_ID.fullmatch(customer_id) is not None
    keys = logins.keys_for(_counted_as(customer_id, well_formed), address)
    with db.read() as conn:
        recent_failures = logins.check(conn, keys, now)
        row = (
            conn.execute(
                select(customers).where(customers.c.customer_id == customer_id)
            ).one_or_none()
            if well_formed
            else None  # no customer has such an id (a NUL byte, a secret...)
        )

    # A secret this process verified lately costs no hash and is no guess; any
    # other attempt is counted as failed before its hash is checked.
    remembered = row is not None and _remembered(row, secret)
    delayed: list[logins.Key] = []
    if not remembered:
        with db.write() as conn:
            delayed = logins.reserve(conn, keys, now)

    try:
        refusal = _refusal(db, row, secret, certificate)
    except ServiceBusy:
        if not remembered:
            with db.write() as conn:
                logins.release(conn, keys)
        raise
    if refusal is None and row is not None:
        if not remembered:  # give the reservation back
            with db.write() as conn:
                logins.succeeded(conn, keys)
        elif recent_failures:  # nothing was reserved; the id's count goes
            with db.write() as conn:
                logins.clear_customer(conn, customer_id)
        return Customer(row.customer_id, row.name, row.company_code, row.kinds)

    if remembered:  # the secret was right, the certificate was not
        with db.write() as conn:
            delayed = logins.record_failure(conn, keys, now)
    known = row.customer_id if row is not None else None
    log.info("login_refused", reason=refusal, customer_id=known)
    for scope, key in delayed:
        log.warning(
            "login_delayed",
            scope=scope,
            customer_id=known if scope == logins.CUSTOMER else None,
            address=key if scope == logins.ADDRESS else None,
        )
    raise NotAuthenticated(_WRONG)


def rotate_secret(db: Database, customer_id: str, secret: str | None = None) -> str:
    """Give a customer a new secret and return it; the old one stops at once.

    The new hash replaces the old in one statement, and every process looks the
    hash up on each request, so no process accepts the old secret afterwards.
    """
    secret = _checked_secret(secret or new_secret())
    secret_hash = _HASHER.hash(secret)
    with db.write() as conn:
        _update(conn, customer_id, secret_hash=secret_hash)
        _audit(conn, db, "RotateSecret", customer_id)
    return secret


def disable_customer(db: Database, customer_id: str) -> bool:
    """Refuse every login of a customer from now on; False if it already was."""
    with db.write() as conn:
        row = _row(conn, customer_id)
        if row.disabled_at is not None:
            return False
        _update(conn, customer_id, disabled_at=to_micros(db.now(conn)))
        _audit(conn, db, "DisableCustomer", customer_id)
    return True


def enable_customer(db: Database, customer_id: str) -> bool:
    """Accept a disabled customer's logins again; False if it was not disabled."""
    with db.write() as conn:
        row = _row(conn, customer_id)
        if row.disabled_at is None:
            return False
        _update(conn, customer_id, disabled_at=None)
        _audit(conn, db, "EnableCustomer", customer_id)
    return True


def list_customers(db: Database) -> list[CustomerEntry]:
    """Every customer, by id."""
    with db.read() as conn:
        rows = conn.execute(select(customers).order_by(customers.c.customer_id))
        return [
            CustomerEntry(
                customer_id=row.customer_id,
                name=row.name,
                company_code=row.company_code,
                kinds=row.kinds,
                created_at=from_micros(row.created_at),
                disabled_at=(
                    from_micros(row.disabled_at)
                    if row.disabled_at is not None
                    else None
                ),
                certificate_required=row.client_certificate is not None,
            )
            for row in rows
        ]


def set_certificate(db: Database, customer_id: str, pem: str) -> str:
    """Require this client certificate (PEM) of the customer from now on.

    Only its SHA-256 fingerprint is kept, and returned. The certificate itself
    is checked by the TLS proxy that verifies it against the trusted CAs;
    this only ties it to the customer.
    """
    fingerprint = certificate_fingerprint(pem)
    with db.write() as conn:
        _update(conn, customer_id, client_certificate=fingerprint)
        _audit(conn, db, "SetCertificate", customer_id, fingerprint=fingerprint)
    return fingerprint


def remove_certificate(db: Database, customer_id: str) -> bool:
    """Stop requiring a client certificate; False if none was required."""
    with db.write() as conn:
        row = _row(conn, customer_id)
        if row.client_certificate is None:
            return False
        _update(conn, customer_id, client_certificate=None)
        _audit(conn, db, "RemoveCertificate", customer_id)
    return True


def _audit(
    conn: Connection, db: Database, operation: str, customer_id: str, **detail: Any
) -> None:
    """The audit record of an operator's change to a customer (never a secret)."""
    trail.append(
        conn,
        db.now(conn),
        operation,
        customer_id=customer_id,
        actor=trail.OPERATOR,
        detail=detail,
    )


def certificate_fingerprint(pem: str) -> str:
    """SHA-256 (lower-case hex) of the DER form of the one certificate in ``pem``."""
    blocks = _PEM_CERTIFICATE.findall(pem)
    if len(blocks) != 1:
        raise ServiceError(
            f"expected one PEM certificate (BEGIN CERTIFICATE), found {len(blocks)}; "
            "give the customer's own certificate, without its chain"
        )
    try:
        der = base64.b64decode(re.sub(r"\s+", "", blocks[0]), validate=True)
    except ValueError:  # binascii.Error, or non-ASCII text
        raise ServiceError("the PEM certificate is not valid base64") from None
    if not der.startswith(b"\x30"):  # every certificate is a DER SEQUENCE
        raise ServiceError("the PEM block does not hold a DER certificate")
    return der_fingerprint(der)


def der_fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


# Every id customer_id_for makes, and nothing else.
_WELL_FORMED_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


def _counted_as(customer_id: str, well_formed: bool) -> str:
    """The key failures of an id are counted under: the id itself when it is
    one we could have made; otherwise a digest, so that a secret sent as the
    user name (a common mix-up) is never stored as it is."""
    if well_formed:
        return customer_id
    return "sha256:" + hashlib.sha256(customer_id.encode()).hexdigest()[:40]


def _refusal(
    db: Database, row: Row[Any] | None, secret: str, certificate: str | None
) -> str | None:
    """Why a login is refused, or None.

    Known or not, an id costs one hash check (none for a secret this process
    verified lately).
    """
    if row is None:
        _burn(db, secret)
        return "unknown_customer"
    if row.disabled_at is not None:
        _burn(db, secret)
        return "disabled"
    if not _secret_matches(db, row.customer_id, row.secret_hash, secret):
        return "wrong_secret"
    required = row.client_certificate
    if required is not None and not hmac.compare_digest(required, certificate or ""):
        return "certificate"
    return None


def _row(conn: Connection, customer_id: str) -> Row[Any]:
    row = conn.execute(
        select(customers)
        .where(customers.c.customer_id == customer_id)
        .with_for_update()
    ).one_or_none()
    if row is None:
        raise NotFound(f"no customer has the id {customer_id!r}")
    return row


def _update(conn: Connection, customer_id: str, **values: Any) -> None:
    updated = conn.execute(
        customers.update()
        .where(customers.c.customer_id == customer_id)
        .values(**values)
    ).rowcount
    if not updated:
        raise NotFound(f"no customer has the id {customer_id!r}")


def _remembered(row: Row[Any], secret: str) -> bool:
    """Whether this process verified this secret against this hash lately."""
    if row.disabled_at is not None:
        return False
    key = (row.customer_id, row.secret_hash, _digest(secret))
    with _verified_lock:
        return _verified.get(key, 0.0) > time.monotonic()


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _secret_matches(
    db: Database, customer_id: str, stored_hash: str, secret: str
) -> bool:
    key = (customer_id, stored_hash, _digest(secret))
    now = time.monotonic()
    with _verified_lock:
        if _verified.get(key, 0.0) > now:
            return True
    if not _verify(db, stored_hash, secret):
        return False
    with _verified_lock:
        _verified[key] = now + _VERIFIED_FOR_SECONDS
    return True


def _verify(db: Database, stored_hash: str, secret: str) -> bool:
    """One Argon2 check, holding one of the process's few slots for them.

    Each check takes 64 MiB and tens of milliseconds of CPU, so a flood of
    logins must queue for slots rather than run all at once.
    """
    slots = _check_slots(db.settings.max_secret_checks)
    if not slots.acquire(timeout=_CHECK_WAIT_SECONDS):
        raise ServiceBusy("too many logins are being checked at once; retry shortly")
    try:
        return _HASHER.verify(stored_hash, secret)
    except (VerificationError, InvalidHashError):
        return False
    finally:
        slots.release()


def _check_slots(size: int) -> threading.BoundedSemaphore:
    # Made under a lock: two semaphores for one size would double the bound.
    with _slots_lock:
        return _slots.setdefault(size, threading.BoundedSemaphore(size))


_dummy_lock = threading.Lock()


def _dummy_hash() -> str:
    # Made once, under a lock: a burst of unknown ids right after start would
    # otherwise make one 64 MiB hash each, outside the check slots.
    with _dummy_lock:
        return _made_dummy_hash()


@functools.cache
def _made_dummy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(16))


def _burn(db: Database, secret: str) -> None:
    """Spend the time a real check takes, so timing does not tell ids apart."""
    _verify(db, _dummy_hash(), secret)
