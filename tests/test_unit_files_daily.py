"""Spreadsheets provinces really have (issue 15): title rows and a signature block, .xls, .ods,
CSV from Vietnamese Windows Excel in every encoding it writes."""

from __future__ import annotations

import io
import unicodedata
from pathlib import Path

import pytest
from odf.opendocument import OpenDocumentSpreadsheet
from odf.table import Table, TableCell, TableRow
from odf.text import P
from openpyxl import Workbook

from workflow.unit_files import UnitFileError, read_units

FIXTURES = Path(__file__).with_name("fixtures")
TITLE = [["UBND TỈNH TIỀN GIANG"], ["SỞ THÔNG TIN VÀ TRUYỀN THÔNG"], [],
         ["DANH SÁCH CƠ QUAN, ĐƠN VỊ THAM GIA ĐÁNH GIÁ NĂM 2026"], []]
HEADER = ["STT", "Mã đơn vị", "Tên đơn vị", "Khối", "Thư điện tử"]
UNITS = [["1", "STC", "Sở Tài chính", "Sở, ban, ngành", "vanthu.stc@tiengiang.gov.vn"],
         ["2", "SYT", "Sở Y tế", "Sở, ban, ngành", "vanthu.syt@tiengiang.gov.vn"],
         ["3", "CHOGAO", "UBND huyện Chợ Gạo", "Huyện, thị xã, thành phố", "vanthu.chogao@tiengiang.gov.vn"]]
SIGNATURE = [["", "Người lập biểu", "", "", "GIÁM ĐỐC"], [], [], ["", "Nguyễn Văn A", "", "", "Trần Thị B"]]


def province_xlsx(rows) -> bytes:
    wb = Workbook()
    for row in rows:
        wb.active.append([int(c) if c.isdigit() else (c or None) for c in row])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def province_ods(rows) -> bytes:
    doc = OpenDocumentSpreadsheet()
    table = Table(name="Danh sách")
    for row in rows:
        tr = TableRow()
        for value in row or [""]:
            cell = TableCell(valuetype="string") if value else TableCell()
            if value:
                cell.addElement(P(text=value))
            tr.addElement(cell)
        table.addElement(tr)
    doc.spreadsheet.addElement(table)
    out = io.BytesIO()
    doc.write(out)
    return out.getvalue()


def cp1258_bytes(text: str) -> bytes:
    """Text as Vietnamese Windows writes it in cp1258: a letter of the code page, then a combining tone mark."""
    out = b""
    for ch in text:
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        base, *marks = unicodedata.normalize("NFD", ch)
        for keep in marks:
            rest = "".join(m for m in marks if m != keep)
            try:
                out += unicodedata.normalize("NFC", base + keep).encode("cp1258") + rest.encode("cp1258")
                break
            except UnicodeEncodeError:
                continue
        else:
            out += (base + "".join(marks)).encode("cp1258")
    return out


def csv_text(sep: str) -> str:
    rows = [HEADER] + UNITS
    return "".join(sep.join(f'"{c}"' if sep in c else c for c in row) + "\r\n" for row in rows)


def assert_units(parsed, read_as):
    assert parsed.ok, parsed.errors
    assert parsed.read_as == read_as
    assert [(u.code, u.name) for u in parsed.units] == [(r[1], r[2]) for r in UNITS]


@pytest.mark.parametrize("blank_before_signature", [True, False])
def test_province_xlsx_with_title_rows_and_a_signature_block(blank_before_signature):
    rows = TITLE + [HEADER] + UNITS + ([[]] if blank_before_signature else []) + SIGNATURE
    parsed = read_units(province_xlsx(rows), "danh-sach.xlsx")
    assert_units(parsed, "xlsx")
    ignored = [text for _, text in parsed.ignored_rows]
    assert ignored == ["Người lập biểu · GIÁM ĐỐC", "Nguyễn Văn A · Trần Thị B"]


def test_a_bad_row_inside_the_table_is_still_an_error():
    rows = [HEADER, UNITS[0], ["2", "SỞ Y TẾ", "Sở Y tế", "", ""], UNITS[2]] + SIGNATURE
    parsed = read_units(province_xlsx(rows), "x.xlsx")
    assert not parsed.ok and parsed.errors[0].row == 3


def test_xls_made_by_libreoffice_is_read():
    """tests/fixtures/units-province.xls: the province-style sheet above (title rows, signature block),
    saved as "Excel 97–2003" by `soffice --headless --convert-to xls`."""
    parsed = read_units((FIXTURES / "units-province.xls").read_bytes(), "units-province.xls")
    assert_units(parsed, "xls")
    assert [text for _, text in parsed.ignored_rows] == ["Người lập biểu · GIÁM ĐỐC", "Nguyễn Văn A · Trần Thị B"]


def test_ods_is_read():
    parsed = read_units(province_ods(TITLE + [HEADER] + UNITS + [[]] + SIGNATURE), "danh-sach.ods")
    assert_units(parsed, "ods")
    assert len(parsed.ignored_rows) == 2


def test_damaged_xls_says_how_to_save_as_xlsx():
    data = (FIXTURES / "units-province.xls").read_bytes()[:1500]
    with pytest.raises(UnitFileError, match="Lưu thành"):
        read_units(data, "hong.xls")


@pytest.mark.parametrize(("encoding", "sep"), [
    ("cp1258", ","), ("cp1258", ";"), ("cp1252-ascii", ";"), ("utf-16", "\t"), ("utf-8-sig", ";"),
    ("utf-8", ","), ("utf-8", "\t")])
def test_csv_encodings_and_separators_excel_writes(encoding, sep):
    text = csv_text(sep)
    if encoding == "cp1258":
        data = cp1258_bytes(text)
    elif encoding == "cp1252-ascii":  # a list typed without diacritics, saved by a Western Excel
        text = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
        text = "".join(c for c in text if not unicodedata.combining(c))
        data = text.encode("cp1252")
    else:  # utf-16: Excel's "Unicode text" (BOM, little-endian, tabs)
        data = text.encode(encoding)
    parsed = read_units(data, "danh-sach.csv")
    assert parsed.ok, parsed.errors
    if encoding == "cp1252-ascii":
        assert [u.name for u in parsed.units] == ["So Tai chinh", "So Y te", "UBND huyen Cho Gao"]
    else:
        assert_units(parsed, {"utf-16": "utf-16", "utf-8-sig": "utf-8-sig", "utf-8": "utf-8"}.get(encoding, encoding))


def test_excel_sep_line_is_honoured():
    parsed = read_units(("sep=;\r\n" + csv_text(";")).encode("utf-8"), "x.csv")
    assert_units(parsed, "utf-8")
