"""Real filled forms from the domain notes (§8), typed as the counties typed them."""
from __future__ import annotations

import pytest

from helpers.handtyped import official_form
from xlperf.judge.check import check

NATIONAL_FUNDS = ["年初预算数", "全年预算数", "全年执行数", "分值", "执行率", "得分"]
NATIONAL_IND = ["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分", "偏差原因分析及改进措施"]


def codes(result, code=None):
    found = [f.code for f in result.findings]
    return found if code is None else [f for f in result.findings if f.code == code]


def test_tc2_chizhou_total_row_left_zero_while_the_source_row_is_filled(tmp_path):
    path = official_form(
        tmp_path / "tc2.xlsx", title="项目支出绩效自评表", subtitle="（2022年度）",
        header=[[("项目名称", "委托业务项目")], [("主管部门", "219-池州市贵池区棠溪镇人民政府"), ("实施单位", "219001-棠溪镇")]],
        funds_cols=NATIONAL_FUNDS,
        funds_rows=[("年度资金总额：", 0, 0, 0, 10, 0, 0), ("其中：本年财政拨款", 90, 89.974, 89.974, "—", None, "—"),
                    ("上年结转资金", "—", "—", "—", "—", None, "—"), ("其他资金", "—", "—", "—", "—", None, "—")],
        goal=("年度总体目标", "预期目标", "本项目共申请预算资金90万元", "完成预算资金89.97万元"),
        ind_cols=NATIONAL_IND,
        indicators=[
            ("产出指标(50分)", "数量指标", "基建工程委托业务项目数量", "≥50个", 50, 8, 8, None),
            ("产出指标(50分)", "质量指标", "委托业务报告合格率", "≥100百分比", 100, 8, 8, None),
            ("产出指标(50分)", "质量指标", "经费支出合规性", "严格执行相关制度规定", "达成预期指标", 8, 8, None),
            ("产出指标(50分)", "时效指标", "提交报告及时性", "在项目计划完成时间内完成", "达成预期指标", 8, 8, None),
            ("产出指标(50分)", "成本指标", "项目总成本", "≤90万元", 90, 8, 8, None),
            ("产出指标(50分)", "成本指标", "单项业务成本", "符合相关规定", "达成预期指标", 10, 10, None),
            ("效益指标(30分)", "社会效益指标", "对维护基建市场公平的影响程度", "效果明显", "达成预期指标", 10, 10, None),
            ("效益指标(30分)", "可持续影响指标", "长效管理机制健全性", "健全", "达成预期指标", 20, 20, None),
            ("满意度指标(10分)", "满意度指标", "公众满意度", "≥90%", "95%", 10, 10, None),
        ])
    r = check(path)
    assert r.form == "project" and r.year == 2022 and r.located_by == "labels"
    mismatch = codes(r, "funds-total-mismatch")
    assert [f.cell for f in mismatch] == ["D6"]               # one finding for the row, naming every column
    assert all(w in mismatch[0].message for w in ("年初预算数", "全年预算数", "全年执行数"))
    assert r.funds["rate"] == pytest.approx(1.0)             # 89.974 / 89.974 from the source row
    assert [f.cell for f in codes(r, "exec-rate-wrong")] == ["G6"]
    assert [f.cell for f in codes(r, "budget-score-mismatch")] == ["H6"]   # typed 0, should be 10
    tc = next(i for i in r.indicators if i.name == "委托业务报告合格率")
    assert tc.target_unit == "%" and tc.suggested_score == 8
    assert "weight-sum-l1" not in codes(r) and "weight-sum-total" not in codes(r)


def test_tc3_jishan_printed_total_differs_from_the_sum(tmp_path):
    path = official_form(
        tmp_path / "tc3.xlsx", title="稷山县项目支出绩效自评表", subtitle="（2020年度）",
        header=[[("项目名称", "建档立卡个人缴费县级配套资金")],
                [("主管部门", "稷山县医疗保障局"), ("实施单位", "稷山县医疗保险服务中心")]],
        funds_cols=NATIONAL_FUNDS,
        funds_rows=[("年度资金总额：", None, 65.66, 65.07, 10, "99%", 9),
                    ("其中：当年财政拨款", None, 65.66, 65.07, "—", "99%", "—"),
                    ("上年结转资金", "—", "—", "—", "—", "—", "—"), ("其他资金", "—", "—", "—", "—", "—", "—")],
        goal=("年度总体目标", "预期目标", "提高医疗保障水平,推进因病致贫问题的根本性解决",
              "提高医疗保障水平,推进了因病致贫问题的基本性解决"),
        ind_cols=NATIONAL_IND,
        indicators=[
            ("产出指标(50分)", "数量指标", "指标1：全县参合人数", 8755, 8676, 15, 13, "建档立卡中有新增死亡人员,导致有偏差"),
            ("产出指标(50分)", "质量指标", "指标1：资金是否全部纳入医保统筹", "100%", "100%", 15, 15, None),
            ("产出指标(50分)", "时效指标", "指标1：资金是否全部及时纳入", "100%", "100%", 10, 10, None),
            ("产出指标(50分)", "成本指标", "指标1：配套资金每人每年", "75元", "75元", 10, 10, None),
            ("效益指标(30分)", "社会效益指标", "指标1：是否解决建档立卡人员看病难贵问题", "95%", "95%", 30, 27, None),
            ("满意度指标(10分)", "服务对象满意度指标", "指标1：是否满意", "95%", "95%", 10, 9, None),
        ],
        total=("总分", {"分值": 100, "得分": 94}))
    r = check(path)
    assert r.total_score == pytest.approx(93)
    total = codes(r, "total-mismatch")
    assert len(total) == 1 and "94" in total[0].message and "93" in total[0].message
    assert codes(r, "budget-score-mismatch") and "9.91" in codes(r, "budget-score-mismatch")[0].message
    assert not codes(r, "exec-rate-wrong")                      # 99% is 99.10% shown without decimals
    met_but_docked = codes(r, "met-but-docked")
    assert {f.severity for f in met_but_docked} == {"warning"} and len(met_but_docked) == 2
    assert any(f.code == "score-deviates" and f.cell == "H13" for f in r.findings)    # 13 vs 14.86


def test_tc4_zhaidian_midyear_money_and_scores_that_deviate(tmp_path):
    rows = [("建立预防接种证", "221人", "221人", 2, 2), ("适龄儿童疫苗接种率", "100.00%", "97.30%", 2, 1.9),
            ("孕产妇7天访视数", "214人", "203人", 2, 1.8), ("早孕建册数", "120人", "69人", 2, 1),
            ("老年人体检数", "5662人", "4044人", 2, 1.4), ("高血压规范管理数", "3807人", "3224人", 2, 1.9),
            ("糖尿病规范管理数", "863人", "695人", 2, 1.8), ("严重精神障碍患者管理数", "212人", "209人", 2, 1.8),
            ("0-36月龄中医药规范管理数", "1228人", "770人", 2, 1.8), ("家庭医生签约率", "24694人", "22584人", 2, 1.7)]
    path = official_form(
        tmp_path / "tc4.xlsx", title="稷山县项目支出绩效自评表", subtitle="（2021年度）",
        header=[[("项目名称", "国家基本公共卫生服务")], [("主管部门", "稷山县卫生健康局"), ("实施单位", "翟店镇卫生院")]],
        funds_cols=NATIONAL_FUNDS,
        funds_rows=[("年度资金总额：", 0, 207.4538, 207.4538, 10, "100%", 10),
                    ("其中：当年财政拨款", 0, 207.4538, 207.4538, "—", "100%", "—")],
        ind_cols=NATIONAL_IND,
        indicators=[("产出指标", "数量指标", n, t, a, w, s, None) for n, t, a, w, s in rows])
    r = check(path)
    assert not [f for f in r.findings if f.field.startswith("funds") and f.severity == "error"]  # 年初预算数 0 is legal
    deviating = {f.cell for f in codes(r, "score-deviates")}
    assert "H18" in deviating and len(deviating) >= 4          # e.g. 早孕建册数 1 vs 1.15
    assert len(codes(r, "reason-required")) == 9


def test_tc5_huoshan_transfer_payment_without_score_columns(tmp_path):
    path = official_form(
        tmp_path / "tc5.xlsx", title="医疗救助补助资金转移支付项目绩效目标自评表", subtitle="（2024年度）",
        header=[[("转移支付(项目)名称", "医疗救助补助资金")], [("中央主管部门", "国家医疗保障局"), ("地方主管部门", "霍山县医疗保障局")],
                [("资金使用单位", "霍山县医疗保障局")]],
        funds_label="资金投入情况(万元)", funds_cols=["全年预算数(A)", "全年执行数(B)", "预算执行率(B/A×100%)"],
        funds_rows=[("年度资金总额", "3359.62万", "3359.62万", "100%"), ("其中：中央财政资金", "829.3万", "829.3万", "100%"),
                    ("彩票公益金用于医疗救助", 0, 0, "100%"), ("地方资金", "2530.32万", "2530.32万", "100%"),
                    ("其他资金", None, None, None)],
        goal=("总体目标完成情况", "总体目标", "减轻困难群众医疗费用负担", "惠及11万人次", "全年实际完成情况"),
        ind_cols=["一级指标", "二级指标", "三级指标", "指标值", "全年实际完成值", "未完成原因和改进措施"],
        indicators=[("产出指标", "数量指标", "享受医疗救助人次", "≥50000人次", 110406, None),
                    ("产出指标", "质量指标", "医疗救助合规率", "100%", "100%", None)])
    r = check(path)
    assert r.funds["budget"] == pytest.approx(3359.62) and r.funds["spent"] == pytest.approx(3359.62)
    assert not codes(r, "funds-total-mismatch")                 # 829.3 + 0 + 2530.32 = 3359.62
    wrong = codes(r, "exec-rate-wrong")
    assert len(wrong) == 1 and "彩票公益金" in wrong[0].message  # 0/0 should be blank, not 100 %
    assert [i.name for i in r.indicators if i.kind == "positive"] == ["享受医疗救助人次", "医疗救助合规率"]
    assert len(codes(r, "overachieve-note")) == 1
    assert not codes(r, "weight-sum-total") and not codes(r, "score-missing")


def test_tc6_dayinng_split_target_columns_recombine(tmp_path):
    path = official_form(
        tmp_path / "tc6.xlsx", title="部门预算项目支出绩效自评表(2023年度)",
        header=[[("项目名称", "51092322T000000431595-城乡居民监管工作经费")], [("主管部门", "大英县医疗保障局"), ("实施单位 (盖章)", "大英县医疗保障局")]],
        funds_label="预算执行情况(10分)", funds_cols=["年初预算", "调整后预算数", "预算执行数", "预算执行率", "权重", "得分"],
        funds_rows=[("年度预算数(万元)", 20, 20, 19, "95%", 10, 9.5)],
        ind_cols=["一级指标", "二级指标", "三级指标", "指标性质", "指标值", "度量单位", "权重"],
        indicators=[("满意度指标", "服务对象满意度指标", "城乡居民参保人员满意度", "≥", 90, "%", 10),
                    ("产出指标", "成本指标", "城乡居民参保网络宣传成本预算", "≤", 101400, "元", 5),
                    ("产出指标", "数量指标", "人均宣传成本", "=", 1, "元/人", 5),
                    ("产出指标", "时效指标", "资金支付及时率", "=", 100, "%", 10),
                    ("效益指标", "可持续影响指标", "城乡居民医保参保机制健全性", "定性", "优良中低差", None, 10)])
    r = check(path)
    assert [i.target for i in r.indicators] == ["≥90%", "≤101400元", "=1元/人", "=100%", "优良中低差"]


def test_tc7_suining_execution_rate_shown_with_two_decimals_is_right(tmp_path):
    path = official_form(
        tmp_path / "tc7.xlsx", title="四川省转移支付区域(项目)绩效目标自评表", subtitle="（2021年度）",
        header=[[("转移支付(项目)名称", "医疗服务与保障能力提升补助资金")], [("中央主管部门", "国家医疗保障局"), ("实施单位", "遂宁市医疗保障局")]],
        funds_cols=["全年预算数(A)", "全年执行数(B)", "预算执行率(B/A)"],
        funds_rows=[("年度资金总额", 320, 261.75, "81.80%"), ("其中：中央补助", 320, 261.75, "81.80%"),
                    ("地方资金", None, None, None), ("其他资金", None, None, None)],
        goal=("年度总体目标", "年初设定目标", "目标1：…", "1.…", "全年实际完成情况"),
        ind_cols=["一级指标", "二级指标", "三级指标", "年度指标值", "全年实际完成值", "未完成原因和改进措施"],
        indicators=[("产出指标", "数量指标", "医保信息系统验收合格率", "≥90%", "100%", None)])
    r = check(path)
    assert r.funds["rate"] == pytest.approx(261.75 / 320)
    assert not codes(r, "exec-rate-wrong")
    assert codes(r, "exec-low-no-reason")                        # 81.8 % < 90 % and nothing explains it


def test_tc9_dalian_carry_over_is_part_of_the_budget(tmp_path):
    path = official_form(
        tmp_path / "tc9.xlsx", title="项目支出绩效自评表", subtitle="（2024年度）",
        header=[[("项目名称", "医疗服务与保障能力提升补助资金")], [("主管部门", "大连市医疗保障局"), ("实施单位", "大连市医疗保障局")]],
        funds_cols=NATIONAL_FUNDS,
        funds_rows=[("年度资金总额：", "1,337", "2,469.3", "1,709.1", 10, "69.21%", 6.92),
                    ("其中：当年财政拨款", "1,337", "1,337", None, "—", None, "—"),
                    ("上年结转资金", "—", "1,132.3", None, "—", None, "—"), ("其他资金", "—", "—", "—", "—", None, "—")],
        goal=("年度总体目标", "预期目标", "提升医疗服务与保障能力", "部分资金因项目进度未支付，执行率偏低"),
        ind_cols=NATIONAL_IND,
        indicators=[("满意度指标", "服务对象满意度指标", "参保人员满意度", "≥85%", "90%", 90, 90, None)])
    r = check(path)
    assert r.funds["budget"] == pytest.approx(2469.3) and r.funds["spent"] == pytest.approx(1709.1)
    assert r.funds["rate"] == pytest.approx(0.69213, abs=1e-5)
    assert not codes(r, "exec-rate-wrong") and not codes(r, "funds-total-mismatch")
    assert not codes(r, "exec-low-no-reason")                    # explained in 实际完成情况
    assert not codes(r, "budget-score-mismatch")                 # 10 × 69.21 % = 6.92
