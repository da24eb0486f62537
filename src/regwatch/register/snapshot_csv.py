"""The flat CSV form of a snapshot: one person a row, the same content as a line.

UTF-8, comma-separated, a header row naming the columns (in any order, each
exactly once), quoting as RFC 4180 (the csv module's default dialect). An empty
cell is null. Lists sit in one cell: codes separated by ``;``, and identity
documents separated by ``;`` with their fields separated by ``:`` in the order
of ``DOCUMENT_FIELDS``; inside a document field a backslash escapes ``\\``,
``;`` and ``:``. A row becomes the person object of a JSON Lines snapshot, which
is then checked and applied exactly like a line of that format.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from typing import IO, Any

from regwatch.register.feed import FeedRefused, Problem

ADDRESS_FIELDS = (
    "municipalityCode",
    "municipality",
    "place",
    "street",
    "house",
    "flat",
    "postalCode",
)
DOCUMENT_FIELDS = (
    "type",
    "number",
    "issuedOn",
    "validUntil",
    "status",
    "invalidReason",
)
# CSV column -> field of the residencePermit group.
PERMIT_COLUMNS = {
    "permitType": "type",
    "permitNumber": "number",
    "permitIssuedOn": "issuedOn",
    "permitValidUntil": "validUntil",
    "permitStatus": "status",
}
COLUMNS: tuple[str, ...] = (
    "personalCode",
    "previousCodes",
    "sex",
    "birthDate",
    "citizenship",
    "givenNames",
    "surname",
    "dateOfDeath",
    "residenceStatus",
    "residenceSince",
    *ADDRESS_FIELDS,
    "residenceCountry",
    "maritalStatus",
    "maritalSince",
    "childrenCount",
    "photoId",
    "photoTakenOn",
    *PERMIT_COLUMNS,
    "documents",
    "spouse",
    "mother",
    "father",
    "children",
)

LIST_SEPARATOR = ";"
FIELD_SEPARATOR = ":"
_ESCAPED = re.compile(r"([\\;:])")
_INTEGER = re.compile(r"-?[0-9]{1,9}")


# --- writing -------------------------------------------------------------------


def write_csv(out: IO[str], documents: Iterable[dict[str, Any]]) -> None:
    """Persons (export documents) as a snapshot CSV, header first."""
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for document in documents:
        writer.writerow(person_cells(document))


def person_cells(document: dict[str, Any]) -> list[str]:
    """A person's row, in the order of COLUMNS."""
    residence = document["declaredResidence"] or {}
    address = residence.get("address") or {}
    marital = document["maritalStatus"] or {}
    photo = document["photo"] or {}
    permit = document["residencePermit"] or {}
    family = document["family"]
    values: dict[str, Any] = {
        "personalCode": document["personalCode"],
        "previousCodes": LIST_SEPARATOR.join(document["previousCodes"]),
        "sex": document["sex"],
        "birthDate": document["birthDate"],
        "citizenship": document["citizenship"],
        "givenNames": document["name"]["givenNames"],
        "surname": document["name"]["surname"],
        "dateOfDeath": (document["death"] or {}).get("dateOfDeath"),
        "residenceStatus": residence.get("status"),
        "residenceSince": residence.get("since"),
        **{name: address.get(name) for name in ADDRESS_FIELDS},
        "residenceCountry": residence.get("country"),
        "maritalStatus": marital.get("status"),
        "maritalSince": marital.get("since"),
        "childrenCount": document["childrenCount"],
        "photoId": photo.get("photoId"),
        "photoTakenOn": photo.get("takenOn"),
        **{column: permit.get(name) for column, name in PERMIT_COLUMNS.items()},
        "documents": LIST_SEPARATOR.join(
            _document_cell(item) for item in document["identityDocuments"]
        ),
        "spouse": family["spouse"],
        "mother": family["mother"],
        "father": family["father"],
        "children": LIST_SEPARATOR.join(family["children"]),
    }
    return ["" if values[name] is None else str(values[name]) for name in COLUMNS]


def _document_cell(document: dict[str, Any]) -> str:
    return FIELD_SEPARATOR.join(
        "" if document[name] is None else _ESCAPED.sub(r"\\\1", str(document[name]))
        for name in DOCUMENT_FIELDS
    )


def row_text(cells: list[str]) -> str:
    """A row as one CSV record, for a rejects file."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    return buffer.getvalue()


# --- reading -------------------------------------------------------------------


def read_rows(
    stream: IO[bytes], what: str
) -> Iterator[tuple[int, dict[str, Any] | None, list[str], str]]:
    """``(line number, person object or None, cells, problem)`` for every row.

    The line number is that of the row's first physical line (a quoted cell
    may span several). A header that is missing, lacks a column, repeats one or
    names an unknown one refuses the whole file: no row could be read right.
    """
    undecodable: set[int] = set()
    reader = csv.reader(_text_lines(stream, undecodable))
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise FeedRefused(what, [Problem(1, f"the header row: {error}")], 1) from None
    if header is None:
        # An empty file is no snapshot: with --full it would make everyone
        # of the mirror missing.
        raise FeedRefused(what, [Problem(1, "the file is empty: no header row")], 1)
    _check_header(header, what)
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            # A runaway quote, say: the row cannot be read; go on after it.
            number, start = start, reader.line_num + 1
            yield number, None, [], f"not a CSV row: {error}"
            continue
        number, start = start, reader.line_num + 1
        if not cells:
            continue  # a blank line
        bad = [n for n in range(number, start) if n in undecodable]
        if bad:
            yield number, None, cells, "not UTF-8 text"
        elif len(cells) != len(header):
            yield (
                number,
                None,
                cells,
                f"the row has {len(cells)} cells, the header {len(header)}",
            )
        else:
            try:
                yield (
                    number,
                    person_from_cells(dict(zip(header, cells, strict=True))),
                    cells,
                    "",
                )
            except ValueError as error:
                yield number, None, cells, str(error)


def person_from_cells(row: dict[str, str]) -> dict[str, Any]:
    """The person object of a row, shaped like a JSON Lines snapshot line.

    Only the flattening is undone here; whether the values are right is for
    the same checks as any snapshot line (the schema, dates, codes).
    """
    cell = {name: (text if text != "" else None) for name, text in row.items()}
    address = {name: cell[name] for name in ADDRESS_FIELDS}
    permit = {name: cell[column] for column, name in PERMIT_COLUMNS.items()}
    return {
        "personalCode": cell["personalCode"],
        "previousCodes": _codes(row["previousCodes"]),
        "sex": cell["sex"],
        "birthDate": cell["birthDate"],
        "citizenship": cell["citizenship"],
        "name": {"givenNames": cell["givenNames"], "surname": cell["surname"]},
        "death": (
            None
            if cell["dateOfDeath"] is None
            else {"dateOfDeath": cell["dateOfDeath"]}
        ),
        "identityDocuments": _documents(row["documents"]),
        "declaredResidence": {
            "status": cell["residenceStatus"],
            "since": cell["residenceSince"],
            "address": None if _all_empty(address) else address,
            "country": cell["residenceCountry"],
        },
        "maritalStatus": {
            "status": cell["maritalStatus"],
            "since": cell["maritalSince"],
        },
        "childrenCount": _count(row["childrenCount"]),
        "photo": (
            None
            if cell["photoId"] is None and cell["photoTakenOn"] is None
            else {"photoId": cell["photoId"], "takenOn": cell["photoTakenOn"]}
        ),
        "residencePermit": None if _all_empty(permit) else permit,
        "family": {
            "spouse": cell["spouse"],
            "mother": cell["mother"],
            "father": cell["father"],
            "children": _codes(row["children"]),
        },
    }


def _check_header(header: list[str], what: str) -> None:
    missing = [name for name in COLUMNS if name not in header]
    unknown = [name for name in header if name not in COLUMNS]
    repeated = sorted({name for name in header if header.count(name) > 1})
    reasons = []
    if missing:
        reasons.append(f"lacks the columns {', '.join(missing)}")
    if unknown:
        reasons.append(f"has unknown columns {', '.join(unknown)}")
    if repeated:
        reasons.append(f"repeats the columns {', '.join(repeated)}")
    if reasons:
        reason = "the header row " + "; ".join(reasons)
        raise FeedRefused(what, [Problem(1, reason, row_text(header))], 1)


def _text_lines(stream: IO[bytes], undecodable: set[int]) -> Iterator[str]:
    """Physical lines as text (line ends kept, for the csv module's quoting)."""
    for number, raw in enumerate(stream, start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # a byte order mark, as spreadsheets write it
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            undecodable.add(number)
            yield raw.decode("utf-8", errors="replace")


def _all_empty(values: dict[str, Any]) -> bool:
    return all(value is None for value in values.values())


def _codes(text: str) -> list[str]:
    return [] if text == "" else text.split(LIST_SEPARATOR)


def _count(text: str) -> int | str | None:
    """An integer cell; anything else stays text for the schema to refuse."""
    if text == "":
        return None
    return int(text) if _INTEGER.fullmatch(text) else text


def _documents(text: str) -> list[dict[str, Any]]:
    if text == "":
        return []
    documents = []
    for index, item in enumerate(_split(text, LIST_SEPARATOR), start=1):
        fields = _split(item, FIELD_SEPARATOR)
        if len(fields) != len(DOCUMENT_FIELDS):
            raise ValueError(
                f"documents: document {index} has {len(fields)} fields, expected "
                f"{len(DOCUMENT_FIELDS)} ({FIELD_SEPARATOR.join(DOCUMENT_FIELDS)})"
            )
        documents.append(
            {
                name: _unescape(value) if value != "" else None
                for name, value in zip(DOCUMENT_FIELDS, fields, strict=True)
            }
        )
    return documents


def _split(text: str, separator: str) -> list[str]:
    """Split at separators not escaped by a backslash; escapes are kept."""
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text, flags=re.DOTALL)
