"""The official rules, applied to a located form. Returns findings; never raises.

Each check is a small function over `Located` (never an openpyxl object) that
yields located findings with a stable code and a Chinese message. Totals are
recomputed here instead of trusting the sheet.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Iterator

from .findings import ERROR, INFO, WARNING, Finding
from ..form.labels import norm
from ..form.model import IndicatorLine
from ..read.locate import Located
from ..form.scoring import Suggestion, budget_score, grade_for, round2, suggest_score
from ..form.spec import FormSpec
from ..form.values import Amount, Value, is_na, parse_amount, parse_rate, parse_value

DEVIATION_SHARE = 0.05          # on small weights, a typed score may differ by at most 5 % of the weight
MONEY_LIMIT = 1_000_000.0        # 万元: a project above 100亿 was almost surely typed in 元
REASON_WORDS = ("执行", "资金", "结转", "结余", "支付", "拨付", "原因", "进度", "未完成")


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
        return 0.5 * 10 ** (-decimals) / scale + 1e-9
    if "%" in fmtcode:
        dec = fmtcode.split("%")[0]
        decimals = len(dec.split(".")[1]) if "." in dec else 0
        return 0.5 * 10 ** (-decimals) / 100 + 1e-9
    return 0.0001


def check_funds(ctx: _Ctx, outcome: Outcome) -> None:
    spec, data = ctx.spec, ctx.loc.data
    total = data.funds_line("total")
    sources = [l for l in data.funds if l.key != "total"]
    money_keys = [k for k in ("initial_budget", "budget", "spent") if any(k in l.values for l in data.funds)]
    label = {c.key: c.label for c in spec.funds_columns}
    eff: dict[str, float | None] = {}
    for key in money_keys:
        src_vals = [_money(ctx, l.values.get(key), l.cells.get(key, ""), f"{l.label or l.key}{label.get(key, key)}")
                    for l in sources]
        tv = _money(ctx, total.values.get(key), total.cells.get(key, ""), f"年度资金总额{label.get(key, key)}") if total else None
        present = [v for v in src_vals if v is not None]
        s = round(sum(present), 6) if present else None
        uncomputed = total is not None and tv is None and total.cells.get(key, "") in ctx.loc.uncomputed
        if total and s is not None and not uncomputed and (tv is None or abs(tv - s) > 0.005):
            ctx.add("funds-total-mismatch", ERROR,
                    f"年度资金总额的{label.get(key, key)} {fmt(tv)} 不等于各资金来源之和 {fmt(s)}，年度资金总额应等于各来源之和",
                    total.cells.get(key, ""), f"funds_total_{key}")
        eff[key] = s if (s is not None and (tv is None or abs(tv - s) > 0.005)) else (tv if tv is not None else s)
    budget, spent = eff.get("budget"), eff.get("spent")
    if budget is not None and budget > MONEY_LIMIT:
        ctx.add("money-unit", WARNING, f"全年预算数 {fmt(budget)} 万元异常偏大，金额疑似按“元”填写，本表单位为万元",
                total.cells.get("budget", "") if total else "", "funds_total_budget")
    if ctx.loc.funds_label and "元" in ctx.loc.funds_label and "万元" not in ctx.loc.funds_label:
        ctx.add("money-unit", WARNING, f"资金栏标注为“{ctx.loc.funds_label}”，本表金额单位应为万元")
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
        texts = [data.goal_actual] + [i.reason for i in data.indicators]
        if not any(w in (t or "") for t in texts for w in REASON_WORDS):
            ctx.add("exec-low-no-reason", WARNING,
                    f"执行率 {pct(rate)} 低于{spec.scoring.low_execution_rate * 100:g}%，请在完成情况或偏差原因中说明原因",
                    rate_cell, "rate")
    weight_raw = total.values.get("weight") if total else None
    fw = parse_amount(weight_raw).value if weight_raw is not None else None
    funds_weight = fw if fw is not None else spec.funds_weight
    expected = budget_score(funds_weight, rate, spec.scoring)
    typed_score_raw = total.values.get("score") if total else None
    typed_score = parse_amount(typed_score_raw).value if typed_score_raw is not None else None
    score_cell = total.cells.get("score", "") if total else ""
    if score_cell in ctx.loc.uncomputed:
        pass  # a formula nobody has calculated yet: nothing typed to compare
    elif typed_score is None and expected is not None and total and "score" in total.cells:
        ctx.add("score-missing", ERROR, f"预算执行率得分未填写（按执行率应为 {fmt(expected)}）", score_cell, "funds_score")
    elif typed_score is not None and expected is not None and abs(typed_score - expected) > 0.005:
        ctx.add("budget-score-mismatch", WARNING,
                f"预算执行率得分 {fmt(typed_score)} 与按执行率计算的 {fmt(expected)}（{fmt(funds_weight)} × {pct(min(rate or 0, 1))}）不一致",
                score_cell, "funds_score")
    if typed_score is not None and typed_score > funds_weight + 0.005:
        ctx.add("score-range", ERROR, f"预算执行率得分 {fmt(typed_score)} 超过分值 {fmt(funds_weight)}", score_cell, "funds_score")
    outcome.funds = {
        "initial_budget": eff.get("initial_budget"), "budget": budget, "spent": spent, "rate": rate,
        "weight": funds_weight, "score": typed_score if typed_score is not None else expected,
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


def check_indicators(ctx: _Ctx, outcome: Outcome) -> None:
    spec = ctx.spec
    rules = spec.scoring
    band_names = {norm(b.name) for b in rules.qualitative_bands}
    for line in ctx.loc.data.indicators:
        c = line.cells
        label = line.name or f"第{line.row}行指标"
        weight = _number(ctx, line.weight, c.get("weight", ""), "分值")
        score = _number(ctx, line.score, c.get("score", ""), "得分")
        target = parse_value(line.target, percent_format="%" in line.formats.get("target", ""))
        actual = parse_value(line.actual, percent_format="%" in line.formats.get("actual", ""))
        if not line.name and (weight or score is not None):
            ctx.add("indicator-name-missing", WARNING, "已填写分值或得分，但三级指标名称为空", c.get("name", ""), "name")
        if weight is None and (line.name or score is not None):
            ctx.add("weight-missing", ERROR, f"“{label}”未填写分值", c.get("weight", ""), "weight")
        # Without a 分值 column (transfer-payment forms) a unit weight still tells direction and over-completion.
        sug = suggest_score(weight if weight else 1.0, target, actual, rules)
        if not weight:
            sug = Suggestion(None, kind=sug.kind, band=sug.band, overachieved=sug.overachieved, note=sug.note)
        if weight is not None and weight > 0 and score is None:
            ctx.add("score-missing", ERROR, f"“{label}”分值为 {fmt(weight)}，但得分未填写", c.get("score", ""), "score")
        if score is not None and (score < -1e-9 or (weight is not None and score > weight + 0.005)):
            ctx.add("score-range", ERROR, f"得分 {fmt(score)} 超过分值 {fmt(weight)}" if score >= 0
                    else f"得分 {fmt(score)} 不能为负数", c.get("score", ""), "score")
        if target.kind == "empty" and line.name:
            ctx.add("target-missing", WARNING, f"“{label}”未填写年度指标值", c.get("target", ""), "target")
        elif target.kind == "quantitative" and target.number is None:
            ctx.add("target-unparseable", ERROR, f"年度指标值“{target.raw}”缺少数值，无法判断是否完成", c.get("target", ""), "target")
        if line.name and actual.kind == "empty" and score is not None:
            ctx.add("actual-missing", WARNING, f"“{label}”未填写实际完成值", c.get("actual", ""), "actual")
        if (target.unit and actual.unit and target.unit != actual.unit and target.number is not None):
            ctx.add("unit-mismatch", WARNING,
                    f"“{label}”年度指标值单位“{target.unit}”与实际完成值单位“{actual.unit}”不一致，请核实",
                    c.get("actual", ""), "actual")
        if score is not None and weight:
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
        reason = line.reason.strip()
        if score is not None and weight is not None and score < weight - 0.005 and not reason:
            # Not met → the 说明 requires a reason (error). Met but docked by the evaluator → a warning.
            met = sug.score is not None and sug.score >= weight - 0.005
            ctx.add("reason-required", WARNING if met else ERROR,
                    f"“{label}”得分 {fmt(score)} 低于分值 {fmt(weight)}，须填写偏差原因及改进措施"
                    + ("（指标已完成但未得满分，请说明扣分理由）" if met else ""), c.get("reason", ""), "reason")
        if sug.overachieved and not reason:
            ctx.add("overachieve-note", WARNING,
                    f"“{label}”实际完成值 {actual.raw} 超过年度指标值 {target.raw} 较多，请分析原因（是否目标设定偏低）",
                    c.get("reason", ""), "reason")
        outcome.indicators.append(IndicatorResult(
            level1=line.level1, level2=line.level2, name=line.name, weight=weight, target=target.raw, actual=actual.raw,
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


def check_weights(ctx: _Ctx, outcome: Outcome) -> None:
    spec, loc = ctx.spec, ctx.loc
    if not any("weight" in l.cells for l in loc.data.indicators):
        return  # a form without 分值 columns (transfer-payment layout) has no weights to check
    policy = spec.level1_weights()
    sums: dict[str, float] = {}
    first_cell: dict[str, str] = {}
    for ind in outcome.indicators:
        sums[ind.level1] = sums.get(ind.level1, 0.0) + (ind.weight or 0.0)
        first_cell.setdefault(ind.level1, ind.weight_cell)
    for l1, s in sums.items():
        declared = loc.declared_level1.get(l1, policy.get(l1))
        if l1 and l1 not in policy:
            ctx.add("level1-unknown", WARNING, f"一级指标“{l1}”不在本表式的指标体系中（{'、'.join(policy)}）", first_cell.get(l1, ""), "level1")
        if declared is not None and abs(s - declared) > 0.005:
            ctx.add("weight-sum-l1", ERROR, f"{l1}下各三级指标分值合计 {fmt(s)}，应为 {fmt(declared)}", first_cell.get(l1, ""), "weight")
    for l1, w in loc.declared_level1.items():
        if l1 in policy and abs(w - policy[l1]) > 0.005:
            ctx.add("weight-policy", WARNING, f"{l1}分值为 {fmt(w)}，与规定的 {fmt(policy[l1])} 分不同（特殊情况可调整，请说明）", "", "weight")
    total_w = round2((outcome.funds.get("weight") or 0.0) + sum(i.weight or 0.0 for i in outcome.indicators))
    outcome.total_weight = total_w
    if outcome.indicators and abs(total_w - spec.total_weight) > 0.005:
        ctx.add("weight-sum-total", ERROR,
                f"分值合计（预算执行率 {fmt(outcome.funds.get('weight'))} + 各三级指标）为 {fmt(total_w)}，应为 {fmt(spec.total_weight)}",
                loc.data.cells.get("total_weight", ""), "total_weight")


def check_totals(ctx: _Ctx, outcome: Outcome) -> None:
    spec, data = ctx.spec, ctx.loc.data
    fs = outcome.funds.get("score") or 0.0
    total = round2(fs + sum(i.score or 0.0 for i in outcome.indicators))
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
                ctx.add("formula-tampered", ERROR, f"此处原为自动计算的公式，已被改为手工填写的值，请恢复模板公式", cell, fld)


def check_filled(ctx: _Ctx, outcome: Outcome) -> None:
    data = ctx.loc.data
    scores = [i for i in outcome.indicators if i.score is not None]
    if not scores and not outcome.funds.get("spent"):
        ctx.add("form-empty", ERROR, "表中未填写全年执行数和各项指标得分，似乎是空白模板")


Check = Callable[[_Ctx, Outcome], None]
CHECKS: tuple[Check, ...] = (check_funds, check_indicators, check_weights, check_totals, check_filled)


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
