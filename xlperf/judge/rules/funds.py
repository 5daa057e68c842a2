"""预算执行情况: the money block, its arithmetic, 执行率 and its score, and why money was not spent."""
from __future__ import annotations

import re

from ...form.labels import norm, weight_in_label
from ...form.scoring import budget_score
from ...form.values import Amount, is_na, parse_amount, parse_rate
from ..findings import ERROR, INFO, WARNING
from .base import INSTRUCTION, Ctx, Outcome, fmt, pct

MONEY_LIMIT = 1_000_000.0        # 万元: a project above 100亿 was almost surely typed in 元
# What a reviewer accepts as the reason money was not spent: something not done or not paid
# (尾款未付, 项目延期, 采购价低于预算, 资金结余). "资金按时拨付到位" explains nothing.
_LOW_EXECUTION_REASON = re.compile(
    r"(?:未|尚未|暂未|没有|无法|不能|未能)(?:能)?(?:全部|完全|及时|按期|按时)?(?:支付|拨付|付|完成|到位|结算|执行|使用|验收|招标|"
    r"开工|实施|兑付|发放|下达|到账|审计|决算|报账)|尾款|质保金|保证金|延期|延迟|推迟|滞后|延误|结余|节约|节省|低于预算|"
    r"采购价|中标价|政府采购|结转|跨年|分期|疫情|暂缓|缓建|取消|调减|收回|进度款|按进度|工期")


def _money(ctx: Ctx, raw: object, cell: str, what: str) -> float | None:
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


def check_funds(ctx: Ctx, outcome: Outcome) -> None:
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
        if not any(_LOW_EXECUTION_REASON.search(norm(t)) for t in texts if t and not INSTRUCTION.search(norm(t))):
            ctx.add("exec-low-no-reason", WARNING,
                    f"执行率 {pct(rate)} 低于{spec.scoring.low_execution_rate * 100:g}%，请在完成情况或偏差原因中说明原因",
                    rate_cell, "rate")
    ib = eff.get("initial_budget")
    if total and "reason" in total.values and ib is not None and budget is not None and abs(ib - budget) > 0.005:
        why = norm(total.values.get("reason"))
        if not why or INSTRUCTION.search(why) or why.startswith("1."):
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


