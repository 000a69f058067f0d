"""iCalendar (RFC 5545) feed of a unit's milestones, written with the ``icalendar`` library.

Pure: takes plain values, returns the bytes.  ``icalendar`` takes care of what
calendar clients are strict about (CRLF line endings, lines folded at 75 octets
without splitting a UTF-8 character, escaped text values).  What this module
adds is what lets Outlook and Google *update* an event when a milestone moves
instead of keeping the old date: each event carries its ``SEQUENCE`` (how many
times that milestone moved) and ``LAST-MODIFIED`` (when it last moved), and a
``DTSTAMP`` that is that same instant, so it does not change on every fetch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from icalendar import Alarm, Calendar, Event


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
    #: How many times this event's dates changed (RFC 5545 SEQUENCE, 0 at first).
    sequence: int = 0
    #: When its dates last changed (or the campaign was made); also its DTSTAMP.
    modified: datetime | None = None


def _trigger(text: str) -> timedelta:
    """``-PT15H`` / ``PT8H`` → a timedelta (the few forms the feed uses)."""
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-").removeprefix("PT")
    hours, _, rest = body.partition("H")
    minutes = int(rest.rstrip("M") or 0) if rest else 0
    return sign * timedelta(hours=int(hours or 0), minutes=minutes)


def calendar_bytes(events: list[AllDayEvent], *, now: datetime, name: str,
                   prodid: str = "-//Han Chot//VI") -> bytes:
    """A VCALENDAR with one VEVENT per event (CRLF, folded), as UTF-8 bytes."""
    cal = Calendar()
    cal.add("prodid", prodid)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", "Asia/Ho_Chi_Minh")
    for item in events:
        stamp = (item.modified or now).astimezone(UTC)
        event = Event()
        event.add("uid", item.uid)
        event.add("dtstamp", stamp)
        event.add("last-modified", stamp)
        event.add("sequence", item.sequence)
        event.add("dtstart", item.start)
        event.add("dtend", item.end + timedelta(days=1))
        event.add("summary", item.summary)
        if item.description:
            event.add("description", item.description)
        event.add("transp", "TRANSPARENT")
        for trigger, text in item.alarms:
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", text)
            alarm.add("trigger", _trigger(trigger))
            event.add_component(alarm)
        cal.add_component(event)
    return cal.to_ical()
