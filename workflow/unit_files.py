"""Unit lists and results as the spreadsheets provinces keep: XLSX and CSV.

Reading: a province's list of agencies (XLSX, or CSV in UTF-8 with or without
BOM, or the Windows code page Vietnamese Excel writes, cp1258, or cp1252) is
read whole and checked row by row; every problem is reported with its row
number, its column and a Vietnamese message, so a person can fix the file in
one go.  Nothing here writes to the database: the caller previews, then
applies the checked units through ``campaign_files.apply``.

Writing: a campaign's status and results as CSV (UTF-8 with BOM, which Excel
opens right) or XLSX (frozen header, column widths), and the import template.

No Flask here: plain bytes in, plain values out.
"""

from __future__ import annotations

import csv
import io
import re
import struct
import unicodedata
import warnings
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import xlrd
from charset_normalizer import from_bytes
from odf.opendocument import load as odf_load
from odf.table import Table as OdfTable
from odf.table import TableRow as OdfTableRow
from odf.text import P as OdfP
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from .addresses import is_email
from .campaign_files import CODE_RE, KNOWN_GROUPS, UnitSpec
from .storage import ZipTooLarge, check_zip_bounds

#: More data rows than this is not a province's list of agencies.
MAX_ROWS = 5000
#: Columns looked at in a sheet; provinces' files have a handful.
MAX_COLUMNS = 40
#: What a unit list may unpack to (XLSX) or weigh (CSV): 5,000 units with 40 columns take a few MB.
MAX_UNPACKED_XLSX = 64 * 1024 * 1024
MAX_XLSX_PARTS = 500
MAX_CSV_BYTES = 16 * 1024 * 1024
#: How far down the header row may be (a title and a blank line above it are common).
HEADER_SEARCH_ROWS = 10

_OLE2 = bytes.fromhex("D0CF11E0A1B11AE1")


class UnitFileError(ValueError):
    """A file that cannot be read at all (not XLSX/CSV, damaged, empty)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def fold(text: str) -> str:
    """Lower case, no diacritics, words separated by one space: "Mã đơn vị" -> "ma don vi"."""
    text = unicodedata.normalize("NFD", str(text)).replace("đ", "d").replace("Đ", "D")
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^0-9a-z@]+", " ", text).split())


# -- columns ------------------------------------------------------------------

#: Field -> (the Vietnamese header written in templates, headers accepted, folded).
COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "code": ("Mã đơn vị", ("ma don vi", "ma", "ma dv", "ma co quan", "ma co quan don vi", "code", "unit code")),
    "name": ("Tên đơn vị", ("ten don vi", "ten", "ten dv", "ten co quan", "ten co quan don vi", "co quan don vi",
                            "don vi", "name", "unit name")),
    "group": ("Khối", ("khoi", "khoi thi dua", "nhom", "nhom don vi", "loai don vi", "group")),
    "parent": ("Đơn vị cấp trên", ("don vi cap tren", "cap tren", "ma don vi cap tren", "don vi quan ly",
                                   "parent", "parent code")),
    "emails": ("Thư điện tử", ("thu dien tu", "dia chi thu dien tu", "thu dien tu dau moi", "email dau moi",
                               "hop thu", "email", "emails", "e mail")),
    "head_email": ("Thư lãnh đạo", ("thu lanh dao", "thu dien tu lanh dao", "thu dien tu cua lanh dao",
                                    "email lanh dao", "head email", "head_email")),
}
_HEADER_FIELD = {alias: key for key, (_, aliases) in COLUMNS.items() for alias in aliases}
#: Columns that are expected and quietly left alone.
_IGNORED_HEADERS = {"stt", "tt", "so tt", "so thu tu", "ghi chu", "no", "note", "notes"}
REQUIRED = ("code", "name", "group")

#: Group code -> the folded names accepted for it, besides the code and KNOWN_GROUPS' names.
_GROUP_ALIASES: dict[str, tuple[str, ...]] = {
    "department": ("so ban nganh", "cac so ban nganh", "so", "co quan chuyen mon", "co quan chuyen mon thuoc ubnd tinh",
                   "co quan chuyen mon thuoc uy ban nhan dan tinh", "so nganh", "cap tinh"),
    "district": ("ubnd cap huyen", "cap huyen", "ubnd huyen", "huyen", "ubnd cac huyen thi xa thanh pho",
                 "uy ban nhan dan cap huyen", "huyen thi xa thanh pho"),
    "vertical": ("co quan nganh doc", "nganh doc", "don vi nganh doc", "co quan trung uong dong tren dia ban"),
    "commune": ("ubnd cap xa", "cap xa", "ubnd xa", "xa", "uy ban nhan dan cap xa", "xa phuong thi tran"),
    "portal": ("cong thong tin dien tu", "cong thong tin dien tu tinh"),
}


def group_label(code: str, lang: str = "vi") -> str:
    """The group's name ("Sở, ban, ngành"), or its code when it is not a known one."""
    names = KNOWN_GROUPS.get(code)
    if names is None:
        return code
    return names[0] if lang == "vi" else names[1]


def _group_lookup(extra: Iterable[str]) -> dict[str, str]:
    table: dict[str, str] = {}
    for code, (vi, en) in KNOWN_GROUPS.items():
        for name in (code, vi, en, *_GROUP_ALIASES.get(code, ())):
            table[fold(name)] = code
    for code in extra:
        table.setdefault(fold(code), code)
    return table


def resolve_group(value: str, extra: Iterable[str] = ()) -> str | None:
    """"Sở, ban, ngành" / "Khối UBND cấp huyện" / "district" -> the group code; None when unknown."""
    table = _group_lookup(extra)
    key = fold(value)
    if key in table:
        return table[key]
    if key.startswith("khoi "):
        return table.get(key[5:])
    return None


# -- reading ------------------------------------------------------------------

@dataclass(frozen=True)
class RowIssue:
    """A problem (or a warning) at a row and column of the file."""

    row: int
    column: str
    message: str


@dataclass
class UnitFile:
    """What a file says: the units read, and every problem with its row."""

    units: list[UnitSpec] = field(default_factory=list)
    errors: list[RowIssue] = field(default_factory=list)
    warnings: list[RowIssue] = field(default_factory=list)
    #: The row of the header (1-based).
    header_row: int = 0
    #: Field -> the header as written in the file.
    columns: dict[str, str] = field(default_factory=dict)
    #: Headers that were not understood and were left alone.
    ignored_columns: list[str] = field(default_factory=list)
    #: "xlsx", or the encoding a CSV file was read in.
    read_as: str = ""
    #: Rows below the table that were not read as units (a signature block, notes): (row, text).
    ignored_rows: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _is_xlsx(data: bytes) -> bool:
    return data.startswith(b"PK\x03\x04")


def _is_ods(data: bytes) -> bool:
    """An OpenDocument spreadsheet: a zip whose first, stored member is ``mimetype``."""
    return data.startswith(b"PK\x03\x04") and data[30:38] == b"mimetype" and b"opendocument.spreadsheet" in data[:120]


_SAVE_AS_XLSX = ("Hãy mở tệp trong Excel hoặc LibreOffice, chọn Tệp → Lưu thành (File → Save As), chọn kiểu "
                 "“Sổ làm việc Excel (*.xlsx)” (Excel Workbook) rồi tải lên tệp .xlsx đó.")


def _xls_rows(data: bytes) -> list[tuple[int, list[str]]]:
    """The first sheet of an Excel 97–2003 (.xls) file, read with xlrd."""
    try:
        book = xlrd.open_workbook(file_contents=data, on_demand=True)
        sheet = book.sheet_by_index(0)
        rows = []
        for index in range(min(sheet.nrows, MAX_ROWS + HEADER_SEARCH_ROWS + 1)):
            cells = []
            for cell in sheet.row(index)[:MAX_COLUMNS]:
                value = cell.value
                if cell.ctype == xlrd.XL_CELL_DATE:
                    value = xlrd.xldate.xldate_as_datetime(value, book.datemode)
                cells.append(_cell_text(value if cell.ctype != xlrd.XL_CELL_EMPTY else None))
            if any(cells):
                rows.append((index + 1, cells))
        return rows
    except (xlrd.XLRDError, xlrd.compdoc.CompDocError, ValueError, IndexError, KeyError, TypeError, OverflowError,
            struct.error, AssertionError, UnicodeDecodeError) as exc:
        raise UnitFileError("Không đọc được tệp Excel 97–2003 (.xls): tệp bị hỏng hoặc có mật khẩu. "
                            + _SAVE_AS_XLSX) from exc


def _ods_rows(data: bytes) -> list[tuple[int, list[str]]]:
    """The first sheet of an OpenDocument (.ods) file, read with odfpy (repeated rows and cells expanded)."""
    try:
        doc = odf_load(io.BytesIO(data))
        tables = doc.spreadsheet.getElementsByType(OdfTable)
    except (zipfile.BadZipFile, KeyError, ValueError, SyntaxError, AttributeError, TypeError) as exc:
        raise UnitFileError("Không đọc được tệp OpenDocument (.ods): tệp bị hỏng. " + _SAVE_AS_XLSX) from exc
    if not tables:
        raise UnitFileError("Tệp .ods không có trang tính nào.")
    rows: list[tuple[int, list[str]]] = []
    number = 0
    for row in tables[0].getElementsByType(OdfTableRow):
        repeat = min(int(row.getAttribute("numberrowsrepeated") or 1), MAX_ROWS)
        cells: list[str] = []
        for cell in row.childNodes:
            if cell.qname[1] not in ("table-cell", "covered-table-cell"):
                continue
            times = min(int(cell.getAttribute("numbercolumnsrepeated") or 1), MAX_COLUMNS)
            value = cell.getAttribute("datevalue") if cell.getAttribute("valuetype") == "date" else None
            if value:
                text = date.fromisoformat(value[:10]).strftime("%d/%m/%Y")
            else:
                text = "\n".join(str(p) for p in cell.getElementsByType(OdfP))
            cells.extend([unicodedata.normalize("NFC", text).strip()] * times)
            if len(cells) >= MAX_COLUMNS:
                break
        cells = cells[:MAX_COLUMNS]
        for _ in range(repeat):
            number += 1
            if any(cells):
                rows.append((number, cells))
        if len(rows) > MAX_ROWS + HEADER_SEARCH_ROWS:
            break
    return rows


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y")
    return unicodedata.normalize("NFC", str(value)).strip()


def _xlsx_rows(data: bytes) -> list[tuple[int, list[str]]]:
    # SyntaxError: a damaged XML part inside the zip (xml.etree's ParseError), found while loading or, in
    # read-only mode, only while the rows are read; ValueError: a cell that does not hold what its type says.
    damaged = (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError, SyntaxError)
    message = ("Không đọc được tệp Excel (.xlsx): tệp bị hỏng hoặc không phải bảng tính Excel. "
               "Hãy mở tệp trong Excel và lưu lại dạng .xlsx.")
    try:
        # Before openpyxl reads a part: a list of 5,000 units unpacks to a few MB; a "zip bomb" of
        # 400 KB declaring 400 MB of shared strings is refused here, not after taking a gigabyte.
        check_zip_bounds(zipfile.ZipFile(io.BytesIO(data)), MAX_UNPACKED_XLSX, MAX_XLSX_PARTS)
    except ZipTooLarge as exc:
        raise UnitFileError(
            f"Tệp Excel quá lớn khi giải nén (tối đa {MAX_UNPACKED_XLSX // (1024 * 1024)} MB, {MAX_XLSX_PARTS} phần; "
            f"danh sách {MAX_ROWS} đơn vị chỉ cần vài MB): tệp hỏng hoặc chứa dữ liệu thừa. "
            "Hãy sao chép danh sách sang một bảng tính mới và lưu lại dạng .xlsx, hoặc lưu dạng CSV UTF-8. "
            f"({exc.message_vi})") from None
    except zipfile.BadZipFile as exc:
        raise UnitFileError(message) from exc
    try:
        with warnings.catch_warnings():
            # Files saved by other programs make openpyxl warn about styles it ignores.
            warnings.simplefilter("ignore")
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except damaged as exc:
        raise UnitFileError(message) from exc
    try:
        ws = wb.worksheets[0] if wb.worksheets else None
        if ws is None:
            raise UnitFileError("Tệp Excel không có trang tính nào.")
        rows = []
        try:
            for number, values in enumerate(ws.iter_rows(max_col=MAX_COLUMNS, values_only=True), start=1):
                cells = [_cell_text(v) for v in values]
                if any(cells):
                    rows.append((number, cells))
                if len(rows) > MAX_ROWS + HEADER_SEARCH_ROWS:
                    break
        except damaged as exc:
            raise UnitFileError(message) from exc
        return rows
    finally:
        wb.close()


_VIETNAMESE = set("ăâđêôơưĂÂĐÊÔƠƯ")
#: The code pages a CSV that is not Unicode may be in.
LEGACY_ENCODINGS = ("cp1258", "cp1252")


def _vietnamese_score(text: str) -> int:
    """How Vietnamese a decoded text looks: letters with Vietnamese marks count, stray symbols cost."""
    score = 0
    for c in unicodedata.normalize("NFC", text):
        if c in _VIETNAMESE:
            score += 2
        elif ord(c) > 127:
            base = unicodedata.normalize("NFD", c)
            if c.isalpha() and len(base) > 1 and base[0].isascii():
                score += 1  # a precomposed Latin letter with marks: á, ẩ, ự…
            else:
                score -= 1  # ß, », Ÿ, ‰ …: decoded in the wrong code page
    return score


def decode_text(data: bytes) -> tuple[str, str]:
    """CSV bytes to text and the encoding used: UTF-8 (BOM or not), UTF-16 with BOM, else cp1258 or cp1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            raise UnitFileError("Tệp CSV ghi là UTF-8 nhưng có ký tự không hợp lệ. Hãy lưu lại tệp dạng "
                                "“CSV UTF-8”.") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # Not UTF-8: a Windows code page.  charset-normalizer measures which decoding reads as language
    # (cp1258 writes most Vietnamese letters as a base letter and a combining tone mark, which cp1252
    # turns into "SoÌ›" noise); Vietnamese first on a tie, it is the code page Vietnamese Excel uses.
    matches = list(from_bytes(data, cp_isolation=list(LEGACY_ENCODINGS), preemptive_behaviour=False))
    if not matches:
        raise UnitFileError("Không nhận ra bảng mã của tệp CSV. Hãy lưu lại tệp dạng “CSV UTF-8”.")
    best = min(matches, key=lambda m: (round(m.chaos, 3), -_vietnamese_score(str(m)), m.encoding != "cp1258"))
    return unicodedata.normalize("NFC", str(best)), best.encoding


def _separator(text: str) -> str:
    """The CSV separator: Excel's ``sep=`` line, else csv.Sniffer on the first lines, else the commonest of
    , ; tab in the first line."""
    lines = [line for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else ""
    if first.lower().startswith("sep=") and len(first) == 5:
        return first[4]
    try:
        return csv.Sniffer().sniff("\n".join(lines[:20]), delimiters=",;\t").delimiter
    except csv.Error:
        return max(",;\t", key=first.count) if first else ","


def _csv_rows(data: bytes) -> tuple[list[tuple[int, list[str]]], str]:
    if len(data) > MAX_CSV_BYTES:
        raise UnitFileError(f"Tệp CSV quá lớn ({len(data) / 1024 / 1024:.1f} MB; tối đa {MAX_CSV_BYTES // (1024 * 1024)} MB "
                            f"cho danh sách {MAX_ROWS} đơn vị).")
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnitFileError("Tệp không phải tệp văn bản CSV.")
    text, encoding = decode_text(data)
    if "\x00" in text:  # past the first 4 KB, or a UTF-16 file: no list of units holds one (nor can PostgreSQL)
        raise UnitFileError("Tệp không phải tệp văn bản CSV.")
    text = text.lstrip("\ufeff")
    delimiter = _separator(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = []
    start = 1
    try:
        for record in reader:
            cells = [unicodedata.normalize("NFC", c).strip() for c in record[:MAX_COLUMNS]]
            if any(cells):
                rows.append((start, cells))
            start = reader.line_num + 1
            if len(rows) > MAX_ROWS + HEADER_SEARCH_ROWS:
                break
    except csv.Error as exc:
        raise UnitFileError(f"Tệp CSV sai định dạng ở dòng {reader.line_num}: {exc}.") from None
    return rows, encoding


def read_rows(data: bytes, filename: str = "") -> tuple[list[tuple[int, list[str]]], str]:
    """The non-empty rows of the first sheet (XLSX) or of a CSV file: [(row number, cells)], and how it was read."""
    if not data.strip():
        raise UnitFileError("Tệp rỗng.")
    if data.startswith(_OLE2):
        return _xls_rows(data), "xls"
    if _is_ods(data):
        return _ods_rows(data), "ods"
    if _is_xlsx(data):
        return _xlsx_rows(data), "xlsx"
    if filename.lower().endswith(".xlsx"):
        raise UnitFileError("Tệp có đuôi .xlsx nhưng không phải bảng tính Excel.")
    return _csv_rows(data)


def _find_header(rows: list[tuple[int, list[str]]]) -> int | None:
    """The index of the first row that names at least the code and the name columns."""
    for index, (_, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        fields = {_HEADER_FIELD.get(fold(c)) for c in cells}
        if {"code", "name"} <= fields:
            return index
    return None


def _table_body(rows: list[tuple[int, list[str]]], positions: Mapping[str, int],
                result: UnitFile) -> list[tuple[int, list[str]]]:
    """The rows of the table itself.  It ends at the first row whose code cell cannot be a unit's code
    ("Người lập biểu", "Nơi nhận:", empty) when that row follows an empty row or when no row after it has a
    code either: a signature block, notes.  A unit row with an error inside the table is still read (and
    reported).  What is left out goes to ``result.ignored_rows`` for the preview."""
    position = positions.get("code")

    def has_code(cells: list[str]) -> bool:
        code = cells[position] if position is not None and position < len(cells) else ""
        return bool(code and CODE_RE.match(code) and len(code) <= 64)

    coded = [has_code(cells) for _, cells in rows]
    end = len(rows)
    for index in range(1, len(rows)):
        if coded[index]:
            continue
        after_gap = rows[index][0] > rows[index - 1][0] + 1  # rows holds the non-empty rows only
        if after_gap or not any(coded[index:]):
            end = index
            break
    for row, cells in rows[end:]:
        result.ignored_rows.append((row, " · ".join(c for c in cells if c)[:200]))
    return rows[:end]


def _split_emails(value: str) -> list[str]:
    return [v for v in re.split(r"[;,\s]+", value) if v]


def read_units(data: bytes, filename: str = "", *, groups: Iterable[str] = (),
               existing: Mapping[str, str] | None = None) -> UnitFile:
    """Read and check a unit list.

    ``groups``: group codes accepted besides the known ones (those an organizer
    already uses).  ``existing``: the organizer's units, code -> name; a parent
    may be one of them (by code or by exact name) as well as a unit of the file.
    Raises UnitFileError when the file cannot be read at all; every other
    problem is in ``errors`` with its row.
    """
    existing = dict(existing or {})
    groups = list(groups)
    rows, read_as = read_rows(data, filename)
    result = UnitFile(read_as=read_as)
    if not rows:
        raise UnitFileError("Tệp không có dữ liệu.")
    header_index = _find_header(rows)
    if header_index is None:
        row = rows[0][0]
        result.errors.append(RowIssue(row, "", "Không tìm thấy dòng tiêu đề: cần ít nhất các cột “Mã đơn vị” "
                                                "(hoặc “code”) và “Tên đơn vị” (hoặc “name”) trong "
                                                f"{HEADER_SEARCH_ROWS} dòng đầu."))
        return result
    header_row, header = rows[header_index]
    result.header_row = header_row
    positions: dict[str, int] = {}
    for position, text in enumerate(header):
        if not text:
            continue
        key = _HEADER_FIELD.get(fold(text))
        if key is None:
            if fold(text) not in _IGNORED_HEADERS:
                result.ignored_columns.append(text)
            continue
        if key in positions:
            result.errors.append(RowIssue(header_row, text, f"Cột “{COLUMNS[key][0]}” xuất hiện hai lần "
                                                            f"(“{header[positions[key]]}” và “{text}”)."))
            continue
        positions[key] = position
        result.columns[key] = text
    for key in REQUIRED:
        if key not in positions:
            vi = COLUMNS[key][0]
            result.errors.append(RowIssue(header_row, vi, f"Thiếu cột “{vi}” (hoặc “{key}”)."))
    if result.errors:
        return result
    data_rows = _table_body(rows[header_index + 1:], positions, result)
    if len(data_rows) > MAX_ROWS:
        result.errors.append(RowIssue(data_rows[MAX_ROWS][0], "", f"Tệp có quá {MAX_ROWS} dòng đơn vị."))
        return result
    if not data_rows:
        result.errors.append(RowIssue(header_row, "", "Tệp không có đơn vị nào dưới dòng tiêu đề."))
        return result

    def cell(cells: list[str], key: str) -> str:
        position = positions.get(key)
        return cells[position] if position is not None and position < len(cells) else ""

    def column(key: str) -> str:
        return result.columns.get(key, COLUMNS[key][0])

    seen: dict[str, int] = {}
    parents: list[tuple[UnitSpec, str]] = []
    for row, cells in data_rows:
        errors_before = len(result.errors)

        def error(key: str, message: str, row: int = row) -> None:
            result.errors.append(RowIssue(row, column(key), message))

        code = cell(cells, "code")
        if not code:
            error("code", "Thiếu mã đơn vị.")
        elif not CODE_RE.match(code) or len(code) > 64:
            error("code", f"Mã “{code}” không hợp lệ: chỉ dùng chữ cái không dấu, chữ số và các dấu . _ - "
                          "(bắt đầu bằng chữ hoặc số, tối đa 64 ký tự).")
        elif code in seen:
            error("code", f"Mã “{code}” bị trùng với dòng {seen[code]}.")
        name = cell(cells, "name")
        if not name:
            error("name", "Thiếu tên đơn vị.")
        elif len(name) > 255:
            error("name", "Tên đơn vị dài quá 255 ký tự.")
        group_text = cell(cells, "group")
        group = None
        if not group_text:
            error("group", "Thiếu khối của đơn vị.")
        else:
            group = resolve_group(group_text, groups)
            if group is None:
                error("group", f"Khối “{group_text}” không hợp lệ; dùng một trong: Sở, ban, ngành; UBND cấp huyện; "
                               "Cơ quan ngành dọc; UBND cấp xã (hoặc department, district, vertical, commune).")
        emails = _split_emails(cell(cells, "emails"))
        for address in emails:
            if not is_email(address):
                error("emails", f"“{address}” không phải địa chỉ thư điện tử hợp lệ.")
        head = _split_emails(cell(cells, "head_email"))
        if len(head) > 1:
            error("head_email", "Chỉ ghi một địa chỉ thư lãnh đạo.")
        elif head and not is_email(head[0]):
            error("head_email", f"“{head[0]}” không phải địa chỉ thư điện tử hợp lệ.")
        if code and code not in seen:
            seen[code] = row
        unit = UnitSpec(code=code, name=name, group=group or "", emails=list(dict.fromkeys(emails)),
                        head_email=head[0] if head else "", line=row)
        parent = cell(cells, "parent")
        if parent:
            parents.append((unit, parent))
        if len(result.errors) > errors_before:
            continue
        result.units.append(unit)
        if not emails:
            result.warnings.append(RowIssue(row, column("emails"), "Chưa có thư điện tử đầu mối: đơn vị sẽ không "
                                                                   "nhận được thư nhắc hạn."))
    # Parents are checked once every row is read: a commune may come before its district.
    names: dict[str, list[str]] = {}
    for code, name in existing.items():
        names.setdefault(fold(name), []).append(code)
    for u in result.units:
        names.setdefault(fold(u.name), []).append(u.code)
    in_file = set(seen)
    for unit, parent in parents:
        parent_code: str | None = parent if parent in in_file or parent in existing else None
        if parent_code is None:
            matches = sorted(set(names.get(fold(parent), [])))
            parent_code = matches[0] if len(matches) == 1 else None
        if parent_code is None:
            result.errors.append(RowIssue(unit.line or 0, column("parent"),
                                          f"Đơn vị cấp trên “{parent}” không có trong tệp và chưa có trong danh mục "
                                          "đơn vị của Sở."))
        elif parent_code == unit.code and parent_code:
            result.errors.append(RowIssue(unit.line or 0, column("parent"),
                                          "Đơn vị không thể là cấp trên của chính nó."))
        else:
            unit.parent = parent_code
    bad_rows = {e.row for e in result.errors}
    result.units = [u for u in result.units if u.line not in bad_rows]
    result.errors.sort(key=lambda e: e.row)  # stable: within a row, in the order checked
    return result


# -- comparing with what is stored --------------------------------------------

#: Unit fields compared, with their Vietnamese labels.
FIELD_LABELS = {"name": "Tên đơn vị", "group": "Khối", "parent": "Đơn vị cấp trên", "emails": "Thư điện tử",
                "head_email": "Thư lãnh đạo"}


@dataclass(frozen=True)
class UnitChange:
    unit: UnitSpec
    #: new (to the campaign) | changed | unchanged
    kind: str
    #: (label, old, new) for each field that changes.
    changes: tuple[tuple[str, str, str], ...] = ()
    #: Already in the organizer's list of units (in another campaign).
    known: bool = False


def _shown(key: str, value) -> str:
    if key == "emails":
        return "; ".join(value or [])
    if key == "group":
        return group_label(value or "")
    return value or ""


def compare(units: Sequence[UnitSpec], stored: Mapping[str, UnitSpec], in_campaign: Iterable[str]) -> list[UnitChange]:
    """Each unit of the file against the organizer's stored units: new, changed or unchanged."""
    in_campaign = set(in_campaign)
    out = []
    for u in units:
        old = stored.get(u.code)
        changes = []
        if old is not None:
            for key, label in FIELD_LABELS.items():
                before, after = getattr(old, key), getattr(u, key)
                if key == "emails":
                    before, after = list(before or []), list(after or [])
                if (before or None) != (after or None):
                    changes.append((label, _shown(key, before), _shown(key, after)))
        if u.code not in in_campaign:
            kind = "new"
        else:
            kind = "changed" if changes else "unchanged"
        out.append(UnitChange(u, kind, tuple(changes), known=old is not None))
    return out


# -- writing ------------------------------------------------------------------

@dataclass(frozen=True)
class ResultRow:
    """One unit's line in the status and results export; plain values."""

    code: str
    name: str
    group: str
    parent: str
    status: str
    #: Local time, naive.
    received_at: datetime | None
    channel: str
    doc_number: str
    late_working_days: int | None
    self_score: Decimal | None
    verified_score: Decimal | None
    rating: str
    rank: int | None
    reinstated_reason: str


#: (attribute, Vietnamese header, width in characters).
RESULT_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("code", "Mã đơn vị", 14),
    ("name", "Tên đơn vị", 44),
    ("group", "Khối", 20),
    ("parent", "Đơn vị cấp trên", 16),
    ("status", "Trạng thái", 30),
    ("received_at", "Thời điểm nhận hồ sơ", 21),
    ("channel", "Kênh gửi", 28),
    ("doc_number", "Số văn bản đến", 16),
    ("late_working_days", "Số ngày làm việc trễ", 12),
    ("self_score", "Điểm tự chấm", 11),
    ("verified_score", "Điểm thẩm định", 11),
    ("rating", "Xếp loại", 12),
    ("rank", "Thứ hạng trong khối", 12),
    ("reinstated_reason", "Lý do khôi phục", 40),
)
RECEIVED_FORMAT = "%d/%m/%Y %H:%M:%S"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe_text(value: str) -> str:
    """Text that a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _number_text(value: Decimal | None) -> str:
    if value is None:
        return ""
    return format(Decimal(value).normalize(), "f")


def _csv_value(row: ResultRow, attribute: str) -> str:
    value = getattr(row, attribute)
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime(RECEIVED_FORMAT)
    if isinstance(value, Decimal):
        return _number_text(value)
    if isinstance(value, int):
        return str(value)
    return _safe_text(str(value))


#: CSV separators offered by the exports: ``;`` is the list separator of Windows' Vietnamese
#: regional format (a comma file opens there in one column), ``,`` the English one.
CSV_SEPARATORS = {";": "semicolon", ",": "comma", "\t": "tab"}


def default_separator(lang: str) -> str:
    """The separator Excel expects under the organizer's language: ``;`` for vi, ``,`` otherwise."""
    return ";" if lang == "vi" else ","


def table_csv(headers: Sequence[str], rows: Iterable[Sequence[str]], *, sep: str = ",",
              sep_line: bool = False) -> bytes:
    """CSV for Excel: UTF-8 with BOM, CRLF, the given separator; ``sep_line`` adds Excel's ``sep=;`` first line
    (Excel then splits on it whatever the regional format; other programs show it as a row)."""
    if sep not in CSV_SEPARATORS:
        raise ValueError(f"unsupported separator {sep!r}")
    out = io.StringIO(newline="")
    if sep_line:
        out.write(f"sep={sep}\r\n")
    writer = csv.writer(out, delimiter=sep, lineterminator="\r\n")
    writer.writerow(list(headers))
    for row in rows:
        writer.writerow([_safe_text(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def results_csv(rows: Iterable[ResultRow], *, sep: str = ",", sep_line: bool = False) -> bytes:
    """The export as CSV: UTF-8 with BOM, CRLF, a Vietnamese header row, the chosen separator."""
    out = io.StringIO(newline="")
    if sep not in CSV_SEPARATORS:
        raise ValueError(f"unsupported separator {sep!r}")
    if sep_line:
        out.write(f"sep={sep}\r\n")
    writer = csv.writer(out, delimiter=sep, lineterminator="\r\n")
    writer.writerow([header for _, header, _ in RESULT_COLUMNS])
    for row in rows:
        writer.writerow([_csv_value(row, attribute) for attribute, _, _ in RESULT_COLUMNS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def results_csv_chunks(rows: Iterable[ResultRow], *, sep: str = ",", sep_line: bool = False,
                       every: int = 500) -> Iterable[bytes]:
    """The CSV export in pieces of ``every`` rows (the same bytes as ``results_csv``), for streaming."""
    if sep not in CSV_SEPARATORS:
        raise ValueError(f"unsupported separator {sep!r}")
    out = io.StringIO(newline="")
    out.write("\ufeff")
    if sep_line:
        out.write(f"sep={sep}\r\n")
    writer = csv.writer(out, delimiter=sep, lineterminator="\r\n")
    writer.writerow([header for _, header, _ in RESULT_COLUMNS])
    for i, row in enumerate(rows, start=1):
        writer.writerow([_csv_value(row, attribute) for attribute, _, _ in RESULT_COLUMNS])
        if i % every == 0:
            yield out.getvalue().encode("utf-8")
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode("utf-8")


def _sheet(title: str, headers: Sequence[tuple[str, int]]):

    wb = Workbook()
    ws = wb.active
    ws.title = title[:31]
    ws.append([h for h, _ in headers])
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDE7F5")
    for index, (_, width) in enumerate(headers, start=1):
        cell = ws.cell(row=1, column=index)
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A2"
    return wb, ws


def _put(ws, row: int, column: int, value) -> None:
    cell = ws.cell(row=row, column=column)
    if isinstance(value, str):
        cell.value = value
        cell.data_type = "s"  # never a formula, whatever the text starts with
    else:
        cell.value = value


def _finish(wb, ws, rows: int, columns: int) -> bytes:
    last = f"{get_column_letter(columns)}{rows + 1}"
    ws.auto_filter.ref = f"A1:{last}"
    # Printed as offices print: landscape A4, the header row on every page, one page wide.
    ws.print_area = f"A1:{last}"
    ws.print_title_rows = "1:1"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


#: Date-times in the exports: day first, explicit, so a US-locale LibreOffice shows 25/10/2019 too.
DATETIME_FORMAT = "dd/mm/yyyy hh:mm:ss"
DATE_FORMAT = "dd/mm/yyyy"


def table_xlsx(title: str, headers: Sequence[tuple[str, int]], rows: Iterable[Sequence[object]]) -> bytes:
    """A sheet with the exports' header, print set-up and dd/mm/yyyy date formats."""
    wb, ws = _sheet(title, headers)
    count = 0
    for r, row in enumerate(rows, start=2):
        count += 1
        for c, value in enumerate(row, start=1):
            _put(ws, r, c, value)
            if isinstance(value, datetime):
                ws.cell(row=r, column=c).number_format = DATETIME_FORMAT
            elif isinstance(value, date):
                ws.cell(row=r, column=c).number_format = DATE_FORMAT
    return _finish(wb, ws, count, len(headers))


def results_xlsx(rows: Iterable[ResultRow], title: str = "Kết quả") -> bytes:
    """The export as XLSX: a bold frozen Vietnamese header, column widths, real numbers and date-times."""
    wb, ws = _sheet(title, [(header, width) for _, header, width in RESULT_COLUMNS])
    count = 0
    for r, row in enumerate(rows, start=2):
        count += 1
        for c, (attribute, _, _) in enumerate(RESULT_COLUMNS, start=1):
            value = getattr(row, attribute)
            if isinstance(value, Decimal):
                value = float(value)
            _put(ws, r, c, value)
            if attribute == "received_at" and value is not None:
                ws.cell(row=r, column=c).number_format = DATETIME_FORMAT
            elif attribute in ("self_score", "verified_score") and value is not None:
                ws.cell(row=r, column=c).number_format = "0.##"
    return _finish(wb, ws, count, len(RESULT_COLUMNS))


#: The import template's columns: (field, header, width).
TEMPLATE_COLUMNS = (("code", "Mã đơn vị", 14), ("name", "Tên đơn vị", 44), ("group", "Khối", 20),
                    ("parent", "Đơn vị cấp trên", 16), ("emails", "Thư điện tử", 40),
                    ("head_email", "Thư lãnh đạo", 30))


def units_xlsx(units: Iterable[UnitSpec]) -> bytes:
    """A unit list in the import format (the template, filled with the given units)."""
    wb, ws = _sheet("Đơn vị", [(header, width) for _, header, width in TEMPLATE_COLUMNS])
    count = 0
    for r, u in enumerate(units, start=2):
        count += 1
        values = {"code": u.code, "name": u.name, "group": group_label(u.group), "parent": u.parent or "",
                  "emails": "; ".join(u.emails), "head_email": u.head_email}
        for c, (key, _, _) in enumerate(TEMPLATE_COLUMNS, start=1):
            _put(ws, r, c, values[key])
    return _finish(wb, ws, count, len(TEMPLATE_COLUMNS))
