"""The province's 汇总分析报告 drafted from the province `Summary`.

Every figure is read from the `Summary` the summary workbook is written
from (province/model.py), so the report and the workbook cannot differ;
only the list of copied explanations needs the returns themselves (the
indicator texts are not in the summary tables). Wording and layout are in
templates/reports/province.docx.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Iterable

from ..province.model import LEVEL_ZH, LOW_RATE, Entry, Summary
from ..season import regions
from . import charts
from . import figures as fig
from .copies import copied_texts
from .render import Picture, render

TEMPLATE = "province"
TOP_INDICATORS = 10
TOP_PROBLEMS = 10
MISSING_ROWS = 100
COPIED = 10
EXCERPT = 120


def _rows(summary: Summary, name: str) -> list[dict]:
    return summary.tables[name].rows if name in summary.tables else []


def _excerpt(text: str, n: int = EXCERPT) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[:n - 1] + "…"


def _when(iso: str) -> str:
    """2026-12-04T15:35:00+08:00 → 2026年12月04日 15:35 (as written; the workbook keeps the full stamp)."""
    try:
        d = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return iso or ""
    return f"{d.year}年{d.month:02d}月{d.day:02d}日 {d.hour:02d}:{d.minute:02d}"


def problem_rows(summary: Summary, limit: int = TOP_PROBLEMS) -> list[dict]:
    """The most frequent findings by code: how often, in how many projects, one example.

    One pass, a few counters per code: the findings of a national run are read, not held.
    """
    counts: Counter = Counter()
    severities: dict[str, Counter] = defaultdict(Counter)
    projects: dict[str, set] = defaultdict(set)
    examples: dict[str, dict] = {}
    for row in _rows(summary, "findings"):
        code = row["code"]
        counts[code] += 1
        severities[code][row["severity"]] += 1
        projects[code].add(hash((row["unit"], row["project"], row["file"])))
        examples.setdefault(code, row)
    out = [{"code": code, "severity": severities[code].most_common(1)[0][0], "count": n,
            "projects": len(projects[code]),
            "example": _excerpt(f"{examples[code]['unit'] or examples[code]['file']}：{examples[code]['message']}")}
           for code, n in counts.items()]
    out.sort(key=lambda r: (-r["count"], r["code"]))
    return out[:limit]


def copied_rows(entries: Iterable[Entry], limit: int = COPIED) -> list[dict]:
    """Near-identical 偏差原因 texts seen in different units' returns (see copies.py)."""
    pairs = []
    for e in entries:
        unit = (e.expected.unit_name if e.expected else "") or e.result.unit or e.source
        pairs.extend((unit, i.reason) for i in e.result.indicators if (i.reason or "").strip())
    return [{"no": n, "text": _excerpt(c.text), "units": len(c.units), "count": c.count,
             "examples": "、".join(c.examples) + ("等" if len(c.units) > len(c.examples) else "")}
            for n, c in enumerate(copied_texts(pairs, limit=limit), 1)]


def province_context(summary: Summary, entries: Iterable[Entry] = (), *, workbook_name: str = "") -> dict:
    """The template's fields (listed in templates/reports/README.md), all as display text or pictures."""
    c, t = summary.counts, summary.totals
    region_rows = _rows(summary, "regions")
    place = next((r["name"] for r in region_rows if r["level"] == LEVEL_ZH[regions.PROVINCE]), "")
    grades = [{"grade": g["grade"], "projects": g["projects"], "share": fig.rate(g["share"]),
               "budget": fig.money(g["budget"]), "budget_share": fig.rate(g["budget_share"]),
               "spent": fig.money(g["spent"])} for g in _rows(summary, "grades")]
    city_rows = [r for r in region_rows if r["level"] == LEVEL_ZH[regions.CITY]]
    cities = [{"name": r["name"], "expected": fig.count(r["expected"]), "returned": fig.count(r["returned"]),
               "valid": fig.count(r["valid"]), "budget": fig.money(r["budget"]), "spent": fig.money(r["spent"]),
               "rate": fig.rate(r["rate"]), "mean_score": fig.score(r["mean_score"])} for r in city_rows]
    rated = [r for r in city_rows if r["rate"] is not None]
    best = max(rated, key=lambda r: r["rate"], default=None)
    worst = min(rated, key=lambda r: r["rate"], default=None)
    analysis = _rows(summary, "indicator_analysis")
    overall = next((a for a in analysis if a["level"] == "合计"), None) or {}
    missing = _rows(summary, "missing")
    ctx = {
        "place": place, "year": summary.year or "", "form_name": summary.form_name,
        "workbook_name": workbook_name or "汇总表", "produced_from": summary.produced_from,
        "produced_at": _when(summary.produced_at), "low_rate": f"{LOW_RATE:.0%}",
        **{k: fig.count(c.get(k)) for k in ("units_expected", "units_returned", "units_valid", "projects_expected",
                                            "projects_returned", "projects_valid", "projects_with_errors",
                                            "projects_missing", "findings_error", "findings_warning", "findings_info")},
        "low_rate_projects": fig.count(c.get("low_rate")),
        "budget": fig.money(t.get("budget")), "spent": fig.money(t.get("spent")), "rate": fig.rate(t.get("rate")),
        **{k: fig.score(t.get(k)) for k in ("mean_score", "median_score", "min_score", "max_score")},
        "grades": grades,
        "buckets": [{"bucket": b["bucket"], "projects": b["projects"]} for b in _rows(summary, "score_buckets")],
        "cities": cities,
        "best_city": {"name": best["name"], "rate": fig.rate(best["rate"])} if best else {},
        "worst_city": {"name": worst["name"], "rate": fig.rate(worst["rate"])} if worst else {},
        "low_cities": "、".join(f"{r['name']}（{fig.rate(r['rate'])}）" for r in rated if r["rate"] < LOW_RATE),
        "indicators": {"count": overall.get("count", 0), "met": overall.get("met", 0),
                       "partly": overall.get("partly", 0), "not_met": overall.get("not_met", 0),
                       "met_share": fig.rate(overall.get("met_share")),
                       "partly_share": fig.rate(overall.get("partly_share")),
                       "not_met_share": fig.rate(overall.get("not_met_share"))},
        "analysis": [{"level1": a["level1"], "count": a["count"], "met": a["met"], "partly": a["partly"],
                      "not_met": a["not_met"], "met_share": fig.rate(a["met_share"]),
                      "not_met_share": fig.rate(a["not_met_share"])} for a in analysis if a["level"] == "一级"],
        "top_not_met": [{"rank": r["rank"], "name": r["name"], "level1": r["level1"], "count": r["count"],
                         "not_fully_met": r["not_fully_met"], "share": fig.rate(r["share"]), "units": r["units"]}
                        for r in _rows(summary, "top_not_met")[:TOP_INDICATORS]],
        "problems": problem_rows(summary),
        "missing": [{"city": m["city"], "county": m["county"], "unit": m["unit"], "project": m["project"],
                     "reason": m["reason"], "contact": m["contact"]} for m in missing[:MISSING_ROWS]],
        "missing_total": len(missing), "missing_none": sum(1 for m in missing if m["reason"] == "未提交"),
        "missing_errors": sum(1 for m in missing if m["reason"] != "未提交"),
        "missing_more": len(missing) > MISSING_ROWS,
        "copies": copied_rows(entries),
        "definitions": [(k, v) for k, v in summary.definitions],
    }
    ctx["chart_grades"] = Picture(charts.grade_chart([g["grade"] for g in grades], [g["projects"] for g in grades],
                                                     [g["share"] for g in grades]), 140)
    ctx["chart_city_rates"] = Picture(charts.city_rate_chart(
        [r["name"] for r in rated], [r["rate"] for r in rated], [fig.rate(r["rate"]) for r in rated], LOW_RATE),
        150) if rated else ""
    scored = [r for r in city_rows if r["mean_score"] is not None]
    ctx["chart_city_scores"] = Picture(charts.city_score_chart(
        [r["name"] for r in scored], [r["mean_score"] for r in scored], [fig.score(r["mean_score"]) for r in scored]),
        150) if scored else ""
    return ctx


def draft_province_report(summary: Summary, out: Path, entries: Iterable[Entry] = (), *,
                          workbook_name: str = "") -> Path:
    """Write the draft 汇总分析报告 (.docx) from the summary (and the returns, for copied texts)."""
    return render(TEMPLATE, province_context(summary, entries, workbook_name=workbook_name), out)
