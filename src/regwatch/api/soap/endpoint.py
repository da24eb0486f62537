"""The SOAP endpoint over HTTP: POST runs an operation, GET serves the contract."""

from __future__ import annotations

import asyncio
import functools

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from regwatch.api.auth import authenticate_request, check_credentials, has_basic
from regwatch.api.body import read_body
from regwatch.api.soap.contract import wsdl_bytes, xsd_bytes
from regwatch.api.soap.envelope import Limits, header_of
from regwatch.api.soap.faults import fault_for
from regwatch.api.soap.operations import SoapCall, read_call
from regwatch.api.soap.security import UsernameToken, token_in_header
from regwatch.audit import trail
from regwatch.config import Settings
from regwatch.errors import LoginDelayed, NotAuthenticated, ServiceBusy, ServiceError
from regwatch.monitoring.models import Customer
from regwatch.store.engine import Database, is_busy

XML = "text/xml; charset=utf-8"

log = structlog.get_logger("regwatch.api.soap")


async def post(request: Request) -> Response:
    """Run one SOAP operation for an authenticated customer.

    The credentials come as HTTP Basic, checked before the body is even read,
    or as a WS-Security UsernameToken, which is in the body: then the body is
    read (never past the size cap) and only its header parsed before the
    caller is known, a few such callers at a time (see _by_header_token). When
    both come, they must name the same customer and both be right. Parsing,
    checking secrets and the service call block, so they run off the event
    loop.
    """
    db: Database = request.app.state.db
    customer: Customer | None = None
    call: SoapCall | None = None
    try:
        by_token = not has_basic(request)
        if by_token:
            body, customer = await _by_header_token(request, db)
            structlog.contextvars.bind_contextvars(customer_id=customer.customer_id)
        else:
            customer = await authenticate_request(request, db)
            structlog.contextvars.bind_contextvars(customer_id=customer.customer_id)
            body = await read_body(request, db.settings.max_body_bytes)

        call = await run_in_threadpool(
            read_call,
            body,
            content_type=request.headers.get("content-type"),
            soap_action=request.headers.get("soapaction"),
            limits=_limits(db.settings),
        )
        structlog.contextvars.bind_contextvars(operation=call.operation.name)
        if not by_token:
            customer = await _with_token(request, db, customer, call.token)

        answer = await run_in_threadpool(call.run, db, customer)
    except Exception as error:  # every failure becomes a fault, none escapes
        if customer is not None and isinstance(error, ServiceError):
            await run_in_threadpool(_audit_refusal, db, customer, call, error)
        return _fault(error, request.state.request_id)
    return Response(answer, media_type=XML)


# Callers without HTTP Basic are read whole before anyone knows who they are:
# a few at a time per process, so that a crowd of anonymous 16 MiB bodies
# cannot fill the memory. One that waits longer is told to come back.
_ANONYMOUS_AT_ONCE = 4
_ANONYMOUS_WAIT_SECONDS = 10


async def _by_header_token(request: Request, db: Database) -> tuple[bytes, Customer]:
    """Read the body and the caller's WS-Security UsernameToken from its header,
    and check it: the body and the customer."""
    turns = _anonymous_turns(request)
    try:
        await asyncio.wait_for(turns.acquire(), _ANONYMOUS_WAIT_SECONDS)
    except TimeoutError:
        raise ServiceBusy(
            "too many calls without HTTP Basic credentials are being read at "
            "once; retry shortly, or send HTTP Basic credentials"
        ) from None
    try:
        body = await read_body(request, db.settings.max_body_bytes)
        header = await run_in_threadpool(header_of, body, _limits(db.settings))
        token = token_in_header(header) if header is not None else None
        if token is None:
            raise NotAuthenticated(
                "send your customer id and secret as HTTP Basic credentials or "
                "in a WS-Security UsernameToken (PasswordText)"
            )
        customer = await check_credentials(request, db, token.username, token.password)
    finally:
        turns.release()
    return body, customer


def _anonymous_turns(request: Request) -> asyncio.Semaphore:
    # One per app, made on first use: an app serves from one event loop.
    state = request.app.state
    if not hasattr(state, "anonymous_turns"):
        state.anonymous_turns = asyncio.Semaphore(_ANONYMOUS_AT_ONCE)
    turns: asyncio.Semaphore = state.anonymous_turns
    return turns


@functools.cache
def _limits(settings: Settings) -> Limits:
    return Limits.for_settings(settings)


def _audit_refusal(
    db: Database, customer: Customer, call: SoapCall | None, error: ServiceError
) -> None:
    """An authenticated call that was refused is on the audit trail too, with
    its code: nothing was handed over, but an auditor sees who tried what.

    A call whose body could not be read has no operation name of its own.
    """
    if isinstance(error, NotAuthenticated | LoginDelayed | ServiceBusy):
        return  # not the customer's call (yet), or nothing could be written
    try:
        trail.append_alone(
            db,
            call.operation.name if call is not None else "UnreadableRequest",
            customer_id=customer.customer_id,
            request_id=getattr(call.request, "request_id", None) if call else None,
            outcome=error.code,
        )
    except Exception as failure:  # the fault still goes out; say what was lost
        log.warning("audit_refusal_not_recorded", error=type(failure).__name__)


async def get(request: Request) -> Response:
    """``?wsdl`` and ``?xsd``: the contract, naming the address it was fetched at."""
    query = {key.lower() for key in request.query_params}
    if "wsdl" in query:
        return Response(wsdl_bytes(endpoint_url(request)), media_type=XML)
    if "xsd" in query:
        return Response(xsd_bytes(), media_type=XML)
    return PlainTextResponse(
        "regwatch SOAP 1.1 endpoint: POST requests here; the WSDL is at ?wsdl\n",
        status_code=400,
    )


def endpoint_url(request: Request) -> str:
    """The service address a caller should use.

    The configured public URL wins; otherwise the address this request came
    to (its Host header). The server does not read X-Forwarded-Proto, so
    behind a proxy that terminates TLS set REGWATCH_PUBLIC_URL.
    """
    public_url = request.app.state.db.settings.public_url
    base = public_url or str(request.base_url)
    return base.rstrip("/") + "/soap"


async def _with_token(
    request: Request,
    db: Database,
    basic_customer: Customer,
    token: UsernameToken | None,
) -> Customer:
    """The Basic caller, once the UsernameToken (if one came too) is checked."""
    if token is None:
        return basic_customer
    if token.username != basic_customer.customer_id:
        raise NotAuthenticated(
            "HTTP Basic and the wsse:UsernameToken name different customers; "
            "send one of them, or the same customer and secret in both"
        )
    return await check_credentials(request, db, token.username, token.password)


def _fault(error: Exception, request_id: str) -> Response:
    if isinstance(error, ServiceError):
        # The code only: a message can quote the request, personal codes too.
        log.info("soap_fault", code=error.code)
        log.debug("soap_fault_message", message=error.message)
    elif is_busy(error):
        # The driver's own words only: the statement and its parameters, which
        # may hold personal codes, stay out of the log.
        reason = str(getattr(error, "orig", error)).splitlines()[0][:200]
        log.warning("soap_database_busy", reason=reason)
    else:
        log.error("soap_internal_error", exc_info=error)
    fault = fault_for(error, request_id=request_id)
    return Response(
        fault.body, status_code=fault.status, headers=fault.headers, media_type=XML
    )
