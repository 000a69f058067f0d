"""Official letters as DOCX, in the national administrative format (Nghị định 30/2020/NĐ-CP, Phụ lục I):
the issuing body and its parent top left, the national heading and motto top right, the number and
symbol, place and date, the "V/v" summary, "Kính gửi", the body, "Nơi nhận" bottom left and the signer's
authority, title and name bottom right.  A4, Times New Roman 13–14 pt, margins 20/20/30/15 mm.

The page set-up and styles come from ``templates/letters/base.docx`` (kept in the repository, made by
:func:`make_base`); each letter is filled from the campaign's stored data:

* ``launch`` — the launching letter: data period, deadline, grace, milestones, documents by group;
* ``reminder`` — the units that have not submitted, by group;
* ``exclusion`` — the notice of exclusion, listing the units excluded at the end of the grace period;
* ``results`` — the results, with the annexed ranking table by group.

The organizer gives the number, date and signer (:class:`LetterHead`); nothing is stored: the file is
downloaded, signed outside, and can be attached back to its milestone.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from .campaigns import exclusion_preview, results, timeline_of, unit_status_at
from .models import Campaign
from .timeline import MILESTONES

BASE = Path(__file__).resolve().parent.parent / "templates" / "letters" / "base.docx"
KINDS = {"launch": "Văn bản triển khai", "reminder": "Văn bản nhắc gửi hồ sơ",
         "exclusion": "Thông báo không đánh giá, xếp hạng", "results": "Thông báo kết quả"}
GROUPS = {"department": "Các sở, ban, ngành", "vertical": "Các cơ quan ngành dọc",
          "district": "UBND các huyện, thị xã, thành phố", "commune": "UBND các xã, phường, thị trấn"}


#: Characters XML 1.0 (so a DOCX) cannot hold: control characters but tab and line breaks, U+FFFE, U+FFFF.
NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class LetterRefused(ValueError):
    pass


@dataclass(frozen=True)
class LetterHead:
    #: The number and symbol, e.g. ``1270/STTTT-CNTT&BCVT``; empty leaves dots to fill by hand.
    number: str
    day: date
    #: The authority above the title, e.g. ``KT. GIÁM ĐỐC``; may be empty.
    authority: str
    #: e.g. ``GIÁM ĐỐC`` or ``PHÓ GIÁM ĐỐC``
    title: str
    signer: str
    #: The parent body above the issuing one, e.g. ``UBND TỈNH TIỀN GIANG``.
    parent: str = ""


def day_text(d: date) -> str:
    return d.strftime("%d/%m/%Y")


def place_date(place: str, d: date) -> str:
    """``Tiền Giang, ngày 07 tháng 10 năm 2019`` (days below 10 and months below 3 with a zero, NĐ 30)."""
    month = f"{d.month:02d}" if d.month < 3 else str(d.month)
    return f"{place}, ngày {d.day:02d} tháng {month} năm {d.year}"


def make_base(path: Path = BASE) -> None:
    """Write the base document: A4 portrait, NĐ 30 margins, Times New Roman 14 pt."""
    doc = Document()
    sec = doc.sections[0]
    sec.orientation = WD_ORIENT.PORTRAIT
    sec.page_width, sec.page_height = Mm(210), Mm(297)
    sec.top_margin, sec.bottom_margin, sec.left_margin, sec.right_margin = Mm(20), Mm(20), Mm(30), Mm(15)
    style = doc.styles["Normal"]
    style.font.name = "Times New Roman"
    style.font.size = Pt(14)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "Times New Roman")
    style.paragraph_format.space_after = Pt(6)
    style.paragraph_format.line_spacing = 1.15
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path))


def _cell_text(cell, lines: list[tuple[str, dict]], align=WD_ALIGN_PARAGRAPH.CENTER) -> None:
    cell.paragraphs[0].text = ""
    for i, (text, fmt) in enumerate(lines):
        p = cell.paragraphs[0] if i == 0 else cell.add_paragraph()
        p.alignment = align
        p.paragraph_format.space_after = Pt(fmt.get("after", 0))
        run = p.add_run(text)
        run.bold = fmt.get("bold", False)
        run.italic = fmt.get("italic", False)
        run.font.size = Pt(fmt.get("size", 13))
        if fmt.get("underline"):
            run.underline = True


def _no_borders(table) -> None:
    tbl_pr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "nil")
        borders.append(el)
    tbl_pr.append(borders)


def _widths(table, widths) -> None:
    """Column widths that LibreOffice and Word both follow: the grid and every cell."""
    table.autofit = False
    grid = table._tbl.tblGrid
    for col, w in zip(grid.findall(qn("w:gridCol")), widths, strict=True):
        col.set(qn("w:w"), str(int(w.twips if hasattr(w, "twips") else w)))
    for row in table.rows:
        for cell, w in zip(row.cells, widths, strict=True):
            cell.width = w
    layout = OxmlElement("w:tblLayout")
    layout.set(qn("w:type"), "fixed")
    table._tbl.tblPr.append(layout)


def _header(doc, campaign: Campaign, head: LetterHead, summary: str) -> None:
    org = campaign.organizer
    parent = head.parent or (f"UBND TỈNH {org.province.upper()}" if org.province else "")
    body = org.name.upper()
    if org.province and body.endswith(f" TỈNH {org.province.upper()}"):
        body = body[: -len(f" TỈNH {org.province.upper()}")]
    t = doc.add_table(rows=1, cols=2)
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    t.autofit = False
    _no_borders(t)
    _widths(t, (Mm(72), Mm(96)))
    number = head.number or "......"
    left = [(parent, {"size": 12}), (body, {"bold": True, "underline": True, "after": 6, "size": 12}),
            (f"Số: {number}", {}),
            (f"V/v {summary}", {"size": 12})]
    right = [("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", {"bold": True, "size": 12}),
             ("Độc lập - Tự do - Hạnh phúc", {"bold": True, "size": 14, "underline": True, "after": 6}),
             (place_date(org.province or "", head.day), {"italic": True, "size": 14})]
    if not parent:
        left = left[1:]
    _cell_text(t.rows[0].cells[0], left)
    _cell_text(t.rows[0].cells[1], right)
    doc.add_paragraph()


def _para(doc, text: str, *, bold=False, italic=False, indent=True, align=WD_ALIGN_PARAGRAPH.JUSTIFY):
    p = doc.add_paragraph()
    p.alignment = align
    if indent:
        p.paragraph_format.first_line_indent = Mm(12.7)
    run = p.add_run(text)
    run.bold, run.italic = bold, italic
    return p


def _recipients(doc, lines: list[str]) -> None:
    p = doc.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    p.add_run("Kính gửi: ").bold = False
    if len(lines) == 1:
        p.add_run(lines[0])
        return
    for line in lines:
        q = doc.add_paragraph(f"- {line};")
        q.paragraph_format.left_indent = Mm(35)
        q.paragraph_format.space_after = Pt(0)


def _footer(doc, head: LetterHead, recipients: list[str]) -> None:
    doc.add_paragraph()
    t = doc.add_table(rows=1, cols=2)
    _no_borders(t)
    _widths(t, (Mm(80), Mm(85)))
    left = [("Nơi nhận:", {"bold": True, "italic": True, "size": 12})] + [
        (f"- {r};" if i < len(recipients) - 1 else f"- {r}.", {"size": 11}) for i, r in enumerate(recipients)]
    _cell_text(t.rows[0].cells[0], left, align=WD_ALIGN_PARAGRAPH.LEFT)
    right = ([(head.authority.upper(), {"bold": True, "size": 14})] if head.authority else []) + [
        (head.title.upper(), {"bold": True, "size": 14, "after": 60}),
        (head.signer, {"bold": True, "size": 14})]
    _cell_text(t.rows[0].cells[1], right)


def _groups_of(rows) -> dict[str, list]:
    out: dict[str, list] = {}
    for r in rows:
        out.setdefault(r.unit.group if hasattr(r, "unit") else r.participation.unit.group, []).append(r)
    order = list(GROUPS)
    return dict(sorted(out.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99))


def _table(doc, header: list[str], rows: list[list[str]], widths: list[float]) -> None:
    t = doc.add_table(rows=1, cols=len(header))
    t.style = "Table Grid"
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(t.rows[0].cells, header, strict=True):
        _cell_text(cell, [(text, {"bold": True, "size": 12})])
    for row in rows:
        cells = t.add_row().cells
        for i, (cell, text) in enumerate(zip(cells, row, strict=True)):
            _cell_text(cell, [(text, {"size": 12})],
                       align=WD_ALIGN_PARAGRAPH.LEFT if i == 1 else WD_ALIGN_PARAGRAPH.CENTER)
    _widths(t, [Mm(w) for w in widths])


def build(campaign: Campaign, kind: str, head: LetterHead, now: datetime) -> bytes:
    """The letter ``kind`` of ``campaign`` as DOCX bytes."""
    if kind not in KINDS:
        raise LetterRefused(f"Không có loại văn bản “{kind}”.")
    for text in (head.number, head.authority, head.title, head.signer, head.parent):
        if NOT_IN_XML.search(text):  # a DOCX is XML 1.0: lxml refuses these (a 500 otherwise)
            raise LetterRefused("Số, chức vụ hoặc người ký chứa ký tự không hợp lệ.")
    doc = Document(str(BASE)) if BASE.exists() else Document()
    org_short = campaign.organizer.name
    tl = timeline_of(campaign)
    year = campaign.year
    subject = f"đánh giá, xếp hạng mức độ ứng dụng CNTT năm {year}"
    others = ["Như trên", "Ban Giám đốc", "Lưu: VT"]
    if kind == "launch":
        _header(doc, campaign, head, f"triển khai công tác {subject}")
        _recipients(doc, [GROUPS.get(g, g) for g in _present_groups(campaign)])
        _para(doc, f"Nhằm triển khai “{campaign.title}”, {org_short} đề nghị các cơ quan, đơn vị thực hiện "
                   "một số nội dung sau:")
        n = 1
        if campaign.data_period_start and campaign.data_period_end:
            _para(doc, f"{n}. Số liệu báo cáo, thống kê được tính từ ngày {day_text(campaign.data_period_start)} "
                       f"đến ngày {day_text(campaign.data_period_end)}.")
            n += 1
        grace = (f" Các cơ quan, đơn vị gửi hồ sơ trễ ({campaign.grace_working_days} ngày làm việc kể từ ngày "
                 f"{day_text(campaign.deadline)}, tức đến hết ngày {day_text(tl.grace_end)}) hoặc không gửi hồ sơ "
                 "thì xem như không được đánh giá, xếp hạng."
                 if campaign.grace_working_days else
                 " Không đánh giá, xếp hạng đối với các cơ quan, đơn vị gửi hồ sơ chậm hoặc không gửi.")
        _para(doc, f"{n}. Các cơ quan, đơn vị gửi hồ sơ về {org_short} đến hết ngày {day_text(campaign.deadline)} "
                   "bằng văn bản điện tử có ký số qua hệ thống phần mềm Quản lý văn bản và điều hành hoặc hộp thư "
                   f"điện tử công vụ.{grace}")
        n += 1
        items = [i for i in tl.items if i.kind in MILESTONES]
        if items:
            _para(doc, f"{n}. Các mốc thời gian:")
            for i in items:
                when = (f"từ ngày {day_text(i.start)} đến ngày {day_text(i.end)}" if i.start
                        else f"hoàn thành trước ngày {day_text(_next_day(i.end))}")
                _para(doc, f"- {i.name_vi}: {when}.")
            n += 1
        if campaign.required_documents:
            _para(doc, f"{n}. Hồ sơ gồm:")
            for group, docs in campaign.required_documents.items():
                _para(doc, f"{GROUPS.get(group, group)}:", italic=True)
                for d in docs:
                    _para(doc, f"- {d}.")
        recipients = ["Như trên", *others[1:]]
    elif kind == "reminder":
        missing = exclusion_preview(campaign)
        _header(doc, campaign, head, f"đôn đốc gửi hồ sơ {subject}")
        _recipients(doc, ["Các cơ quan, đơn vị có tên tại danh sách dưới đây"])
        _para(doc, f"Thực hiện “{campaign.title}”, hạn gửi hồ sơ là hết ngày {day_text(campaign.deadline)}"
                   + (f", thời gian gia hạn đến hết ngày {day_text(tl.grace_end)}" if campaign.grace_working_days
                      else "") + f". Đến ngày {day_text(head.day)}, {org_short} chưa nhận được hồ sơ của "
                   f"{len(missing)} cơ quan, đơn vị sau:")
        for group, ps in _groups_of(missing).items():
            _para(doc, f"{GROUPS.get(group, group)} ({len(ps)}):", bold=True)
            for n_unit, p in enumerate(ps, 1):
                _para(doc, f"{n_unit}. {p.unit.name}")
        _para(doc, "Đề nghị các cơ quan, đơn vị khẩn trương gửi hồ sơ; quá thời hạn trên, cơ quan, đơn vị không "
                   "gửi hồ sơ sẽ không được đánh giá, xếp hạng.")
        recipients = ["Như trên", *others[1:]]
    elif kind == "exclusion":
        grace_ended = now >= tl.grace_ends_at
        excluded = [p for p in campaign.participations if unit_status_at(p, grace_ended) == "excluded"]
        excluded.sort(key=lambda p: (p.unit.group, p.unit.code))
        _header(doc, campaign, head, f"các cơ quan, đơn vị không được {subject}")
        _recipients(doc, ["Các cơ quan, đơn vị có tên tại danh sách dưới đây"])
        _para(doc, f"Thời gian nhận hồ sơ “{campaign.title}” đã kết thúc vào ngày {day_text(tl.grace_end)}"
                   + (f" (hạn chót ngày {day_text(campaign.deadline)} và {campaign.grace_working_days} ngày làm việc "
                      "gia hạn)" if campaign.grace_working_days else "") +
                   f". {org_short} thông báo các cơ quan, đơn vị sau không gửi hồ sơ hoặc gửi quá thời hạn nên "
                   f"không được đánh giá, xếp hạng ({len(excluded)} đơn vị):")
        for group, ps in _groups_of(excluded).items():
            _para(doc, f"{GROUPS.get(group, group)} ({len(ps)}):", bold=True)
            for n_unit, p in enumerate(ps, 1):
                _para(doc, f"{n_unit}. {p.unit.name}")
        recipients = ["Như trên", "UBND tỉnh (b/c)", *others[1:]]
    else:
        rows = [r for r in results(campaign, now) if r.rank is not None]
        _header(doc, campaign, head, f"thông báo kết quả {subject}")
        _recipients(doc, [GROUPS.get(g, g) for g in _present_groups(campaign)])
        _para(doc, f"{org_short} thông báo kết quả “{campaign.title}” của {len(rows)} cơ quan, đơn vị được "
                   "đánh giá, xếp hạng (chi tiết tại Phụ lục kèm theo).")
        _footer(doc, head, ["Như trên", "UBND tỉnh (b/c)", *others[1:]])
        doc.add_page_break()
        _para(doc, "Phụ lục", bold=True, indent=False, align=WD_ALIGN_PARAGRAPH.CENTER)
        _para(doc, f"KẾT QUẢ ĐÁNH GIÁ, XẾP HẠNG MỨC ĐỘ ỨNG DỤNG CNTT NĂM {year}", bold=True, indent=False,
              align=WD_ALIGN_PARAGRAPH.CENTER)
        _para(doc, f"(Kèm theo Văn bản số {head.number or '......'} ngày {day_text(head.day)} của {org_short})",
              italic=True, indent=False, align=WD_ALIGN_PARAGRAPH.CENTER)
        for group, rs in _groups_of(rows).items():
            _para(doc, GROUPS.get(group, group), bold=True, indent=False)
            rs.sort(key=lambda r: (r.rank, r.participation.unit.code))
            _table(doc, ["Hạng", "Cơ quan, đơn vị", "Điểm", "Xếp loại"],
                   [[str(r.rank), r.participation.unit.name, _score(r.score), r.rating or ""] for r in rs],
                   [15, 100, 25, 25])
        return _bytes(doc)
    _footer(doc, head, recipients)
    return _bytes(doc)


def _score(value) -> str:
    return "" if value is None else f"{value:.2f}".replace(".", ",")


def _next_day(d: date) -> date:
    return date.fromordinal(d.toordinal() + 1)


def _present_groups(campaign: Campaign) -> list[str]:
    order = list(GROUPS)
    groups = {p.unit.group for p in campaign.participations}
    return sorted(groups, key=lambda g: order.index(g) if g in order else 99)


def _bytes(doc) -> bytes:
    """The DOCX, the same bytes for the same letter: python-docx stamps each zip entry with the clock, so
    the entries are written again with a fixed date (an ETag of the file then stays while the letter does)."""
    buf = io.BytesIO()
    doc.save(buf)
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(entry, src.read(info.filename))
    return out.getvalue()
