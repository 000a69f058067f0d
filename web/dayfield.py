"""Dates typed and shown as dd/mm/yyyy: one reader for every date field of the web forms.

Native ``<input type=date>`` shows the browser's own format (mm/dd/yyyy in an English
browser, whatever the page's language), so the forms use text fields with a picker
(static/dates.js) and read the text here.  2019-10-25 is still accepted (a browser's
autofill, an old bookmark), 25/10/2019 and 8/12/2026 are the written forms.
"""

from __future__ import annotations

import re
from datetime import date

from wtforms import DateField
from wtforms.widgets import TextInput

#: How the fields show a date, and the picker's format.
DISPLAY = "%d/%m/%Y"
PLACEHOLDER = "dd/mm/yyyy"
_DMY = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def parse_day(text: str | None) -> date | None:
    """``25/10/2019``, ``25.10.2019``, ``8/12/2026`` or ``2019-10-25`` → a date; None for blank.

    Raises ValueError for anything else (30/02/2019, 12/25/2019, words)."""
    value = (text or "").strip()
    if not value:
        return None
    if m := _DMY.match(value):
        day, month, year = (int(g) for g in m.groups())
    elif m := _ISO.match(value):
        year, month, day = (int(g) for g in m.groups())
    else:
        raise ValueError(value)
    return date(year, month, day)


def format_input(value: date | None) -> str:
    return value.strftime(DISPLAY) if value else ""


class DayInput(TextInput):
    """A text field for a date with the picker's hooks and a dd/mm/yyyy hint."""

    def __call__(self, field, **kwargs):
        kwargs.setdefault("inputmode", "numeric")
        kwargs.setdefault("autocomplete", "off")
        kwargs.setdefault("placeholder", PLACEHOLDER)
        kwargs.setdefault("data-datepicker", "1")
        return super().__call__(field, **kwargs)


class DayTextField(DateField):
    """A WTForms date field read and shown as dd/mm/yyyy; subclasses word the error."""

    widget = DayInput()
    #: The message of a date that cannot be read (subclasses translate theirs).
    invalid_message = "Ngày không hợp lệ; nhập theo dạng ngày/tháng/năm, ví dụ 25/10/2019."

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, format=DISPLAY, **kwargs)

    def _value(self):
        if self.raw_data:
            return " ".join(self.raw_data)
        return format_input(self.data)

    def process_formdata(self, valuelist):
        try:
            self.data = parse_day(valuelist[0] if valuelist else "")
        except ValueError:
            self.data = None
            raise ValueError(self.message_invalid()) from None

    def message_invalid(self) -> str:
        return self.invalid_message
