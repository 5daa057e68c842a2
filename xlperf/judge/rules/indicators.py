"""三级指标: targets against actuals, the scoring rules, weights, subtotals and the total."""
from __future__ import annotations

import re
from dataclasses import replace

from ...form.labels import norm, norm_label
from ...form.scoring import Suggestion, budget_score, grade_for, round2, suggest_score
from ...form.values import Value, is_na, parse_amount, parse_value
from ...read.locate import spec_vocabulary
from ..findings import ERROR, INFO, WARNING
from .base import Ctx, IndicatorResult, Outcome, fmt, pct

DEVIATION_SHARE = 0.05          # on small weights, a typed score may differ by at most 5 % of the weight
NOT_MET_BELOW = 0.6             # below 60 % of full marks an indicator counts as 未完成, as in the qualitative bands


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


def check_indicators(ctx: Ctx, outcome: Outcome) -> None:
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


def _number(ctx: Ctx, raw: object, cell: str, what: str) -> float | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()) or is_na(raw):
        return None
    a = parse_amount(raw)
    if a.value is None:
        ctx.add("value-not-number", ERROR, f"{what}“{raw}”不是数字", cell, what)
    return a.value


def check_taxonomy(ctx: Ctx, outcome: Outcome) -> None:
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


def check_weights(ctx: Ctx, outcome: Outcome) -> None:
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


def check_totals(ctx: Ctx, outcome: Outcome) -> None:
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


def check_double_count(ctx: Ctx, outcome: Outcome) -> None:
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


def check_value_columns(ctx: Ctx, outcome: Outcome) -> None:
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


