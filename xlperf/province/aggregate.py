"""Province-wide summary of checked returns, as plain tables (domain §10).

`summarize` turns checked returns (and the roster of who should return what)
into a `Summary`: named tables of plain dict rows with their column
definitions (model.py). The summary workbook, the CSV and Parquet exports and
the pandas API all render these same tables, so a figure can never differ
between them.

Definitions that matter (also written into the 说明 sheet, see DEFINITIONS):
* a return is *valid* (合格) when it was recognised as a form and has no error;
* money and score figures use valid returns only, each counted once;
* 执行率 of any group is Σ全年执行数 ÷ Σ全年预算数, never a mean of rates;
* region figures are built bottom-up, so each level adds up to the one above.
"""
from __future__ import annotations

import difflib
import math
import re
import statistics
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable, Sequence

from ..form.labels import indicator_key
from ..judge.check import CheckResult
from ..judge.findings import ERROR, INFO, SEVERITY_ZH, WARNING
from ..season import regions
from .model import (ANALYSIS_COLUMNS, BUCKET_COLUMNS, CITY_RATE_COLUMNS, DEFINITIONS, FINDING_COLUMNS,
                    GRADE_COLUMNS, HAS_ERRORS, INDICATOR_COLUMNS, LEVEL_ZH, LOW_RATE, MISSING_COLUMNS, NOT_A_FORM,
                    OVERVIEW_COLUMNS, PROJECT_COLUMNS, REGION_COLUMNS_HEAD, SCORE_BUCKETS, SIMILAR_COLUMNS,
                    SIMILAR_MIN_CHARS, SIMILAR_RATIO, STATUS_ZH, SUPERSEDED, TOP_COLUMNS, TOP_NOT_MET, TOTAL,
                    UNREADABLE, VALID, Column, Entry, Expected, Summary, Table)

# China has one time zone and no daylight saving: Beijing time is UTC+8 all year.
BEIJING = timezone(timedelta(hours=8), "北京时间")


def beijing_time(iso: str) -> str:
    """A ledger timestamp (ISO, UTC) as the clerk reads it: Beijing time, to the second."""
    try:
        t = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return iso or ""
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")

# ------------------------------------------------------------------ regions


@dataclass
class _Node:
    key: str
    level: str
    code: str
    name: str
    parent: str | None
    children: list[str] = field(default_factory=list)
    expected: int = 0
    returned: int = 0
    valid: int = 0
    with_errors: int = 0
    missing: int = 0
    units_expected: set = field(default_factory=set)
    units_returned: set = field(default_factory=set)
    initial_budget: float | None = None
    budget: float = 0.0
    spent: float = 0.0
    score_sum: float = 0.0
    scored: int = 0
    grades: Counter = field(default_factory=Counter)
    leaf_money: list = field(default_factory=list)


def _region_names(expected: Sequence[Expected]) -> dict[str, str]:
    return regions.names_table((e.region_code, e.region_name) for e in expected)


def infer_region(result: CheckResult) -> str:
    """Region code of a return without a roster row: from the unit or project code, else ""."""
    ident = result.identity or {}
    for raw in (ident.get("unit_code"), ident.get("project_code"), result.header.get("project_code")):
        s = regions.normalize_code(raw)
        if len(s) == 18 and regions.parse_code(s[2:8]):      # 统一社会信用代码: region in positions 3–8
            return s[2:8]
        if len(s) >= 6 and regions.parse_code(s[:6]):
            return s[:6]
    return ""


# ------------------------------------------------------------------ summarize


@dataclass
class _Ret:
    entry: Entry
    exp: Expected | None
    region: str
    chain: list[tuple[str, str, str, str]]
    unit_key: str
    valid: bool
    current: bool = True

    @property
    def result(self) -> CheckResult:
        return self.entry.result


def is_valid(result: CheckResult) -> bool:
    return result.form is not None and result.errors == 0


def _status(r: _Ret) -> str:
    if not r.current:
        return SUPERSEDED
    res = r.result
    if not res.readable:
        return UNREADABLE
    if res.form is None:
        return NOT_A_FORM
    return HAS_ERRORS if res.errors else VALID


def _expected_key(e: Expected) -> object:
    return e.roster_id if e.roster_id is not None else (e.unit_code, e.project_code, e.project_name)


def _num(x: object) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _fsum(xs: Iterable[float]) -> float:
    return round(math.fsum(xs), 6)


def _rate(spent: float, budget: float) -> float | None:
    return spent / budget if budget else None


def _grade_order(form: str, results: list[CheckResult]) -> tuple[str, str, list[str], list[str]]:
    """(form id, form name, grades best first, low grades): from the form definition, else from the returns."""
    from ..errors import XlperfError
    from ..form.spec import load_form
    forms = Counter(r.form for r in results if r.form)
    form_id = form or (forms.most_common(1)[0][0] if forms else "")
    if form_id:
        try:
            spec = load_form(form_id)
            names = [g.name for g in spec.grades]
            low = [n for n in names if "差" in n] or names[-1:]
            return form_id, spec.name, names, low
        except XlperfError:
            pass
    seen = sorted({r.grade for r in results if r.grade})
    return form_id, form_id, seen, [g for g in seen if "差" in g]


@dataclass
class _Batch:
    """The returns being summarized, sorted out once: which count, which roster row each answers."""

    rets: list[_Ret]
    expected: list[Expected]
    names: dict[str, str]

    def __post_init__(self) -> None:
        self.current = [r for r in self.rets if r.current]
        self.counted = [r for r in self.current if r.valid]
        self.got = {_expected_key(r.exp): r for r in self.current if r.exp is not None}
        self.has_roster = bool(self.expected)


def _returns(entries: Iterable[Entry], names: dict[str, str]) -> list[_Ret]:
    """Every entry with its region; of several returns for one roster row only the latest is current."""
    rets: list[_Ret] = []
    latest: dict[object, _Ret] = {}
    for entry in entries:
        exp, res = entry.expected, entry.result
        region = regions.normalize_code(exp.region_code) if exp else infer_region(res)
        unit_key = (exp.unit_code if exp and exp.unit_code else (res.identity or {}).get("unit_code") or res.unit
                    or entry.source)
        r = _Ret(entry, exp, region, regions.chain(region, names), str(unit_key), is_valid(res))
        rets.append(r)
        if exp is None:
            continue
        k = _expected_key(exp)
        prev = latest.get(k)
        if prev is None or (entry.received_at or "") >= (prev.entry.received_at or ""):
            if prev is not None:
                prev.current = False
            latest[k] = r
        else:
            r.current = False
    return rets


def summarize(entries: Iterable[Entry], expected: list[Expected], *, year: int | None, form: str,
              produced_from: str, produced_at: str | None = None) -> Summary:
    """Aggregate checked returns against the roster (empty roster: just the returns)."""
    names = _region_names(expected)
    b = _Batch(_returns(entries, names), list(expected), names)
    results = [r.result for r in b.rets]
    form_id, form_name, grades, low_grades = _grade_order(form, results)
    if year is None:
        years = Counter(r.year for r in results if r.year)
        year = years.most_common(1)[0][0] if years else None
    top, region_rows = _region_table(b, grades)
    project_rows = _project_rows(b)
    indicator_rows, analysis_rows, top_rows = _indicator_tables(b, project_rows, form_id)
    counts, totals = _counts(b, top), _totals(b, top)
    tables = {
        "overview": Table("overview", "总体情况", OVERVIEW_COLUMNS, _overview_rows(counts, totals)),
        "grades": Table("grades", "等级分布", GRADE_COLUMNS, _grade_rows(b, grades)),
        "score_buckets": Table("score_buckets", "总分分布", BUCKET_COLUMNS, _bucket_rows(b)),
        "city_rates": Table("city_rates", "各市执行率", CITY_RATE_COLUMNS,
                            [{"name": r["name"], "budget": r["budget"], "spent": r["spent"], "rate": r["rate"]}
                             for r in region_rows if r["level"] == LEVEL_ZH[regions.CITY] and r["returned"]]),
        "regions": Table("regions", "按地区汇总",
                         REGION_COLUMNS_HEAD + tuple(Column(f"grade:{g}", g, "int") for g in grades), region_rows),
        "projects": Table("projects", "项目明细", PROJECT_COLUMNS, project_rows),
        "indicators": Table("indicators", "指标明细", INDICATOR_COLUMNS, indicator_rows),
        "indicator_analysis": Table("indicator_analysis", "指标分析", ANALYSIS_COLUMNS, analysis_rows),
        "top_not_met": Table("top_not_met", "未完全完成最多的指标", TOP_COLUMNS, top_rows),
        "findings": Table("findings", "问题清单", FINDING_COLUMNS, _finding_rows(b, project_rows)),
        "missing": Table("missing", "未提交", MISSING_COLUMNS, _missing_rows(b)),
        "similar_texts": Table("similar_texts", "疑似雷同说明", SIMILAR_COLUMNS, _similar_rows(b, project_rows)),
    }
    return Summary(
        year=year, form=form_id, form_name=form_name,
        produced_at=produced_at or datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
        produced_from=produced_from, grades=grades, low_grades=low_grades, counts=counts, totals=totals,
        tables=tables, definitions=list(DEFINITIONS))


# ---- 按地区汇总: a tree filled at its leaves, summed upwards


def _region_table(b: _Batch, grades: list[str]) -> tuple[_Node, list[dict]]:
    nodes: dict[str, _Node] = {}
    top = _Node(TOTAL, TOTAL, "", "合计", None)

    def leaf_for(chain) -> _Node:
        parent, node = top, top
        for key, level, code, name in chain:
            node = nodes.get(key)
            if node is None:
                node = nodes[key] = _Node(key, level, code, name, parent.key)
                parent.children.append(key)
            parent = node
        return node

    for e in b.expected:
        leaf = leaf_for(regions.chain(regions.normalize_code(e.region_code), b.names))
        leaf.expected += 1
        leaf.units_expected.add(e.unit_code or e.unit_name)
        leaf.missing += _expected_key(e) not in b.got
    for r in b.current:
        leaf = leaf_for(r.chain)
        leaf.returned += 1
        leaf.units_returned.add(r.unit_key)
        if not r.valid:
            leaf.with_errors += 1
            continue
        leaf.valid += 1
        f = r.result.funds or {}
        leaf.leaf_money.append((_num(f.get("initial_budget")), _num(f.get("budget")) or 0.0, _num(f.get("spent")) or 0.0))
        if r.result.total_score is not None:
            leaf.score_sum += r.result.total_score
            leaf.scored += 1
        if r.result.grade:
            leaf.grades[r.result.grade] += 1

    def order(key: str) -> tuple:
        n = nodes[key]
        return (n.code == "", "本级" in n.key, n.code)     # real codes first, 本级 after its siblings

    def roll(node: _Node) -> None:
        node.children.sort(key=order)
        if not node.children:
            initial = [m[0] for m in node.leaf_money if m[0] is not None]
            node.initial_budget = _fsum(initial) if initial else None   # forms without 年初预算数 leave it empty
            node.budget = _fsum(m[1] for m in node.leaf_money)
            node.spent = _fsum(m[2] for m in node.leaf_money)
            node.score_sum = round(node.score_sum, 6)
            return
        kids = [nodes[k] for k in node.children]
        for k in kids:
            roll(k)
        for attr in ("expected", "returned", "valid", "with_errors", "missing", "scored"):
            setattr(node, attr, getattr(node, attr) + sum(getattr(k, attr) for k in kids))
        node.budget = _fsum(k.budget for k in kids)
        node.spent = _fsum(k.spent for k in kids)
        initial = [k.initial_budget for k in kids if k.initial_budget is not None]
        node.initial_budget = _fsum(initial) if initial else None
        node.score_sum = _fsum(k.score_sum for k in kids)
        for k in kids:
            node.units_expected |= k.units_expected
            node.units_returned |= k.units_returned
            node.grades.update(k.grades)

    roll(top)
    roster = b.has_roster

    def level(n: _Node) -> str:
        """省本级 is the province's own units: province level, not a 市."""
        if _is_province_own(n.key, n.level, n.code):
            return PROVINCE_OWN
        return LEVEL_ZH[n.level]

    def row(n: _Node) -> dict:
        out = {"level": level(n), "code": n.code,
               "parent": nodes[n.parent].code if n.parent in nodes else "", "name": n.name,
               "expected": n.expected if roster else None, "returned": n.returned, "valid": n.valid,
               "with_errors": n.with_errors, "missing": n.missing if roster else None,
               "units_expected": len(n.units_expected) if roster else None, "units_returned": len(n.units_returned),
               "initial_budget": n.initial_budget, "budget": n.budget, "spent": n.spent,
               "rate": _rate(n.spent, n.budget), "scored": n.scored,
               "mean_score": round(n.score_sum / n.scored, 6) if n.scored else None,
               "_key": n.key, "_parent": n.parent or ""}     # tree links, not shown: 本级 rows share a code
        out.update({f"grade:{g}": n.grades.get(g, 0) for g in grades})
        return out

    rows: list[dict] = []

    def walk(n: _Node) -> None:
        rows.append(row(n))
        for k in n.children:
            walk(nodes[k])

    walk(top)
    return top, rows


# ---- 项目明细, 指标明细, 指标分析, 问题清单, 未提交


PROVINCE_OWN = "省本级"


def _is_province_own(key: str, level: str, code: str) -> bool:
    return key.endswith("/本级") and level == regions.CITY and regions.province_of(code) == code


def _place(chain: list[tuple[str, str, str, str]]) -> dict[str, str]:
    out = {"province": "", "city": "", "county": ""}
    field_of = {regions.PROVINCE: "province", regions.CITY: "city", regions.COUNTY: "county"}
    for key, level, code, name in chain:
        out[field_of[level]] = PROVINCE_OWN if _is_province_own(key, level, code) else name
    return out


def _project_rows(b: _Batch) -> list[dict]:
    rows = []
    for i, r in enumerate(b.rets, 1):
        res, exp = r.result, r.exp
        f = res.funds or {}
        rows.append({
            "no": i, **_place(r.chain), "region_code": r.region,
            "unit_code": (exp.unit_code if exp else (res.identity or {}).get("unit_code", "")) or "",
            "unit": (exp.unit_name if exp else "") or res.unit,
            "project": (exp.project_name if exp else "") or res.project,
            "project_code": (exp.project_code if exp else "") or res.header.get("project_code", ""),
            "initial_budget": _num(f.get("initial_budget")), "budget": _num(f.get("budget")),
            "spent": _num(f.get("spent")), "rate": _num(f.get("rate")), "funds_score": _num(f.get("score")),
            "total_score": res.total_score, "grade": res.grade or "", "status": _status(r),
            "counted": "是" if (r.current and r.valid) else "否", "errors": res.errors, "warnings": res.warnings,
            "in_roster": "是" if exp is not None else "否", "received_at": beijing_time(r.entry.received_at),
            "source": r.entry.source or res.path,
        })
    return rows


def _indicator_tables(b: _Batch, project_rows: list[dict], form_id: str) -> tuple[list[dict], list[dict], list[dict]]:
    """指标明细 (every indicator) and, from counted returns only, 指标分析 and the most often not fully met."""
    rows: list[dict] = []
    by_l1: dict[str, Counter] = defaultdict(Counter)
    by_l2: dict[tuple[str, str], Counter] = defaultdict(Counter)
    overall: Counter = Counter()
    by_name: dict[str, dict] = {}
    for r, prow in zip(b.rets, project_rows):
        for ind in r.result.indicators:
            rows.append({
                "county": prow["county"], "unit": prow["unit"], "project": prow["project"],
                "level1": ind.level1, "level2": ind.level2, "name": ind.name, "target": ind.target or "",
                "actual": _percent_shown(ind.actual, ind.actual_unit), "weight": ind.weight, "score": ind.score,
                "suggested_score": ind.suggested_score, "status": STATUS_ZH.get(ind.status, ""), "cell": ind.cell,
                "counted": prow["counted"], "source": prow["source"]})
            if prow["counted"] != "是" or not (ind.name or "").strip():
                continue
            st = ind.status if ind.status in ("met", "partly", "not_met") else "unknown"
            for c in (by_l1[ind.level1], by_l2[(ind.level1, ind.level2)], overall):
                c[st] += 1
                c["count"] += 1
            slot = by_name.setdefault(indicator_key(ind.name), {"count": 0, "partly": 0, "not_met": 0,
                                                                "bad_units": set(), "level1": Counter(),
                                                                "level2": Counter()})
            slot["count"] += 1
            slot["level1"][ind.level1] += 1
            slot["level2"][ind.level2] += 1
            if st in ("partly", "not_met"):
                slot[st] += 1
                slot["bad_units"].add(r.unit_key)

    def share_row(level: str, l1: str, l2: str, c: Counter) -> dict:
        n = c["count"]
        return {"level": level, "level1": l1, "level2": l2, "count": n, "met": c["met"], "partly": c["partly"],
                "not_met": c["not_met"], "unknown": c["unknown"],
                "met_share": c["met"] / n if n else None, "partly_share": c["partly"] / n if n else None,
                "not_met_share": c["not_met"] / n if n else None}

    analysis = [share_row("合计", "", "", overall)]
    for l1 in sorted(by_l1, key=_level_sort(form_id)):
        analysis.append(share_row("一级", l1, "", by_l1[l1]))
        analysis.extend(share_row("二级", l1, l2, c) for (a, l2), c in by_l2.items() if a == l1)
    bad = sorted(((k, v) for k, v in by_name.items() if v["partly"] + v["not_met"]),
                 key=lambda kv: (-(kv[1]["partly"] + kv[1]["not_met"]), -len(kv[1]["bad_units"]), kv[0]))
    top = [{"rank": i, "name": k, "count": v["count"], "not_fully_met": v["partly"] + v["not_met"],
            "partly": v["partly"], "not_met": v["not_met"], "share": (v["partly"] + v["not_met"]) / v["count"],
            "units": len(v["bad_units"]), "level1": v["level1"].most_common(1)[0][0],
            "level2": v["level2"].most_common(1)[0][0]}
           for i, (k, v) in enumerate(bad[:TOP_NOT_MET], 1)]
    return rows, analysis, top


def _percent_shown(raw: str | None, unit: str | None) -> str:
    """实际完成值 typed as 96.2% into a percent-formatted cell arrives as 0.962: show it as the clerk saw it."""
    text = (raw or "").strip()
    if unit == "%" and re.fullmatch(r"-?\d+(\.\d+)?", text):
        return f"{round(float(text) * 100, 6):g}%"
    return text


_NOT_TEXT = re.compile(r"[\W_]+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _text_key(text: str) -> str:
    """What two explanations share when one was copied from the other: no spaces, punctuation or figures."""
    return _NOT_TEXT.sub("", _NUMBER.sub("#", unicodedata.normalize("NFKC", text)))


def _similar_rows(b: _Batch, project_rows: list[dict]) -> list[dict]:
    """疑似雷同说明: the same 偏差原因 or 完成情况综述, word for word or nearly, in different units' returns."""
    items: dict[str, list[tuple[str, str, str, str, str]]] = defaultdict(list)   # kind → (key, text, unit, name, place)
    for r, prow in zip(b.rets, project_rows):
        if not r.current:
            continue
        res = r.result
        if res.goal_actual.strip():
            items["年度总体目标完成情况"].append(
                (_text_key(res.goal_actual), res.goal_actual.strip(), r.unit_key, prow["unit"], f"{prow['source']} · 完成情况综述"))
        for ind in res.indicators:
            if ind.reason.strip():
                where = f"第{ind.row}行" if ind.row else ind.cell
                items["偏差原因"].append((_text_key(ind.reason), ind.reason.strip(), r.unit_key, prow["unit"],
                                       f"{prow['source']} · {where}（{ind.name}）"))
    rows: list[dict] = []
    for kind, found in items.items():
        found = [f for f in found if len(f[0]) >= SIMILAR_MIN_CHARS]
        keys = sorted({f[0] for f in found})
        parent = {k: k for k in keys}

        def root(k: str) -> str:
            while parent[k] != k:
                parent[k] = parent[parent[k]]
                k = parent[k]
            return k
        # Near-identical texts sort close together; comparing neighbours keeps this linear for a province.
        for i, a in enumerate(keys):
            for other in keys[i + 1:i + 6]:
                m = difflib.SequenceMatcher(None, a, other, autojunk=False)
                if m.real_quick_ratio() >= SIMILAR_RATIO and m.ratio() >= SIMILAR_RATIO:
                    parent[root(other)] = root(a)
        groups: dict[str, list] = defaultdict(list)
        for f in found:
            groups[root(f[0])].append(f)
        for members in groups.values():
            units = list(dict.fromkeys(m[2] for m in members))
            if len(units) < 2:
                continue
            texts = Counter(m[1] for m in members)
            names = list(dict.fromkeys(m[3] for m in members))
            rows.append({"kind": kind, "match": "完全相同" if len(texts) == 1 else "几乎相同", "units": len(units),
                         "text": texts.most_common(1)[0][0], "unit_names": "、".join(names),
                         "places": "\n".join(m[4] for m in members)})
    rows.sort(key=lambda r: (-r["units"], r["kind"], r["text"]))
    for i, row in enumerate(rows, 1):
        row["no"] = i
    return rows


def _finding_rows(b: _Batch, project_rows: list[dict]) -> list[dict]:
    """Problems of current returns (a superseded version's problems are no longer anyone's to fix)."""
    return [{"county": prow["county"], "unit": prow["unit"], "project": prow["project"], "file": prow["source"],
             "sheet": fd.sheet, "cell": fd.cell, "code": fd.code,
             "severity": SEVERITY_ZH.get(fd.severity, fd.severity), "message": fd.message}
            for r, prow in zip(b.rets, project_rows) if r.current for fd in r.result.findings]


def _missing_rows(b: _Batch) -> list[dict]:
    rows = []
    for e in sorted(b.expected, key=lambda e: (regions.normalize_code(e.region_code), e.unit_code, e.project_code)):
        r = b.got.get(_expected_key(e))
        if r is not None and r.valid:
            continue
        code = regions.normalize_code(e.region_code)
        rows.append({**_place(regions.chain(code, b.names)), "region_code": code, "unit_code": e.unit_code,
                     "unit": e.unit_name, "project": e.project_name, "project_code": e.project_code,
                     "budget": e.budget, "contact": e.contact, "email": e.email,
                     "reason": "未提交" if r is None else "有错误", "errors": 0 if r is None else r.result.errors,
                     "source": "" if r is None else (r.entry.source or r.result.path)})
    return rows


# ---- 总体情况


def _counts(b: _Batch, top: _Node) -> dict[str, int | None]:
    roster = b.has_roster
    ok_by_unit: dict[str, list[bool]] = defaultdict(list)
    if roster:
        for e in b.expected:
            r = b.got.get(_expected_key(e))
            ok_by_unit[e.unit_code or e.unit_name].append(r is not None and r.valid)
    else:
        for r in b.current:
            ok_by_unit[r.unit_key].append(r.valid)
    severities = Counter(f.severity for r in b.current for f in r.result.findings)
    rates = [_num((r.result.funds or {}).get("rate")) for r in b.counted]
    return {
        "files": len(b.rets), "superseded": len(b.rets) - len(b.current),
        "unreadable": sum(1 for r in b.rets if not r.result.readable),
        "units_expected": len({e.unit_code or e.unit_name for e in b.expected}) if roster else None,
        "units_returned": len({r.unit_key for r in b.current}),
        "units_valid": sum(1 for oks in ok_by_unit.values() if all(oks)),
        "projects_expected": len({_expected_key(e) for e in b.expected}) if roster else None,
        "projects_returned": len(b.current), "projects_valid": len(b.counted),
        "projects_with_errors": len(b.current) - len(b.counted),
        "projects_missing": top.missing if roster else None,
        "unmatched": sum(1 for r in b.current if r.exp is None) if roster else None,
        "low_rate": sum(1 for x in rates if x is not None and x < LOW_RATE),
        "findings_error": severities[ERROR], "findings_warning": severities[WARNING], "findings_info": severities[INFO],
    }


def _scores(b: _Batch) -> list[float]:
    return [r.result.total_score for r in b.counted if r.result.total_score is not None]


def _totals(b: _Batch, top: _Node) -> dict[str, float | None]:
    scores = _scores(b)
    return {"initial_budget": top.initial_budget, "budget": top.budget, "spent": top.spent,
            "rate": _rate(top.spent, top.budget),
            "mean_score": statistics.fmean(scores) if scores else None,
            "median_score": statistics.median(scores) if scores else None,
            "min_score": min(scores) if scores else None, "max_score": max(scores) if scores else None}


def _overview_rows(c: dict, t: dict) -> list[dict]:
    def row(item: str, value: object, unit: str, kind: str) -> dict:
        return {"item": item, "value": value, "unit": unit, "_kind": kind}   # _kind: number format in the workbook

    return [
        row("应报单位数", c["units_expected"], "个", "int"),
        row("已报单位数", c["units_returned"], "个", "int"),
        row("全部合格单位数", c["units_valid"], "个", "int"),
        row("应报项目数", c["projects_expected"], "个", "int"),
        row("已报项目数", c["projects_returned"], "个", "int"),
        row("合格项目数（计入汇总）", c["projects_valid"], "个", "int"),
        row("有错误或无法识别的项目数", c["projects_with_errors"], "个", "int"),
        row("未提交项目数", c["projects_missing"], "个", "int"),
        row("未匹配名单的回传数", c["unmatched"], "个", "int"),
        row("收到文件总数（含被替代的旧版本）", c["files"], "个", "int"),
        row("Σ年初预算数", t["initial_budget"], "万元", "money"),
        row("Σ全年预算数", t["budget"], "万元", "money"),
        row("Σ全年执行数", t["spent"], "万元", "money"),
        row("执行率（Σ执行 ÷ Σ预算）", t["rate"], "", "rate"),
        row(f"执行率低于{LOW_RATE:.0%}的项目数", c["low_rate"], "个", "int"),
        row("平均总分", t["mean_score"], "分", "score"),
        row("总分中位数", t["median_score"], "分", "score"),
        row("最低总分", t["min_score"], "分", "score"),
        row("最高总分", t["max_score"], "分", "score"),
        row("问题数：错误", c["findings_error"], "条", "int"),
        row("问题数：警告", c["findings_warning"], "条", "int"),
        row("问题数：提示", c["findings_info"], "条", "int"),
    ]


def _grade_rows(b: _Batch, grades: list[str]) -> list[dict]:
    """Projects and money per grade, with shares (the 广西 disclosure style, domain §10)."""
    graded = [r for r in b.counted if r.result.grade]
    money = lambda rs, k: _fsum(_num(r.result.funds.get(k)) or 0.0 for r in rs)  # noqa: E731
    all_budget = money(graded, "budget")
    rows = []
    for g in grades + sorted({r.result.grade for r in graded} - set(grades)):
        mine = [r for r in graded if r.result.grade == g]
        budget = money(mine, "budget")
        rows.append({"grade": g, "projects": len(mine), "share": len(mine) / len(graded) if graded else None,
                     "budget": budget, "budget_share": budget / all_budget if all_budget else None,
                     "spent": money(mine, "spent")})
    return rows


def _bucket_rows(b: _Batch) -> list[dict]:
    scores = _scores(b)
    rows = []
    for label, lo, hi in SCORE_BUCKETS:
        n = sum(1 for s in scores if lo <= s < hi)
        rows.append({"bucket": label, "projects": n, "share": n / len(scores) if scores else None})
    return rows


def _level_sort(form: str):
    """一级 in the form's order when known, else alphabetical."""
    order: dict[str, int] = {}
    try:
        from ..form.spec import load_form
        if form:
            order = {l.name: i for i, l in enumerate(load_form(form).level1)}
    except Exception:  # noqa: BLE001 — an unknown form only loses the nice order
        order = {}
    return lambda name: (order.get(name, len(order)), name)
