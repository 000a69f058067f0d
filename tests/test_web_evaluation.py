"""The evaluation pages: fill, live score, save, submit, verify, send, dispute, results; queries per page."""

from __future__ import annotations

import io

import time_machine
from openpyxl import load_workbook
from sqlalchemy import select

from tests.conftest import local, login
from tests.test_evaluation import CAMPAIGN
from workflow import evaluation
from workflow.db import db
from workflow.models import Participation, Unit

SHEET = "/campaigns/TGG-2019/units/STC/sheet"
FORM = {"v-1.1-numerator": "45", "v-1.1-denominator": "50", "v-1.2-links": "https://stc.tiengiang.gov.vn/cddh",
        "v-2.1-na": "1", "v-2.1-explanation": "Sở không có thủ tục hành chính mức 3, 4", "v-2.2-yes": "1"}


def setup(make_campaign, make_user):
    campaign = make_campaign(CAMPAIGN)
    make_user("stc@tgg.example", "focal_point", "TGG", "STC")
    make_user("admin@tgg.example", "organizer_admin", "TGG")
    return campaign


def csrf(client, url):
    html = client.get(url).get_data(as_text=True)
    marker = 'name="csrf_token" value="'
    return html.split(marker, 1)[1].split('"', 1)[0] if marker in html else ""


def test_fill_save_submit_verify_send_dispute(client, make_campaign, make_user):
    setup(make_campaign, make_user)
    with time_machine.travel(local(2019, 10, 20, 9), tick=False):
        login(client, "stc@tgg.example")
        page = client.get(SHEET)
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "Tỷ lệ văn bản điện tử" in html and "Bộ phận một cửa" not in html  # district only
        token = csrf(client, SHEET)
        live = client.post(SHEET + "/score", data={"csrf_token": token, "v-1.1-numerator": "45",
                                                    "v-1.1-denominator": "50"})
        assert live.get_json()["total"] == "6" and live.get_json()["points"]["1.1"] == "6"
        bad = client.post(SHEET + "/score", data={"csrf_token": token, "v-1.1-numerator": "60",
                                                   "v-1.1-denominator": "50"}).get_json()
        assert "lớn hơn mẫu số" in bad["errors"]["1.1"] and bad["total"] == "0"
        # a refused save keeps what was typed and names the criterion
        refused = client.post(SHEET, data={"csrf_token": token, **FORM, "v-2.1-explanation": "", "action": "save"})
        assert refused.status_code == 422
        body = refused.get_data(as_text=True)
        assert "giải trình" in body and 'value="45"' in body
        saved = client.post(SHEET, data={"csrf_token": token, **FORM, "action": "save"})
        assert saved.status_code == 303
        again = client.get(SHEET).get_data(as_text=True)
        assert 'value="45"' in again and "Sở không có thủ tục hành chính" in again
        assert '<strong class="fs-4" id="total">20</strong>' in again
    with time_machine.travel(local(2019, 10, 21, 10), tick=False):
        login(client, "stc@tgg.example")
        token = csrf(client, SHEET)
        r = client.post(SHEET, data={"csrf_token": token, **FORM, "action": "submit"})
        assert r.status_code == 303, r.get_data(as_text=True)[-3000:]
        p = db.session.scalar(select(Participation).join(Unit).where(Unit.code == "STC"))
        assert p.status == "on_time" and p.self_score == 20
    with time_machine.travel(local(2019, 11, 4, 9), tick=False):
        login(client, "admin@tgg.example")
        token = csrf(client, SHEET)
        r = client.post(SHEET + "/verify/1.1", data={"csrf_token": token, "stage": "preliminary_review",
                                                     "change_value": "1", "v-1.1-numerator": "30",
                                                     "v-1.1-denominator": "50", "note": "Đối chiếu phần mềm"})
        assert r.status_code == 303
        html = client.get(SHEET).get_data(as_text=True)
        assert 'id="verified-total">17<' in html and "Đối chiếu phần mềm" in html
        client.post(SHEET + "/send", data={"csrf_token": token, "working_days": "3"})
        assert "hạn xác nhận 24:00 ngày 07/11/2019" in client.get(SHEET).get_data(as_text=True)
        results = client.get("/campaigns/TGG-2019/evaluation")
        assert results.status_code == 200 and "Sở Tài chính" in results.get_data(as_text=True)
        xlsx = client.get("/campaigns/TGG-2019/evaluation?format=xlsx")
        ws = load_workbook(io.BytesIO(xlsx.data)).worksheets[0]
        header = [c.value for c in ws[4]]
        assert header[:2] == ["STT", "Tên cơ quan, đơn vị"] and header[-4:] == ["Tổng điểm", "Xếp loại", "Xếp hạng",
                                                                                  "Ghi chú"]
        printable = client.get(SHEET + "/print").get_data(as_text=True)
        assert "Đối chiếu phần mềm" in printable and "30/50" in printable
    with time_machine.travel(local(2019, 11, 5, 9), tick=False):
        login(client, "stc@tgg.example")
        token = csrf(client, SHEET)
        r = client.post(SHEET + "/respond", data={"csrf_token": token, "r-1.1": "disputed",
                                                  "r-1.1-reason": "Có 45 văn bản ký số", "r-2.2": "confirmed"})
        assert r.status_code == 303
        html = client.get(SHEET).get_data(as_text=True)
        assert "Không đồng ý" in html and "Có 45 văn bản ký số" in html


def test_after_grace_end_the_sheet_is_read_only(client, make_campaign, make_user):
    campaign = setup(make_campaign, make_user)
    with time_machine.travel(local(2019, 11, 2, 0, 0, 1), tick=False):
        login(client, "stc@tgg.example")
        html = client.get(SHEET).get_data(as_text=True)
        assert 'id="sheet-form"' not in html and 'id="closed"' in html
        r = client.post(SHEET, data={"csrf_token": csrf(client, SHEET), **FORM, "action": "save"})
        assert r.status_code == 422
    assert campaign is not None


def test_the_sheet_of_120_criteria_renders_in_a_constant_number_of_queries(client, make_campaign, make_user,
                                                                          count_statements, tmp_path):
    def campaign_text(n: int) -> str:
        items = []
        for s in range(1, 7):
            items.append(f"      - {{code: {s}, title: Phần {s}, max: {n * 2}}}")
            for i in range(1, n // 6 + 1):
                kind = ("kind: ratio, proportional: true" if i % 3 == 0 else
                        "kind: link" if i % 3 == 1 else "kind: yes_no, na: true")
                items.append(f"      - {{code: '{s}.{i}', title: Tiêu chí {s}.{i}, max: 1, {kind}}}")
        head, _, _rest = CAMPAIGN.partition("criteria:")
        return head.replace("TGG-2019", f"TGG-{n}").replace("code: TGG,", "code: TGG,") + \
            f"criteria:\n  - code: S{n}\n    items:\n" + "\n".join(items) + "\n"

    counts = {}
    for n in (12, 120):
        make_campaign(campaign_text(n))
        if n == 12:
            make_user("stc@tgg.example", "focal_point", "TGG", "STC")
            make_user("admin@tgg.example", "organizer_admin", "TGG")
        campaign_code = f"TGG-{n}"
        with time_machine.travel(local(2019, 10, 20, 9), tick=False):
            from workflow.models import Campaign
            c = db.session.scalar(select(Campaign).where(Campaign.code == campaign_code))
            unit = db.session.scalar(select(Unit).where(Unit.code == "STC"))
            values = {f"{s}.{i}": ({"links": ["https://a.gov.vn/x"]} if i % 3 == 1 else
                                   {"numerator": "1", "denominator": "2"} if i % 3 == 0 else {"yes": True})
                      for s in range(1, 7) for i in range(1, n // 6 + 1)}
            evaluation.save_draft(c, unit, values, actor="t", now=local(2019, 10, 20, 9))
            evaluation.submit_sheet(c, unit, actor="t", now=local(2019, 10, 20, 9))
            db.session.commit()
            if n == 12:
                login(client, "admin@tgg.example")
            url = f"/campaigns/{campaign_code}/units/STC/sheet"
            client.get(url)  # warm
            with count_statements() as counter:
                r = client.get(url)
            assert r.status_code == 200
            assert r.get_data(as_text=True).count('class="criterion"') == n
            counts[n] = counter["n"]
    assert counts[120] == counts[12], counts


def test_pages_link_the_criteria_only_when_the_campaign_has_them(app, client, make_campaign, make_user,
                                                                  count_statements):
    """The agency page links the unit's sheet and the dashboard the criteria results when the campaign's
    scores come from criteria, and not otherwise; the check is read with the campaign's statement."""
    setup(make_campaign, make_user)
    make_campaign(CAMPAIGN.partition("criteria:")[0].replace("code: TGG-2019", "code: TGG-PLAIN"))
    with time_machine.travel(local(2019, 10, 20, 9), tick=False):
        login(client, "stc@tgg.example")
        for code, expected in (("TGG-2019", True), ("TGG-PLAIN", False)):
            db.session.expire_all()
            with count_statements() as counter:
                page = client.get(f"/campaigns/{code}/units/STC")
            assert page.status_code == 200
            assert ('id="sheet-link"' in page.get_data(as_text=True)) is expected, code
            # (no statement of its own: it came with the campaign)
            assert not [sql for sql in counter["sql"] if sql.lstrip().startswith("SELECT criteria_set.id")], code
        admin = app.test_client()
        login(admin, "admin@tgg.example")
        for code, expected in (("TGG-2019", True), ("TGG-PLAIN", False)):
            page = admin.get(f"/campaigns/{code}")
            assert page.status_code == 200
            assert ('id="criteria-results"' in page.get_data(as_text=True)) is expected, code
