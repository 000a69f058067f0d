"""The value types of the API contract: each one validates a value AND states it in JSON Schema.

Used by the models of ``web/api/models.py``.  A value that fails raises a
``PydanticCustomError`` of type ``hanchot`` whose context carries the message
in Vietnamese and English (``web/api/problems.py`` turns it into a problem);
pydantic's own errors (missing, too long, not in the enum …) are worded there too.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainValidator, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError

from workflow.periods import parse_iso_instant
from workflow.storage import DocumentRefused, clean_name

MIN_YEAR, MAX_YEAR = 1900, 2199
#: The largest id a cursor may carry: the database's integer (PostgreSQL ``integer`` is 32-bit).
MAX_ID = 2**31 - 1
MAX_LIMIT, DEFAULT_LIMIT = 200, 50
MAX_DAYS = 366
MAX_DOCUMENTS = 50

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
NAME_PATTERN = r"^[^/\\\u0000-\u001f\u007f]+$"
SHA256_PATTERN = r"^[0-9a-fA-F]{64}$"
KEY_PATTERN = r"^[\x21-\x7e]+$"
CURSOR_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
INSTANT_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")
CURSOR_RE = re.compile(CURSOR_PATTERN)
SHA256_RE = re.compile(SHA256_PATTERN)
QUERY_INT_RE = re.compile(r"^[0-9]{1,6}$")


def refuse(vi: str, en: str, at: str | None = None) -> PydanticCustomError:
    """A refusal with its own words; ``{field}`` in them is replaced by the field's name.

    ``at`` names a field within the object refused, for a check of several fields at once."""
    return PydanticCustomError("hanchot", en, {"vi": vi, "en": en, **({"at": at} if at else {})})


# -- dates and instants --------------------------------------------------------------------------------------------

def _in_years(value: date | datetime) -> None:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise refuse(f"“{{field}}” phải trong khoảng năm {MIN_YEAR}–{MAX_YEAR}.",
                     f"“{{field}}” must fall between the years {MIN_YEAR} and {MAX_YEAR}.")


def parse_day(value: Any) -> date:
    """A calendar date, YYYY-MM-DD, between 1900 and 2199."""
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value
    else:
        if not isinstance(value, str) or not DATE_RE.match(value):
            raise refuse("“{field}” phải là một ngày dạng YYYY-MM-DD, ví dụ 2019-10-25.",
                         "“{field}” must be a date as YYYY-MM-DD, e.g. 2019-10-25.")
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise refuse("“{field}”: ngày không tồn tại.", "“{field}”: no such date.") from None
    _in_years(day)
    return day


def parse_instant(value: Any) -> datetime:
    """An ISO 8601 / RFC 3339 instant WITH its offset, e.g. 2019-10-25T16:30:00+07:00; in UTC."""
    message = ("“{field}” phải là thời điểm ISO 8601 có múi giờ, ví dụ 2019-10-25T16:30:00+07:00.",
               "“{field}” must be an ISO 8601 instant with its offset, e.g. 2019-10-25T16:30:00+07:00.")
    match = INSTANT_RE.match(value) if isinstance(value, str) else None
    if not match:
        raise refuse(*message)
    day, clock, fraction, offset = match.groups()
    fraction = (fraction or "")[:7]  # at most microseconds
    offset = "+00:00" if offset in ("Z", "z") else offset
    try:
        instant = parse_iso_instant(f"{day}T{clock}{fraction}{offset}")  # 24:00:00 is the end of the day
    except ValueError:
        raise refuse(*message) from None
    _in_years(instant)
    return instant.astimezone(UTC)


Day = Annotated[date, PlainValidator(parse_day), WithJsonSchema({"type": "string", "format": "date"})]
Instant = Annotated[datetime, PlainValidator(parse_instant), WithJsonSchema({"type": "string", "format": "date-time"})]


# -- text ------------------------------------------------------------------------------------------------------------

def _printable(value: Any) -> Any:
    """Valid UTF-8, no control characters but tab and line breaks (checked before the length)."""
    if not isinstance(value, str):
        return value  # the str type refuses it, with its own message
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise refuse("“{field}” chứa ký tự không hợp lệ.", "“{field}” holds invalid characters.") from None
    if any((ord(ch) < 32 and ch not in "\t\n\r") or ord(ch) == 127 for ch in value):
        raise refuse("“{field}” chứa ký tự điều khiển.", "“{field}” holds control characters.")
    return value


def _not_blank(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise refuse("“{field}” không được để trống.", "“{field}” must not be blank.")
    return value


def text(max_length: int, *, required: bool = False) -> Any:
    """A string field: printable, at most ``max_length`` characters; ``required`` ones not blank either."""
    if required:
        return Annotated[str, StringConstraints(min_length=1, max_length=max_length),
                         BeforeValidator(_not_blank), BeforeValidator(_printable)]
    return Annotated[str, StringConstraints(max_length=max_length), BeforeValidator(_printable)]


def _document_name(value: Any) -> Any:
    if isinstance(value, str) and ("/" in value or "\\" in value):
        raise refuse("Tên tài liệu không được chứa đường dẫn.", "A document name must not hold a path.")
    value = _printable(value)
    if isinstance(value, str):
        try:  # the domain's rule for names: no hidden format characters (bidi overrides), not too long
            return clean_name(value)
        except DocumentRefused as exc:
            raise refuse(exc.message_vi, exc.message_en) from None
    return value


def _sha256(value: Any) -> Any:
    if isinstance(value, str) and not SHA256_RE.match(value):
        raise refuse("SHA-256 phải gồm 64 chữ số thập lục phân.", "The SHA-256 must be 64 hexadecimal digits.")
    return value


def _idempotency_key(value: Any) -> Any:
    if isinstance(value, str) and not re.fullmatch(r"[\x21-\x7e]{1,255}", value):
        raise refuse("Idempotency-Key phải gồm 1–255 ký tự ASCII in được, ví dụ một UUID.",
                     "Idempotency-Key must be 1–255 printable ASCII characters, e.g. a UUID.")
    return value


def _base64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise refuse("Nội dung phải là chuỗi base64.", "The content must be a base64 string.")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise refuse("Nội dung không phải base64 hợp lệ.", "The content is not valid base64.") from None


Code = Annotated[str, StringConstraints(pattern=CODE_PATTERN)]
DocumentName = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=NAME_PATTERN),
                         BeforeValidator(_document_name)]
Sha256 = Annotated[str, StringConstraints(pattern=SHA256_PATTERN), BeforeValidator(_sha256)]
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=KEY_PATTERN),
                           BeforeValidator(_idempotency_key)]
#: The content of a document in base64; validated to its bytes.
Base64Content = Annotated[bytes, PlainValidator(_base64),
                          WithJsonSchema({"type": "string", "contentEncoding": "base64"})]


# -- query values (strings on the wire) ---------------------------------------------------------------------------------

def _query_int(low: int, high: int):
    def check(value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and QUERY_INT_RE.match(value):
            number = int(value)
        else:
            number = None
        if number is None or not low <= number <= high:
            raise refuse(f"“{{field}}” phải là số nguyên từ {low} đến {high}.",
                         f"“{{field}}” must be a whole number from {low} to {high}.")
        return number
    return check


def query_int(low: int, high: int, **schema: Any) -> Any:
    """A whole number sent in the query string, from ``low`` to ``high``."""
    return Annotated[int, PlainValidator(_query_int(low, high)),
                     WithJsonSchema({"type": "integer", "minimum": low, "maximum": high, **schema})]


def _query_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value not in ("true", "false"):
        raise refuse("“{field}” phải là true hoặc false.", "“{field}” must be true or false.")
    return value == "true"


QueryBool = Annotated[bool, PlainValidator(_query_bool), WithJsonSchema({"type": "boolean", "default": False})]


def encode_cursor(after_id: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{after_id}".encode()).decode().rstrip("=")


def decode_cursor(value: Any) -> int:
    """The id a cursor continues after; within the database's integer range (a larger one is refused, not a 500)."""
    bad = refuse("“{field}” không hợp lệ: dùng đúng giá trị next_cursor của trang trước.",
                 "“{field}” is invalid: pass next_cursor from the previous page as it is.")
    if not isinstance(value, str) or not CURSOR_RE.match(value):
        raise bad
    try:
        decoded = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise bad from None
    match = re.fullmatch(r"v1:([0-9]{1,10})", decoded)
    if not match or int(match.group(1)) > MAX_ID:
        raise bad
    return int(match.group(1))


Cursor = Annotated[int, PlainValidator(decode_cursor),
                   WithJsonSchema({"type": "string", "pattern": CURSOR_PATTERN})]

NonNegative = Annotated[int, Field(ge=0)]
