"""What reviewers read in the summary: copied explanations, percentages, file counts, places and times."""
from __future__ import annotations

import openpyxl
import pandas as pd
import pytest

from helpers.formfill import named
from xlperf.form.samples import example_form_data
from xlperf.form.spec import load_form
from xlperf.form.template import write_template
from xlperf.judge.check import CheckResult, check
from xlperf.judge.validate import IndicatorResult
from xlperf.province.aggregate import summarize
from xlperf.province.frames import export_csv
from xlperf.province.model import Entry, Expected
from xlperf.province.workbook import write_summary

SPEC = load_form("project-county")
COPIED = "受政策调整和系统升级影响，部分工作进度滞后，下一步加强督导。"


def _ind(name: str, reason: str, row: int) -> IndicatorResult:
    return IndicatorResult(level1="产出指标", level2="数量指标", name=name, weight=10, target="≥95%", actual="90%",
                           score=9, suggested_score=9.47, cell=f"H{row}", row=row, reason=reason)


def _result(path: str, reasons: list[str], goal_actual: str = "") -> CheckResult:
    return CheckResult(path=path, form=SPEC.id, year=2024, funds={"budget": 100.0, "spent": 95.0, "rate": 0.95},
                       indicators=[_ind(f"指标{i}", r, 12 + i) for i, r in enumerate(reasons)],
                       total_score=90, grade="良好", goal_actual=goal_actual)


def _expected(i: int, region: str = "430527", name: str = "绥宁县") -> Expected:
    return Expected(i, f"U{i}", f"单位{i}", region, name, f"项目{i}", f"P{i}")


def test_copied_explanations_are_listed_for_reviewers_not_as_errors(tmp_path):
    roster = [_expected(i) for i in (1, 2, 3, 4)]
    entries = [
        Entry(_result("a.xlsx", [COPIED, "无"]), roster[0], "a.xlsx"),
        Entry(_result("b.xlsx", [COPIED]), roster[1], "b.xlsx"),
        # nearly: other punctuation and a figure changed
        Entry(_result("c.xlsx", ["受政策调整和系统升级影响,部分工作进度滞后 下一步加强督导"]), roster[2], "c.xlsx"),
        # one unit repeating itself in two rows is not copying from another unit
        Entry(_result("d.xlsx", ["因第3季度资金拨付延迟，采购合同推迟签订。"] * 2), roster[3], "d.xlsx"),
    ]
    s = summarize(entries, roster, year=2024, form=SPEC.id, produced_from="test")
    groups = s.tables["similar_texts"].rows
    assert len(groups) == 1, groups
    g = groups[0]
    assert g["kind"] == "偏差原因" and g["units"] == 3 and g["match"] == "几乎相同" and g["text"] == COPIED
    assert g["unit_names"] == "单位1、单位2、单位3"
    assert "a.xlsx · 第12行（指标0）" in g["places"] and "c.xlsx" in g["places"]
    assert s.tables["findings"].rows == []                  # a note for reviewers, not an error
    out = write_summary(s, tmp_path / "汇总.xlsx")
    ws = openpyxl.load_workbook(out)["疑似雷同说明"]
    assert [c.value for c in ws[1]][:5] == ["组号", "类别", "相同程度", "单位数", "说明内容"]
    assert ws.cell(2, 5).value == COPIED


def test_percentages_read_as_percentages_in_the_indicator_sheet_and_the_csv(tmp_path):
    form = tmp_path / "form.xlsx"
    write_template(SPEC, 2024, form, example_form_data(SPEC))
    wb = openpyxl.load_workbook(form)
    ws, r0, c0, _, _ = named(wb, "ind_actual")
    ws.cell(r0, c0).value, ws.cell(r0, c0).number_format = 0.962, "0.0%"   # 96.2% typed into a % cell
    wb.save(form)
    s = summarize([Entry(check(form), _expected(1), "form.xlsx")], [_expected(1)], year=2024, form=SPEC.id,
                  produced_from="test")
    first = s.tables["indicators"].rows[0]
    assert (first["target"], first["actual"]) == ("≥95%", "96.2%")
    export_csv(s, tmp_path / "csv")
    projects = pd.read_csv(tmp_path / "csv" / "projects.csv", encoding="utf-8-sig", keep_default_na=False)
    assert projects.loc[0, "执行率"] == "81.80%"                       # 261.75 / 320, as in the workbook
    assert projects.loc[0, "执行率（小数）"] == pytest.approx(261.75 / 320)
    overview = pd.read_csv(tmp_path / "csv" / "overview.csv", encoding="utf-8-sig", keep_default_na=False)
    rate = overview[overview["项目"].str.startswith("执行率")].iloc[0]
    assert rate["数值"] == "81.80%" and float(rate["数值（小数）"]) == pytest.approx(261.75 / 320)


def test_province_own_units_sit_at_province_level_and_times_are_beijing_time(tmp_path):
    own, county = _expected(1, "430000", "湖南省本级"), _expected(2)     # as a clerk names the region
    entries = [Entry(_result("own.xlsx", []), own, "own.xlsx", "2025-03-01T02:30:00+00:00"),
               Entry(_result("c.xlsx", []), county, "c.xlsx", "2025-03-01T16:00:00+00:00")]
    s = summarize(entries, [own, county], year=2024, form=SPEC.id, produced_from="test")
    projects = s.tables["projects"]
    assert [r["received_at"] for r in projects.rows] == ["2025-03-01 10:30:00", "2025-03-02 00:00:00"]
    assert "北京时间" in next(c.title for c in projects.columns if c.key == "received_at")
    assert (projects.rows[0]["province"], projects.rows[0]["city"]) == ("湖南省", "省本级")
    assert [r["name"] for r in s.tables["regions"].rows if r["level"] == "省"] == ["湖南省"]
    region = next(r for r in s.tables["regions"].rows if r["name"] == "湖南省本级")
    assert (region["level"], region["parent"]) == ("省本级", "430000")
    out = write_summary(s, tmp_path / "汇总.xlsx")
    notes = {r[0]: r[1] for r in openpyxl.load_workbook(out)["说明"].iter_rows(min_row=3, max_col=2, values_only=True)
             if r[0]}
    assert "生成时间（北京时间）" in notes
