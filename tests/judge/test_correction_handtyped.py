"""A county that typed the form itself gets our form back, filled with what it typed."""
from __future__ import annotations

import openpyxl
from click.testing import CliRunner

from helpers.formfill import cell, named
from helpers.handtyped import official_form
from xlperf.cli import main
from xlperf.judge.check import check

NATIONAL_FUNDS = ["年初预算数", "全年预算数", "全年执行数", "分值", "执行率", "得分"]
NATIONAL_IND = ["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分", "偏差原因分析及改进措施"]


def test_a_hand_typed_form_with_a_zero_total_row_gets_a_correction_copy_that_computes_it(tmp_path):
    typed = official_form(
        tmp_path / "棠溪镇.xlsx", title="项目支出绩效自评表", subtitle="（2022年度）",
        header=[[("项目名称", "委托业务项目")], [("主管部门", "池州市贵池区棠溪镇人民政府"), ("实施单位", "棠溪镇")]],
        funds_cols=NATIONAL_FUNDS,
        funds_rows=[("年度资金总额：", 0, 0, 0, 10, 0, 0), ("其中：本年财政拨款", 90, 89.974, 89.974, "—", None, "—"),
                    ("上年结转资金", "—", "—", "—", "—", None, "—"), ("其他资金", "—", "—", "—", "—", None, "—")],
        goal=("年度总体目标", "预期目标", "本项目共申请预算资金90万元", "完成预算资金89.97万元"),
        ind_cols=NATIONAL_IND,
        indicators=[
            ("产出指标(50分)", "数量指标", "基建工程委托业务项目数量", "≥50个", 50, 25, 25, None),
            ("产出指标(50分)", "成本指标", "项目总成本", "≤90万元", 90, 25, 30, None),
            ("效益指标(30分)", "社会效益指标", "对维护基建市场公平的影响程度", "效果明显", "达成预期指标", 30, 30, None),
            ("满意度指标(10分)", "满意度指标", "公众满意度", "≥90%", "95%", 10, 10, None),
        ])
    assert check(typed).errors
    out = tmp_path / "更正"
    res = CliRunner().invoke(main, ["check", "--feedback", str(out), str(typed)])
    assert res.exit_code == 1, res.output
    copy = out / "棠溪镇_更正.xlsx"
    wb = openpyxl.load_workbook(copy)
    assert cell(wb, "project_name").value == "委托业务项目" and cell(wb, "funds_current_spent").value == 89.974
    assert str(cell(wb, "funds_total_spent").value).startswith("=")      # the total row computes now
    issues = [r for r in wb["问题清单"].iter_rows(min_row=3, values_only=True)]
    assert issues[0][1] == "错误" and "超过分值" in issues[0][3]          # what the clerk must fix comes first
    assert all(r[1] in ("错误", "警告", "自动计算") for r in issues)
    assert any(r[1] == "自动计算" and "年度资金总额" in r[3] for r in issues)
    # The only thing left to fix is the score above its 分值.
    again = check(copy)
    assert again.form == "project" and again.located_by == "names"
    assert {f.code for f in again.findings if f.severity == "error"} == {"score-range"}
    ws, r0, sc, r1, _ = named(wb, "ind_score")
    score = next(ws.cell(r, sc) for r in range(r0, r1 + 1) if ws.cell(r, sc).value == 30)
    assert score.comment is not None and "超过分值" in score.comment.text


def test_a_form_with_only_the_total_row_filled_keeps_its_money_in_the_correction_copy():
    from xlperf.form.model import FormData, FundsLine
    from xlperf.form.spec import load_form
    from xlperf.judge.correction import merge_entries
    spec = load_form("project-county")
    typed = FormData(funds=[FundsLine("total", "年度资金总额：", {"budget": 320.0, "spent": 300.0}),
                            FundsLine("current", "其中：本年财政拨款", {"budget": "—", "spent": None})])
    data, _ = merge_entries(spec, typed, None)
    # Our 年度资金总额 row is a sum, so the figures go to the first source and the sum shows them again.
    assert [(l.key, l.values) for l in data.funds] == [("current", {"budget": 320.0, "spent": 300.0})]
