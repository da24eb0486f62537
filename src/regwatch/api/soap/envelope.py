"""SOAP 1.1 envelopes: reading untrusted ones safely, writing ours.

Reading runs in phases: refuse what must never reach the parser (a DOCTYPE,
an encoding we cannot scan), parse with every network and entity feature off,
check the envelope and its headers, then validate the one operation element
against the contract's XSD. Element texts are then mapped by hand (see
requests.py): a generic schema-driven decoder is dozens of times slower on a
100,000-code list.
"""

from __future__ import annotations

import codecs
import re

from lxml import etree

from regwatch.api.soap.contract import SOAP_ENV, schema, soap_action
from regwatch.api.soap.faults import MustUnderstand, VersionMismatch
from regwatch.errors import MalformedRequest, OperationMismatch

_ENVELOPE = f"{{{SOAP_ENV}}}Envelope"
_HEADER = f"{{{SOAP_ENV}}}Header"
_BODY = f"{{{SOAP_ENV}}}Body"
_MUST_UNDERSTAND = f"{{{SOAP_ENV}}}mustUnderstand"
_ACTOR = f"{{{SOAP_ENV}}}actor"
_ACTOR_NEXT = "http://schemas.xmlsoap.org/soap/actor/next"

# Encodings in which the markup is plain ASCII bytes, so that the DOCTYPE scan
# below sees what the parser will see; by Python's canonical codec names.
# windows-1257 (cp1257) and ISO-8859-13 are for legacy Baltic clients.
_ENCODINGS = frozenset(
    {"utf-8", "ascii", "iso8859-1", "iso8859-13", "cp1257", "cp1252"}
)
_DECLARED_ENCODING = re.compile(
    rb"""^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*["']([^"']*)["']"""
)
_MEDIA_TYPES = frozenset({"text/xml", "application/xml"})
_ACTION_NAME = re.compile(r"[/#:]")


def check_content_type(header: str | None) -> None:
    """SOAP 1.1 travels as ``text/xml``; a charset parameter is allowed.

    The charset is not used: the parser decodes from the bytes and the XML
    prolog, which is what the clients we know of get right.
    """
    media_type = (header or "").split(";", 1)[0].strip().lower()
    if media_type not in _MEDIA_TYPES:
        raise MalformedRequest(
            f"Content-Type {media_type or '(none)'} is not accepted: this is a "
            "SOAP 1.1 service, send text/xml"
        )


def check_soap_action(header: str | None, operation: str) -> None:
    """The body decides the operation; SOAPAction may only agree with it.

    Absent, empty or naming the same operation (as our URI, or as any URI
    ending in the operation's name) is accepted; anything else is a fault, so
    that a client wired to the wrong operation learns it at once.
    """
    action = (header or "").strip().strip('"').strip()
    if not action or _ACTION_NAME.split(action)[-1] == operation:
        return
    raise OperationMismatch(
        f"SOAPAction {action!r} does not match the operation in the body, "
        f"{operation}; send {soap_action(operation)!r} or an empty SOAPAction"
    )


def read_operation_element(body: bytes) -> etree._Element:
    """The one element inside soap:Body, after the envelope checks."""
    envelope = parse_untrusted(body)
    if etree.QName(envelope).localname != "Envelope":
        raise MalformedRequest("the document is not a SOAP envelope")
    if envelope.tag != _ENVELOPE:
        raise VersionMismatch(f"expected a SOAP 1.1 envelope in namespace {SOAP_ENV}")
    header, body_element = _header_and_body(envelope)
    if header is not None:
        _check_headers(header)
    operations = list(body_element)
    if len(operations) != 1:
        raise MalformedRequest(
            f"soap:Body must hold exactly one operation element, not {len(operations)}"
        )
    return operations[0]


def parse_untrusted(data: bytes) -> etree._Element:
    """Parse XML from outside with no file, network or entity access.

    A DOCTYPE is refused outright, before and after parsing: its entities are
    the way to billion-laughs and file-reading attacks, and SOAP 1.1 forbids a
    DTD in a message anyway. Nesting deeper than 256 is refused by libxml2
    itself (``huge_tree`` off). The size is capped by the caller, before the
    body is even read.
    """
    _check_encoding(data)
    if b"<!DOCTYPE" in data:
        raise MalformedRequest("a DOCTYPE is not allowed in a SOAP message")
    # A new parser per call: lxml parser objects must not be shared by threads.
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        raise MalformedRequest(f"the request is not well-formed XML: {error}") from None
    if root.getroottree().docinfo.doctype:
        raise MalformedRequest("a DOCTYPE is not allowed in a SOAP message")
    return root


def validate(element: etree._Element) -> None:
    """Hold an operation element against the contract's XSD."""
    validator = schema()
    if validator.validate(element):
        return
    error = validator.error_log.last_error
    raise MalformedRequest(
        f"the request does not match the contract (line {error.line}): {error.message}"
    )


def response_envelope(operation_xml: str) -> bytes:
    """Wrap a response element, written as text, in a SOAP 1.1 envelope."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>'
        f"{operation_xml}</soap:Body></soap:Envelope>"
    ).encode()


def _check_encoding(data: bytes) -> None:
    # A zero byte near the start means UTF-16 or UTF-32, where the DOCTYPE
    # scan would see nothing; so would an exotic declared encoding.
    declared = _DECLARED_ENCODING.match(data[:200])
    if b"\x00" in data[:64] or (declared and not _scannable(declared.group(1))):
        raise MalformedRequest(
            "send the request in UTF-8 (windows-1257 and ISO-8859 encodings "
            "are accepted when declared in the XML prolog)"
        )


def _scannable(encoding: bytes) -> bool:
    try:
        return codecs.lookup(encoding.decode("ascii")).name in _ENCODINGS
    except (LookupError, UnicodeDecodeError):
        return False


def _header_and_body(
    envelope: etree._Element,
) -> tuple[etree._Element | None, etree._Element]:
    children = list(envelope)
    header = children.pop(0) if children and children[0].tag == _HEADER else None
    if len(children) != 1 or children[0].tag != _BODY:
        raise MalformedRequest(
            "soap:Envelope must hold an optional soap:Header and then one soap:Body"
        )
    return header, children[0]


def _check_headers(header: etree._Element) -> None:
    """Fault on a header entry meant for us that we must understand.

    This service understands no header entry, so any entry addressed to it
    (no actor, or the ``next`` actor) with mustUnderstand="1" is refused, as
    SOAP 1.1 requires; every other header is ignored.
    """
    for entry in header:
        if entry.get(_MUST_UNDERSTAND, "0").strip() not in ("1", "true"):
            continue
        if entry.get(_ACTOR, _ACTOR_NEXT) == _ACTOR_NEXT:
            raise MustUnderstand(
                f'header {entry.tag} has mustUnderstand="1", and this '
                "service understands no header entry"
            )
