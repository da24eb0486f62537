"""The SOAP endpoint over HTTP: POST runs an operation, GET serves the contract."""

from __future__ import annotations

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from regwatch.api.auth import authenticate_request
from regwatch.api.body import read_body
from regwatch.api.soap.contract import wsdl_bytes, xsd_bytes
from regwatch.api.soap.faults import fault_for
from regwatch.api.soap.operations import read_call
from regwatch.errors import ServiceError
from regwatch.store.engine import Database, is_busy

XML = "text/xml; charset=utf-8"

log = structlog.get_logger("regwatch.api.soap")


async def post(request: Request) -> Response:
    """Run one SOAP operation for an authenticated customer.

    Parsing and the service call block, so both run off the event loop; the
    body is read only once the caller is known, and never past the size cap.
    """
    db: Database = request.app.state.db
    try:
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
