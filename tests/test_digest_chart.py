"""The received-per-day chart in the organizer's digest (issue 15: "on the dashboard and in the digest").

Mail clients do not render inline SVG, so the digest draws the dashboard's data (workflow/received_chart.py)
as an HTML table with inline styles and bgcolor cells, and as a compact text chart, each with the deadline
and the grace end marked.  Delivered through a real SMTP server (aiosmtpd): every line of the message stays
within RFC 5322's 998 characters.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.conftest import local
from workflow.received_chart import LABELS_EN, render_received_html, render_received_text

pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")

DEADLINE, GRACE_END, TODAY = date(2019, 10, 25), date(2019, 11, 1), date(2019, 10, 29)
PER_DAY = {date(2019, 10, 23): 4, date(2019, 10, 24): 10, date(2019, 10, 25): 20, date(2019, 10, 28): 5}


def test_the_text_chart_marks_the_deadline_and_grace_end_and_scales_the_bars():
    text = render_received_text(PER_DAY, DEADLINE, GRACE_END, TODAY)
    lines = text.splitlines()
    assert lines[0] == "Hồ sơ nhận được theo ngày:"
    deadline = next(x for x in lines if x.startswith("  25/10 "))
    assert deadline.endswith("20  <- Hạn nộp") and "#" * 30 in deadline
    assert next(x for x in lines if x.startswith("  24/10 ")).count("#") == 15
    assert "+" * 8 in next(x for x in lines if x.startswith("  28/10 "))  # late: after the deadline
    assert next(x for x in lines if x.startswith("  01/11 ")).endswith("<- Hết gia hạn")
    assert lines[-1].strip() == "39 hồ sơ nhận được từ 11/10 đến 01/11; nhiều nhất 20 hồ sơ một ngày."
    assert all(len(x) < 78 for x in lines)
    english = render_received_text(PER_DAY, DEADLINE, GRACE_END, TODAY, labels=LABELS_EN)
    assert "<- Deadline" in english and "<- Grace ends" in english
    assert render_received_text({}, DEADLINE, GRACE_END, TODAY) == "Chưa nhận được hồ sơ nào."


def test_the_html_chart_is_a_table_of_inline_styled_bars():
    html = render_received_html(PER_DAY, DEADLINE, GRACE_END, TODAY)
    assert "<svg" not in html and "class=" not in html
    row = next(x for x in html.splitlines() if 'data-day="2019-10-25"' in x)
    assert 'bgcolor="#0d6efd"' in row and 'width="200"' in row and ">20<" in row and "Hạn nộp" in row
    late = next(x for x in html.splitlines() if 'data-day="2019-10-28"' in x)
    assert 'bgcolor="#b35c00"' in late and 'width="50"' in late and "background: #fff3cd" in late
    assert "Hết gia hạn" in next(x for x in html.splitlines() if 'data-day="2019-11-01"' in x)
    assert all(len(x) < 998 for x in html.splitlines())


def test_the_digest_carries_the_chart_in_both_parts(mail_app, runner, smtp_server):
    from notifications.dispatch import dispatch_all
    from tests.test_mail_delivery import CAMPAIGN, tick

    path = runner.app.instance_path + "/tgg-chart.yaml"
    with open(path, "w", encoding="utf-8") as f:
        f.write(CAMPAIGN)
    assert runner.invoke(args=["campaign", "import", path, "--now", "2019-10-07T08:00:00+07:00"]).exit_code == 0
    code = "TGG-2019"
    assert runner.invoke(args=["submission", "record", "--campaign", code, "--unit", "STC", "--at",
                               local(2019, 10, 24, 10).isoformat(), "--channel", "eoffice",
                               "--doc-number", "12/STC"]).exit_code == 0
    assert runner.invoke(args=["submission", "record", "--campaign", code, "--unit", "SYT", "--at",
                               local(2019, 10, 28, 10).isoformat(), "--channel", "eoffice",
                               "--doc-number", "13/SYT"]).exit_code == 0
    tick(local(2019, 10, 29, 9, 0))
    dispatch_all(local(2019, 10, 29, 9, 1))
    (digest,) = [r for r in smtp_server.received if r.rcpt_tos == ["thidua@stttt.tiengiang.gov.vn"]
                 and "Tình hình nhận hồ sơ" in r.subject]
    text = digest.message.get_body(("plain",)).get_content()
    assert "Hồ sơ nhận được theo ngày:" in text
    assert "  24/10 " in text and "<- Hạn nộp" in text and "<- Hết gia hạn" in text
    html = digest.message.get_body(("html",)).get_content()
    assert 'id="received-chart"' in html and 'data-day="2019-10-28"' in html and "Hết gia hạn" in html
    assert all(len(line) <= 998 for line in digest.raw.split(b"\r\n"))
