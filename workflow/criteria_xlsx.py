"""Criteria sets and filled sheets as the XLSX tables provinces publish (issue 12).

The criteria template: one worksheet per set, named by the set's code; rows 1–2
carry the set's title and groups; row 4 is the header and each row below it one
section, criterion or sub-criterion::

    Mã | Nội dung | Điểm tối đa | Loại | Cách tính điểm | Hướng dẫn | Khối áp dụng | Cho phép “không áp dụng”

``Loại`` is a kind code (``ratio``) or its Vietnamese name (``Tỷ lệ (tử số/mẫu số)``);
``Cách tính điểm`` is the one-line rule of ``criteria_rules.rule_text``.  Reading
checks every row and reports each problem by worksheet, row and column; nothing
is written to the database here (the caller previews, then applies the sets
through ``campaign_files.replace_criteria``).

A unit's sheet: the same rows with the unit's values in the columns after the
rule (``Có/Không``, ``Số liệu``, ``Tử số``, ``Mẫu số``, ``Đường link``, ``Mức``,
``Nội dung``, ``Không áp dụng``, ``Giải trình``), read back by :func:`read_filled_sheet`.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from .campaign_files import CODE_RE as GROUP_CODE_RE
from .campaign_files import CriteriaSetSpec
from .criteria_rules import KINDS, CriteriaTree, FlatNode, Rule, RuleError, build_tree, parse_rule_text, rule_text, to_decimal
from .unit_files import UnitFileError, fold

HEADER = ["Mã", "Nội dung", "Điểm tối đa", "Loại", "Cách tính điểm", "Hướng dẫn", "Khối áp dụng",
          "Cho phép “không áp dụng”"]
VALUE_HEADER = ["Có/Không", "Số liệu", "Tử số", "Mẫu số", "Đường link", "Mức", "Nội dung / điểm", "Không áp dụng",
                "Giải trình"]
HEADER_ROW = 4
MAX_ROWS = 2000
_KIND_NAMES = ({fold(vi): code for code, (vi, _en) in KINDS.items()} | {fold(en): code for code, (_vi, en) in KINDS.items()}
               | {fold(code): code for code in KINDS})
_YES = {"x", "co", "yes", "true", "1", "dung"}
_NO = {"khong", "no", "false", "0", "sai"}


@dataclass(frozen=True)
class RowIssue:
    sheet: str
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"{self.sheet}, dòng {self.row}, cột “{self.column}”: {self.message}"


@dataclass
class CriteriaRead:
    sets: list[CriteriaSetSpec] = field(default_factory=list)
    issues: list[RowIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues and bool(self.sets)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "x" if value else ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _plain(d: Decimal) -> int | float:
    return int(d) if d == d.to_integral_value() else float(d)


def _style_header(ws: Worksheet, row: int, width: int) -> None:
    fill = PatternFill("solid", fgColor="DDEBF7")
    for col in range(1, width + 1):
        c = ws.cell(row=row, column=col)
        c.font, c.fill = Font(bold=True), fill
        c.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = ws.cell(row=row + 1, column=1)
    for letter, w in zip("ABCDEFGHIJKLMNOPQ", (8, 60, 10, 22, 28, 40, 16, 14, 10, 10, 10, 10, 30, 8, 14, 10, 30),
                         strict=False):
        ws.column_dimensions[letter].width = w


def _sheet_name(code: str) -> str:
    return "".join(c for c in code if c not in "[]:*?/\\")[:31] or "Bo tieu chi"


def export_sets(sets: Sequence[tuple[str, str, Sequence[str], Sequence[FlatNode]]]) -> bytes:
    """(code, title, groups, rows) of each set → an XLSX template that :func:`read_sets` reads back."""
    wb = Workbook()
    wb.remove(wb.active)
    for code, title, groups, nodes in sets:
        ws = wb.create_sheet(_sheet_name(code))
        ws.append(["Bộ tiêu chí", code, title])
        ws.append(["Khối áp dụng", ", ".join(groups)])
        ws.append([])
        ws.append(HEADER)
        _style_header(ws, HEADER_ROW, len(HEADER))
        for n in nodes:
            ws.append([n.code, n.title, _plain(n.maximum), n.kind, rule_text(n.kind, n.rule) if n.kind else "",
                       n.guidance, ", ".join(sorted(n.groups)), "x" if n.allow_na else ""])
            if not n.kind:
                for col in (1, 2, 3):
                    ws.cell(row=ws.max_row, column=col).font = Font(bold=True)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _open(data: bytes):
    damaged = (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError, SyntaxError)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except damaged as exc:
        raise UnitFileError("Không đọc được tệp Excel (.xlsx): tệp bị hỏng hoặc không phải bảng tính Excel. "
                            "Hãy mở tệp trong Excel và lưu lại dạng .xlsx.") from exc


def _rows(ws) -> list[tuple[int, list[str]]]:
    out = []
    try:
        for number, values in enumerate(ws.iter_rows(max_col=len(HEADER) + len(VALUE_HEADER), values_only=True),
                                        start=1):
            cells = [_cell(v) for v in values]
            if any(cells):
                out.append((number, cells))
            if len(out) > MAX_ROWS:
                break
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError, SyntaxError) as exc:
        # read-only mode finds a damaged sheet only while reading its rows
        raise UnitFileError("Không đọc được tệp Excel (.xlsx): tệp bị hỏng hoặc không phải bảng tính Excel. "
                            "Hãy mở tệp trong Excel và lưu lại dạng .xlsx.") from exc
    return out


def _columns(header: list[str], names: Sequence[str]) -> dict[str, int]:
    folded = [fold(h) for h in header]
    return {name: folded.index(fold(name)) for name in names if fold(name) in folded}


def read_sets(data: bytes) -> CriteriaRead:
    """Every worksheet with the template's header is a set; problems by sheet, row and column."""
    result = CriteriaRead()
    wb = _open(data)
    try:
        for ws in wb.worksheets:
            rows = _rows(ws)
            header_at = next((i for i, (_n, cells) in enumerate(rows) if fold(cells[0]) == fold("Mã")
                              and len(cells) > 1 and fold(cells[1]) == fold("Nội dung")), None)
            if header_at is None:
                continue
            meta = {fold(cells[0]): cells for _n, cells in rows[:header_at]}
            code = (meta.get(fold("Bộ tiêu chí"), ["", ws.title])[1:2] or [ws.title])[0] or ws.title
            title = (meta.get(fold("Bộ tiêu chí"), ["", "", ""]) + ["", "", ""])[2]
            groups = [g.strip() for g in (meta.get(fold("Khối áp dụng"), ["", ""]) + [""])[1].split(",") if g.strip()]
            for g in groups:
                if not GROUP_CODE_RE.match(g):
                    result.issues.append(RowIssue(ws.title, 2, "Khối áp dụng", f"“{g}” không phải là mã khối."))
            cols = _columns(rows[header_at][1], HEADER)
            for name in HEADER[:4]:
                if name not in cols:
                    result.issues.append(RowIssue(ws.title, rows[header_at][0], name, "thiếu cột này ở dòng tiêu đề."))
            if any(i.sheet == ws.title for i in result.issues):
                continue
            nodes: list[FlatNode] = []
            rownum: dict[str, int] = {}

            def get(cells: list[str], name: str, cols: dict[str, int] = cols) -> str:
                i = cols.get(name)
                return cells[i] if i is not None and i < len(cells) else ""
            for number, cells in rows[header_at + 1:]:
                issues_before = len(result.issues)

                def issue(column: str, message: str, number: int = number, sheet: str = ws.title) -> None:
                    result.issues.append(RowIssue(sheet, number, column, message))
                ccode = get(cells, "Mã")
                title_cell = get(cells, "Nội dung")
                if not ccode:
                    issue("Mã", "thiếu mã tiêu chí.")
                    continue
                if not title_cell:
                    issue("Nội dung", "thiếu nội dung tiêu chí.")
                try:
                    maximum = to_decimal(get(cells, "Điểm tối đa"), "Điểm tối đa", "maximum")
                except RuleError as exc:
                    issue("Điểm tối đa", exc.message_vi)
                    maximum = None
                if maximum is None and len(result.issues) == issues_before:
                    issue("Điểm tối đa", "thiếu điểm tối đa.")
                kind_text = get(cells, "Loại")
                kind = _KIND_NAMES.get(fold(kind_text), "") if kind_text else ""
                if kind_text and not kind:
                    issue("Loại", f"loại “{kind_text}” không có; dùng: {', '.join(KINDS)}.")
                rule = Rule()
                if kind and maximum is not None:
                    try:
                        rule = parse_rule_text(kind, get(cells, "Cách tính điểm"), maximum)
                    except RuleError as exc:
                        issue("Cách tính điểm", exc.message_vi)
                elif get(cells, "Cách tính điểm") and not kind_text:
                    issue("Loại", "có cách tính điểm nhưng thiếu loại tiêu chí.")
                igroups = frozenset(g.strip() for g in get(cells, "Khối áp dụng").split(",") if g.strip())
                na = fold(get(cells, "Cho phép “không áp dụng”")) in _YES
                if len(result.issues) == issues_before and maximum is not None:
                    rownum[ccode] = number
                    nodes.append(FlatNode(ccode, title_cell, maximum, kind, rule, get(cells, "Hướng dẫn"), igroups,
                                          na, where=f"dòng {number}"))
            if any(i.sheet == ws.title for i in result.issues):
                continue
            if not nodes:
                result.issues.append(RowIssue(ws.title, rows[header_at][0], "Mã", "không có tiêu chí nào."))
                continue
            try:
                build_tree(nodes)
            except RuleError as exc:
                result.issues.append(RowIssue(ws.title, rownum.get(exc.code, rows[header_at][0]),
                                              {"code": "Mã", "maximum": "Điểm tối đa", "kind": "Loại",
                                               "groups": "Khối áp dụng"}.get(exc.field, "Cách tính điểm"),
                                              exc.message_vi))
                continue
            result.sets.append(CriteriaSetSpec(code, title, groups, nodes))
    finally:
        wb.close()
    if not result.sets and not result.issues:
        result.issues.append(RowIssue("-", 1, "Mã", "không thấy trang tính nào có dòng tiêu đề "
                                      f"“{' | '.join(HEADER[:4])}”."))
    return result


# -- a unit's filled sheet ---------------------------------------------------------

def export_sheet(title: str, unit_name: str, tree: CriteriaTree, group: str,
                 values: Mapping[str, Mapping[str, Any]]) -> bytes:
    """The unit's sheet to fill offline: the criteria rows, then one column per kind of value."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Phieu tu danh gia"
    ws.append(["Phiếu tự đánh giá", title])
    ws.append(["Đơn vị", unit_name])
    ws.append([])
    ws.append(HEADER + VALUE_HEADER)
    _style_header(ws, HEADER_ROW, len(HEADER) + len(VALUE_HEADER))
    for n in tree.walk(group):
        v = values.get(n.code) or {}
        row: list[Any] = [n.code, n.title, _plain(n.maximum), n.kind, rule_text(n.kind, n.rule) if n.kind else "",
                          n.guidance, ", ".join(sorted(n.groups)), "x" if n.allow_na else ""]
        if n.kind:
            yes = v.get("yes")
            row += ["có" if yes is True else ("không" if yes is False else ""), v.get("number", ""),
                    v.get("numerator", ""), v.get("denominator", ""), " ".join(v.get("links") or []),
                    v.get("level", ""), v.get("text", v.get("points", "")), "x" if v.get("na") else "",
                    v.get("explanation", "")]
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@dataclass
class SheetRead:
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    issues: list[RowIssue] = field(default_factory=list)


def read_filled_sheet(data: bytes, tree: CriteriaTree, group: str) -> SheetRead:
    """Values by criterion code from a filled sheet (ours, or the same columns saved by LibreOffice/Excel).

    The values are not checked against the rules here: the caller saves them
    through ``evaluation.save_draft``, which refuses what the rules refuse.
    """
    result = SheetRead()
    leaves = {n.code: n for n in tree.leaves(group)}
    wb = _open(data)
    try:
        ws = wb.worksheets[0] if wb.worksheets else None
        if ws is None:
            raise UnitFileError("Tệp Excel không có trang tính nào.")
        rows = _rows(ws)
        header_at = next((i for i, (_n, cells) in enumerate(rows) if cells and fold(cells[0]) == fold("Mã")), None)
        if header_at is None:
            raise UnitFileError("Không thấy dòng tiêu đề (cột “Mã”) trong tệp.")
        cols = _columns(rows[header_at][1], HEADER + VALUE_HEADER)
        for number, cells in rows[header_at + 1:]:
            def get(name: str, cells: list[str] = cells) -> str:
                i = cols.get(name)
                return cells[i] if i is not None and i < len(cells) else ""
            code = get("Mã")
            n = leaves.get(code)
            if n is None:
                if code and code not in {x.code for x in tree.walk(group)}:
                    result.issues.append(RowIssue(ws.title, number, "Mã", f"không có tiêu chí {code} trong bộ tiêu chí."))
                continue
            v: dict[str, Any] = {}
            if fold(get("Không áp dụng")) in _YES:
                v = {"na": True, "explanation": get("Giải trình")}
            elif n.kind == "yes_no":
                f = fold(get("Có/Không"))
                v = {"yes": True} if f in _YES else ({"yes": False} if f in _NO else ({"yes": f} if f else {}))
            elif n.kind == "number":
                v = {"number": get("Số liệu")}
            elif n.kind == "ratio":
                v = {"numerator": get("Tử số"), "denominator": get("Mẫu số")}
            elif n.kind == "link":
                v = {"links": get("Đường link").split()}
            elif n.kind == "choice":
                v = {"level": get("Mức")}
            elif n.kind == "text":
                v = {"text": get("Nội dung / điểm")}
            elif n.kind == "points":
                v = {"points": get("Nội dung / điểm")}
            result.values[code] = v
    finally:
        wb.close()
    return result
