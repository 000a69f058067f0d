"""Daily use by officials (issue 15): dates and logs as they read them."""

from __future__ import annotations

import logging
import re
from datetime import date

from babel.dates import format_date

from cli.scheduler import LOG_FORMAT, UTCFormatter
from workflow.workdays import format_day, weekday_names


def test_days_are_written_by_babel_in_both_languages():
    assert format_day(date(2019, 10, 25)) == "Thứ Sáu 25/10/2019"
    assert format_day(date(2019, 10, 25), "en") == "Friday 25/10/2019"
    assert format_day(date(2019, 9, 15)) == "Chủ Nhật 15/09/2019"
    for offset in range(14):  # the same text as Babel's own for every weekday
        day = date(2026, 12, 7 + offset)
        assert format_day(day) == format_date(day, "EEEE dd/MM/yyyy", locale="vi")
    assert weekday_names() == ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")
    assert weekday_names("en")[0] == "Monday"


def test_scheduler_logs_say_their_time_zone():
    record = logging.LogRecord("hanchot", logging.INFO, __file__, 1, "tick", None, None)
    record.created = 1575246600.0  # 2019-12-02 00:30:00 UTC = 07:30 in Vietnam
    record.msecs = 0
    line = UTCFormatter(LOG_FORMAT).format(record)
    assert line.startswith("2019-12-02T00:30:00.000Z INFO hanchot: tick")
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", line)
