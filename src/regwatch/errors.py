"""The one error language of the services.

Each error has a stable machine code. The SOAP adapter maps them to faults (one
mapping, in api/soap/faults.py); a later REST adapter maps the same ones to
problem+json. Messages say what is wrong and where, and never contain a secret.
"""

from __future__ import annotations


class ServiceError(Exception):
    code = "INTERNAL_ERROR"
    client_error = True  # the caller's request is at fault (soap:Client)

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAuthenticated(ServiceError):
    code = "NOT_AUTHENTICATED"


class MalformedRequest(ServiceError):
    code = "MALFORMED_REQUEST"


class RequestTooLarge(ServiceError):
    code = "REQUEST_TOO_LARGE"


class TooManyCodes(ServiceError):
    code = "TOO_MANY_CODES"


class UnknownDay(ServiceError):
    code = "UNKNOWN_DAY"


class DayNotPublished(ServiceError):
    code = "DAY_NOT_PUBLISHED"


class DayOutsideRetention(ServiceError):
    code = "DAY_OUTSIDE_RETENTION"


class InvalidPageToken(ServiceError):
    code = "INVALID_PAGE_TOKEN"


class RequestIdReused(ServiceError):
    """The same requestId came back with different content."""

    code = "REQUEST_ID_REUSED"


class OperationMismatch(ServiceError):
    code = "OPERATION_MISMATCH"


class NotFound(ServiceError):
    code = "NOT_FOUND"


class ServiceBusy(ServiceError):
    """The database could not take the call in time; nothing of it was kept."""

    code = "SERVICE_BUSY"
    client_error = False


class InternalError(ServiceError):
    code = "INTERNAL_ERROR"
    client_error = False


class ForbiddenXml(MalformedRequest):
    """XML the service never reads: a DTD, entity declarations, XInclude.

    A client library does not send these; an attacker probing for file reads
    or entity blow-ups does, so they have a code of their own in the logs.
    """

    code = "FORBIDDEN_XML"


class LimitExceeded(MalformedRequest):
    """Nesting, element count or a single value far beyond any real request.

    Refused before the work that the size would make expensive.
    """

    code = "LIMIT_EXCEEDED"


class LoginDelayed(ServiceError):
    """Too many failed logins for this customer id or from this address.

    Not a wrong secret but "not now": answered with HTTP 429 and the seconds
    to wait in Retry-After.
    """

    code = "LOGIN_DELAYED"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many failed logins; the next attempt is checked in {retry_after} s"
        )
        self.retry_after = retry_after
