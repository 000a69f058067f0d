"""Criteria sets in campaign files and XLSX templates: import, export, round trips, errors by line and row."""

from __future__ import annotations

import shutil
import subprocess
from decimal import Decimal

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from tests.conftest import EXAMPLES
from workflow import campaign_files, criteria_xlsx
from workflow.criteria import CriteriaSet, Criterion, set_for
from workflow.db import db

BASE = """
organizer: {code: TST, name: Sở TTTT thử}
campaign: {code: TST-2019, title: Thử, year: 2019, deadline: 2019-10-25, grace_working_days: 5}
units:
  - {code: STC, name: Sở Tài chính, group: department}
  - {code: HUYEN, name: UBND huyện, group: district}
"""


def parse(extra: str):
    return campaign_files.parse(BASE + extra, "t.yaml")


def import_criteria(runner, code, name):
    result = runner.invoke(args=["criteria", "import", code, str(EXAMPLES / "criteria" / name), "--now",
                                 "2019-08-08T08:00:00+07:00"])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_example_criteria_import_into_their_campaigns(make_campaign, runner):
    cbg = make_campaign("cao-bang-2018.yaml", now="2018-11-01T08:00:00+07:00")
    btn = make_campaign("binh-thuan-2019.yaml", now="2019-08-08T08:00:00+07:00")
    assert "PL-I (department): 21 rows, 16 criteria, 100 points" in import_criteria(runner, "CBG-UDCNTT-2018",
                                                                                      "cao-bang-2018.yaml")
    import_criteria(runner, "BTN-UDCNTT-2019", "binh-thuan-2019.yaml")
    assert [(s.code, s.groups) for s in db.session.scalars(select(CriteriaSet).where(
        CriteriaSet.campaign_id == cbg.id).order_by(CriteriaSet.position))] == [
        ("PL-I", ["department"]), ("PL-II", ["district"]), ("PL-III", ["portal"])]
    pl1 = set_for(cbg.id, "department")
    assert pl1.code == "PL-I"
    tree = pl1.tree()
    assert tree.maximum("department") == 100
    assert tree.by_code()["3.3"].kind == "link" and tree.by_code()["3.3"].allow_na
    shared = set_for(btn.id, "district")
    assert shared.code == "BTN-2019" and set_for(btn.id, "department").code == "BTN-2019"
    t = shared.tree()
    assert t.maximum("department") == 100 and t.maximum("district") == 110
    assert t.by_code()["1.2"].rule.not_above == "1.1"


def test_export_then_import_gives_the_same_criteria(make_campaign, tmp_path, runner):
    btn = make_campaign("binh-thuan-2019.yaml", now="2019-08-08T08:00:00+07:00")
    import_criteria(runner, "BTN-UDCNTT-2019", "binh-thuan-2019.yaml")
    text = campaign_files.export(btn)
    again = campaign_files.parse(text, "again.yaml")
    original = campaign_files.parse_criteria((EXAMPLES / "criteria" / "binh-thuan-2019.yaml").read_text(
        encoding="utf-8"), {"department", "district", "public_service"})
    assert [(s.code, s.groups, s.nodes) for s in again.criteria] == [(s.code, s.groups, s.nodes) for s in original]
    # importing the export changes nothing (no criteria.replaced entry)
    assert not campaign_files.replace_criteria(btn, again.criteria, actor="t", now=btn.created_at)
    assert "unchanged" in import_criteria(runner, "BTN-UDCNTT-2019", "binh-thuan-2019.yaml")


def test_a_code_like_1_10_stays_1_10():
    spec = parse("""
criteria:
  - code: S
    items:
      - {code: 1, title: A, max: 10}
      - {code: 1.1, title: B, max: 1, kind: yes_no}
      - {code: 1.10, title: C, max: 1, kind: yes_no}
""")
    assert [n.code for n in spec.criteria[0].nodes] == ["1", "1.1", "1.10"]


@pytest.mark.parametrize(("extra", "line", "field"), [
    ("""
criteria:
  - code: S
    items:
      - {code: 1, title: A, max: 10}
      - {code: 1.1, title: B, max: 4, kind: ratio}
""", 12, "kind"),
    ("""
criteria:
  - code: S
    items:
      - {code: 1, title: A, max: 10}
      - {code: 1.1, title: B, max: 4, kind: ratio, proportional: true}
      - {code: 1.2, title: C, max: 14, kind: yes_no}
""", 13, "maximum"),
    ("""
criteria:
  - code: S
    items:
      - {code: 1, title: A, max: 10}
      - {code: 2.1, title: B, max: 4, kind: yes_no}
""", 12, "code"),
    ("""
criteria:
  - code: S
    items:
      - {code: 1, title: A, max: 10}
      - {code: 1.1, title: B, max: 4, kind: yes_no, nah: true}
""", 12, "nah"),
    ("""
criteria:
  - code: S
    groups: [commune]
    items:
      - {code: 1, title: A, max: 10}
""", 10, "groups"),
    ("""
criteria:
  - code: S
    items:
      - {code: 1, title: A}
""", 11, "max"),
])
def test_a_bad_criteria_file_names_line_and_field_and_imports_nothing(extra, line, field, app, tmp_path, runner):
    with pytest.raises(campaign_files.CampaignFileError) as exc:
        parse(extra)
    assert (exc.value.line, exc.value.field) == (line, field), str(exc.value)
    path = tmp_path / "bad.yaml"
    path.write_text(BASE + extra, encoding="utf-8")
    result = runner.invoke(args=["campaign", "import", str(path), "--now", "2019-10-01T08:00:00+07:00"])
    assert result.exit_code != 0
    assert f"line {line}" in result.output
    assert db.session.scalar(select(func.count()).select_from(Criterion)) == 0
    assert db.session.scalar(select(func.count()).select_from(CriteriaSet)) == 0


# -- XLSX ------------------------------------------------------------------------

def _sets(spec):
    return [(s.code, s.title, s.groups, s.nodes) for s in spec.criteria]


class _Spec:
    def __init__(self, criteria):
        self.criteria = criteria


def cao_bang_criteria():
    return _Spec(campaign_files.parse_criteria((EXAMPLES / "criteria" / "cao-bang-2018.yaml").read_text(
        encoding="utf-8"), {"department", "district", "portal"}))


def test_the_xlsx_template_round_trips():
    spec = cao_bang_criteria()
    data = criteria_xlsx.export_sets(_sets(spec))
    read = criteria_xlsx.read_sets(data)
    assert read.ok, [str(i) for i in read.issues]
    strip = [(c, t, g, [n.__class__(**{**n.__dict__, "where": ""}) for n in nodes]) for c, t, g, nodes in
             [(s.code, s.title, s.groups, s.nodes) for s in read.sets]]
    assert strip == _sets(spec)


def _template_rows(rows):
    wb = Workbook()
    ws = wb.active
    ws.title = "PL-I"
    ws.append(["Bộ tiêu chí", "PL-I", "Phụ lục I"])
    ws.append(["Khối áp dụng", "department"])
    ws.append([])
    ws.append(criteria_xlsx.HEADER)
    for r in rows:
        ws.append(r)
    import io
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_xlsx_errors_come_by_row_and_column():
    data = _template_rows([
        ["1", "Hạ tầng", 10, "", "", "", "", ""],
        ["1.1", "Tỷ lệ máy tính", 5, "Tỷ lệ (tử số/mẫu số)", ">=90:5", "", "", ""],   # band without %
        ["1.2", "Kết nối", "năm", "yes_no", "", "", "", ""],                          # maximum not a number
        ["1.3", "Phép màu", 2, "magic", "", "", "", ""],                              # unknown kind
    ])
    read = criteria_xlsx.read_sets(data)
    assert not read.ok
    assert [(i.row, i.column) for i in read.issues] == [(6, "Cách tính điểm"), (7, "Điểm tối đa"), (8, "Loại")]
    assert "dòng 6" in str(read.issues[0]) and "%" in read.issues[0].message


def test_xlsx_kinds_by_vietnamese_name_and_tree_errors():
    ok = criteria_xlsx.read_sets(_template_rows([
        ["1", "Hạ tầng", 10], ["1.1", "Tỷ lệ", 5, "Tỷ lệ (tử số/mẫu số)", ">=90%:5; >=50%:2"],
        ["1.2", "Kết nối", 5, "Có/Không", "", "", "", "x"]]))
    assert ok.ok
    n = ok.sets[0].nodes
    assert (n[1].kind, n[2].kind, n[2].allow_na) == ("ratio", "yes_no", True)
    bad = criteria_xlsx.read_sets(_template_rows([["1", "Hạ tầng", 10], ["1.1", "Tỷ lệ", 12, "yes_no"]]))
    assert [(i.row, i.column) for i in bad.issues] == [(6, "Điểm tối đa")]


def test_a_damaged_file_is_refused_in_vietnamese():
    with pytest.raises(criteria_xlsx.UnitFileError) as exc:
        criteria_xlsx.read_sets(b"PK\x03\x04 not really a zip")
    assert "Không đọc được tệp Excel" in exc.value.message


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice not installed")
def test_a_sheet_filled_and_saved_by_libreoffice_imports(tmp_path):
    spec = cao_bang_criteria()
    from workflow.criteria_rules import build_tree
    tree = build_tree(spec.criteria[0].nodes)
    data = criteria_xlsx.export_sheet("PL-I", "Sở Tài chính", tree, "department", {})
    # Fill it as a person would: values typed as numbers, then let LibreOffice re-save the file.
    import io

    from openpyxl import load_workbook
    wb = load_workbook(io.BytesIO(data))
    ws = wb.active
    rows = {ws.cell(row=r, column=1).value: r for r in range(5, ws.max_row + 1)}
    col = {h: i + 1 for i, h in enumerate(criteria_xlsx.HEADER + criteria_xlsx.VALUE_HEADER)}
    ws.cell(rows["1.1"], col["Tử số"], 45)
    ws.cell(rows["1.1"], col["Mẫu số"], 50)
    ws.cell(rows["1.2"], col["Có/Không"], "Có")
    ws.cell(rows["2.4"], col["Số liệu"], 3)
    ws.cell(rows["3.1"], col["Đường link"], "https://stc.caobang.gov.vn/tin-tuc")
    ws.cell(rows["3.3"], col["Không áp dụng"], "x")
    ws.cell(rows["3.3"], col["Giải trình"], "Sở không có thủ tục hành chính")
    src = tmp_path / "filled.xlsx"
    wb.save(src)
    out = tmp_path / "lo"
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/profile", "--convert-to",
                    "xlsx:Calc MS Excel 2007 XML", "--outdir", str(out), str(src)], check=True, timeout=120,
                   capture_output=True)
    read = criteria_xlsx.read_filled_sheet((out / "filled.xlsx").read_bytes(), tree, "department")
    assert read.issues == []
    assert read.values["1.1"] == {"numerator": "45", "denominator": "50"}
    assert read.values["1.2"] == {"yes": True}
    assert read.values["2.4"] == {"number": "3"}
    assert read.values["3.1"] == {"links": ["https://stc.caobang.gov.vn/tin-tuc"]}
    assert read.values["3.3"] == {"na": True, "explanation": "Sở không có thủ tục hành chính"}
    assert Decimal(tree.maximum("department")) == 100
