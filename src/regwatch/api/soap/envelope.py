"""SOAP 1.1 envelopes: reading untrusted ones safely, writing ours.

Reading runs in phases, the cheapest first: refuse from the bytes what must
never reach the parser (a DOCTYPE or entity declaration, an encoding we cannot
scan, more elements than any real request holds), parse with every network and
entity feature off, refuse XInclude and deep nesting, check the envelope and
its headers, then validate the one operation element against the contract's
XSD. Element texts are then mapped by hand (see requests.py): a generic
schema-driven decoder is dozens of times slower on a 100,000-code list.

Hostile input has codes of its own, FORBIDDEN_XML and LIMIT_EXCEEDED, so that
the log, which keeps only the code of a fault, tells an attack from a client's
mistake.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from functools import cache

from lxml import etree

from regwatch.api.soap import security
from regwatch.api.soap.contract import NS, SOAP_ENV, schema, soap_action
from regwatch.api.soap.faults import MustUnderstand, VersionMismatch
from regwatch.config import Settings
from regwatch.errors import (
    ForbiddenXml,
    LimitExceeded,
    MalformedRequest,
    OperationMismatch,
)

_ENVELOPE = f"{{{SOAP_ENV}}}Envelope"
_HEADER = f"{{{SOAP_ENV}}}Header"
_BODY = f"{{{SOAP_ENV}}}Body"
_MUST_UNDERSTAND = f"{{{SOAP_ENV}}}mustUnderstand"

# Encodings in which the markup is plain ASCII bytes, so that the DOCTYPE scan
# below sees what the parser will see; by Python's canonical codec names.
# windows-1257 (cp1257) and ISO-8859-13 are for legacy Baltic clients.
_ENCODINGS = frozenset(
    {"utf-8", "ascii", "iso8859-1", "iso8859-13", "cp1257", "cp1252"}
)
_DECLARED_ENCODING = re.compile(
    rb"""^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*["']([^"']*)["']"""
)
_FIRST_BYTE = re.compile(rb"(?:\xef\xbb\xbf)?[ \t\r\n]*+(.)", re.DOTALL)
_FORBIDDEN_MARKUP = (b"<!DOCTYPE", b"<!ENTITY")
_XINCLUDE = ("{http://www.w3.org/2001/XInclude}*", "{http://www.w3.org/2003/XInclude}*")
_LONG_VALUE = (
    "boolean(.//text()[string-length() > $most] | .//@*[string-length() > $most])"
)
# libxml2's own caps while huge_tree is off: 256 levels, 50,000 characters a
# name, 10 MB a text. (By name: an older lxml may not know both codes.)
_PARSER_LIMITS = frozenset(
    getattr(etree.ErrorTypes, name, None)
    for name in ("ERR_RESOURCE_LIMIT", "ERR_NAME_TOO_LONG")
) - {None}
_LONG_QUOTE = re.compile(r"'([^']{60})[^']{4,}'")
_MESSAGE_CHARS = 2_000
_MEDIA_TYPES = frozenset({"text/xml", "application/xml"})
_ACTION_NAME = re.compile(r"[/#:]")


@dataclass(frozen=True)
class Limits:
    """How big a request the reader takes apart before refusing it.

    ``elements`` bounds attributes too; ``text`` is the characters of one text
    or attribute value, ``name`` those of an element's namespace and name
    together. All are far beyond a real request: the contract's own, smaller
    limits (64 characters a code, 1,000 a purpose) are the XSD's to check.
    """

    elements: int
    depth: int = 32
    text: int = 16_384
    name: int = 512

    @classmethod
    def for_settings(cls, settings: Settings) -> Limits:
        # One element a code, with room for the most codes a call may hold
        # both added and removed (so that a call somewhat over the limit hears
        # TOO_MANY_CODES, which says more), the envelope and header entries.
        return cls(elements=2 * settings.max_codes_per_call + 1_000)


DEFAULT_LIMITS = Limits.for_settings(Settings())


def check_content_type(header: str | None) -> None:
    """SOAP 1.1 travels as ``text/xml``; a charset parameter is allowed.

    The charset is not used: the parser decodes from the bytes and the XML
    prolog, which is what the clients we know of get right.
    """
    media_type = (header or "").split(";", 1)[0].strip().lower()
    if media_type not in _MEDIA_TYPES:
        raise MalformedRequest(
            f"Content-Type {media_type[:100] or '(none)'} is not accepted: this is a "
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
        f"SOAPAction {action[:200]!r} does not match the operation in the body, "
        f"{operation}; send {soap_action(operation)!r} or an empty SOAPAction"
    )


def read_operation_element(
    body: bytes, limits: Limits = DEFAULT_LIMITS
) -> etree._Element:
    """The one element inside soap:Body, after the envelope checks."""
    envelope = parse_untrusted(body, limits)
    if etree.QName(envelope).localname != "Envelope":
        raise MalformedRequest("the document is not a SOAP envelope")
    if envelope.tag != _ENVELOPE:
        raise VersionMismatch(f"expected a SOAP 1.1 envelope in namespace {SOAP_ENV}")
    header, body_element = _header_and_body(envelope)
    if header is not None:
        _check_header_sizes(header, limits)
        _check_headers(header)
    operations = list(body_element)
    if len(operations) != 1:
        raise MalformedRequest(
            f"soap:Body must hold exactly one operation element, not {len(operations)}"
        )
    _check_operation_name(operations[0], limits)
    return operations[0]


def parse_untrusted(data: bytes, limits: Limits = DEFAULT_LIMITS) -> etree._Element:
    """Parse XML from outside with no file, network or entity access.

    A DOCTYPE is refused outright, before and after parsing: its entities are
    the way to billion-laughs and file-reading attacks, and SOAP 1.1 forbids a
    DTD in a message anyway. XInclude is never run, and its elements are
    refused too. The byte size is capped by the caller before the body is
    even read; the element count here before parsing, the nesting after.
    """
    _check_encoding(data)
    _check_markup(data, limits)
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
        raise _syntax_error(error) from None
    if root.getroottree().docinfo.doctype:
        raise _doctype_refused()
    _check_tree(root, limits)
    return root


_HEADER_CHUNK = 64 * 1024


def header_of(data: bytes, limits: Limits = DEFAULT_LIMITS) -> etree._Element | None:
    """The soap:Header of a request, read without parsing the body after it.

    For a caller not yet known (credentials in a WS-Security header): the
    same checks of the raw bytes as a whole parse, then the document is fed to
    a pull parser only until soap:Body begins, so that an anonymous body of
    many megabytes costs no tree. None when the envelope has no header.
    """
    _check_encoding(data)
    _check_markup(data, limits)
    parser = etree.XMLPullParser(
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    for start in range(0, len(data), _HEADER_CHUNK):
        try:
            parser.feed(data[start : start + _HEADER_CHUNK])
        except etree.XMLSyntaxError as error:
            # A fault past the header is the body's, read once the caller is
            # known; the events up to it still tell whether the header ended.
            found = _header_in(parser)
            if found is not False:
                return found
            raise _syntax_error(error) from None
        found = _header_in(parser)
        if found is not False:
            return found
    try:
        parser.close()
    except etree.XMLSyntaxError as error:
        raise _syntax_error(error) from None
    return None


def _header_in(parser: etree.XMLPullParser) -> etree._Element | bool | None:
    """The header once it has ended, None once the body began first, False
    while neither has been seen."""
    for event, element in parser.read_events():
        if event == "end" and element.tag == _HEADER:
            return element
        if event == "start" and element.tag == _BODY:
            return None
    return False


def validate(element: etree._Element, limits: Limits = DEFAULT_LIMITS) -> None:
    """Hold an operation element against the contract's XSD.

    A value too long for the contract is a client's mistake; one far longer
    than any real request is refused as a limit, and never quoted back.
    """
    validator = schema()
    if validator.validate(element):
        return
    if element.xpath(_LONG_VALUE, most=limits.text):
        raise LimitExceeded(
            f"a value in the request is longer than {limits.text:,} characters"
        )
    error = validator.error_log.last_error
    raise MalformedRequest(
        f"the request does not match the contract (line {error.line}): "
        f"{_clipped(error.message)}"
    )


def response_envelope(operation_xml: str) -> bytes:
    """Wrap a response element, written as text, in a SOAP 1.1 envelope."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>'
        f"{operation_xml}</soap:Body></soap:Envelope>"
    ).encode()


def _check_encoding(data: bytes) -> None:
    first = _FIRST_BYTE.match(data)
    if first is None:
        raise MalformedRequest("the request body is empty")
    # A zero byte near the start means UTF-16 or UTF-32, and a first byte
    # other than an ASCII "<" an encoding such as EBCDIC: in both, the scans
    # of the bytes would see nothing; so they would in an exotic declared
    # encoding.
    declared = _DECLARED_ENCODING.match(data[:200])
    if (
        first.group(1) == b"<"
        and b"\x00" not in data[:64]
        and (declared is None or _scannable(declared.group(1)))
    ):
        return
    if _hides_forbidden_markup(data[:4096], declared):
        raise _doctype_refused()
    raise MalformedRequest(
        "send the request in UTF-8 (windows-1257 and ISO-8859 encodings "
        "are accepted when declared in the XML prolog)"
    )


def _hides_forbidden_markup(start: bytes, declared: re.Match[bytes] | None) -> bool:
    """Whether the start of a request refused for its encoding holds a DOCTYPE.

    Only to name the refusal for what it is. UTF-16 and UTF-32 write ASCII
    with zero bytes between; a declared encoding Python knows is decoded.
    """
    readings = [start.replace(b"\x00", b"")]
    if declared is not None:
        try:
            text = start.decode(declared.group(1).decode("ascii"), "replace")
        except (LookupError, ValueError):
            pass
        else:
            readings.append(text.encode())
    return any(m in reading for reading in readings for m in _FORBIDDEN_MARKUP)


def _check_markup(data: bytes, limits: Limits) -> None:
    # _check_encoding has made sure that ASCII is itself in these bytes. A
    # marker inside a comment or a CDATA section is refused too: no client
    # library writes one there.
    if any(marker in data for marker in _FORBIDDEN_MARKUP):
        raise _doctype_refused()

    # Every element opens with "<" and a name, so the count of "<" less that
    # of "</" bounds the elements from above, and each attribute needs a "=".
    # Counting takes milliseconds; parsing 16 MiB of "<a/>" would take half a
    # gigabyte of memory.
    opened = data.count(b"<")
    if opened > limits.elements:
        opened -= data.count(b"</")
    if opened > limits.elements:
        raise LimitExceeded(
            f"the request holds more than {limits.elements:,} elements; "
            "send the codes in several calls"
        )
    if data.count(b"=") > limits.elements:
        raise LimitExceeded(
            f"the request holds more than {limits.elements:,} attributes"
        )


def _check_tree(root: etree._Element, limits: Limits) -> None:
    # Both in C: a tag-filtered walk, and an XPath that stops at the depth.
    if next(root.iter(*_XINCLUDE), None) is not None:
        raise ForbiddenXml("XInclude is not allowed in a SOAP message")
    if root.xpath(_deeper_than(limits.depth)):
        raise LimitExceeded(f"elements are nested more than {limits.depth} deep")


@cache
def _deeper_than(depth: int) -> str:
    """XPath: is there an element below ``depth`` levels (the root is one)?"""
    return "boolean(/" + "/".join(["*"] * (depth + 1)) + ")"


def _check_header_sizes(header: etree._Element, limits: Limits) -> None:
    """Header entries are not held against the XSD, so their sizes are held here.

    A header's names are quoted in faults about it.
    """
    for element in header.iter():
        names = [element.tag, *element.attrib.keys()]
        values = [element.text or "", element.tail or "", *element.attrib.values()]
        if max(map(len, names)) > limits.name or max(map(len, values)) > limits.text:
            raise LimitExceeded(
                f"a header entry holds a name longer than {limits.name} or a "
                f"value longer than {limits.text:,} characters"
            )


def _check_operation_name(operation: etree._Element, limits: Limits) -> None:
    # The name of an unknown operation is quoted back; its namespace is not.
    if etree.QName(operation).namespace != NS:
        raise MalformedRequest(
            f"the element in soap:Body must be one of this service's "
            f"operations, in namespace {NS}"
        )
    if len(operation.tag) > limits.name:
        raise LimitExceeded(
            f"the operation's name is longer than {limits.name} characters"
        )


def _syntax_error(error: etree.XMLSyntaxError) -> MalformedRequest:
    if error.code in _PARSER_LIMITS:
        # libxml2's words for these name its own options; ours name the limit.
        return LimitExceeded(
            "the request nests elements more than 256 deep, or holds a name "
            "or a value too long to read"
        )
    return MalformedRequest(
        f"the request is not well-formed XML: {_clipped(error.msg)}"
    )


def _doctype_refused() -> ForbiddenXml:
    return ForbiddenXml(
        "a DOCTYPE or an entity declaration is not allowed in a SOAP message"
    )


def _clipped(message: str) -> str:
    """libxml2's message with long quoted values cut short.

    Some messages quote the offending value whole; a fault must not send
    back all that the caller sent. (The values reaching here are short of
    ``Limits.text``, so the message is never large.)
    """
    return _LONG_QUOTE.sub(r"'\1...'", message)[:_MESSAGE_CHARS]


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
    """Fault on a header entry meant for us that we must understand and do not.

    The one entry this service understands is WS-Security's ``wsse:Security``
    (for its UsernameToken, see security.py). Any other entry addressed to us
    (no actor, or the ``next`` actor) with mustUnderstand="1" is refused, as
    SOAP 1.1 requires; every other header is ignored.
    """
    for entry in header:
        if entry.get(_MUST_UNDERSTAND, "0").strip() not in ("1", "true"):
            continue
        if security.is_security_header(entry):
            continue
        if security.addressed_to_us(entry):
            raise MustUnderstand(
                f'header {entry.tag} has mustUnderstand="1", and this '
                "service understands only wsse:Security"
            )
