"""年度指标值 split into 指标性质 | 指标方向 | 指标值 | 度量单位 under a merged two-row header, rebuilt into one target."""
from __future__ import annotations

import openpyxl
from hypothesis import given, settings
from hypothesis import strategies as st

from xlperf.form.values import parse_value
from xlperf.judge.check import check
from xlperf.read.locate import _join_target

SIGNS = {"＝": "=", "﹦": "=", "=": "=", "≥": ">=", "≧": ">=", ">=": ">=", "≤": "<=", "≦": "<=", "<=": "<=",
         "大于等于": ">=", "小于等于": "<=", "等于": "="}
UNITS = {"%": "%", "个": "个", "万元": "万元", "人次": "人次", "分钟": "分钟", "元/人": "元/人", "": None}


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(SIGNS)), st.sampled_from(["", "指标性质", "指标方向"]),
       st.one_of(st.integers(0, 10 ** 6), st.decimals(0, 10 ** 4, places=2).map(float)),
       st.sampled_from(sorted(UNITS)))
def test_split_parts__rebuild_one_target_with_the_same_comparator_number_and_unit(sign, where, number, unit):
    op, direction = (sign, None) if where != "指标方向" else (None, sign)
    text, _ = _join_target(op, direction, number, unit or None)
    v = parse_value(text)
    assert (v.comparator, v.number, v.unit) == (SIGNS[sign], float(number), UNITS[unit])


@given(st.sampled_from(["正向", "反向"]), st.integers(1, 1000), st.sampled_from(["%", "个"]))
def test_a_direction_alone__stands_for_its_comparator_and_is_kept(sense, number, unit):
    text, kept = _join_target(sense, None, number, unit)
    assert parse_value(text).comparator == (">=" if sense == "正向" else "<=") and kept == sense


def test_qualitative_rows_keep_their_text():
    assert _join_target("定性", None, "优良中低差", None) == ("优良中低差", "")


def _sichuan_form(path, rows):
    """A county's own copy: merged 年度指标值 over 指标性质 | 指标方向 | 指标值 | 度量单位."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["项目支出绩效自评表（2023年度）"])
    ws.append(["项目名称", "城乡居民监管工作经费"])
    ws.append(["主管部门", "大英县医疗保障局", "", "", "实施单位", "大英县医疗保障局"])
    ws.append(["项目资金（万元）", "", "年初预算数", "全年预算数", "全年执行数", "分值", "执行率", "得分"])
    ws.append(["", "年度资金总额：", 45, 45, 45, 10, 1, 10])
    ws.append(["", "其中：当年财政拨款", 45, 45, 45, "—", "", "—"])
    ws.append(["年度总体目标", "预期目标", "", "", "", "实际完成情况"])
    ws.append(["", "保障全县医保基金监管工作正常开展。", "", "", "", "全年完成医保基金监管工作。"])
    ws.append(["绩效指标", "一级指标", "二级指标", "三级指标", "年度指标值", "", "", "", "实际完成值", "分值", "得分", "偏差原因分析及改进措施"])
    ws.append(["", "", "", "", "指标性质", "指标方向", "指标值", "度量单位"])
    for r in rows:
        ws.append(["", *r])
    ws.merge_cells("E9:H9")
    for col in "BCDIJKL":
        ws.merge_cells(f"{col}9:{col}10")
    wb.save(path)
    return path


def test_a_two_row_header__gives_targets_from_the_split_columns_and_flags_a_contradiction(tmp_path):
    path = _sichuan_form(tmp_path / "scx.xlsx", [
        ["产出指标", "数量指标", "检查定点医药机构数", "正向", "大于等于", 120, "家", "126家", 20, 20, ""],
        ["产出指标", "质量指标", "违规资金追回率", "＝", "", 100, "%", "100%", 15, 15, ""],
        ["产出指标", "成本指标", "宣传成本", "正向", "小于等于", 1.2, "万元", "1.1万元", 15, 15, ""],
        ["效益指标", "社会效益指标", "基金监管能力", "定性", "", "有所提升", "", "有所提升", 30, 30, ""],
        ["满意度指标", "服务对象满意度指标", "参保群众满意度", "≧", "", 90, "%", "93%", 10, 10, ""],
    ])
    r = check(path)
    assert [i.target for i in r.indicators] == ["≥120家", "=100%", "≤1.2万元", "有所提升", "≥90%"]
    contradiction = [f for f in r.findings if f.code == "direction-contradiction"]
    assert [f.cell for f in contradiction] == ["G13"] and contradiction[0].severity == "warning"
    assert r.errors == 0 and r.total_score == 100
