"""Built-in sample content: a realistic filled form for examples, demo and tests.

Indicators are typical 医保 (medical-insurance) ones from the domain notes
(§5.4, §7). Weights are spread over each 一级 so the form adds up to 100.
"""
from __future__ import annotations

from .model import FormData, FundsLine, IndicatorLine
from .spec import FormSpec

# 二级 → (三级, 年度指标值, 实际完成值, 偏差原因 when not fully met)
SAMPLE_INDICATORS: dict[str, list[tuple[str, str, str, str]]] = {
    "数量指标": [("城乡居民基本医保参保率", "≥95%", "96.2%", ""),
               ("定点医药机构监督检查覆盖率", "≥90%", "92%", "")],
    "质量指标": [("医保信息系统正常运行率", "≥90%", "99.5%", "")],
    "时效指标": [("医保信息系统重大安全事件响应时间", "≤60分钟", "30分钟", "")],
    "成本指标": [("项目总成本", "≤320万元", "261.75万元", "")],
    "经济成本指标": [("项目总成本", "≤320万元", "261.75万元", "")],
    "经济效益指标": [],
    "社会效益指标": [("住院费用跨省直接结算率", "≥80%", "71%", "部分外省定点医院未开通直接结算，下一步加强备案宣传")],
    "生态效益指标": [],
    "可持续影响指标": [("医保经办服务能力", "有所提升", "有所提升", "")],
    "服务对象满意度指标": [("参保人员对医保服务的满意度", "≥85%", "91.33%", "")],
}


def _spread(total: float, n: int) -> list[float]:
    if n == 0:
        return []
    base = round(total / n, 2)
    out = [base] * n
    out[-1] = round(total - base * (n - 1), 2)
    return out


def example_form_data(spec: FormSpec, *, filled: bool = True, unit: str = "绥宁县医疗保障局",
                      project: str = "医疗服务与保障能力提升补助资金") -> FormData:
    """A complete return as a diligent county would fill it (or only the approved part)."""
    from .scoring import suggest_score
    from .values import parse_value

    data = FormData(header={
        "project_name": project, "project_leader": "李明 0739-1234567", "department": "绥宁县医疗保障局",
        "unit": unit, "project_code": "43052724T000001"})
    funds_cols = [c.key for c in spec.funds_columns]
    for frow in spec.funds_rows[1:]:
        values: dict[str, object] = {}
        if frow.key in ("current", "central"):
            values = {"initial_budget": 300.0, "budget": 320.0, "spent": 261.75 if filled else None}
        elif frow.key == "other":
            values = {"initial_budget": 0.0, "budget": 0.0, "spent": 0.0 if filled else None}
        data.funds.append(FundsLine(frow.key, frow.label, {k: v for k, v in values.items() if k in funds_cols}))
    data.goal_planned = "保障城乡居民基本医疗保险制度平稳运行，推进医保信息化和支付方式改革，提升经办服务能力。"
    if filled:
        data.goal_actual = ("全年完成参保扩面、信息系统运维和跨省直接结算等工作，经办服务能力有所提升。"
                            "预算执行率81.80%，主要是信息系统升级项目尾款按合同约定于次年验收后支付。")
    for l1 in spec.level1:
        rows = [(l2, *t) for l2 in l1.level2 for t in SAMPLE_INDICATORS.get(l2, [])]
        weights = _spread(l1.weight, len(rows))
        for (l2, name, target, actual, reason), w in zip(rows, weights):
            line = IndicatorLine(level1=l1.name, level2=l2, name=name, target=target, weight=w)
            if filled:
                sug = suggest_score(w, parse_value(target), parse_value(actual), spec.scoring)
                score = sug.score if sug.score is not None else (sug.high if sug.high is not None else w)
                line.actual, line.score = actual, score
                line.reason = reason if score < w else ""
            data.indicators.append(line)
    return data
