"""The SOAP endpoint over HTTP: POST runs an operation, GET serves the contract."""

from __future__ import annotations

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from regwatch.api.auth import authenticate_request, check_credentials, has_basic
from regwatch.api.body import read_body
from regwatch.api.soap.contract import wsdl_bytes, xsd_bytes
from regwatch.api.soap.faults import fault_for
from regwatch.api.soap.operations import read_call
from regwatch.api.soap.security import UsernameToken
from regwatch.errors import NotAuthenticated, ServiceError
from regwatch.monitoring.logins import LoginDelayed
from regwatch.monitoring.models import Customer
from regwatch.store.engine import Database, is_busy

XML = "text/xml; charset=utf-8"

log = structlog.get_logger("regwatch.api.soap")


async def post(request: Request) -> Response:
    """Run one SOAP operation for an authenticated customer.

    The credentials come as HTTP Basic, checked before the body is even read,
    or as a WS-Security UsernameToken, which is in the body: then the body is
    read (never past the size cap) and checked first. When both come, they
    must name the same customer and both be right. Parsing, checking secrets
    and the service call block, so they run off the event loop.
    """
    db: Database = request.app.state.db
    try:
        customer = None
        if has_basic(request):
            customer = await authenticate_request(request, db)
            structlog.contextvars.bind_contextvars(customer_id=customer.customer_id)

        body = await read_body(request, db.settings.max_body_bytes)
        call = await run_in_threadpool(
            read_call,
            body,
            content_type=request.headers.get("content-type"),
            soap_action=request.headers.get("soapaction"),
        )
        structlog.contextvars.bind_contextvars(operation=call.operation.name)

        customer = await _with_token(request, db, customer, call.token)
        structlog.contextvars.bind_contextvars(customer_id=customer.customer_id)

        answer = await run_in_threadpool(call.run, db, customer)
    except Exception as error:  # every failure becomes a fault, none escapes
        return _fault(error, request.state.request_id)
    return Response(answer, media_type=XML)


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
    to. Behind a proxy, run uvicorn with ``--proxy-headers`` (and
    ``--forwarded-allow-ips`` set to the proxy) so that the scheme the
    caller used is honoured from that proxy only.
    """
    public_url = request.app.state.db.settings.public_url
    base = public_url or str(request.base_url)
    return base.rstrip("/") + "/soap"


async def _with_token(
    request: Request,
    db: Database,
    basic_customer: Customer | None,
    token: UsernameToken | None,
) -> Customer:
    """The caller, once the UsernameToken (if one came) is checked as well."""
    if token is None:
        if basic_customer is None:
            raise NotAuthenticated(
                "send your customer id and secret as HTTP Basic credentials or "
                "in a WS-Security UsernameToken (PasswordText)"
            )
        return basic_customer
    if basic_customer is not None and token.username != basic_customer.customer_id:
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
    status, headers = fault.status, fault.headers
    if isinstance(error, LoginDelayed):
        # Not a wrong secret (401) but "not now": HTTP's own status for that,
        # with the time to wait.
        status, headers = 429, {"Retry-After": str(error.retry_after)}
    return Response(fault.body, status_code=status, headers=headers, media_type=XML)
