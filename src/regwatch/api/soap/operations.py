"""The four operations: read the request, call the service, write the answer.

The body's element decides the operation (SOAPAction may only agree with it);
each operation is one service call between a reader and a writer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lxml import etree

from regwatch.api.soap import envelope, requests, responses, security
from regwatch.api.soap.contract import NS
from regwatch.errors import MalformedRequest
from regwatch.monitoring import days, extracts, lists
from regwatch.monitoring.models import Customer
from regwatch.store.engine import Database


@dataclass(frozen=True)
class Operation:
    name: str
    read: Callable[[etree._Element], Any]
    answer: Callable[[Database, Customer, Any], str]


@dataclass(frozen=True)
class SoapCall:
    """A request read and checked, ready to run for a customer."""

    operation: Operation
    request: Any
    token: security.UsernameToken | None = None  # WS-Security credentials

    def run(self, db: Database, customer: Customer) -> bytes:
        answer = self.operation.answer(db, customer, self.request)
        return envelope.response_envelope(answer)


def read_call(
    body: bytes,
    *,
    content_type: str | None,
    soap_action: str | None,
    limits: envelope.Limits = envelope.DEFAULT_LIMITS,
) -> SoapCall:
    """Check a SOAP request from its headers to its last element."""
    envelope.check_content_type(content_type)
    element = envelope.read_operation_element(body, limits)
    token = security.username_token(element)
    operation = _BY_TAG.get(element.tag)
    if operation is None:
        raise MalformedRequest(
            f"unknown operation {element.tag}; this service offers "
            f"{', '.join(op.name for op in _BY_TAG.values())} in namespace {NS}"
        )
    envelope.check_soap_action(soap_action, operation.name)
    envelope.validate(element)
    return SoapCall(operation, operation.read(element), token)


def _load_clients(
    db: Database, customer: Customer, request: requests.LoadClientsRequest
) -> str:
    result = lists.load_clients(
        db,
        customer,
        add=request.add,
        remove=request.remove,
        request_id=request.request_id,
    )
    return responses.load_clients(result)


def _get_all_clients(
    db: Database, customer: Customer, request: requests.GetAllClientsRequest
) -> str:
    page = lists.list_clients(
        db, customer, page_size=request.page_size, page_token=request.page_token
    )
    return responses.get_all_clients(page)


def _get_clients_data_changes(
    db: Database, customer: Customer, request: requests.GetClientsDataChangesRequest
) -> str:
    page = days.day_changes(
        db,
        customer,
        request.day,
        page_size=request.page_size,
        page_token=request.page_token,
    )
    return responses.get_clients_data_changes(page)


def _get_person_data(
    db: Database, customer: Customer, request: requests.GetPersonDataRequest
) -> str:
    extracts_found = extracts.person_data(
        db,
        customer,
        request.codes,
        purpose=request.purpose,
        request_id=request.request_id,
    )
    return responses.get_person_data(extracts_found)


_BY_TAG = {
    f"{{{NS}}}{operation.name}": operation
    for operation in (
        Operation("LoadClients", requests.read_load_clients, _load_clients),
        Operation("GetAllClients", requests.read_get_all_clients, _get_all_clients),
        Operation(
            "GetClientsDataChanges",
            requests.read_get_clients_data_changes,
            _get_clients_data_changes,
        ),
        Operation("GetPersonData", requests.read_get_person_data, _get_person_data),
    )
}
