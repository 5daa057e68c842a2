"""The official rules, applied to a located form. Returns findings; never raises.

Each check is a small function over `Located` (never an openpyxl object) that
yields located findings with a stable code and a Chinese message. Totals are
recomputed here instead of trusting the sheet.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Iterator

from .findings import ERROR, INFO, WARNING, Finding
from ..form.labels import norm, norm_label, weight_in_label
from ..read.locate import Located, spec_vocabulary
from ..form.scoring import Suggestion, budget_score, grade_for, round2, suggest_score
from ..form.spec import FormSpec
from ..form.values import Amount, Value, is_na, parse_amount, parse_rate, parse_value

DEVIATION_SHARE = 0.05          # on small weights, a typed score may differ by at most 5 % of the weight
MONEY_LIMIT = 1_000_000.0        # 万元: a project above 100亿 was almost surely typed in 元
# What a reviewer accepts as the reason money was not spent: something not done or not paid
# (尾款未付, 项目延期, 采购价低于预算, 资金结余). "资金按时拨付到位" explains nothing.
_LOW_EXECUTION_REASON = re.compile(
    r"(?:未|尚未|暂未|没有|无法|不能|未能)(?:能)?(?:全部|完全|及时|按期|按时)?(?:支付|拨付|付|完成|到位|结算|执行|使用|验收|招标|"
    r"开工|实施|兑付|发放|下达|到账|审计|决算|报账)|尾款|质保金|保证金|延期|延迟|推迟|滞后|延误|结余|节约|节省|低于预算|"
    r"采购价|中标价|政府采购|结转|跨年|分期|疫情|暂缓|缓建|取消|调减|收回|进度款|按进度|工期")
# Template instructions a unit must replace: "（100字以内）", "请填写…", "简要说明…".
_INSTRUCTION = re.compile(r"[（(]\s*\d+\s*字(?:以内|以下|左右)\s*[）)]|\d+字以内|^请(?:填写|简要|说明|描述)|^填写说明")
# 年度总体目标 that describes the unit's duties, not what the year should achieve.
_DUTIES = re.compile(r"^(?:主要)?(?:负责|承担|职责|主要职能|职能)")
_AMOUNT = re.compile(r"\d+(?:\.\d+)?\s*(?:万元|亿元|元|万)")
_GOAL_FILLER = re.compile(r"本项目|项目|共|申请|预算|资金|安排|投入|用于|年度|总额|合计|计|为|约|全年|本年|[，,。.；;：:、\s（）()]")


def fmt(x: float | None) -> str:
    if x is None:
        return "空"
    s = f"{x:.4f}".rstrip("0").rstrip(".")
    return s if s not in ("-0", "") else "0"


def pct(x: float | None) -> str:
    return "空" if x is None else f"{x * 100:.2f}%"


@dataclass
class IndicatorResult:
    level1: str
    level2: str
    name: str
    weight: float | None
    target: str
    actual: str
    score: float | None
    suggested_score: float | None
    cell: str
    row: int | None = None
    reason: str = ""
    kind: str = ""                  # positive | negative | equal | qualitative | unknown
    status: str = ""                # met | partly | not_met | "" (unknown)
    suggested_low: float | None = None
    suggested_high: float | None = None
    target_unit: str | None = None
    actual_unit: str | None = None
    weight_cell: str = ""
    target_cell: str = ""


@dataclass
class Outcome:
    """Everything validation worked out, besides the findings."""

    funds: dict = field(default_factory=dict)
    indicators: list[IndicatorResult] = field(default_factory=list)
    total_score: float | None = None
    total_weight: float | None = None
    grade: str | None = None
    findings: list[Finding] = field(default_factory=list)


class _Ctx:
    def __init__(self, loc: Located, spec: FormSpec, path: str) -> None:
        self.loc, self.spec, self.path = loc, spec, path
        self.out: list[Finding] = []

    def add(self, code: str, severity: str, message: str, cell: str = "", fld: str = "") -> None:
        where = f"{cell}：" if cell else ""
        self.out.append(Finding(code, severity, where + message, self.path, self.loc.sheet, cell, fld))


def _money(ctx: _Ctx, raw: object, cell: str, what: str) -> float | None:
    a: Amount = parse_amount(raw)
    if raw is not None and not a.na and a.value is None and str(raw).strip():
        ctx.add("value-not-number", ERROR, f"{what}“{raw}”不是数字", cell, what)
        return None
    if a.value is not None and a.value < 0:
        ctx.add("value-negative", ERROR, f"{what} {fmt(a.value)} 不能为负数", cell, what)
    return a.value


def _decimals_tolerance(raw: object, fmtcode: str) -> float:
    """How far a typed 执行率 may be from the exact quotient: half its last shown digit."""
    text = str(raw).strip() if isinstance(raw, str) else ""
    if text:
        body = text.replace("％", "%").rstrip("%").strip()
        decimals = len(body.split(".")[1]) if "." in body else 0
        scale = 100 if "%" in text.replace("％", "%") else 1
        # Half a unit of the last digit shown, plus a quarter for rates worked out from rounded
        # amounts: 86.19 % for 86.183 % is rounding, 99 % for 98.2 % is not.
        return 0.75 * 10 ** (-decimals) / scale + 1e-9
    if "%" in fmtcode:
        dec = fmtcode.split("%")[0]
        decimals = len(dec.split(".")[1]) if "." in dec else 0
        return 0.75 * 10 ** (-decimals) / 100 + 1e-9
    return 0.0001


def check_funds(ctx: _Ctx, outcome: Outcome) -> None:
    spec, data = ctx.spec, ctx.loc.data
    total = data.funds_line("total")
    sources = [l for l in data.funds if l.key != "total"]
    money_keys = [k for k in ("initial_budget", "budget", "spent") if any(k in l.values for l in data.funds)]
    label = {c.key: c.label for c in spec.funds_columns}
    label.update({"initial_budget": "年初预算数", "budget": "全年预算数", "spent": "全年执行数"})
    # A form that says its money is in 元 (项目资金(元)) is converted to the 万元 every summary adds up.
    in_yuan = bool(re.search(r"[（(]\s*元\s*[)）]", ctx.loc.funds_label or ""))
    scale = 1e-4 if in_yuan else 1.0
    if in_yuan:
        ctx.add("money-in-yuan", INFO, f"资金栏标注为“{norm(ctx.loc.funds_label)}”，金额已由元换算为万元参与汇总")
    eff: dict[str, float | None] = {}
    mismatched: list[tuple[str, float | None, float]] = []
    for key in money_keys:
        src_vals = [_money(ctx, l.values.get(key), l.cells.get(key, ""), f"{l.label or l.key}{label.get(key, key)}")
                    for l in sources]
        tv = _money(ctx, total.values.get(key), total.cells.get(key, ""), f"年度资金总额{label.get(key, key)}") if total else None
        present = [v for v in src_vals if v is not None]
        s = round(sum(present), 6) if present else None
        uncomputed = total is not None and tv is None and total.cells.get(key, "") in ctx.loc.uncomputed
        if total and s is not None and not uncomputed and (tv is None or abs(tv - s) > 0.005):
            mismatched.append((key, tv, s))
        v = s if (s is not None and (tv is None or abs(tv - s) > 0.005)) else (tv if tv is not None else s)
        eff[key] = None if v is None else round(v * scale, 6)
    if mismatched and total:
        # One finding for the row: a total row left at 0 is one mistake, not three.
        first = next((m for m in mismatched if m[0] == "budget"), mismatched[0])
        parts = "；".join(f"{label.get(k, k)} {fmt(tv)}，各来源之和 {fmt(s)}" for k, tv, s in mismatched)
        ctx.add("funds-total-mismatch", ERROR, f"年度资金总额不等于各资金来源之和（{parts}），年度资金总额应等于各来源之和",
                total.cells.get(first[0], ""), f"funds_total_{first[0]}")
    budget, spent = eff.get("budget"), eff.get("spent")
    if budget is not None and budget > MONEY_LIMIT:
        ctx.add("money-unit", WARNING, f"全年预算数 {fmt(budget)} 万元异常偏大，金额疑似按“元”填写，本表单位为万元",
                total.cells.get("budget", "") if total else "", "funds_total_budget")
    rate = (spent or 0.0) / budget if budget else None
    if budget in (None, 0) and spent:
        ctx.add("budget-missing", WARNING, f"全年预算数为空或0，但全年执行数为 {fmt(spent)}，无法计算执行率",
                total.cells.get("budget", "") if total else "", "funds_total_budget")
    # Typed 执行率 on each line that shows one.
    for line in data.funds:
        if "rate" not in line.values or line.values.get("rate") is None or is_na(line.values.get("rate")):
            continue
        raw = line.values["rate"]
        typed = parse_rate(raw, percent_format="%" in line.formats.get("rate", "")).value
        if typed is None:
            continue
        if line.key == "total":
            b, s_ = budget, spent
        else:
            b = parse_amount(line.values.get("budget")).value
            s_ = parse_amount(line.values.get("spent")).value
        cell = line.cells.get("rate", "")
        if not b:
            if typed != 0:
                ctx.add("exec-rate-wrong", ERROR, f"{line.label or '该行'}全年预算数为0，执行率应为空，不应填写 {pct(typed)}", cell, "rate")
            continue
        expect = (s_ or 0.0) / b
        if abs(typed - expect) > _decimals_tolerance(raw, line.formats.get("rate", "")):
            ctx.add("exec-rate-wrong", ERROR,
                    f"{line.label or '该行'}执行率 {pct(typed)} 有误，应为 全年执行数 {fmt(s_)} ÷ 全年预算数 {fmt(b)} = {pct(expect)}",
                    cell, "rate")
    rate_cell = total.cells.get("rate", "") if total else ""
    if rate is not None and rate > 1 + 1e-9:
        ctx.add("exec-rate-over-100", WARNING, f"执行率 {pct(rate)} 超过100%，请核实全年执行数与全年预算数", rate_cell, "rate")
    if rate is not None and rate < spec.scoring.low_execution_rate:
        texts = ([data.goal_actual] + [i.reason for i in data.indicators] + list(data.narratives.values())
                 + [str(l.values.get("reason") or "") for l in data.funds])
        if not any(_LOW_EXECUTION_REASON.search(norm(t)) for t in texts if t and not _INSTRUCTION.search(norm(t))):
            ctx.add("exec-low-no-reason", WARNING,
                    f"执行率 {pct(rate)} 低于{spec.scoring.low_execution_rate * 100:g}%，请在完成情况或偏差原因中说明原因",
                    rate_cell, "rate")
    ib = eff.get("initial_budget")
    if total and "reason" in total.values and ib is not None and budget is not None and abs(ib - budget) > 0.005:
        why = norm(total.values.get("reason"))
        if not why or _INSTRUCTION.search(why) or why.startswith("1."):
            # The form has a place for the reason and asks for it (年中发生预算调整的，应单独说明理由).
            ctx.add("budget-adjustment-unexplained", WARNING,
                    f"年初预算 {fmt(ib)} 调整为 {fmt(budget)}，请在“原因”栏说明预算调整的理由", total.cells.get("budget", ""),
                    "funds_total_budget")
    weight_raw = total.values.get("weight") if total else None
    fw = parse_amount(weight_raw).value if weight_raw is not None else None
    in_label = weight_in_label(ctx.loc.funds_label)       # 预算执行情况(20分)
    funds_weight = fw if fw is not None else (in_label if in_label is not None else spec.funds_weight)
    expected = budget_score(funds_weight, rate, spec.scoring)
    typed_score_raw = total.values.get("score") if total else None
    typed_score = parse_amount(typed_score_raw).value if typed_score_raw is not None else None
    score_cell = total.cells.get("score", "") if total else ""
    if score_cell in ctx.loc.uncomputed:
        pass  # a formula nobody has calculated yet: nothing typed to compare
    elif typed_score is None and expected is not None and total and "score" in total.cells:
        ctx.add("score-missing", ERROR, f"预算执行率得分未填写（按执行率计算应为 {fmt(expected)}，请由单位填写）",
                score_cell, "funds_score")
    elif typed_score is not None and expected is not None and abs(typed_score - expected) > 0.0105:   # a cent is rounding
        ctx.add("budget-score-mismatch", WARNING,
                f"预算执行率得分 {fmt(typed_score)} 与按执行率计算的 {fmt(expected)}（{fmt(funds_weight)} × {pct(min(rate or 0, 1))}）不一致",
                score_cell, "funds_score")
    if typed_score is not None and typed_score > funds_weight + 0.005:
        ctx.add("score-range", ERROR, f"预算执行率得分 {fmt(typed_score)} 超过分值 {fmt(funds_weight)}", score_cell, "funds_score")
    outcome.funds = {
        "initial_budget": eff.get("initial_budget"), "budget": budget, "spent": spent, "rate": rate,
        # A formula nobody calculated yet stands for what it computes; an empty cell is never filled in for the unit.
        "weight": funds_weight,
        "score": typed_score if typed_score is not None else (expected if score_cell in ctx.loc.uncomputed else None),
        "suggested_score": expected,
        "sources": [{"key": l.key, "label": l.label, **{k: parse_amount(l.values.get(k)).value for k in money_keys}}
                    for l in sources],
    }


NOT_MET_BELOW = 0.6   # below 60 % of full marks an indicator counts as 未完成, as in the qualitative bands


def _status(score: float | None, weight: float | None, sug: Suggestion) -> str:
    """完成 / 部分完成 / 未完成, judged by how far the target was reached (the rule's suggestion),
    falling back to the typed score when no suggestion can be computed."""
    if sug.kind == "qualitative" and sug.band is not None:
        return ("met", "partly", "not_met")[min(sug.band, 2)]
    if not weight:
        return ""
    share = sug.score / weight if sug.score is not None else (score / weight if score is not None else None)
    if share is None:
        return ""
    if share >= 0.995:
        return "met"
    return "partly" if share >= NOT_MET_BELOW else "not_met"


def _shown(raw: object, fmtcode: str) -> str:
    """A value as the clerk sees it: 0.95 in a percent-formatted cell is "95%"."""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool) and "%" in fmtcode:
        return f"{round(raw * 100, 8):g}%"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return "" if raw is None else str(raw).strip()


_RATE_NAME = re.compile(r"率|比例|占比")
_EXECUTION_ROW = re.compile(r"^(?:预算)?执行率$")
_DIRECTION_VERB = re.compile(r"^(?:提高|提升|降低|减少|保持|确保|达到|维持|稳定|逐步|持续|不断|有效)")
# "一、示范区建立" scored and its "1、…" "2、…" scored too: the points are counted twice.
_PARENT_ITEM = re.compile(r"^[一二三四五六七八九十]+[、.．]")
_CHILD_ITEM = re.compile(r"^[（(]?\d+[)）]?[、.．]")
_COUNT_IN_PROSE = re.compile(r"(\d+(?:\.\d+)?)\s*(个|人次|人|家|所|户|次|项|场|篇|件|村|室)")
_COUNT_UNITS = {"个", "人", "人次", "家", "所", "户", "次", "项", "场", "篇", "件", "例", "种", "张", "台", "套", "份", "条"}


def _count_unit(v: Value) -> str | None:
    """The counting unit of a value, also when the count sits inside a sentence ("实施…机构37个。")."""
    if v.kind == "quantitative":
        return v.unit if v.unit in _COUNT_UNITS else None
    m = _COUNT_IN_PROSE.search(v.raw or "")
    return m.group(2) if m else None


def check_indicators(ctx: _Ctx, outcome: Outcome) -> None:
    spec = ctx.spec
    rules = spec.scoring
    band_names = {norm(b.name) for b in rules.qualitative_bands}
    for line in ctx.loc.data.indicators:
        c = line.cells
        label = line.name or f"第{line.row}行指标"
        has_weights, has_scores = "weight" in c, "score" in c
        weight = _number(ctx, line.weight, c.get("weight", ""), "分值")
        score = _number(ctx, line.score, c.get("score", ""), "得分")
        target = parse_value(line.target, percent_format="%" in line.formats.get("target", ""))
        actual = parse_value(line.actual, percent_format="%" in line.formats.get("actual", ""))
        if not line.name and (weight or score is not None):
            ctx.add("indicator-name-missing", WARNING, "已填写分值或得分，但三级指标名称为空", c.get("name", ""), "name")
        if "weight" in line.shared or "score" in line.shared:
            has_weights, has_scores = has_weights and "weight" not in line.shared, has_scores and "score" not in line.shared
        if has_weights and weight is None and (line.name or score is not None):
            ctx.add("weight-missing", ERROR, f"“{label}”未填写分值", c.get("weight", ""), "weight")
        # Without a 分值 column (transfer-payment forms) a unit weight still tells direction and over-completion.
        sug = suggest_score(weight if weight else 1.0, target, actual, rules)
        if not weight:
            sug = Suggestion(None, kind=sug.kind, band=sug.band, overachieved=sug.overachieved, note=sug.note)
        if has_scores and score is None and (weight or (not has_weights and line.name)):
            hint = f"，按完成情况建议得分 {fmt(sug.score)}" if sug.score is not None else ""
            ctx.add("score-missing", ERROR, f"“{label}”" + (f"分值为 {fmt(weight)}，但" if weight else "")
                    + f"得分未填写（请由单位自行评分{hint}）", c.get("score", ""), "score")
        if score is not None and (score < -1e-9 or (weight is not None and score > weight + 0.005)):
            ctx.add("score-range", ERROR, f"得分 {fmt(score)} 超过分值 {fmt(weight)}" if score >= 0
                    else f"得分 {fmt(score)} 不能为负数", c.get("score", ""), "score")
        if target.kind == "empty" and line.name:
            ctx.add("target-missing", WARNING, f"“{label}”未填写年度指标值", c.get("target", ""), "target")
        elif target.kind == "quantitative" and target.number is None:
            ctx.add("target-unparseable", ERROR, f"年度指标值“{target.raw}”缺少数值，无法判断是否完成", c.get("target", ""), "target")
        elif (target.kind == "qualitative" and _RATE_NAME.search(target.raw[-2:]) and not re.search(r"\d", target.raw)
              and not _DIRECTION_VERB.match(norm(target.raw))):
            ctx.add("target-unparseable", WARNING, f"年度指标值“{target.raw}”是指标名称而不是目标值，请填写要达到的比率",
                    c.get("target", ""), "target")
        if line.name and actual.kind == "empty":
            ctx.add("actual-missing", WARNING, f"“{label}”未填写实际完成值", c.get("actual", ""), "actual")
        if actual.comparator in (">=", "<=", ">", "<") and actual.kind == "quantitative":
            ctx.add("actual-as-bound", WARNING, f"实际完成值“{actual.raw}”写成了范围，实际完成值应填写实际达到的数值",
                    c.get("actual", ""), "actual")
        if line.direction and target.comparator:
            good_up = line.direction.startswith("正向")
            if (good_up and target.comparator in ("<=", "<")) or (not good_up and target.comparator in (">=", ">")):
                ctx.add("direction-contradiction", WARNING,
                        f"“{label}”标为{line.direction}指标，但指标值为“{target.raw}”，方向与比较符矛盾，请核实",
                        c.get("target", ""), "target")
        if (target.unit and actual.unit and target.unit != actual.unit and target.number is not None):
            ctx.add("unit-mismatch", WARNING,
                    f"“{label}”年度指标值单位“{target.unit}”与实际完成值单位“{actual.unit}”不一致，请核实",
                    c.get("actual", ""), "actual")
        elif target.number is None and actual.unit == "%" and _count_unit(target):
            ctx.add("unit-mismatch", WARNING, f"“{label}”年度指标值是数量（{_count_unit(target)}），实际完成值却是百分比，请核实",
                    c.get("actual", ""), "actual")
        elif line.name.endswith("率") and _count_unit(target) and target.unit != "%":
            ctx.add("unit-mismatch", WARNING, f"“{label}”是比率指标，但年度指标值是数量（{_count_unit(target)}），"
                    "指标值应为百分比", c.get("target", ""), "target")
        if (target.kind == "quantitative" and target.number is not None and actual.kind == "qualitative"
                and not _count_unit(actual)):
            ctx.add("actual-unparseable", WARNING, f"“{label}”年度指标值为“{target.raw}”，实际完成值“{actual.raw}”没有数值，"
                    "无法判断是否达到，请填写实际数值", c.get("actual", ""), "actual")
        reason = line.reason.strip()
        if _EXECUTION_ROW.match(norm(line.name)) and weight and outcome.funds.get("rate") is not None:
            # Some layouts score 预算执行率 as an indicator row: its points follow the rate like the funds row's.
            expected = budget_score(weight, outcome.funds["rate"], rules)
            if score is not None and expected is not None and abs(score - expected) > 0.0105:
                ctx.add("budget-score-mismatch", WARNING, f"“{label}”得分 {fmt(score)} 与按执行率 {pct(outcome.funds['rate'])} "
                        f"计算的 {fmt(expected)} 不一致", c.get("score", ""), "score")
            sug = Suggestion(expected, kind="positive", note="按预算执行率计分")
            score_ok = True
        else:
            score_ok = False
        met = sug.score is not None and weight and sug.score >= weight - 0.005 and sug.kind != "qualitative"
        docked = met and score is not None and score < weight - 0.005
        if score_ok:
            pass
        elif docked:
            # 完成指标值的，记该指标所赋全部分值 (财预〔2020〕10号): a lower score needs its reason, nothing more.
            if not reason:
                ctx.add("met-but-docked", WARNING,
                        f"“{label}”已完成年度指标值，按规定应记满分 {fmt(weight)}，实际得分 {fmt(score)}，请说明扣分理由",
                        c.get("score", ""), "score")
        elif score is not None and weight:
            tolerance = min(rules.deviation_tolerance, DEVIATION_SHARE * weight)
            if sug.score is not None and abs(score - sug.score) > tolerance + 1e-9:
                ctx.add("score-deviates", WARNING,
                        f"得分 {fmt(score)} 与按完成情况计算的建议得分 {fmt(sug.score)} 相差较大（{sug.note}）",
                        c.get("score", ""), "score")
            if sug.low is not None and sug.high is not None and sug.score is None:
                above = score > sug.high + 0.005 if sug.high_inclusive else score >= sug.high - 1e-9 and sug.high < weight
                if score < sug.low - 0.005 or above:
                    exact = norm(actual.raw) in band_names
                    ctx.add("qual-band-range", ERROR if exact else WARNING,
                            f"定性指标“{label}”判定为“{rules.qualitative_bands[sug.band].name if sug.band is not None else ''}”，"
                            f"得分应在 {fmt(sug.low)}–{fmt(sug.high)} 之间，实际为 {fmt(score)}", c.get("score", ""), "score")
            if score < weight - 0.005 and not reason:
                ctx.add("reason-required", ERROR, f"“{label}”得分 {fmt(score)} 低于分值 {fmt(weight)}，须填写偏差原因及改进措施",
                        c.get("reason", "") or c.get("score", ""), "reason")
        over_rate = (actual.unit == "%" and actual.number is not None and actual.number > 100 + 1e-9
                     and target.unit == "%" and bool(_RATE_NAME.search(line.name)))
        if sug.overachieved or over_rate:
            why = (f"比率不应超过100%，请核实实际完成值 {_shown(line.actual, line.formats.get('actual', ''))}" if over_rate else
                   f"实际完成值 {_shown(line.actual, line.formats.get('actual', ''))} 超过年度指标值 {target.raw} 较多，"
                   f"请分析是否目标设定偏低（超额较多时可按偏离度适度调减得分）")
            ctx.add("overachieve-note", WARNING, f"“{label}”{why}" + ("（已填写说明，请核实）" if reason else ""),
                    c.get("actual", ""), "actual")
        outcome.indicators.append(IndicatorResult(
            level1=line.level1, level2=line.level2, name=line.name, weight=weight,
            target=_shown(line.target, line.formats.get("target", "")), actual=_shown(line.actual, line.formats.get("actual", "")),
            score=score, suggested_score=sug.score, cell=c.get("score", "") or c.get("actual", ""), row=line.row,
            reason=reason, kind=sug.kind, status=_status(score, weight, sug),
            suggested_low=sug.low, suggested_high=sug.high,
            target_unit=target.unit, actual_unit=actual.unit, weight_cell=c.get("weight", ""),
            target_cell=c.get("target", "")))


def _number(ctx: _Ctx, raw: object, cell: str, what: str) -> float | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()) or is_na(raw):
        return None
    a = parse_amount(raw)
    if a.value is None:
        ctx.add("value-not-number", ERROR, f"{what}“{raw}”不是数字", cell, what)
    return a.value


def check_taxonomy(ctx: _Ctx, outcome: Outcome) -> None:
    """A 二级 filed under a 一级 it does not belong to (经济成本指标 under 产出指标)."""
    vocab = spec_vocabulary(ctx.spec)
    seen: set[tuple[str, str]] = set()
    for line in ctx.loc.data.indicators:
        l2 = norm_label(line.level2)
        if not l2 or not line.level1 or (line.level1, l2) in seen:
            continue
        seen.add((line.level1, l2))
        owner = vocab.level1_of_level2.get(l2) or vocab.framework_level1.get(l2)
        if owner and owner != line.level1 and line.level1 in set(vocab.framework_level1.values()) | set(vocab.level1.values()):
            ctx.add("taxonomy-mismatch", WARNING, f"二级指标“{line.level2}”属于一级指标“{owner}”，不应列在“{line.level1}”下，请核实",
                    line.cells.get("level2", ""), "level2")


def check_weights(ctx: _Ctx, outcome: Outcome) -> None:
    """Arithmetic of the weights is an error; a split other than the policy's is a question (如有特殊情况可调整)."""
    spec, loc = ctx.spec, ctx.loc
    policy = spec.level1_weights()
    satisfaction = next((l1 for l1 in policy if "满意度" in l1), None)
    if outcome.indicators and satisfaction and not any(i.level1 == satisfaction for i in outcome.indicators):
        ctx.add("satisfaction-missing", WARNING, f"表中没有{satisfaction}，项目支出绩效目标一般应设置服务对象满意度指标，请核实",
                outcome.indicators[0].weight_cell or outcome.indicators[0].cell, "level1")
    if not any("weight" in l.cells for l in loc.data.indicators):
        # No 分值 column: weights are unknown, not missing; the block's points printed beside it still bound its scores.
        block, scored = loc.indicators_weight, [i.score for i in outcome.indicators if i.score is not None]
        double = any(f.code == "score-double-count" for f in ctx.out)
        if block is not None and scored and sum(scored) > block + 0.005 and not double:
            ctx.add("score-range", ERROR, f"各指标得分合计 {fmt(sum(scored))}，超过指标部分的分值 {fmt(block)}",
                    outcome.indicators[0].cell, "score")
        return
    # The form prints its own split when our template wrote it, or when the 一级 labels carry it: 产出指标(50分).
    printed = loc.by == "names"
    sums: dict[str, float] = {}
    first_cell: dict[str, str] = {}
    label_cell = {}
    for line in loc.data.indicators:
        label_cell.setdefault(line.level1, line.cells.get("level1", ""))
    for ind in outcome.indicators:
        sums[ind.level1] = sums.get(ind.level1, 0.0) + (ind.weight or 0.0)
        first_cell.setdefault(ind.level1, ind.weight_cell)
    off_policy: list[tuple[str, float]] = []
    for l1, s in sums.items():
        if l1 and l1 not in policy:
            ctx.add("level1-unknown", INFO, f"一级指标“{l1}”不在本表式的指标体系中（{'、'.join(policy)}），其分值不按本表式的规定核对",
                    first_cell.get(l1, ""), "level1")
        declared = loc.declared_level1.get(l1)
        if declared is None and printed:
            declared = policy.get(l1)
        if declared is not None and abs(s - declared) > 0.005:
            ctx.add("weight-sum-l1", ERROR, f"{l1}下各三级指标分值合计 {fmt(s)}，应为 {fmt(declared)}", first_cell.get(l1, ""), "weight")
            continue
        split = declared if declared is not None else s
        if l1 in policy and abs(split - policy[l1]) > 0.005:
            off_policy.append((l1, split))
    if off_policy:
        # One question for the split as a whole: 10号 allows other weights "如有特殊情况".
        got = "、".join(f"{l1} {fmt(w)} 分" for l1, w in off_policy)
        want = "、".join(f"{l1} {fmt(policy[l1])} 分" for l1, _ in off_policy)
        ctx.add("weight-policy", WARNING, f"一级指标分值为 {got}，与规定的 {want} 不同（如有特殊情况可适当调整，请说明理由）",
                label_cell.get(off_policy[0][0]) or first_cell.get(off_policy[0][0], ""), "level1")
    total_w = round2((outcome.funds.get("weight") or 0.0) + sum(i.weight or 0.0 for i in outcome.indicators))
    outcome.total_weight = total_w
    if outcome.indicators and abs(total_w - spec.total_weight) > 0.005:
        ctx.add("weight-sum-total", ERROR,
                f"分值合计（预算执行率 {fmt(outcome.funds.get('weight'))} + 各三级指标）为 {fmt(total_w)}，应为 {fmt(spec.total_weight)}",
                loc.data.cells.get("total_weight", ""), "total_weight")


def check_totals(ctx: _Ctx, outcome: Outcome) -> None:
    spec, data = ctx.spec, ctx.loc.data
    scored = [i.score for i in outcome.indicators if i.score is not None]
    fs = outcome.funds.get("score")
    if outcome.indicators and not scored and fs is None and any("score" in l.cells for l in data.indicators):
        # Returned without a self-evaluation: no total and no grade of ours in its place.
        ctx.add("unscored", ERROR, "未完成自评：预算执行率和各项指标得分均未填写，无法计算总分和评价等级，请逐项评分后重新提交",
                data.cells.get("total_score", "") or (outcome.indicators[0].cell if outcome.indicators else ""), "total_score")
        # One error says it; each empty 得分 is still shown where it is, as a warning.
        ctx.out = [replace(f, severity=WARNING) if f.code == "score-missing" else f for f in ctx.out]
        return
    if not any("score" in l.cells for l in data.indicators) and fs is None:
        return   # a layout without scores (transfer payments): nothing to add up
    total = round2((fs or 0.0) + sum(scored))
    outcome.total_score = total
    outcome.grade = grade_for(total, spec.grades)
    printed = data.printed.get("total_score")
    if printed is not None and not (isinstance(printed, str) and not printed.strip()):
        p = parse_amount(printed).value
        if p is None:
            ctx.add("value-not-number", ERROR, f"总分“{printed}”不是数字", data.cells.get("total_score", ""), "total_score")
        elif abs(p - total) > 0.05:
            ctx.add("total-mismatch", ERROR, f"总分 {fmt(p)} 与各项得分之和 {fmt(total)} 不一致", data.cells.get("total_score", ""), "total_score")
    g = data.printed.get("grade")
    if g is not None and str(g).strip() and norm(g) != norm(outcome.grade):
        ctx.add("grade-mismatch", ERROR, f"评价等级“{g}”与总分 {fmt(total)} 对应的等级“{outcome.grade}”不一致",
                data.cells.get("grade", ""), "grade")


_MONEY_IN_TEXT = re.compile(r"(\d+(?:,\d{3})*(?:\.\d+)?)\s*(亿元|万元|元)")
_YUAN = {"元": 1.0, "万元": 1e4, "亿元": 1e8}


def _amounts(text: str) -> list[tuple[float, str]]:
    return [(float(m.group(1).replace(",", "")), m.group(2)) for m in _MONEY_IN_TEXT.finditer(text)]


def _parts_disagree(text: str) -> str:
    """"共…X元，其中A元、B元…" whose parts do not add up to X: what is wrong, or ""."""
    for clause in re.split(r"[。；;\n]", norm(text)):
        segments = clause.split("其中")
        for head, tail in zip(segments, segments[1:]):
            totals, parts = _amounts(head), _amounts(tail)
            if not totals or len(parts) < 2:
                continue
            total, unit = totals[-1]
            got = sum(v * _YUAN[u] for v, u in parts)
            want = total * _YUAN[unit]
            if abs(got - want) <= 0.01 + 1e-6 * want:
                continue
            units = {u for _, u in parts}
            if len(units) == 1 and abs(sum(v for v, _ in parts) - total) < 0.005:
                return f"{fmt(total)}{unit}的单位与其中各项（{next(iter(units))}）不一致"
            return f"总额 {fmt(total)}{unit} 与其中各项之和 {fmt(got / _YUAN[unit])}{unit} 不一致"
    return ""


def check_texts(ctx: _Ctx, outcome: Outcome) -> None:
    """年度总体目标 and the narrative sections a layout asks for: written, and written by the unit."""
    data = ctx.loc.data
    for key, title in (("goal_planned", "年度总体目标"), ("goal_actual", "年度目标完成情况")):
        why = _parts_disagree(getattr(data, key) or "")
        if why:
            ctx.add("narrative-figures-inconsistent", WARNING, f"{title}中的金额有误：{why}，请核实", data.cells.get(key, ""), key)
    for fld in ctx.spec.header_fields():
        if fld.key in data.cells and fld.key in data.header and _blank_text(data.header.get(fld.key)):
            ctx.add("header-field-missing", WARNING, f"表头“{fld.label}”未填写", data.cells[fld.key], fld.key)
    for key, text in data.narratives.items():
        cell = data.cells.get(f"narrative_{key}", "")
        title = _NARRATIVE_TITLES.get(key, key)
        if not text.strip():
            ctx.add("narrative-missing", ERROR, f"“{title}”未填写", cell, key)
        elif _INSTRUCTION.search(norm(text)):
            ctx.add("narrative-placeholder", ERROR, f"“{title}”仍是表样的填写提示“{text[:30]}”，请替换为本项目的实际内容", cell, key)
    if data.goal_planned.strip() and not data.goal_actual.strip() and "goal_actual" in data.cells:
        ctx.add("narrative-missing", ERROR, "年度总体目标的实际完成情况未填写", data.cells["goal_actual"], "goal_actual")
    if data.goal_actual.strip() and not data.goal_planned.strip() and "goal_planned" in data.cells:
        ctx.add("narrative-missing", ERROR, "年度总体目标（预期目标）未填写", data.cells["goal_planned"], "goal_planned")
    year = ctx.loc.year
    years = [int(y) for y in re.findall(r"(20\d{2})年", norm(data.goal_planned))]
    spans = [(int(a), int(b)) for a, b in re.findall(r"(20\d{2})\s*[-—–~至到]\s*(20\d{2})", norm(data.goal_planned))]
    if year and years and year not in years and not any(a <= year <= b for a, b in spans):
        ctx.add("goal-year-mismatch", WARNING, f"本表为{year}年度，年度总体目标写的却是{'、'.join(f'{y}年' for y in sorted(set(years)))}的目标，"
                "请核实是否沿用了往年的目标", data.cells.get("goal_planned", ""), "goal_planned")
    for key, title in (("goal_planned", "年度总体目标"), ("goal_actual", "年度目标完成情况")):
        text = getattr(data, key) or ""
        if text and _INSTRUCTION.search(norm(text)):
            ctx.add("narrative-placeholder", ERROR, f"“{title}”仍是表样的填写提示“{text[:30]}”，请替换为本项目的实际内容",
                    data.cells.get(key, ""), key)
    goal = norm(data.goal_planned)
    if not goal or _INSTRUCTION.search(goal):
        return
    project = norm(data.header.get("project_name"))
    rest = _GOAL_FILLER.sub("", _AMOUNT.sub("", goal.replace(project, "") if project else goal))
    why = ""
    if project and goal.rstrip("。.") in (project, project + "项目", project + "工作"):
        why = "只重复了项目名称"
    elif len(rest) < 2 and _AMOUNT.search(goal) or re.fullmatch(r"[\d.,，万元]+", goal):
        why = "只写了金额"
    elif _DUTIES.match(goal):
        why = "描述的是单位职责"
    if why:
        ctx.add("goal-not-a-goal", WARNING, f"年度总体目标“{data.goal_planned[:40]}”{why}，没有说明本年度要达到的产出和效果",
                data.cells.get("goal_planned", ""), "goal_planned")


def _blank_text(v: object) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def check_double_count(ctx: _Ctx, outcome: Outcome) -> None:
    """A numbered parent item (一、) scored together with its sub-items (1、2、…)."""
    inds = outcome.indicators
    for i, parent in enumerate(inds):
        if parent.score is None or not _PARENT_ITEM.match(norm(parent.name)):
            continue
        children = []
        for child in inds[i + 1:]:
            if not _CHILD_ITEM.match(norm(child.name)):
                break
            children.append(child)
        scored = [c.score for c in children if c.score is not None]
        if len(scored) >= 2:
            ctx.add("score-double-count", WARNING,
                    f"“{parent.name}”已计 {fmt(parent.score)} 分，其下各分项又计 {fmt(sum(scored))} 分，同一内容重复计分，请只保留一层得分",
                    parent.cell, "score")


def check_value_columns(ctx: _Ctx, outcome: Outcome) -> None:
    """A form without 分值/得分 columns whose 指标值 and 完成值 hold bare numbers adding up to 100:
    the unit typed weights and scores where the targets and actuals belong."""
    lines = [l for l in ctx.loc.data.indicators if l.name]
    if "weight" in (lines[0].cells if lines else {}) or len(lines) < 3:
        return
    numbers = [parse_amount(l.target).value for l in lines]
    plain = all(isinstance(l.target, (int, float)) or (isinstance(l.target, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*", l.target))
                for l in lines)
    if plain and None not in numbers and abs(sum(numbers) - 100) < 0.01:
        ctx.add("scores-in-value-columns", WARNING,
                "各行“指标值”“完成值”填写的是分值和得分（合计100），而不是年度指标值和实际完成值，请按指标填写目标值和实际值",
                lines[0].cells.get("target", ""), "target")


_NARRATIVE_TITLES = {"process": "项目实施内容及过程概述", "conclusion": "评价结论", "problems": "存在问题", "measures": "改进措施"}


def check_integrity(ctx: _Ctx, outcome: Outcome, sheet_protected: bool | None, formulas: dict | None) -> None:
    """Only for our own templates: identity sheet, protection and formulas must be intact."""
    loc = ctx.loc
    ours = loc.identity is not None or loc.by == "names"
    if not ours:
        return
    if loc.identity is None:
        ctx.add("identity-missing", ERROR, "模板的隐藏标识页（_xlperf）缺失，文件可能不是由下发的模板填写，请使用下发的模板重新填报")
        return
    ident = loc.identity
    # LibreOffice re-saves a very hidden sheet as merely hidden; only a visible one was tampered with.
    if loc.identity_state == "visible":
        ctx.add("identity-altered", ERROR, "模板的隐藏标识页被取消隐藏，请使用下发的原模板填报", "", "_xlperf")
    if ident.get("form_id") and ident.get("form_id") != ctx.spec.id:
        ctx.add("identity-altered", ERROR, f"标识页记录的表式“{ident.get('form_id')}”与表格内容不符", "", "_xlperf")
    if loc.year and ident.get("year", "").isdigit() and int(ident["year"]) != loc.year:
        ctx.add("identity-altered", ERROR, f"标识页记录的年度 {ident['year']} 与表头年度 {loc.year} 不符", "", "_xlperf")
    if sheet_protected is False:
        ctx.add("protection-removed", ERROR, "工作表保护已被取消，请使用下发的原模板（保持工作表保护）填报")
    if formulas is not None:
        from ..read.locate import _col
        for fld, cell in loc.formula_cells.items():
            letters = cell.rstrip("0123456789")
            key = (int(cell[len(letters):]) - 1, _col(letters))
            if key not in formulas:
                ctx.add("formula-tampered", ERROR, "此处原为自动计算的公式，已被改为手工填写的值，请恢复模板公式", cell, fld)


def check_filled(ctx: _Ctx, outcome: Outcome) -> None:
    scores = [i for i in outcome.indicators if i.score is not None]
    if any(f.code == "unscored" for f in ctx.out):
        return
    if not scores and not outcome.funds.get("spent"):
        ctx.add("form-empty", ERROR, "表中未填写全年执行数和各项指标得分，似乎是空白模板")


Check = Callable[[_Ctx, Outcome], None]
CHECKS: tuple[Check, ...] = (check_funds, check_indicators, check_taxonomy, check_double_count, check_weights, check_totals,
                             check_texts, check_value_columns, check_filled)


def validate(loc: Located, spec: FormSpec, path: str = "", *, sheet_protected: bool | None = None,
             formulas: dict | None = None, extra: Iterable[Callable[[Located], Iterator[Finding]]] = ()) -> Outcome:
    ctx = _Ctx(loc, spec, path)
    outcome = Outcome()
    for check in CHECKS:
        check(ctx, outcome)
    check_integrity(ctx, outcome, sheet_protected, formulas)
    for fn in extra:
        for f in fn(loc):
            where = f"{f.cell}：" if f.cell and not f.message.startswith(f.cell) else ""
            ctx.out.append(replace(f, file=f.file or path, sheet=f.sheet or loc.sheet, message=where + f.message))
    outcome.findings = ctx.out
    return outcome
