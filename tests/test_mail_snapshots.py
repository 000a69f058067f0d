"""Every mail kind in every language, rendered with a fixed Tiền Giang 2019 context and compared
with the snapshots in tests/snapshots/mail/ (subject, plain text, HTML).

``UPDATE_SNAPSHOTS=1 pytest tests/test_mail_snapshots.py`` (re)writes the snapshots; otherwise a
missing or different snapshot fails.  Read a changed snapshot before committing it: it is the mail
a unit receives.

The contexts mirror notifications/queue.py: the common part comes from ``_campaign_context``, the
rest is built here the way each ``queue_*`` function builds it.
"""

from __future__ import annotations

import difflib
import os
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from notifications import queue
from notifications.models import OutboxMail
from notifications.render import render_mail
from notifications.rules import Occurrence
from workflow import campaigns as reads
from workflow.campaign_files import KNOWN_GROUPS
from workflow.db import db
from workflow.models import (
    Campaign,
    Milestone,
    Organizer,
    Participation,
    Submission,
    SubmissionDocument,
    Unit,
)
from workflow.standing import DEFAULT_TIERS, STATUSES
from workflow.timeline import MILESTONES
from workflow.workdays import format_day

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots" / "mail"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"
VN = ZoneInfo("Asia/Ho_Chi_Minh")
LANGS = ("vi", "en")
KINDS = ("reminder", "escalation", "receipt", "excluded", "reinstated", "returned", "confirmation", "results",
         "digest", "milestone", "organizer_reminder")
REMINDER_KINDS = ("reminder", "escalation")
APP_URL = "https://hanchot.stttt.tiengiang.gov.vn"


def local(*args) -> datetime:
    return datetime(*args, tzinfo=VN)


# -- the world: Tiền Giang 2019 (seed 000, examples/tien-giang-2019.yaml) -------------------------------

def build_world(unit_name: str | None = None) -> SimpleNamespace:
    """Organizer, campaign, five units and their participations; flushed, ids assigned.

    ``unit_name`` renames the unit most mails go to (Sở Tài nguyên và Môi trường).
    """
    organizer = Organizer(code="TGG", name="Sở Thông tin và Truyền thông tỉnh Tiền Giang", province="Tiền Giang",
                          email="stttt@tiengiang.gov.vn")
    campaign = Campaign(
        organizer=organizer, code="TGG-2019", year=2019, state="open",
        title="Đánh giá, xếp loại chuyên đề thi đua ứng dụng CNTT trong các cơ quan nhà nước tỉnh Tiền Giang "
              "năm 2019",
        document_number="1270/STTTT-CNTT&BCVT", document_date=date(2019, 10, 7),
        data_period_start=date(2019, 1, 1), data_period_end=date(2019, 10, 1),
        deadline=date(2019, 10, 25), grace_working_days=5, tiers=[dict(t) for t in DEFAULT_TIERS],
        council_emails=["hoidong.udcntt@tiengiang.gov.vn"])
    campaign.milestones.append(Milestone(kind="preliminary_review", end_date=date(2019, 10, 31)))
    campaign.milestones.append(Milestone(kind="field_inspection", start_date=date(2019, 11, 1),
                                         end_date=date(2019, 11, 15)))

    def unit(code, name, group, emails, head_email="", parent=None):
        u = Unit(organizer=organizer, code=code, name=name, group=group, emails=emails, head_email=head_email,
                 parent=parent)
        db.session.add(u)
        return u

    stnmt = unit("STNMT", unit_name or "Sở Tài nguyên và Môi trường", "department",
                 ["vanthu.stnmt@tiengiang.gov.vn", "cntt.stnmt@tiengiang.gov.vn"], "giamdoc.stnmt@tiengiang.gov.vn")
    syt = unit("SYT", "Sở Y tế", "department", ["vanthu.syt@tiengiang.gov.vn"], "giamdoc.syt@tiengiang.gov.vn")
    cucthue = unit("CUCTHUE", "Cục Thuế tỉnh", "vertical", ["vanthu.cucthue@tiengiang.gov.vn"])
    chogao = unit("CHOGAO", "UBND huyện Chợ Gạo", "district",
                  ["vanthu.chogao@tiengiang.gov.vn", "cntt.chogao@tiengiang.gov.vn"], "chutich.chogao@tiengiang.gov.vn")
    xa = unit("CHOGAO-LONGBINHDIEN", "UBND xã Long Bình Điền, huyện Chợ Gạo", "commune",
              ["ubnd.longbinhdien.chogao@tiengiang.gov.vn"], "chutich.longbinhdien.chogao@tiengiang.gov.vn",
              parent=chogao)
    db.session.add(campaign)
    parts = {u.code: Participation(campaign=campaign, unit=u) for u in (stnmt, syt, cucthue, chogao, xa)}
    db.session.add_all(parts.values())
    db.session.flush()
    return SimpleNamespace(organizer=organizer, campaign=campaign, stnmt=stnmt, syt=syt, cucthue=cucthue,
                           chogao=chogao, xa=xa, parts=parts)


def submit(w, unit: Unit, received_at: datetime, *, channel: str, doc_number: str = "", status: str,
           late: int = 0, version: int = 1, documents=()) -> Submission:
    """A submission as operations.record_submission leaves it (without its queueing)."""
    p = w.parts[unit.code]
    sub = Submission(version=version, received_at=received_at, channel=channel, doc_number=doc_number,
                     recorded_by="vanthu@stttt.tiengiang.gov.vn", late_working_days=late,
                     receipt_number=f"{w.campaign.code}/{unit.code}/{version}")
    for name, sha, size in documents:
        sub.documents.append(SubmissionDocument(original_name=name, stored_name="", sha256=sha, size=size))
    p.submissions.append(sub)
    p.status, p.late_working_days, p.received_at = status, late, received_at
    db.session.flush()
    return sub


STNMT_DOCUMENTS = (
    ("Bao cao ket qua trien khai UDCNTT nam 2019 - STNMT.pdf",
     "3b8f1c0e9a2d4f6b7c5e8a1d2f3b4c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b", 254_312),
    ("Bang diem tu cham 2019 - STNMT.xlsx",
     "9e2d7a41c6b85f03e1d2c3b4a5968778695a4b3c2d1e0f9a8b7c6d5e4f3a2b1c", 48_907),
)


# -- one context per case ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    kind: str
    variant: str = ""

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.variant}" if self.variant else self.kind


CASES = [
    Case("reminder"),                       # 3 working days before the deadline
    Case("reminder", "deadline_day"),
    Case("reminder", "grace_day"),
    Case("reminder", "no_grace"),           # Cao Bằng 2018 (seed 004): no late dossier accepted
    Case("escalation"),                     # copy to the head of a department
    Case("escalation", "commune_head"),     # copy to the chairman of a commune
    Case("escalation", "parent"),           # copy to the commune's district
    Case("receipt"),                        # on time, e-office, two documents
    Case("receipt", "late"),
    Case("receipt", "resubmitted"),
    Case("excluded"),
    Case("excluded", "no_grace"),
    Case("reinstated"),
    Case("returned"),
    Case("confirmation"),
    Case("confirmation", "no_note"),
    Case("results"),                        # verified, rated, ranked
    Case("results", "provisional"),
    Case("results", "excluded"),
    Case("digest"),
    Case("digest", "all_in"),
    Case("milestone"),
    Case("organizer_reminder"),             # sent from the dashboard's bulk bar, with the organizer's message
    Case("organizer_reminder", "grace_day"),
]


def build_context(case: Case, lang: str, w) -> dict:
    c = w.campaign
    if case.variant == "no_grace":
        c.grace_working_days = 0
        db.session.flush()
    base = queue._campaign_context(c, lang)
    kind, variant = case.kind, case.variant
    for u in (w.stnmt, w.syt, w.cucthue, w.chogao, w.xa):
        u.language = lang

    if kind in REMINDER_KINDS:
        if kind == "escalation":
            occurrence = Occurrence(date(2019, 10, 24), "before_deadline", 1, escalate=True)
        elif variant == "deadline_day":
            occurrence = Occurrence(date(2019, 10, 25), "deadline_day", 0)
        elif variant == "grace_day":
            occurrence = Occurrence(date(2019, 10, 29), "grace_day", 4)
        else:
            occurrence = Occurrence(date(2019, 10, 22), "before_deadline", 3)
        unit = w.xa if variant in ("commune_head", "parent") else w.stnmt
        ctx = base | queue.unit_context(c, unit, kind) | {"occurrence": occurrence}
        if kind == "escalation":
            parent = unit.parent
            ctx |= {"parent": parent, "copy_to_parent": variant == "parent"}
        return ctx

    if kind == "receipt":
        if variant == "late":
            sub = submit(w, w.stnmt, local(2019, 10, 29, 9, 12, 40), channel="upload", status="late", late=2,
                         documents=STNMT_DOCUMENTS[:1])
        elif variant == "resubmitted":
            submit(w, w.stnmt, local(2019, 10, 25, 23, 59, 59), channel="eoffice", doc_number="4127",
                   status="on_time", documents=STNMT_DOCUMENTS)
            w.parts["STNMT"].status = "returned"
            sub = submit(w, w.stnmt, local(2019, 11, 6, 14, 5, 0), channel="email", doc_number="4391",
                         status="resubmitted", version=2,
                         documents=[(STNMT_DOCUMENTS[1][0].replace(".xlsx", " (bo sung).xlsx"),
                                     "5c0a9d8e7f6b5a4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c", 51_220)])
        else:
            sub = submit(w, w.stnmt, local(2019, 10, 25, 23, 59, 59), channel="eoffice", doc_number="4127",
                         status="on_time", documents=STNMT_DOCUMENTS)
        return base | queue.unit_context(c, w.stnmt, kind) | {
            "submission": sub, "received_text": queue._local(sub.received_at, c),
            "channel_name": reads.CHANNELS[sub.channel][0 if lang == "vi" else 1],
            "status": sub.participation.status, "documents": list(sub.documents)}

    if kind == "excluded":
        w.parts["CHOGAO"].status = "excluded"
        return base | queue.unit_context(c, w.chogao, kind)

    if kind == "reinstated":
        reason = ("Đơn vị đã gửi hồ sơ qua phần mềm quản lý văn bản lúc 16:40 ngày 01/11/2019 nhưng văn bản bị "
                  "chuyển nhầm sang Văn phòng UBND tỉnh; căn cứ Công văn số 1342/STTTT-CNTT&BCVT ngày 06/11/2019.")
        return base | queue.unit_context(c, w.chogao, kind) | {"reason": reason}

    if kind == "organizer_reminder":
        reason = ("Đề nghị các đơn vị gửi hồ sơ trước 16:00 ngày 25/10/2019 để Hội đồng kịp tổng hợp; "
                  "liên hệ đồng chí Lan, Phòng CNTT&BCVT, số 0273.3876.543.")
        return base | queue.unit_context(c, w.stnmt, kind) | {"reason": reason, "in_grace": variant == "grace_day"}

    if kind == "returned":
        reason = ("Bảng điểm tự chấm thiếu minh chứng cho tiêu chí 2.3 (tỷ lệ văn bản điện tử có ký số): "
                  "chưa ghi tử số và mẫu số; đường dẫn tại tiêu chí 3.1 không truy cập được.")
        return base | queue.unit_context(c, w.stnmt, kind) | {"reason": reason}

    if kind == "confirmation":
        note = "" if variant == "no_note" else ("Số liệu tiêu chí 1.2 (số máy tính kết nối Internet) đã được điều "
                                                "chỉnh theo kết quả kiểm tra thực tế ngày 08/11/2019.")
        return base | queue.unit_context(c, w.stnmt, kind) | {"reason": note}

    if kind == "results":
        parts = w.parts
        parts["STNMT"].status, parts["STNMT"].self_score, parts["STNMT"].verified_score = \
            "verified", Decimal("98.00"), Decimal("97.50")
        parts["SYT"].status, parts["SYT"].self_score, parts["SYT"].verified_score = \
            "verified", Decimal("100.00"), Decimal("99.25")
        parts["CUCTHUE"].status, parts["CUCTHUE"].self_score = "confirmed", Decimal("92.25")
        parts["CHOGAO"].status, parts["CHOGAO"].verified_score = "verified", Decimal("101.00")
        db.session.flush()
        by_unit = {r.participation.unit.code: r
                   for r in reads.results(c, local(2019, 12, 10, 9, 0))}
        unit = {"": w.stnmt, "provisional": w.cucthue, "excluded": w.xa}[variant]
        return base | queue.unit_context(c, unit, kind) | {"result": by_unit[unit.code]}

    if kind == "digest":
        now = local(2019, 10, 29, 7, 30)
        parts = w.parts
        parts["STNMT"].status, parts["STNMT"].received_at = "on_time", local(2019, 10, 24, 15, 2)
        parts["CUCTHUE"].status, parts["CUCTHUE"].received_at = "on_time", local(2019, 10, 25, 10, 45)
        parts["SYT"].status, parts["SYT"].received_at, parts["SYT"].late_working_days = \
            "late", local(2019, 10, 28, 8, 20), 1
        if variant == "all_in":
            for code in ("CHOGAO", "CHOGAO-LONGBINHDIEN"):
                parts[code].status, parts[code].received_at = "on_time", local(2019, 10, 25, 16, 30)
        else:
            db.session.add(OutboxMail(
                key="c1:u4:reminder:before_deadline-1-2019-10-24:vanthu.chogao@tiengiang.gov.vn",
                campaign_id=c.id, unit_id=w.chogao.id, kind="reminder", occurrence="before_deadline-1-2019-10-24",
                recipient="vanthu.chogao@tiengiang.gov.vn", language="vi",
                subject="[TGG-2019] Còn 1 ngày làm việc đến hạn nộp hồ sơ", body_text="…", body_html="",
                message_id="<hanchot.1@test>", status="failed", attempts=1,
                last_error="550 5.1.1 <vanthu.chogao@tiengiang.gov.vn>: Recipient address rejected: "
                           "User unknown in virtual mailbox table"))
        db.session.flush()
        # As notifications.queue._queue_digest builds it.
        return queue.digest_context(c, now, lang)

    if kind == "milestone":
        names = MILESTONES["preliminary_review"]
        return base | {"milestone_name": names[0 if lang == "vi" else 1],
                       "milestone_end_text": format_day(date(2019, 10, 31), lang),
                       "lead_days": queue.rules_of(c).milestone_lead_days, "link": queue.dashboard_link(c)}

    raise AssertionError(f"no context for {case}")


# -- snapshots -----------------------------------------------------------------------------------------

def render_case(app, case: Case, lang: str, unit_name: str | None = None) -> tuple[str, str, str]:
    app.config["APP_URL"] = APP_URL
    w = build_world(unit_name)
    return render_mail(case.kind, lang, **build_context(case, lang, w))


def check_snapshot(path: Path, actual: str) -> None:
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"missing snapshot {path.relative_to(SNAPSHOTS.parent.parent.parent)}: "
                    "run with UPDATE_SNAPSHOTS=1, then read it")
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                            "snapshot", "rendered"))
        pytest.fail(f"{path.name} differs from its snapshot (UPDATE_SNAPSHOTS=1 rewrites it):\n{diff}")


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_mail_snapshot(app, case, lang):
    subject, text, html = render_case(app, case, lang)

    assert subject.startswith("[TGG-2019] "), subject
    assert "\n" not in subject
    assert text.strip() and html.strip()
    for rendered in (subject, text, html):
        assert "{{" not in rendered and "{%" not in rendered and "None" not in rendered
        assert unicodedata.is_normalized("NFC", rendered)
    assert "  \n" not in text and "\n\n\n" not in text, "stray blank lines or trailing spaces"
    if case.kind in REMINDER_KINDS:
        assert ("Thứ Sáu 25/10/2019" if lang == "vi" else "Friday 25/10/2019") in text
        assert ("Thứ Sáu 25/10/2019" if lang == "vi" else "Friday 25/10/2019") in html
    # Where a deadline matters, the working-day count is explained.
    if case.variant == "no_grace":
        assert ("Hạn chót: hết ngày Thứ Sáu 25/10/2019" if lang == "vi" else "Deadline: end of Friday 25/10/2019") in text
    elif case.kind in ("reminder", "escalation", "excluded") or case.name == "receipt-late":
        assert ("Thứ Hai 28/10/2019: ngày thứ 1" if lang == "vi" else "Monday 28/10/2019: day 1") in text
    assert f'<html lang="{lang}">' in html
    if case.kind not in ("returned", "results"):
        # The launching letter is cited, escaped in HTML.
        assert "1270/STTTT-CNTT&BCVT" in text
        assert "1270/STTTT-CNTT&amp;BCVT" in html and "CNTT&BCVT" not in html

    check_snapshot(SNAPSHOTS / f"{case.name}.{lang}.txt", f"Subject: {subject}\n\n{text}")
    check_snapshot(SNAPSHOTS / f"{case.name}.{lang}.html", html)


def test_every_kind_and_language_has_a_snapshot_case():
    assert {c.kind for c in CASES} == set(KINDS)
    for kind in KINDS:
        assert Case(kind) in CASES


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", KINDS)
def test_html_is_escaped(app, kind, lang):
    """Names with markup are shown as text in HTML, and as typed in plain text."""
    unit_name = "Sở <b>Thử</b> & Cộng sự"
    organizer_name = "Sở <i>TTTT</i> tỉnh Tiền Giang"
    case = Case(kind, "parent" if kind == "escalation" else "")
    app.config["APP_URL"] = APP_URL
    w = build_world()
    # The unit the mail is about (the digest lists the silent district).
    target = {"excluded": w.chogao, "reinstated": w.chogao, "digest": w.chogao, "escalation": w.xa}.get(kind, w.stnmt)
    target.name = unit_name
    w.organizer.name = organizer_name
    db.session.flush()
    ctx = build_context(case, lang, w)
    if kind == "milestone":
        ctx["milestone_name"] = unit_name
    subject, text, html = render_mail(kind, lang, **ctx)
    assert "Sở &lt;b&gt;Thử&lt;/b&gt; &amp; Cộng sự" in html
    assert "&lt;i&gt;TTTT&lt;/i&gt;" in html
    assert "<b>" not in html and "<i>" not in html and "&amp;lt;" not in html
    assert unit_name in text and organizer_name in text


def test_shared_names_match_the_code(app):
    """templates/mail/macros.jinja repeats status, group and tier names: they must agree with the code."""
    macros = app.jinja_env.get_template("mail/macros.jinja").module
    for code, (vi, en) in STATUSES.items():
        assert str(macros.status_name(code, "vi")) == vi
        assert str(macros.status_name(code, "en")) == en
    assert set(macros.STATUS_ORDER) == set(STATUSES)
    for code, (vi, en) in KNOWN_GROUPS.items():
        assert str(macros.group_name(code, "vi")) == vi
        assert str(macros.group_name(code, "en")) == en
    empty = SimpleNamespace(tiers=[])
    for tier in DEFAULT_TIERS:
        assert str(macros.tier_name(tier["name"], empty, "en")) == tier["name_en"]


@pytest.mark.parametrize("lang", LANGS)
def test_received_instant_is_local_time_with_weekday(app, lang):
    """23:59:59 on the deadline day, Vietnam time (16:59:59 UTC), with the weekday in the mail's language."""
    app.config["APP_URL"] = APP_URL
    w = build_world()
    subject, text, html = render_mail("receipt", lang, **build_context(Case("receipt"), lang, w))
    expected = "23:59:59 Thứ Sáu 25/10/2019" if lang == "vi" else "23:59:59 Friday 25/10/2019"
    assert expected in text and expected in html
    assert w.parts["STNMT"].received_at.astimezone(UTC).hour == 16
