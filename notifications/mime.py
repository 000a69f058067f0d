"""The bytes of an outgoing mail: every line within RFC 5322's limits, whatever the content.

Flask-Mail registers utf-8 with no body encoding, so its bodies go out as 8-bit
text with the lines as rendered; a standards-following server (aiosmtpd with
its defaults, Postfix with ``smtpd_forbid_bare_newline``…) refuses a line over
998 octets (``500 Line too long``).  Here the message is built with the
standard library's ``email`` package under its SMTP policy:

- a ``multipart/alternative`` of the plain text and the HTML (or the text
  alone), each part UTF-8 with a transfer encoding that wraps every line at
  76 characters: quoted-printable, or base64 where that is shorter (the
  standard library's choice for UTF-8; Vietnamese text is mostly base64,
  English mostly quoted-printable); pure ASCII with short lines stays 7bit;
- the subject and the sender's display name, when not ASCII, encoded per
  RFC 2047 as base64 encoded-words of at most 75 characters, one a line
  (``email.header.Header``).  Not the SMTP policy's own folding: it mixes
  plain words and encoded-words and drops the space between two of them
  ("nhân dân" arrived as "nhândân").  A long name is split between two
  characters; RFC 2047 readers join the words again (Python's own
  ``email.policy.default`` address parser reads a space in at the split: read a
  From header back with ``email.header.decode_header``).
- CRLF line ends, the row's stable Message-ID, a Date, ``Auto-Submitted``.
"""

from __future__ import annotations

import email.policy
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

#: RFC 5322: lines SHOULD be at most 78 characters and MUST be at most 998.
#: cte_type 7bit: never 8-bit bodies (a relay without 8BITMIME would have to convert them).
POLICY = email.policy.SMTP.clone(max_line_length=78, cte_type="7bit")


def sender_address(sender: str | tuple[str, str]) -> Address:
    """``"Name <addr>"``, ``("Name", "addr")`` or ``"addr"`` (Flask-Mail's forms of MAIL_DEFAULT_SENDER)."""
    if isinstance(sender, (tuple, list)):
        name, addr = sender[0], sender[1]
    else:
        name, addr = parseaddr(sender)
        if not addr:
            name, addr = "", str(sender)
    return Address(display_name=name or "", addr_spec=addr)


def envelope_sender(sender: str | tuple[str, str]) -> str:
    """The address alone, for SMTP's MAIL FROM."""
    return sender_address(sender).addr_spec


class _Encoded(str):
    """A header value already encoded and folded: the policy writes it as is (EmailPolicy
    stores a value with a matching ``name`` unchanged and calls its ``fold``)."""

    name: str

    def __new__(cls, name: str, value: str) -> _Encoded:
        self = super().__new__(cls, value)
        self.name = name
        return self

    def fold(self, *, policy) -> str:
        return f"{self.name}: {self}{policy.linesep}"


def _encoded_words(name: str, value: str) -> str:
    return Header(value, "utf-8", header_name=name).encode(linesep=POLICY.linesep)


def subject_header(subject: str) -> str:
    return subject if subject.isascii() else _Encoded("Subject", _encoded_words("Subject", subject))


def from_header(sender: str | tuple[str, str]):
    address = sender_address(sender)
    if address.display_name.isascii():
        return address
    value = f"{_encoded_words('From', address.display_name)}{POLICY.linesep} <{address.addr_spec}>"
    return _Encoded("From", value)


def build_message(*, sender: str | tuple[str, str], recipient: str, subject: str, text: str, html: str | None,
                  message_id: str, headers: dict[str, str] | None = None) -> EmailMessage:
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = subject_header(subject)
    msg["From"] = from_header(sender)
    msg["To"] = recipient
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text, subtype="plain", charset="utf-8")
    if html:
        msg.add_alternative(html, subtype="html", charset="utf-8")
    return msg


def longest_line(raw: bytes) -> int:
    """Octets of the longest line of a raw message, without its CRLF."""
    return max((len(line) for line in raw.replace(b"\r\n", b"\n").split(b"\n")), default=0)
