"""A unit's 自评报告 drafted from its checked return.

The outline is the one such reports follow (一、绩效目标分解下达情况 …
五、其他需要说明的问题); the wording and layout are in
templates/reports/unit.docx. Every figure comes from the `CheckResult` — the
same one the summary workbook counts — and what only the unit can write is
left as a highlighted 【请补充：…】. Findings still open on the return are
listed at the end (待核实事项), so a draft is never taken for a clean one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..judge.check import CheckResult
from ..judge.findings import ERROR, INFO, SEVERITY_ZH, WARNING
from ..province.model import LOW_RATE, STATUS_ZH
from . import figures as fig
from .render import render

TEMPLATE = "unit"
UNFINISHED = ("partly", "not_met")


@dataclass
class Place:
    """Who the return belongs to; from the roster when known, else from the form's own header."""

    unit: str = ""
    project: str = ""
    department: str = ""
    unit_code: str = ""
    project_code: str = ""
    region: str = ""


def place_of(result: CheckResult) -> Place:
    ident = result.identity or {}
    return Place(unit=ident.get("unit_name") or result.unit, project=result.project, department=result.department,
                 unit_code=ident.get("unit_code", ""), project_code=ident.get("project_code", "")
                 or result.header.get("project_code", ""))


def _num(x: object) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def _source_label(label: str) -> str:
    return re.sub(r"^其中[:：]?", "", (label or "").strip()).rstrip("：:").strip()


def _unfinished(ind) -> bool:
    w, s = _num(ind.weight), _num(ind.score)
    return ind.status in UNFINISHED or (w is not None and s is not None and s < w - 0.005)


def _shortfall(ind) -> str:
    """How an unfinished indicator fell short, as the deviation paragraph says it."""
    if ind.status == "met":
        return "指标已完成但得分低于分值"
    return STATUS_ZH.get(ind.status, "") or "未完全完成"


def _without_cell(message: str, cell: str) -> str:
    return message[len(cell) + 1:] if cell and message.startswith(cell + "：") else message


def unit_context(result: CheckResult, place: Place | None = None, *, source_name: str = "",
                 year: int | None = None) -> dict:
    """The template's fields (listed in templates/reports/README.md), all as display text."""
    p = place or place_of(result)
    f = result.funds or {}
    rate = _num(f.get("rate"))
    rate_low = rate is not None and rate < LOW_RATE
    project = p.project or result.project or fig.ask("项目名称")
    inds = [i for i in result.indicators if (i.name or "").strip() or _num(i.weight)]
    level1: dict[str, dict] = {}
    for i in inds:
        g = level1.setdefault(i.level1 or "其他指标", {"name": i.level1 or "其他指标", "count": 0, "weight": 0.0,
                                                       "score": 0.0, "scored": False})
        g["count"] += 1
        g["weight"] += _num(i.weight) or 0.0
        if _num(i.score) is not None:
            g["score"] += _num(i.score)
            g["scored"] = True
    statuses = [i.status if i.status in STATUS_ZH and i.status else "unknown" for i in inds]
    printed = _num(result.printed_total)
    total = result.total_score
    findings = [{"no": n, "severity": SEVERITY_ZH.get(x.severity, x.severity), "cell": x.cell or "—",
                 "message": _without_cell(x.message, x.cell)} for n, x in enumerate(result.findings, 1)]
    return {
        "year": year or result.year or "", "unit": p.unit or result.unit or fig.ask("单位名称"),
        "department": p.department or result.department, "project": project,
        "project_short": re.sub(r"项目$", "", project), "unit_code": p.unit_code, "project_code": p.project_code,
        "region": p.region, "source_name": source_name or Path(result.path).name,
        "initial_budget": fig.money(f.get("initial_budget")) if _num(f.get("initial_budget")) is not None else "",
        "budget": fig.money(f.get("budget")), "spent": fig.money(f.get("spent")), "rate": fig.rate(rate),
        "rate_low": rate_low, "low_rate": f"{LOW_RATE:.0%}", "rate_status": "偏低" if rate_low else "",
        "funds_score": fig.score(f.get("score")), "funds_weight": fig.score(f.get("weight")),
        "sources": [{"label": _source_label(s.get("label", "")), "budget": fig.money(s.get("budget")),
                     "spent": fig.money(s.get("spent"))}
                    for s in f.get("sources") or [] if _num(s.get("budget"))],
        "goal_planned": fig.lines(result.goal_planned, "年初设定的年度总体目标"),
        "goal_actual": fig.lines(result.goal_actual, "年度总体目标的完成情况"),
        "n_indicators": len(inds),
        "level1": [{"name": g["name"], "count": g["count"], "weight": fig.score(g["weight"]),
                    "score": fig.score(g["score"]) if g["scored"] else fig.MISSING} for g in level1.values()],
        "indicators": [{"level1": i.level1, "level2": i.level2, "name": i.name, "target": i.target or "",
                        "actual": i.actual or "", "weight": fig.score(i.weight), "score": fig.score(i.score),
                        "status": STATUS_ZH.get(i.status, "") or "未能判定"} for i in inds],
        "n_met": statuses.count("met"), "n_partly": statuses.count("partly"),
        "n_not_met": statuses.count("not_met"), "n_unknown": statuses.count("unknown"),
        "deviations": [{"name": i.name, "target": i.target or fig.MISSING, "actual": i.actual or fig.MISSING,
                        "weight": fig.score(i.weight), "score": fig.score(i.score),
                        "status": _shortfall(i),
                        "reason": (i.reason or "").strip() or fig.ask("未完成的原因及拟采取的改进措施")}
                       for i in inds if _unfinished(i)],
        "total_score": fig.score(total), "total_weight": fig.score(result.total_weight),
        "grade": result.grade or fig.MISSING,
        "printed_total": fig.score(printed) if printed is not None and total is not None and abs(printed - total) > 0.005
        else "",
        "findings": findings,
        "n_errors": sum(1 for x in result.findings if x.severity == ERROR),
        "n_warnings": sum(1 for x in result.findings if x.severity == WARNING),
        "n_infos": sum(1 for x in result.findings if x.severity == INFO),
    }


def report_name(place: Place, year: int | str | None, fallback: str = "") -> str:
    """File name of a unit's report: 单位_项目_2024年度自评报告.docx, safe on every file system."""
    who = "_".join(x for x in (place.unit, place.project) if x) or fallback or "自评表"
    stem = f"{who}_{year or ''}年度自评报告"
    return re.sub(r'[\\/:*?"<>|\s]+', "", stem)[:120] + ".docx"


def draft_unit_report(result: CheckResult, out: Path, place: Place | None = None, *, source_name: str = "",
                      year: int | None = None) -> Path:
    """Write the draft 自评报告 of one return to `out` (.docx)."""
    from ..errors import XlperfError
    if not result.readable or result.form is None:
        msg = result.findings[0].message if result.findings else "不是自评表"
        raise XlperfError(f"{source_name or result.path}：无法起草自评报告（{msg}）", code="report-not-a-form")
    return render(TEMPLATE, unit_context(result, place, source_name=source_name, year=year), out)
