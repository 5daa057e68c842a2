"""湖北-style forms print no 分值 column: weights are unknown, not missing, and the block's (80分) still bounds its scores."""
from __future__ import annotations

import openpyxl

from xlperf.judge.check import check


def hubei_form(path, scores):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["2023年度项目支出绩效自评表"])
    ws.append(["项目名称", "农村饮水安全维修养护"])
    ws.append(["主管部门", "某县水利局", "", "项目实施单位", "某县水利局"])
    ws.append(["预算执行情况(万元)(20分)", "预算数(A)", "执行数(B)", "执行率(B/A)", "得分(20分*执行率)"])
    ws.append(["年度财政资金总额", 50, 50, "100%", 20])
    ws.append(["年度绩效目标(80分)", "一级指标", "二级指标", "三级指标", "年初目标值(A)", "实际完成值(B)", "得分"])
    rows = [("产出指标", "数量指标", "维修供水工程处数", "≥12处", "12处"),
            ("产出指标", "质量指标", "维修工程验收合格率", "100%", "100%"),
            ("效益指标", "社会效益指标", "受益人口", "≥8000人", "8200人"),
            ("满意度指标", "服务对象满意度指标", "受益群众满意度", "≥90%", "95%")]
    for (l1, l2, name, target, actual), score in zip(rows, scores):
        ws.append(["", l1, l2, name, target, actual, score])
    ws.append(["总分", "", "", "", "", "", 20 + sum(scores)])
    wb.save(path)
    return path


def test_no_weight_column__no_weight_missing_errors_and_a_clean_form_passes(tmp_path):
    r = check(hubei_form(tmp_path / "hb.xlsx", [30, 20, 20, 10]))
    assert r.funds["weight"] == 20 and r.total_score == 100 and r.grade == "优"
    assert not [f for f in r.findings if f.severity in ("error", "warning")]


def test_scores_beyond_the_blocks_80_points__are_an_error(tmp_path):
    r = check(hubei_form(tmp_path / "hb.xlsx", [30, 25, 20, 10]))
    over = [f for f in r.findings if f.code == "score-range"]
    assert len(over) == 1 and "85" in over[0].message and "80" in over[0].message and over[0].severity == "error"
