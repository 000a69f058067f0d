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


# -- the audit trail as sentences ---------------------------------------------------

def _event(action, before="", after="", reason=""):
    from workflow.models import AuditEvent  # noqa: PLC0415  (the model needs the app's metadata only)

    return AuditEvent(action=action, from_value=before, to_value=after, reason=reason, actor="x")


def test_audit_lines_read_as_sentences_with_local_times():
    from workflow.audit import describe, describe_reason  # noqa: PLC0415

    received = _event("submission.received", "not_submitted",
                      "on_time v1 2026-12-01T21:41:00.285425+00:00 via email #5994/VBĐ")
    assert describe(received) == ("Nhận hồ sơ lần 1 lúc 02/12/2026 04:41, qua hộp thư điện tử công vụ, "
                                  "văn bản số 5994/VBĐ: Nộp đúng hạn (trước đó: Chưa nộp).")
    english = describe(received, "en")
    assert english.startswith("Dossier version 1 received at 02/12/2026 04:41, by official e-mail, "
                              "document no. 5994/VBĐ")
    assert "2026-12-01T" not in english and "on_time" not in english
    created = _event("campaign.created", "", "46 units, deadline 2026-12-08")
    assert describe(created) == "Tạo đợt đánh giá với 46 đơn vị, hạn nộp hồ sơ 08/12/2026."
    assert describe(created, "en") == "Campaign created with 46 units, deadline 08/12/2026."
    moved = _event("milestone.moved", "field_inspection 2019-11-01..2019-11-15", "field_inspection 2019-11-04..2019-11-18")
    assert describe(moved) == "Điều chỉnh mốc “Kiểm tra thực tế” từ 01/11/2019 – 15/11/2019 thành 04/11/2019 – 18/11/2019."
    deadline = _event("milestone.moved", "deadline 2019-10-25", "deadline 2019-10-28")
    assert describe(deadline, "en") == "Moved the deadline from 25/10/2019 to 28/10/2019."
    state = _event("campaign.deadline_passes", "open", "grace")
    assert "open" not in describe(state) and "grace" not in describe(state)
    assert describe_reason("import from tien-giang-2019.yaml") == "Nhập từ tệp tien-giang-2019.yaml"
    assert describe_reason("import from web-form", "en") == "Edited in the form"
    assert describe_reason("Bão số 9") == "Bão số 9"


# -- dates typed as dd/mm/yyyy ---------------------------------------------------------

def test_dates_are_read_day_first():
    import pytest  # noqa: PLC0415

    from web.dayfield import format_input, parse_day  # noqa: PLC0415

    assert parse_day("08/12/2026") == date(2026, 12, 8)  # 8 December, not 12 August
    assert parse_day("8/12/2026") == date(2026, 12, 8)
    assert parse_day("08.12.2026") == date(2026, 12, 8)
    assert parse_day("2026-12-08") == date(2026, 12, 8)
    assert parse_day("  ") is None
    for bad in ("12/25/2026", "30/02/2026", "hôm nay", "2026/12/08"):
        with pytest.raises(ValueError):
            parse_day(bad)
    assert format_input(date(2026, 12, 8)) == "08/12/2026"


# -- spreadsheet exports ---------------------------------------------------------------

def test_exports_print_landscape_a4_with_the_header_on_every_page():
    import io  # noqa: PLC0415
    from datetime import datetime  # noqa: PLC0415

    from openpyxl import load_workbook  # noqa: PLC0415

    from workflow.unit_files import table_csv, table_xlsx  # noqa: PLC0415

    body = table_xlsx("Nhật ký", [("Thời điểm", 20), ("Ngày", 12), ("Việc", 30)],
                      [[datetime(2019, 10, 25, 23, 59), date(2019, 10, 25), "=1+1"]] * 3)
    ws = load_workbook(io.BytesIO(body)).active
    assert ws.page_setup.orientation == "landscape" and str(ws.page_setup.paperSize) == "9"  # 9 = A4
    assert ws.print_title_rows == "$1:$1"
    assert "$A$1:$C$4" in str(ws.print_area)
    assert ws["A2"].number_format == "dd/mm/yyyy hh:mm:ss" and ws["B2"].number_format == "dd/mm/yyyy"
    assert ws["C2"].data_type == "s"  # never a formula
    text = table_csv(["a", "b"], [["1", "=2"]], sep=";", sep_line=True).decode("utf-8-sig")
    assert text == "sep=;\r\na;b\r\n1;'=2\r\n"


# -- the demo -----------------------------------------------------------------------------

def test_demo_shows_one_unit_of_each_state_and_this_years_texts(app):
    from datetime import UTC, datetime  # noqa: PLC0415

    from sqlalchemy import select  # noqa: PLC0415

    from workflow.db import db  # noqa: PLC0415
    from workflow.demo import load  # noqa: PLC0415
    from workflow.models import Campaign, Participation, Unit  # noqa: PLC0415

    now = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    load(now)
    db.session.commit()
    live = db.session.scalar(select(Campaign).where(Campaign.code == "DEMO-2026"))
    statuses = dict(db.session.execute(select(Unit.code, Participation.status).join(Participation.unit)
                                       .where(Participation.campaign_id == live.id)).all())
    assert (statuses["STC"], statuses["SYT"], statuses["SNV"], statuses["SXD"]) == \
        ("not_submitted", "on_time", "returned", "resubmitted")
    texts = [t for texts in live.required_documents.values() for t in texts]
    assert texts and not any("2019" in t for t in texts) and any("năm 2026" in t for t in texts)
    past = dict(db.session.execute(select(Participation.status, Participation.id).join(Campaign)
                                   .where(Campaign.code == "TGG-UDCNTT-2019")).all())
    assert {"late", "excluded"} <= set(past)
