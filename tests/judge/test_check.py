"""A county fills the generated form, makes the usual mistakes, and `xlperf check` finds each one."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from helpers.formfill import cell, fill, named
from helpers.libreoffice import convert
from xlperf.judge.check import check
from xlperf.cli import main
from xlperf.form.spec import load_form
from xlperf.form.template import TemplateOptions, write_template

SPEC = load_form("project-county")

# One clean fill: (name, target, actual, weight, score, reason) per template row, in row order.
CLEAN = [
    ("城乡居民基本医保参保率", "≥95%", "96.2%", 20, 20, None),                 # 数量
    ("医保信息系统正常运行率", "≥90%", "99.5%", 10, 10, None),                 # 质量
    ("重大安全事件响应时间", "≤60分钟", "30分钟", 10, 10, None),               # 时效
    ("项目总成本", "≤320万元", "261.75万元", 10, 10, None),                   # 成本
    None,                                                                     # 经济效益 (empty, legal)
    ("住院费用跨省直接结算率", "≥80%", "71%", 20, 17.75, "部分医院未开通，下一步加强备案"),  # 社会效益
    None,                                                                     # 生态效益
    ("医保经办服务能力", "有所提升", "有所提升", 10, 10, None),                  # 可持续影响
    ("参保人员满意度", "≥85%", "91.33%", 10, 10, None),                        # 满意度
]
KEYS = ("name", "target", "actual", "weight", "score", "reason")


def rows(overrides: dict[int, dict] | None = None) -> list[dict | None]:
    out = [dict(zip(KEYS, r)) if r else None for r in CLEAN]
    for i, change in (overrides or {}).items():
        out[i] = {**(out[i] or {}), **change}
    return out


@pytest.fixture
def template(tmp_path) -> Path:
    path = tmp_path / "template.xlsx"
    write_template(SPEC, 2024, path, options=TemplateOptions(password="pw"))
    return path


def county_fill(template: Path, dst: Path, overrides=None, **kw) -> Path:
    return fill(template, dst, header={"project_name": "城乡居民医疗保险补助资金", "unit": "绥宁县医疗保障局",
                                       "department": "绥宁县医疗保障局", "project_leader": "李明"},
                funds={("current", "budget"): 320, ("current", "spent"): 300, ("other", "budget"): 0,
                       ("other", "spent"): 0},
                goal_planned="全年参保率保持在95%以上，医保信息系统稳定运行。",
                goal_actual="全年完成参保扩面和信息系统运维工作。", rows=rows(overrides), **kw)


def by_code(result, code):
    return [f for f in result.findings if f.code == code]


def score_cell(wb_path: Path, i: int, key: str = "score") -> str:
    wb = openpyxl.load_workbook(wb_path)
    ws, r0, c0, _, _ = named(wb, f"ind_{key}")
    return ws.cell(r0 + i, c0).coordinate


def test_a_clean_fill_has_no_errors(template, tmp_path):
    r = check(county_fill(template, tmp_path / "clean.xlsx"))
    assert r.form == "project-county" and r.located_by == "names" and r.year == 2024
    assert r.unit == "绥宁县医疗保障局" and r.project == "城乡居民医疗保险补助资金"
    assert [f for f in r.findings if f.severity == "error"] == []
    assert r.funds["rate"] == pytest.approx(300 / 320)
    assert r.total_score == pytest.approx(9.38 + 87.75)  # 10 × 93.75 % = 9.375 → 9.38
    assert len(r.indicators) == 7


@pytest.mark.parametrize("story, overrides, code, row, key", [
    ("score above its weight", {0: {"score": 25}}, "score-range", 0, "score"),
    ("a score below full marks without a reason", {5: {"reason": None}}, "reason-required", 5, "reason"),
    ("a score left empty", {1: {"score": None}}, "score-missing", 1, "score"),
    ("a target without a number", {0: {"target": "≥ 万人"}}, "target-unparseable", 0, "target"),
    ("units that do not match", {0: {"target": "≥100万人", "actual": "101.07%"}}, "unit-mismatch", 0, "actual"),
    ("over-completion without a note", {1: {"target": "≥10%", "actual": "49.95%"}}, "overachieve-note", 1, "actual"),
    ("a score far from the rule", {5: {"score": 8}}, "score-deviates", 5, "score"),
    ("weights of 产出 not adding up", {0: {"weight": 15, "score": 15}}, "weight-sum-l1", 0, "weight"),
])
def test_each_typical_mistake_is_found_at_its_cell(template, tmp_path, story, overrides, code, row, key):
    path = county_fill(template, tmp_path / "m.xlsx", overrides)
    found = by_code(check(path), code)
    assert found, story
    assert found[0].cell == score_cell(path, row, key), story
    assert found[0].message.startswith(found[0].cell + "：")


def test_typed_percents_and_full_width_marks_are_understood(template, tmp_path):
    path = county_fill(template, tmp_path / "fw.xlsx", {0: {"target": "≧９５％", "actual": 0.962}})
    wb = openpyxl.load_workbook(path)
    ws, r0, c0, _, _ = named(wb, "ind_actual")
    ws.cell(r0, c0).number_format = "0.0%"
    wb.save(path)
    r = check(path)
    assert r.indicators[0].suggested_score == 20 and not [f for f in r.findings if f.severity == "error"]


def test_a_formula_overwritten_by_a_typed_value_is_caught(template, tmp_path):
    path = county_fill(template, tmp_path / "t.xlsx")
    wb = openpyxl.load_workbook(path)
    cell(wb, "funds_total_rate").value = 0.95
    cell(wb, "total_score").value = 100
    wb.save(path)
    r = check(path)
    cells = {f.cell for f in by_code(r, "formula-tampered")}
    wb = openpyxl.load_workbook(path)
    assert cells == {cell(wb, "funds_total_rate").coordinate, cell(wb, "total_score").coordinate}
    assert by_code(r, "exec-rate-wrong")   # and the typed rate is wrong, too


def test_removed_protection_and_a_lost_identity_sheet_are_errors(template, tmp_path):
    path = county_fill(template, tmp_path / "p.xlsx")
    wb = openpyxl.load_workbook(path)
    wb[SPEC.sheet].protection.sheet = False
    wb["_xlperf"].sheet_state = "visible"
    wb.save(path)
    r = check(path)
    assert by_code(r, "protection-removed") and by_code(r, "identity-altered")
    wb = openpyxl.load_workbook(path)
    del wb["_xlperf"]
    wb.save(path)
    assert by_code(check(path), "identity-missing")


@pytest.mark.libreoffice
def test_the_same_return_saved_by_libreoffice_in_every_format_reads_the_same(template, tmp_path, libreoffice):
    path = county_fill(template, tmp_path / "lo.xlsx", {0: {"score": 25}, 5: {"reason": None}})
    base = check(path)
    integrity = {"formula-tampered", "protection-removed", "identity-missing", "identity-altered"}
    key = lambda r: sorted((f.code, f.cell) for f in r.findings if f.code not in integrity)
    ind = lambda r: [(i.level1, i.level2, i.name, i.target, i.actual, i.weight, i.score, i.suggested_score) for i in r.indicators]
    for fmt in ("xlsx", "xls", "ods"):
        saved = convert(path, fmt, tmp_path / fmt)
        r = check(saved)
        assert r.format == fmt and r.form == base.form and r.year == 2024, fmt
        assert ind(r) == ind(base), fmt
        assert r.funds["budget"] == base.funds["budget"] and r.funds["rate"] == pytest.approx(base.funds["rate"]), fmt
        assert key(r) == key(base), fmt
        assert not [f for f in r.findings if f.code in integrity], fmt   # LibreOffice keeps formulas and protection


def test_check_command_exit_codes_json_and_feedback(template, tmp_path):
    good = county_fill(template, tmp_path / "good.xlsx")
    bad = county_fill(template, tmp_path / "bad.xlsx", {0: {"score": 25}})
    junk = tmp_path / "junk.xlsx"
    junk.write_text("这不是表格", encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(main, ["check", str(good)]).exit_code == 0
    res = runner.invoke(main, ["check", str(good), str(bad)])
    assert res.exit_code == 1 and "score-range" in res.output
    assert "共 2 个文件：无错误 1 个，有错误 1 个，无法读取 0 个。" in res.output
    res = runner.invoke(main, ["check", str(junk), str(good)])
    assert res.exit_code == 2 and "not-a-spreadsheet" in res.output and "Traceback" not in res.output

    res = runner.invoke(main, ["check", "--json", str(bad), str(junk)])
    doc = json.loads(res.output)
    first = doc["files"][0]
    assert {"path", "form", "year", "project", "unit", "funds", "indicators", "total_score", "grade", "findings"} <= set(first)
    assert first["funds"]["rate"] == pytest.approx(300 / 320)
    assert {"level1", "level2", "name", "weight", "target", "actual", "score", "suggested_score", "cell"} <= set(first["indicators"][0])
    assert {"code", "severity", "cell", "message"} <= set(first["findings"][0])
    assert doc["files"][1]["findings"][0]["code"] == "not-a-spreadsheet"

    before = hashlib.sha256(bad.read_bytes()).hexdigest()
    out = tmp_path / "feedback"
    assert runner.invoke(main, ["check", "--feedback", str(out), str(bad)]).exit_code == 1
    assert hashlib.sha256(bad.read_bytes()).hexdigest() == before
    fb = next(out.glob("*.xlsx"))
    assert fb.name == "bad_更正.xlsx"                        # a fresh correction copy, not a marked-up return
    wb = openpyxl.load_workbook(fb)
    issues = [row for row in wb["问题清单"].iter_rows(min_row=3, values_only=True)]
    assert any("超过分值" in row[3] for row in issues)
    assert not any("score-range" in str(v) for row in issues for v in row)   # Chinese only
    c = wb[SPEC.sheet][score_cell(fb, 0)]
    assert c.comment is not None and "超过分值" in c.comment.text
    assert any(c.coordinate in str(cf.sqref) for cf in wb[SPEC.sheet].conditional_formatting)   # shaded
    assert wb[SPEC.sheet].protection.sheet                  # a protected form again


def test_a_workbook_without_the_form_and_an_empty_one_say_so(tmp_path):
    other = tmp_path / "other.xlsx"
    wb = openpyxl.Workbook()
    wb.active["A1"] = "工资表"
    wb.active["B2"] = 1200
    wb.save(other)
    empty = tmp_path / "empty.xlsx"
    openpyxl.Workbook().save(empty)
    assert [f.code for f in check(other).findings] == ["not-a-form"]
    assert [f.code for f in check(empty).findings] == ["workbook-empty"]


@pytest.mark.libreoffice
def test_a_template_whose_unused_rows_were_deleted_still_reads_right(tmp_path, libreoffice):
    """The 说明 allows deleting unused 二级 rows; the defined names shrink with them."""
    from helpers.libreoffice import delete_rows
    blank = tmp_path / "blank.xlsx"
    lay = write_template(SPEC, 2024, blank, options=TemplateOptions(password="pw"))
    eco = next(g2 for g1 in lay.groups for g2 in g1.children if g2.name == "经济效益指标")
    trimmed = tmp_path / "trimmed.xlsx"
    delete_rows(blank, trimmed, eco.first)                    # 经济效益指标 is not used by this project
    rest = [r for i, r in enumerate(CLEAN) if i != 4]
    path = fill(trimmed, tmp_path / "filled.xlsx", header={"project_name": "项目", "unit": "单位"},
                funds={("current", "budget"): 320, ("current", "spent"): 300},
                rows=[dict(zip(KEYS, r)) if r else None for r in rest])
    result = check(convert(path, "xlsx", tmp_path / "lo"))
    assert [i.name for i in result.indicators] == [r[0] for r in rest if r]
    assert "经济效益指标" not in {i.level2 for i in result.indicators}
    assert not [f for f in result.findings if f.severity == "error"]
    assert result.total_score == pytest.approx(9.38 + 87.75)


@pytest.mark.libreoffice
def test_a_return_saved_as_ods_gets_an_xlsx_feedback_copy_with_the_problems_marked(template, tmp_path, libreoffice):
    from xlperf.judge.feedback import write_feedback
    path = county_fill(template, tmp_path / "wrong.xlsx", {0: {"score": 25}})
    ods = convert(path, "ods", tmp_path / "ods")
    before = ods.read_bytes()
    result = check(ods)
    out = write_feedback(ods, result, tmp_path / "fb")
    assert ods.read_bytes() == before and out.suffix == ".xlsx"
    wb = openpyxl.load_workbook(out)
    bad = next(f for f in result.findings if f.code == "score-range")
    assert wb[bad.sheet][bad.cell].comment is not None and wb[bad.sheet][bad.cell].value == 25
    assert any(r[2] == "score-range" for r in wb["问题清单"].iter_rows(min_row=2, values_only=True))
