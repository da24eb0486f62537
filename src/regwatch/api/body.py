"""Reading a request body without ever holding more than the allowed size."""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request

from regwatch.errors import MalformedRequest, RequestTooLarge


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or RequestTooLarge as soon as it passes ``limit`` bytes.

    A declared Content-Length over the limit is refused before reading; the
    count while streaming catches chunked bodies and lying headers.
    """
    if _declared_over(request.headers.get("content-length", ""), limit):
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        # Nobody will read the answer; this keeps it out of the error log.
        raise MalformedRequest(
            "the client left before sending the whole body"
        ) from None
    return b"".join(chunks)


def _declared_over(content_length: str, limit: int) -> bool:
    # ASCII digits only: str.isdigit() takes "²" too, which int() refuses.
    # Past 18 digits the number is over any limit, and Python will not
    # convert more than 4,300 digits at all.
    digits = content_length.strip().lstrip("0")
    if not (digits.isascii() and digits.isdigit()):
        return False
    return len(digits) > 18 or int(digits) > limit


def _too_large(limit: int) -> RequestTooLarge:
    return RequestTooLarge(
        f"the request is larger than {limit} bytes; send the codes in several calls"
    )
