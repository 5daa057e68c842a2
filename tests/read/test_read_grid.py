"""read_grid turns xlsx, xls and ods returns into the same neutral grid.

The reference workbook is written by XlsxWriter (what our template writer
uses) and then re-saved by LibreOffice as xlsx, xls and ods — the clients
counties actually use — and read back.
"""
from __future__ import annotations

import pickle
import shutil
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import xlsxwriter
from hypothesis import given, strategies as st

from helpers import libreoffice as lo
from xlperf.read import Grid, read_grid, sniff
from xlperf.read.xlsx import is_date_format, serial_to_datetime

FORM = "项目支出绩效自评表"
TITLE = "2024年度项目支出绩效自评表"
EXPECTED_VALUES = {
    (0, 0): TITLE,
    (1, 0): "预算数", (1, 1): 100.0,
    (2, 0): "执行数", (2, 1): 95.5,
    (3, 0): "执行率", (3, 1): 0.955,
    (4, 0): "日期", (4, 1): datetime(2024, 12, 31),
    (5, 0): "完成", (5, 1): True,
    (6, 1): "95.5",
    (7, 0): "合并单元格",
}
EXPECTED_MERGED = [(0, 0, 0, 3), (7, 0, 8, 0)]


def build_workbook(path: Path) -> Path:
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet(FORM)
    ws.merge_range("A1:D1", TITLE)
    ws.write("A2", "预算数")
    ws.write_number("B2", 100)
    ws.write("A3", "执行数")
    ws.write_number("B3", 95.5, wb.add_format({"locked": False}))
    ws.write("A4", "执行率")
    ws.write_formula("B4", "=B3/B2", wb.add_format({"num_format": "0.00%"}), 0.955)
    ws.write("A5", "日期")
    ws.write_datetime("B5", datetime(2024, 12, 31), wb.add_format({"num_format": "yyyy-mm-dd"}))
    ws.write("A6", "完成")
    ws.write_boolean("B6", True)
    ws.write_formula("B7", '=IF(B2=0,"",B3&"")', None, "95.5")
    ws.write("C7", "")                       # an empty string is not a value
    ws.merge_range("A8:A9", "合并单元格")
    ws.protect("secret")
    meta = wb.add_worksheet("_meta")
    meta.write("A1", "template_id")
    meta.write("B1", "project-self-eval")
    meta.very_hidden()
    wb.add_worksheet("空表")
    wb.define_name("spent", f"='{FORM}'!$B$3")
    wb.define_name("_xlnm.Print_Area", f"='{FORM}'!$A$1:$D$9")
    wb.define_name(f"'{FORM}'!local_only", f"='{FORM}'!$A$1")
    wb.close()
    return path


@pytest.fixture(scope="module")
def native(tmp_path_factory) -> Path:
    return build_workbook(tmp_path_factory.mktemp("native") / "form.xlsx")


@pytest.fixture(scope="module")
def resaved(native, tmp_path_factory) -> dict[str, Path] | None:
    """The same workbook saved by LibreOffice as xlsx, xls and ods (None without LibreOffice;
    the tests then skip or fail through the `libreoffice` fixture)."""
    if lo.soffice() is None:
        return None
    out = tmp_path_factory.mktemp("lo")
    return {fmt: lo.convert(native, fmt, out / fmt) for fmt in ("xlsx", "xls", "ods")}


def form(grid: Grid):
    sheet = grid.sheet(FORM)
    assert sheet is not None, [s.name for s in grid.sheets]
    return sheet


# ---------------------------------------------------------------- our own xlsx

def test_xlsx__values_come_back_typed__numbers_as_float_dates_as_datetime(native):
    grid = read_grid(native)
    assert grid.format == "xlsx"
    assert form(grid).values == EXPECTED_VALUES
    assert all(type(v) is float for v in form(grid).values.values() if isinstance(v, (int, float))
               and not isinstance(v, bool))


def test_xlsx__percent_and_date_formats_are_recorded__general_is_not(native):
    sheet = form(read_grid(native))
    assert sheet.formats[(3, 1)] == "0.00%"
    assert sheet.formats[(4, 1)] == "yyyy-mm-dd"
    assert (1, 1) not in sheet.formats


def test_xlsx__formula_text_and_cached_value_are_both_kept(native):
    sheet = form(read_grid(native))
    assert sheet.formulas == {(3, 1): "B3/B2", (6, 1): 'IF(B2=0,"",B3&"")'}
    assert sheet.values[(3, 1)] == 0.955


def test_xlsx__merged_ranges_protection_and_unlocked_inputs(native):
    sheet = form(read_grid(native))
    assert sheet.merged == EXPECTED_MERGED
    assert sheet.protected is True
    assert sheet.unlocked == {(2, 1)}


def test_xlsx__sheet_states_and_workbook_level_names_only(native):
    grid = read_grid(native)
    assert [(s.name, s.state) for s in grid.sheets] == [(FORM, "visible"), ("_meta", "veryHidden"), ("空表", "visible")]
    assert [s.name for s in grid.visible_sheets()] == [FORM, "空表"]
    assert grid.sheet("_meta").text(0, 1) == "project-self-eval"
    assert grid.sheet("_meta").protected is False
    assert grid.defined_names == {"spent": f"'{FORM}'!$B$3"}
    assert grid.application == "Microsoft Excel"


def test_xlsx__an_empty_sheet_is_not_an_error(native):
    empty = read_grid(native).sheet("空表")
    assert empty.values == {} and empty.max_row == -1 and empty.max_col == -1


def test_grid__pickles_for_process_pools(native):
    grid = read_grid(native)
    assert pickle.loads(pickle.dumps(grid)) == grid
    assert form(grid).max_row == 7 and form(grid).max_col == 1      # values only, not merged spans
    assert form(grid).get(99, 99, "x") == "x" and form(grid).text(0, 0) == TITLE


def test_format_is_sniffed_from_bytes__not_the_file_name(native, tmp_path):
    disguised = tmp_path / "returned.xls"
    shutil.copyfile(native, disguised)
    assert sniff(disguised) == "xlsx"
    assert read_grid(disguised).format == "xlsx"


# ---------------------------------------------------------------- what Excel / WPS write

_EXCEL_STYLE = {
    "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '</Types>',
    "_rels/.rels": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    '</Relationships>',
    "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="表1" sheetId="1" r:id="rId1"/></sheets></workbook>',
    # Absolute targets, as some writers (and WPS) produce.
    "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="/xl/worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="/xl/sharedStrings.xml"/>'
    '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    '</Relationships>',
    "xl/sharedStrings.xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="2" uniqueCount="2">'
    '<si><r><rPr><b/></rPr><t>全年</t></r><r><t xml:space="preserve">执行数 </t></r>'
    '<rPh sb="0" eb="2"><t>ぜんねん</t></rPh></si>'
    '<si><t>行1_x000D_</t></si></sst>',
    "xl/styles.xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="1"><numFmt numFmtId="176" formatCode="yyyy&quot;年&quot;m&quot;月&quot;d&quot;日&quot;"/></numFmts>'
    '<cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="10" applyNumberFormat="1"/>'
    '<xf numFmtId="176" applyNumberFormat="1"/><xf numFmtId="31" applyNumberFormat="1"/></cellXfs>'
    '</styleSheet>',
    # Shared formulas (the children carry no text), inline strings, cells without r.
    "xl/worksheets/sheet1.xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<sheetData>'
    '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="inlineStr"><is><t>内联</t></is></c><c r="C1" t="s"><v>1</v></c></row>'
    '<row r="2"><c r="A2"><v>1</v></c><c r="B2"><f t="shared" ref="B2:B3" si="0">A2*2</f><v>2</v></c></row>'
    '<row r="3"><c r="A3"><v>2</v></c><c r="B3"><f t="shared" si="0"/><v>4</v></c></row>'
    '<row><c s="1"><v>0.5</v></c><c s="2"><v>45657</v></c><c s="3"><v>45292</v></c><c t="e"><v>#DIV/0!</v></c></row>'
    '</sheetData>'
    '<sheetProtection sheet="0"/>'
    '<mergeCells count="1"><mergeCell ref="A5"/></mergeCells>'
    '</worksheet>',
}


def test_excel_style_parts__shared_formulas_rich_text_inline_strings_and_cjk_dates(tmp_path):
    path = tmp_path / "excel.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in _EXCEL_STYLE.items():
            z.writestr(name, text)
    sheet = read_grid(path).sheet("表1")
    assert sheet.values[(0, 0)] == "全年执行数 "          # runs joined, phonetic guide left out
    assert sheet.values[(0, 1)] == "内联"
    assert sheet.values[(0, 2)] == "行1\r"
    assert sheet.formulas == {(1, 1): "A2*2", (2, 1): ""}
    assert sheet.values[(2, 1)] == 4.0
    assert sheet.values[(3, 0)] == 0.5 and sheet.formats[(3, 0)] == "0.00%"
    assert sheet.values[(3, 1)] == datetime(2024, 12, 31)
    assert sheet.values[(3, 2)] == datetime(2024, 1, 1)     # built-in zh-CN date id 31
    assert sheet.values[(3, 3)] == "#DIV/0!"
    assert sheet.protected is False
    assert sheet.merged == [(4, 0, 4, 0)]


# ---------------------------------------------------------------- real clients

def test_libreoffice_xlsx__keeps_values_merges_protection_formulas(libreoffice, resaved):
    grid = read_grid(resaved["xlsx"])
    sheet = form(grid)
    assert grid.format == "xlsx" and grid.application.startswith("LibreOffice")
    assert sheet.values == EXPECTED_VALUES
    assert sheet.merged == EXPECTED_MERGED
    assert sheet.protected is True
    assert sheet.unlocked == {(2, 1)}
    assert sheet.formulas[(3, 1)] == "B3/B2"
    assert sheet.formulas[(6, 1)] == 'IF(B2=0,"",B3&"")'
    assert sheet.formats[(3, 1)] == "0.00%"
    assert grid.sheet("_meta").state == "hidden"            # LibreOffice has no "very hidden"
    assert "spent" in grid.defined_names


def test_libreoffice_xls__keeps_values_merges_and_hidden_sheet(libreoffice, resaved):
    grid = read_grid(resaved["xls"])
    sheet = form(grid)
    assert grid.format == "xls"
    assert sheet.values == EXPECTED_VALUES
    assert sheet.merged == EXPECTED_MERGED
    assert sheet.protected is None and sheet.formulas == {}    # calamine cannot tell for .xls
    assert grid.sheet("_meta").state == "hidden"
    assert grid.sheet("_meta").text(0, 1) == "project-self-eval"


def test_libreoffice_ods__keeps_values_merges_protection_formulas(libreoffice, resaved):
    grid = read_grid(resaved["ods"])
    sheet = form(grid)
    assert grid.format == "ods"
    assert sheet.values == EXPECTED_VALUES
    assert sorted(sheet.merged) == EXPECTED_MERGED
    assert sheet.protected is True
    assert sheet.formulas[(3, 1)] == "B3/B2"
    assert sheet.formulas[(6, 1)] == 'IF(B2=0,"",B3&"")'
    assert sheet.formats[(3, 1)] == "0.00%"
    assert sheet.unlocked == {(2, 1)}
    assert grid.sheet("_meta").state == "hidden"
    assert grid.defined_names == {"spent": f"'{FORM}'!$B$3"}


def test_an_xls_renamed_to_xlsx_is_still_read_as_xls(libreoffice, resaved, tmp_path):
    renamed = tmp_path / "form.xlsx"
    shutil.copyfile(resaved["xls"], renamed)
    assert read_grid(renamed).format == "xls"


# ---------------------------------------------------------------- value parsers

@given(st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(9999, 12, 31)))
def test_serial_numbers_round_trip_to_the_millisecond(dt):
    dt = dt.replace(microsecond=dt.microsecond // 1000 * 1000)
    serial = (dt - datetime(1899, 12, 30)) / timedelta(days=1)
    assert abs(serial_to_datetime(serial) - dt) <= timedelta(milliseconds=1)


@pytest.mark.parametrize("code, is_date", [
    ("yyyy-mm-dd", True), ('yyyy"年"m"月"d"日"', True), ("[$-804]yyyy/m/d", True), ("h:mm:ss", True),
    ("[h]:mm", True), ("0.00%", False), ("0.00", False), ('#,##0.00"元"', False), ('0"天"', False),
    ("[Red]0.00", False), ("General", False), ("@", False), ("_-* #,##0_-", False),
])
def test_date_formats_are_told_from_number_formats(code, is_date):
    assert is_date_format(code) is is_date
