"""Who is calling: credentials, client address and client certificate.

Credentials come as HTTP Basic (customer id and secret) on every API, or as a
WS-Security UsernameToken on SOAP (read in api/soap/security.py); both end in
``check_credentials``. The client address and certificate are taken from a
reverse proxy's headers only when the connection comes from one of the
configured trusted proxies: anyone else could write those headers too.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import re
from urllib.parse import unquote

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from regwatch.config import Settings
from regwatch.errors import NotAuthenticated, ServiceError
from regwatch.monitoring import customers
from regwatch.monitoring.models import Customer
from regwatch.store.engine import Database

_HOW = "send HTTP Basic credentials: your customer id and secret"
_HEX_FINGERPRINT = re.compile(r"(?:[0-9a-fA-F]{2}:?){32}")

log = structlog.get_logger("regwatch.api")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def has_basic(request: Request) -> bool:
    """Whether the request carries an Authorization header at all."""
    return bool(request.headers.get("authorization", "").strip())


def basic_credentials(header: str | None) -> tuple[str, str]:
    """The (customer id, secret) of an ``Authorization: Basic`` header."""
    scheme, _, encoded = (header or "").strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise NotAuthenticated(_HOW)
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError, a non-ASCII header
        raise NotAuthenticated(_HOW) from None
    customer_id, colon, secret = decoded.partition(":")
    if not colon or not customer_id:
        raise NotAuthenticated(_HOW)
    return customer_id, secret


async def authenticate_request(request: Request, db: Database) -> Customer:
    """The customer of a request's HTTP Basic credentials; NotAuthenticated
    (or LoginDelayed) otherwise."""
    customer_id, secret = basic_credentials(request.headers.get("authorization"))
    return await check_credentials(request, db, customer_id, secret)


async def check_credentials(
    request: Request, db: Database, customer_id: str, secret: str
) -> Customer:
    """The customer these credentials name, checked with the request's client
    address and certificate.

    Checking a secret is deliberately slow (a password hash), so it runs off
    the event loop.
    """
    return await run_in_threadpool(
        customers.authenticate,
        db,
        customer_id,
        secret,
        address=client_address(request, db.settings),
        certificate=client_certificate(request, db.settings),
    )


def client_address(request: Request, settings: Settings) -> str | None:
    """The address of the client, past any trusted proxies.

    From a trusted proxy, X-Forwarded-For is read from the right: each proxy
    appends the address it was called from, so the first address that is not
    itself a trusted proxy is the one no client could have forged.
    """
    if request.client is None:
        return None
    peer = request.client.host
    if not _trusted(peer, settings):
        return peer
    forwarded = [
        _host_of(entry)
        for header in request.headers.getlist("x-forwarded-for")
        for entry in header.split(",")
        if entry.strip()
    ]
    for host in reversed(forwarded):
        if not _trusted(host, settings):
            return host
    return forwarded[0] if forwarded else peer


def client_certificate(request: Request, settings: Settings) -> str | None:
    """SHA-256 (hex) of the TLS client certificate a trusted proxy verified.

    uvicorn does not hand the application the certificate of a TLS connection
    it terminates, so client certificates are checked by a reverse proxy that
    passes the one it verified in ``settings.client_cert_header``: as PEM
    (URL-escaped or not), as base64 DER, or as its SHA-256 fingerprint in hex.
    """
    # TODO: read scope["extensions"]["tls"] as well once uvicorn provides the
    # ASGI TLS extension (proposed upstream, not in uvicorn 0.55).
    header = settings.client_cert_header
    if header is None or request.client is None:
        return None
    if not _trusted(request.client.host, settings):
        return None
    values = request.headers.getlist(header)
    if len(values) > 1:
        # A proxy that adds the header instead of replacing it would pass the
        # client's own copy along: believe neither.
        log.warning("client_certificate_header_repeated", header=header)
        return None
    value = unquote(values[0] if values else "").strip()
    if not value:
        return None
    fingerprint = _fingerprint(value)
    if fingerprint is None:
        # The proxy is ours and misconfigured: say so, without the value.
        log.warning("client_certificate_unreadable", header=header)
    return fingerprint


def _fingerprint(value: str) -> str | None:
    if "-----BEGIN" in value:
        try:
            return customers.certificate_fingerprint(value)
        except ServiceError:
            return None
    if _HEX_FINGERPRINT.fullmatch(value):
        return value.replace(":", "").lower()
    try:
        der = base64.b64decode(value, validate=True)
    except ValueError:  # binascii.Error, or non-ASCII text
        return None
    return customers.der_fingerprint(der) if der.startswith(b"\x30") else None


def _trusted(host: str, settings: Settings) -> bool:
    networks = _networks(settings.trusted_proxies)
    if not networks:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


@functools.cache
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in trusted)


def _host_of(entry: str) -> str:
    """The address of one X-Forwarded-For entry, without a port."""
    entry = entry.strip()
    if entry.startswith("["):  # [2001:db8::1]:443
        return entry[1 : entry.find("]")] if "]" in entry else entry
    if entry.count(":") == 1:  # 192.0.2.7:443
        return entry.split(":", 1)[0]
    return entry
