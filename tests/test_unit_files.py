"""Reading provinces' unit lists (XLSX, CSV in several encodings) and writing exports, without the web app."""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import datetime
from decimal import Decimal

import pytest
from openpyxl import Workbook, load_workbook

from workflow.campaign_files import UnitSpec
from workflow.unit_files import (
    RESULT_COLUMNS,
    ResultRow,
    UnitFileError,
    compare,
    decode_text,
    fold,
    read_units,
    resolve_group,
    results_csv,
    results_xlsx,
    units_xlsx,
)

HEADER = ["STT", "Mã đơn vị", "Tên đơn vị", "Khối", "Đơn vị cấp trên", "Thư điện tử", "Thư lãnh đạo"]
ROWS = [
    [1, "STC", "Sở Tài chính", "Sở, ban, ngành", "", "vanthu.stc@tiengiang.gov.vn; cntt.stc@tiengiang.gov.vn",
     "giamdoc.stc@tiengiang.gov.vn"],
    [2, "CAIBE-TT", "UBND thị trấn Cái Bè", "UBND cấp xã", "CAIBE", "tt.caibe@tiengiang.gov.vn", ""],
    [3, "CAIBE", "UBND huyện Cái Bè", "UBND cấp huyện", "", "vanthu.caibe@tiengiang.gov.vn", ""],
    [4, "CATINH", "Công an tỉnh Tiền Giang", "Cơ quan ngành dọc", "", "ca@tiengiang.gov.vn,pc@tiengiang.gov.vn", ""],
]


def xlsx(rows, title_rows=0) -> bytes:
    wb = Workbook()
    ws = wb.active
    for _ in range(title_rows):
        ws.append(["DANH SÁCH CƠ QUAN, ĐƠN VỊ THAM GIA ĐÁNH GIÁ"])
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def csv_text(rows, delimiter=",") -> str:
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def cp1258(text: str) -> bytes:
    """Text as Vietnamese Windows writes it: base letters precomposed (ơ, ư, â…), tone marks combining."""
    out = []
    for c in text:
        try:
            out.append(c.encode("cp1258"))
            continue
        except UnicodeEncodeError:
            pass
        d = unicodedata.normalize("NFD", c)
        tones = [m for m in d[1:] if m in "\u0300\u0301\u0303\u0309\u0323"]
        base = unicodedata.normalize("NFC", d[0] + "".join(m for m in d[1:] if m not in tones))
        out.append((base + "".join(tones)).encode("cp1258"))
    return b"".join(out)


def by_code(result):
    return {u.code: u for u in result.units}


def check_good(result):
    assert result.errors == []
    units = by_code(result)
    assert list(units) == ["STC", "CAIBE-TT", "CAIBE", "CATINH"]
    assert units["STC"] == UnitSpec(code="STC", name="Sở Tài chính", group="department",
                                    emails=["vanthu.stc@tiengiang.gov.vn", "cntt.stc@tiengiang.gov.vn"],
                                    head_email="giamdoc.stc@tiengiang.gov.vn", line=units["STC"].line)
    assert units["CAIBE-TT"].group == "commune" and units["CAIBE-TT"].parent == "CAIBE"
    assert units["CAIBE"].group == "district"
    assert units["CATINH"].group == "vertical"
    assert units["CATINH"].emails == ["ca@tiengiang.gov.vn", "pc@tiengiang.gov.vn"]


def test_xlsx_with_a_title_row_above_the_header():
    result = read_units(xlsx([HEADER, *ROWS], title_rows=1), "don-vi.xlsx")
    check_good(result)
    assert result.read_as == "xlsx" and result.header_row == 2
    assert by_code(result)["STC"].line == 3  # the sheet's own row numbers


def test_csv_utf8_with_bom():
    data = "\ufeff" + csv_text([HEADER, *ROWS])
    result = read_units(data.encode("utf-8"), "don-vi.csv")
    check_good(result)
    assert result.read_as == "utf-8-sig"


def test_csv_utf8_without_bom_semicolons():
    result = read_units(csv_text([HEADER, *ROWS], ";").encode("utf-8"), "don-vi.csv")
    check_good(result)


def test_csv_windows_1258():
    # Vietnamese Windows writes tone marks as combining characters: read back precomposed.
    data = cp1258(csv_text([HEADER, *ROWS]))
    assert data.decode("cp1258") != csv_text([HEADER, *ROWS])  # really decomposed in the file
    result = read_units(data, "don-vi.csv")
    check_good(result)
    assert result.read_as == "cp1258"
    assert by_code(result)["CAIBE-TT"].name == "UBND thị trấn Cái Bè"


def test_csv_windows_1252_fallback():
    rows = [["code", "name", "group", "emails"], ["CAFE", "Café Zoë", "department", "cafe@example.gov.vn"]]
    result = read_units(csv_text(rows).encode("cp1252"), "units.csv")
    assert result.errors == []
    assert result.units[0].name == "Café Zoë"


def test_decode_text_prefers_vietnamese():
    assert decode_text(cp1258("Sở Tài chính; Đơn vị"))[0] == "Sở Tài chính; Đơn vị"
    assert decode_text("Sở".encode())[1] == "utf-8"


def test_english_headers_and_group_codes():
    rows = [["code", "name", "group", "parent", "emails", "head_email"],
            ["MYTHO", "UBND thành phố Mỹ Tho", "district", "", "mytho@example.gov.vn", "ct@example.gov.vn"],
            ["MYTHO-P1", "UBND Phường 1", "commune", "MYTHO", "p1@example.gov.vn", ""]]
    result = read_units(xlsx(rows), "units.xlsx")
    assert result.errors == []
    assert [(u.code, u.group, u.parent, u.head_email) for u in result.units] == [
        ("MYTHO", "district", None, "ct@example.gov.vn"), ("MYTHO-P1", "commune", "MYTHO", "")]


def test_group_names():
    assert resolve_group("Sở, ban, ngành") == "department"
    assert resolve_group("Khối UBND cấp huyện") == "district"
    assert resolve_group("co quan nganh doc") == "vertical"
    assert resolve_group("UBND CẤP XÃ") == "commune"
    assert resolve_group("Hội đồng nhân dân") is None
    assert resolve_group("hospital", extra=["hospital"]) == "hospital"
    assert fold("Mã  Đơn vị:") == "ma don vi"


def test_bad_rows_each_with_its_row_and_column():
    rows = [
        HEADER,
        [1, "STC", "Sở Tài chính", "Sở, ban, ngành", "", "stc@tiengiang.gov.vn", ""],      # row 2: good
        [2, "", "Sở Y tế", "Sở, ban, ngành", "", "syt@tiengiang.gov.vn", ""],               # row 3: missing code
        [3, "STC", "Sở Tài chính (lặp)", "Sở, ban, ngành", "", "x@tiengiang.gov.vn", ""],  # row 4: duplicate code
        [4, "HDND", "Văn phòng HĐND", "Hội đồng nhân dân", "", "hdnd@tiengiang.gov.vn", ""],  # row 5: unknown group
        [5, "P9", "UBND Phường 9", "UBND cấp xã", "KHONGCO", "p9@tiengiang.gov.vn", ""],     # row 6: unknown parent
        [6, "SNV", "Sở Nội vụ", "Sở, ban, ngành", "", "snv@tiengiang; ok@tiengiang.gov.vn", ""],  # row 7: bad e-mail
        [7, "SXD", "Sở Xây dựng", "department", "", "", "giamdoc@"],                    # row 8: bad head e-mail
    ]
    result = read_units(xlsx(rows), "bad.xlsx")
    errors = [(e.row, e.column) for e in result.errors]
    assert errors == [(3, "Mã đơn vị"), (4, "Mã đơn vị"), (5, "Khối"), (6, "Đơn vị cấp trên"), (7, "Thư điện tử"),
                      (8, "Thư lãnh đạo")]
    messages = {e.row: e.message for e in result.errors}
    assert messages[3] == "Thiếu mã đơn vị."
    assert messages[4] == "Mã “STC” bị trùng với dòng 2."
    assert "Khối “Hội đồng nhân dân” không hợp lệ" in messages[5]
    assert "Đơn vị cấp trên “KHONGCO” không có trong tệp" in messages[6]
    assert messages[7] == "“snv@tiengiang” không phải địa chỉ thư điện tử hợp lệ."
    assert [u.code for u in result.units] == ["STC"]
    assert not result.ok


def test_bad_rows_in_a_cp1258_csv_carry_line_numbers():
    rows = [["Mã đơn vị", "Tên đơn vị", "Khối", "Thư điện tử"],
            ["STC", "Sở Tài chính", "Sở, ban, ngành", "stc@tiengiang.gov.vn"],
            ["", "", "", ""],
            ["SYT", "", "Sở, ban, ngành", "syt@tiengiang.gov.vn"]]
    result = read_units(cp1258(csv_text(rows)), "x.csv")
    assert [(e.row, e.column, e.message) for e in result.errors] == [(4, "Tên đơn vị", "Thiếu tên đơn vị.")]


def test_parent_may_be_an_existing_unit_by_code_or_name():
    rows = [["Mã đơn vị", "Tên đơn vị", "Khối", "Đơn vị cấp trên"],
            ["P1", "UBND Phường 1", "UBND cấp xã", "MYTHO"],
            ["P2", "UBND Phường 2", "UBND cấp xã", "UBND thành phố Mỹ Tho"],
            ["P3", "UBND Phường 3", "UBND cấp xã", "P3"]]
    result = read_units(xlsx(rows), existing={"MYTHO": "UBND thành phố Mỹ Tho"})
    assert [(u.code, u.parent) for u in result.units] == [("P1", "MYTHO"), ("P2", "MYTHO")]
    assert [(e.row, e.message) for e in result.errors] == [(4, "Đơn vị không thể là cấp trên của chính nó.")]


def test_missing_columns_and_unreadable_files():
    result = read_units(csv_text([["Mã đơn vị", "Tên đơn vị"], ["STC", "Sở Tài chính"]]).encode(), "x.csv")
    assert [(e.row, e.column, e.message) for e in result.errors] == [(1, "Khối", "Thiếu cột “Khối” (hoặc “group”).")]
    result = read_units(csv_text([["a", "b"], ["1", "2"]]).encode(), "x.csv")
    assert result.errors[0].row == 1 and "Không tìm thấy dòng tiêu đề" in result.errors[0].message
    with pytest.raises(UnitFileError, match="rỗng"):
        read_units(b"", "x.csv")
    with pytest.raises(UnitFileError, match=r"\.xls"):
        read_units(bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 100, "x.xls")
    with pytest.raises(UnitFileError, match="Excel"):
        read_units(b"PK\x03\x04 not really a zip", "x.xlsx")


def test_warning_for_a_unit_without_email():
    rows = [["code", "name", "group"], ["STC", "Sở Tài chính", "department"]]
    result = read_units(xlsx(rows))
    assert result.ok and [(w.row, w.column) for w in result.warnings] == [(2, "Thư điện tử")]


def test_compare_new_changed_unchanged():
    stored = {"STC": UnitSpec("STC", "Sở Tài chính", "department", ["a@x.vn"]),
              "SYT": UnitSpec("SYT", "Sở Y tế", "department", ["b@x.vn"]),
              "SXD": UnitSpec("SXD", "Sở Xây dựng", "department", [])}
    units = [UnitSpec("STC", "Sở Tài chính", "department", ["a@x.vn"]),
             UnitSpec("SYT", "Sở Y tế tỉnh", "department", ["b@x.vn", "c@x.vn"]),
             UnitSpec("SXD", "Sở Xây dựng", "department", []),
             UnitSpec("NEW", "Đơn vị mới", "vertical", [])]
    changes = compare(units, stored, in_campaign={"STC", "SYT"})
    assert [(c.unit.code, c.kind, c.known) for c in changes] == [
        ("STC", "unchanged", True), ("SYT", "changed", True), ("SXD", "new", True), ("NEW", "new", False)]
    assert changes[1].changes == (("Tên đơn vị", "Sở Y tế", "Sở Y tế tỉnh"),
                                  ("Thư điện tử", "b@x.vn", "b@x.vn; c@x.vn"))


RESULT = [
    ResultRow("STC", "Sở Tài chính", "Sở, ban, ngành", "", "Đã thẩm định", datetime(2019, 10, 24, 23, 59, 59),
              "Nộp trực tuyến", "", 0, Decimal("99.50"), Decimal("98"), "Khá", 1, ""),
    ResultRow("MYTHO", "=HYPERLINK(\"http://x\")", "UBND cấp huyện", "", "Bị loại khỏi đánh giá", None, "", "", None,
              None, None, "", None, "Có văn bản giải trình số 12/UBND"),
]


def test_results_csv_is_utf8_with_bom_and_safe():
    data = results_csv(RESULT)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == [header for _, header, _ in RESULT_COLUMNS]
    assert rows[1] == ["STC", "Sở Tài chính", "Sở, ban, ngành", "", "Đã thẩm định", "24/10/2019 23:59:59",
                       "Nộp trực tuyến", "", "0", "99.5", "98", "Khá", "1", ""]
    assert rows[2][1] == "'=HYPERLINK(\"http://x\")"  # never a formula in Excel
    assert rows[2][8] == "" and rows[2][12] == ""


def test_results_xlsx_frozen_header_widths_values():
    wb = load_workbook(io.BytesIO(results_xlsx(RESULT, title="TGG-2019")))
    ws = wb.active
    assert ws.title == "TGG-2019" and ws.freeze_panes == "A2"
    assert [c.value for c in ws[1]] == [header for _, header, _ in RESULT_COLUMNS]
    assert ws.column_dimensions["B"].width == 44
    row = [c.value for c in ws[2]]
    assert row[:5] == ["STC", "Sở Tài chính", "Sở, ban, ngành", None, "Đã thẩm định"]
    assert row[5] == datetime(2019, 10, 24, 23, 59, 59) and ws["F2"].number_format == "dd/mm/yyyy hh:mm:ss"
    assert row[9:13] == [99.5, 98, "Khá", 1]
    assert ws["B3"].value == "=HYPERLINK(\"http://x\")" and ws["B3"].data_type == "s"


def test_template_round_trip():
    units = [UnitSpec("MYTHO", "UBND thành phố Mỹ Tho", "district", ["a@x.vn", "b@x.vn"], "ct@x.vn"),
             UnitSpec("P1", "UBND Phường 1", "commune", [], parent="MYTHO")]
    result = read_units(units_xlsx(units), "mau.xlsx")
    assert result.errors == []
    assert [(u.code, u.name, u.group, u.emails, u.head_email, u.parent) for u in result.units] == [
        (u.code, u.name, u.group, u.emails, u.head_email, u.parent) for u in units]
