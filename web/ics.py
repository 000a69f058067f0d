"""iCalendar (RFC 5545) text for a unit's milestones, written by hand.

Pure: takes plain values, returns the text.  Calendar clients (Outlook,
Google) are strict about the details: CRLF line endings, content lines folded
at 75 octets without splitting a UTF-8 character, escaped text values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

CRLF = "\r\n"
#: Octets per content line, line break excluded (RFC 5545, 3.1).
LINE_OCTETS = 75


@dataclass(frozen=True)
class AllDayEvent:
    """An all-day event from ``start`` to ``end`` (both included)."""

    uid: str
    start: date
    end: date
    summary: str
    description: str = ""
    #: Alarm triggers relative to the start, e.g. ``-PT15H`` (09:00 the day before).
    alarms: tuple[tuple[str, str], ...] = ()


def escape_text(value: str) -> str:
    """A TEXT value: backslash, semicolon, comma and line breaks escaped."""
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def fold(line: str) -> str:
    """Fold a content line at 75 octets; continuation lines start with one space."""
    parts: list[str] = []
    current, size = "", 0
    limit = LINE_OCTETS
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            parts.append(current)
            current, size = " ", 1
        current += char
        size += width
    parts.append(current)
    return CRLF.join(parts)


def _date(value: date) -> str:
    return value.strftime("%Y%m%d")


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar_text(events: list[AllDayEvent], *, now: datetime, name: str, prodid: str = "-//Han Chot//VI") -> str:
    """A VCALENDAR with one VEVENT per event, ending in CRLF."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{prodid}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             f"X-WR-CALNAME:{escape_text(name)}", "X-WR-TIMEZONE:Asia/Ho_Chi_Minh"]
    stamp = _stamp(now)
    for event in events:
        lines += ["BEGIN:VEVENT", f"UID:{event.uid}", f"DTSTAMP:{stamp}",
                  f"DTSTART;VALUE=DATE:{_date(event.start)}",
                  f"DTEND;VALUE=DATE:{_date(event.end + timedelta(days=1))}",
                  f"SUMMARY:{escape_text(event.summary)}"]
        if event.description:
            lines.append(f"DESCRIPTION:{escape_text(event.description)}")
        lines += ["TRANSP:TRANSPARENT"]
        for trigger, text in event.alarms:
            lines += ["BEGIN:VALARM", "ACTION:DISPLAY", f"DESCRIPTION:{escape_text(text)}", f"TRIGGER:{trigger}",
                      "END:VALARM"]
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + CRLF for line in lines)
