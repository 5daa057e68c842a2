"""Simulated county returns for the demo and tests: fill a generated workbook
the way a clerk does, sometimes with the usual mistakes.

Only the input cells are touched, found through the template's defined names.
"""
from __future__ import annotations

import random
from pathlib import Path

import openpyxl
from openpyxl.utils.cell import range_boundaries

from ..form.values import parse_value

MISTAKES = ("score-above-weight", "no-reason", "typed-rate", "wrong-target")


def _named(wb, name: str):
    (sheet, ref), = list(wb.defined_names[name].destinations)
    c0, r0, c1, r1 = range_boundaries(ref.replace("$", ""))
    return wb[sheet], r0, c0, r1, c1


def _achieved(target: str, rng: random.Random, quality: float = 1.0) -> tuple[str, float]:
    """An actual value near the target (scaled by the unit's `quality`), and how far it got (1.0 = met)."""
    v = parse_value(target)
    if v.kind != "quantitative" or v.number is None:
        if rng.random() < 0.85 * quality:
            return "有所提升", 1.0
        return "部分达成年度指标并具有一定效果", 0.7      # band 2: 60 %–80 % of the weight
    unit = v.unit or ""
    t = v.number
    if v.direction == "negative":
        a = t * rng.uniform(0.4, 1.0) if rng.random() < 0.9 else t * rng.uniform(1.05, 1.3)
        return f"{a:.0f}{unit}" if unit != "%" else f"{a:.1f}%", min(1.0, t / a) if a else 1.0
    a = t * quality * (rng.uniform(1.0, 1.1) if rng.random() < 0.8 else rng.uniform(0.8, 1.0))
    if unit == "%":
        a = min(a, 100.0)
        return f"{a:.2f}%", min(1.0, a / t)
    return f"{a:.0f}{unit}", min(1.0, a / t)


def fill_return(template: Path, dst: Path, *, seed: int, spent_share: float | None = None,
                mistakes: tuple[str, ...] = ()) -> Path:
    rng = random.Random(seed)
    wb = openpyxl.load_workbook(template)
    ws, r, c, _, _ = _named(wb, "funds_current_budget")
    budget = ws.cell(r, c).value or 100.0
    share = spent_share if spent_share is not None else rng.uniform(0.82, 1.0)
    ws_s, rs, cs, _, _ = _named(wb, "funds_current_spent")
    ws_s.cell(rs, cs).value = round(float(budget) * share, 2)
    if "funds_other_budget" in wb.defined_names:
        for key in ("budget", "spent"):
            sh, rr, cc, _, _ = _named(wb, f"funds_other_{key}")
            sh.cell(rr, cc).value = 0
    if "project_leader" in wb.defined_names:
        ls, lr, lc, _, _ = _named(wb, "project_leader")
        if not ls.cell(lr, lc).value:
            ls.cell(lr, lc).value = "李明 0739-7621234"
    gs, gr, gc, _, _ = _named(wb, "goal_actual")
    note = "" if share >= 0.9 else f"资金执行率{share:.0%}，部分资金因项目进度尚未支付。"
    gs.cell(gr, gc).value = "全年完成年度绩效目标，参保扩面、信息系统运维等工作按计划推进。" + note
    sheet, r0, _, r1, _ = _named(wb, "ind_name")
    cols = {k: _named(wb, f"ind_{k}")[2] for k in ("target", "actual", "weight", "score", "reason")}
    filled = 0
    quality = rng.choice((1.0, 1.0, 1.0, 0.92, 0.85, 0.7))   # most units meet their targets, some fall short
    for row in range(r0, r1 + 1):
        target = sheet.cell(row, cols["target"]).value
        weight = sheet.cell(row, cols["weight"]).value
        if not weight:
            continue
        actual, got = _achieved(str(target or ""), rng, quality)
        sheet.cell(row, cols["actual"]).value = actual
        score = round(float(weight) * got, 2)
        sheet.cell(row, cols["score"]).value = score
        if score < float(weight):
            sheet.cell(row, cols["reason"]).value = "受政策调整和系统升级影响，部分工作进度滞后，下一步加强督导。"
        filled += 1
        if filled == 1 and "score-above-weight" in mistakes:
            sheet.cell(row, cols["score"]).value = float(weight) + 5
        if filled == 2 and "no-reason" in mistakes:   # a target missed, and no reason given
            missed, got = _achieved(str(target or ""), rng, 0.6)
            sheet.cell(row, cols["actual"]).value = missed
            sheet.cell(row, cols["score"]).value = round(float(weight) * min(got, 0.6), 2)
            sheet.cell(row, cols["reason"]).value = None
        if filled == 3 and "wrong-target" in mistakes:
            sheet.cell(row, cols["target"]).value = "≥50%"     # an approved target changed by the county
    if "typed-rate" in mistakes:
        fs, fr, fc, _, _ = _named(wb, "funds_total_rate")
        fs.cell(fr, fc).value = 0.99                             # a formula overwritten by a typed value
    wb.save(dst)
    return dst
