"""WS-Security in the SOAP header: the UsernameToken with its password in clear.

A caller that cannot send HTTP Basic (some SOAP stacks only know WS-Security)
puts its customer id and secret in a ``wsse:UsernameToken`` instead. Only the
PasswordText form is taken: PasswordDigest would need the secret itself on our
side, and secrets are kept only as Argon2 hashes. TLS protects the text on the
wire, as it protects HTTP Basic. Everything else in the Security header (a
Timestamp, a Nonce beside the password) is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from regwatch.api.soap.contract import SOAP_ENV
from regwatch.errors import MalformedRequest, NotAuthenticated

WSSE = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
)
_TOKEN_PROFILE = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
)
PASSWORD_TEXT = f"{_TOKEN_PROFILE}#PasswordText"

_SECURITY = f"{{{WSSE}}}Security"
_USERNAME_TOKEN = f"{{{WSSE}}}UsernameToken"
_USERNAME = f"{{{WSSE}}}Username"
_PASSWORD = f"{{{WSSE}}}Password"
_HEADER = f"{{{SOAP_ENV}}}Header"
_ACTOR = f"{{{SOAP_ENV}}}actor"
_ACTOR_NEXT = "http://schemas.xmlsoap.org/soap/actor/next"


@dataclass(frozen=True)
class UsernameToken:
    username: str
    password: str = field(repr=False)  # a secret: never in a repr, a log, a fault


def addressed_to_us(entry: etree._Element) -> bool:
    """Whether a header entry is meant for this service (no actor, or ``next``)."""
    return entry.get(_ACTOR, _ACTOR_NEXT) == _ACTOR_NEXT


def is_security_header(entry: etree._Element) -> bool:
    """A ``wsse:Security`` entry: the one header this service understands."""
    return entry.tag == _SECURITY


def username_token(element: etree._Element) -> UsernameToken | None:
    """The UsernameToken of the envelope that ``element`` belongs to, if any.

    Refuses, with a message that says what to send instead, a token whose
    password is a digest or missing, and an envelope with two Security headers
    for us (WS-Security allows one per actor).
    """
    envelope = element.getroottree().getroot()
    header = envelope.find(_HEADER)
    return None if header is None else token_in_header(header)


def token_in_header(header: etree._Element) -> UsernameToken | None:
    """The UsernameToken of a soap:Header, if any (see username_token)."""
    ours = [e for e in header if is_security_header(e) and addressed_to_us(e)]
    if len(ours) > 1:
        raise MalformedRequest("send one wsse:Security header, not several")
    tokens = ours[0].findall(_USERNAME_TOKEN) if ours else []
    if not tokens:
        return None
    if len(tokens) > 1:
        raise MalformedRequest("send one wsse:UsernameToken, not several")
    return _read_token(tokens[0])


def _read_token(token: etree._Element) -> UsernameToken:
    username = token.findtext(_USERNAME)
    password = token.find(_PASSWORD)
    if not username or password is None:
        raise NotAuthenticated(
            "the wsse:UsernameToken needs a Username (your customer id) and a "
            "Password (your secret)"
        )
    kind = password.get("Type", PASSWORD_TEXT)
    # Older clients write the type as a QName (wsse:PasswordText).
    name = kind.rpartition("#")[2].rpartition(":")[2]
    if name == "PasswordDigest":
        raise NotAuthenticated(
            "PasswordDigest is not accepted (secrets are kept only as hashes, "
            f"so a digest cannot be checked): send the secret as PasswordText "
            f"({PASSWORD_TEXT}), over TLS"
        )
    if name != "PasswordText":
        raise NotAuthenticated(
            f"password type {kind[:200]!r} is not known: send the secret as "
            f"PasswordText ({PASSWORD_TEXT}), over TLS"
        )
    return UsernameToken(username, password.text or "")
