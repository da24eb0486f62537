"""The one mapping from the service's errors to SOAP 1.1 faults."""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from regwatch.api.soap.contract import NS, SOAP_ENV
from regwatch.errors import (
    InternalError,
    LoginDelayed,
    NotAuthenticated,
    ServiceBusy,
    ServiceError,
)
from regwatch.store.engine import is_busy


class EnvelopeError(ServiceError):
    """A fault about the envelope or its headers, not about the body.

    SOAP 1.1 gives these their own fault codes and forbids a ``detail`` on
    them (detail is for errors in processing the body), so a client tells them
    apart by ``faultcode`` and by the machine code leading the faultstring.
    """

    soap_faultcode = "Client"


class VersionMismatch(EnvelopeError):
    code = "VERSION_MISMATCH"
    soap_faultcode = "VersionMismatch"


class MustUnderstand(EnvelopeError):
    code = "MUST_UNDERSTAND"
    soap_faultcode = "MustUnderstand"


@dataclass(frozen=True)
class Fault:
    """A fault ready to send: HTTP status, extra headers and the envelope."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def fault_for(error: BaseException, *, request_id: str) -> Fault:
    """The fault that answers ``error``.

    A ``ServiceError`` says its own code and message. Anything else is a bug on
    our side: the caller gets INTERNAL_ERROR and the request id to quote, never
    the exception text, which may hold internals.
    """
    if is_busy(error):
        error = ServiceBusy(
            "the database is busy and nothing of this call was kept; retry it "
            "later (with the same requestId where there is one)"
        )
    if not isinstance(error, ServiceError):
        error = InternalError(
            f"internal error; quote request id {request_id} when reporting it"
        )
    if isinstance(error, EnvelopeError):
        body = _envelope(error.soap_faultcode, f"{error.code}: {error.message}")
    else:
        faultcode = "Client" if error.client_error else "Server"
        body = _envelope(faultcode, error.message, _detail(error))
    if isinstance(error, NotAuthenticated):
        headers = {"WWW-Authenticate": 'Basic realm="regwatch"'}
        return Fault(401, body, headers)
    if isinstance(error, LoginDelayed):
        return Fault(429, body, {"Retry-After": str(error.retry_after)})
    if isinstance(error, ServiceBusy):
        return Fault(500, body, {"Retry-After": "10"})
    return Fault(500, body)


def _detail(error: ServiceError) -> str:
    return (
        f'<detail><ServiceFault xmlns="{NS}"><code>{escape(error.code)}</code>'
        f"<message>{escape(error.message)}</message></ServiceFault></detail>"
    )


def _envelope(faultcode: str, faultstring: str, detail: str = "") -> bytes:
    # The fault's own children are unqualified, as SOAP 1.1 defines them:
    # no default namespace is in scope around them.
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body><soap:Fault>'
        f"<faultcode>soap:{faultcode}</faultcode>"
        f"<faultstring>{escape(faultstring)}</faultstring>{detail}"
        "</soap:Fault></soap:Body></soap:Envelope>"
    ).encode()
