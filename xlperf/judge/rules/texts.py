"""The free texts: 年度总体目标, its 完成情况, and the narratives a form asks for."""
from __future__ import annotations

import re

from ...form.labels import norm
from ..findings import ERROR, WARNING
from .base import INSTRUCTION, Ctx, Outcome, blank_text, fmt

# 年度总体目标 that describes the unit's duties, not what the year should achieve.
_DUTIES = re.compile(r"^(?:主要)?(?:负责|承担|职责|主要职能|职能)")
_AMOUNT = re.compile(r"\d+(?:\.\d+)?\s*(?:万元|亿元|元|万)")
_GOAL_FILLER = re.compile(r"本项目|项目|共|申请|预算|资金|安排|投入|用于|年度|总额|合计|计|为|约|全年|本年|[，,。.；;：:、\s（）()]")
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


def check_texts(ctx: Ctx, outcome: Outcome) -> None:
    """年度总体目标 and the narrative sections a layout asks for: written, and written by the unit."""
    data = ctx.loc.data
    for key, title in (("goal_planned", "年度总体目标"), ("goal_actual", "年度目标完成情况")):
        why = _parts_disagree(getattr(data, key) or "")
        if why:
            ctx.add("narrative-figures-inconsistent", WARNING, f"{title}中的金额有误：{why}，请核实", data.cells.get(key, ""), key)
    for fld in ctx.spec.header_fields():
        if fld.key in data.cells and fld.key in data.header and blank_text(data.header.get(fld.key)):
            ctx.add("header-field-missing", WARNING, f"表头“{fld.label}”未填写", data.cells[fld.key], fld.key)
    for key, text in data.narratives.items():
        cell = data.cells.get(f"narrative_{key}", "")
        title = _NARRATIVE_TITLES.get(key, key)
        if not text.strip():
            ctx.add("narrative-missing", ERROR, f"“{title}”未填写", cell, key)
        elif INSTRUCTION.search(norm(text)):
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
        if text and INSTRUCTION.search(norm(text)):
            ctx.add("narrative-placeholder", ERROR, f"“{title}”仍是表样的填写提示“{text[:30]}”，请替换为本项目的实际内容",
                    data.cells.get(key, ""), key)
    goal = norm(data.goal_planned)
    if not goal or INSTRUCTION.search(goal):
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


_NARRATIVE_TITLES = {"process": "项目实施内容及过程概述", "conclusion": "评价结论", "problems": "存在问题", "measures": "改进措施"}


