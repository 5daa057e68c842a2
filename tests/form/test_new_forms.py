"""The 2021 central layout and the 湖北 20 + 80 layout: written as locked templates, filled, re-saved, read back."""
from __future__ import annotations

import openpyxl
import pytest
from click.testing import CliRunner

from helpers.libreoffice import convert
from xlperf.cli import main
from xlperf.form.samples import example_form_data
from xlperf.form.spec import load_form
from xlperf.form.template import write_template
from xlperf.judge.check import check


def test_forms_lists_the_new_definitions():
    out = CliRunner().invoke(main, ["forms"]).output
    assert "project-2021" in out and "project-hubei" in out


def test_the_2021_form_prints_split_targets_and_a_cost_block_of_its_own(tmp_path):
    spec = load_form("project-2021")
    path = write_template(spec, 2024, tmp_path / "2021.xlsx", example_form_data(spec)) and tmp_path / "2021.xlsx"
    ws = openpyxl.load_workbook(path)[spec.sheet]
    texts = {c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    assert {"指标性质", "指标值", "度量单位", "成本指标", "经济成本指标"} <= texts
    r = check(path)
    assert r.form == "project-2021" and r.errors == 0
    cost = next(i for i in r.indicators if i.level1 == "成本指标")
    assert cost.target == "≤320万元" and cost.kind == "negative"


@pytest.mark.libreoffice
@pytest.mark.parametrize("form_id", ["project-2021", "project-hubei"])
def test_a_filled_form_resaved_by_libreoffice_reads_back_with_the_same_verdict(tmp_path, form_id, libreoffice):
    spec = load_form(form_id)
    data = example_form_data(spec)
    ours = tmp_path / f"{form_id}.xlsx"
    write_template(spec, 2024, ours, data)
    resaved = convert(ours, "xlsx", tmp_path / "lo")
    as_xls = convert(ours, "xls", tmp_path / "xls")            # an .xls keeps no defined names: read by labels
    a, b, c = check(ours), check(resaved), check(as_xls)
    assert a.errors == b.errors == c.errors == 0
    assert [i.target for i in a.indicators] == [i.target for i in b.indicators] == [i.target for i in c.indicators]
    assert a.total_score == b.total_score == c.total_score
    assert c.located_by == "labels" and c.form == form_id
    if form_id == "project-hubei":
        # 预算执行情况 20 分: 20 × 81.80 % = 16.36, the 备注's rule.
        assert a.funds["weight"] == 20 and a.funds["score"] == pytest.approx(16.36)
