"""The locked self-evaluation workbook: what a county opens, fills and sends back."""
from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from helpers.formfill import cell, fill, indicator_rows, named, package_text
from helpers.libreoffice import convert, insert_rows
from xlperf.cli import main
from xlperf.errors import SpecError
from xlperf.form.samples import example_form_data
from xlperf.form.spec import available_forms, load_form, templates_dir
from xlperf.form.template import TemplateOptions, write_template

PASSWORD = "s3cret-不外传"


@pytest.fixture(params=["project", "project-county"])
def spec(request):
    return load_form(request.param)


def test_every_shipped_form_definition_loads():
    forms = available_forms()
    assert {"project", "project-county"} <= set(forms)
    for form_id in forms:
        assert load_form(form_id).id == form_id


def test_generated_workbook_is_protected_named_and_carries_identity(tmp_path, spec):
    out = tmp_path / "t.xlsx"
    write_template(spec, 2024, out, options=TemplateOptions(password=PASSWORD))
    wb = openpyxl.load_workbook(out)
    ws = wb[spec.sheet]
    assert ws.protection.sheet and ws.protection.password  # hashed, not the clear text
    assert PASSWORD not in package_text(out)                 # only its hash is stored
    assert ws.protection.insertRows is False and ws.protection.deleteRows is False  # allowed
    assert ws["A1"].value == spec.title and ws["A2"].value == "（2024年度）"
    meta = wb["_xlperf"]
    assert meta.sheet_state == "veryHidden"
    kv = {r[0].value: r[1].value for r in meta.iter_rows()}
    assert kv["form_id"] == spec.id and kv["year"] == "2024" and kv["form_version"] == str(spec.version)
    assert kv["generated_at"]
    for name in ("project_name", "unit", "funds_total_budget", "funds_total_spent", "funds_total_rate",
                 "funds_total_score", "goal_planned", "goal_actual", "ind_level1", "ind_name", "ind_target",
                 "ind_actual", "ind_weight", "ind_score", "ind_reason", "total_weight", "total_score", "grade", "check"):
        assert name in wb.defined_names, name
    # Input cells are unlocked and shaded, formulas locked.
    assert cell(wb, "project_name").protection.locked is False
    assert cell(wb, "funds_current_spent").protection.locked is False
    assert cell(wb, "funds_total_spent").protection.locked is True
    assert str(cell(wb, "funds_total_rate").value).startswith("=IF(")
    assert cell(wb, "total_score").protection.locked is True
    rows = indicator_rows(wb)
    assert len(rows) == len(spec.level2_names()) * spec.rows_per_level2
    ws_ind, r0, c0, _, _ = named(wb, "ind_score")
    assert ws_ind.cell(r0, c0).protection.locked is False
    assert ws_ind.cell(r0, c0).fill.fgColor.rgb.endswith("FFF2CC")
    kinds = {dv.type for dv in ws.data_validations.dataValidation}
    assert {"list", "decimal", "custom"} <= kinds
    lists = [dv.formula1 for dv in ws.data_validations.dataValidation if dv.type == "list"]
    assert any("产出指标" in f for f in lists)
    assert ws.print_options.horizontalCentered and ws.page_setup.orientation == "landscape"
    # One page, fitted, printing the form down to its 评价等级 (the check table is screen-only).
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.page_setup.fitToHeight in (None, 1) and ws.page_setup.fitToWidth in (None, 1)   # 1 is the default


def test_cached_values_are_the_computed_ones_not_zero(tmp_path, spec):
    out = tmp_path / "filled.xlsx"
    write_template(spec, 2024, out, example_form_data(spec))
    wb = openpyxl.load_workbook(out, data_only=True)
    rate = 261.75 / 320
    assert cell(wb, "funds_total_budget").value == pytest.approx(320)
    assert cell(wb, "funds_total_rate").value == pytest.approx(rate)
    assert cell(wb, "funds_total_score").value == pytest.approx(round(10 * rate, 2))
    assert cell(wb, "total_weight").value == pytest.approx(100)
    assert cell(wb, "check").value == "校验通过"
    assert cell(wb, "grade").value in [g.name for g in spec.grades]
    blank = tmp_path / "blank.xlsx"
    write_template(spec, 2024, blank)
    wb = openpyxl.load_workbook(blank, data_only=True)
    assert cell(wb, "funds_total_rate").value in (None, "")   # budget 0 → blank, never 0
    assert cell(wb, "grade").value in (None, "")
    assert cell(wb, "check").value in (None, "")   # no red banner before any 分值 is typed


def _grade(total: float, spec) -> str:
    for g in spec.grades:
        if total > g.min or (g.min_inclusive and total == g.min):
            return g.name
    return spec.grades[-1].name


@pytest.mark.libreoffice
def test_libreoffice_computes_the_form_after_a_row_was_inserted(tmp_path, spec, libreoffice):
    """A county inserts a 三级 row in LibreOffice, fills the form; LibreOffice recomputes everything."""
    blank = tmp_path / "blank.xlsx"
    lay = write_template(spec, 2024, blank, options=TemplateOptions(password=PASSWORD))
    inserted = tmp_path / "inserted.xlsx"
    assert insert_rows(blank, inserted, lay.ind_first + 1) == "protected"

    n = len(lay.rows) + 1
    weights = [0.0] * n
    # 产出 has its 4 二级 rows plus the inserted one: 5 × 10 = 50; 效益 30 on two rows; 满意度 10.
    l1_rows = {"产出指标": [0, 1, 2, 3, 4], "效益指标": [6, 7], "满意度指标": [n - 1]}
    for i in l1_rows["产出指标"]:
        weights[i] = 10.0
    weights[6], weights[7], weights[n - 1] = 20.0, 10.0, 10.0
    scores = [w for w in weights]
    scores[1], scores[6], scores[n - 1] = 7.5, 15.25, 9.0
    rows = [{"name": f"指标{i + 1}", "target": "≥90%", "actual": "92%", "weight": w or None,
             "score": s if w else None, "reason": "原因" if s < w else None} for i, (w, s) in enumerate(zip(weights, scores))]
    filled = fill(inserted, tmp_path / "county.xlsx", header={"project_name": "测试项目", "unit": "测试单位"},
                  funds={("current", "budget"): 320, ("current", "spent"): 261.75,
                         ("other", "budget"): 30, ("other", "spent"): 45}, rows=rows)
    outdir = tmp_path / "lo"
    result = convert(filled, "xlsx", outdir)

    wb = openpyxl.load_workbook(result, data_only=True)
    budget, spent = 350.0, 306.75
    rate = spent / budget
    budget_score = round(10 * min(rate, 1), 2)
    total = budget_score + sum(s for s, w in zip(scores, weights) if w)
    assert cell(wb, "funds_total_budget").value == pytest.approx(budget)
    assert cell(wb, "funds_total_spent").value == pytest.approx(spent)
    assert cell(wb, "funds_total_rate").value == pytest.approx(rate)
    assert cell(wb, "funds_other_rate").value == pytest.approx(1.5)     # 执行率 > 100 % shows as is
    assert cell(wb, "funds_total_score").value == pytest.approx(budget_score)
    assert cell(wb, "total_weight").value == pytest.approx(100)
    assert cell(wb, "total_score").value == pytest.approx(total)
    assert cell(wb, "grade").value == _grade(total, spec)
    assert cell(wb, "check").value == "校验通过"
    assert len(indicator_rows(wb)) == n   # the defined name grew with the inserted row
    ws = wb[spec.sheet]
    subtotals = {ws.cell(r, 1).value: (ws.cell(r, 5).value, ws.cell(r, 6).value) for r in range(1, ws.max_row + 1)
                 if ws.cell(r, 1).value in ("产出指标", "效益指标", "满意度指标") and ws.cell(r, 5).value is not None}
    assert subtotals["产出指标"] == (pytest.approx(50), pytest.approx(47.5))
    assert subtotals["效益指标"] == (pytest.approx(30), pytest.approx(25.25))

    # Protection, locks, validations and merges survive LibreOffice's save of the county's file.
    # (Inserting the row through LibreOffice's API on a protected sheet already dropped the
    # tall 绩效指标 label merge; that is LibreOffice's doing, and the reader never relies on it.)
    before = openpyxl.load_workbook(filled)
    after = openpyxl.load_workbook(result)
    ws_b, ws_a = before[spec.sheet], after[spec.sheet]
    assert ws_a.protection.sheet
    assert cell(after, "project_name").protection.locked is False
    assert cell(after, "total_score").protection.locked is True
    assert cell(after, "funds_total_rate").protection.locked is True
    ws_i, r0, c0, _, _ = named(after, "ind_name")
    assert ws_i.cell(lay.ind_first + 2, c0).protection.locked is False  # the inserted row is an input row
    assert len(ws_a.data_validations.dataValidation) >= len(ws_b.data_validations.dataValidation) - 1
    assert len(ws_a.merged_cells.ranges) == len(ws_b.merged_cells.ranges)
    assert after["_xlperf"].sheet_state in ("hidden", "veryHidden")  # LibreOffice saves veryHidden as hidden


@pytest.mark.libreoffice
def test_an_unbalanced_form_turns_the_check_cell_red_in_libreoffice(tmp_path, libreoffice):
    spec = load_form("project-county")
    blank = tmp_path / "b.xlsx"
    write_template(spec, 2024, blank)
    filled = fill(blank, tmp_path / "c.xlsx", rows=[{"name": "x", "weight": 60, "score": 60}])
    wb = openpyxl.load_workbook(convert(filled, "xlsx", tmp_path / "lo"), data_only=True)
    assert cell(wb, "check").value == "分值有误，请按下表核对"
    assert cell(wb, "total_weight").value == pytest.approx(70)


def test_template_command_writes_both_variants(tmp_path):
    runner = CliRunner()
    for form in ("project", "project-county"):
        out = tmp_path / f"{form}.xlsx"
        res = runner.invoke(main, ["template", "--form", form, "--year", "2024", "-o", str(out), "--password", PASSWORD])
        assert res.exit_code == 0, res.output
        assert PASSWORD not in res.output
        assert out.exists()
    res = runner.invoke(main, ["forms"])
    assert "project-county" in res.output


def test_template_command_refuses_to_overwrite(tmp_path):
    out = tmp_path / "x.xlsx"
    out.write_bytes(b"county data")
    res = CliRunner().invoke(main, ["template", "--year", "2024", "-o", str(out)])
    assert res.exit_code == 2 and "已存在" in res.output
    assert out.read_bytes() == b"county data"


def test_a_malformed_definition_gives_one_clear_line(tmp_path, monkeypatch):
    bad = tmp_path / "forms"
    bad.mkdir()
    (bad / "broken.yaml").write_text("id: broken\ntitle: [unclosed\n", encoding="utf-8")
    monkeypatch.setenv("XLPERF_TEMPLATES", str(bad))
    res = CliRunner().invoke(main, ["template", "--form", "broken", "--year", "2024", "-o", str(tmp_path / "o.xlsx")])
    assert res.exit_code == 2
    lines = [l for l in res.output.splitlines() if l.strip()]
    assert len(lines) == 1 and "broken.yaml" in lines[0] and "spec-yaml" in lines[0]
    assert "Traceback" not in res.output


def test_a_missing_key_is_named_with_its_path(tmp_path):
    text = (templates_dir() / "project.yaml").read_text(encoding="utf-8").replace("      weight: 30\n", "", 1)
    p = tmp_path / "p.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as e:
        load_form(p)
    assert "indicators.level1[1].weight" in str(e.value) and "p.yaml" in str(e.value)


def test_a_province_adds_a_variant_with_yaml_only(tmp_path, monkeypatch):
    """成本指标 as its own 一级 (财预〔2021〕101号 style), written as data only."""
    forms = tmp_path / "forms"
    forms.mkdir()
    text = (templates_dir() / "project.yaml").read_text(encoding="utf-8")
    text = text.replace("id: project\n", "id: project-2021\n").replace(
        "      level2: [数量指标, 质量指标, 时效指标, 成本指标]", "      level2: [数量指标, 质量指标, 时效指标]").replace(
        "    - name: 产出指标\n      weight: 50", "    - name: 成本指标\n      weight: 10\n      level2: [经济成本指标, 社会成本指标]\n"
        "    - name: 产出指标\n      weight: 40")
    (forms / "project-2021.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("XLPERF_TEMPLATES", str(forms))
    spec = load_form("project-2021")
    assert spec.level1_weights()["成本指标"] == 10
    out = tmp_path / "o.xlsx"
    write_template(spec, 2025, out)
    wb = openpyxl.load_workbook(out)
    assert any("成本指标" in str(dv.formula1) for dv in wb[spec.sheet].data_validations.dataValidation)


def test_a_dropdown_list_longer_than_excels_limit_lives_on_a_hidden_sheet(tmp_path, monkeypatch):
    forms = tmp_path / "forms"
    forms.mkdir()
    many = ", ".join(f"第{i}类专项服务质量评价二级指标" for i in range(20))   # well over 255 characters
    text = (templates_dir() / "project.yaml").read_text(encoding="utf-8").replace(
        "level2: [数量指标, 质量指标, 时效指标, 成本指标]", f"level2: [{many}]").replace("id: project\n", "id: long\n")
    (forms / "long.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("XLPERF_TEMPLATES", str(forms))
    spec = load_form("long")
    out = tmp_path / "long.xlsx"
    write_template(spec, 2024, out)
    wb = openpyxl.load_workbook(out)
    assert wb["_lists"].sheet_state == "hidden"
    assert "list_level2" in wb.defined_names
    level2 = [dv for dv in wb[spec.sheet].data_validations.dataValidation
              if dv.type == "list" and "list_level2" in str(dv.formula1)]
    assert level2 and all(len(str(dv.formula1)) < 255 for dv in wb[spec.sheet].data_validations.dataValidation)


def test_xlsxwriter_warnings_fail_the_tests():
    """XlsxWriter reports misuse as warnings; pyproject turns them into errors so none slips by."""
    import io

    import xlsxwriter
    wb = xlsxwriter.Workbook(io.BytesIO())
    ws = wb.add_worksheet()
    with pytest.raises(UserWarning):
        ws.merge_range(0, 0, 0, 0, "one cell")   # XlsxWriter warns: cannot merge a single cell
    wb.close()
