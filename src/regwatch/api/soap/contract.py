"""The contract files: where they are, their namespaces, and how they are served."""

from __future__ import annotations

import copy
import threading
from functools import cache, lru_cache
from importlib import resources

from lxml import etree

NS = "urn:regwatch:monitoring:v1"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
_WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
_XS = "http://www.w3.org/2001/XMLSchema"


def soap_action(operation: str) -> str:
    """The SOAPAction the WSDL declares for an operation."""
    return f"{NS}/{operation}"


@cache
def xsd_bytes() -> bytes:
    return resources.files(__package__).joinpath("regwatch.xsd").read_bytes()


@cache
def _wsdl_template() -> etree._Element:
    data = resources.files(__package__).joinpath("regwatch.wsdl").read_bytes()
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False))


@lru_cache(maxsize=16)  # a handful of addresses (direct, via proxy) in practice
def wsdl_bytes(endpoint: str) -> bytes:
    """The WSDL naming ``endpoint`` as the service address.

    The schema import then points at the same endpoint with ``?xsd``, so that a
    client fetching the WSDL can fetch the messages from the same place.
    """
    root = copy.deepcopy(_wsdl_template())
    for address in root.iter(f"{{{_WSDL_SOAP}}}address"):
        address.set("location", endpoint)
    for schema_import in root.iter(f"{{{_XS}}}import"):
        schema_import.set("schemaLocation", f"{endpoint}?xsd")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


_local = threading.local()
_compiling = threading.Lock()


def schema() -> etree.XMLSchema:
    """This thread's compiled XSD.

    One per thread because a validator keeps the errors of its last run on
    itself: shared between threads, one request's fault could carry another
    request's error text (and the personal codes in it).

    Compiled one thread at a time: libxml2 sets up its built-in schema types on
    the first compilation in a process, unguarded, and a worker whose first
    requests arrived together once failed with "Document is not valid XML
    Schema" (bench/national.py, four LoadClients calls at a fresh worker).
    """
    compiled = getattr(_local, "schema", None)
    if compiled is None:
        with _compiling:
            document = etree.fromstring(xsd_bytes(), etree.XMLParser())
            compiled = _local.schema = etree.XMLSchema(document)
    return compiled
