"""The form on screen and on paper: one A4 landscape page, no premature results, no clipped labels."""
from __future__ import annotations

import json
import re

import openpyxl
import pytest

from helpers.formfill import cell, fill
from helpers.libreoffice import convert, run_uno_script
from xlperf.form.samples import example_form_data
from xlperf.form.spec import load_form
from xlperf.form.template import TemplateOptions, write_template

LOCK = frozenset({"header", "funds", "targets"})


@pytest.fixture(params=["project", "project-county"])
def spec(request):
    return load_form(request.param)


def _pages(pdf: bytes) -> list[tuple[float, float]]:
    """(width, height) of every page of a PDF LibreOffice wrote."""
    n = len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))
    boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    return [(float(w), float(h)) for w, h in boxes[:n]] or [(0.0, 0.0)] * n


@pytest.mark.libreoffice
def test_a_pre_filled_form_prints_on_one_a4_landscape_page_without_the_check_table(tmp_path, spec, libreoffice):
    form = tmp_path / "form.xlsx"
    lay = write_template(spec, 2024, form, example_form_data(spec, filled=False), TemplateOptions(lock=LOCK))
    pages = _pages(convert(form, "pdf", tmp_path / "pdf").read_bytes())
    assert len(pages) == 1
    w, h = pages[0]
    assert w > h and abs(w - 842) < 3 and abs(h - 595) < 3          # A4 landscape, in points
    ws = openpyxl.load_workbook(form)[spec.sheet]
    area = ws.print_area[0] if isinstance(ws.print_area, list) else ws.print_area
    last_printed = int(re.findall(r"\d+", area.split(":")[-1])[0])
    assert last_printed == lay.grade_row + 1                        # down to 评价等级, no check table, no notes
    assert lay.check_title_row > lay.grade_row and all(r > lay.grade_row for r in lay.notes_rows)


@pytest.mark.libreoffice
def test_an_untouched_form_shows_no_rate_score_grade_or_red_banner_until_it_is_filled(tmp_path, spec, libreoffice):
    blank, pre = tmp_path / "blank.xlsx", tmp_path / "pre.xlsx"
    write_template(spec, 2024, blank)
    write_template(spec, 2024, pre, example_form_data(spec, filled=False), TemplateOptions(lock=LOCK))
    for src in (blank, pre):
        wb = openpyxl.load_workbook(convert(src, "xlsx", tmp_path / src.stem), data_only=True)  # recalculated
        for name in ("funds_total_rate", "funds_current_rate", "funds_total_score", "total_score", "grade"):
            assert cell(wb, name).value in (None, ""), (src.name, name, cell(wb, name).value)
        # No red 分值有误 banner: blank until 分值 are there; the approved 分值 add up.
        assert cell(wb, "check").value in ((None, "") if src is blank else ("校验通过",))
    # The clerk types the 全年执行数: the rate and the budget score appear; a grade only with scores.
    typed = fill(pre, tmp_path / "typed.xlsx", funds={("current", "spent"): 300})
    wb = openpyxl.load_workbook(convert(typed, "xlsx", tmp_path / "typed"), data_only=True)
    assert cell(wb, "funds_total_rate").value == pytest.approx(300 / 320)
    assert cell(wb, "funds_total_score").value == pytest.approx(round(10 * 300 / 320, 2))
    assert cell(wb, "check").value == "校验通过"


# For every text cell of the printed area: the height LibreOffice needs to show it wrapped in
# its (merged) cell's width, next to the height the form gives it. Measured on a scratch sheet
# with the same font, size, weight and width.
_MEASURE = r'''
import json
src, last_row = args[0], int(args[1])
doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(src), "_blank", 0, (pv("Hidden", True),))
sheet = doc.Sheets.getByIndex(0)
doc.Sheets.insertNewByName("measure", doc.Sheets.Count)
scratch = doc.Sheets.getByName("measure")
out = []
ncols = sheet.createCursor().getRangeAddress().EndColumn
ncols = 12
for r in range(2, last_row + 1):
    for c in range(ncols):
        cl = sheet.getCellByPosition(c, r)
        text = cl.getString()
        if not text or cl.getType().value == "FORMULA":
            continue
        cur = sheet.createCursorByRange(cl)
        cur.collapseToMergedArea()
        a = cur.getRangeAddress()
        if (a.StartRow, a.StartColumn) != (r, c):
            continue
        width = sum(sheet.Columns.getByIndex(i).Width for i in range(a.StartColumn, a.EndColumn + 1))
        height = sum(sheet.Rows.getByIndex(i).Height for i in range(a.StartRow, a.EndRow + 1))
        m = scratch.getCellByPosition(0, 0)
        scratch.Columns.getByIndex(0).Width = width
        for p in ("CharHeight", "CharWeight", "CharFontName", "CharHeightAsian", "CharWeightAsian", "CharFontNameAsian"):
            m.setPropertyValue(p, cl.getPropertyValue(p))
        m.IsTextWrapped = True
        m.setString(text)
        scratch.Rows.getByIndex(0).OptimalHeight = True
        out.append({"text": text, "row": r + 1, "height": height, "needed": scratch.Rows.getByIndex(0).Height})
doc.close(True)
print(json.dumps(out, ensure_ascii=False))
'''


@pytest.mark.libreoffice
def test_no_label_is_clipped_at_the_default_zoom(tmp_path, spec, libreoffice):
    form = tmp_path / "form.xlsx"
    lay = write_template(spec, 2024, form, example_form_data(spec, filled=False), TemplateOptions(lock=LOCK))
    cells = json.loads(run_uno_script(_MEASURE, str(form), str(lay.grade_row)).strip().splitlines()[-1])
    texts = {c["text"] for c in cells}
    assert spec.funds_label in texts and spec.indicators_label in texts
    if spec.id == "project-county":
        assert "项目负责人及电话" in texts and "资金情况(万元)" in texts
    clipped = [c for c in cells if c["needed"] > c["height"] + 20]   # 1/100 mm; 0.2 mm of slack
    assert not clipped, clipped
