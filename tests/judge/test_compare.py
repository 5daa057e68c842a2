"""What changed between two versions of a return, whatever program saved the second one."""
from __future__ import annotations

import openpyxl

from helpers.formfill import named
from helpers.libreoffice import convert
from xlperf.demo.simulate import fill_return
from xlperf.form.spec import load_form
from xlperf.form.template import write_template
from xlperf.judge.compare import compare_files


def test_a_resubmission_saved_as_xls_by_libreoffice_shows_exactly_the_one_cell_the_county_changed(tmp_path, libreoffice):
    blank = tmp_path / "blank.xlsx"
    write_template(load_form("project-county"), 2024, blank)
    first = fill_return(blank, tmp_path / "第一版.xlsx", seed=4)
    wb = openpyxl.load_workbook(first)
    sheet, r0, c0, _, _ = named(wb, "funds_current_spent")
    old = sheet.cell(r0, c0).value
    sheet.cell(r0, c0).value = 88.5
    wb.save(tmp_path / "第二版.xlsx")
    second = convert(tmp_path / "第二版.xlsx", "xls", tmp_path / "lo")

    (change,) = compare_files(first, second)
    assert change.cell == sheet.cell(r0, c0).coordinate
    assert "全年执行数" in change.label and (change.old, change.new) == (f"{old:g}", "88.5")
    assert compare_files(first, first) == []
